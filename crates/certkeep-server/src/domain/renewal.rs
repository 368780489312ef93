//! When an ordered certificate is renewed, and when a failed renewal is tried again. Pure
//! functions of the certificate's validity and the policy; `now` is the caller's.

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The renewal rule: the first of "this share of the lifetime has passed" and "this long
/// before expiry", where the second never comes before half the lifetime: a certificate
/// living no longer than `before_expiry` (short-lived profiles, day-long private CA
/// certificates) would otherwise be due the moment it is issued and renewed in a loop.
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
/// earlier rule (the days-before-expiry one held back to half the lifetime at the soonest),
/// moved earlier by its jitter; never before `not_before`.
pub fn renew_at(
    policy: &RenewalPolicy,
    id: Uuid,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> OffsetDateTime {
    let lifetime = (not_after - not_before).max(Duration::ZERO);
    let by_share = not_before + lifetime * policy.lifetime_fraction.clamp(0.0, 1.0);
    let by_days = (not_after - policy.before_expiry).max(not_before + lifetime / 2);
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

    /// `renew_at` for a certificate of `lifetime` issued at `nb`, with the jitter of `id`
    /// added back: the rule's own time.
    fn rule(p: &RenewalPolicy, id: Uuid, nb: OffsetDateTime, lifetime: Duration) -> Duration {
        renew_at(p, id, nb, nb + lifetime) + jitter(id, lifetime) - nb
    }

    #[test]
    fn the_earlier_rule_wins_minus_a_bounded_jitter() {
        let p = RenewalPolicy::default();
        let id = Uuid::now_v7();
        let nb = datetime!(2026-01-01 0:00 UTC);
        // 90 days: 2/3 is day 60, 30 days before expiry is day 60 too.
        let off = rule(&p, id, nb, Duration::days(90)) - Duration::days(60);
        assert!(off.abs() < Duration::seconds(1), "{off}");
        let at = renew_at(&p, id, nb, nb + Duration::days(90));
        assert!(
            at <= nb + Duration::days(60) && at >= nb + Duration::days(60) - Duration::hours(1)
        );
        // 1 year: 2/3 (day 243⅓) comes before 30 days before expiry (day 335).
        assert_eq!(
            rule(&p, id, nb, Duration::days(365)),
            Duration::days(365) * (2.0 / 3.0)
        );
        // 5 years: 2/3 of the lifetime comes long before 30 days before expiry.
        let five = Duration::days(5 * 365);
        assert_eq!(rule(&p, id, nb, five), five * (2.0 / 3.0));
        let at = renew_at(&p, id, nb, nb + five);
        assert!(
            at <= nb + five * (2.0 / 3.0) && at >= nb + five * (2.0 / 3.0) - Duration::hours(1)
        );
        // Jitter is stable per certificate and at most 2% of a short lifetime.
        assert_eq!(
            jitter(id, Duration::days(90)),
            jitter(id, Duration::days(90))
        );
        assert!(jitter(id, Duration::hours(10)) <= Duration::minutes(12));
    }

    #[test]
    fn short_lived_certificates_are_not_due_at_issuance() {
        let p = RenewalPolicy::default();
        let id = Uuid::now_v7();
        let nb = datetime!(2026-01-01 0:00 UTC);
        // 45 days: 30 days before expiry is day 15, held back to half the lifetime (22.5 days),
        // which comes before 2/3 (day 30).
        assert_eq!(
            rule(&p, id, nb, Duration::days(45)),
            Duration::hours(45 * 12)
        );
        // 7 days (Let's Encrypt's short-lived profile is 6): half the lifetime, not issuance.
        assert_eq!(rule(&p, id, nb, Duration::days(7)), Duration::hours(84));
        let at = renew_at(&p, id, nb, nb + Duration::days(7));
        assert!(
            at > nb + Duration::hours(80) && at <= nb + Duration::hours(84),
            "{at}"
        );
        // 24 hours (a private CA's day-long certificates): at 12 hours, less at most 28.8 minutes.
        assert_eq!(rule(&p, id, nb, Duration::hours(24)), Duration::hours(12));
        let at = renew_at(&p, id, nb, nb + Duration::hours(24));
        assert!(
            at > nb + Duration::hours(11) && at <= nb + Duration::hours(12),
            "{at}"
        );
        // A configured share below half still wins.
        let early = RenewalPolicy {
            lifetime_fraction: 0.25,
            ..p
        };
        assert_eq!(
            rule(&early, id, nb, Duration::hours(24)),
            Duration::hours(6)
        );
        // A lifetime of zero (not_after at not_before) is due at once, not before issuance.
        assert_eq!(renew_at(&p, id, nb, nb), nb);
    }

    #[test]
    fn retries_back_off_to_six_hours() {
        assert_eq!(retry_delay(1), Duration::minutes(5));
        assert_eq!(retry_delay(2), Duration::minutes(10));
        assert_eq!(retry_delay(4), Duration::minutes(40));
        assert_eq!(retry_delay(30), Duration::hours(6));
    }
}
