//! Use-cases of certificate orders: a Manager orders, readers follow the order, and the order
//! job runs it: the key is generated here and sealed, the CA validates the domains, and the
//! issued chain becomes an inventory entry (`source: ordered`) exactly as an import would,
//! with `cert.issued` in the same transaction, or the order fails with the CA's reason and
//! `cert.order_failed`.

use std::collections::BTreeSet;

use certkeep_api::{
    AcmeProblem, AuditOutcome, ChallengeType, CreateOrderRequest, DnsRecordInfo, KeyType,
    OrderInfo, OrderList, OrderStatus, RenewCertificateRequest, RenewalInfo, RevocationInfo,
    RevokeCertificateRequest, Role, UpdateRenewalRequest,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tracing::instrument;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::acme::{ProviderConfig, account_context, provider_config, provider_context};
use super::{App, EntryMeta, RequestCtx, actions, key_context, whole_second};
use crate::acme::{self, DnsWriter, Failure, OrderHooks, Solver, dns};
use crate::audit::{self, NewEvent};
use crate::authz::Principal;
use crate::domain;
use crate::domain::renewal;
use crate::error::{Error, Result};
use crate::notify::channels;
use crate::notify::event::{DnsRecordNotice, EventType};
use crate::notify::outbox;
use crate::pki::{self, BundleInput, CertInfo};
use crate::store::{AcmeCertificateRecord, CertificateRecord, OrderOutcome, OrderRecord, WriteTx};

/// Most names in one order (Let's Encrypt's limit).
const MAX_DOMAINS: usize = 100;
/// Most orders one listing returns.
const LIST_LIMIT: u32 = 1000;
/// Runs of one order before it fails for good (each cut short by a crash or a lost lease).
const MAX_ATTEMPTS: u32 = 3;
/// Bounds on how soon renewal information is asked again (the CA's Retry-After within them).
const ARI_MIN_RECHECK: Duration = Duration::minutes(5);
const ARI_MAX_RECHECK: Duration = Duration::hours(24);
const ARI_RETRY_ON_ERROR: Duration = Duration::hours(1);
/// Renewal-information requests in flight at once: thousands of certificates are checked in
/// minutes (well inside the renewal job's lease), and the CA sees a handful at a time.
const ARI_CONCURRENCY: usize = 8;

fn order_info(o: &OrderRecord) -> Result<OrderInfo> {
    let bad = |what: &str| Error::Internal(format!("order {}: stored {what} is unknown", o.id));
    Ok(OrderInfo {
        id: o.id,
        name: o.name.clone(),
        description: o.description.clone(),
        domains: o.domains.clone(),
        key_type: KeyType::parse(&o.key_type).ok_or_else(|| bad("key type"))?,
        account_id: o.account_id,
        challenge: ChallengeType::parse(&o.challenge).ok_or_else(|| bad("challenge"))?,
        dns_provider_id: o.dns_provider_id,
        group: o.group.clone(),
        labels: o.labels.clone(),
        auto_renew: o.auto_renew,
        renews_certificate_id: o.renews_cert_id,
        rekey: o.rekey,
        status: OrderStatus::parse(&o.status).ok_or_else(|| bad("status"))?,
        error: o.error.clone(),
        problem: o
            .problem
            .as_deref()
            .and_then(|p| serde_json::from_str::<AcmeProblem>(p).ok()),
        failed_domain: o.failed_domain.clone(),
        certificate_id: o.cert_id,
        dns_records: o
            .dns_records
            .as_deref()
            .map(serde_json::from_str::<Vec<DnsRecordInfo>>)
            .transpose()
            .map_err(|_| bad("DNS records"))?
            .unwrap_or_default(),
        attempts: o.attempts,
        created_at: o.created_at,
        updated_at: o.updated_at,
        finished_at: o.finished_at,
    })
}

/// Lowercased, checked, deduplicated names; a wildcard only as the whole first label.
fn validate_domains(domains: &[String], challenge: ChallengeType) -> Result<Vec<String>> {
    if domains.is_empty() {
        return Err(Error::InvalidInput("`domains` is empty".into()));
    }
    if domains.len() > MAX_DOMAINS {
        return Err(Error::InvalidInput(format!(
            "`domains` has {} names; an order holds at most {MAX_DOMAINS}",
            domains.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(domains.len());
    for (i, d) in domains.iter().enumerate() {
        let field = format!("domains[{i}]");
        let lower = d.trim().trim_end_matches('.').to_ascii_lowercase();
        let (wildcard, base) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        let labels: Vec<&str> = base.split('.').collect();
        let valid = labels.len() >= 2
            && base.len() <= 253
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(Error::InvalidInput(format!(
                "`{field}` {d:?} is not a DNS name with at least two labels (a wildcard only as `*.` in front)"
            )));
        }
        if wildcard && challenge != ChallengeType::Dns01 {
            return Err(Error::InvalidInput(format!(
                "`{field}` {d:?} is a wildcard; wildcards need `challenge` dns-01"
            )));
        }
        if !seen.insert(lower.clone()) {
            return Err(Error::InvalidInput(format!(
                "`{field}` {d:?} is given twice"
            )));
        }
        out.push(lower);
    }
    Ok(out)
}

/// The entry an order would become, for scoping and describing a failure before there is one.
fn prospective_record(o: &OrderRecord, now: OffsetDateTime) -> CertificateRecord {
    CertificateRecord {
        id: o.id,
        name: o.name.clone(),
        description: o.description.clone(),
        group: o.group.clone(),
        labels: o.labels.clone(),
        source: "ordered".into(),
        current_version: 0,
        info: CertInfo {
            subject: String::new(),
            issuer: String::new(),
            serial: String::new(),
            domains: o.domains.clone(),
            ip_addresses: Vec::new(),
            not_before: now,
            not_after: now,
            key_algorithm: String::new(),
            key_size: None,
            key_curve: None,
            signature_algorithm: String::new(),
            fingerprint_sha256: String::new(),
            is_ca: false,
            x509_version: 3,
        },
        has_private_key: false,
        chain_length: 0,
        chain_complete: false,
        chain_issues: Vec::new(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    }
}

/// Keeps HTTP-01 answers where the challenge listener finds them (any replica), and the
/// order's URL at the CA.
struct StoreHooks<'a> {
    app: &'a App,
    order: &'a OrderRecord,
    /// The webhook channel of a callback DNS provider.
    callback_channel: Option<Uuid>,
    /// The run's start: `now` at `started`.
    now: OffsetDateTime,
    started: std::time::Instant,
}

impl StoreHooks<'_> {
    /// The run's clock: a DNS wait may take an hour, and what happens at its end is stamped
    /// with when it happened.
    fn clock(&self) -> OffsetDateTime {
        crate::jobs::round_clock(self.now, self.started)
    }
}

impl OrderHooks for StoreHooks<'_> {
    async fn publish_http01(&self, token: &str, key_authorization: &str) -> Result<(), Failure> {
        self.app
            .store
            .http_challenge_put(token, key_authorization, self.order.id, self.clock())
            .await
            .map_err(|e| Failure::new(format!("cannot store the HTTP-01 answer: {e}")))
    }

    async fn order_url(&self, url: &str) {
        if let Err(e) = self.app.store.order_set_url(self.order.id, url).await {
            tracing::warn!(order_id = %self.order.id, error = %e, "cannot record the order URL");
        }
    }

    async fn dns_record_required(&self, record: &acme::DnsRecord) -> Result<(), Failure> {
        let event = EventType::DnsValidationRequired;
        self.app
            .dns_record_notice(
                self.order,
                self.callback_channel,
                event,
                record,
                self.clock(),
            )
            .await
            .map_err(|e| Failure {
                message: format!("cannot send {}: {e}", event.as_str()),
                problem: None,
                domain: Some(record.domain.clone()),
            })
    }

    async fn dns_record_completed(&self, record: &acme::DnsRecord) {
        let event = EventType::DnsValidationCompleted;
        if let Err(e) = self
            .app
            .dns_record_notice(
                self.order,
                self.callback_channel,
                event,
                record,
                self.clock(),
            )
            .await
        {
            tracing::warn!(order_id = %self.order.id, record = %record.name, error = %e, "cannot send dns.validation_completed");
        }
    }
}

/// What talking to the CA came to.
enum Obtained {
    /// The chain (PEM) and the new key (PKCS#8 DER).
    Issued(String, Zeroizing<Vec<u8>>),
    /// Manual DNS-01: the records to create first.
    AwaitingDns(Vec<acme::DnsRecord>),
    /// The lease was lost mid-run: abandoned.
    Stopped,
}

/// What one run of an order came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRun {
    Issued(Uuid),
    Failed,
    /// Manual DNS-01: stopped until someone creates the records and calls validate.
    AwaitingDns,
    /// Cut short by something that passes (the CA refused a nonce three times in a row): back
    /// to pending for the next round.
    Retrying,
    /// This replica lost its lease on the order (another took it over), or is shutting down:
    /// it stopped and recorded nothing; the holder of the lease, or the next start, finishes
    /// the order.
    LeaseLost,
}

/// This process's order runs, shared by the order job's rounds (which do not wait for one
/// another, so that an order waiting an hour for DNS holds up no other): an order runs once
/// here however many rounds find it; each ACME account has its slots of orders in flight and a
/// gate around counting its hourly budget and starting one; and a signal stops them all at
/// shutdown.
pub struct OrderRuns {
    running: std::sync::Mutex<std::collections::HashSet<Uuid>>,
    accounts: std::sync::Mutex<std::collections::HashMap<Uuid, AccountGate>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// An ACME account's slots of orders in flight, and the gate around counting its budget and
/// starting an order (so this process's own runs cannot overshoot the budget).
#[derive(Clone)]
pub struct AccountGate {
    pub slots: std::sync::Arc<tokio::sync::Semaphore>,
    pub start: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Order `id` is being run in this process until this is dropped.
pub struct RunClaim<'a> {
    runs: &'a OrderRuns,
    id: Uuid,
}

impl Drop for RunClaim<'_> {
    fn drop(&mut self) {
        match self.runs.running.lock() {
            Ok(mut r) => r.remove(&self.id),
            Err(poisoned) => poisoned.into_inner().remove(&self.id),
        };
    }
}

impl Default for OrderRuns {
    fn default() -> Self {
        OrderRuns {
            running: Default::default(),
            accounts: Default::default(),
            stop: tokio::sync::watch::channel(false).0,
        }
    }
}

impl OrderRuns {
    /// Claim order `id` for a run here; `None` when one is already under way, or the process
    /// is shutting down.
    pub fn claim(&self, id: Uuid) -> Option<RunClaim<'_>> {
        if *self.stop.borrow() {
            return None;
        }
        let fresh = match self.running.lock() {
            Ok(mut r) => r.insert(id),
            Err(poisoned) => poisoned.into_inner().insert(id),
        };
        // Lazily: a claim made and dropped here would end the run already under way.
        fresh.then(|| RunClaim { runs: self, id })
    }

    /// The gate of `account`, with `slots` orders in flight at most.
    pub fn gate(&self, account: Uuid, slots: usize) -> AccountGate {
        let new = || AccountGate {
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(slots)),
            start: std::sync::Arc::new(tokio::sync::Mutex::new(())),
        };
        match self.accounts.lock() {
            Ok(mut a) => a.entry(account).or_insert_with(new).clone(),
            Err(poisoned) => poisoned
                .into_inner()
                .entry(account)
                .or_insert_with(new)
                .clone(),
        }
    }

    /// Turns true when the process shuts down: runs stop (removing their DNS records) and
    /// release their leases, so the next start or another replica takes the orders up at once.
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }

    pub fn stop(&self) {
        self.stop.send_replace(true);
    }
}

