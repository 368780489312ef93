-- The expiry sweep works from positions instead of per-notice keys (see notify/sweep.rs).
-- When each certificate's current version was stored, so that a sweep can take up new versions
-- once their import has settled.
ALTER TABLE certificates ADD COLUMN version_at INTEGER NOT NULL DEFAULT 0;
UPDATE certificates SET version_at = (
    SELECT v.created_at FROM certificate_versions v
    WHERE v.cert_id = certificates.id AND v.version = certificates.current_version
);
DROP INDEX certificates_live_updated;
CREATE INDEX certificates_live_version_at ON certificates (version_at) WHERE deleted_at IS NULL;
-- The expiry indexes carry what the sweep decides on, so that finding 500,000 due
-- certificates reads only the index.
DROP INDEX certificates_live_not_after;
CREATE INDEX certificates_live_not_after
    ON certificates (not_after, id, current_version, not_before, version_at) WHERE deleted_at IS NULL;
DROP INDEX certificates_group_not_after;
CREATE INDEX certificates_group_not_after
    ON certificates (group_name, not_after, id, current_version, not_before, version_at)
    WHERE deleted_at IS NULL;

-- A channel's daily cert.expired reminder: the UTC day (days since 1970-01-01) it was last sent
-- on (a channel's first sweep counts), and the sweep position at the start of the current day.
ALTER TABLE notification_channels ADD COLUMN reminded_on INTEGER;
ALTER TABLE notification_channels ADD COLUMN day_from INTEGER;

DROP TABLE notification_dedup;
