//! The persistent outbox: notifications are written in the transaction of the change (or of
//! the sweep) that makes them due, then delivered by workers holding short leases, retried
//! with backoff for a day, and recorded with their history. Delivery is at least once per
//! (channel, certificate version, event, threshold); the delivery id (the `webhook-id`) never
//! changes across retries, so a receiver can drop the rare repeat after a crash mid-send.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use certkeep_api::ChannelKind;
use serde::{Deserialize, Serialize};

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::channels;
use super::event::{CertificateSummary, ChannelRef, EventType, Notification};
use super::senders::{self, SendContext, SendResult};
use crate::app::App;
use crate::domain::notification::{self, RETRY_FOR, Threshold};
use crate::error::{Error, Result};
use crate::store::{CertificateRecord, ChannelRecord, OutboxRecord, OutboxUpdate, WriteTx};

/// Most certificates in one delivery.
pub const MAX_PER_DELIVERY: usize = 100;
/// Deliveries claimed per round, and sent at the same time.
const CLAIM_BATCH: u32 = 256;
const CONCURRENCY: usize = 64;

pub const STATUS_PENDING: &str = "pending";
pub const STATUS_DELIVERED: &str = "delivered";
pub const STATUS_FAILED: &str = "failed";

/// How a certificate appears in a notification at `now`.
pub fn summary(
    rec: &CertificateRecord,
    now: OffsetDateTime,
    public_url: &str,
    threshold: Option<Threshold>,
) -> CertificateSummary {
    CertificateSummary {
        id: rec.id,
        name: rec.name.clone(),
        domains: rec.info.domains.clone(),
        serial: rec.info.serial.clone(),
        fingerprint_sha256: rec.info.fingerprint_sha256.clone(),
        not_after: rec.info.not_after,
        days_left: notification::days_left(rec.info.not_after, now),
        group: rec.group.clone(),
        labels: rec.labels.clone(),
        version: rec.current_version,
        threshold: threshold.map(|t| t.to_string()),
        url: format!(
            "{}/certificates/{}",
            public_url.trim_end_matches('/'),
            rec.id
        ),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        "certificate"
    } else {
        "certificates"
    }
}

/// One line for humans.
pub fn summary_text(event: EventType, certs: &[CertificateSummary]) -> String {
    summary_line(
        event,
        certs.len(),
        certs.first().map(|c| c.name.as_str()),
        certs.iter().map(|c| c.days_left).min().unwrap_or_default(),
        certs.first().and_then(|c| c.threshold.as_deref()),
    )
}

/// One line for humans about `n` certificates (`name`: the first one's, when known), the
/// soonest expiring in `days` days.
fn summary_line(
    event: EventType,
    n: usize,
    name: Option<&str>,
    days: i64,
    threshold: Option<&str>,
) -> String {
    let who = match (n, name) {
        (1, Some(name)) => format!("Certificate {name:?}"),
        _ => format!("{n} {}", plural(n)),
    };
    let threshold = threshold.unwrap_or_default();
    match event {
        EventType::CertExpiring => {
            if n == 1 {
                format!("{who} expires in {days} days (threshold {threshold})")
            } else {
                format!("{who} expire soon (threshold {threshold}; the first in {days} days)")
            }
        }
        EventType::CertExpired => {
            if n == 1 {
                format!("{who} has expired")
            } else {
                format!("{who} have expired")
            }
        }
        EventType::CertImported => format!("{who} imported"),
        EventType::CertReimported => format!("{who} replaced by a new version"),
        EventType::CertDeleted => format!("{who} deleted"),
        EventType::ChannelTest => "Test notification from certkeep".to_string(),
        EventType::CertIssued => format!("{who} issued by the CA"),
        EventType::CertOrderFailed => format!("{who} could not be ordered"),
        EventType::CertRenewed => format!("{who} renewed"),
        EventType::CertRenewFailed => format!("{who} could not be renewed"),
        EventType::DnsValidationRequired => format!("{who}: create a DNS-01 TXT record"),
        EventType::DnsValidationCompleted => format!("{who}: remove the DNS-01 TXT record"),
    }
}

fn channel_ref(channel: &ChannelRecord) -> ChannelRef {
    ChannelRef {
        id: channel.id,
        name: channel.name.clone(),
    }
}

