-- Substring search over name, domains, subject and issuer at a million rows: a trigram GIN
-- index (pg_trgm, a trusted extension since PostgreSQL 13) answers LIKE '%…%' without a scan.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX certificates_search_trgm ON certificates USING gin (search_text gin_trgm_ops);
