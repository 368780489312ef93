//! Scheduled work. Each job is `run_once(&app, now)`; the loops around them are thin, so tests
//! call `run_once` with chosen times. Jobs that must run on one replica at a time take a lease
//! in the database; the work itself is safe to repeat besides (sweep positions moved only if
//! unchanged, leased outbox rows), so an expired lease taken over mid-run does no harm.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::app::{App, RequestCtx};
use crate::error::Result;

/// Purge certificates whose soft-delete retention ended before `now`.
pub mod purge_deleted_job {
    use super::*;

    pub async fn run_once(app: &App, now: OffsetDateTime) -> Result<usize> {
        let ctx = RequestCtx {
            request_id: format!("job:purge_deleted:{}", uuid::Uuid::now_v7()),
            bearer: None,
            now,
        };
        app.purge_expired_deletions(&ctx).await
    }
}

/// A job round's clock: the `now` it was given, moved on by the time really passed since the
/// round began at `started`. Rounds that last (slow receivers, an hour of DNS waiting) stamp
/// later leases and events with when they happen, not with the round's start.
pub(crate) fn round_clock(now: OffsetDateTime, started: std::time::Instant) -> OffsetDateTime {
    now + time::Duration::try_from(started.elapsed()).unwrap_or(time::Duration::ZERO)
}

/// Find expiring and expired certificates and enqueue their notifications, on one replica.
pub mod expiry_sweep_job {
    use super::*;
    use crate::notify::sweep::{self, SweepReport};

    const LEASE_NAME: &str = "expiry_sweep";
    const LEASE: time::Duration = time::Duration::minutes(2);

    /// `None` when another replica holds the sweep's lease.
    pub async fn run_once(app: &App, now: OffsetDateTime) -> Result<Option<SweepReport>> {
        if !app
            .store
            .lease_acquire(LEASE_NAME, &app.instance_id, now, now + LEASE)
            .await?
        {
            return Ok(None);
        }
        let report = sweep::sweep(app, now).await;
        app.store
            .lease_release(LEASE_NAME, &app.instance_id)
            .await?;
        report.map(Some)
    }
}

/// Deliver due notifications from the outbox. Every replica runs it; rows are leased.
pub mod delivery_job {
    use super::*;
    use crate::notify::outbox::{self, DeliveryReport};

    pub async fn run_once(app: &App, now: OffsetDateTime) -> Result<DeliveryReport> {
        outbox::deliver_due(app, &app.instance_id, now).await
    }
}

/// Run the unfinished ACME orders, each on one replica at a time (a lease per order). The
/// replica running an order renews its lease every third of the lease's length while it works
/// (a DNS propagation wait may take an hour, far longer than the lease), so the lease lapses
/// only when the replica died or lost the database; a run that finds its lease taken over
/// stops, removes its DNS records and records nothing: the end of a run is written only in a
/// transaction that checks the lease is still its own.
pub mod order_job {
    use super::*;
    use crate::app::{OrderLease, OrderRun};

    /// The name of the lease on order `id` in the job leases.
    pub fn lease_name(id: uuid::Uuid) -> String {
        format!("acme_order:{id}")
    }

    /// Orders taken up per round, run at the same time.
    const BATCH: u32 = 32;
    /// Orders of one ACME account in flight at once from this replica: the CA sees a steady
    /// trickle, not a burst.
    const PER_ACCOUNT: usize = 4;