/// A notification for `channel`.
pub fn notification(
    channel: &ChannelRecord,
    event: EventType,
    certificates: Vec<CertificateSummary>,
    now: OffsetDateTime,
) -> Notification {
    Notification {
        id: Uuid::now_v7(),
        event,
        time: now,
        channel: channel_ref(channel),
        summary: summary_text(event, &certificates),
        certificates,
        dns_record: None,
        failed_domain: None,
    }
}

/// The outbox row of `n`, waiting for its first attempt.
pub fn pending_record(n: &Notification) -> Result<OutboxRecord> {
    pending(n.id, n.channel.id, n.event, n, n.time)
}

/// An outbox row carrying `stored` (its JSON), waiting for its first attempt.
fn pending<T: Serialize>(
    id: Uuid,
    channel_id: Uuid,
    event: EventType,
    stored: &T,
    now: OffsetDateTime,
) -> Result<OutboxRecord> {
    Ok(OutboxRecord {
        id,
        channel_id,
        event_type: event.as_str().to_string(),
        payload: serde_json::to_string(stored)
            .map_err(|e| Error::Internal(format!("notification payload: {e}")))?,
        status: STATUS_PENDING.to_string(),
        attempts: 0,
        next_attempt_at: now,
        last_error: None,
        last_status_code: None,
        created_at: now,
        delivered_at: None,
    })
}

/// Write deliveries of `certificates` (at most 100 each) to `channel` into the outbox.
pub async fn enqueue(
    app: &App,
    tx: &mut WriteTx,
    channel: &ChannelRecord,
    event: EventType,
    certificates: Vec<CertificateSummary>,
    now: OffsetDateTime,
) -> Result<usize> {
    let mut count = 0;
    let mut rest = certificates;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(MAX_PER_DELIVERY));
        let chunk = std::mem::replace(&mut rest, tail);
        let record = pending_record(&notification(channel, event, chunk, now))?;
        app.store.outbox_insert(tx, &record).await?;
        count += 1;
    }
    if count > 0 {
        app.delivery_wakeup.notify_one();
    }
    Ok(count)
}

/// Enqueue a lifecycle event (import, reimport, delete) about `certs` for every enabled channel
/// that wants it, inside the transaction of the change itself.
pub async fn enqueue_lifecycle(
    app: &App,
    tx: &mut WriteTx,
    event: EventType,
    certs: &[&CertificateRecord],
    now: OffsetDateTime,
) -> Result<()> {
    let channels = app.store.channels_enabled_in(tx).await?;
    for ch in channels.iter().filter(|c| channels::wants(c, event)) {
        let summaries: Vec<_> = certs
            .iter()
            .filter(|c| channels::covers(ch, c))
            .map(|c| summary(c, now, &app.policy.public_url, None))
            .collect();
        if !summaries.is_empty() {
            enqueue(app, tx, ch, event, summaries, now).await?;
        }
    }
    Ok(())
}

/// A certificate version a stored delivery is about, by reference: the expiry sweep stores
/// these and the payload is rendered when the delivery is sent, so that enqueueing half a
/// million notices writes ids, not rendered payloads. Stored as `"<id, 32 hex digits>:<version>"`
/// (37 bytes; the objects written before, which carried the threshold each, took ~65 and are
/// still read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertRef {
    pub id: Uuid,
    pub version: u32,
}

impl Serialize for CertRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{}:{}", self.id.simple(), self.version))
    }
}

impl<'de> Deserialize<'de> for CertRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("{text:?} is not <id>:<version>"));
        let (id, version) = text.split_once(':').ok_or_else(bad)?;
        Ok(CertRef {
            id: Uuid::try_parse(id).map_err(|_| bad())?,
            version: version.parse().map_err(|_| bad())?,
        })
    }
}

/// A reference in a stored delivery.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredRef {
    Compact(CertRef),
    /// Written by earlier versions: every reference carried the threshold.
    Object {
        id: Uuid,
        version: u32,
        #[serde(default)]
        threshold: Option<String>,
    },
}

impl StoredRef {
    fn cert(&self) -> CertRef {
        match *self {
            StoredRef::Compact(c) => c,
            StoredRef::Object { id, version, .. } => CertRef { id, version },
        }
    }
}

