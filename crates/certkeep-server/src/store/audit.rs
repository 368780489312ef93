//! Rows of the append-only audit log and its chain head. The hashing lives in `audit/`.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, WriteTx};
use crate::error::{Error, Result};

/// An audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: i64,
    pub time_ms: i64,
    pub token_id: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub request_id: String,
    pub detail: String,
    pub hash: String,
}

fn audit_from_row(row: &AnyRow) -> Result<AuditRow> {
    Ok(AuditRow {
        seq: row.try_get("seq")?,
        time_ms: row.try_get("time_ms")?,
        token_id: row.try_get("token_id")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        outcome: row.try_get("outcome")?,
        request_id: row.try_get("request_id")?,
        detail: row.try_get("detail")?,
        hash: row.try_get("hash")?,
    })
}

/// Which audit events to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    pub after: i64,
    /// Only events with `seq` below this.
    pub before: Option<i64>,
    /// Newest first instead of oldest first.
    pub descending: bool,
    pub limit: u32,
    pub action: Option<&'a str>,
    pub target: Option<&'a str>,
    pub token_id: Option<&'a str>,
    /// Unix milliseconds, inclusive.
    pub since_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    pub until_ms: Option<i64>,
}

const AUDIT_COLUMNS: &str =
    "seq, time_ms, token_id, action, target, outcome, request_id, detail, hash";

impl Store {
    /// The chain head (last seq and hash), locked for the rest of the transaction.
    pub async fn audit_head_lock(&self, tx: &mut WriteTx) -> Result<(i64, String)> {
        let sql = format!(
            "SELECT seq, hash FROM audit_head WHERE id = 1{}",
            self.for_update()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| Error::Internal("audit_head row is missing".into()))?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(self.reader())
            .await?
            .ok_or_else(|| Error::Internal("audit_head row is missing".into()))?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Insert `rows` (consecutive, in order) and move the head to the last one.
    pub async fn audit_insert_many(&self, tx: &mut WriteTx, rows: &[AuditRow]) -> Result<()> {
        let Some(last) = rows.last() else {
            return Ok(());
        };
        for ev in rows {
            sqlx::query(
                "INSERT INTO audit_events (seq, time_ms, token_id, action, target, outcome, request_id, detail, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(ev.seq)
            .bind(ev.time_ms)
            .bind(ev.token_id.clone())
            .bind(ev.action.as_str())
            .bind(ev.target.clone())
            .bind(ev.outcome.as_str())
            .bind(ev.request_id.as_str())
            .bind(ev.detail.as_str())
            .bind(ev.hash.as_str())
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(last.seq)
            .bind(last.hash.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Events with `seq > after`, ascending, optionally filtered by action and target.
    pub async fn audit_list(
        &self,
        after: i64,
        limit: u32,
        action: Option<&str>,
        target: Option<&str>,
    ) -> Result<Vec<AuditRow>> {
        self.audit_search(&AuditFilter {
            after,
            limit,
            action,
            target,
            ..AuditFilter::default()
        })
        .await
    }

    /// Events with `f.after < seq < f.before`, ascending (or descending), matching every
    /// filter given.
    pub async fn audit_search(&self, f: &AuditFilter<'_>) -> Result<Vec<AuditRow>> {
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE seq > $1");
        let mut n = 1;
        let mut clause = |sql: &mut String, cond: &str| {
            n += 1;
            sql.push_str(&format!(" AND {cond} ${n}"));
        };
        if f.before.is_some() {
            clause(&mut sql, "seq <");
        }
        if f.action.is_some() {
            clause(&mut sql, "action =");
        }
        if f.target.is_some() {
            clause(&mut sql, "target =");
        }
        if f.token_id.is_some() {
            clause(&mut sql, "token_id =");
        }
        if f.since_ms.is_some() {
            clause(&mut sql, "time_ms >=");
        }
        if f.until_ms.is_some() {
            clause(&mut sql, "time_ms <");
        }
        let direction = if f.descending { "DESC" } else { "ASC" };
        sql.push_str(&format!(" ORDER BY seq {direction} LIMIT ${}", n + 1));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(f.after);
        if let Some(before) = f.before {
            q = q.bind(before);
        }
        for text in [f.action, f.target, f.token_id].into_iter().flatten() {
            q = q.bind(text);
        }
        for ms in [f.since_ms, f.until_ms].into_iter().flatten() {
            q = q.bind(ms);
        }
        let rows = q.bind(i64::from(f.limit)).fetch_all(self.reader()).await?;
        rows.iter().map(audit_from_row).collect()
    }
}
