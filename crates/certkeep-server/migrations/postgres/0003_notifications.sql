-- Notification channels, the outbox they are delivered from, deduplication of due
-- notifications, and leases that let one replica at a time run a job.

CREATE TABLE notification_channels (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    -- Non-secret settings (JSON): webhook URL, SMTP host/port/TLS/user, addresses.
    config TEXT NOT NULL,
    -- Secrets (JSON), sealed by the keyring: HMAC secret, Slack/Teams URL, routing key, SMTP password.
    secrets_sealed BYTEA NOT NULL,
    events TEXT NOT NULL,
    scope_group TEXT,
    scope_labels TEXT NOT NULL,
    thresholds TEXT NOT NULL,
    expired_hour BIGINT NOT NULL,
    -- Until when the expiry sweep has looked for this channel (Unix seconds); NULL: never.
    swept_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE notification_outbox (
    id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    last_status_code BIGINT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    lease_owner TEXT,
    lease_until BIGINT
);
CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_outbox_channel ON notification_outbox (channel_id, created_at, id);

-- One row per (channel, certificate version, event, threshold or day) already enqueued,
-- kept until its moment has passed.
CREATE TABLE notification_dedup (
    key TEXT PRIMARY KEY,
    keep_until BIGINT NOT NULL
);
CREATE INDEX notification_dedup_keep_until ON notification_dedup (keep_until);

CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until_ms BIGINT NOT NULL
);

CREATE INDEX certificates_live_updated ON certificates (updated_at) WHERE deleted_at IS NULL;
