-- Web UI: server-side sessions and the indexes behind the dashboard's counts (PostgreSQL dialect).

-- A signed-in browser. The cookie carries a random secret; only its SHA-256 is stored. The API
-- token the user signed in with is kept sealed (envelope-encrypted like private keys), so every
-- page authenticates through the same token checks as the API: revoking or expiring the token
-- ends its sessions.
CREATE TABLE ui_sessions (
    id_hash TEXT PRIMARY KEY,
    token_id TEXT NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    bearer_sealed BYTEA NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_token ON ui_sessions (token_id);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);

-- Narrow covering indexes for the dashboard: every status count is a range count over
-- (not_after, not_before) that never touches the table rows.
CREATE INDEX certificates_live_validity ON certificates (not_after, not_before) WHERE deleted_at IS NULL;
CREATE INDEX certificates_group_validity ON certificates (group_name, not_after, not_before) WHERE deleted_at IS NULL;
