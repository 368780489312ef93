-- Manual DNS-01: an order waits in `awaiting_dns` with the TXT records the user is to create
-- (JSON), until the user asks for validation (`dns_confirmed`). A waiting renewal is in flight.

ALTER TABLE acme_orders ADD COLUMN dns_records TEXT;
ALTER TABLE acme_orders ADD COLUMN dns_confirmed BIGINT NOT NULL DEFAULT 0;

DROP INDEX acme_orders_one_renewal;
CREATE UNIQUE INDEX acme_orders_one_renewal ON acme_orders (renews_cert_id)
    WHERE renews_cert_id IS NOT NULL AND status IN ('pending', 'validating', 'awaiting_dns');