/// A delivery as stored in the outbox.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Stored {
    Refs(StoredRefs),
    Full(Notification),
}

#[derive(Serialize, Deserialize)]
struct StoredRefs {
    id: Uuid,
    #[serde(rename = "type")]
    event: EventType,
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    channel: ChannelRef,
    /// The summary known when it was enqueued (names come with the rendering).
    summary: String,
    /// The threshold crossed, for `cert.expiring` (the same for every reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    threshold: Option<String>,
    refs: Vec<StoredRef>,
}

/// What the delivery history shows of a stored delivery: its certificates and summary.
pub fn stored_outline(payload: &str) -> Option<(Vec<Uuid>, String)> {
    match serde_json::from_str::<Stored>(payload).ok()? {
        Stored::Refs(r) => Some((r.refs.iter().map(|c| c.cert().id).collect(), r.summary)),
        Stored::Full(n) => Some((n.certificates.iter().map(|c| c.id).collect(), n.summary)),
    }
}

/// Write deliveries of `due` (certificate references with their days left at `now`, at most
/// 100 a delivery) to `channel` into the outbox; `threshold` is the one they crossed, for
/// `cert.expiring`.
pub async fn enqueue_refs(
    app: &App,
    tx: &mut WriteTx,
    channel: &ChannelRecord,
    event: EventType,
    threshold: Option<Threshold>,
    due: &[(CertRef, i64)],
    now: OffsetDateTime,
) -> Result<usize> {
    let threshold = threshold.map(|t| t.to_string());
    let records = due
        .chunks(MAX_PER_DELIVERY)
        .map(|chunk| {
            let days = chunk.iter().map(|d| d.1).min().unwrap_or_default();
            let stored = StoredRefs {
                id: Uuid::now_v7(),
                event,
                time: now,
                channel: channel_ref(channel),
                summary: summary_line(event, chunk.len(), None, days, threshold.as_deref()),
                threshold: threshold.clone(),
                refs: chunk.iter().map(|d| StoredRef::Compact(d.0)).collect(),
            };
            pending(stored.id, channel.id, event, &Stored::Refs(stored), now)
        })
        .collect::<Result<Vec<_>>>()?;
    app.store.outbox_insert_all(tx, &records).await?;
    if !records.is_empty() {
        app.delivery_wakeup.notify_one();
    }
    Ok(records.len())
}

