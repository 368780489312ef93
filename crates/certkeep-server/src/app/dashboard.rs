//! The dashboard use-case: live certificates by status, expiries per week, and the soonest to
//! expire; one read, audited as `certificate.dashboard`.

use certkeep_api::{CertificateMetadata, Role};
use serde_json::json;
use time::OffsetDateTime;
use tracing::instrument;

use super::{App, RequestCtx};
use crate::error::Result;
use crate::store::{CertificateFilter, ExpiryCounts, ListOrder};

pub const CERTIFICATE_DASHBOARD: &str = "certificate.dashboard";

/// Weeks shown on the expiry timeline.
pub const TIMELINE_WEEKS: u32 = 13;
/// Certificates listed as expiring soonest.
pub const SOONEST: u32 = 20;

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub now: OffsetDateTime,
    pub counts: ExpiryCounts,
    /// The live, unexpired certificates that expire first.
    pub soonest: Vec<CertificateMetadata>,
    /// Ordered certificates whose renewal keeps failing.
    pub renewal_failing: i64,
}

impl App {
    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn certificate_dashboard(&self, ctx: &RequestCtx) -> Result<Dashboard> {
        let p = self.authenticate(ctx, CERTIFICATE_DASHBOARD, None).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "reading the dashboard")?;
            let now = ctx.now.unix_timestamp();
            let window_end = (ctx.now + self.policy.expiring_window).unix_timestamp();
            let counts = self
                .store
                .certificate_expiry_counts(p.group.as_deref(), now, window_end, TIMELINE_WEEKS)
                .await?;
            let soonest = self
                .store
                .certificate_list(&CertificateFilter {
                    scope_group: p.group.clone(),
                    not_after_min: Some(now),
                    order: ListOrder::NotAfterAsc,
                    limit: SOONEST,
                    ..CertificateFilter::default()
                })
                .await?;
            let renewal_failing = self.store.renewal_failing_count(p.group.as_deref()).await?;
            Ok(Dashboard {
                now: ctx.now,
                counts,
                renewal_failing,
                soonest: soonest
                    .iter()
                    .map(|r| self.to_metadata(r, ctx.now))
                    .collect(),
            })
        }
        .await;
        self.finish_read(ctx, &p, CERTIFICATE_DASHBOARD, None, result, json!({}))
            .await
    }
}
