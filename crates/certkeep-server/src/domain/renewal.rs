//! When an ordered certificate is renewed, and when a failed renewal is tried again. Pure
//! functions of the certificate's validity and the policy; `now` is the caller's.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The renewal rule: the first of "this share of the lifetime has passed" and "this long
/// before expiry".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenewalPolicy {
    /// Share of the lifetime after which to renew (default 2/3).
    pub lifetime_fraction: f64,
    /// Renew at the latest this long before expiry (default 30 days).
    pub before_expiry: Duration,
}

impl Default for RenewalPolicy {
    fn default() -> Self {
        RenewalPolicy {
            lifetime_fraction: 2.0 / 3.0,
            before_expiry: Duration::days(30),
        }
    }
}

/// Most jitter: an hour, and never more than 2% of the lifetime.
const MAX_JITTER: Duration = Duration::hours(1);

/// A fixed share of the jitter window for this certificate, so that thousands of certificates
/// issued together do not renew in the same minute, and a certificate keeps its time across
/// restarts and replicas.
pub fn jitter(id: Uuid, lifetime: Duration) -> Duration {
    let window = MAX_JITTER.min(lifetime / 50).max(Duration::ZERO);
    let bytes = id.as_bytes();
    let mut n = [0u8; 8];
    n.copy_from_slice(&bytes[8..16]);
    let share = (u64::from_be_bytes(n) % 10_000) as f64 / 10_000.0;
    window * share
}

/// When the certificate `id` valid from `not_before` to `not_after` is due for renewal: the
/// earlier rule, moved earlier by its jitter; never before `not_before`.
pub fn renew_at(
    policy: &RenewalPolicy,
    id: Uuid,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> OffsetDateTime {
    let lifetime = (not_after - not_before).max(Duration::ZERO);
    let by_share = not_before + lifetime * policy.lifetime_fraction.clamp(0.0, 1.0);
    let by_days = not_after - policy.before_expiry;
    (by_share.min(by_days) - jitter(id, lifetime)).max(not_before)
}

/// How long to wait after the `failures`-th failed renewal in a row: 5 minutes, doubling, at
/// most 6 hours — soon enough to recover before expiry, slow enough to spare the CA.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(7);
    (Duration::minutes(5) * 2_i32.pow(doublings)).min(Duration::hours(6))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_earlier_rule_wins_minus_a_bounded_jitter() {
        let p = RenewalPolicy::default();
        let id = Uuid::now_v7();
        // 90 days: 2/3 is day 60, 30 days before expiry is day 60 too.
        let nb = datetime!(2026-01-01 0:00 UTC);
        let at = renew_at(&p, id, nb, nb + Duration::days(90));
        assert!(
            at <= nb + Duration::days(60) && at >= nb + Duration::days(60) - Duration::hours(1)
        );
        // 5 years: 30 days before expiry comes long after 2/3 of the lifetime.
        let na = nb + Duration::days(5 * 365);
        let at = renew_at(&p, id, nb, na);
        let share = nb + Duration::days(5 * 365) * (2.0 / 3.0);
        assert!(at <= share && at >= share - Duration::hours(1));
        // 7 days: 30 days before expiry is before issuance; renew no earlier than not_before.
        assert_eq!(renew_at(&p, id, nb, nb + Duration::days(7)), nb);
        // Jitter is stable per certificate and at most 2% of a short lifetime.
        assert_eq!(
            jitter(id, Duration::days(90)),
            jitter(id, Duration::days(90))
        );
        assert!(jitter(id, Duration::hours(10)) <= Duration::minutes(12));
    }

    #[test]
    fn retries_back_off_to_six_hours() {
        assert_eq!(retry_delay(1), Duration::minutes(5));
        assert_eq!(retry_delay(2), Duration::minutes(10));
        assert_eq!(retry_delay(4), Duration::minutes(40));
        assert_eq!(retry_delay(30), Duration::hours(6));
    }
}
