//! ACME Renewal Information (RFC 9773): the CA's suggested renewal window for a certificate.
//! When the CA offers it, certkeep renews at a random time inside the window if that comes
//! before its own rule; the window can move earlier (a CA announcing a mass revocation), so it
//! is asked again after the CA's `Retry-After`.

use std::time::Duration;

use instant_acme::{Account, CertificateIdentifier};
use time::OffsetDateTime;

use super::{Failure, failure};

/// What the CA said about one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advice {
    /// Renew inside `start..end`; ask again after `retry_after`.
    Window {
        start: OffsetDateTime,
        end: OffsetDateTime,
        retry_after: Duration,
    },
    /// The CA does not offer renewal information.
    Unsupported,
}

/// Ask the CA of `account` about the certificate `leaf_der`.
pub async fn advice(account: &Account, leaf_der: &[u8]) -> Result<Advice, Failure> {
    let der = rustls_pki_types::CertificateDer::from(leaf_der);
    let id = CertificateIdentifier::try_from(&der).map_err(|e| {
        Failure::new(format!(
            "the certificate has no renewal information identifier: {e}"
        ))
    })?;
    match account.renewal_info(&id).await {
        Ok((info, retry_after)) => Ok(Advice::Window {
            start: info.suggested_window.start,
            end: info.suggested_window.end,
            retry_after,
        }),
        Err(instant_acme::Error::Unsupported(_)) => Ok(Advice::Unsupported),
        Err(e) => Err(failure("asking for renewal information", e)),
    }
}

/// A time picked uniformly at random in `start..end` (RFC 9773 §4.2), or `start` when the
/// window is empty or reversed.
pub fn pick(start: OffsetDateTime, end: OffsetDateTime) -> OffsetDateTime {
    let span = end - start;
    if span <= time::Duration::ZERO {
        return start;
    }
    let mut b = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut b);
    let share = (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
    start + span * share
}

/// The renewal time after the CA suggested `start..end` for a certificate now due at
/// `current`, whose own rule (lifetime share, days before expiry) says `own`: `current` while
/// it lies inside the window, so that asking again does not drift the time towards the
/// window's start; otherwise the earlier of `own` and `picked` (a fresh [`pick`] in the window).
pub fn reschedule(
    current: OffsetDateTime,
    own: OffsetDateTime,
    start: OffsetDateTime,
    end: OffsetDateTime,
    picked: OffsetDateTime,
) -> OffsetDateTime {
    if start <= current && current <= end {
        current
    } else {
        own.min(picked)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use time::macros::datetime;

    use super::*;

    #[test]
    fn picks_inside_the_window() {
        let start = datetime!(2026-03-01 0:00 UTC);
        let end = start + time::Duration::hours(6);
        for _ in 0..100 {
            let t = pick(start, end);
            assert!(t >= start && t <= end);
        }
        assert_eq!(pick(end, start), end, "a reversed window means its start");
    }

    #[test]
    fn a_chosen_time_stays_while_it_is_inside_the_window() {
        let start = datetime!(2026-03-01 0:00 UTC);
        let end = start + time::Duration::hours(6);
        let own = start + time::Duration::days(30);
        let chosen = start + time::Duration::hours(5);
        // Asked again, the same window: the time stays, however early the new pick.
        let mut t = chosen;
        for _ in 0..50 {
            t = reschedule(t, own, start, end, pick(start, end));
        }
        assert_eq!(t, chosen);
        assert_eq!(reschedule(chosen, own, start, end, start), chosen);
        // The window moved and still holds the time: it stays.
        let moved = start + time::Duration::hours(4);
        assert_eq!(
            reschedule(chosen, own, moved, moved + time::Duration::hours(6), moved),
            chosen
        );
        // The window moved away (earlier: a mass revocation; later: the CA relented): a new
        // pick inside it.
        let early = start - time::Duration::days(2);
        let picked = early + time::Duration::hours(1);
        assert_eq!(
            reschedule(chosen, own, early, early + time::Duration::hours(2), picked),
            picked
        );
        let late = start + time::Duration::days(3);
        let picked = late + time::Duration::hours(3);
        assert_eq!(
            reschedule(chosen, own, late, late + time::Duration::hours(6), picked),
            picked
        );
        // The certificate's own rule comes before the window: it stays first.
        let soon = start - time::Duration::days(1);
        assert_eq!(reschedule(soon, soon, start, end, start), soon);
        // The own rule is after the window: the first check picks inside it.
        assert_eq!(reschedule(own, own, start, end, chosen), chosen);
    }
}
