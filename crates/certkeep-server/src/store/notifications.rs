//! Notification channels, the delivery outbox and job leases.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, WriteTx, bool_to_i64, from_ts, parse_uuid, ts};
use crate::error::{Error, Result};

/// A channel as stored. `config` is non-secret JSON; `secrets_sealed` is sealed JSON.
#[derive(Debug, Clone)]
pub struct ChannelRecord {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub enabled: bool,
    pub config: String,
    pub secrets_sealed: Vec<u8>,
    pub events: Vec<String>,
    pub scope_group: Option<String>,
    pub scope_labels: BTreeMap<String, String>,
    pub thresholds: Vec<String>,
    pub expired_hour: u8,
    pub swept_until: Option<OffsetDateTime>,
    /// UTC day number (days since 1970-01-01) of the last daily `cert.expired` reminder.
    pub reminded_on: Option<i64>,
    /// The sweep position at the start of the current UTC day (of `swept_until`).
    pub day_from: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// One delivery in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxRecord {
    pub id: Uuid,
    pub channel_id: Uuid,
    pub event_type: String,
    /// The `Notification` JSON, exactly as it is sent.
    pub payload: String,
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub last_status_code: Option<u16>,
    pub created_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
}

/// The outcome of one attempt, written back by the worker that holds the lease.
#[derive(Debug, Clone)]
pub struct OutboxUpdate {
    pub status: &'static str,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub last_status_code: Option<u16>,
    pub delivered_at: Option<OffsetDateTime>,
}

const CHANNEL_COLUMNS: &str = "id, name, kind, enabled, config, secrets_sealed, events, scope_group, \
     scope_labels, thresholds, expired_hour, swept_until, reminded_on, day_from, created_at, updated_at";
const OUTBOX_COLUMNS: &str = "id, channel_id, event_type, payload, status, attempts, next_attempt_at, \
     last_error, last_status_code, created_at, delivered_at";

pub(super) fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let s: String = row.try_get(col)?;
    serde_json::from_str(&s)
        .map_err(|e| Error::Internal(format!("stored column {col} is not valid JSON: {e}")))
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("cannot encode JSON column: {e}")))
}

fn channel_from_row(row: &AnyRow) -> Result<ChannelRecord> {
    let swept: Option<i64> = row.try_get("swept_until")?;
    let hour: i64 = row.try_get("expired_hour")?;
    Ok(ChannelRecord {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        config: row.try_get("config")?,
        secrets_sealed: row.try_get("secrets_sealed")?,
        events: json_col(row, "events")?,
        scope_group: row.try_get("scope_group")?,
        scope_labels: json_col(row, "scope_labels")?,
        thresholds: json_col(row, "thresholds")?,
        expired_hour: u8::try_from(hour)
            .map_err(|_| Error::Internal(format!("stored expired_hour {hour} is out of range")))?,
        swept_until: swept.map(from_ts).transpose()?,
        reminded_on: row.try_get("reminded_on")?,
        day_from: row
            .try_get::<Option<i64>, _>("day_from")?
            .map(from_ts)
            .transpose()?,
        created_at: from_ts(row.try_get("created_at")?)?,
        updated_at: from_ts(row.try_get("updated_at")?)?,
    })
}