    /// What one round did.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct OrderReport {
        pub issued: usize,
        pub failed: usize,
        /// Manual DNS-01 orders now waiting for their records.
        pub awaiting_dns: usize,
        /// Interrupted by something that passes; they run again next round.
        pub retrying: usize,
        /// Over their account's hourly budget: they wait for a later round.
        pub waiting: usize,
        /// Held by another replica, or finished meanwhile.
        pub skipped: usize,
        /// Taken over by another replica while this one ran it, or stopped at shutdown:
        /// nothing recorded.
        pub lease_lost: usize,
    }

    /// Renew lease `name` (taken at `start` for `lease`) every third of `lease` until it is
    /// lost: another owner holds it, or renewing failed for so long that it may lapse before
    /// the next try. Returns then, and never otherwise.
    async fn keep_lease(app: &App, name: &str, start: OffsetDateTime, lease: time::Duration) {
        let began = std::time::Instant::now();
        let every: std::time::Duration = (lease / 3_i32).unsigned_abs();
        let mut held_until = start + lease;
        loop {
            tokio::time::sleep(every).await;
            // The round's `now` moved on by the time that really passed.
            let now = round_clock(start, began);
            match app
                .store
                .lease_acquire(name, &app.instance_id, now, now + lease)
                .await
            {
                Ok(true) => held_until = now + lease,
                Ok(false) => {
                    tracing::warn!(
                        lease = name,
                        "another replica took the order's lease over; stopping"
                    );
                    break;
                }
                Err(e) if now + every < held_until => {
                    tracing::warn!(lease = name, error = %e, "cannot renew the order's lease; trying again");
                }
                Err(e) => {
                    tracing::warn!(lease = name, error = %e, "cannot renew the order's lease before it lapses; stopping");
                    break;
                }
            }
        }
    }

    enum Round {
        Ran(OrderRun),
        Waiting,
        Skipped,
    }

    /// Take up the unfinished orders (those not already running in this process) and run
    /// them, at most `PER_ACCOUNT` per account at once in this process; returns once they are
    /// done. Rounds may overlap: the scheduler does not wait for one before the next.
    pub async fn run_once(app: &App, now: OffsetDateTime) -> Result<OrderReport> {
        let orders = app.store.orders_unfinished(BATCH).await?;
        let budget = app.policy.acme.orders_per_account_per_hour;
        let lease_len = app.policy.acme.order_lease;
        let runs = orders.iter().map(|o| {
            let crate::app::AccountGate { slots, start } =
                app.order_runs.gate(o.account_id, PER_ACCOUNT);
            async move {
                let Some(_claim) = app.order_runs.claim(o.id) else {
                    return Ok(Round::Skipped);
                };
                let _slot = slots.acquire_owned().await.map_err(|e| {
                    crate::error::Error::Internal(format!("order slots closed: {e}"))
                })?;
                let lease = lease_name(o.id);
                {
                    let _starting = start.lock().await;
                    let started = app
                        .store
                        .orders_started_since(o.account_id, now - time::Duration::hours(1))
                        .await?;
                    if started >= budget {
                        return Ok(Round::Waiting);
                    }
                    if !app
                        .store
                        .lease_acquire(&lease, &app.instance_id, now, now + lease_len)
                        .await?
                        || !app.store.order_start(o.id, now).await?
                    {
                        return Ok(Round::Skipped);
                    }
                }
                let (lost_tx, lost) = watch::channel(false);
                let held = OrderLease {
                    name: lease.clone(),
                    lost,
                };
                let mut stopping = app.order_runs.stopping();
                let until_lost = async {
                    tokio::select! {
                        () = keep_lease(app, &lease, now, lease_len) => {}
                        _ = stopping.wait_for(|stop| *stop) => {
                            tracing::info!(order_id = %o.id, "shutting down: the order stops and is taken up again");
                        }
                    }
                    let _ = lost_tx.send(true);
                };
                let run = {
                    let work = app.order_run(o, now, &held);
                    tokio::pin!(work);
                    tokio::select! {
                        r = &mut work => r,
                        // Lost: the run sees it, winds down (its DNS records removed) and ends.
                        () = until_lost => work.await,
                    }
                };
                // Only if still ours: a lease taken over stays with its new holder.
                app.store.lease_release(&lease, &app.instance_id).await?;
                run.map(Round::Ran)
            }
        });
        let mut report = OrderReport::default();
        for r in futures_util::future::join_all(runs).await {
            match r? {
                Round::Ran(OrderRun::Issued(_)) => report.issued += 1,
                Round::Ran(OrderRun::Failed) => report.failed += 1,
                Round::Ran(OrderRun::AwaitingDns) => report.awaiting_dns += 1,
                Round::Ran(OrderRun::Retrying) => report.retrying += 1,
                Round::Ran(OrderRun::LeaseLost) => report.lease_lost += 1,
                Round::Waiting => report.waiting += 1,
                Round::Skipped => report.skipped += 1,
            }
        }
        Ok(report)
    }
}

/// Start the automatic renewals that are due, on one replica at a time; the order job runs them.
/// Renewal information (RFC 9773) is asked for first where the CA offers it.
pub mod renewal_job {
    use super::*;

