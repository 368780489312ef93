//! The dashboard's counts, as range counts over indexes of live entries that never touch the
//! table rows: the not_after line is cut at now, at every week boundary and at the end of the
//! expiring window, each piece counted once (so the whole index is walked once, about 25 ms for
//! 1,000,000 entries on SQLite), and the few not-yet-valid entries are counted on a partial
//! index and taken out of the status they would otherwise fall in.

use std::fmt::Write as _;

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
    /// Counts at Unix time `now` with an expiring window ending at `window_end` (> `now`), over
    /// `weeks` weeks; only entries of `group` when given.
    pub async fn certificate_expiry_counts(
        &self,
        group: Option<&str>,
        now: i64,
        window_end: i64,
        weeks: u32,
    ) -> Result<ExpiryCounts> {
        let mut bounds: Vec<i64> = (0..=i64::from(weeks))
            .map(|w| now.saturating_add(WEEK.saturating_mul(w)))
            .collect();
        bounds.push(window_end.max(now));
        bounds.sort_unstable();
        bounds.dedup();
        let last = bounds.last().copied().unwrap_or(now);
        // The group is the only parameter; the times are integers this function computed.
        let scope = if group.is_some() {
            "deleted_at IS NULL AND group_name = $1"
        } else {
            "deleted_at IS NULL"
        };
        // Not-yet-valid entries are found on the partial index of entries stored before their
        // validity began (`not_before > created_at` names it); the group is tested on those few
        // rows (`|| ''` keeps the planner off the group's not_after index).
        let nyv_scope = if group.is_some() {
            "deleted_at IS NULL AND not_before > created_at AND group_name || '' = $1"
        } else {
            "deleted_at IS NULL AND not_before > created_at"
        };
        // SQLite (no statistics) would count through the sweep's wide expiry index, which is
        // covering too since it carries deleted_at; the narrow one has half the pages to read.
        let table = if group.is_none() && self.backend() == super::Backend::Sqlite {
            "certificates INDEXED BY certificates_live_expiry"
        } else {
            "certificates"
        };
        let count =
            |cond: String| format!("(SELECT COUNT(*) FROM {table} WHERE {scope} AND {cond})");
        let nyv_count = |cond: String| {
            format!("(SELECT COUNT(*) FROM certificates WHERE {nyv_scope} AND {cond})")
        };
        let mut sql = format!(
            "SELECT {} AS expired, {} AS tail, {} AS nyv, {} AS nyv_early",
            count(format!("not_after < {now}")),
            count(format!("not_after >= {last}")),
            // Unary plus keeps the planner off the not_after index for these: the few
            // not-yet-valid entries are found through not_before, never a not_after range.
            nyv_count(format!("not_before > {now} AND +not_after >= {now}")),
            nyv_count(format!(
                "not_before > {now} AND +not_after >= {now} AND +not_after < {window_end}"
            )),
        );
        for (i, pair) in bounds.windows(2).enumerate() {
            let _ = write!(
                sql,
                ", {} AS r{i}",
                count(format!(
                    "not_after >= {} AND not_after < {}",
                    pair[0], pair[1]
                ))
            );
        }
        let mut q = sqlx::query(AssertSqlSafe(sql));
        if let Some(g) = group {
            q = q.bind(g);
        }
        let row = q.fetch_one(self.reader()).await?;
        let nyv: i64 = row.try_get("nyv")?;
        let nyv_early: i64 = row.try_get("nyv_early")?;
        let mut counts = ExpiryCounts {
            expired: row.try_get("expired")?,
            expiring: -nyv_early,
            valid: row.try_get::<i64, _>("tail")? - (nyv - nyv_early),
            not_yet_valid: nyv,
            weeks: vec![0; weeks as usize],
        };
        for (i, pair) in bounds.windows(2).enumerate() {
            let n: i64 = row.try_get(format!("r{i}").as_str())?;
            if pair[1] <= window_end {
                counts.expiring += n;
            } else {
                counts.valid += n;
            }
            let week = (pair[0] - now) / WEEK;
            if let Some(slot) = usize::try_from(week)
                .ok()
                .and_then(|w| counts.weeks.get_mut(w))
            {
                *slot += n;
            }
        }
        Ok(counts)
    }
}

impl Store {
    /// Live certificates ordered through certkeep whose latest renewal attempts failed; only
    /// entries of `group` when given.
    pub async fn renewal_failing_count(&self, group: Option<&str>) -> Result<i64> {
        // Driven from the few failing renewals: as a join, SQLite (no statistics) walked all
        // live certificates and looked each up in acme_certificates (~150 ms at 1,000,000).
        let sql = if group.is_some() {
            "SELECT COUNT(*) FROM acme_certificates a WHERE a.failures > 0 AND EXISTS \
             (SELECT 1 FROM certificates c WHERE c.id = a.cert_id AND c.deleted_at IS NULL \
             AND c.group_name = $1)"
        } else {
            "SELECT COUNT(*) FROM acme_certificates a WHERE a.failures > 0 AND EXISTS \
             (SELECT 1 FROM certificates c WHERE c.id = a.cert_id AND c.deleted_at IS NULL)"
        };
        let mut q = sqlx::query(sql);
        if let Some(g) = group {
            q = q.bind(g);
        }
        Ok(q.fetch_one(self.reader()).await?.try_get(0)?)
    }
}
