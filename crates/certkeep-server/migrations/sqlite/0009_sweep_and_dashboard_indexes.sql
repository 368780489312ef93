-- Indexes for the expiry sweep and the dashboard at 1,000,000 certificates (BENCHMARKS.md).
--
-- The expiry indexes are partial (`WHERE deleted_at IS NULL`), and SQLite reads a table row for
-- every index entry unless each column the query names is in the index, the partial index's
-- own condition included. With deleted_at at the end of each key, the sweep's candidate
-- queries read the index alone (EXPLAIN QUERY PLAN: USING COVERING INDEX).
DROP INDEX certificates_live_not_after;
CREATE INDEX certificates_live_not_after
    ON certificates (not_after, id, current_version, not_before, version_at, deleted_at)
    WHERE deleted_at IS NULL;
DROP INDEX certificates_group_not_after;
CREATE INDEX certificates_group_not_after
    ON certificates (group_name, not_after, id, current_version, not_before, version_at, deleted_at)
    WHERE deleted_at IS NULL;

-- The dashboard's "renewal failing" count reads only the failing renewals.
CREATE INDEX acme_certificates_failing ON acme_certificates (cert_id) WHERE failures > 0;
