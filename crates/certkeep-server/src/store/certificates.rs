//! Certificate entries, their versions (leaf, chain, sealed key) and labels.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, WriteTx, bool_to_i64, from_ts, parse_uuid, ts};
use crate::domain::LabelFilter;
use crate::error::{Error, Result};
use crate::pki::CertInfo;

/// A certificate entry with the metadata of its current version.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateRecord {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub source: String,
    pub current_version: u32,
    pub info: CertInfo,
    pub has_private_key: bool,
    pub chain_length: u32,
    pub chain_complete: bool,
    pub chain_issues: Vec<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub deleted_at: Option<OffsetDateTime>,
}

/// One stored version. `key_sealed` is the envelope-encrypted PKCS#8 key.
#[derive(Debug, Clone)]
pub struct VersionRecord {
    pub cert_id: Uuid,
    pub version: u32,
    pub leaf_der: Vec<u8>,
    pub chain_der: Vec<Vec<u8>>,
    pub chain_complete: bool,
    pub chain_issues: Vec<String>,
    /// Only loaded for a single version (downloads); listings leave it out.
    pub key_sealed: Option<Vec<u8>>,
    pub has_key: bool,
    pub created_at: OffsetDateTime,
    pub created_by: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    #[default]
    NotAfterAsc,
    NotAfterDesc,
    NameAsc,
    NameDesc,
}

/// Position after which a page starts: the sort key and id of the previous page's last row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorKey {
    Time(i64),
    Text(String),
}

/// What the expiry sweep decides on, before it loads anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueCandidate {
    pub id: Uuid,
    pub version: u32,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// When the current version was stored.
    pub version_at: OffsetDateTime,
}

/// A listing query, already validated and resolved against `now` by the caller.
#[derive(Debug, Clone, Default)]
pub struct CertificateFilter {
    pub deleted: bool,
    /// The caller's token is limited to this group.
    pub scope_group: Option<String>,
    pub group: Option<String>,
    /// Lowercased free text.
    pub text: Option<String>,
    /// Lowercased issuer substring.
    pub issuer: Option<String>,
    pub key_algorithm: Option<String>,
    pub labels: Vec<LabelFilter>,
    pub not_after_min: Option<i64>,
    pub not_after_max_excl: Option<i64>,
    pub not_before_max: Option<i64>,
    pub not_before_min_excl: Option<i64>,
    /// Only entries whose current version was stored after this Unix time…
    pub version_after: Option<i64>,
    /// …and not after this one.
    pub version_until: Option<i64>,
    /// Only entries that crossed `p` percent of their lifetime before expiry in a time window.
    pub percent_window: Option<PercentWindow>,
    pub order: ListOrder,
    pub after: Option<(CursorKey, String)>,
    pub limit: u32,
}

/// Entries whose `p` % threshold (`not_after - p % of the lifetime`) lies in `(after, now]` and
/// that have not expired at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PercentWindow {
    pub percent: u32,
    pub now: i64,
    pub after: Option<i64>,
}

const CERT_COLUMNS: &str = "id, name, description, group_name, labels, source, current_version, \
    subject, issuer, serial, domains, ip_addresses, not_before, not_after, key_algorithm, key_size, \
    key_curve, signature_algorithm, fingerprint_sha256, is_ca, has_private_key, chain_length, \
    chain_complete, chain_issues, x509_version, created_at, updated_at, deleted_at";

fn json_text<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("cannot encode JSON column: {e}")))
}

fn from_json_text<T: serde::de::DeserializeOwned>(column: &str, s: &str) -> Result<T> {
    serde_json::from_str(s)
        .map_err(|e| Error::Internal(format!("stored column {column} is not valid JSON: {e}")))
}

fn to_u32(column: &str, v: i64) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Internal(format!("stored {column} {v} is out of range")))
}

fn search_text(name: &str, info: &CertInfo) -> String {
    let mut s = name.to_lowercase();
    for d in &info.domains {
        s.push('\n');
        s.push_str(&d.to_lowercase());
    }
    s.push('\n');
    s.push_str(&info.subject.to_lowercase());
    s.push('\n');
    s.push_str(&info.issuer.to_lowercase());
    s
}

