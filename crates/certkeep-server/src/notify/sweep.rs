//! The expiry sweep: finds, for each channel, the certificates that crossed an expiry threshold
//! or are expired, and enqueues each (channel, certificate version, event, threshold or day)
//! once, whichever replica runs it and however often. Each run looks at what happened since
//! the channel's previous sweep (`swept_until`), plus certificates changed since then; a
//! channel's first sweep looks at everything currently due.

use std::collections::{BTreeMap, HashMap};

use time::{Duration, OffsetDateTime, Time};

use super::channels;
use super::event::EventType;
use super::outbox;
use crate::app::App;
use crate::domain::notification::{self, Threshold};
use crate::error::Result;
use crate::store::{
    CertificateFilter, CertificateRecord, ChannelRecord, DueCandidate, PercentWindow, WriteTx,
};
use uuid::Uuid;

/// How long past its certificate's expiry an expiring-notice key is kept, and a daily
/// expired-reminder key past its day.
const DEDUP_GRACE: Duration = Duration::days(2);

/// What one sweep enqueued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub channels: usize,
    /// Certificate notices enqueued (a delivery carries up to 100).
    pub notices: usize,
    pub deliveries: usize,
}

/// The live certificates in `channel`'s scope that match `f`, added to `out` by id.
async fn candidates(
    app: &App,
    channel: &ChannelRecord,
    mut f: CertificateFilter,
    out: &mut HashMap<Uuid, DueCandidate>,
) -> Result<()> {
    f.scope_group = channel.scope_group.clone();
    f.labels = channel
        .scope_labels
        .iter()
        .map(|(k, v)| crate::domain::LabelFilter {
            key: k.clone(),
            value: Some(v.clone()),
        })
        .collect();
    for c in app.store.certificate_due_candidates(&f).await? {
        out.insert(c.id, c);
    }
    Ok(())
}

/// Certificates that may have a `cert.expiring` notice due for `channel` at `now`.
async fn expiring_candidates(
    app: &App,
    channel: &ChannelRecord,
    thresholds: &[Threshold],
    now: OffsetDateTime,
) -> Result<HashMap<Uuid, DueCandidate>> {
    let mut out = HashMap::new();
    let now_s = now.unix_timestamp();
    let last = channel.swept_until.map(OffsetDateTime::unix_timestamp);
    for t in thresholds {
        let f = match (*t, last) {
            // Crossed in (last, now]: not_after - n days in (last, now].
            (Threshold::Days(n), Some(l)) => {
                let d = i64::from(n) * 86_400;
                CertificateFilter {
                    not_after_min: Some((l + d + 1).max(now_s)),
                    not_after_max_excl: Some(now_s + d + 1),
                    ..CertificateFilter::default()
                }
            }
            (Threshold::Days(n), None) => CertificateFilter {
                not_after_min: Some(now_s),
                not_after_max_excl: Some(now_s + i64::from(n) * 86_400 + 1),
                ..CertificateFilter::default()
            },
            (Threshold::Percent(p), l) => CertificateFilter {
                percent_window: Some(PercentWindow {
                    percent: p,
                    now: now_s,
                    after: l,
                }),
                ..CertificateFilter::default()
            },
        };
        candidates(app, channel, f, &mut out).await?;
    }
    // Imported or replaced since the last sweep: may be inside a window already. (Only the
    // updated_at condition, so the query uses its index; expired ones are dropped later.)
    if let Some(l) = last {
        let f = CertificateFilter {
            updated_after: Some(l - 1),
            ..CertificateFilter::default()
        };
        candidates(app, channel, f, &mut out).await?;
    }
    Ok(out)
}

/// The daily reminder moment of `channel` on the day of `now`.
fn reminder_at(channel: &ChannelRecord, now: OffsetDateTime) -> OffsetDateTime {
    let hour = Time::from_hms(channel.expired_hour.min(23), 0, 0).unwrap_or(Time::MIDNIGHT);
    now.replace_time(hour)
}

