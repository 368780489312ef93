-- A callback DNS provider's webhook channel as a column the database checks: a channel that
-- providers use cannot be deleted (certkeep refuses it naming them; the key backs that up).
-- Providers whose channel is already gone keep NULL and fail their orders saying so.

ALTER TABLE dns_providers ADD COLUMN channel_id TEXT REFERENCES notification_channels (id);

UPDATE dns_providers SET channel_id = json_extract(config, '$.channel_id')
    WHERE kind = 'callback'
    AND json_extract(config, '$.channel_id') IN (SELECT id FROM notification_channels);

CREATE INDEX dns_providers_channel ON dns_providers (channel_id) WHERE channel_id IS NOT NULL;
