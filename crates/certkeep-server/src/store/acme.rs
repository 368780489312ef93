//! ACME accounts, DNS-01 providers, orders and the HTTP-01 answers served during validation.

use std::collections::BTreeMap;

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::notifications::{json_col, to_json};
use super::{Store, WriteTx, bool_to_i64, from_ts, parse_uuid, ts};
use crate::error::Result;

/// An ACME account as stored; `credentials_sealed` holds the account key.
#[derive(Debug, Clone)]
pub struct AcmeAccountRecord {
    pub id: Uuid,
    pub name: String,
    pub directory_url: String,
    pub contact: Vec<String>,
    pub eab_kid: Option<String>,
    pub ca_root_pem: Option<String>,
    pub credentials_sealed: Vec<u8>,
    pub account_url: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// A DNS provider as stored: non-secret `config` JSON, sealed secret.
#[derive(Debug, Clone)]
pub struct DnsProviderRecord {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub config: String,
    pub secret_sealed: Vec<u8>,
    /// A callback provider's webhook channel (also in `config`), which the database keeps
    /// from being deleted while the provider exists.
    pub channel_id: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An order as stored.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub id: Uuid,
    pub cert_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub domains: Vec<String>,
    pub key_type: String,
    pub account_id: Uuid,
    pub challenge: String,
    pub dns_provider_id: Option<Uuid>,
    /// The entry a renewal renews; `None` for a first order.
    pub renews_cert_id: Option<Uuid>,
    /// Renewal with a new key (else the entry's current key).
    pub rekey: bool,
    pub auto_renew: bool,
    pub status: String,
    pub error: Option<String>,
    /// The CA's problem document, JSON.
    pub problem: Option<String>,
    pub failed_domain: Option<String>,
    pub order_url: Option<String>,
    /// Manual DNS-01: the TXT records to create (JSON), once the CA has named them.
    pub dns_records: Option<String>,
    /// Manual DNS-01: the user said the records are in place.
    pub dns_confirmed: bool,
    pub attempts: u32,
    pub created_by: Option<Uuid>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
}

/// An ordered inventory entry and its renewal state.
#[derive(Debug, Clone)]
pub struct AcmeCertificateRecord {
    pub cert_id: Uuid,
    pub order_id: Uuid,
    pub auto_renew: bool,
    pub renew_at: OffsetDateTime,
    pub failures: u32,
    pub last_error: Option<String>,
    pub ari_next_check: Option<OffsetDateTime>,
}

/// How an order ended.
#[derive(Debug, Clone)]
pub struct OrderOutcome<'a> {
    pub status: &'a str,
    pub cert_id: Option<Uuid>,
    pub error: Option<String>,
    pub problem: Option<String>,
    pub failed_domain: Option<String>,
}

const ACCOUNT_COLUMNS: &str = "id, name, directory_url, contact, eab_kid, ca_root_pem, \
     credentials_sealed, account_url, created_at, updated_at";
const PROVIDER_COLUMNS: &str =
    "id, name, kind, config, secret_sealed, created_at, updated_at, channel_id";
const ORDER_COLUMNS: &str = "id, cert_id, name, description, group_name, labels, domains, key_type, \
     account_id, challenge, dns_provider_id, renews_cert_id, rekey, auto_renew, status, error, problem, failed_domain, order_url, \
     attempts, created_by, created_at, updated_at, finished_at, dns_records, dns_confirmed";

fn uuid_col(row: &AnyRow, col: &str) -> Result<Uuid> {
    parse_uuid(&row.try_get::<String, _>(col)?)
}

fn opt_uuid(row: &AnyRow, col: &str) -> Result<Option<Uuid>> {
    row.try_get::<Option<String>, _>(col)?
        .as_deref()
        .map(parse_uuid)
        .transpose()
}

fn time_col(row: &AnyRow, col: &str) -> Result<OffsetDateTime> {
    from_ts(row.try_get(col)?)
}

fn opt_time(row: &AnyRow, col: &str) -> Result<Option<OffsetDateTime>> {
    row.try_get::<Option<i64>, _>(col)?.map(from_ts).transpose()
}

