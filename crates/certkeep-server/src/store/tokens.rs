//! API tokens: only the SHA-256 of the secret is stored.

use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, WriteTx, from_ts, parse_uuid, ts};
use crate::error::{Error, Result};
use certkeep_api::Role;

#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: Uuid,
    pub name: String,
    pub token_hash: String,
    pub prefix: String,
    pub role: Role,
    pub group: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub created_by: Option<Uuid>,
}

const TOKEN_COLUMNS: &str = "id, name, token_hash, prefix, role, group_name, created_at, expires_at, revoked_at, last_used_at, created_by";

fn token_from_row(row: &AnyRow) -> Result<TokenRecord> {
    let role: String = row.try_get("role")?;
    let opt_ts = |col: &str| -> Result<Option<OffsetDateTime>> {
        let v: Option<i64> = row.try_get(col)?;
        v.map(from_ts).transpose()
    };
    let created_by: Option<String> = row.try_get("created_by")?;
    Ok(TokenRecord {
        id: parse_uuid(&row.try_get::<String, _>("id")?)?,
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        prefix: row.try_get("prefix")?,
        role: Role::parse(&role)
            .ok_or_else(|| Error::Internal(format!("stored token role {role:?} is unknown")))?,
        group: row.try_get("group_name")?,
        created_at: from_ts(row.try_get("created_at")?)?,
        expires_at: opt_ts("expires_at")?,
        revoked_at: opt_ts("revoked_at")?,
        last_used_at: opt_ts("last_used_at")?,
        created_by: created_by.as_deref().map(parse_uuid).transpose()?,
    })
}

impl Store {
    pub async fn token_insert(&self, tx: &mut WriteTx, t: &TokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, prefix, role, group_name, created_at, expires_at, revoked_at, last_used_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9)",
        )
        .bind(t.id.to_string())
        .bind(t.name.as_str())
        .bind(t.token_hash.as_str())
        .bind(t.prefix.as_str())
        .bind(t.role.as_str())
        .bind(t.group.clone())
        .bind(ts(t.created_at))
        .bind(t.expires_at.map(ts))
        .bind(t.created_by.map(|u| u.to_string()))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let sql = "SELECT id, name, token_hash, prefix, role, group_name, created_at, expires_at, revoked_at, last_used_at, created_by FROM api_tokens WHERE token_hash = $1";
        let row = sqlx::query(sql)
            .bind(hash)
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    pub async fn token_get(&self, id: Uuid) -> Result<Option<TokenRecord>> {
        let sql = "SELECT id, name, token_hash, prefix, role, group_name, created_at, expires_at, revoked_at, last_used_at, created_by FROM api_tokens WHERE id = $1";
        let row = sqlx::query(sql)
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// All tokens, or those of one group, newest first.
    pub async fn token_list(&self, group: Option<&str>) -> Result<Vec<TokenRecord>> {
        let rows = match group {
            Some(g) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE group_name = $1 ORDER BY created_at DESC, id"
                )))
                .bind(g)
                .fetch_all(self.reader())
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC, id"
                )))
                .fetch_all(self.reader())
                .await?
            }
        };
        rows.iter().map(token_from_row).collect()
    }

    pub async fn token_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM api_tokens")
            .fetch_one(self.reader())
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    pub async fn token_revoke(
        &self,
        tx: &mut WriteTx,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id.to_string())
            .bind(ts(now))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Record use; coarse (callers skip it when the last record is recent) to spare writes.
    pub async fn token_touch(&self, tx: &mut WriteTx, id: Uuid, now: OffsetDateTime) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(ts(now))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
