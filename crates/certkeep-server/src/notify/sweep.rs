//! The expiry sweep: finds, for each channel, the certificates that crossed an expiry threshold
//! or are expired, and enqueues each notice once, whichever replica runs it and however often.
//!
//! Exactly once from positions, without a key per notice. A channel's sweep position
//! (`swept_until`) moves in the transaction that enqueues, and only if no other sweep moved it
//! first (a replica whose lease ran out rolls back). A certificate version takes part once it
//! has *settled*: stored at least `sweep_settle` before the sweep, so that its import has
//! committed on every replica. With `settled(t) = t - sweep_settle`, a run at `now` after one
//! at `last` enqueues:
//! - on a channel's first run: for every settled live certificate the most urgent threshold
//!   already crossed, and `cert.expired` for every expired one (that day's reminder);
//! - for versions settled since the last run (`settled(last) < version_at <= settled(now)`:
//!   each version falls in exactly one run), the most urgent threshold crossed, or
//!   `cert.expired` — new versions may be past a threshold or expired already;
//! - for versions settled before: thresholds crossed in `(last, now]`, and `cert.expired` for
//!   those that expired in `[last, now)` — a moment falls in exactly one window;
//! - at the first run from the channel's hour (UTC) each day: `cert.expired` for every
//!   certificate that was expired and settled when the day's first run started (`day_from`);
//!   those that expired or arrived expired since were told when it happened.
//!
//! The paths meet only within one run (a certificate found twice is enqueued once), so a
//! sweep that finds half a million certificates due writes half a million references and
//! nothing else; the outbox renders each delivery when it sends it.

use std::collections::{BTreeMap, HashMap};

use time::{OffsetDateTime, Time};
use uuid::Uuid;

use super::channels;
use super::event::EventType;
use super::outbox::{self, CertRef};
use crate::app::App;
use crate::domain::notification::{self, Threshold};
use crate::error::Result;
use crate::store::{CertificateFilter, ChannelRecord, DueCandidate, PercentWindow};

/// What one sweep enqueued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub channels: usize,
    /// Certificate notices enqueued (a delivery carries up to 100).
    pub notices: usize,
    pub deliveries: usize,
}

/// One channel's run: the moments that bound what it looks at.
struct Run<'a> {
    channel: &'a ChannelRecord,
    now: OffsetDateTime,
    /// Versions stored up to here have settled.
    settled: i64,
    /// The previous run's position and settled bound; `None` on the channel's first run.
    last: Option<(OffsetDateTime, i64)>,
}

impl Run<'_> {
    /// The live certificates in the channel's scope that match `f`.
    async fn candidates(&self, app: &App, mut f: CertificateFilter) -> Result<Vec<DueCandidate>> {
        f.scope_group = self.channel.scope_group.clone();
        f.labels = self
            .channel
            .scope_labels
            .iter()
            .map(|(k, v)| crate::domain::LabelFilter {
                key: k.clone(),
                value: Some(v.clone()),
            })
            .collect();
        app.store.certificate_due_candidates(&f).await
    }

    /// `f` limited to versions that had settled before the previous run (all settled ones
    /// on a first run).
    fn settled_before(&self, f: CertificateFilter) -> CertificateFilter {
        CertificateFilter {
            version_until: Some(self.last.map_or(self.settled, |(_, s)| s)),
            ..f
        }
    }

    /// Versions that settled since the previous run.
    fn newly_settled(&self) -> Option<CertificateFilter> {
        let (_, before) = self.last?;
        Some(CertificateFilter {
            version_after: Some(before),
            version_until: Some(self.settled),
            ..CertificateFilter::default()
        })
    }
}

/// `cert.expiring` notices due: certificate and threshold, by id.
async fn expiring_due(
    app: &App,
    run: &Run<'_>,
) -> Result<HashMap<Uuid, (DueCandidate, Threshold)>> {
    let thresholds: Vec<Threshold> = run
        .channel
        .thresholds
        .iter()
        .filter_map(|t| Threshold::parse(t).ok())
        .collect();
    let now_s = run.now.unix_timestamp();
    let furthest_days = thresholds
        .iter()
        .filter_map(|t| match t {
            Threshold::Days(n) => Some(i64::from(*n)),
            Threshold::Percent(_) => None,
        })
        .max();
    // Crossed a days threshold by now: not expired, and within the furthest one.
    let crossed_days = |days: i64| CertificateFilter {
        not_after_min: Some(now_s),
        not_after_max_excl: Some(now_s + days * 86_400 + 1),
        ..CertificateFilter::default()
    };
    let mut filters = Vec::new();
    match run.last {
        // First run: everything already crossed.
        None => filters.extend(furthest_days.map(crossed_days)),
        // Crossed in (last, now].
        Some((last, _)) => {
            for t in &thresholds {
                if let Threshold::Days(n) = *t {
                    let d = i64::from(n) * 86_400;
                    filters.push(CertificateFilter {
                        not_after_min: Some((last.unix_timestamp() + d + 1).max(now_s)),
                        not_after_max_excl: Some(now_s + d + 1),
                        ..CertificateFilter::default()
                    });
                }
            }
        }
    }
    for t in &thresholds {
        if let Threshold::Percent(p) = *t {
            filters.push(CertificateFilter {
                percent_window: Some(PercentWindow {
                    percent: p,
                    now: now_s,
                    after: run.last.map(|(l, _)| l.unix_timestamp()),
                }),
                ..CertificateFilter::default()
            });
        }
    }
    let mut found = Vec::new();
    for f in filters {
        found.extend(run.candidates(app, run.settled_before(f)).await?);
    }
    if let Some(f) = run.newly_settled() {
        // Only those not expired, and within the furthest threshold unless a percentage one
        // (of any lifetime) may be crossed: after a bulk import this reads the due part of
        // the inventory, not all of it.
        let percent = thresholds
            .iter()
            .any(|t| matches!(t, Threshold::Percent(_)));
        let f = CertificateFilter {
            not_after_min: Some(now_s),
            not_after_max_excl: furthest_days
                .filter(|_| !percent)
                .and_then(|days| crossed_days(days).not_after_max_excl),
            ..f
        };
        found.extend(run.candidates(app, f).await?);
    }
    let mut out = HashMap::new();
    for c in found {
        if let Some(t) =
            notification::due_threshold(&thresholds, c.not_before, c.not_after, run.now)
        {
            out.insert(c.id, (c, t));
        }
    }
    Ok(out)
}

