//! What a notification says: the event types and the payload every channel renders. Payloads
//! carry certificate facts and links, never key material.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// Event types. Stored and sent as their dotted names; new kinds are added as variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "cert.expiring")]
    CertExpiring,
    #[serde(rename = "cert.expired")]
    CertExpired,
    #[serde(rename = "cert.imported")]
    CertImported,
    #[serde(rename = "cert.reimported")]
    CertReimported,
    #[serde(rename = "cert.deleted")]
    CertDeleted,
    #[serde(rename = "channel.test")]
    ChannelTest,
    #[serde(rename = "cert.issued")]
    CertIssued,
    #[serde(rename = "cert.order_failed")]
    CertOrderFailed,
    #[serde(rename = "cert.renewed")]
    CertRenewed,
    #[serde(rename = "cert.renew_failed")]
    CertRenewFailed,
    #[serde(rename = "dns.validation_required")]
    DnsValidationRequired,
    #[serde(rename = "dns.validation_completed")]
    DnsValidationCompleted,
}

impl EventType {
    pub const ALL: [EventType; 12] = [
        EventType::CertExpiring,
        EventType::CertExpired,
        EventType::CertImported,
        EventType::CertReimported,
        EventType::CertDeleted,
        EventType::ChannelTest,
        EventType::CertIssued,
        EventType::CertOrderFailed,
        EventType::CertRenewed,
        EventType::CertRenewFailed,
        EventType::DnsValidationRequired,
        EventType::DnsValidationCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CertExpiring => "cert.expiring",
            EventType::CertExpired => "cert.expired",
            EventType::CertImported => "cert.imported",
            EventType::CertReimported => "cert.reimported",
            EventType::CertDeleted => "cert.deleted",
            EventType::ChannelTest => "channel.test",
            EventType::CertIssued => "cert.issued",
            EventType::CertOrderFailed => "cert.order_failed",
            EventType::CertRenewed => "cert.renewed",
            EventType::CertRenewFailed => "cert.renew_failed",
            EventType::DnsValidationRequired => "dns.validation_required",
            EventType::DnsValidationCompleted => "dns.validation_completed",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// One certificate as a notification shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificateSummary {
    pub id: Uuid,
    pub name: String,
    pub domains: Vec<String>,
    pub serial: String,
    pub fingerprint_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Whole days from the event time to `not_after`; negative once expired.
    pub days_left: i64,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Version of the entry the event is about.
    pub version: u32,
    /// The threshold crossed, for `cert.expiring`: `"30d"` or `"10%"`.
    pub threshold: Option<String>,
    /// The certificate's page in the web UI.
    pub url: String,
}

/// A delivery: one event about one or more certificates (at most 100), to one channel.
/// `id` is stable across retries (the `webhook-id`), so receivers can deduplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub event: EventType,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub channel: ChannelRef,
    /// One line for humans, e.g. "3 certificates expire within 30 days".
    pub summary: String,
    pub certificates: Vec<CertificateSummary>,
    /// The DNS-01 record of a `dns.validation_*` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_record: Option<DnsRecordNotice>,
    /// The domain the CA or the DNS check failed on, for `cert.order_failed` and
    /// `cert.renew_failed` when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_domain: Option<String>,
}

/// A DNS-01 TXT record a callback provider's receiver creates (`dns.validation_required`) or
/// removes (`dns.validation_completed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecordNotice {
    pub order_id: Uuid,
    /// The name being validated, as ordered (`*.example.com` for a wildcard).
    pub domain: String,
    /// Where the TXT record goes, fully qualified with the trailing dot, after any CNAME at
    /// `_acme-challenge.<domain>`.
    pub record_name: String,
    pub record_type: String,
    /// The TXT value.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    pub id: Uuid,
    pub name: String,
}
