//! The chain of a certificate's current version, certificate by certificate: what the detail
//! page of the web UI shows. Audited as a `certificate.read`.

use certkeep_api::Role;
use serde_json::json;
use time::OffsetDateTime;
use tracing::instrument;
use uuid::Uuid;

use super::{App, RequestCtx, actions};
use crate::error::Result;
use crate::pki;

/// One certificate of a chain, leaf first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEntry {
    pub subject: String,
    pub issuer: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub is_ca: bool,
}

impl App {
    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_chain(&self, ctx: &RequestCtx, id: Uuid) -> Result<Vec<ChainEntry>> {
        const ACTION: &str = actions::CERTIFICATE_READ;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "reading a certificate")?;
            let rec = self.visible_certificate(&p, id).await?;
            let v = self.load_version(&rec, None).await?;
            std::iter::once(&v.leaf_der)
                .chain(v.chain_der.iter())
                .map(|der| {
                    let i = pki::cert_info(der)?;
                    Ok(ChainEntry {
                        subject: i.subject,
                        issuer: i.issuer,
                        not_before: i.not_before,
                        not_after: i.not_after,
                        is_ca: i.is_ca,
                    })
                })
                .collect()
        }
        .await;
        self.finish_read(
            ctx,
            &p,
            ACTION,
            Some(&target),
            result,
            json!({"chain": true}),
        )
        .await
    }
}