/// A flag stored as an integer (0 or 1) on both backends.
fn flag_col(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

/// A count stored as an integer.
fn count_col(row: &AnyRow, col: &str) -> Result<u32> {
    Ok(u32::try_from(row.try_get::<i64, _>(col)?).unwrap_or(u32::MAX))
}

fn account_from_row(row: &AnyRow) -> Result<AcmeAccountRecord> {
    Ok(AcmeAccountRecord {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        directory_url: row.try_get("directory_url")?,
        contact: json_col(row, "contact")?,
        eab_kid: row.try_get("eab_kid")?,
        ca_root_pem: row.try_get("ca_root_pem")?,
        credentials_sealed: row.try_get("credentials_sealed")?,
        account_url: row.try_get("account_url")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
}

fn provider_from_row(row: &AnyRow) -> Result<DnsProviderRecord> {
    Ok(DnsProviderRecord {
        id: uuid_col(row, "id")?,
        name: row.try_get("name")?,
        kind: row.try_get("kind")?,
        config: row.try_get("config")?,
        secret_sealed: row.try_get("secret_sealed")?,
        channel_id: opt_uuid(row, "channel_id")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
    })
}

fn order_from_row(row: &AnyRow) -> Result<OrderRecord> {
    Ok(OrderRecord {
        id: uuid_col(row, "id")?,
        cert_id: opt_uuid(row, "cert_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        group: row.try_get("group_name")?,
        labels: json_col(row, "labels")?,
        domains: json_col(row, "domains")?,
        key_type: row.try_get("key_type")?,
        account_id: uuid_col(row, "account_id")?,
        challenge: row.try_get("challenge")?,
        dns_provider_id: opt_uuid(row, "dns_provider_id")?,
        renews_cert_id: opt_uuid(row, "renews_cert_id")?,
        rekey: flag_col(row, "rekey")?,
        auto_renew: flag_col(row, "auto_renew")?,
        status: row.try_get("status")?,
        error: row.try_get("error")?,
        problem: row.try_get("problem")?,
        failed_domain: row.try_get("failed_domain")?,
        order_url: row.try_get("order_url")?,
        attempts: count_col(row, "attempts")?,
        created_by: opt_uuid(row, "created_by")?,
        created_at: time_col(row, "created_at")?,
        updated_at: time_col(row, "updated_at")?,
        finished_at: opt_time(row, "finished_at")?,
        dns_records: row.try_get("dns_records")?,
        dns_confirmed: flag_col(row, "dns_confirmed")?,
    })
}

impl Store {
    // ------------------------------------------------------------------ accounts

    pub async fn acme_account_insert(&self, tx: &mut WriteTx, a: &AcmeAccountRecord) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO acme_accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(a.id.to_string())
        .bind(a.name.as_str())
        .bind(a.directory_url.as_str())
        .bind(to_json(&a.contact)?)
        .bind(a.eab_kid.clone())
        .bind(a.ca_root_pem.clone())
        .bind(a.credentials_sealed.clone())
        .bind(a.account_url.as_str())
        .bind(ts(a.created_at))
        .bind(ts(a.updated_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Store the changed name, contacts and credentials of account `a`.
    pub async fn acme_account_update(&self, tx: &mut WriteTx, a: &AcmeAccountRecord) -> Result<()> {
        sqlx::query(
            "UPDATE acme_accounts SET name = $2, contact = $3, credentials_sealed = $4, \
             updated_at = $5 WHERE id = $1",
        )
        .bind(a.id.to_string())
        .bind(a.name.as_str())
        .bind(to_json(&a.contact)?)
        .bind(a.credentials_sealed.clone())
        .bind(ts(a.updated_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn acme_account_get(&self, id: Uuid) -> Result<Option<AcmeAccountRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(account_from_row)
        .transpose()
    }

    pub async fn acme_account_list(&self) -> Result<Vec<AcmeAccountRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM acme_accounts ORDER BY name, id"
        )))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(account_from_row)
        .collect()
    }

    /// Delete an account no order refers to; `false` when it does not exist.
    pub async fn acme_account_delete(&self, tx: &mut WriteTx, id: Uuid) -> Result<bool> {
        let r = sqlx::query("DELETE FROM acme_accounts WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    // ------------------------------------------------------------------ DNS providers

    pub async fn dns_provider_insert(&self, tx: &mut WriteTx, p: &DnsProviderRecord) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO dns_providers ({PROVIDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(p.id.to_string())
        .bind(p.name.as_str())
        .bind(p.kind.as_str())
        .bind(p.config.as_str())
        .bind(p.secret_sealed.clone())
        .bind(ts(p.created_at))
        .bind(ts(p.updated_at))
        .bind(p.channel_id.map(|u| u.to_string()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn dns_provider_get(&self, id: Uuid) -> Result<Option<DnsProviderRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROVIDER_COLUMNS} FROM dns_providers WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(provider_from_row)
        .transpose()
    }

    pub async fn dns_provider_list(&self) -> Result<Vec<DnsProviderRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROVIDER_COLUMNS} FROM dns_providers ORDER BY name, id"
        )))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(provider_from_row)
        .collect()
    }

    /// The providers that send their records to notification channel `channel_id`, read in
    /// `tx` (which holds the channel's lock, so none can be added meanwhile).
    pub async fn dns_providers_using_channel(
        &self,
        tx: &mut WriteTx,
        channel_id: Uuid,
    ) -> Result<Vec<DnsProviderRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROVIDER_COLUMNS} FROM dns_providers WHERE channel_id = $1 ORDER BY name, id"
        )))
        .bind(channel_id.to_string())
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(provider_from_row)
        .collect()
    }

    pub async fn dns_provider_delete(&self, tx: &mut WriteTx, id: Uuid) -> Result<bool> {
        let r = sqlx::query("DELETE FROM dns_providers WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// How many orders refer to account or provider `id` in `column`.
    pub async fn orders_referring(
        &self,
        tx: &mut WriteTx,
        column: OrderReference,
        id: Uuid,
    ) -> Result<i64> {
        let col = match column {
            OrderReference::Account => "account_id",
            OrderReference::DnsProvider => "dns_provider_id",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM acme_orders WHERE {col} = $1"
        )))
        .bind(id.to_string())
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    // ------------------------------------------------------------------ orders

    pub async fn order_insert(&self, tx: &mut WriteTx, o: &OrderRecord) -> Result<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO acme_orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
        )))
        .bind(o.id.to_string())
        .bind(o.cert_id.map(|u| u.to_string()))
        .bind(o.name.as_str())
        .bind(o.description.as_str())
        .bind(o.group.clone())
        .bind(to_json(&o.labels)?)
        .bind(to_json(&o.domains)?)
        .bind(o.key_type.as_str())
        .bind(o.account_id.to_string())
        .bind(o.challenge.as_str())
        .bind(o.dns_provider_id.map(|u| u.to_string()))
        .bind(o.renews_cert_id.map(|u| u.to_string()))
        .bind(bool_to_i64(o.rekey))
        .bind(bool_to_i64(o.auto_renew))
        .bind(o.status.as_str())
        .bind(o.error.clone())
        .bind(o.problem.clone())
        .bind(o.failed_domain.clone())
        .bind(o.order_url.clone())
        .bind(i64::from(o.attempts))
        .bind(o.created_by.map(|u| u.to_string()))
        .bind(ts(o.created_at))
        .bind(ts(o.updated_at))
        .bind(o.finished_at.map(ts))
        .bind(o.dns_records.clone())
        .bind(bool_to_i64(o.dns_confirmed))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn order_get(&self, id: Uuid) -> Result<Option<OrderRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM acme_orders WHERE id = $1"
        )))
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(order_from_row)
        .transpose()
    }

    /// The newest `limit` orders.
    pub async fn order_list(&self, limit: u32) -> Result<Vec<OrderRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM acme_orders ORDER BY created_at DESC, id DESC LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(order_from_row)
        .collect()
    }

    /// Orders a worker should run: waiting ones, and validating ones whose worker may be gone
    /// (the caller's lease decides), oldest first.
    pub async fn orders_unfinished(&self, limit: u32) -> Result<Vec<OrderRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM acme_orders WHERE status IN ('pending', 'validating') \
             ORDER BY created_at, id LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(order_from_row)
        .collect()
    }

    /// Mark an unfinished order as being validated by a worker; `false` if it has finished.
    pub async fn order_start(&self, id: Uuid, now: OffsetDateTime) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE acme_orders SET status = 'validating', attempts = attempts + 1, updated_at = $2, \
             started_at = $2 WHERE id = $1 AND status IN ('pending', 'validating')",
        )
        .bind(id.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// How many orders of `account_id` workers started after `since`.
    pub async fn orders_started_since(
        &self,
        account_id: Uuid,
        since: OffsetDateTime,
    ) -> Result<u32> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM acme_orders WHERE account_id = $1 AND started_at > $2",
        )
        .bind(account_id.to_string())
        .bind(ts(since))
        .fetch_one(self.reader())
        .await?;
        Ok(u32::try_from(row.try_get::<i64, _>(0)?).unwrap_or(u32::MAX))
    }

    /// Put an interrupted order back in line.
    pub async fn order_requeue(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE acme_orders SET status = 'pending', updated_at = $2 WHERE id = $1 AND status = 'validating'",
        )
        .bind(id.to_string())
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Park a running order until the user has created `records` (JSON); `false` if it is
    /// no longer running.
    pub async fn order_await_dns(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
        records: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE acme_orders SET status = 'awaiting_dns', dns_records = $2, attempts = 0, \
             updated_at = $3 WHERE id = $1 AND status = 'validating'",
        )
        .bind(id.to_string())
        .bind(records)
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// The user says the records of a parked order are in place: it runs again; `false` if
    /// it was not waiting for that.
    pub async fn order_confirm_dns(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE acme_orders SET status = 'pending', dns_confirmed = 1, updated_at = $2 \
             WHERE id = $1 AND status = 'awaiting_dns'",
        )
        .bind(id.to_string())
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn order_set_url(&self, id: Uuid, url: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE acme_orders SET order_url = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(url)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn order_finish(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
        outcome: &OrderOutcome<'_>,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE acme_orders SET status = $2, cert_id = $3, error = $4, problem = $5, \
             failed_domain = $6, updated_at = $7, finished_at = $7 WHERE id = $1",
        )
        .bind(id.to_string())
        .bind(outcome.status)
        .bind(outcome.cert_id.map(|u| u.to_string()))
        .bind(outcome.error.clone())
        .bind(outcome.problem.clone())
        .bind(outcome.failed_domain.clone())
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ HTTP-01 answers

    pub async fn http_challenge_put(
        &self,
        token: &str,
        key_authorization: &str,
        order_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO acme_http_challenges (token, key_authorization, order_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (token) DO UPDATE SET \
             key_authorization = excluded.key_authorization",
        )
        .bind(token)
        .bind(key_authorization)
        .bind(order_id.to_string())
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn http_challenge_get(&self, token: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT key_authorization FROM acme_http_challenges WHERE token = $1")
                .bind(token)
                .fetch_optional(self.reader())
                .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<String, _>(0)?),
            None => None,
        })
    }

    pub async fn http_challenges_clear(&self, tx: &mut WriteTx, order_id: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM acme_http_challenges WHERE order_id = $1")
            .bind(order_id.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

const ACME_CERT_COLUMNS: &str =
    "cert_id, order_id, auto_renew, renew_at, failures, last_error, ari_next_check";
/// Ordered entries (`a`) whose certificate is not deleted; `ACME_CERT_COLUMNS` need no prefix
/// in it, as `certificates` has none of them.
const LIVE_ACME_CERTS: &str = "acme_certificates a JOIN certificates c ON c.id = a.cert_id \
     AND c.deleted_at IS NULL";

fn acme_cert_from_row(row: &AnyRow) -> Result<AcmeCertificateRecord> {
    Ok(AcmeCertificateRecord {
        cert_id: uuid_col(row, "cert_id")?,
        order_id: uuid_col(row, "order_id")?,
        auto_renew: flag_col(row, "auto_renew")?,
        renew_at: time_col(row, "renew_at")?,
        failures: count_col(row, "failures")?,
        last_error: row.try_get("last_error")?,
        ari_next_check: opt_time(row, "ari_next_check")?,
    })
}

impl Store {
    /// Record that `order_id` issued `cert_id`, due for renewal at `renew_at`; a success
    /// clears earlier failures.
    pub async fn acme_certificate_issued(
        &self,
        tx: &mut WriteTx,
        cert_id: Uuid,
        order_id: Uuid,
        auto_renew: bool,
        renew_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO acme_certificates (cert_id, order_id, auto_renew, renew_at, failures, last_error, updated_at) \
             VALUES ($1, $2, $3, $4, 0, NULL, $5) ON CONFLICT (cert_id) DO UPDATE SET \
             order_id = excluded.order_id, renew_at = excluded.renew_at, failures = 0, last_error = NULL, \
             ari_next_check = NULL, updated_at = excluded.updated_at",
        )
        .bind(cert_id.to_string())
        .bind(order_id.to_string())
        .bind(bool_to_i64(auto_renew))
        .bind(ts(renew_at))
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Turn automatic renewal of `cert_id` on or off; `false` if it is not an ordered entry.
    pub async fn acme_certificate_set_auto_renew(
        &self,
        tx: &mut WriteTx,
        cert_id: Uuid,
        auto_renew: bool,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE acme_certificates SET auto_renew = $2, updated_at = $3 WHERE cert_id = $1",
        )
        .bind(cert_id.to_string())
        .bind(bool_to_i64(auto_renew))
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Record a failed renewal: one more failure, the reason, and when to try again.
    pub async fn acme_certificate_failed(
        &self,
        tx: &mut WriteTx,
        cert_id: Uuid,
        retry_at: OffsetDateTime,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE acme_certificates SET failures = failures + 1, renew_at = $2, last_error = $3, \
             updated_at = $4 WHERE cert_id = $1",
        )
        .bind(cert_id.to_string())
        .bind(ts(retry_at))
        .bind(error)
        .bind(ts(now))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn acme_certificate_get(
        &self,
        cert_id: Uuid,
    ) -> Result<Option<AcmeCertificateRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACME_CERT_COLUMNS} FROM acme_certificates WHERE cert_id = $1"
        )))
        .bind(cert_id.to_string())
        .fetch_optional(self.reader())
        .await?
        .as_ref()
        .map(acme_cert_from_row)
        .transpose()
    }

    /// Live ordered entries with automatic renewal due at `now`, soonest first.
    pub async fn acme_certificates_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AcmeCertificateRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACME_CERT_COLUMNS} FROM {LIVE_ACME_CERTS} \
             WHERE a.auto_renew = 1 AND a.renew_at <= $1 ORDER BY a.renew_at, a.cert_id LIMIT $2"
        )))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(acme_cert_from_row)
        .collect()
    }

    /// Live ordered entries with automatic renewal whose renewal information is due at `now`.
    pub async fn acme_certificates_ari_due(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AcmeCertificateRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ACME_CERT_COLUMNS} FROM {LIVE_ACME_CERTS} \
             WHERE a.auto_renew = 1 AND (a.ari_next_check IS NULL OR a.ari_next_check <= $1) \
             ORDER BY a.ari_next_check, a.cert_id LIMIT $2"
        )))
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?
        .iter()
        .map(acme_cert_from_row)
        .collect()
    }

    /// Record a renewal-information check: when to renew (if the CA moved it earlier) and when
    /// to ask again.
    pub async fn acme_certificate_ari_checked(
        &self,
        cert_id: Uuid,
        renew_at: OffsetDateTime,
        next_check: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE acme_certificates SET renew_at = $2, ari_next_check = $3 WHERE cert_id = $1",
        )
        .bind(cert_id.to_string())
        .bind(ts(renew_at))
        .bind(ts(next_check))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a renewal of `cert_id` is waiting or running.
    pub async fn renewal_in_flight(&self, tx: &mut WriteTx, cert_id: Uuid) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM acme_orders WHERE renews_cert_id = $1 \
             AND status IN ('pending', 'validating', 'awaiting_dns')",
        )
        .bind(cert_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }
}

/// Which reference of an order to count.
#[derive(Debug, Clone, Copy)]
pub enum OrderReference {
    Account,
    DnsProvider,
}
