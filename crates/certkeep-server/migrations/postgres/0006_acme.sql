-- ACME ordering: CA accounts, DNS-01 providers, orders and the HTTP-01 answers served while
-- an order is validated. Secrets (account keys, TSIG secrets) are sealed by the keyring.

CREATE TABLE acme_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    directory_url TEXT NOT NULL,
    contact TEXT NOT NULL,
    eab_kid TEXT,
    ca_root_pem TEXT,
    -- instant-acme's account credentials (JSON with the PKCS#8 key), sealed.
    credentials_sealed BYTEA NOT NULL,
    account_url TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE dns_providers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- Non-secret settings (JSON): server, zone, key name and algorithm, deadline.
    config TEXT NOT NULL,
    -- The TSIG secret, sealed; empty for providers without a secret.
    secret_sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE acme_orders (
    id TEXT PRIMARY KEY,
    -- The inventory entry once issued.
    cert_id TEXT,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    group_name TEXT,
    labels TEXT NOT NULL,
    domains TEXT NOT NULL,
    key_type TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES acme_accounts (id),
    challenge TEXT NOT NULL,
    dns_provider_id TEXT REFERENCES dns_providers (id),
    -- The inventory entry this order renews; NULL for a first order.
    renews_cert_id TEXT,
    -- Renewal: a new key (1) or the entry's current key (0). First orders always make one.
    rekey BIGINT NOT NULL,
    auto_renew BIGINT NOT NULL,
    status TEXT NOT NULL,
    -- Why it failed: the CA's problem document (JSON) and the domain whose validation failed.
    error TEXT,
    problem TEXT,
    failed_domain TEXT,
    order_url TEXT,
    attempts BIGINT NOT NULL,
    -- When a worker last started it: the per-account rate budget counts these.
    started_at BIGINT,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX acme_orders_status ON acme_orders (status, created_at, id);
CREATE INDEX acme_orders_created ON acme_orders (created_at, id);
CREATE INDEX acme_orders_account_started ON acme_orders (account_id, started_at);
-- At most one unfinished renewal per certificate, however many replicas start one.
CREATE UNIQUE INDEX acme_orders_one_renewal ON acme_orders (renews_cert_id)
    WHERE renews_cert_id IS NOT NULL AND status IN ('pending', 'validating');

-- Ordered inventory entries and their renewal state.
CREATE TABLE acme_certificates (
    cert_id TEXT PRIMARY KEY REFERENCES certificates (id) ON DELETE CASCADE,
    -- The last order that issued it: renewals repeat its settings.
    order_id TEXT NOT NULL REFERENCES acme_orders (id),
    auto_renew BIGINT NOT NULL,
    -- When the renewal job starts the next renewal (jitter and retry backoff included).
    renew_at BIGINT NOT NULL,
    -- Failed renewals in a row, and the last reason.
    failures BIGINT NOT NULL,
    last_error TEXT,
    -- When to ask the CA for renewal information (RFC 9773) again; NULL: at the next round.
    ari_next_check BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX acme_certificates_due ON acme_certificates (renew_at) WHERE auto_renew = 1;
CREATE INDEX acme_certificates_ari ON acme_certificates (ari_next_check) WHERE auto_renew = 1;

CREATE TABLE acme_http_challenges (
    token TEXT PRIMARY KEY,
    key_authorization TEXT NOT NULL,
    order_id TEXT NOT NULL REFERENCES acme_orders (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
