-- Substring search over name, domains, subject and issuer at a million rows: a trigram GIN
-- index (pg_trgm, a trusted extension since PostgreSQL 13) answers LIKE '%…%' without a scan.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX certificate_search_trgm ON certificate_search USING gin (text gin_trgm_ops);
