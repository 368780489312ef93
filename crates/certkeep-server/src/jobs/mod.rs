//! Scheduled work. Each job is `run_once(&app, now)`; the loop around it is thin, so tests call
//! `run_once` with chosen times. Purging is idempotent, so replicas may run it side by side.

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

/// Run the jobs until `shutdown` turns true.
pub async fn run(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
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