/// The notification a stored delivery sends: as stored, or rendered from its references with
/// what the inventory holds now about those certificate versions (days left counted from the
/// event's time). Certificates deleted or purged since are left out. The inner error is
/// permanent (the delivery fails), the outer one a database error worth retrying.
async fn render(app: &App, payload: &str) -> Result<std::result::Result<Notification, String>> {
    let r = match serde_json::from_str::<Stored>(payload) {
        Ok(Stored::Full(n)) => return Ok(Ok(n)),
        Ok(Stored::Refs(r)) => r,
        Err(e) => return Ok(Err(format!("stored payload is corrupt: {e}"))),
    };
    let ids: Vec<Uuid> = r.refs.iter().map(|c| c.cert().id).collect();
    let records: HashMap<Uuid, CertificateRecord> = app
        .store
        .certificates_by_ids(&ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut certificates = Vec::with_capacity(r.refs.len());
    for stored in &r.refs {
        let cref = stored.cert();
        // Deleted since (or purged): nothing to warn about any more.
        let Some(rec) = records.get(&cref.id).filter(|r| r.deleted_at.is_none()) else {
            continue;
        };
        let threshold = match stored {
            StoredRef::Object { threshold, .. } => threshold.as_deref(),
            StoredRef::Compact(_) => r.threshold.as_deref(),
        }
        .and_then(|t| Threshold::parse(t).ok());
        let url = &app.policy.public_url;
        if rec.current_version == cref.version {
            certificates.push(summary(rec, r.time, url, threshold));
            continue;
        }
        // Replaced since: the notice is about the version it was due for.
        let version = app.store.certificate_version(cref.id, cref.version).await?;
        if let Some(v) = version {
            let info = match crate::pki::cert_info(&v.leaf_der) {
                Ok(info) => info,
                Err(e) => return Ok(Err(format!("stored certificate {}: {e}", cref.id))),
            };
            let old = CertificateRecord {
                info,
                current_version: cref.version,
                ..rec.clone()
            };
            certificates.push(summary(&old, r.time, url, threshold));
        }
    }
    if certificates.is_empty() {
        return Ok(Err(
            "the certificates this notification was about have been deleted since".into(),
        ));
    }
    Ok(Ok(Notification {
        id: r.id,
        event: r.event,
        time: r.time,
        channel: r.channel,
        summary: summary_text(r.event, &certificates),
        certificates,
        dns_record: None,
        failed_domain: None,
    }))
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl DeliveryReport {
    pub fn attempts(&self) -> usize {
        self.delivered + self.retrying + self.failed
    }
}

/// A bounded error text for the history (never secrets: senders do not put them there).
fn short(s: &str) -> String {
    let mut end = s.len().min(500);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn jitter() -> f64 {
    let mut b = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut b);
    f64::from(u16::from_be_bytes(b)) / 65536.0
}

/// What to record after an attempt made at `now`.
pub fn after_attempt(o: &OutboxRecord, result: &SendResult, now: OffsetDateTime) -> OutboxUpdate {
    let attempts = o.attempts.saturating_add(1);
    match result {
        SendResult::Delivered { status, .. } => OutboxUpdate {
            status: STATUS_DELIVERED,
            attempts,
            next_attempt_at: now,
            last_error: None,
            last_status_code: *status,
            delivered_at: Some(now),
        },
        SendResult::Failed { status, error } => OutboxUpdate {
            status: STATUS_FAILED,
            attempts,
            next_attempt_at: now,
            last_error: Some(short(error)),
            last_status_code: *status,
            delivered_at: None,
        },
        SendResult::Retry {
            status,
            error,
            retry_after,
        } => {
            let delay = notification::retry_delay(attempts, jitter(), *retry_after);
            let next = now + Duration::try_from(delay).unwrap_or(Duration::hours(1));
            // Retried for at least a day: given up at the first failure a day or more after
            // it was written, not before.
            if now - o.created_at >= RETRY_FOR {
                OutboxUpdate {
                    status: STATUS_FAILED,
                    attempts,
                    next_attempt_at: now,
                    last_error: Some(short(&format!(
                        "gave up after {attempts} attempts over {} hours: {error}",
                        (now - o.created_at).whole_hours()
                    ))),
                    last_status_code: *status,
                    delivered_at: None,
                }
            } else {
                OutboxUpdate {
                    status: STATUS_PENDING,
                    attempts,
                    next_attempt_at: next,
                    last_error: Some(short(error)),
                    last_status_code: *status,
                    delivered_at: None,
                }
            }
        }
    }
}

/// Send one stored delivery once.
pub async fn attempt(
    app: &App,
    channel: Option<&ChannelRecord>,
    o: &OutboxRecord,
    now: OffsetDateTime,
) -> SendResult {
    let Some(channel) = channel else {
        return SendResult::Failed {
            status: None,
            error: "the channel was deleted".into(),
        };
    };
    if !channel.enabled {
        // Disabled since the claim: kept for when it is enabled again.
        return SendResult::Retry {
            status: None,
            error: "the channel was disabled; sent once it is enabled again".into(),
            retry_after: None,
        };
    }
    let reading_failed = |e: Error| SendResult::Retry {
        status: None,
        error: format!("reading the certificates to send: {e}"),
        retry_after: None,
    };
    let mut n = match render(app, &o.payload).await {
        Ok(Ok(n)) => n,
        Ok(Err(error)) => {
            return SendResult::Failed {
                status: None,
                error,
            };
        }
        Err(e) => return reading_failed(e),
    };
    if matches!(
        channels::kind_from_str(&channel.kind),
        Ok(ChannelKind::Pagerduty)
    ) {
        n = match still_paging(app, n).await {
            Ok(Ok(n)) => n,
            Ok(Err(detail)) => {
                return SendResult::Delivered {
                    status: None,
                    detail,
                };
            }
            Err(e) => return reading_failed(e),
        };
    }
    let target = match channels::target(&app.keyring, channel) {
        Ok(t) => t,
        Err(e) => {
            return SendResult::Failed {
                status: None,
                error: e.to_string(),
            };
        }
    };
    let keys = app.signing_keys();
    let ctx = SendContext {
        now,
        signer: &keys.current,
        http: &app.http,
    };
    senders::send(&target, &n, &ctx).await
}

/// A PagerDuty trigger without the certificates replaced or deleted since it was enqueued:
/// their incidents were resolved by then (`cert.reimported`, `cert.renewed`, `cert.deleted`),
/// and a trigger retried after the resolve went out would open them again. `Err` with what to
/// record when nothing is left to send.
async fn still_paging(
    app: &App,
    mut n: Notification,
) -> Result<std::result::Result<Notification, String>> {
    if !senders::pagerduty::triggers(n.event) {
        return Ok(Ok(n));
    }
    let ids: Vec<Uuid> = n.certificates.iter().map(|c| c.id).collect();
    let current: HashMap<Uuid, CertificateRecord> = app
        .store
        .certificates_by_ids(&ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    n.certificates.retain(|c| {
        current
            .get(&c.id)
            .is_some_and(|r| r.deleted_at.is_none() && r.current_version == c.version)
    });
    if n.certificates.is_empty() {
        return Ok(Err(
            "nothing sent: the certificates were replaced or deleted since, and their incidents resolved"
                .into(),
        ));
    }
    Ok(Ok(n))
}

/// Deliver what is due at `now`: claim batches under `owner`'s lease, send them concurrently
/// while renewing the lease, record each outcome; until nothing due is left. The clock moves
/// on from `now` with the time the round takes, so that a long round's later claims, leases,
/// signatures and retry times are not stamped with its start.
pub async fn deliver_due(app: &App, owner: &str, now: OffsetDateTime) -> Result<DeliveryReport> {
    let started = std::time::Instant::now();
    // A worker holds what it claimed for `lease`, and renews that every third of it while it
    // still sends, however long slow receivers take: only a worker that died gives its
    // deliveries over to another.
    let lease = app.policy.delivery_lease;
    let heartbeat_every = StdDuration::try_from(lease / 3).unwrap_or(StdDuration::from_secs(1));
    let clock = || crate::jobs::round_clock(now, started);
    let mut report = DeliveryReport::default();
    loop {
        // Read for each batch, so that a channel edited or disabled meanwhile is seen.
        let mut channels: HashMap<Uuid, Option<ChannelRecord>> = HashMap::new();
        let at = clock();
        let claimed = app
            .store
            .outbox_claim(owner, at, at + lease, CLAIM_BATCH)
            .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        for o in &claimed {
            if let std::collections::hash_map::Entry::Vacant(slot) = channels.entry(o.channel_id) {
                slot.insert(app.store.channel_get(o.channel_id).await?);
            }
        }
        // A key rotated on another replica signs from the next batch on.
        if let Err(e) = app.refresh_signing_keys().await {
            tracing::warn!(error = %e, "cannot reload the webhook signing keys");
        }
        let ids: Vec<Uuid> = claimed.iter().map(|o| o.id).collect();
        use futures_util::StreamExt;
        let channels_ref = &channels;
        let sends = futures_util::stream::iter(claimed)
            .map(|o| async move {
                let ch = channels_ref.get(&o.channel_id).and_then(Option::as_ref);
                let r = attempt(app, ch, &o, clock()).await;
                (o, r, clock())
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<(OutboxRecord, SendResult, OffsetDateTime)>>();
        let heartbeat = async {
            loop {
                tokio::time::sleep(heartbeat_every).await;
                let t = clock();
                if let Err(e) = app.store.outbox_extend_leases(owner, &ids, t + lease).await {
                    tracing::warn!(error = %e, "cannot renew the lease of deliveries being sent");
                }
            }
        };
        let results = tokio::select! {
            results = sends => results,
            never = heartbeat => match never {},
        };
        let mut tx = app.store.begin_write().await?;
        let mut about = Vec::new();
        for (o, r, done) in &results {
            let u = after_attempt(o, r, *done);
            if app.store.outbox_finish(&mut tx, owner, o.id, &u).await? {
                if let Some((certs, _)) = stored_outline(&o.payload) {
                    about.extend(certs.into_iter().map(|c| (c, o.id, *done)));
                }
                match u.status {
                    STATUS_DELIVERED => report.delivered += 1,
                    STATUS_FAILED => report.failed += 1,
                    _ => report.retrying += 1,
                }
            }
        }
        app.store
            .notification_certificates_insert(&mut tx, &about)
            .await?;
        tx.commit().await?;
    }
}

/// Sleep until the next poll, or until something is enqueued in this process.
pub async fn wait_for_work(app: &App, poll: StdDuration) {
    let _ = tokio::time::timeout(poll, app.delivery_wakeup.notified()).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn stored(refs: Vec<StoredRef>, threshold: Option<&str>) -> StoredRefs {
        StoredRefs {
            id: Uuid::nil(),
            event: EventType::CertExpiring,
            time: OffsetDateTime::UNIX_EPOCH,
            channel: ChannelRef {
                id: Uuid::nil(),
                name: "ops".into(),
            },
            summary: "s".into(),
            threshold: threshold.map(str::to_string),
            refs,
        }
    }

    #[test]
    fn references_are_stored_compactly_and_read_back() {
        let id = Uuid::parse_str("0193a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b").unwrap();
        let r = CertRef { id, version: 12 };
        let json = serde_json::to_value(Stored::Refs(stored(
            vec![StoredRef::Compact(r)],
            Some("30d"),
        )))
        .unwrap();
        assert_eq!(
            json["refs"],
            serde_json::json!(["0193a5b27c1d7e3f8a9b0c1d2e3f4a5b:12"])
        );
        assert_eq!(json["threshold"], "30d");
        let back: Stored = serde_json::from_value(json).unwrap();
        let Stored::Refs(back) = back else {
            panic!("read back as a full notification")
        };
        assert_eq!(back.threshold.as_deref(), Some("30d"));
        assert!(matches!(back.refs[..], [StoredRef::Compact(c)] if c == r));
        // A hundred references take under 40 bytes each (objects took ~65).
        let mut big = stored(vec![], Some("90d"));
        big.channel.name = "n".repeat(100);
        big.summary = "100 certificates expire soon (threshold 90d; the first in 89 days)".into();
        big.refs = (0..MAX_PER_DELIVERY)
            .map(|_| {
                StoredRef::Compact(CertRef {
                    id: Uuid::now_v7(),
                    version: 99,
                })
            })
            .collect();
        let len = serde_json::to_string(&Stored::Refs(big)).unwrap().len();
        assert!(len < MAX_PER_DELIVERY * 40 + 500, "{len} bytes");
    }

    #[test]
    fn references_written_by_earlier_versions_keep_their_threshold() {
        let old = r#"{"id":"00000000-0000-0000-0000-000000000000","type":"cert.expiring",
            "time":"2026-01-01T00:00:00Z","channel":{"id":"00000000-0000-0000-0000-000000000000",
            "name":"ops"},"summary":"s","refs":[{"id":"0193a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b",
            "version":3,"threshold":"10%"},{"id":"0193a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5c","version":1}]}"#;
        let Stored::Refs(r) = serde_json::from_str::<Stored>(old).unwrap() else {
            panic!("read as a full notification")
        };
        assert_eq!(r.threshold, None);
        match &r.refs[0] {
            StoredRef::Object {
                version, threshold, ..
            } => assert_eq!((*version, threshold.as_deref()), (3, Some("10%"))),
            StoredRef::Compact(_) => panic!("an object reference read as compact"),
        }
        assert_eq!(r.refs[1].cert().version, 1);
        assert_eq!(
            stored_outline(old).unwrap().0,
            vec![
                Uuid::parse_str("0193a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5b").unwrap(),
                Uuid::parse_str("0193a5b2-7c1d-7e3f-8a9b-0c1d2e3f4a5c").unwrap()
            ]
        );
    }

    #[test]
    fn a_malformed_reference_is_refused() {
        for bad in [
            "\"nonsense\"",
            "\"0193a5b27c1d7e3f8a9b0c1d2e3f4a5b:x\"",
            "\"zz:1\"",
        ] {
            assert!(serde_json::from_str::<CertRef>(bad).is_err(), "{bad}");
        }
    }
}
