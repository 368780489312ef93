//! The dashboard's counts: range counts over the narrow `(group_name?, not_after, not_before)`
//! indexes of live entries, so they read index pages only, never table rows. Cost grows with
//! the index, not with the width of the rows: about 1,000,000 entries in tens of milliseconds.

use sqlx::{AssertSqlSafe, Row};

use super::Store;
use crate::error::Result;

/// Live entries by status at one instant, and expiries per week after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiryCounts {
    pub expired: i64,
    pub expiring: i64,
    pub valid: i64,
    pub not_yet_valid: i64,
    /// `weeks[i]`: entries (not yet valid ones included) expiring in `[now + i weeks, now + i+1 weeks)`.
    pub weeks: Vec<i64>,
}

const WEEK: i64 = 7 * 24 * 3600;

impl Store {
    /// Counts at Unix time `now` with an expiring window ending at `window_end`, over `weeks`
    /// weeks; only entries of `group` when given.
    pub async fn certificate_expiry_counts(
        &self,
        group: Option<&str>,
        now: i64,
        window_end: i64,
        weeks: u32,
    ) -> Result<ExpiryCounts> {
        // The group, when given, is the last parameter: PostgreSQL refuses unused ones.
        let scope = if group.is_some() {
            "deleted_at IS NULL AND group_name = $3"
        } else {
            "deleted_at IS NULL"
        };
        let horizon = now.saturating_add(WEEK.saturating_mul(i64::from(weeks)));
        // One statement, so every count sees the same snapshot. Each subquery is a range on
        // not_after; the not_before test is answered from the same index entry.
        let sql = format!(
            "SELECT \
             (SELECT COUNT(*) FROM certificates WHERE {scope} AND not_after < $1) AS expired, \
             (SELECT COUNT(*) FROM certificates WHERE {scope} AND not_after >= $1 AND not_after < $2 AND not_before <= $1) AS expiring, \
             (SELECT COUNT(*) FROM certificates WHERE {scope} AND not_after >= $2 AND not_before <= $1) AS valid, \
             (SELECT COUNT(*) FROM certificates WHERE {scope} AND not_after >= $1 AND not_before > $1) AS not_yet_valid"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(window_end);
        if let Some(g) = group {
            q = q.bind(g);
        }
        let row = q.fetch_one(self.reader()).await?;
        let mut counts = ExpiryCounts {
            expired: row.try_get("expired")?,
            expiring: row.try_get("expiring")?,
            valid: row.try_get("valid")?,
            not_yet_valid: row.try_get("not_yet_valid")?,
            weeks: vec![0; weeks as usize],
        };
        let sql = format!(
            "SELECT (not_after - $1) / {WEEK} AS week, COUNT(*) AS n FROM certificates \
             WHERE {scope} AND not_after >= $1 AND not_after < $2 GROUP BY 1"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(horizon);
        if let Some(g) = group {
            q = q.bind(g);
        }
        for r in q.fetch_all(self.reader()).await? {
            let week: i64 = r.try_get("week")?;
            let n: i64 = r.try_get("n")?;
            if let Some(slot) = usize::try_from(week)
                .ok()
                .and_then(|w| counts.weeks.get_mut(w))
            {
                *slot = n;
            }
        }
        Ok(counts)
    }
}
