-- Which certificates each attempted delivery was about (written by the delivery worker), for a
-- certificate's notification history.
CREATE TABLE notification_certificates (
    -- No foreign key: a certificate may be purged while a delivery about it is out; purging
    -- deletes its rows here.
    cert_id TEXT NOT NULL,
    outbox_id TEXT NOT NULL REFERENCES notification_outbox (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    PRIMARY KEY (cert_id, outbox_id)
);
CREATE INDEX notification_certificates_recent ON notification_certificates (cert_id, at);