/// The daily reminder moment of `channel` on the day of `now`.
fn reminder_at(channel: &ChannelRecord, now: OffsetDateTime) -> OffsetDateTime {
    let hour = Time::from_hms(channel.expired_hour.min(23), 0, 0).unwrap_or(Time::MIDNIGHT);
    now.replace_time(hour)
}

/// Days since 1970-01-01 of `t` (UTC).
fn day_number(t: OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(86_400)
}

/// `cert.expired` notices due, by id; and whether this run is (or stands for) the day's
/// reminder.
async fn expired_due(
    app: &App,
    run: &Run<'_>,
    day_from: OffsetDateTime,
) -> Result<(HashMap<Uuid, DueCandidate>, bool)> {
    let now_s = run.now.unix_timestamp();
    let expired = CertificateFilter {
        not_after_max_excl: Some(now_s),
        ..CertificateFilter::default()
    };
    let mut out = HashMap::new();
    let Some((last, _)) = run.last else {
        for c in run.candidates(app, run.settled_before(expired)).await? {
            out.insert(c.id, c);
        }
        return Ok((out, true));
    };
    let since_last = CertificateFilter {
        not_after_min: Some(last.unix_timestamp()),
        not_after_max_excl: Some(now_s),
        ..CertificateFilter::default()
    };
    for c in run.candidates(app, run.settled_before(since_last)).await? {
        out.insert(c.id, c);
    }
    if let Some(f) = run.newly_settled() {
        let f = CertificateFilter {
            not_after_max_excl: Some(now_s),
            ..f
        };
        for c in run.candidates(app, f).await? {
            out.insert(c.id, c);
        }
    }
    let today = day_number(run.now);
    let reminder_due = run.now >= reminder_at(run.channel, run.now)
        && run.channel.reminded_on.is_none_or(|d| d < today);
    if reminder_due {
        // Expired and settled when the day's first run started.
        let from = day_from.unix_timestamp();
        let f = CertificateFilter {
            not_after_max_excl: Some(from),
            version_until: Some(from - app.policy.sweep_settle.whole_seconds()),
            ..CertificateFilter::default()
        };
        for c in run.candidates(app, f).await? {
            out.insert(c.id, c);
        }
    }
    Ok((out, reminder_due))
}

/// Sweep one channel at `now`: decide on what the database holds, then enqueue in one
/// transaction that also moves the channel's sweep position.
async fn sweep_channel(
    app: &App,
    channel: &ChannelRecord,
    now: OffsetDateTime,
) -> Result<(usize, usize)> {
    let settle = app.policy.sweep_settle.whole_seconds();
    let run = Run {
        channel,
        now,
        settled: now.unix_timestamp() - settle,
        last: channel
            .swept_until
            .map(|l| (l, l.unix_timestamp() - settle)),
    };
    let today = day_number(now);
    // Where the day started: kept from the day's first run (this one if the last was earlier).
    let day_from = match (channel.swept_until, channel.day_from) {
        (Some(last), Some(from)) if day_number(last) == today => from,
        (Some(last), _) => last,
        (None, _) => now,
    };
    let mut next = ChannelRecord {
        swept_until: Some(now),
        day_from: Some(day_from),
        ..channel.clone()
    };
    // Certificates due, by event and threshold.
    // The two lookups read through separate reader connections side by side.
    let expiring = async {
        if channels::wants(channel, EventType::CertExpiring) {
            expiring_due(app, &run).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let expired = async {
        if channels::wants(channel, EventType::CertExpired) {
            expired_due(app, &run, day_from).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (expiring, expired) = tokio::try_join!(expiring, expired)?;
    let mut groups: BTreeMap<(EventType, Option<Threshold>), Vec<DueCandidate>> = BTreeMap::new();
    for (c, t) in expiring.into_iter().flat_map(HashMap::into_values) {
        groups
            .entry((EventType::CertExpiring, Some(t)))
            .or_default()
            .push(c);
    }
    if let Some((due, reminded)) = expired {
        if reminded {
            next.reminded_on = Some(today);
        }
        groups
            .entry((EventType::CertExpired, None))
            .or_default()
            .extend(due.into_values());
    }

    let mut tx = app.store.begin_write().await?;
    if !app.store.channel_set_swept(&mut tx, channel, &next).await? {
        // Another replica swept this channel meanwhile; what it enqueued stands.
        return Ok((0, 0));
    }
    let mut notices = 0;
    let mut deliveries = 0;
    for ((event, threshold), mut list) in groups {
        list.sort_by_key(|c| (c.not_after, c.id));
        let refs: Vec<(CertRef, i64)> = list
            .into_iter()
            .map(|c| {
                let r = CertRef {
                    id: c.id,
                    version: c.version,
                };
                (r, notification::days_left(c.not_after, now))
            })
            .collect();
        notices += refs.len();
        deliveries +=
            outbox::enqueue_refs(app, &mut tx, channel, event, threshold, &refs, now).await?;
    }
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
    Ok(report)
}
