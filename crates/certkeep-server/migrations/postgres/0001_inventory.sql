-- Certificate inventory, API tokens and the audit log (PostgreSQL dialect).
-- Times are Unix seconds (audit: milliseconds); booleans are 0/1; ids are UUID text, so the
-- same queries run unchanged on both backends.

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    group_name TEXT,
    labels TEXT NOT NULL,
    source TEXT NOT NULL,
    current_version BIGINT NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    domains TEXT NOT NULL,
    ip_addresses TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    key_algorithm TEXT NOT NULL,
    key_size BIGINT,
    key_curve TEXT,
    signature_algorithm TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    is_ca BIGINT NOT NULL,
    has_private_key BIGINT NOT NULL,
    chain_length BIGINT NOT NULL,
    chain_complete BIGINT NOT NULL,
    chain_issues TEXT NOT NULL,
    x509_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX certificates_live_not_after ON certificates (not_after, id) WHERE deleted_at IS NULL;
CREATE INDEX certificates_live_name ON certificates (name, id) WHERE deleted_at IS NULL;
CREATE INDEX certificates_group_not_after ON certificates (group_name, not_after, id) WHERE deleted_at IS NULL;
CREATE INDEX certificates_deleted_at ON certificates (deleted_at, id) WHERE deleted_at IS NOT NULL;

-- Free-text search over name, domains, subject and issuer (lowercased), apart from the wide
-- certificates rows so that a substring scan reads little.
CREATE TABLE certificate_search (
    cert_id TEXT PRIMARY KEY REFERENCES certificates (id) ON DELETE CASCADE,
    text TEXT NOT NULL
);

CREATE TABLE certificate_labels (
    cert_id TEXT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (cert_id, key)
);
CREATE INDEX certificate_labels_key_value ON certificate_labels (key, value);

CREATE TABLE certificate_versions (
    cert_id TEXT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    leaf_der BYTEA NOT NULL,
    chain_der BYTEA NOT NULL,
    metadata TEXT NOT NULL,
    key_sealed BYTEA,
    created_at BIGINT NOT NULL,
    created_by TEXT,
    PRIMARY KEY (cert_id, version)
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    role TEXT NOT NULL,
    group_name TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT,
    created_by TEXT
);

CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    token_id TEXT,
    action TEXT NOT NULL,
    target TEXT,
    outcome TEXT NOT NULL,
    request_id TEXT NOT NULL,
    detail TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
