//! The persistent outbox: notifications are written in the transaction of the change (or of
//! the sweep) that makes them due, then delivered by workers holding short leases, retried
//! with backoff for a day, and recorded with their history. Delivery is at least once per
//! (channel, certificate version, event, threshold); the delivery id (the `webhook-id`) never
//! changes across retries, so a receiver can drop the rare repeat after a crash mid-send.

use std::time::Duration as StdDuration;

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
/// How long a worker holds the deliveries it claimed before another may take them over.
const LEASE: Duration = Duration::seconds(60);
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
            "{}/ui/certificates/{}",
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
    let n = certs.len();
    let first = certs.first().map(|c| c.name.as_str()).unwrap_or_default();
    let who = if n == 1 {
        format!("Certificate {first:?}")
    } else {
        format!("{n} {}", plural(n))
    };
    match event {
        EventType::CertExpiring => {
            let days = certs.iter().map(|c| c.days_left).min().unwrap_or_default();
            let threshold = certs
                .first()
                .and_then(|c| c.threshold.clone())
                .unwrap_or_default();
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
        channel: ChannelRef {
            id: channel.id,
            name: channel.name.clone(),
        },
        summary: summary_text(event, &certificates),
        certificates,
    }
}

/// The outbox row of `n`, waiting for its first attempt.
pub fn pending_record(n: &Notification) -> Result<OutboxRecord> {
    Ok(OutboxRecord {
        id: n.id,
        channel_id: n.channel.id,
        event_type: n.event.as_str().to_string(),
        payload: serde_json::to_string(n)
            .map_err(|e| Error::Internal(format!("notification payload: {e}")))?,
        status: STATUS_PENDING.to_string(),
        attempts: 0,
        next_attempt_at: n.time,
        last_error: None,
        last_status_code: None,
        created_at: n.time,
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
            if next - o.created_at > RETRY_FOR {
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
        return SendResult::Failed {
            status: None,
            error: "the channel is disabled".into(),
        };
    }
    let n: Notification = match serde_json::from_str(&o.payload) {
        Ok(n) => n,
        Err(e) => {
            return SendResult::Failed {
                status: None,
                error: format!("stored payload is corrupt: {e}"),
            };
        }
    };
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

/// Deliver what is due at `now`: claim batches under `owner`'s lease, send them concurrently,
/// record each outcome; until nothing due is left.
pub async fn deliver_due(app: &App, owner: &str, now: OffsetDateTime) -> Result<DeliveryReport> {
    let mut report = DeliveryReport::default();
    let mut channels: std::collections::HashMap<Uuid, Option<ChannelRecord>> =
        std::collections::HashMap::new();
    loop {
        let claimed = app
            .store
            .outbox_claim(owner, now, now + LEASE, CLAIM_BATCH)
            .await?;
        if claimed.is_empty() {
            return Ok(report);
        }
        for o in &claimed {
            if let std::collections::hash_map::Entry::Vacant(slot) = channels.entry(o.channel_id) {
                slot.insert(app.store.channel_get(o.channel_id).await?);
            }
        }
        use futures_util::StreamExt;
        let channels_ref = &channels;
        let results: Vec<(OutboxRecord, SendResult)> = futures_util::stream::iter(claimed)
            .map(|o| async move {
                let ch = channels_ref.get(&o.channel_id).and_then(Option::as_ref);
                let r = attempt(app, ch, &o, now).await;
                (o, r)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut tx = app.store.begin_write().await?;
        for (o, r) in &results {
            let u = after_attempt(o, r, now);
            if app.store.outbox_finish(&mut tx, owner, o.id, &u).await? {
                match u.status {
                    STATUS_DELIVERED => report.delivered += 1,
                    STATUS_FAILED => report.failed += 1,
                    _ => report.retrying += 1,
                }
            }
        }
        tx.commit().await?;
    }
}

/// Sleep until the next poll, or until something is enqueued in this process.
pub async fn wait_for_work(app: &App, poll: StdDuration) {
    let _ = tokio::time::timeout(poll, app.delivery_wakeup.notified()).await;
}