fn outbox_from_row(row: &AnyRow) -> Result<OutboxRecord> {
    let code: Option<i64> = row.try_get("last_status_code")?;
    let delivered: Option<i64> = row.try_get("delivered_at")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(OutboxRecord {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        channel_id: parse_uuid(&row.try_get::<String, _>("channel_id")?)?,
        event_type: row.try_get("event_type")?,
        payload: row.try_get("payload")?,
        status: row.try_get("status")?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: from_ts(row.try_get("next_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
        last_status_code: code.and_then(|c| u16::try_from(c).ok()),
        created_at: from_ts(row.try_get("created_at")?)?,
        delivered_at: delivered.map(from_ts).transpose()?,
    })
}

impl Store {
    pub async fn channel_insert(&self, tx: &mut WriteTx, c: &ChannelRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO notification_channels (id, name, kind, enabled, config, secrets_sealed, events, \
             scope_group, scope_labels, thresholds, expired_hour, swept_until, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13)",
        )
        .bind(c.id.to_string())
        .bind(c.name.as_str())
        .bind(c.kind.as_str())
        .bind(bool_to_i64(c.enabled))
        .bind(c.config.as_str())
        .bind(c.secrets_sealed.clone())
        .bind(to_json(&c.events)?)
        .bind(c.scope_group.clone())
        .bind(to_json(&c.scope_labels)?)
        .bind(to_json(&c.thresholds)?)
        .bind(i64::from(c.expired_hour))
        .bind(ts(c.created_at))
        .bind(ts(c.updated_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Rewrite a channel's settings (not its sweep position: changing what it watches applies
    /// from the next threshold crossed, without resending what was sent).
    pub async fn channel_update(&self, tx: &mut WriteTx, c: &ChannelRecord) -> Result<()> {
        sqlx::query(
            "UPDATE notification_channels SET name = $2, enabled = $3, config = $4, secrets_sealed = $5, \
             events = $6, scope_group = $7, scope_labels = $8, thresholds = $9, expired_hour = $10, \
             updated_at = $11 WHERE id = $1",
        )
        .bind(c.id.to_string())
        .bind(c.name.as_str())
        .bind(bool_to_i64(c.enabled))
        .bind(c.config.as_str())
        .bind(c.secrets_sealed.clone())
        .bind(to_json(&c.events)?)
        .bind(c.scope_group.clone())
        .bind(to_json(&c.scope_labels)?)
        .bind(to_json(&c.thresholds)?)
        .bind(i64::from(c.expired_hour))
        .bind(ts(c.updated_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Move a channel's sweep position from `from` (what the sweep read) to `to.swept_until`,
    /// with its reminder bookkeeping; false when another sweep moved it first, in which case
    /// the caller must roll back what it enqueued.
    pub async fn channel_set_swept(
        &self,
        tx: &mut WriteTx,
        from: &ChannelRecord,
        to: &ChannelRecord,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE notification_channels SET swept_until = $2, reminded_on = $3, day_from = $4 \
             WHERE id = $1 AND COALESCE(swept_until, -1) = $5",
        )
        .bind(from.id.to_string())
        .bind(to.swept_until.map(ts))
        .bind(to.reminded_on)
        .bind(to.day_from.map(ts))
        .bind(from.swept_until.map(ts).unwrap_or(-1))
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Delete a channel and its delivery history.
    pub async fn channel_delete(&self, tx: &mut WriteTx, id: Uuid) -> Result<()> {
        let id = id.to_string();
        sqlx::query("DELETE FROM notification_outbox WHERE channel_id = $1")
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM notification_channels WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn channel_get(&self, id: Uuid) -> Result<Option<ChannelRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(channel_from_row).transpose()
    }

    pub async fn channel_get_for_update(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
    ) -> Result<Option<ChannelRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE id = $1{}",
            self.for_update()
        )))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
        row.as_ref().map(channel_from_row).transpose()
    }

    /// Channels by name; only those scoped to `group` when given.
    pub async fn channel_list(&self, group: Option<&str>) -> Result<Vec<ChannelRecord>> {
        let rows = match group {
            Some(g) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE scope_group = $1 ORDER BY name, id"
                )))
                .bind(g)
                .fetch_all(self.reader())
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {CHANNEL_COLUMNS} FROM notification_channels ORDER BY name, id"
                )))
                .fetch_all(self.reader())
                .await?
            }
        };
        rows.iter().map(channel_from_row).collect()
    }

    /// Enabled channels, read inside a write transaction (so events enqueued with a change see
    /// the channels as of that change).
    pub async fn channels_enabled_in(&self, tx: &mut WriteTx) -> Result<Vec<ChannelRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE enabled = 1 ORDER BY id"
        )))
        .fetch_all(&mut **tx)
        .await?;
        rows.iter().map(channel_from_row).collect()
    }

    pub async fn channels_enabled(&self) -> Result<Vec<ChannelRecord>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CHANNEL_COLUMNS} FROM notification_channels WHERE enabled = 1 ORDER BY id"
        )))
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(channel_from_row).collect()
    }

    pub async fn outbox_insert(&self, tx: &mut WriteTx, o: &OutboxRecord) -> Result<()> {
        self.outbox_insert_all(tx, std::slice::from_ref(o)).await
    }

    /// Insert `records`, several a statement (a sweep writes thousands).
    pub async fn outbox_insert_all(
        &self,
        tx: &mut WriteTx,
        records: &[OutboxRecord],
    ) -> Result<()> {
        const COLUMNS: usize = 11;
        const ROWS_PER_STATEMENT: usize = 64;
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let params: Vec<String> = (1..=COLUMNS)
                        .map(|c| format!("${}", r * COLUMNS + c))
                        .collect();
                    format!("({}, NULL, NULL)", params.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO notification_outbox (id, channel_id, event_type, payload, status, attempts, \
                 next_attempt_at, last_error, last_status_code, created_at, delivered_at, lease_owner, lease_until) \
                 VALUES {}",
                values.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for o in chunk {
                q = q
                    .bind(o.id.to_string())
                    .bind(o.channel_id.to_string())
                    .bind(o.event_type.as_str())
                    .bind(o.payload.as_str())
                    .bind(o.status.as_str())
                    .bind(i64::from(o.attempts))
                    .bind(ts(o.next_attempt_at))
                    .bind(o.last_error.as_deref())
                    .bind(o.last_status_code.map(i64::from))
                    .bind(ts(o.created_at))
                    .bind(o.delivered_at.map(ts));
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Lease up to `limit` due pending deliveries to `owner` until `lease_until`. Rows leased by
    /// a live worker elsewhere are skipped; an expired lease is taken over. Deliveries to a
    /// disabled channel wait, pending, until it is enabled again.
    pub async fn outbox_claim(
        &self,
        owner: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxRecord>> {
        let sql = format!(
            "UPDATE notification_outbox SET lease_owner = $1, lease_until = $2 WHERE id IN (\
             SELECT id FROM notification_outbox WHERE status = 'pending' AND next_attempt_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) \
             AND channel_id IN (SELECT id FROM notification_channels WHERE enabled = 1) \
             ORDER BY next_attempt_at LIMIT $4{}) \
             RETURNING {OUTBOX_COLUMNS}",
            self.skip_locked()
        );
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(owner)
            .bind(ts(lease_until))
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut out = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|o| (o.next_attempt_at, o.created_at));
        Ok(out)
    }

    /// Renew `owner`'s lease of the deliveries `ids` it claimed; one another worker took over
    /// (after this one's lease had lapsed) stays with it.
    pub async fn outbox_extend_leases(
        &self,
        owner: &str,
        ids: &[Uuid],
        lease_until: OffsetDateTime,
    ) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let mut renewed = 0;
        for chunk in ids.chunks(500) {
            let params: Vec<String> = (3..chunk.len() + 3).map(|i| format!("${i}")).collect();
            let sql = format!(
                "UPDATE notification_outbox SET lease_until = $2 \
                 WHERE lease_owner = $1 AND id IN ({})",
                params.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql))
                .bind(owner)
                .bind(ts(lease_until));
            for id in chunk {
                q = q.bind(id.to_string());
            }
            renewed += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(renewed)
    }

    /// Write back attempts made under `owner`'s lease; rows whose lease was lost are left alone.
    pub async fn outbox_finish(
        &self,
        tx: &mut WriteTx,
        owner: &str,
        id: Uuid,
        u: &OutboxUpdate,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE notification_outbox SET status = $3, attempts = $4, next_attempt_at = $5, \
             last_error = $6, last_status_code = $7, delivered_at = $8, lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(u.status)
        .bind(i64::from(u.attempts))
        .bind(ts(u.next_attempt_at))
        .bind(u.last_error.clone())
        .bind(u.last_status_code.map(i64::from))
        .bind(u.delivered_at.map(ts))
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Record which certificates attempted deliveries were about: (certificate, delivery, time).
    pub async fn notification_certificates_insert(
        &self,
        tx: &mut WriteTx,
        rows: &[(Uuid, Uuid, OffsetDateTime)],
    ) -> Result<()> {
        for chunk in rows.chunks(300) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                .collect();
            let sql = format!(
                "INSERT INTO notification_certificates (cert_id, outbox_id, at) VALUES {} \
                 ON CONFLICT (cert_id, outbox_id) DO NOTHING",
                values.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (cert, outbox, at) in chunk {
                q = q
                    .bind(cert.to_string())
                    .bind(outbox.to_string())
                    .bind(ts(*at));
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// The latest deliveries about certificate `cert_id`, newest first; only those of channels
    /// scoped to `group` when given.
    pub async fn certificate_deliveries(
        &self,
        cert_id: Uuid,
        group: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OutboxRecord>> {
        let columns: Vec<String> = OUTBOX_COLUMNS
            .split(", ")
            .map(|c| format!("o.{}", c.trim()))
            .collect();
        let scope = if group.is_some() {
            " JOIN notification_channels ch ON ch.id = o.channel_id AND ch.scope_group = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {} FROM notification_certificates n \
             JOIN notification_outbox o ON o.id = n.outbox_id{scope} \
             WHERE n.cert_id = $1 ORDER BY n.at DESC, o.id DESC LIMIT $2",
            columns.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(cert_id.to_string())
            .bind(i64::from(limit));
        if let Some(g) = group {
            q = q.bind(g);
        }
        let rows = q.fetch_all(self.reader()).await?;
        rows.iter().map(outbox_from_row).collect()
    }

    /// A channel's deliveries, newest first, after the (created_at, id) cursor.
    pub async fn outbox_list(
        &self,
        channel_id: Uuid,
        status: Option<&str>,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> Result<Vec<OutboxRecord>> {
        let mut sql =
            format!("SELECT {OUTBOX_COLUMNS} FROM notification_outbox WHERE channel_id = $1");
        let mut n = 1;
        if status.is_some() {
            n += 1;
            sql.push_str(&format!(" AND status = ${n}"));
        }
        if before.is_some() {
            sql.push_str(&format!(" AND (created_at, id) < (${}, ${})", n + 1, n + 2));
            n += 2;
        }
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT ${}",
            n + 1
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(channel_id.to_string());
        if let Some(s) = status {
            q = q.bind(s);
        }
        if let Some((t, id)) = before {
            q = q.bind(t).bind(id);
        }
        let rows = q.bind(i64::from(limit)).fetch_all(self.reader()).await?;
        rows.iter().map(outbox_from_row).collect()
    }

    pub async fn outbox_get(&self, id: Uuid) -> Result<Option<OutboxRecord>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {OUTBOX_COLUMNS} FROM notification_outbox WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(outbox_from_row).transpose()
    }

    /// Take or renew the lease on job `name` for `owner` until `until`; false when another
    /// owner holds an unexpired lease.
    pub async fn lease_acquire(
        &self,
        name: &str,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<bool> {
        let ms = |t: OffsetDateTime| {
            i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
        };
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "INSERT INTO job_leases (name, owner, until_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms \
             WHERE job_leases.until_ms < $4 OR job_leases.owner = excluded.owner",
        )
        .bind(name)
        .bind(owner)
        .bind(ms(until))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Whether `owner` still holds the lease on `name`, checked inside `tx` and (PostgreSQL)
    /// locked until it ends, so that no other owner can take the lease over before the work
    /// the transaction records is committed. Expiry is not checked: a lapsed lease nobody took
    /// over is still the owner's.
    pub async fn lease_held(&self, tx: &mut WriteTx, name: &str, owner: &str) -> Result<bool> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT owner FROM job_leases WHERE name = $1{}",
            self.for_update()
        )))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
        Ok(match row {
            Some(r) => r.try_get::<String, _>(0)? == owner,
            None => false,
        })
    }

    pub async fn lease_release(&self, name: &str, owner: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM job_leases WHERE name = $1 AND owner = $2")
            .bind(name)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
