-- Certificate inventory, API tokens and the audit log (SQLite dialect).
-- Times are Unix seconds (audit: milliseconds); booleans are 0/1; ids are UUID text.

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
    current_version INTEGER NOT NULL,
    subject TEXT NOT NULL,
    issuer TEXT NOT NULL,
    serial TEXT NOT NULL,
    domains TEXT NOT NULL,
    ip_addresses TEXT NOT NULL,
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    key_algorithm TEXT NOT NULL,
    key_size INTEGER,
    key_curve TEXT,
    signature_algorithm TEXT NOT NULL,
    fingerprint_sha256 TEXT NOT NULL,
    is_ca INTEGER NOT NULL,
    has_private_key INTEGER NOT NULL,
    chain_length INTEGER NOT NULL,
    chain_complete INTEGER NOT NULL,
    chain_issues TEXT NOT NULL,
    x509_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
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
    version INTEGER NOT NULL,
    leaf_der BLOB NOT NULL,
    chain_der BLOB NOT NULL,
    metadata TEXT NOT NULL,
    key_sealed BLOB,
    created_at INTEGER NOT NULL,
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
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER,
    created_by TEXT
);

CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
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

-- The head of the hash chain: the last event's seq and hash. Updating it in the same
-- transaction as the insert serialises appenders and lets verify detect a removed tail.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
