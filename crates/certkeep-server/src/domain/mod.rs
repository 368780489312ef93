//! Domain rules as functions of `now`: certificate lifecycle status, validated names, groups and
//! labels, notification policy. No I/O, no clock.

pub mod notification;
pub mod renewal;

use std::collections::BTreeMap;

use certkeep_api::{CertificateStatus, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};

/// Status of a certificate valid from `not_before` to `not_after`, seen at `now`, where
/// `expiring_window` is how long before `not_after` a certificate counts as expiring.
pub fn certificate_status(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
    expiring_window: Duration,
) -> CertificateStatus {
    if now > not_after {
        CertificateStatus::Expired
    } else if now < not_before {
        CertificateStatus::NotYetValid
    } else if not_after - now < expiring_window {
        CertificateStatus::Expiring
    } else {
        CertificateStatus::Valid
    }
}

/// A certificate or token name: 1..=256 characters, no control characters, trimmed.
pub fn validate_name(field: &str, name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(Error::InvalidInput(format!("`{field}` must not be empty")));
    }
    let n = trimmed.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(Error::InvalidInput(format!(
            "`{field}` is {n} characters long; the limit is {MAX_NAME_CHARS}"
        )));
    }
    if let Some(c) = trimmed.chars().find(|c| c.is_control()) {
        return Err(Error::InvalidInput(format!(
            "`{field}` contains the control character U+{:04X}",
            c as u32
        )));
    }
    Ok(trimmed.to_string())
}

pub fn validate_description(description: &str) -> Result<String> {
    let n = description.chars().count();
    if n > MAX_DESCRIPTION_CHARS {
        return Err(Error::InvalidInput(format!(
            "`description` is {n} characters long; the limit is {MAX_DESCRIPTION_CHARS}"
        )));
    }
    if let Some(c) = description
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t' && *c != '\r')
    {
        return Err(Error::InvalidInput(format!(
            "`description` contains the control character U+{:04X}",
            c as u32
        )));
    }
    Ok(description.to_string())
}

/// Longest group name and label key, in characters.
pub const MAX_GROUP_CHARS: usize = 64;
pub const MAX_LABEL_KEY_CHARS: usize = 63;
pub const MAX_LABEL_VALUE_CHARS: usize = 256;
pub const MAX_LABELS: usize = 64;

fn is_slug_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

/// A group name: 1..=64 of `[A-Za-z0-9._/-]`. Groups scope tokens, so they stay simple.
pub fn validate_group(group: &str) -> Result<String> {
    let g = group.trim();
    if g.is_empty() {
        return Err(Error::InvalidInput("`group` must not be empty".into()));
    }
    if g.chars().count() > MAX_GROUP_CHARS {
        return Err(Error::InvalidInput(format!(
            "`group` is longer than {MAX_GROUP_CHARS} characters"
        )));
    }
    if let Some(c) = g.chars().find(|c| !is_slug_char(*c)) {
        return Err(Error::InvalidInput(format!(
            "`group` contains {c:?}; allowed are letters, digits and . _ / -"
        )));
    }
    Ok(g.to_string())
}

/// Labels: at most 64; keys 1..=63 of `[A-Za-z0-9._/-]`, values up to 256 characters without
/// control characters.
pub fn validate_labels(labels: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
    if labels.len() > MAX_LABELS {
        return Err(Error::InvalidInput(format!(
            "{} labels given; the limit is {MAX_LABELS}",
            labels.len()
        )));
    }
    for (k, v) in labels {
        if k.is_empty() || k.chars().count() > MAX_LABEL_KEY_CHARS {
            return Err(Error::InvalidInput(format!(
                "label key {k:?} must be 1 to {MAX_LABEL_KEY_CHARS} characters"
            )));
        }
        if let Some(c) = k.chars().find(|c| !is_slug_char(*c)) {
            return Err(Error::InvalidInput(format!(
                "label key {k:?} contains {c:?}; allowed are letters, digits and . _ / -"
            )));
        }
        if v.chars().count() > MAX_LABEL_VALUE_CHARS {
            return Err(Error::InvalidInput(format!(
                "value of label {k:?} is longer than {MAX_LABEL_VALUE_CHARS} characters"
            )));
        }
        if v.chars().any(|c| c.is_control()) {
            return Err(Error::InvalidInput(format!(
                "value of label {k:?} contains a control character"
            )));
        }
    }
    Ok(labels.clone())
}

/// A parsed `label` filter: `key=value` (exact) or `key` (present); comma-separated, all must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelFilter {
    pub key: String,
    pub value: Option<String>,
}

pub fn parse_label_filter(s: &str) -> Result<Vec<LabelFilter>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().to_string())),
            None => (part, None),
        };
        if key.is_empty() {
            return Err(Error::InvalidInput(format!(
                "label filter {part:?} has an empty key; use key=value or key"
            )));
        }
        out.push(LabelFilter {
            key: key.to_string(),
            value,
        });
    }
    if out.is_empty() {
        return Err(Error::InvalidInput(
            "label filter is empty; use key=value or key".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn status_boundaries() {
        let nb = datetime!(2026-01-01 0:00 UTC);
        let na = datetime!(2026-12-31 0:00 UTC);
        let w = Duration::days(30);
        assert_eq!(
            certificate_status(nb, na, datetime!(2025-12-31 23:59 UTC), w),
            CertificateStatus::NotYetValid
        );
        assert_eq!(
            certificate_status(nb, na, datetime!(2026-06-01 0:00 UTC), w),
            CertificateStatus::Valid
        );
        assert_eq!(
            certificate_status(nb, na, datetime!(2026-12-01 0:00:01 UTC), w),
            CertificateStatus::Expiring
        );
        assert_eq!(
            certificate_status(nb, na, datetime!(2026-12-01 0:00 UTC), w),
            CertificateStatus::Valid
        );
        assert_eq!(
            certificate_status(nb, na, na, w),
            CertificateStatus::Expiring
        );
        assert_eq!(
            certificate_status(nb, na, datetime!(2026-12-31 0:00:01 UTC), w),
            CertificateStatus::Expired
        );
    }

    #[test]
    fn names_and_labels() {
        assert_eq!(validate_name("name", "  web  ").unwrap(), "web");
        assert!(validate_name("name", "").is_err());
        let long = "x".repeat(257);
        let e = validate_name("name", &long).unwrap_err().to_string();
        assert!(e.contains("257") && e.contains("256"), "{e}");
        assert!(validate_description(&"d".repeat(1025)).is_err());
        assert!(validate_group("team-a/prod").is_ok());
        assert!(validate_group("bad group").is_err());
        let f = parse_label_filter("env=prod, team").unwrap();
        assert_eq!(f[0].value.as_deref(), Some("prod"));
        assert_eq!(f[1].value, None);
        assert!(parse_label_filter("=x").is_err());
    }
}