/// Record the deduplication keys of `due` and enqueue, for those that were new, one
/// notification per group (at most 100 certificates each).
async fn enqueue_new<G: Ord + Copy>(
    app: &App,
    tx: &mut WriteTx,
    channel: &ChannelRecord,
    event: EventType,
    due: Vec<(String, OffsetDateTime, Uuid, G, Option<Threshold>)>,
    now: OffsetDateTime,
) -> Result<(usize, usize)> {
    if due.is_empty() {
        return Ok((0, 0));
    }
    let keys: Vec<(String, OffsetDateTime)> = due.iter().map(|d| (d.0.clone(), d.1)).collect();
    let fresh = app.store.dedup_insert_many(tx, &keys).await?;
    let due: Vec<_> = due.into_iter().filter(|d| fresh.contains(&d.0)).collect();
    let ids: Vec<Uuid> = due.iter().map(|d| d.2).collect();
    let records: HashMap<Uuid, CertificateRecord> = app
        .store
        .certificates_by_ids(&ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut groups: BTreeMap<G, Vec<_>> = BTreeMap::new();
    for (_, _, id, group, threshold) in &due {
        if let Some(r) = records.get(id) {
            groups.entry(*group).or_default().push(outbox::summary(
                r,
                now,
                &app.policy.public_url,
                *threshold,
            ));
        }
    }
    let mut notices = 0;
    let mut deliveries = 0;
    for (_, mut list) in groups {
        list.sort_by_key(|s| (s.not_after, s.id));
        notices += list.len();
        deliveries += outbox::enqueue(app, tx, channel, event, list, now).await?;
    }
    Ok((notices, deliveries))
}

/// Sweep one channel at `now`, in one transaction.
async fn sweep_channel(
    app: &App,
    channel: &ChannelRecord,
    now: OffsetDateTime,
) -> Result<(usize, usize)> {
    let mut notices = 0;
    let mut deliveries = 0;
    let mut tx = app.store.begin_write().await?;
    if channels::wants(channel, EventType::CertExpiring) {
        let thresholds: Vec<Threshold> = channel
            .thresholds
            .iter()
            .filter_map(|t| Threshold::parse(t).ok())
            .collect();
        let due: Vec<_> = expiring_candidates(app, channel, &thresholds, now)
            .await?
            .into_values()
            .filter_map(|c| {
                let t = notification::due_threshold(&thresholds, c.not_before, c.not_after, now)?;
                let key = format!("{}:{}:{}:cert.expiring:{t}", channel.id, c.id, c.version);
                Some((key, c.not_after + DEDUP_GRACE, c.id, t, Some(t)))
            })
            .collect();
        let (n, d) = enqueue_new(app, &mut tx, channel, EventType::CertExpiring, due, now).await?;
        notices += n;
        deliveries += d;
    }
    if channels::wants(channel, EventType::CertExpired) {
        let now_s = now.unix_timestamp();
        let reminder = reminder_at(channel, now);
        let daily_due = now >= reminder && channel.swept_until.is_none_or(|last| last < reminder);
        let f = match (daily_due, channel.swept_until) {
            // The daily reminder (and a channel's first sweep): every expired certificate.
            (true, _) | (false, None) => CertificateFilter {
                not_after_max_excl: Some(now_s),
                ..CertificateFilter::default()
            },
            // Otherwise only those that expired since the last sweep.
            (false, Some(last)) => CertificateFilter {
                not_after_min: Some(last.unix_timestamp()),
                not_after_max_excl: Some(now_s),
                ..CertificateFilter::default()
            },
        };
        let mut expired = HashMap::new();
        candidates(app, channel, f, &mut expired).await?;
        let day = now.date();
        let due: Vec<_> = expired
            .into_values()
            .map(|c| {
                let key = format!("{}:{}:{}:cert.expired:{day}", channel.id, c.id, c.version);
                (key, now + DEDUP_GRACE, c.id, (), None)
            })
            .collect();
        let (n, d) = enqueue_new(app, &mut tx, channel, EventType::CertExpired, due, now).await?;
        notices += n;
        deliveries += d;
    }
    app.store
        .channel_set_swept(&mut tx, channel.id, now)
        .await?;
    tx.commit().await?;
    Ok((notices, deliveries))
}

/// Sweep every enabled channel that sends expiry events.
pub async fn sweep(app: &App, now: OffsetDateTime) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    for channel in app.store.channels_enabled().await? {
        if !(channels::wants(&channel, EventType::CertExpiring)
            || channels::wants(&channel, EventType::CertExpired))
        {
            continue;
        }
        // A clock that went backwards: nothing new can be due.
        if channel.swept_until.is_some_and(|s| s >= now) {
            continue;
        }
        let (n, d) = sweep_channel(app, &channel, now).await?;
        report.channels += 1;
        report.notices += n;
        report.deliveries += d;
    }
    let mut tx = app.store.begin_write().await?;
    app.store.dedup_prune(&mut tx, now).await?;
    tx.commit().await?;
    Ok(report)
}
