//! Web UI sessions: the SHA-256 of the cookie secret, the sealed API token it stands for, the
//! CSRF token of its forms, and when it ends.

use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Store, WriteTx, from_ts, parse_uuid, ts};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id_hash: String,
    pub token_id: Uuid,
    pub bearer_sealed: Vec<u8>,
    pub csrf: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

impl Store {
    pub async fn session_insert(&self, tx: &mut WriteTx, s: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO ui_sessions (id_hash, token_id, bearer_sealed, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(s.id_hash.as_str())
        .bind(s.token_id.to_string())
        .bind(s.bearer_sealed.clone())
        .bind(s.csrf.as_str())
        .bind(ts(s.created_at))
        .bind(ts(s.expires_at))
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub async fn session_get(&self, id_hash: &str) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(
            "SELECT id_hash, token_id, bearer_sealed, csrf, created_at, expires_at \
             FROM ui_sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(self.reader())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let token_id: String = row.try_get("token_id")?;
        Ok(Some(SessionRecord {
            id_hash: row.try_get("id_hash")?,
            token_id: parse_uuid(&token_id)?,
            bearer_sealed: row.try_get("bearer_sealed")?,
            csrf: row.try_get("csrf")?,
            created_at: from_ts(row.try_get("created_at")?)?,
            expires_at: from_ts(row.try_get("expires_at")?)?,
        }))
    }

    pub async fn session_delete(&self, tx: &mut WriteTx, id_hash: &str) -> Result<u64> {
        let r = sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected())
    }

    /// End every session of a token (revoked or expired).
    pub async fn session_delete_for_token(&self, tx: &mut WriteTx, token_id: Uuid) -> Result<u64> {
        let r = sqlx::query("DELETE FROM ui_sessions WHERE token_id = $1")
            .bind(token_id.to_string())
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected())
    }

    /// Forget sessions that ended at or before `now`.
    pub async fn session_prune(&self, tx: &mut WriteTx, now: OffsetDateTime) -> Result<u64> {
        let r = sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
            .bind(ts(now))
            .execute(&mut **tx)
            .await?;
        Ok(r.rows_affected())
    }
}
