//! Notification policy as functions of `now`: expiry thresholds (days before expiry, or a share
//! of the certificate's lifetime), which one is due, delivery backoff.

use std::fmt;
use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// When `cert.expiring` is sent: a number of days before `not_after`, or a percentage of the
/// certificate's lifetime before `not_after` (for short-lived certificates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Threshold {
    Days(u32),
    Percent(u32),
}

pub const DEFAULT_THRESHOLDS: [Threshold; 5] = [
    Threshold::Days(90),
    Threshold::Days(60),
    Threshold::Days(30),
    Threshold::Days(10),
    Threshold::Days(1),
];

impl Threshold {
    /// `"30d"` or `"10%"`.
    pub fn parse(s: &str) -> Result<Threshold> {
        let t = s.trim();
        let bad = || {
            Error::InvalidInput(format!(
                "threshold {s:?} is not `<days>d` (1–3650) or `<percent>%` (1–99)"
            ))
        };
        if let Some(d) = t.strip_suffix('d') {
            let n: u32 = d.parse().map_err(|_| bad())?;
            if !(1..=3650).contains(&n) {
                return Err(bad());
            }
            Ok(Threshold::Days(n))
        } else if let Some(p) = t.strip_suffix('%') {
            let n: u32 = p.parse().map_err(|_| bad())?;
            if !(1..=99).contains(&n) {
                return Err(bad());
            }
            Ok(Threshold::Percent(n))
        } else {
            Err(bad())
        }
    }

    /// The moment this threshold is crossed for a certificate valid from `not_before` to
    /// `not_after`.
    pub fn crossed_at(
        self,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> OffsetDateTime {
        match self {
            Threshold::Days(n) => not_after - Duration::days(i64::from(n)),
            Threshold::Percent(p) => {
                let lifetime = (not_after - not_before).max(Duration::ZERO);
                not_after - lifetime * (f64::from(p) / 100.0)
            }
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Days(n) => write!(f, "{n}d"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Parse, deduplicate and order thresholds (days, furthest first, then percentages, largest
/// first); at least one, at most 20.
pub fn parse_thresholds(list: &[String]) -> Result<Vec<Threshold>> {
    if list.is_empty() || list.len() > 20 {
        return Err(Error::InvalidInput(format!(
            "{} thresholds given; give 1 to 20",
            list.len()
        )));
    }
    let mut out = list
        .iter()
        .map(|s| Threshold::parse(s))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|t| match *t {
        Threshold::Days(n) => (0, std::cmp::Reverse(n)),
        Threshold::Percent(p) => (1, std::cmp::Reverse(p)),
    });
    out.dedup();
    Ok(out)
}

/// The most urgent threshold already crossed at `now` for a certificate that has not expired
/// yet: the one a notification is due for (earlier ones are superseded by it).
pub fn due_threshold(
    thresholds: &[Threshold],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
) -> Option<Threshold> {
    if now > not_after {
        return None;
    }
    thresholds
        .iter()
        .copied()
        .map(|t| (t, t.crossed_at(not_before, not_after)))
        .filter(|(_, at)| *at <= now)
        .max_by_key(|(_, at)| *at)
        .map(|(t, _)| t)
}

/// Whole days from `now` to `not_after` (negative once expired), rounded towards zero.
pub fn days_left(not_after: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (not_after - now).whole_days()
}

/// How long a delivery waits after `attempts` failed attempts: exponential from 10 s, capped at
/// one hour, scaled by `jitter` in [0, 1) to between 50 % and 100 % (so retries of many
/// deliveries spread out), and never shorter than the receiver's `Retry-After`.
pub fn retry_delay(attempts: u32, jitter: f64, retry_after: Option<StdDuration>) -> StdDuration {
    let exp = 10u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    let base = exp.min(3600) as f64;
    let delay = StdDuration::from_secs_f64(base * (0.5 + 0.5 * jitter.clamp(0.0, 1.0)));
    match retry_after {
        Some(r) if r > delay => r.min(StdDuration::from_secs(24 * 3600)),
        _ => delay,
    }
}

/// How long a delivery is retried before it is marked failed.
pub const RETRY_FOR: Duration = Duration::hours(24);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn thresholds_parse_and_order() {
        let t =
            parse_thresholds(&["30d".into(), "90d".into(), "10%".into(), "30d".into()]).unwrap();
        assert_eq!(
            t,
            vec![
                Threshold::Days(90),
                Threshold::Days(30),
                Threshold::Percent(10)
            ]
        );
        assert_eq!(Threshold::Days(30).to_string(), "30d");
        assert_eq!(Threshold::Percent(5).to_string(), "5%");
        for bad in ["", "30", "0d", "100%", "x%", "-1d", "3651d"] {
            assert!(Threshold::parse(bad).is_err(), "{bad}");
        }
        assert!(parse_thresholds(&[]).is_err());
    }

    #[test]
    fn the_most_urgent_crossed_threshold_is_due() {
        let nb = datetime!(2026-01-01 0:00 UTC);
        let na = datetime!(2026-12-31 0:00 UTC);
        let t = DEFAULT_THRESHOLDS;
        assert_eq!(
            due_threshold(&t, nb, na, datetime!(2026-09-01 0:00 UTC)),
            None
        );
        assert_eq!(
            due_threshold(&t, nb, na, datetime!(2026-10-02 0:00 UTC)),
            Some(Threshold::Days(90))
        );
        assert_eq!(
            due_threshold(&t, nb, na, datetime!(2026-12-25 0:00 UTC)),
            Some(Threshold::Days(10))
        );
        assert_eq!(
            due_threshold(&t, nb, na, datetime!(2026-12-30 0:00 UTC)),
            Some(Threshold::Days(1))
        );
        assert_eq!(
            due_threshold(&t, nb, na, datetime!(2026-12-31 0:00:01 UTC)),
            None
        );
        // A 7-day certificate with 50 % and 10 % thresholds.
        let na = nb + Duration::days(7);
        let p = [Threshold::Percent(50), Threshold::Percent(10)];
        assert_eq!(due_threshold(&p, nb, na, nb + Duration::days(3)), None);
        assert_eq!(
            due_threshold(&p, nb, na, nb + Duration::hours(84)),
            Some(Threshold::Percent(50))
        );
        assert_eq!(
            due_threshold(&p, nb, na, na - Duration::hours(16)),
            Some(Threshold::Percent(10))
        );
    }

    #[test]
    fn retries_back_off_with_jitter_and_honour_retry_after() {
        assert_eq!(retry_delay(1, 1.0, None), StdDuration::from_secs(10));
        assert_eq!(retry_delay(1, 0.0, None), StdDuration::from_secs(5));
        assert_eq!(retry_delay(3, 1.0, None), StdDuration::from_secs(40));
        assert_eq!(retry_delay(30, 1.0, None), StdDuration::from_secs(3600));
        assert_eq!(
            retry_delay(1, 1.0, Some(StdDuration::from_secs(120))),
            StdDuration::from_secs(120)
        );
        assert_eq!(
            retry_delay(5, 1.0, Some(StdDuration::from_secs(1))),
            StdDuration::from_secs(160)
        );
    }
}