    const LEASE_NAME: &str = "acme_renewal";
    const LEASE: time::Duration = time::Duration::minutes(2);
    /// Renewals started per round at most; the rest wait for the next round.
    const BATCH: u32 = 500;

    /// How many renewals were started; `None` when another replica holds the lease.
    pub async fn run_once(app: &App, now: OffsetDateTime) -> Result<Option<usize>> {
        if !app
            .store
            .lease_acquire(LEASE_NAME, &app.instance_id, now, now + LEASE)
            .await?
        {
            return Ok(None);
        }
        let ctx = RequestCtx {
            request_id: format!("job:renewal:{}", uuid::Uuid::now_v7()),
            bearer: None,
            now,
        };
        // The CA's renewal information first: it may bring renewals forward.
        if let Err(e) = app.renewal_info_check_due(now, BATCH).await {
            tracing::warn!(error = %e, "renewal information checks failed; renewing by the certificate's own dates");
        }
        let started = app.renewals_start_due(&ctx, BATCH).await;
        app.store
            .lease_release(LEASE_NAME, &app.instance_id)
            .await?;
        started.map(Some)
    }
}

async fn order_loop(app: Arc<App>, poll: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let now = OffsetDateTime::now_utc();
                match renewal_job::run_once(&app, now).await {
                    Ok(Some(n)) if n > 0 => tracing::info!(started = n, "renewal_job started renewals"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "renewal_job failed; retrying next tick"),
                }
                // Each round runs on its own: an order waiting an hour for DNS holds up no
                // later round (they leave the orders running here alone).
                let app = app.clone();
                rounds.spawn(async move {
                    match order_job::run_once(&app, now).await {
                        Ok(r) if r.issued + r.failed > 0 => tracing::info!(issued = r.issued, failed = r.failed, "order_job round"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "order_job failed; retrying next tick"),
                    }
                });
                while rounds.try_join_next().is_some() {}
            }
            _ = shutdown.changed() => {
                // Running orders stop, remove their records and release their leases.
                app.order_runs.stop();
                while rounds.join_next().await.is_some() {}
                return;
            }
        }
    }
}

async fn purge_loop(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match purge_deleted_job::run_once(&app, OffsetDateTime::now_utc()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(purged = n, "purge_deleted_job removed certificates past retention"),
                    Err(e) => tracing::warn!(error = %e, "purge_deleted_job failed; retrying next hour"),
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn sweep_loop(app: Arc<App>, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                match expiry_sweep_job::run_once(&app, OffsetDateTime::now_utc()).await {
                    Ok(Some(r)) if r.notices > 0 => tracing::info!(notices = r.notices, deliveries = r.deliveries, "expiry_sweep_job enqueued notifications"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "expiry_sweep_job failed; retrying next tick"),
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn delivery_loop(app: Arc<App>, poll: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        match delivery_job::run_once(&app, OffsetDateTime::now_utc()).await {
            Ok(r) if r.attempts() > 0 => tracing::debug!(
                delivered = r.delivered,
                retrying = r.retrying,
                failed = r.failed,
                "delivery_job round"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "delivery_job failed; retrying"),
        }
        tokio::select! {
            () = crate::notify::outbox::wait_for_work(&app, poll) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How often the background jobs run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Run no background jobs at all (tests drive `run_once` themselves).
    pub manual: bool,
    pub sweep_every: Duration,
    pub delivery_poll: Duration,
    /// How often unfinished ACME orders are looked for.
    pub order_poll: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            manual: false,
            sweep_every: Duration::from_secs(300),
            delivery_poll: Duration::from_secs(2),
            order_poll: Duration::from_secs(2),
        }
    }
}

impl Schedule {
    pub fn manual() -> Schedule {
        Schedule {
            manual: true,
            ..Schedule::default()
        }
    }
}

/// Run the jobs until `shutdown` turns true.
pub async fn run(app: Arc<App>, schedule: Schedule, shutdown: watch::Receiver<bool>) {
    if schedule.manual {
        return;
    }
    tokio::join!(
        purge_loop(app.clone(), shutdown.clone()),
        sweep_loop(app.clone(), schedule.sweep_every, shutdown.clone()),
        order_loop(app.clone(), schedule.order_poll, shutdown.clone()),
        delivery_loop(app, schedule.delivery_poll, shutdown),
    );
}
