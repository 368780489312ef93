-- Indexes that let the certificate listing start from a key type or an issuer that few live
-- entries have, instead of walking the expiry or name index until a page is full (a key type
-- nothing has walked all 1,000,000 entries: 4 s; BENCHMARKS.md). The store counts the matches
-- (at most 2,000) on these indexes first and only drives the listing from them when the value
-- is rare; common values keep the walk in sort order.
--
-- deleted_at is in each key so that the bounded counts, which name it, read the index alone.
CREATE INDEX certificates_live_key_algorithm
    ON certificates (key_algorithm, deleted_at)
    WHERE deleted_at IS NULL;
-- Also read value by value (one seek per distinct issuer, up to 1,000) to find which
-- issuers contain a searched substring.
CREATE INDEX certificates_live_issuer
    ON certificates (issuer, deleted_at)
    WHERE deleted_at IS NULL;
