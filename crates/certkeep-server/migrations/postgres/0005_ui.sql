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

-- Indexes for the dashboard. Its status counts are range counts on not_after, answered from
-- index pages alone: the older (not_after, id) index holds a 36-character id per entry and
-- takes about twice as long to count through at 1,000,000 rows. Not-yet-valid entries are
-- counted on the second, partial index: any entry not yet valid now was not yet valid when it
-- was stored either, so it holds only the rare entries stored before their validity began and
-- costs ordinary imports nothing.
CREATE INDEX certificates_live_expiry ON certificates (not_after) WHERE deleted_at IS NULL;
CREATE INDEX certificates_early ON certificates (not_before, not_after) WHERE deleted_at IS NULL AND not_before > created_at;