fn cert_from_row(row: &AnyRow) -> Result<CertificateRecord> {
    let id: String = row.try_get("id")?;
    let key_size: Option<i64> = row.try_get("key_size")?;
    let deleted_at: Option<i64> = row.try_get("deleted_at")?;
    Ok(CertificateRecord {
        id: parse_uuid(&id)?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        group: row.try_get("group_name")?,
        labels: from_json_text("labels", &row.try_get::<String, _>("labels")?)?,
        source: row.try_get("source")?,
        current_version: to_u32("current_version", row.try_get("current_version")?)?,
        info: CertInfo {
            subject: row.try_get("subject")?,
            issuer: row.try_get("issuer")?,
            serial: row.try_get("serial")?,
            domains: from_json_text("domains", &row.try_get::<String, _>("domains")?)?,
            ip_addresses: from_json_text(
                "ip_addresses",
                &row.try_get::<String, _>("ip_addresses")?,
            )?,
            not_before: from_ts(row.try_get("not_before")?)?,
            not_after: from_ts(row.try_get("not_after")?)?,
            key_algorithm: row.try_get("key_algorithm")?,
            key_size: key_size.map(|v| to_u32("key_size", v)).transpose()?,
            key_curve: row.try_get("key_curve")?,
            signature_algorithm: row.try_get("signature_algorithm")?,
            fingerprint_sha256: row.try_get("fingerprint_sha256")?,
            is_ca: row.try_get::<i64, _>("is_ca")? != 0,
            x509_version: to_u32("x509_version", row.try_get("x509_version")?)?,
        },
        has_private_key: row.try_get::<i64, _>("has_private_key")? != 0,
        chain_length: to_u32("chain_length", row.try_get("chain_length")?)?,
        chain_complete: row.try_get::<i64, _>("chain_complete")? != 0,
        chain_issues: from_json_text("chain_issues", &row.try_get::<String, _>("chain_issues")?)?,
        created_at: from_ts(row.try_get("created_at")?)?,
        updated_at: from_ts(row.try_get("updated_at")?)?,
        deleted_at: deleted_at.map(from_ts).transpose()?,
    })
}

#[derive(serde::Serialize, serde::Deserialize)]
struct VersionMeta {
    chain_complete: bool,
    chain_issues: Vec<String>,
}

/// Split concatenated DER certificates (each a SEQUENCE) back into a list.
fn split_der_concat(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    let corrupt = || Error::Internal("stored chain is not concatenated DER".into());
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 2 || bytes[0] != 0x30 {
            return Err(corrupt());
        }
        let (len, header) = match bytes[1] {
            l if l < 0x80 => (usize::from(l), 2),
            0x81..=0x84 => {
                let n = usize::from(bytes[1] & 0x7f);
                let lb = bytes.get(2..2 + n).ok_or_else(corrupt)?;
                (
                    lb.iter().fold(0usize, |a, b| (a << 8) | usize::from(*b)),
                    2 + n,
                )
            }
            _ => return Err(corrupt()),
        };
        let total = header.checked_add(len).ok_or_else(corrupt)?;
        let (one, rest) = bytes.split_at_checked(total).ok_or_else(corrupt)?;
        out.push(one.to_vec());
        bytes = rest;
    }
    Ok(out)
}

fn version_from_row(row: &AnyRow, with_key: bool) -> Result<VersionRecord> {
    let cert_id: String = row.try_get("cert_id")?;
    let meta: VersionMeta = from_json_text("metadata", &row.try_get::<String, _>("metadata")?)?;
    let created_by: Option<String> = row.try_get("created_by")?;
    let key_sealed: Option<Vec<u8>> = if with_key {
        row.try_get("key_sealed")?
    } else {
        None
    };
    Ok(VersionRecord {
        cert_id: parse_uuid(&cert_id)?,
        version: to_u32("version", row.try_get("version")?)?,
        leaf_der: row.try_get("leaf_der")?,
        chain_der: split_der_concat(&row.try_get::<Vec<u8>, _>("chain_der")?)?,
        chain_complete: meta.chain_complete,
        chain_issues: meta.chain_issues,
        key_sealed,
        has_key: row.try_get::<i64, _>("has_key")? != 0,
        created_at: from_ts(row.try_get("created_at")?)?,
        created_by: created_by.as_deref().map(parse_uuid).transpose()?,
    })
}

