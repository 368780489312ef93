//! How the UI shows times and days left: UTC dates with a relative phrase ("in 12 days").

use time::OffsetDateTime;

/// `2026-11-24 09:00 UTC`.
pub fn date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `Nov 24`.
pub fn short_date(t: OffsetDateTime) -> String {
    let m = t.month().to_string();
    format!("{} {}", &m[..3.min(m.len())], t.day())
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// `in 12 days`, `3 hours ago`, `just now`.
pub fn relative(t: OffsetDateTime, now: OffsetDateTime) -> String {
    let secs = (t - now).whole_seconds();
    let abs = secs.abs();
    let amount = if abs < 60 {
        return "just now".into();
    } else if abs < 3600 {
        plural(abs / 60, "minute")
    } else if abs < 2 * 86_400 {
        plural(abs / 3600, "hour")
    } else {
        plural(abs / 86_400, "day")
    };
    if secs > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Whole days from `now` until `t` (negative once passed).
pub fn days_left(t: OffsetDateTime, now: OffsetDateTime) -> i64 {
    (t - now).whole_seconds().div_euclid(86_400)
}

/// The colour class of a certificate expiring at `t`: `bad` (expired or ≤ 7 days), `warn`
/// (≤ 30 days), `ok`.
pub fn urgency(t: OffsetDateTime, now: OffsetDateTime) -> &'static str {
    match days_left(t, now) {
        d if d < 8 => "bad",
        d if d <= 30 => "warn",
        _ => "ok",
    }
}

/// `12 days left`, `expired 3 days ago`.
pub fn days_phrase(t: OffsetDateTime, now: OffsetDateTime) -> String {
    if t < now {
        format!("expired {}", relative(t, now))
    } else {
        format!("{} left", plural(days_left(t, now), "day"))
    }
}

/// Percent-encode a query value.
pub fn url_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn relative_phrases() {
        let now = datetime!(2026-11-24 09:00 UTC);
        assert_eq!(relative(now + time::Duration::days(12), now), "in 12 days");
        assert_eq!(relative(now - time::Duration::hours(3), now), "3 hours ago");
        assert_eq!(relative(now + time::Duration::seconds(5), now), "just now");
        assert_eq!(date(now), "2026-11-24 09:00 UTC");
        assert_eq!(short_date(now), "Nov 24");
        assert_eq!(urgency(now - time::Duration::days(1), now), "bad");
        assert_eq!(urgency(now + time::Duration::days(20), now), "warn");
        assert_eq!(urgency(now + time::Duration::days(90), now), "ok");
        assert_eq!(
            days_phrase(now + time::Duration::days(1), now),
            "1 day left"
        );
    }
}