/// The lease under which the order job runs an order: its name in the job leases, held by
/// this instance, and a signal that turns true once it is lost (or cannot be kept).
pub struct OrderLease {
    pub name: String,
    pub lost: tokio::sync::watch::Receiver<bool>,
}

impl App {
    /// An order the caller may see; others' are "not found".
    async fn visible_order(&self, p: &Principal, id: Uuid) -> Result<OrderRecord> {
        self.store
            .order_get(id)
            .await?
            .filter(|o| p.reaches_group(o.group.as_deref()))
            .ok_or_else(|| Error::NotFound(format!("order {id} not found")))
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn order_create(
        &self,
        ctx: &RequestCtx,
        req: CreateOrderRequest,
    ) -> Result<OrderInfo> {
        const ACTION: &str = actions::ORDER_CREATE;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let id = Uuid::now_v7();
        let target = id.to_string();
        let result = async {
            let group = match (&req.group, &p.group) {
                (Some(g), _) if !g.trim().is_empty() => Some(domain::validate_group(g)?),
                (_, Some(mine)) => Some(mine.clone()),
                _ => None,
            };
            p.require(Role::Manager, group.as_deref(), "ordering a certificate")?;
            let meta = EntryMeta {
                name: domain::validate_name("name", &req.name)?,
                description: domain::validate_description(req.description.as_deref().unwrap_or(""))?,
                group,
                labels: domain::validate_labels(&req.labels)?,
            };
            let domains = validate_domains(&req.domains, req.challenge)?;
            match (req.challenge, req.dns_provider_id) {
                (ChallengeType::Dns01, None) => {
                    return Err(Error::InvalidInput(
                        "`dns_provider_id` is required with `challenge` dns-01".into(),
                    ));
                }
                (ChallengeType::Dns01, Some(pid)) => {
                    if self.store.dns_provider_get(pid).await?.is_none() {
                        return Err(Error::InvalidInput(format!(
                            "`dns_provider_id` {pid} names no DNS provider"
                        )));
                    }
                }
                (ChallengeType::Http01, Some(_)) => {
                    return Err(Error::InvalidInput(
                        "`dns_provider_id` applies only to `challenge` dns-01".into(),
                    ));
                }
                (ChallengeType::Http01, None) => {
                    if self.policy.acme.http_listen.is_none() {
                        return Err(Error::InvalidInput(
                            "`challenge` http-01 needs this server's HTTP-01 listener, which is off (start certkeepd with --acme-http-listen)".into(),
                        ));
                    }
                }
            }
            if self.store.acme_account_get(req.account_id).await?.is_none() {
                return Err(Error::InvalidInput(format!(
                    "`account_id` {} names no ACME account",
                    req.account_id
                )));
            }
            let now = whole_second(ctx.now);
            let rec = OrderRecord {
                id,
                cert_id: None,
                name: meta.name,
                description: meta.description,
                group: meta.group,
                labels: meta.labels,
                domains,
                key_type: req.key_type.unwrap_or_default().as_str().to_string(),
                account_id: req.account_id,
                challenge: req.challenge.as_str().to_string(),
                dns_provider_id: req.dns_provider_id,
                renews_cert_id: None,
                rekey: true,
                auto_renew: req.auto_renew.unwrap_or(true),
                status: OrderStatus::Pending.as_str().to_string(),
                error: None,
                problem: None,
                failed_domain: None,
                order_url: None,
                dns_records: None,
                dns_confirmed: false,
                attempts: 0,
                created_by: Some(p.token_id),
                created_at: now,
                updated_at: now,
                finished_at: None,
            };
            let mut tx = self.store.begin_write().await?;
            self.store.order_insert(&mut tx, &rec).await?;
            self.commit_recorded(tx, ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name, "domains": rec.domains, "challenge": rec.challenge, "account_id": rec.account_id}),).await?;
            order_info(&rec)
        }
        .await;
        self.finish_write(
            ctx,
            &p,
            ACTION,
            Some(&target),
            result,
            json!({"name": req.name}),
        )
        .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn order_list(&self, ctx: &RequestCtx) -> Result<OrderList> {
        const ACTION: &str = actions::ORDER_LIST;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "listing orders")?;
            let rows = self.store.order_list(LIST_LIMIT).await?;
            Ok(OrderList {
                items: rows
                    .iter()
                    .filter(|o| p.reaches_group(o.group.as_deref()))
                    .map(order_info)
                    .collect::<Result<_>>()?,
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, None, result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, order_id = %id))]
    pub async fn order_get(&self, ctx: &RequestCtx, id: Uuid) -> Result<OrderInfo> {
        const ACTION: &str = actions::ORDER_READ;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "reading an order")?;
            let o = self.visible_order(&p, id).await?;
            order_info(&o)
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// Someone created the TXT records of a manual DNS-01 order: it runs again, checks they
    /// are served, and has the CA validate (Manager of the order's group).
    #[instrument(skip_all, fields(request_id = %ctx.request_id, order_id = %id))]
    pub async fn order_validate(&self, ctx: &RequestCtx, id: Uuid) -> Result<OrderInfo> {
        const ACTION: &str = actions::ORDER_VALIDATE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let o = self.visible_order(&p, id).await?;
            p.require(Role::Manager, o.group.as_deref(), "validating an order")?;
            let mut tx = self.store.begin_write().await?;
            if !self
                .store
                .order_confirm_dns(&mut tx, id, whole_second(ctx.now))
                .await?
            {
                return Err(Error::Conflict(format!(
                    "order {id} is {}, not awaiting_dns: there is nothing to validate",
                    o.status
                )));
            }
            self.commit_recorded(
                tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": o.name}),
            )
            .await?;
            order_info(&self.visible_order(&p, id).await?)
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// Begin the transaction that records the end of a run, if this instance still holds the
    /// order's lease (kept so until the transaction ends); `None` when it was taken over.
    async fn begin_fenced(
        &self,
        order: &OrderRecord,
        lease: &OrderLease,
    ) -> Result<Option<WriteTx>> {
        let mut tx = self.store.begin_write().await?;
        if self
            .store
            .lease_held(&mut tx, &lease.name, &self.instance_id)
            .await?
        {
            Ok(Some(tx))
        } else {
            tracing::warn!(order_id = %order.id, "lost the order's lease; leaving it to the replica that holds it");
            Ok(None)
        }
    }

    /// Run `order` (already marked validating by the caller, who holds `lease` on it and keeps
    /// it) to its end. Its end is recorded only while the lease is still held.
    #[instrument(skip_all, fields(order_id = %order.id))]
    pub async fn order_run(
        &self,
        order: &OrderRecord,
        now: OffsetDateTime,
        lease: &OrderLease,
    ) -> Result<OrderRun> {
        let started = std::time::Instant::now();
        let key_type = KeyType::parse(&order.key_type).unwrap_or_default();
        // `attempts` counts earlier runs: more than a few means each one was cut short (a crash,
        // a lost lease), and trying forever would only hammer the CA.
        let outcome = if order.attempts >= MAX_ATTEMPTS {
            Err(Failure::new(format!(
                "gave up after {} interrupted attempts",
                order.attempts
            )))
        } else {
            self.order_obtain(order, key_type, now, lease).await
        };
        // The end is recorded as of when it came (a DNS wait may have taken an hour).
        let now = crate::jobs::round_clock(now, started);
        let failure = match outcome {
            Ok(Obtained::Stopped) => return Ok(OrderRun::LeaseLost),
            Ok(Obtained::AwaitingDns(records)) => {
                let records: Vec<DnsRecordInfo> = records
                    .iter()
                    .map(|r| DnsRecordInfo {
                        domain: r.domain.clone(),
                        record_name: r.name.to_ascii(),
                        record_type: "TXT".into(),
                        value: r.value.clone(),
                    })
                    .collect();
                let json = serde_json::to_string(&records)
                    .map_err(|e| Error::Internal(format!("cannot encode DNS records: {e}")))?;
                let Some(mut tx) = self.begin_fenced(order, lease).await? else {
                    return Ok(OrderRun::LeaseLost);
                };
                if self
                    .store
                    .order_await_dns(&mut tx, order.id, &json, now)
                    .await?
                {
                    let detail = json!({"name": order.name, "dns_records": records});
                    self.order_job_audit(
                        &mut tx,
                        order,
                        actions::ORDER_AWAIT_DNS,
                        AuditOutcome::Success,
                        detail,
                        now,
                    )
                    .await?;
                }
                tx.commit().await?;
                return Ok(OrderRun::AwaitingDns);
            }
            Ok(Obtained::Issued(chain_pem, key_pkcs8)) => {
                let Some(mut tx) = self.begin_fenced(order, lease).await? else {
                    return Ok(OrderRun::LeaseLost);
                };
                self.store.http_challenges_clear(&mut tx, order.id).await?;
                match self
                    .order_store_issued(&mut tx, order, &chain_pem, &key_pkcs8, now)
                    .await
                {
                    Ok(rec) => {
                        let detail = json!({
                            "name": rec.name,
                            "certificate_id": rec.id,
                            "fingerprint_sha256": rec.info.fingerprint_sha256,
                            "domains": rec.info.domains,
                        });
                        self.order_audit(&mut tx, order, AuditOutcome::Success, detail, now)
                            .await?;
                        tx.commit().await?;
                        return Ok(OrderRun::Issued(rec.id));
                    }
                    // Rolled back; the order fails rather than being run (and issued) again.
                    Err(e) => Failure::new(format!(
                        "the CA issued the certificate, but it could not be stored: {e}"
                    )),
                }
            }
            Err(f) => f,
        };
        let transient = failure
            .problem
            .as_ref()
            .and_then(|p| p.kind.as_deref())
            .is_some_and(|k| k == "urn:ietf:params:acme:error:badNonce");
        if transient && order.attempts + 1 < MAX_ATTEMPTS {
            tracing::warn!(order_id = %order.id, error = %failure.message, "order interrupted; it runs again");
            let Some(mut tx) = self.begin_fenced(order, lease).await? else {
                return Ok(OrderRun::LeaseLost);
            };
            self.store.http_challenges_clear(&mut tx, order.id).await?;
            self.store.order_requeue(&mut tx, order.id, now).await?;
            tx.commit().await?;
            return Ok(OrderRun::Retrying);
        }
        let Some(mut tx) = self.begin_fenced(order, lease).await? else {
            return Ok(OrderRun::LeaseLost);
        };
        self.store.http_challenges_clear(&mut tx, order.id).await?;
        self.order_store_failed(&mut tx, order, &failure, now)
            .await?;
        let detail = json!({
            "name": order.name,
            "error": failure.message,
            "failed_domain": failure.domain,
        });
        self.order_audit(&mut tx, order, AuditOutcome::Failed, detail, now)
            .await?;
        tx.commit().await?;
        Ok(OrderRun::Failed)
    }

    /// The job's audit event for a run of `order`.
    async fn order_audit(
        &self,
        tx: &mut WriteTx,
        order: &OrderRecord,
        outcome: AuditOutcome,
        detail: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<()> {
        self.order_job_audit(tx, order, actions::ORDER_ISSUE, outcome, detail, now)
            .await
    }

    /// An audit event of the order job about `order`.
    async fn order_job_audit(
        &self,
        tx: &mut WriteTx,
        order: &OrderRecord,
        action: &str,
        outcome: AuditOutcome,
        detail: serde_json::Value,
        now: OffsetDateTime,
    ) -> Result<()> {
        audit::append(
            &self.store,
            tx,
            NewEvent {
                time: now,
                token_id: None,
                action: action.to_string(),
                target: Some(order.id.to_string()),
                outcome,
                request_id: format!("job:acme_order:{}", order.id),
                detail,
            },
        )
        .await?;
        Ok(())
    }

    /// Talk to the CA: the chain (PEM) and the new key (PKCS#8 DER), the records a person is
    /// to create, or why not.
    async fn order_obtain(
        &self,
        order: &OrderRecord,
        key_type: KeyType,
        now: OffsetDateTime,
        lease: &OrderLease,
    ) -> std::result::Result<Obtained, Failure> {
        let internal = |e: Error| Failure::new(e.to_string());
        let account_rec = self
            .store
            .acme_account_get(order.account_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| Failure::new(format!("ACME account {} is gone", order.account_id)))?;
        let creds = self
            .keyring
            .open(
                &account_context(account_rec.id),
                &account_rec.credentials_sealed,
            )
            .map_err(internal)?;
        let creds = std::str::from_utf8(&creds)
            .map_err(|_| Failure::new("stored account credentials are not UTF-8"))?;
        let account = acme::account(creds, account_rec.ca_root_pem.as_deref()).await?;
        let mut callback_channel = None;
        let mut manual = false;
        let dns_setup = match order.dns_provider_id {
            Some(pid) => {
                let rec = self
                    .store
                    .dns_provider_get(pid)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| Failure::new(format!("DNS provider {pid} is gone")))?;
                let c = provider_config(&rec).map_err(internal)?;
                let zone = dns::parse_name("zone", c.zone()).map_err(Failure::new)?;
                let timeout =
                    std::time::Duration::from_secs(u64::from(c.propagation_timeout_seconds()));
                let writer = match c {
                    ProviderConfig::Rfc2136(c) => {
                        let secret = self
                            .keyring
                            .open(&provider_context(pid), &rec.secret_sealed)
                            .map_err(internal)?;
                        Some(dns::Rfc2136 {
                            server: c.server,
                            zone: zone.clone(),
                            key_name: dns::parse_name("tsig_key_name", &c.tsig_key_name)
                                .map_err(Failure::new)?,
                            algorithm: c.tsig_algorithm,
                            secret,
                        })
                    }
                    ProviderConfig::Callback(c) => {
                        callback_channel = Some(c.channel_id);
                        None
                    }
                    ProviderConfig::Manual(_) => {
                        manual = true;
                        None
                    }
                };
                Some((writer, zone, timeout))
            }
            None => None,
        };
        let solver = match &dns_setup {
            Some((writer, zone, timeout)) => Solver::Dns01 {
                writer: match writer {
                    Some(p) => DnsWriter::Rfc2136(p),
                    None if manual => DnsWriter::Manual {
                        confirmed: order.dns_confirmed,
                    },
                    None => DnsWriter::Callback,
                },
                zone: zone.clone(),
                lookup: self.policy.acme.lookup,
                propagation_timeout: *timeout,
            },
            None => Solver::Http01,
        };
        let key = match order.renews_cert_id.filter(|_| !order.rekey) {
            Some(cert_id) => self.current_key(cert_id).await.map_err(internal)?,
            None => tokio::task::spawn_blocking(move || acme::generate_key(key_type))
                .await
                .map_err(|e| Failure::new(format!("key generation task failed: {e}")))??,
        };
        let hooks = StoreHooks {
            app: self,
            order,
            callback_channel,
            now,
            started: std::time::Instant::now(),
        };
        let replaces = match order.renews_cert_id {
            Some(cert_id) => self.current_leaf(cert_id).await.map_err(internal)?,
            None => None,
        };
        let spec = acme::OrderSpec {
            domains: &order.domains,
            key: &key,
            replaces: replaces.as_deref(),
            // A manual order goes on with the CA's order (and its challenges) it stopped in.
            existing_url: order.order_url.as_deref().filter(|_| manual),
        };
        Ok(
            match acme::run_order(&account, &spec, &solver, &hooks, &mut lease.lost.clone()).await?
            {
                acme::Outcome::Issued(chain) => {
                    Obtained::Issued(chain, Zeroizing::new(key.serialize_der()))
                }
                acme::Outcome::AwaitingDns(records) => Obtained::AwaitingDns(records),
                acme::Outcome::Stopped => Obtained::Stopped,
            },
        )
    }

    /// Store the issued chain as an inventory entry, like an import, and notify `cert.issued`.
    async fn order_store_issued(
        &self,
        tx: &mut WriteTx,
        order: &OrderRecord,
        chain_pem: &str,
        key_pkcs8: &[u8],
        now: OffsetDateTime,
    ) -> Result<CertificateRecord> {
        let bundle = pki::parse_bundle(&BundleInput {
            certificate: chain_pem.as_bytes(),
            private_key: Some(key_pkcs8),
            chain: &[],
            password: None,
        })
        .map_err(|e| {
            Error::Internal(format!(
                "the CA's chain for order {} does not parse: {e}",
                order.id
            ))
        })?;
        let (rec, event) = match order.renews_cert_id {
            None => {
                let meta = EntryMeta {
                    name: order.name.clone(),
                    description: order.description.clone(),
                    group: order.group.clone(),
                    labels: order.labels.clone(),
                };
                let (mut rec, mut ver) =
                    self.build_records(None, Uuid::now_v7(), 1, &meta, &bundle, now)?;
                rec.source = "ordered".into();
                ver.created_by = order.created_by;
                self.store.certificate_insert(tx, &rec, &ver).await?;
                (rec, EventType::CertIssued)
            }
            Some(cert_id) => {
                // A new version of the entry, with its current name, group and labels.
                let locked = self
                    .store
                    .certificate_get_for_update(tx, cert_id)
                    .await?
                    .ok_or_else(|| Error::Conflict(format!("certificate {cert_id} is gone")))?;
                let meta = EntryMeta {
                    name: locked.name.clone(),
                    description: locked.description.clone(),
                    group: locked.group.clone(),
                    labels: locked.labels.clone(),
                };
                let (mut rec, mut ver) = self.build_records(
                    None,
                    cert_id,
                    locked.current_version + 1,
                    &meta,
                    &bundle,
                    now,
                )?;
                rec.source = "ordered".into();
                rec.created_at = locked.created_at;
                ver.created_by = order.created_by;
                self.store.certificate_add_version(tx, &rec, &ver).await?;
                (rec, EventType::CertRenewed)
            }
        };
        let renew_at = renewal::renew_at(
            &self.policy.acme.renewal,
            rec.id,
            rec.info.not_before,
            rec.info.not_after,
        );
        self.store
            .acme_certificate_issued(tx, rec.id, order.id, order.auto_renew, renew_at, now)
            .await?;
        self.store
            .order_finish(
                tx,
                order.id,
                &OrderOutcome {
                    status: OrderStatus::Issued.as_str(),
                    cert_id: Some(rec.id),
                    error: None,
                    problem: None,
                    failed_domain: None,
                },
                whole_second(now),
            )
            .await?;
        outbox::enqueue_lifecycle(self, tx, event, &[&rec], now).await?;
        Ok(rec)
    }

    /// Record the failure and notify `cert.order_failed` with the reason.
    async fn order_store_failed(
        &self,
        tx: &mut WriteTx,
        order: &OrderRecord,
        f: &Failure,
        now: OffsetDateTime,
    ) -> Result<()> {
        tracing::warn!(order_id = %order.id, error = %f.message, "order failed");
        let problem = f
            .problem
            .as_ref()
            .map(|p| serde_json::to_string(p).unwrap_or_default());
        self.store
            .order_finish(
                tx,
                order.id,
                &OrderOutcome {
                    status: OrderStatus::Failed.as_str(),
                    cert_id: None,
                    error: Some(f.message.clone()),
                    problem,
                    failed_domain: f.domain.clone(),
                },
                whole_second(now),
            )
            .await?;
        let (about, event, url) = match order.renews_cert_id {
            Some(cert_id) => {
                // Tried again after a pause that grows with the failures in a row.
                let failures = self
                    .store
                    .acme_certificate_get(cert_id)
                    .await?
                    .map_or(0, |a| a.failures)
                    .saturating_add(1);
                self.store
                    .acme_certificate_failed(
                        tx,
                        cert_id,
                        now + renewal::retry_delay(failures),
                        &f.message,
                        now,
                    )
                    .await?;
                match self.store.certificate_get(cert_id).await? {
                    Some(rec) => (rec, EventType::CertRenewFailed, None),
                    None => return Ok(()),
                }
            }
            None => (
                prospective_record(order, now),
                EventType::CertOrderFailed,
                Some(self.order_link(order.id)),
            ),
        };
        for ch in self.store.channels_enabled_in(tx).await? {
            if !channels::wants(&ch, event) || !channels::covers(&ch, &about) {
                continue;
            }
            let mut summary = outbox::summary(&about, now, &self.policy.public_url, None);
            if let Some(u) = &url {
                summary.url = u.clone();
            }
            let mut n = outbox::notification(&ch, event, vec![summary], now);
            n.summary = format!("{}: {}", n.summary, f.message);
            n.failed_domain = f.domain.clone();
            self.store
                .outbox_insert(tx, &outbox::pending_record(&n)?)
                .await?;
            self.delivery_wakeup.notify_one();
        }
        Ok(())
    }

    /// Where the API shows order `id`.
    fn order_link(&self, id: Uuid) -> String {
        format!(
            "{}/api/v1/orders/{id}",
            self.policy.public_url.trim_end_matches('/')
        )
    }

    /// Tell a callback provider's webhook channel (`channel_id`) that `record` of `order` is
    /// needed (`dns.validation_required`) or may go (`dns.validation_completed`), through the
    /// outbox. The channel's event filter applies; its scope does not: the provider names it.
    async fn dns_record_notice(
        &self,
        order: &OrderRecord,
        channel_id: Option<Uuid>,
        event: EventType,
        record: &acme::DnsRecord,
        now: OffsetDateTime,
    ) -> Result<()> {
        let channel_id = channel_id.ok_or_else(|| {
            Error::Internal(format!("order {}: no callback channel is set", order.id))
        })?;
        let ch = self.store.channel_get(channel_id).await?.ok_or_else(|| {
            Error::Conflict(format!(
                "the callback provider's notification channel {channel_id} is gone"
            ))
        })?;
        if !ch.enabled {
            return Err(Error::Conflict(format!(
                "the callback provider's notification channel {:?} is disabled",
                ch.name
            )));
        }
        if !channels::wants(&ch, event) {
            return Err(Error::Conflict(format!(
                "the callback provider's notification channel {:?} does not send {}",
                ch.name,
                event.as_str()
            )));
        }
        let mut summary = outbox::summary(
            &prospective_record(order, now),
            now,
            &self.policy.public_url,
            None,
        );
        summary.url = self.order_link(order.id);
        let mut n = outbox::notification(&ch, event, vec![summary], now);
        n.summary = format!("{}: TXT {} for {}", n.summary, record.name, record.domain);
        n.dns_record = Some(DnsRecordNotice {
            order_id: order.id,
            domain: record.domain.clone(),
            record_name: record.name.to_ascii(),
            record_type: "TXT".into(),
            value: record.value.clone(),
        });
        let mut tx = self.store.begin_write().await?;
        self.store
            .outbox_insert(&mut tx, &outbox::pending_record(&n)?)
            .await?;
        tx.commit().await?;
        self.delivery_wakeup.notify_one();
        Ok(())
    }

    /// The current leaf (DER) of entry `cert_id`, if it still exists.
    async fn current_leaf(&self, cert_id: Uuid) -> Result<Option<Vec<u8>>> {
        match self.store.certificate_get(cert_id).await? {
            Some(rec) => Ok(Some(self.load_version(&rec, None).await?.leaf_der)),
            None => Ok(None),
        }
    }

    /// The current key of entry `cert_id`, for a renewal that keeps it.
    async fn current_key(&self, cert_id: Uuid) -> Result<rcgen::KeyPair> {
        let rec = self
            .store
            .certificate_get(cert_id)
            .await?
            .ok_or_else(|| Error::Conflict(format!("certificate {cert_id} is gone")))?;
        let ver = self.load_version(&rec, None).await?;
        let sealed = ver.key_sealed.ok_or_else(|| {
            Error::Conflict(format!(
                "certificate {cert_id} version {} has no private key to keep; renew with rekey",
                ver.version
            ))
        })?;
        let der = self
            .keyring
            .open(&key_context(cert_id, ver.version), &sealed)?;
        rcgen::KeyPair::try_from(der.as_slice())
            .map_err(|e| Error::Internal(format!("the stored key of {cert_id} is unusable: {e}")))
    }

    /// Start a renewal of `cert_id` with the settings of the order that issued it; `None` when
    /// one is already waiting or running. `p` is the caller, `None` for the renewal job.
    async fn renewal_start(
        &self,
        ctx: &RequestCtx,
        p: Option<&Principal>,
        cert_id: Uuid,
        template_id: Uuid,
        rekey: bool,
    ) -> Result<Option<OrderRecord>> {
        let template = self.store.order_get(template_id).await?.ok_or_else(|| {
            Error::Internal(format!(
                "the order {template_id} that issued {cert_id} is gone"
            ))
        })?;
        let now = whole_second(ctx.now);
        let rec = OrderRecord {
            id: Uuid::now_v7(),
            cert_id: None,
            renews_cert_id: Some(cert_id),
            rekey,
            status: OrderStatus::Pending.as_str().to_string(),
            error: None,
            problem: None,
            failed_domain: None,
            order_url: None,
            dns_records: None,
            dns_confirmed: false,
            attempts: 0,
            created_by: p.map(|p| p.token_id),
            created_at: now,
            updated_at: now,
            finished_at: None,
            ..template
        };
        let mut tx = self.store.begin_write().await?;
        if self.store.renewal_in_flight(&mut tx, cert_id).await? {
            return Ok(None);
        }
        self.store.order_insert(&mut tx, &rec).await?;
        self.commit_recorded(tx, ctx,
            p,
            actions::ORDER_CREATE,
            Some(&rec.id.to_string()),
            json!({"name": rec.name, "renews_certificate_id": cert_id, "rekey": rekey, "automatic": p.is_none()}),).await?;
        Ok(Some(rec))
    }

    /// Renew an ordered certificate now (Manager of its group).
    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_renew(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: RenewCertificateRequest,
    ) -> Result<OrderInfo> {
        const ACTION: &str = actions::CERTIFICATE_RENEW;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let cert = self.certificate_for(&p, id, Role::Manager, "renewing a certificate").await?;
            if cert.deleted_at.is_some() {
                return Err(Error::Conflict(format!(
                    "certificate {id} is deleted; restore it before renewing"
                )));
            }
            let state = self.store.acme_certificate_get(id).await?.ok_or_else(|| {
                Error::Conflict(format!(
                    "certificate {id} was not ordered through certkeep, so it cannot be renewed here"
                ))
            })?;
            let order = self
                .renewal_start(ctx, Some(&p), id, state.order_id, req.rekey)
                .await?
                .ok_or_else(|| {
                    Error::Conflict(format!("a renewal of certificate {id} is already under way"))
                })?;
            order_info(&order)
        }
        .await;
        self.record(
            ctx,
            Some(&p),
            ACTION,
            Some(&target),
            &result,
            json!({"rekey": req.rekey}),
        )
        .await?;
        result
    }

    /// The renewal state of ordered entry `id`, for a caller who may see it.
    async fn renewal_state(&self, p: &Principal, id: Uuid) -> Result<RenewalInfo> {
        self.visible_certificate(p, id).await?;
        let a = self.store.acme_certificate_get(id).await?.ok_or_else(|| {
            Error::Conflict(format!(
                "certificate {id} was not ordered through certkeep, so it has no renewal"
            ))
        })?;
        Ok(RenewalInfo {
            certificate_id: id,
            order_id: a.order_id,
            auto_renew: a.auto_renew,
            renew_at: a.renew_at,
            failures: a.failures,
            last_error: a.last_error,
        })
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_renewal_get(&self, ctx: &RequestCtx, id: Uuid) -> Result<RenewalInfo> {
        const ACTION: &str = actions::CERTIFICATE_RENEWAL_READ;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = self.renewal_state(&p, id).await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// Turn automatic renewal of an ordered certificate on or off (Manager of its group). The
    /// renewal job only renews entries with it on; renewals keep the setting.
    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_renewal_update(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: UpdateRenewalRequest,
    ) -> Result<RenewalInfo> {
        const ACTION: &str = actions::CERTIFICATE_RENEWAL_UPDATE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let detail = json!({"auto_renew": req.auto_renew});
        let result = async {
            self.certificate_for(&p, id, Role::Manager, "changing automatic renewal")
                .await?;
            let mut tx = self.store.begin_write().await?;
            if !self
                .store
                .acme_certificate_set_auto_renew(&mut tx, id, req.auto_renew, whole_second(ctx.now))
                .await?
            {
                return Err(Error::Conflict(format!(
                    "certificate {id} was not ordered through certkeep, so it has no renewal"
                )));
            }
            self.commit_recorded(tx, ctx, Some(&p), ACTION, Some(&target), detail.clone())
                .await?;
            self.renewal_state(&p, id).await
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, detail)
            .await
    }

    /// Start the automatic renewals due at `ctx.now`; how many were started.
    pub async fn renewals_start_due(&self, ctx: &RequestCtx, limit: u32) -> Result<usize> {
        let mut started = 0;
        for due in self.store.acme_certificates_due(ctx.now, limit).await? {
            // Automatic renewals make a new key each time.
            if self
                .renewal_start(ctx, None, due.cert_id, due.order_id, true)
                .await?
                .is_some()
            {
                started += 1;
            }
        }
        Ok(started)
    }

    /// Load the ACME account that ordered entry `cert_id`.
    async fn account_of(&self, cert_id: Uuid) -> Result<instant_acme::Account> {
        let state = self.store.acme_certificate_get(cert_id).await?.ok_or_else(|| {
            Error::Conflict(format!(
                "certificate {cert_id} was not ordered through certkeep; revoke it with the CA that issued it"
            ))
        })?;
        let order =
            self.store.order_get(state.order_id).await?.ok_or_else(|| {
                Error::Internal(format!("the order that issued {cert_id} is gone"))
            })?;
        let account = self
            .store
            .acme_account_get(order.account_id)
            .await?
            .ok_or_else(|| Error::Conflict(format!("ACME account {} is gone", order.account_id)))?;
        self.load_account(&account).await
    }

    /// Revoke the current version of an ordered certificate at its CA (Manager of its group).
    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_revoke(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: RevokeCertificateRequest,
    ) -> Result<RevocationInfo> {
        const ACTION: &str = actions::CERTIFICATE_REVOKE;
        let target = id.to_string();
        let reason = req.reason.unwrap_or_default();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let cert = self
                .certificate_for(&p, id, Role::Manager, "revoking a certificate")
                .await?;
            let account = self.account_of(id).await?;
            let ver = self.load_version(&cert, None).await?;
            acme::revoke(&account, &ver.leaf_der, reason)
                .await
                .map_err(|f| match f.problem {
                    Some(_) => Error::Conflict(f.message),
                    None => Error::Unavailable(f.message),
                })?;
            Ok(RevocationInfo {
                certificate_id: id,
                version: ver.version,
                serial: cert.info.serial.clone(),
                reason,
                revoked_at: whole_second(ctx.now),
            })
        }
        .await;
        let detail = match &result {
            Ok(r) => json!({"version": r.version, "serial": r.serial, "reason": reason.as_str()}),
            Err(_) => json!({"reason": reason.as_str()}),
        };
        self.record(ctx, Some(&p), ACTION, Some(&target), &result, detail)
            .await?;
        result
    }

    /// Ask the CAs that offer renewal information (RFC 9773) about the ordered certificates
    /// due for a check, and bring their renewal forward into the suggested window when that
    /// comes first. Each account is loaded once; the certificates are asked about
    /// `ARI_CONCURRENCY` at a time. Returns how many certificates were checked.
    pub async fn renewal_info_check_due(&self, now: OffsetDateTime, limit: u32) -> Result<usize> {
        use futures_util::{StreamExt, TryStreamExt};
        let due = self.store.acme_certificates_ari_due(now, limit).await?;
        let mut accounts: std::collections::HashMap<Uuid, Option<instant_acme::Account>> =
            std::collections::HashMap::new();
        let mut checks = Vec::with_capacity(due.len());
        for c in &due {
            let Some(order) = self.store.order_get(c.order_id).await? else {
                continue;
            };
            if let std::collections::hash_map::Entry::Vacant(slot) =
                accounts.entry(order.account_id)
            {
                slot.insert(match self.account_of(c.cert_id).await {
                    Ok(a) => Some(a),
                    Err(e) => {
                        tracing::warn!(cert_id = %c.cert_id, error = %e, "cannot load the ACME account for renewal information");
                        None
                    }
                });
            }
            checks.push((c, order.account_id));
        }
        futures_util::stream::iter(checks)
            .map(Ok)
            .try_for_each_concurrent(ARI_CONCURRENCY, |(c, account_id)| {
                let account = accounts.get(&account_id).and_then(Option::as_ref);
                self.renewal_info_check(c, account, now)
            })
            .await?;
        Ok(due.len())
    }

    /// Ask the CA (`account`, `None` when it could not be loaded) about ordered entry `c` and
    /// record when to renew it and when to ask again.
    async fn renewal_info_check(
        &self,
        c: &AcmeCertificateRecord,
        account: Option<&instant_acme::Account>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let Some(cert) = self.store.certificate_get(c.cert_id).await? else {
            return Ok(());
        };
        let Some(account) = account else {
            return self
                .store
                .acme_certificate_ari_checked(c.cert_id, c.renew_at, now + ARI_RETRY_ON_ERROR)
                .await;
        };
        let ver = self.load_version(&cert, None).await?;
        let (renew_at, next) = match acme::ari::advice(account, &ver.leaf_der).await {
            Ok(acme::ari::Advice::Window {
                start,
                end,
                retry_after,
            }) => {
                let wait = Duration::try_from(retry_after)
                    .unwrap_or(ARI_MAX_RECHECK)
                    .clamp(ARI_MIN_RECHECK, ARI_MAX_RECHECK);
                // A renewal being retried keeps its backoff; otherwise the time holds while
                // inside the window (no drift to its start on every check).
                let at = if c.failures > 0 {
                    c.renew_at
                } else {
                    let own = renewal::renew_at(
                        &self.policy.acme.renewal,
                        cert.id,
                        cert.info.not_before,
                        cert.info.not_after,
                    );
                    acme::ari::reschedule(c.renew_at, own, start, end, acme::ari::pick(start, end))
                };
                (at, now + wait)
            }
            Ok(acme::ari::Advice::Unsupported) => (c.renew_at, now + ARI_MAX_RECHECK),
            Err(f) => {
                tracing::warn!(cert_id = %c.cert_id, error = %f.message, "renewal information check failed");
                (c.renew_at, now + ARI_RETRY_ON_ERROR)
            }
        };
        self.store
            .acme_certificate_ari_checked(c.cert_id, renew_at, next)
            .await
    }
}