/// A value bound into a dynamically built query.
enum Bind {
    Int(i64),
    Text(String),
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Store {
    /// Replace the labels of `id` (`fresh`: the entry is new and has none yet).
    async fn write_labels(
        &self,
        tx: &mut WriteTx,
        id: &str,
        labels: &BTreeMap<String, String>,
        fresh: bool,
    ) -> Result<()> {
        if !fresh {
            sqlx::query("DELETE FROM certificate_labels WHERE cert_id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
        }
        for (k, v) in labels {
            sqlx::query("INSERT INTO certificate_labels (cert_id, key, value) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(k.as_str())
                .bind(v.as_str())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    async fn insert_version(&self, tx: &mut WriteTx, v: &VersionRecord) -> Result<()> {
        let meta = json_text(&VersionMeta {
            chain_complete: v.chain_complete,
            chain_issues: v.chain_issues.clone(),
        })?;
        let chain: Vec<u8> = v.chain_der.concat();
        sqlx::query(
            "INSERT INTO certificate_versions (cert_id, version, leaf_der, chain_der, metadata, key_sealed, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(v.cert_id.to_string())
        .bind(i64::from(v.version))
        .bind(v.leaf_der.clone())
        .bind(chain)
        .bind(meta)
        .bind(v.key_sealed.clone())
        .bind(ts(v.created_at))
        .bind(v.created_by.map(|u| u.to_string()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Insert a new entry and its first version.
    pub async fn certificate_insert(
        &self,
        tx: &mut WriteTx,
        rec: &CertificateRecord,
        version: &VersionRecord,
    ) -> Result<()> {
        let id = rec.id.to_string();
        let i = &rec.info;
        sqlx::query(
            "INSERT INTO certificates (id, name, description, group_name, labels, source, current_version, \
             subject, issuer, serial, domains, ip_addresses, not_before, not_after, key_algorithm, key_size, \
             key_curve, signature_algorithm, fingerprint_sha256, is_ca, has_private_key, chain_length, \
             chain_complete, chain_issues, x509_version, created_at, updated_at, deleted_at, version_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, \
             $20, $21, $22, $23, $24, $25, $26, $27, NULL, $28)",
        )
        .bind(id.as_str())
        .bind(rec.name.as_str())
        .bind(rec.description.as_str())
        .bind(rec.group.clone())
        .bind(json_text(&rec.labels)?)
        .bind(rec.source.as_str())
        .bind(i64::from(rec.current_version))
        .bind(i.subject.as_str())
        .bind(i.issuer.as_str())
        .bind(i.serial.as_str())
        .bind(json_text(&i.domains)?)
        .bind(json_text(&i.ip_addresses)?)
        .bind(ts(i.not_before))
        .bind(ts(i.not_after))
        .bind(i.key_algorithm.as_str())
        .bind(i.key_size.map(i64::from))
        .bind(i.key_curve.clone())
        .bind(i.signature_algorithm.as_str())
        .bind(i.fingerprint_sha256.as_str())
        .bind(bool_to_i64(i.is_ca))
        .bind(bool_to_i64(rec.has_private_key))
        .bind(i64::from(rec.chain_length))
        .bind(bool_to_i64(rec.chain_complete))
        .bind(json_text(&rec.chain_issues)?)
        .bind(i64::from(i.x509_version))
        .bind(ts(rec.created_at))
        .bind(ts(rec.updated_at))
        .bind(ts(version.created_at))
        .execute(&mut **tx)
        .await?;
        sqlx::query("INSERT INTO certificate_search (cert_id, text) VALUES ($1, $2)")
            .bind(id.as_str())
            .bind(search_text(&rec.name, i))
            .execute(&mut **tx)
            .await?;
        self.write_labels(tx, &id, &rec.labels, true).await?;
        self.insert_version(tx, version).await
    }

    /// Make `version` the current version of `rec.id` and update the entry's metadata.
    pub async fn certificate_add_version(
        &self,
        tx: &mut WriteTx,
        rec: &CertificateRecord,
        version: &VersionRecord,
    ) -> Result<()> {
        self.insert_version(tx, version).await?;
        let i = &rec.info;
        sqlx::query(
            "UPDATE certificates SET current_version = $2, subject = $3, issuer = $4, serial = $5, \
             domains = $6, ip_addresses = $7, not_before = $8, not_after = $9, key_algorithm = $10, \
             key_size = $11, key_curve = $12, signature_algorithm = $13, fingerprint_sha256 = $14, \
             is_ca = $15, has_private_key = $16, chain_length = $17, chain_complete = $18, \
             chain_issues = $19, x509_version = $20, updated_at = $21, version_at = $22 WHERE id = $1",
        )
        .bind(rec.id.to_string())
        .bind(i64::from(rec.current_version))
        .bind(i.subject.as_str())
        .bind(i.issuer.as_str())
        .bind(i.serial.as_str())
        .bind(json_text(&i.domains)?)
        .bind(json_text(&i.ip_addresses)?)
        .bind(ts(i.not_before))
        .bind(ts(i.not_after))
        .bind(i.key_algorithm.as_str())
        .bind(i.key_size.map(i64::from))
        .bind(i.key_curve.clone())
        .bind(i.signature_algorithm.as_str())
        .bind(i.fingerprint_sha256.as_str())
        .bind(bool_to_i64(i.is_ca))
        .bind(bool_to_i64(rec.has_private_key))
        .bind(i64::from(rec.chain_length))
        .bind(bool_to_i64(rec.chain_complete))
        .bind(json_text(&rec.chain_issues)?)
        .bind(i64::from(i.x509_version))
        .bind(ts(rec.updated_at))
        .bind(ts(version.created_at))
        .execute(&mut **tx)
        .await?;
        self.write_search(tx, rec).await
    }

    async fn write_search(&self, tx: &mut WriteTx, rec: &CertificateRecord) -> Result<()> {
        sqlx::query("UPDATE certificate_search SET text = $2 WHERE cert_id = $1")
            .bind(rec.id.to_string())
            .bind(search_text(&rec.name, &rec.info))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Rewrite the editable metadata (name, description, group, labels) of an entry.
    pub async fn certificate_update_metadata(
        &self,
        tx: &mut WriteTx,
        rec: &CertificateRecord,
    ) -> Result<()> {
        let id = rec.id.to_string();
        sqlx::query(
            "UPDATE certificates SET name = $2, description = $3, group_name = $4, labels = $5, \
             updated_at = $6 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(rec.name.as_str())
        .bind(rec.description.as_str())
        .bind(rec.group.clone())
        .bind(json_text(&rec.labels)?)
        .bind(ts(rec.updated_at))
        .execute(&mut **tx)
        .await?;
        self.write_search(tx, rec).await?;
        self.write_labels(tx, &id, &rec.labels, false).await
    }

    pub async fn certificate_set_deleted(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
        deleted_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("UPDATE certificates SET deleted_at = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(deleted_at.map(ts))
            .bind(ts(now))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Remove an entry, its versions, keys and labels for good.
    pub async fn certificate_purge(&self, tx: &mut WriteTx, id: Uuid) -> Result<()> {
        let id = id.to_string();
        for sql in [
            "DELETE FROM certificate_labels WHERE cert_id = $1",
            "DELETE FROM certificate_search WHERE cert_id = $1",
            "DELETE FROM certificate_versions WHERE cert_id = $1",
            "DELETE FROM notification_certificates WHERE cert_id = $1",
            "DELETE FROM certificates WHERE id = $1",
        ] {
            sqlx::query(sql)
                .bind(id.as_str())
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Ids of entries soft-deleted before `before`, oldest first.
    pub async fn certificate_deleted_before(
        &self,
        before: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<Uuid>> {
        let rows = sqlx::query(
            "SELECT id FROM certificates WHERE deleted_at IS NOT NULL AND deleted_at < $1 ORDER BY deleted_at, id LIMIT $2",
        )
        .bind(ts(before))
        .bind(i64::from(limit))
        .fetch_all(self.reader())
        .await?;
        rows.iter()
            .map(|r| parse_uuid(&r.try_get::<String, _>(0)?))
            .collect()
    }

    pub async fn certificate_get(&self, id: Uuid) -> Result<Option<CertificateRecord>> {
        let sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(cert_from_row).transpose()
    }

    /// Read an entry inside a write transaction, locking it where the backend needs that.
    pub async fn certificate_get_for_update(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
    ) -> Result<Option<CertificateRecord>> {
        let sql = format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1{}",
            self.for_update()
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await?;
        row.as_ref().map(cert_from_row).transpose()
    }

    pub async fn certificate_versions(&self, id: Uuid) -> Result<Vec<VersionRecord>> {
        let rows = sqlx::query(
            "SELECT cert_id, version, leaf_der, chain_der, metadata, created_at, created_by, \
             CAST(CASE WHEN key_sealed IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_key \
             FROM certificate_versions WHERE cert_id = $1 ORDER BY version",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await?;
        rows.iter().map(|r| version_from_row(r, false)).collect()
    }

    /// One version with its sealed key.
    pub async fn certificate_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> Result<Option<VersionRecord>> {
        let row = sqlx::query(
            "SELECT cert_id, version, leaf_der, chain_der, metadata, key_sealed, created_at, created_by, \
             CAST(CASE WHEN key_sealed IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_key \
             FROM certificate_versions WHERE cert_id = $1 AND version = $2",
        )
        .bind(id.to_string())
        .bind(i64::from(version))
        .fetch_optional(self.reader())
        .await?;
        row.as_ref().map(|r| version_from_row(r, true)).transpose()
    }

    /// One page of entries matching `f`, in `f.order`, starting after `f.after`.
    pub async fn certificate_list(&self, f: &CertificateFilter) -> Result<Vec<CertificateRecord>> {
        let drive = self.list_drive(f).await?;
        if drive == Drive::Nothing {
            return Ok(Vec::new());
        }
        let (mut sql, mut binds) = filter_sql(CERT_COLUMNS, f, self.backend(), &drive);
        let push = |binds: &mut Vec<Bind>, b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        let (col, dir, cmp) = match f.order {
            ListOrder::NotAfterAsc => ("not_after", "ASC", ">"),
            ListOrder::NotAfterDesc => ("not_after", "DESC", "<"),
            ListOrder::NameAsc => ("name", "ASC", ">"),
            ListOrder::NameDesc => ("name", "DESC", "<"),
        };
        if let Some((key, id)) = &f.after {
            let pk = match key {
                CursorKey::Time(t) => push(&mut binds, Bind::Int(*t)),
                CursorKey::Text(s) => push(&mut binds, Bind::Text(s.clone())),
            };
            let pid = push(&mut binds, Bind::Text(id.clone()));
            sql.push_str(&format!(" AND ({col}, id) {cmp} ({pk}, {pid})"));
        }
        let plimit = push(&mut binds, Bind::Int(i64::from(f.limit)));
        sql.push_str(&format!(" ORDER BY {col} {dir}, id {dir} LIMIT {plimit}"));
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
            .fetch_all(self.reader())
            .await?;
        rows.iter().map(cert_from_row).collect()
    }

    /// How a listing of live entries finds its rows on SQLite, which keeps no statistics and
    /// cannot tell a rare filter value from a common one: each key type, issuer and label filter
    /// counts its matches (at most [`RARE_MATCHES`]) on its own index, and the rarest one below
    /// that bound drives the query. PostgreSQL plans this itself from its statistics, except
    /// for the issuer substring (below).
    async fn list_drive(&self, f: &CertificateFilter) -> Result<Drive> {
        if f.deleted {
            return Ok(Drive::InOrder);
        }
        if self.backend() != super::Backend::Sqlite {
            // PostgreSQL judges key types and labels from its statistics, but a substring
            // (`LOWER(issuer) LIKE '%…%'`) scans the table; given the matching issuers
            // (`issuer IN (…)`) it chooses between their index and the walk itself.
            if let Some(needle) = &f.issuer
                && let Some(issuers) = self.issuers_containing(needle).await?
            {
                return Ok(if issuers.is_empty() {
                    Drive::Nothing
                } else {
                    Drive::Issuers(issuers)
                });
            }
            return Ok(Drive::InOrder);
        }
        let mut best: Option<(i64, Drive)> = None;
        let mut consider = |count: i64, drive: Drive| {
            if count < RARE_MATCHES && best.as_ref().is_none_or(|(c, _)| count < *c) {
                best = Some((count, drive));
            }
        };
        if let Some(k) = &f.key_algorithm {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM certificates INDEXED BY certificates_live_key_algorithm \
                 WHERE deleted_at IS NULL AND key_algorithm = $1 LIMIT $2) t",
            )
            .bind(k.as_str())
            .bind(RARE_MATCHES)
            .fetch_one(self.reader())
            .await?;
            consider(n, Drive::KeyAlgorithm);
        }
        if let Some(needle) = &f.issuer
            && let Some(issuers) = self.issuers_containing(needle).await?
        {
            let n = if issuers.is_empty() {
                0
            } else {
                let params: Vec<String> = (2..issuers.len() + 2).map(|i| format!("${i}")).collect();
                let sql = format!(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM certificates INDEXED BY certificates_live_issuer \
                     WHERE deleted_at IS NULL AND issuer IN ({}) LIMIT $1) t",
                    params.join(", ")
                );
                let mut q = sqlx::query_scalar(AssertSqlSafe(sql)).bind(RARE_MATCHES);
                for i in &issuers {
                    q = q.bind(i.as_str());
                }
                q.fetch_one(self.reader()).await?
            };
            consider(n, Drive::Issuers(issuers));
        }
        for (i, l) in f.labels.iter().enumerate() {
            // Labels of deleted entries are counted too: an upper bound is enough to choose.
            let n: i64 = match &l.value {
                Some(v) => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM certificate_labels \
                     WHERE key = $1 AND value = $2 LIMIT $3) t",
                )
                .bind(l.key.as_str())
                .bind(v.as_str())
                .bind(RARE_MATCHES),
                None => sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM certificate_labels WHERE key = $1 LIMIT $2) t",
                )
                .bind(l.key.as_str())
                .bind(RARE_MATCHES),
            }
            .fetch_one(self.reader())
            .await?;
            consider(n, Drive::Label(i));
        }
        Ok(match best {
            Some((0, _)) => Drive::Nothing,
            Some((_, d)) => d,
            None => Drive::InOrder,
        })
    }

    /// The distinct issuers of live entries that contain `needle` (lowercased), read value by
    /// value from the issuer index; `None` when there are more than [`MAX_DISTINCT_ISSUERS`]
    /// issuers (then hopping from value to value costs more than the walk it would save).
    async fn issuers_containing(&self, needle: &str) -> Result<Option<Vec<String>>> {
        let index = if self.backend() == super::Backend::Sqlite {
            " INDEXED BY certificates_live_issuer"
        } else {
            ""
        };
        let sql = format!(
            "WITH RECURSIVE d(v, n) AS ( \
                 SELECT (SELECT issuer FROM certificates{index} \
                         WHERE deleted_at IS NULL ORDER BY issuer LIMIT 1), 1 \
                 UNION ALL \
                 SELECT (SELECT issuer FROM certificates{index} \
                         WHERE deleted_at IS NULL AND issuer > d.v ORDER BY issuer LIMIT 1), n + 1 \
                 FROM d WHERE d.v IS NOT NULL AND d.n <= $2) \
             SELECT v, CAST(CASE WHEN LOWER(v) LIKE $1 ESCAPE '\\' THEN 1 ELSE 0 END AS BIGINT) AS m \
             FROM d WHERE v IS NOT NULL"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(escape_like(needle))
            .bind(MAX_DISTINCT_ISSUERS)
            .fetch_all(self.reader())
            .await?;
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) > MAX_DISTINCT_ISSUERS {
            return Ok(None);
        }
        let mut out = Vec::new();
        for r in &rows {
            if r.try_get::<i64, _>(1)? != 0 {
                out.push(r.try_get::<String, _>(0)?);
            }
        }
        Ok(Some(out))
    }

    /// What the expiry sweep needs to decide (id, version, validity) of every entry matching
    /// `f`, all of them in no particular order (order, cursor and limit of `f` are ignored).
    ///
    /// A first sweep reads half a million rows. Each comes back packed into one text (`id
    /// version not_before not_after version_at`) and each page of them joined by the database
    /// into one value: decoding rows through sqlx cost ~4 µs a row, six times what SQLite
    /// takes to read and pack them (BENCHMARKS.md, "Expiry sweep"). Pages, in `(not_after, id)`
    /// or `(version_at, id)` order, keep each joined value small whatever the inventory's size.
    pub async fn certificate_due_candidates(
        &self,
        f: &CertificateFilter,
    ) -> Result<Vec<DueCandidate>> {
        self.certificate_due_candidates_paged(f, DUE_PAGE).await
    }

    /// [`Store::certificate_due_candidates`], reading `page` rows a query.
    pub async fn certificate_due_candidates_paged(
        &self,
        f: &CertificateFilter,
        page: u32,
    ) -> Result<Vec<DueCandidate>> {
        // SQLite has no statistics and would pick the narrowest index on not_after, which then
        // reads every row from the table; the expiry indexes carry every column read here.
        let by_expiry = f.not_after_min.is_some()
            || f.not_after_max_excl.is_some()
            || f.percent_window.is_some();
        let drive = if by_expiry && f.version_after.is_none() {
            Drive::Expiry
        } else {
            Drive::InOrder
        };
        let sqlite = self.backend() == super::Backend::Sqlite;
        // Byte order for the id tie-break, as Rust compares the last one read.
        let (join, id_order) = if sqlite {
            ("group_concat", "id")
        } else {
            ("string_agg", "id COLLATE \"C\"")
        };
        // Pages follow the index the query walks: expiry, or for versions stored in a window
        // the time they were stored (sorting a million newly imported entries by expiry for
        // each page took SQLite 4 s a page).
        let (key, key_of): (&str, fn(&DueCandidate) -> i64) = if f.version_after.is_none() {
            ("not_after", |c| c.not_after.unix_timestamp())
        } else {
            ("version_at", |c| c.version_at.unix_timestamp())
        };
        let mut out = Vec::new();
        let mut after: Option<(i64, String)> = None;
        loop {
            let (mut sql, mut binds) = filter_sql(
                "id || ' ' || current_version || ' ' || not_before || ' ' || not_after || ' ' || version_at AS packed",
                f,
                self.backend(),
                &drive,
            );
            if let Some((at, id)) = &after {
                binds.push(Bind::Int(*at));
                let t = binds.len();
                binds.push(Bind::Text(id.clone()));
                let i = binds.len();
                sql.push_str(&format!(
                    " AND {key} >= ${t} AND ({key} > ${t} OR {id_order} > ${i})"
                ));
            }
            let sql = format!(
                "SELECT {join}(packed, ','), COUNT(*) FROM ({sql} ORDER BY {key}, {id_order} LIMIT {page}) page"
            );
            let row = bind_all(sqlx::query(AssertSqlSafe(sql)), binds)
                .fetch_one(self.reader())
                .await?;
            let joined: Option<String> = row.try_get(0)?;
            let count: i64 = row.try_get(1)?;
            let mut last: Option<(i64, &str)> = None;
            for packed in joined.as_deref().unwrap_or_default().split_terminator(',') {
                let (c, id) = due_candidate(packed)?;
                let k = (key_of(&c), id);
                if last.is_none_or(|l| l < k) {
                    last = Some(k);
                }
                out.push(c);
            }
            match last {
                Some((t, id)) if count >= i64::from(page) => after = Some((t, id.to_string())),
                _ => return Ok(out),
            }
        }
    }

    /// Entries by id (any order; missing ids are left out).
    pub async fn certificates_by_ids(&self, ids: &[Uuid]) -> Result<Vec<CertificateRecord>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {CERT_COLUMNS} FROM certificates WHERE id IN ({})",
                params.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.to_string());
            }
            for r in q.fetch_all(self.reader()).await? {
                out.push(cert_from_row(&r)?);
            }
        }
        Ok(out)
    }
}

/// Entries matching fewer than this many live entries drive a listing from their own index
/// (and SQLite sorts them); values that match more fill a page quickly in sort order (one in
/// 500 of 1,000,000).
const RARE_MATCHES: i64 = 2_000;
/// Issuers read from the issuer index to find those containing a substring.
const MAX_DISTINCT_ISSUERS: i64 = 1_000;

/// Candidate rows the expiry sweep reads per query.
const DUE_PAGE: u32 = 100_000;

/// Where a listing starts (see [`Store::list_drive`]; PostgreSQL only uses `Issuers` and
/// `Nothing`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Drive {
    /// Walk the index of the sort order (or of the group), filtering on the way.
    InOrder,
    /// The entries of the filtered key type.
    KeyAlgorithm,
    /// The entries of these issuers (those containing the issuer filter).
    Issuers(Vec<String>),
    /// The entries holding the label filter at this position.
    Label(usize),
    /// Some filter matches no live entry.
    Nothing,
    /// The expiry index carrying what the sweep reads (of the scope group if the filter has
    /// one).
    Expiry,
}

/// A due candidate from its packed row `id version not_before not_after version_at`, and its
/// id as read.
fn due_candidate(packed: &str) -> Result<(DueCandidate, &str)> {
    let bad = || Error::Internal(format!("unexpected sweep candidate row {packed:?}"));
    let mut parts = packed.split(' ');
    let mut next = || parts.next().ok_or_else(bad);
    let id_text = next()?;
    let id = parse_uuid(id_text)?;
    let mut int = |what: &str| -> Result<i64> {
        next()?
            .parse::<i64>()
            .map_err(|e| Error::Internal(format!("sweep candidate {id}: {what}: {e}")))
    };
    let version = to_u32("current_version", int("current_version")?)?;
    let not_before = from_ts(int("not_before")?)?;
    let not_after = from_ts(int("not_after")?)?;
    let version_at = from_ts(int("version_at")?)?;
    let candidate = DueCandidate {
        id,
        version,
        not_before,
        not_after,
        version_at,
    };
    Ok((candidate, id_text))
}

/// `SELECT columns FROM certificates c WHERE <every condition of f>` and its bind values.
fn filter_sql(
    columns: &str,
    f: &CertificateFilter,
    backend: super::Backend,
    drive: &Drive,
) -> (String, Vec<Bind>) {
    let sqlite = backend == super::Backend::Sqlite;
    let index = match drive {
        _ if !sqlite => "",
        Drive::KeyAlgorithm => " INDEXED BY certificates_live_key_algorithm",
        Drive::Issuers(_) => " INDEXED BY certificates_live_issuer",
        Drive::Expiry if f.scope_group.is_some() => " INDEXED BY certificates_group_not_after",
        Drive::Expiry => " INDEXED BY certificates_live_not_after",
        Drive::InOrder | Drive::Label(_) | Drive::Nothing => "",
    };
    let mut sql = format!("SELECT {columns} FROM certificates c{index} WHERE ");
    let mut binds: Vec<Bind> = Vec::new();
    let push = |binds: &mut Vec<Bind>, b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    sql.push_str(if f.deleted {
        "deleted_at IS NOT NULL"
    } else {
        "deleted_at IS NULL"
    });
    if let Some(g) = &f.scope_group {
        let p = push(&mut binds, Bind::Text(g.clone()));
        sql.push_str(&format!(" AND group_name = {p}"));
    }
    if let Some(g) = &f.group {
        let p = push(&mut binds, Bind::Text(g.clone()));
        sql.push_str(&format!(" AND group_name = {p}"));
    }
    // Substring search over the narrow certificate_search table: PostgreSQL answers it from
    // its pg_trgm index; SQLite scans it (an FTS5 trigram index there cost the single
    // writer 40–50 µs a row and cut bulk imports from 7,000/s to 2,800/s; BENCHMARKS.md).
    if let Some(t) = &f.text {
        let p = push(&mut binds, Bind::Text(escape_like(t)));
        sql.push_str(&format!(
            " AND c.id IN (SELECT cert_id FROM certificate_search WHERE text LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(t) = &f.issuer {
        let p = push(&mut binds, Bind::Text(escape_like(t)));
        sql.push_str(&format!(" AND LOWER(issuer) LIKE {p} ESCAPE '\\'"));
    }
    if let Drive::Issuers(issuers) = drive {
        let params: Vec<String> = issuers
            .iter()
            .map(|i| push(&mut binds, Bind::Text(i.clone())))
            .collect();
        sql.push_str(&format!(" AND issuer IN ({})", params.join(", ")));
    }
    if let Some(k) = &f.key_algorithm {
        let p = push(&mut binds, Bind::Text(k.clone()));
        // Unless the key type drives, a unary plus keeps SQLite (no statistics) from starting
        // at the key type index and sorting most of the inventory for a common type.
        let col = if sqlite && *drive != Drive::KeyAlgorithm {
            "+key_algorithm"
        } else {
            "key_algorithm"
        };
        sql.push_str(&format!(" AND {col} = {p}"));
    }
    for (i, l) in f.labels.iter().enumerate() {
        let pk = push(&mut binds, Bind::Text(l.key.clone()));
        if *drive == Drive::Label(i) {
            // A rare label: start from its entries in certificate_labels (key, value).
            let value = match &l.value {
                Some(v) => {
                    let pv = push(&mut binds, Bind::Text(v.clone()));
                    format!(" AND value = {pv}")
                }
                None => String::new(),
            };
            sql.push_str(&format!(
                " AND c.id IN (SELECT cert_id FROM certificate_labels WHERE key = {pk}{value})"
            ));
            continue;
        }
        match &l.value {
            Some(v) => {
                let pv = push(&mut binds, Bind::Text(v.clone()));
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM certificate_labels l WHERE l.cert_id = c.id AND l.key = {pk} AND l.value = {pv})"
                ));
            }
            None => sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM certificate_labels l WHERE l.cert_id = c.id AND l.key = {pk})"
            )),
        }
    }
    for (col, op, v) in [
        ("not_after", ">=", f.not_after_min),
        ("not_after", "<", f.not_after_max_excl),
        ("not_before", "<=", f.not_before_max),
        ("not_before", ">", f.not_before_min_excl),
    ] {
        if let Some(v) = v {
            let p = push(&mut binds, Bind::Int(v));
            sql.push_str(&format!(" AND {col} {op} {p}"));
        }
    }
    if let Some(v) = f.version_after {
        let p = push(&mut binds, Bind::Int(v));
        sql.push_str(&format!(" AND version_at > {p}"));
    }
    if let Some(v) = f.version_until {
        let p = push(&mut binds, Bind::Int(v));
        // Alone it is a filter on rows found by expiry (a unary plus keeps SQLite, which has
        // no statistics, from scanning the version_at index instead).
        let col = if f.version_after.is_some() {
            "version_at"
        } else {
            "+version_at"
        };
        sql.push_str(&format!(" AND {col} <= {p}"));
    }
    if let Some(w) = f.percent_window {
        let pct = push(&mut binds, Bind::Int(i64::from(w.percent)));
        let now = push(&mut binds, Bind::Int(w.now));
        sql.push_str(&format!(
            " AND not_after >= {now} AND (not_after - {now}) * 100 <= (not_after - not_before) * {pct}"
        ));
        if let Some(a) = w.after {
            let after = push(&mut binds, Bind::Int(a));
            sql.push_str(&format!(
                " AND (not_after - {after}) * 100 > (not_after - not_before) * {pct}"
            ));
        }
    }
    (sql, binds)
}

fn bind_all(
    mut q: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments> {
    for b in binds {
        q = match b {
            Bind::Int(v) => q.bind(v),
            Bind::Text(s) => q.bind(s),
        };
    }
    q
}
