//! The use-cases: authentication and authorization, domain rules, storage and the audit event,
//! in one place. HTTP handlers, the offline admin commands and jobs all call these; none of them
//! talks to the store directly. Every API action is audited, successful or not.

mod acme;
mod chain;
mod channels;
mod dashboard;
mod orders;
mod sessions;
mod tls;

pub use chain::ChainEntry;
pub use dashboard::{Dashboard, SOONEST, TIMELINE_WEEKS};
pub use orders::{AccountGate, OrderLease, OrderRun, OrderRuns};
pub use sessions::{NewSession, SESSION_LIFETIME, Session};
pub use tls::{TlsMaterial, tls_files_revision, tls_from_files};

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use certkeep_api::{
    AuditOrder, AuditOutcome, AuditPage, AuditQuery, BatchImportRequest, CertificateListQuery,
    CertificateMetadata, CertificatePage, CertificateSort, CertificateSource, CertificateStatus,
    CertificateVersion, CertificateVersionList, CreateTokenRequest, CreatedToken, DownloadFormat,
    DownloadPart, DownloadQuery, EditCertificateRequest, ImportCertificateRequest, MAX_BATCH_ITEMS,
    MAX_INPUT_BYTES, MAX_PAGE_LIMIT, Pkcs12ExportRequest, ReimportCertificateRequest, Role,
    TokenInfo, TokenList,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tracing::instrument;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::audit::{self, NewEvent};
use crate::authz::{self, Principal};
use crate::config::Config;
use crate::domain::{self, certificate_status};
use crate::error::{Error, Result};
use crate::keyring::{FileRootKey, Keyring};
use crate::notify::event::EventType;
use crate::notify::outbox;
use crate::notify::signing::{Signer, SigningKeys};
use crate::pki::{self, Bundle, BundleInput};
use crate::store::{
    CertificateFilter, CertificateRecord, ListOrder, Store, TokenRecord, VersionRecord, WriteTx,
};

/// The audit log's action names, one per use-case.
pub mod actions {
    pub const CERTIFICATE_IMPORT: &str = "certificate.import";
    pub const CERTIFICATE_REIMPORT: &str = "certificate.reimport";
    pub const CERTIFICATE_READ: &str = "certificate.read";
    pub const CERTIFICATE_LIST: &str = "certificate.list";
    pub const CERTIFICATE_UPDATE: &str = "certificate.update";
    pub const CERTIFICATE_DELETE: &str = "certificate.delete";
    pub const CERTIFICATE_RESTORE: &str = "certificate.restore";
    pub const CERTIFICATE_PURGE: &str = "certificate.purge";
    pub const CERTIFICATE_VERSIONS: &str = "certificate.versions";
    pub const CERTIFICATE_NOTIFICATIONS: &str = "certificate.notifications";
    pub const CERTIFICATE_DOWNLOAD_KEY: &str = "certificate.download_key";
    pub const CERTIFICATE_DOWNLOAD: &str = "certificate.download";
    pub const TOKEN_CREATE: &str = "token.create";
    pub const TOKEN_LIST: &str = "token.list";
    pub const TOKEN_REVOKE: &str = "token.revoke";
    pub const AUDIT_LIST: &str = "audit.list";
    pub const CHANNEL_CREATE: &str = "channel.create";
    pub const CHANNEL_LIST: &str = "channel.list";
    pub const CHANNEL_READ: &str = "channel.read";
    pub const CHANNEL_UPDATE: &str = "channel.update";
    pub const CHANNEL_DELETE: &str = "channel.delete";
    pub const CHANNEL_TEST: &str = "channel.test";
    pub const CHANNEL_DELIVERIES: &str = "channel.deliveries";
    pub const SIGNING_KEY_ROTATE: &str = "notification.signing_key_rotate";
    /// certkeepd read its own TLS certificate and key from the inventory.
    pub const SERVER_TLS_KEY_LOAD: &str = "server.tls_key_load";
    pub const ACME_ACCOUNT_CREATE: &str = "acme_account.create";
    pub const ACME_ACCOUNT_LIST: &str = "acme_account.list";
    pub const ACME_ACCOUNT_READ: &str = "acme_account.read";
    pub const ACME_ACCOUNT_DELETE: &str = "acme_account.delete";
    pub const ACME_ACCOUNT_UPDATE: &str = "acme_account.update";
    pub const DNS_PROVIDER_CREATE: &str = "dns_provider.create";
    pub const DNS_PROVIDER_LIST: &str = "dns_provider.list";
    pub const DNS_PROVIDER_READ: &str = "dns_provider.read";
    pub const DNS_PROVIDER_DELETE: &str = "dns_provider.delete";
    pub const ORDER_CREATE: &str = "order.create";
    pub const ORDER_LIST: &str = "order.list";
    pub const ORDER_READ: &str = "order.read";
    /// The order job's run of an order: success (issued) or failed, by no token.
    pub const ORDER_ISSUE: &str = "order.issue";
    /// The order job stopped a manual DNS-01 order until its records are created.
    pub const ORDER_AWAIT_DNS: &str = "order.await_dns";
    /// Someone said the records of a manual DNS-01 order are in place.
    pub const ORDER_VALIDATE: &str = "order.validate";
    pub const CERTIFICATE_RENEW: &str = "certificate.renew";
    pub const CERTIFICATE_RENEWAL_READ: &str = "certificate.renewal_read";
    pub const CERTIFICATE_RENEWAL_UPDATE: &str = "certificate.renewal_update";
    pub const CERTIFICATE_REVOKE: &str = "certificate.revoke";
}

/// Who is calling and when: built by each surface (HTTP request, offline command, job).
#[derive(Clone)]
pub struct RequestCtx {
    pub request_id: String,
    /// The bearer token as sent, if any.
    pub bearer: Option<String>,
    pub now: OffsetDateTime,
}

impl std::fmt::Debug for RequestCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            request_id,
            bearer,
            now,
        } = self;
        f.debug_struct("RequestCtx")
            .field("request_id", request_id)
            .field("bearer", &certkeep_api::Redacted::option(bearer))
            .field("now", now)
            .finish()
    }
}

/// A downloaded artefact: bytes and how to label them.
#[derive(Debug)]
pub struct Download {
    pub bytes: Zeroizing<Vec<u8>>,
    pub content_type: &'static str,
    pub file_name: String,
}

/// A token to create.
struct NewToken {
    name: String,
    role: Role,
    group: Option<String>,
    expires_at: Option<OffsetDateTime>,
    created_by: Option<Uuid>,
}

/// Policy knobs the use-cases need.
#[derive(Debug, Clone)]
pub struct Policy {
    pub expiring_window: Duration,
    pub deleted_retention: Duration,
    /// Base URL of this server as users reach it, for links in notifications.
    pub public_url: String,
    /// Notification endpoints may be plain `http://` (and SMTP without TLS).
    pub allow_http_channels: bool,
    /// How long the expiry sweep waits for a new certificate version to settle.
    pub sweep_settle: Duration,
    /// How long a delivery worker's claim lasts unless renewed.
    pub delivery_lease: Duration,
    /// ACME ordering: the HTTP-01 listener and where DNS questions go.
    pub acme: crate::acme::Settings,
}

pub struct App {
    pub store: Store,
    pub keyring: Keyring,
    pub policy: Policy,
    /// Signs webhook bodies; the public keys are served as the JWKS. Reloaded from the
    /// database so a rotation made on one replica reaches the others.
    signing: std::sync::RwLock<Arc<SigningKeys>>,
    /// The sealed keys as stored when `signing` was loaded: (current, previous).
    signing_stored: std::sync::Mutex<(Option<String>, Option<String>)>,
    /// Shared HTTP client of the notification senders.
    pub http: reqwest::Client,
    /// Wakes this process's delivery worker when something is enqueued.
    pub delivery_wakeup: tokio::sync::Notify,
    /// Identifies this process in job and delivery leases.
    pub instance_id: String,
    /// The ACME orders this process runs now.
    pub order_runs: OrderRuns,
}

const ROOT_KEY_SETTING: &str = "root_key_id";
const SIGNING_KEY_SETTING: &str = "notify_signing_key";
const SIGNING_KEY_PREVIOUS_SETTING: &str = "notify_signing_key_previous";
const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

fn key_context(id: Uuid, version: u32) -> String {
    format!("certificate-key:{id}:{version}")
}

/// An input field: PEM text as it is, anything else as base64 of the binary file.
fn decode_input(field: &str, text: &str) -> Result<Vec<u8>> {
    let bytes = if text.contains("-----BEGIN") {
        text.as_bytes().to_vec()
    } else {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if compact.is_empty() {
            return Err(Error::InvalidInput(format!("`{field}` is empty")));
        }
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.as_bytes()))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(compact.as_bytes()))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(compact.as_bytes()))
            .map_err(|e| {
                Error::InvalidInput(format!(
                    "`{field}` is neither PEM text (no -----BEGIN line) nor base64 of a DER or PKCS#12 file ({e})"
                ))
            })?
    };
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(Error::TooLarge(format!(
            "`{field}` is {} bytes; the limit is {MAX_INPUT_BYTES} bytes (100 KiB) per input",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The decoded inputs of one import, owned so parsing can move to a worker thread.
struct DecodedInputs {
    certificate: Vec<u8>,
    private_key: Option<Vec<u8>>,
    chain: Vec<Vec<u8>>,
    password: Option<String>,
}

impl DecodedInputs {
    fn decode(
        certificate: &str,
        private_key: Option<&str>,
        chain: &[String],
        password: Option<&str>,
    ) -> Result<DecodedInputs> {
        if chain.len() > 32 {
            return Err(Error::InvalidInput(format!(
                "{} chain inputs given; the limit is 32",
                chain.len()
            )));
        }
        Ok(DecodedInputs {
            certificate: decode_input("certificate", certificate)?,
            private_key: private_key
                .map(|k| decode_input("private_key", k))
                .transpose()?,
            chain: chain
                .iter()
                .enumerate()
                .map(|(i, c)| decode_input(&format!("chain[{i}]"), c))
                .collect::<Result<_>>()?,
            password: password.map(str::to_string),
        })
    }

    fn parse(&self) -> Result<Bundle> {
        let chain: Vec<&[u8]> = self.chain.iter().map(Vec::as_slice).collect();
        Ok(pki::parse_bundle(&BundleInput {
            certificate: &self.certificate,
            private_key: self.private_key.as_deref(),
            chain: &chain,
            password: self.password.as_deref(),
        })?)
    }
}

/// Validated editable metadata of a new entry.
struct EntryMeta {
    name: String,
    description: String,
    group: Option<String>,
    labels: BTreeMap<String, String>,
}

fn validate_entry(p: &Principal, req: &ImportCertificateRequest) -> Result<EntryMeta> {
    let group = match (&req.group, &p.group) {
        (Some(g), _) if !g.trim().is_empty() => Some(domain::validate_group(g)?),
        (_, Some(mine)) => Some(mine.clone()),
        _ => None,
    };
    Ok(EntryMeta {
        name: domain::validate_name("name", &req.name)?,
        description: domain::validate_description(req.description.as_deref().unwrap_or(""))?,
        group,
        labels: domain::validate_labels(&req.labels)?,
    })
}

fn denied_outcome(e: &Error) -> AuditOutcome {
    match e {
        Error::Unauthenticated(_) | Error::Forbidden(_) => AuditOutcome::Denied,
        Error::InvalidInput(_)
        | Error::TooLarge(_)
        | Error::NotFound(_)
        | Error::Conflict(_)
        | Error::Unavailable(_)
        | Error::Internal(_) => AuditOutcome::Failed,
    }
}

fn sanitize_error_for_audit(e: &Error) -> String {
    // Messages never carry secrets by construction; cap the size kept in the log.
    let s = e.to_string();
    if s.len() > 1000 {
        let mut end = 1000;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    } else {
        s
    }
}

fn encode_cursor(rec: &CertificateRecord, order: ListOrder) -> String {
    let key = match order {
        ListOrder::NotAfterAsc | ListOrder::NotAfterDesc => {
            json!(rec.info.not_after.unix_timestamp())
        }
        ListOrder::NameAsc | ListOrder::NameDesc => json!(rec.name),
    };
    let raw = json!([key, rec.id.to_string()]).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(s: &str, order: ListOrder) -> Result<(crate::store::CursorKey, String)> {
    use crate::store::CursorKey;
    let bad = || Error::InvalidInput("`cursor` is not a cursor returned by this listing".into());
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .map_err(|_| bad())?;
    let v: (serde_json::Value, String) = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Uuid::parse_str(&v.1).map_err(|_| bad())?;
    let key = match order {
        ListOrder::NotAfterAsc | ListOrder::NotAfterDesc => {
            CursorKey::Time(v.0.as_i64().ok_or_else(bad)?)
        }
        ListOrder::NameAsc | ListOrder::NameDesc => {
            CursorKey::Text(v.0.as_str().ok_or_else(bad)?.to_string())
        }
    };
    Ok((key, v.1))
}

fn pem_chain(ders: &[Vec<u8>]) -> String {
    ders.iter()
        .map(|d| pki::pem_encode("CERTIFICATE", d))
        .collect()
}

fn token_info(t: &TokenRecord) -> TokenInfo {
    TokenInfo {
        id: t.id,
        name: t.name.clone(),
        role: t.role,
        group: t.group.clone(),
        prefix: t.prefix.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
        last_used_at: t.last_used_at,
        created_by: t.created_by,
    }
}

/// The part of a download's file name that comes from the entry's name (user input): letters
/// and digits of any script, `-`, `_` and `.` are kept, anything else (path separators, quotes,
/// spaces, control and formatting characters such as bidi overrides) becomes `_`; no leading
/// dot, so the file is not hidden; at most 64 characters.
fn safe_file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .skip_while(|&c| c == '.')
        .take(64)
        .collect();
    if s.is_empty() {
        "certificate".into()
    } else {
        s
    }
}

/// A download's file name: `<stem><part>[-vN].<ext>`. A version the request named explicitly
/// is in the name, so saving an older version beside the current one does not collide.
fn download_file_name(name: &str, part: &str, version: Option<u32>, ext: &str) -> String {
    let stem = safe_file_stem(name);
    match version {
        Some(n) => format!("{stem}{part}-v{n}.{ext}"),
        None => format!("{stem}{part}.{ext}"),
    }
}

impl App {
    /// Open the data directory and database, check the root key against the data, and run
    /// migrations. `now` stamps the bootstrap records.
    pub async fn open(config: &Config) -> Result<App> {
        config.check()?;
        config.ensure_data_dir()?;
        let root = FileRootKey::load_or_create(&config.root_key_path())?;
        let keyring = Keyring::new(Arc::new(root));
        let store = Store::connect(&config.database_url()).await?;
        check_root_key(&store, &keyring).await?;
        let (signing, signing_stored) = load_signing_keys(&store, &keyring).await?;
        let http = crate::notify::senders::http_client()?;
        Ok(App {
            store,
            keyring,
            policy: Policy {
                expiring_window: config.expiring_window,
                deleted_retention: config.deleted_retention,
                public_url: config.public_url(),
                allow_http_channels: config.danger_allow_http_channels,
                sweep_settle: config.sweep_settle,
                delivery_lease: config.delivery_lease,
                acme: crate::acme::Settings::from_config(config),
            },
            signing: std::sync::RwLock::new(Arc::new(signing)),
            signing_stored: std::sync::Mutex::new(signing_stored),
            http,
            delivery_wakeup: tokio::sync::Notify::new(),
            instance_id: format!("{}:{}", std::process::id(), Uuid::now_v7()),
            order_runs: OrderRuns::default(),
        })
    }

    /// The signing keys as last loaded.
    pub fn signing_keys(&self) -> Arc<SigningKeys> {
        match self.signing.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reload the signing keys from the database (another replica may have rotated them).
    /// Runs before every delivery round, so it only unseals when the stored keys changed.
    pub async fn refresh_signing_keys(&self) -> Result<()> {
        let stored = (
            self.store.setting_get(SIGNING_KEY_SETTING).await?,
            self.store.setting_get(SIGNING_KEY_PREVIOUS_SETTING).await?,
        );
        let unchanged = {
            let cached = match self.signing_stored.lock() {
                Ok(c) => c.clone(),
                Err(poisoned) => poisoned.into_inner().clone(),
            };
            cached.0.as_ref() == stored.0.as_ref() && cached.1 == stored.1
        };
        if unchanged {
            return Ok(());
        }
        let (keys, sealed) = load_signing_keys(&self.store, &self.keyring).await?;
        match self.signing.write() {
            Ok(mut k) => *k = Arc::new(keys),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
        }
        match self.signing_stored.lock() {
            Ok(mut c) => *c = sealed,
            Err(poisoned) => *poisoned.into_inner() = sealed,
        }
        Ok(())
    }

    fn status(&self, rec: &CertificateRecord, now: OffsetDateTime) -> CertificateStatus {
        certificate_status(
            rec.info.not_before,
            rec.info.not_after,
            now,
            self.policy.expiring_window,
        )
    }

    pub fn to_metadata(&self, rec: &CertificateRecord, now: OffsetDateTime) -> CertificateMetadata {
        let i = &rec.info;
        CertificateMetadata {
            id: rec.id,
            name: rec.name.clone(),
            description: rec.description.clone(),
            group: rec.group.clone(),
            labels: rec.labels.clone(),
            source: match rec.source.as_str() {
                "ordered" => CertificateSource::Ordered,
                _ => CertificateSource::Imported,
            },
            status: self.status(rec, now),
            subject: i.subject.clone(),
            issuer: i.issuer.clone(),
            serial: i.serial.clone(),
            domains: i.domains.clone(),
            ip_addresses: i.ip_addresses.clone(),
            not_before: i.not_before,
            not_after: i.not_after,
            key_algorithm: i.key_algorithm.clone(),
            key_size: i.key_size,
            key_curve: i.key_curve.clone(),
            signature_algorithm: i.signature_algorithm.clone(),
            fingerprint_sha256: i.fingerprint_sha256.clone(),
            is_ca: i.is_ca,
            has_private_key: rec.has_private_key,
            chain_length: rec.chain_length,
            chain_complete: rec.chain_complete,
            chain_issues: rec.chain_issues.clone(),
            version: rec.current_version,
            x509_version: i.x509_version,
            created_at: rec.created_at,
            updated_at: rec.updated_at,
            deleted_at: rec.deleted_at,
        }
    }

    // ---------------------------------------------------------------- authentication and audit

    /// A request whose body or query could not be parsed: authenticate first (an
    /// unauthenticated caller gets 401, whatever it sent), then audit the failure.
    pub async fn input_rejected(
        &self,
        ctx: &RequestCtx,
        action: &str,
        target: Option<&str>,
        e: Error,
    ) -> Error {
        match self.authenticate(ctx, action, target).await {
            Err(auth) => auth,
            Ok(p) => match self
                .record(
                    ctx,
                    Some(&p),
                    action,
                    target,
                    &Err::<(), _>(e.clone()),
                    json!({}),
                )
                .await
            {
                Ok(()) => e,
                Err(audit_error) => audit_error,
            },
        }
    }

    /// Resolve the bearer token. A failure is audited as a denied `action` and returned.
    async fn authenticate(
        &self,
        ctx: &RequestCtx,
        action: &str,
        target: Option<&str>,
    ) -> Result<Principal> {
        match self.resolve_token(ctx).await {
            Ok(p) => Ok(p),
            Err(e) => {
                self.record(
                    ctx,
                    None,
                    action,
                    target,
                    &Err::<(), _>(e.clone()),
                    json!({}),
                )
                .await?;
                Err(e)
            }
        }
    }

    async fn resolve_token(&self, ctx: &RequestCtx) -> Result<Principal> {
        let Some(secret) = ctx.bearer.as_deref() else {
            return Err(Error::Unauthenticated(
                "missing bearer token: send `Authorization: Bearer <token>`".into(),
            ));
        };
        let token = self
            .store
            .token_by_hash(&authz::hash_secret(secret))
            .await?
            .ok_or_else(|| Error::Unauthenticated("unknown or malformed bearer token".into()))?;
        if let Some(at) = token.revoked_at {
            return Err(Error::Unauthenticated(format!(
                "token {} was revoked at {}",
                token.id,
                rfc3339(at)
            )));
        }
        if let Some(exp) = token.expires_at
            && exp <= ctx.now
        {
            return Err(Error::Unauthenticated(format!(
                "token {} expired at {} (now {})",
                token.id,
                rfc3339(exp),
                rfc3339(ctx.now)
            )));
        }
        if token
            .last_used_at
            .is_none_or(|t| ctx.now - t >= LAST_USED_GRANULARITY)
        {
            let mut tx = self.store.begin_write().await?;
            self.store.token_touch(&mut tx, token.id, ctx.now).await?;
            tx.commit().await?;
        }
        Ok(Principal {
            token_id: token.id,
            role: token.role,
            group: token.group,
        })
    }

    /// Append one audit event in its own transaction.
    async fn record<T>(
        &self,
        ctx: &RequestCtx,
        p: Option<&Principal>,
        action: &str,
        target: Option<&str>,
        result: &Result<T>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let (outcome, detail) = match result {
            Ok(_) => (AuditOutcome::Success, detail),
            Err(e) => {
                let mut d = detail;
                if let serde_json::Value::Object(m) = &mut d {
                    m.insert("error".into(), json!(sanitize_error_for_audit(e)));
                }
                (denied_outcome(e), d)
            }
        };
        let mut tx = self.store.begin_write().await?;
        audit::append(
            &self.store,
            &mut tx,
            NewEvent {
                time: ctx.now,
                token_id: p.map(|p| p.token_id),
                action: action.to_string(),
                target: target.map(str::to_string),
                outcome,
                request_id: ctx.request_id.clone(),
                detail,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Append a success event inside the transaction that does the work.
    async fn record_in(
        &self,
        tx: &mut WriteTx,
        ctx: &RequestCtx,
        p: Option<&Principal>,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        audit::append(
            &self.store,
            tx,
            NewEvent {
                time: ctx.now,
                token_id: p.map(|p| p.token_id),
                action: action.to_string(),
                target: target.map(str::to_string),
                outcome: AuditOutcome::Success,
                request_id: ctx.request_id.clone(),
                detail,
            },
        )
        .await?;
        Ok(())
    }

    /// Append the success event inside `tx` and commit the work with it.
    async fn commit_recorded(
        &self,
        mut tx: WriteTx,
        ctx: &RequestCtx,
        p: Option<&Principal>,
        action: &str,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.record_in(&mut tx, ctx, p, action, target, detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Finish a read: audit its outcome (before anything is returned), then hand it back.
    async fn finish_read<T>(
        &self,
        ctx: &RequestCtx,
        p: &Principal,
        action: &str,
        target: Option<&str>,
        result: Result<T>,
        detail: serde_json::Value,
    ) -> Result<T> {
        self.record(ctx, Some(p), action, target, &result, detail)
            .await?;
        result
    }

    /// Finish a write whose success was audited in its own transaction: audit a failure.
    async fn finish_write<T>(
        &self,
        ctx: &RequestCtx,
        p: &Principal,
        action: &str,
        target: Option<&str>,
        result: Result<T>,
        detail: serde_json::Value,
    ) -> Result<T> {
        if result.is_err() {
            self.record(ctx, Some(p), action, target, &result, detail)
                .await?;
        }
        result
    }

    /// Load a live or deleted entry the caller may see; hide other groups' entries as absent.
    async fn visible_certificate(&self, p: &Principal, id: Uuid) -> Result<CertificateRecord> {
        let rec = self.store.certificate_get(id).await?;
        match rec {
            Some(r) if p.reaches_group(r.group.as_deref()) => Ok(r),
            _ => Err(Error::NotFound(format!("certificate {id} not found"))),
        }
    }

    /// An entry the caller may see and act on with `role` (`what` names the act if refused);
    /// not locked, for acts whose writes go elsewhere (the CA, the order tables).
    async fn certificate_for(
        &self,
        p: &Principal,
        id: Uuid,
        role: Role,
        what: &str,
    ) -> Result<CertificateRecord> {
        let rec = self.visible_certificate(p, id).await?;
        p.require(role, rec.group.as_deref(), what)?;
        Ok(rec)
    }

    /// Lock entry `id` inside `tx` for a change that needs `role`; an entry the caller cannot
    /// see is "not found".
    async fn lock_entry(
        &self,
        tx: &mut WriteTx,
        p: &Principal,
        id: Uuid,
        role: Role,
        what: &str,
    ) -> Result<CertificateRecord> {
        let rec = self
            .store
            .certificate_get_for_update(tx, id)
            .await?
            .filter(|r| p.reaches_group(r.group.as_deref()))
            .ok_or_else(|| Error::NotFound(format!("certificate {id} not found")))?;
        p.require(role, rec.group.as_deref(), what)?;
        Ok(rec)
    }

    // ---------------------------------------------------------------- certificates

    fn build_records(
        &self,
        p: Option<&Principal>,
        id: Uuid,
        version: u32,
        meta: &EntryMeta,
        bundle: &Bundle,
        now: OffsetDateTime,
    ) -> Result<(CertificateRecord, VersionRecord)> {
        let key_sealed = bundle
            .private_key
            .as_ref()
            .map(|k| self.keyring.seal(&key_context(id, version), k.pkcs8_der()))
            .transpose()?;
        let chain_length = u32::try_from(bundle.chain_der.len())
            .map_err(|_| Error::InvalidInput("chain too long".into()))?;
        let rec = CertificateRecord {
            id,
            name: meta.name.clone(),
            description: meta.description.clone(),
            group: meta.group.clone(),
            labels: meta.labels.clone(),
            source: "imported".into(),
            current_version: version,
            info: bundle.info.clone(),
            has_private_key: bundle.private_key.is_some(),
            chain_length,
            chain_complete: bundle.chain_complete,
            chain_issues: bundle.chain_issues.clone(),
            created_at: whole_second(now),
            updated_at: whole_second(now),
            deleted_at: None,
        };
        let ver = VersionRecord {
            cert_id: id,
            version,
            leaf_der: bundle.leaf_der.clone(),
            chain_der: bundle.chain_der.clone(),
            chain_complete: bundle.chain_complete,
            chain_issues: bundle.chain_issues.clone(),
            key_sealed,
            has_key: bundle.private_key.is_some(),
            created_at: whole_second(now),
            created_by: p.map(|p| p.token_id),
        };
        Ok((rec, ver))
    }

    fn import_detail(rec: &CertificateRecord) -> serde_json::Value {
        json!({
            "name": rec.name,
            "version": rec.current_version,
            "fingerprint_sha256": rec.info.fingerprint_sha256,
            "has_private_key": rec.has_private_key,
        })
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn certificate_import(
        &self,
        ctx: &RequestCtx,
        req: ImportCertificateRequest,
    ) -> Result<CertificateMetadata> {
        const ACTION: &str = actions::CERTIFICATE_IMPORT;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let id = Uuid::now_v7();
        let target = id.to_string();
        let result = async {
            p.require(
                Role::Manager,
                req.group.as_deref().or(p.group.as_deref()),
                "importing a certificate",
            )?;
            let meta = validate_entry(&p, &req)?;
            let inputs = DecodedInputs::decode(
                &req.certificate,
                req.private_key.as_deref(),
                &req.chain,
                req.password.as_deref(),
            )?;
            let bundle = tokio::task::spawn_blocking(move || inputs.parse())
                .await
                .map_err(|e| Error::Internal(format!("parser task failed: {e}")))??;
            let (rec, ver) = self.build_records(Some(&p), id, 1, &meta, &bundle, ctx.now)?;
            let mut tx = self.store.begin_write().await?;
            self.store.certificate_insert(&mut tx, &rec, &ver).await?;
            outbox::enqueue_lifecycle(self, &mut tx, EventType::CertImported, &[&rec], ctx.now)
                .await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                Self::import_detail(&rec),
            )
            .await?;
            tx.commit().await?;
            Ok(self.to_metadata(&rec, ctx.now))
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

    /// Import many certificates at once, all or nothing.
    #[instrument(skip_all, fields(request_id = %ctx.request_id, items = req.items.len()))]
    pub async fn certificate_import_batch(
        &self,
        ctx: &RequestCtx,
        req: BatchImportRequest,
    ) -> Result<Vec<CertificateMetadata>> {
        const ACTION: &str = actions::CERTIFICATE_IMPORT;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let count = req.items.len();
        let result = async {
            if req.items.is_empty() {
                return Err(Error::InvalidInput("`items` is empty".into()));
            }
            if count > MAX_BATCH_ITEMS {
                return Err(Error::TooLarge(format!(
                    "{count} items given; a batch holds at most {MAX_BATCH_ITEMS}"
                )));
            }
            let mut prepared = Vec::with_capacity(count);
            for (i, item) in req.items.iter().enumerate() {
                let at = |e: Error| prefix_error(&format!("items[{i}]"), e);
                p.require(
                    Role::Manager,
                    item.group.as_deref().or(p.group.as_deref()),
                    "importing a certificate",
                )?;
                let meta = validate_entry(&p, item).map_err(at)?;
                let inputs = DecodedInputs::decode(
                    &item.certificate,
                    item.private_key.as_deref(),
                    &item.chain,
                    item.password.as_deref(),
                )
                .map_err(at)?;
                prepared.push((meta, inputs));
            }
            // Parse on worker threads, one chunk per core.
            let workers = std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .max(1);
            let chunk = count.div_ceil(workers);
            let mut handles = Vec::new();
            let mut index = 0usize;
            let mut rest = prepared;
            while !rest.is_empty() {
                let tail = rest.split_off(chunk.min(rest.len()));
                let part = std::mem::replace(&mut rest, tail);
                let start = index;
                index += part.len();
                handles.push(tokio::task::spawn_blocking(move || {
                    part.into_iter()
                        .enumerate()
                        .map(|(j, (meta, inputs))| {
                            inputs
                                .parse()
                                .map(|b| (meta, b))
                                .map_err(|e| prefix_error(&format!("items[{}]", start + j), e))
                        })
                        .collect::<Result<Vec<_>>>()
                }));
            }
            let mut parsed = Vec::with_capacity(count);
            for h in handles {
                parsed.extend(
                    h.await
                        .map_err(|e| Error::Internal(format!("parser task failed: {e}")))??,
                );
            }
            let mut records = Vec::with_capacity(count);
            for (meta, bundle) in &parsed {
                records.push(self.build_records(
                    Some(&p),
                    Uuid::now_v7(),
                    1,
                    meta,
                    bundle,
                    ctx.now,
                )?);
            }
            let mut tx = self.store.begin_write().await?;
            let mut events = Vec::with_capacity(records.len());
            for (rec, ver) in &records {
                self.store.certificate_insert(&mut tx, rec, ver).await?;
                let mut detail = Self::import_detail(rec);
                detail["batch"] = json!(true);
                events.push(NewEvent {
                    time: ctx.now,
                    token_id: Some(p.token_id),
                    action: ACTION.to_string(),
                    target: Some(rec.id.to_string()),
                    outcome: AuditOutcome::Success,
                    request_id: ctx.request_id.clone(),
                    detail,
                });
            }
            audit::append_many(&self.store, &mut tx, events).await?;
            let imported: Vec<&CertificateRecord> = records.iter().map(|(r, _)| r).collect();
            outbox::enqueue_lifecycle(self, &mut tx, EventType::CertImported, &imported, ctx.now)
                .await?;
            tx.commit().await?;
            Ok(records
                .iter()
                .map(|(rec, _)| self.to_metadata(rec, ctx.now))
                .collect())
        }
        .await;
        self.finish_write(
            ctx,
            &p,
            ACTION,
            None,
            result,
            json!({"batch": true, "items": count}),
        )
        .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_reimport(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: ReimportCertificateRequest,
    ) -> Result<CertificateMetadata> {
        const ACTION: &str = actions::CERTIFICATE_REIMPORT;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let current = self.visible_certificate(&p, id).await?;
            p.require(
                Role::Manager,
                current.group.as_deref(),
                "reimporting a certificate",
            )?;
            let inputs = DecodedInputs::decode(
                &req.certificate,
                req.private_key.as_deref(),
                &req.chain,
                req.password.as_deref(),
            )?;
            let bundle = tokio::task::spawn_blocking(move || inputs.parse())
                .await
                .map_err(|e| Error::Internal(format!("parser task failed: {e}")))??;
            let mut tx = self.store.begin_write().await?;
            let locked = self
                .lock_entry(&mut tx, &p, id, Role::Manager, "reimporting a certificate")
                .await?;
            if locked.deleted_at.is_some() {
                return Err(Error::Conflict(format!(
                    "certificate {id} is deleted; restore it before reimporting"
                )));
            }
            let version = locked.current_version + 1;
            let meta = EntryMeta {
                name: locked.name.clone(),
                description: locked.description.clone(),
                group: locked.group.clone(),
                labels: locked.labels.clone(),
            };
            let (mut rec, ver) =
                self.build_records(Some(&p), id, version, &meta, &bundle, ctx.now)?;
            rec.created_at = locked.created_at;
            self.store
                .certificate_add_version(&mut tx, &rec, &ver)
                .await?;
            outbox::enqueue_lifecycle(self, &mut tx, EventType::CertReimported, &[&rec], ctx.now)
                .await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                Self::import_detail(&rec),
            )
            .await?;
            tx.commit().await?;
            Ok(self.to_metadata(&rec, ctx.now))
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_get(&self, ctx: &RequestCtx, id: Uuid) -> Result<CertificateMetadata> {
        const ACTION: &str = actions::CERTIFICATE_READ;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "reading a certificate")?;
            let rec = self.visible_certificate(&p, id).await?;
            Ok(self.to_metadata(&rec, ctx.now))
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn certificate_list(
        &self,
        ctx: &RequestCtx,
        q: CertificateListQuery,
    ) -> Result<CertificatePage> {
        const ACTION: &str = actions::CERTIFICATE_LIST;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let detail = serde_json::to_value(&q).unwrap_or(json!({}));
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "listing certificates")?;
            let f = self.list_filter(&p, &q, ctx.now)?;
            let limit = f.limit;
            let order = f.order;
            let mut rows = self
                .store
                .certificate_list(&CertificateFilter {
                    limit: limit + 1,
                    ..f
                })
                .await?;
            let more = rows.len() > limit as usize;
            rows.truncate(limit as usize);
            let next_cursor = if more {
                rows.last().map(|r| encode_cursor(r, order))
            } else {
                None
            };
            Ok(CertificatePage {
                items: rows.iter().map(|r| self.to_metadata(r, ctx.now)).collect(),
                next_cursor,
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, None, result, json!({"query": detail}))
            .await
    }

    fn list_filter(
        &self,
        p: &Principal,
        q: &CertificateListQuery,
        now: OffsetDateTime,
    ) -> Result<CertificateFilter> {
        let limit = q.limit.unwrap_or(100);
        if limit == 0 || limit > MAX_PAGE_LIMIT {
            return Err(Error::InvalidInput(format!(
                "`limit` is {limit}; it must be between 1 and {MAX_PAGE_LIMIT}"
            )));
        }
        let order = match q.sort.unwrap_or_default() {
            CertificateSort::NotAfter => ListOrder::NotAfterAsc,
            CertificateSort::NotAfterDesc => ListOrder::NotAfterDesc,
            CertificateSort::Name => ListOrder::NameAsc,
            CertificateSort::NameDesc => ListOrder::NameDesc,
        };
        let non_empty = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let mut f = CertificateFilter {
            deleted: q.deleted.unwrap_or(false),
            scope_group: p.group.clone(),
            group: non_empty(&q.group),
            text: non_empty(&q.q).map(|s| s.to_lowercase()),
            issuer: non_empty(&q.issuer).map(|s| s.to_lowercase()),
            key_algorithm: non_empty(&q.key_algorithm).map(|k| canonical_key_algorithm(&k)),
            labels: match non_empty(&q.label) {
                Some(l) => domain::parse_label_filter(&l)?,
                None => Vec::new(),
            },
            order,
            limit,
            ..CertificateFilter::default()
        };
        if f.text.as_ref().is_some_and(|t| t.chars().count() > 256) {
            return Err(Error::InvalidInput(
                "`q` is longer than 256 characters".into(),
            ));
        }
        let now_s = now.unix_timestamp();
        let window_end = (now + self.policy.expiring_window).unix_timestamp();
        let mut na_min: Option<i64> = None;
        let mut na_max_excl: Option<i64> = None;
        let tighten_min = |cur: Option<i64>, v: i64| Some(cur.map_or(v, |c| c.max(v)));
        let tighten_max = |cur: Option<i64>, v: i64| Some(cur.map_or(v, |c| c.min(v)));
        match q.status {
            None => {}
            Some(CertificateStatus::Expired) => na_max_excl = tighten_max(na_max_excl, now_s),
            Some(CertificateStatus::NotYetValid) => {
                na_min = tighten_min(na_min, now_s);
                f.not_before_min_excl = Some(now_s);
            }
            Some(CertificateStatus::Expiring) => {
                na_min = tighten_min(na_min, now_s);
                na_max_excl = tighten_max(na_max_excl, window_end);
                f.not_before_max = Some(now_s);
            }
            Some(CertificateStatus::Valid) => {
                na_min = tighten_min(na_min, window_end);
                f.not_before_max = Some(now_s);
            }
        }
        if let Some(b) = q.expires_before {
            na_max_excl = tighten_max(na_max_excl, b.unix_timestamp());
        }
        if let Some(a) = q.expires_after {
            na_min = tighten_min(na_min, a.unix_timestamp().saturating_add(1));
        }
        f.not_after_min = na_min;
        f.not_after_max_excl = na_max_excl;
        if let Some(c) = &q.cursor {
            f.after = Some(decode_cursor(c, order)?);
        }
        Ok(f)
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_edit(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: EditCertificateRequest,
    ) -> Result<CertificateMetadata> {
        const ACTION: &str = actions::CERTIFICATE_UPDATE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let fields: Vec<&str> = [
            req.name.as_ref().map(|_| "name"),
            req.description.as_ref().map(|_| "description"),
            req.group.as_ref().map(|_| "group"),
            req.labels.as_ref().map(|_| "labels"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let detail = json!({ "fields": fields });
        let result = async {
            let current = self.visible_certificate(&p, id).await?;
            p.require(
                Role::Writer,
                current.group.as_deref(),
                "editing a certificate",
            )?;
            let name = req
                .name
                .as_deref()
                .map(|n| domain::validate_name("name", n))
                .transpose()?;
            let description = req
                .description
                .as_deref()
                .map(domain::validate_description)
                .transpose()?;
            let group = match req.group.as_deref().map(str::trim) {
                None => None,
                Some("") => Some(None),
                Some(g) => Some(Some(domain::validate_group(g)?)),
            };
            if let Some(g) = &group {
                p.require(
                    Role::Writer,
                    g.as_deref(),
                    "moving a certificate to another group",
                )?;
            }
            let labels = req
                .labels
                .as_ref()
                .map(domain::validate_labels)
                .transpose()?;
            let mut tx = self.store.begin_write().await?;
            let mut rec = self
                .lock_entry(&mut tx, &p, id, Role::Writer, "editing a certificate")
                .await?;
            if let Some(n) = name {
                rec.name = n;
            }
            if let Some(d) = description {
                rec.description = d;
            }
            if let Some(g) = group {
                rec.group = g;
            }
            if let Some(l) = labels {
                rec.labels = l;
            }
            rec.updated_at = whole_second(ctx.now);
            self.store
                .certificate_update_metadata(&mut tx, &rec)
                .await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                detail.clone(),
            )
            .await?;
            tx.commit().await?;
            Ok(self.to_metadata(&rec, ctx.now))
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_delete(&self, ctx: &RequestCtx, id: Uuid) -> Result<()> {
        const ACTION: &str = actions::CERTIFICATE_DELETE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let mut tx = self.store.begin_write().await?;
            let rec = self
                .lock_entry(&mut tx, &p, id, Role::Manager, "deleting a certificate")
                .await?;
            if let Some(at) = rec.deleted_at {
                return Err(Error::Conflict(format!(
                    "certificate {id} was already deleted at {}",
                    rfc3339(at)
                )));
            }
            self.store
                .certificate_set_deleted(&mut tx, id, Some(ctx.now), ctx.now)
                .await?;
            outbox::enqueue_lifecycle(self, &mut tx, EventType::CertDeleted, &[&rec], ctx.now)
                .await?;
            let purge_after = ctx.now + self.policy.deleted_retention;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name, "purge_after": rfc3339(purge_after)}),
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_restore(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
    ) -> Result<CertificateMetadata> {
        const ACTION: &str = actions::CERTIFICATE_RESTORE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let mut tx = self.store.begin_write().await?;
            let mut rec = self
                .lock_entry(&mut tx, &p, id, Role::Manager, "restoring a certificate")
                .await?;
            if rec.deleted_at.is_none() {
                return Err(Error::Conflict(format!("certificate {id} is not deleted")));
            }
            self.store
                .certificate_set_deleted(&mut tx, id, None, ctx.now)
                .await?;
            rec.deleted_at = None;
            rec.updated_at = whole_second(ctx.now);
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name}),
            )
            .await?;
            tx.commit().await?;
            Ok(self.to_metadata(&rec, ctx.now))
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// Remove a soft-deleted entry for good, before its retention ends.
    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_purge(&self, ctx: &RequestCtx, id: Uuid) -> Result<()> {
        const ACTION: &str = actions::CERTIFICATE_PURGE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            let mut tx = self.store.begin_write().await?;
            let rec = self
                .lock_entry(&mut tx, &p, id, Role::Manager, "purging a certificate")
                .await?;
            if rec.deleted_at.is_none() {
                return Err(Error::Conflict(format!(
                    "certificate {id} is not deleted; delete it first, then purge"
                )));
            }
            self.store.certificate_purge(&mut tx, id).await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name}),
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// Purge entries deleted longer ago than the retention period. Returns how many.
    pub async fn purge_expired_deletions(&self, ctx: &RequestCtx) -> Result<usize> {
        let before = ctx.now - self.policy.deleted_retention;
        let mut total = 0;
        loop {
            let ids = self.store.certificate_deleted_before(before, 500).await?;
            if ids.is_empty() {
                return Ok(total);
            }
            for id in ids {
                let mut tx = self.store.begin_write().await?;
                let Some(rec) = self.store.certificate_get_for_update(&mut tx, id).await? else {
                    continue;
                };
                // Restored (or deleted again later) since the listing: leave it.
                if rec.deleted_at.is_none_or(|d| d >= before) {
                    continue;
                }
                self.store.certificate_purge(&mut tx, id).await?;
                self.record_in(
                    &mut tx,
                    ctx,
                    None,
                    actions::CERTIFICATE_PURGE,
                    Some(&id.to_string()),
                    json!({"name": rec.name, "reason": "retention period ended"}),
                )
                .await?;
                tx.commit().await?;
                total += 1;
            }
        }
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_versions(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
    ) -> Result<CertificateVersionList> {
        const ACTION: &str = actions::CERTIFICATE_VERSIONS;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "listing versions")?;
            let rec = self.visible_certificate(&p, id).await?;
            let versions = self.store.certificate_versions(id).await?;
            let mut items = Vec::with_capacity(versions.len());
            for v in &versions {
                let info = pki::cert_info(&v.leaf_der)?;
                items.push(CertificateVersion {
                    version: v.version,
                    current: v.version == rec.current_version,
                    subject: info.subject,
                    issuer: info.issuer,
                    serial: info.serial,
                    domains: info.domains,
                    not_before: info.not_before,
                    not_after: info.not_after,
                    fingerprint_sha256: info.fingerprint_sha256,
                    key_algorithm: info.key_algorithm,
                    has_private_key: v.has_key,
                    chain_length: u32::try_from(v.chain_der.len()).unwrap_or(u32::MAX),
                    created_at: v.created_at,
                });
            }
            Ok(CertificateVersionList { items })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    async fn load_version(
        &self,
        rec: &CertificateRecord,
        version: Option<u32>,
    ) -> Result<VersionRecord> {
        let v = version.unwrap_or(rec.current_version);
        self.store
            .certificate_version(rec.id, v)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "certificate {} has no version {v} (versions 1..={})",
                    rec.id, rec.current_version
                ))
            })
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_download(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        q: DownloadQuery,
    ) -> Result<Download> {
        let part = q.part.unwrap_or_default();
        let format = q.format.unwrap_or_default();
        let action = if part == DownloadPart::PrivateKey {
            actions::CERTIFICATE_DOWNLOAD_KEY
        } else {
            actions::CERTIFICATE_DOWNLOAD
        };
        let target = id.to_string();
        let p = self.authenticate(ctx, action, Some(&target)).await?;
        let detail = json!({"part": part, "format": format, "version": q.version});
        let result = async {
            let rec = self.visible_certificate(&p, id).await?;
            let need = if part == DownloadPart::PrivateKey {
                Role::Writer
            } else {
                Role::Reader
            };
            p.require(need, rec.group.as_deref(), "downloading this part")?;
            if let Some(at) = rec.deleted_at {
                return Err(Error::Conflict(format!(
                    "certificate {id} was deleted at {}; restore it to download",
                    rfc3339(at)
                )));
            }
            let v = self.load_version(&rec, q.version).await?;
            let file_name =
                |part: &str, ext: &str| download_file_name(&rec.name, part, q.version, ext);
            let pem = |text: String, suffix: &str| Download {
                bytes: Zeroizing::new(text.into_bytes()),
                content_type: "application/x-pem-file",
                file_name: file_name(suffix, "pem"),
            };
            let der = |bytes: Vec<u8>, suffix: &str, ct: &'static str| Download {
                bytes: Zeroizing::new(bytes),
                content_type: ct,
                file_name: file_name(suffix, "der"),
            };
            Ok(match (part, format) {
                (DownloadPart::Certificate, DownloadFormat::Pem) => {
                    pem(pki::pem_encode("CERTIFICATE", &v.leaf_der), "")
                }
                (DownloadPart::Certificate, DownloadFormat::Der) => {
                    der(v.leaf_der.clone(), "", "application/pkix-cert")
                }
                (DownloadPart::Chain, DownloadFormat::Pem) => {
                    if v.chain_der.is_empty() {
                        return Err(Error::NotFound(format!(
                            "certificate {id} version {} has no chain",
                            v.version
                        )));
                    }
                    pem(pem_chain(&v.chain_der), "-chain")
                }
                (DownloadPart::Chain, DownloadFormat::Der) => match v.chain_der.as_slice() {
                    [one] => der(one.clone(), "-chain", "application/pkix-cert"),
                    [] => {
                        return Err(Error::NotFound(format!(
                            "certificate {id} version {} has no chain",
                            v.version
                        )));
                    }
                    many => {
                        return Err(Error::InvalidInput(format!(
                            "the chain has {} certificates; DER holds one: use format=pem",
                            many.len()
                        )));
                    }
                },
                (DownloadPart::Fullchain, DownloadFormat::Pem) => {
                    let mut all = vec![v.leaf_der.clone()];
                    all.extend(v.chain_der.iter().cloned());
                    pem(pem_chain(&all), "-fullchain")
                }
                (DownloadPart::Fullchain, DownloadFormat::Der) => {
                    return Err(Error::InvalidInput(
                        "a full chain cannot be one DER file: use format=pem or PKCS#12".into(),
                    ));
                }
                (DownloadPart::PrivateKey, fmt) => {
                    let sealed = v.key_sealed.as_ref().ok_or_else(|| {
                        Error::NotFound(format!(
                            "certificate {id} version {} has no private key",
                            v.version
                        ))
                    })?;
                    let key = self.keyring.open(&key_context(id, v.version), sealed)?;
                    match fmt {
                        DownloadFormat::Pem => Download {
                            bytes: Zeroizing::new(
                                pki::pem_encode("PRIVATE KEY", &key).into_bytes(),
                            ),
                            content_type: "application/x-pem-file",
                            file_name: file_name("-key", "pem"),
                        },
                        DownloadFormat::Der => Download {
                            bytes: key,
                            content_type: "application/pkcs8",
                            file_name: file_name("-key", "der"),
                        },
                    }
                }
            })
        }
        .await;
        self.finish_read(ctx, &p, action, Some(&target), result, detail)
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, cert_id = %id))]
    pub async fn certificate_pkcs12(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: Pkcs12ExportRequest,
    ) -> Result<Download> {
        let include_key = req.include_key.unwrap_or(true);
        let action = if include_key {
            actions::CERTIFICATE_DOWNLOAD_KEY
        } else {
            actions::CERTIFICATE_DOWNLOAD
        };
        let target = id.to_string();
        let p = self.authenticate(ctx, action, Some(&target)).await?;
        let detail =
            json!({"format": "pkcs12", "include_key": include_key, "version": req.version});
        let result = async {
            let rec = self.visible_certificate(&p, id).await?;
            let need = if include_key { Role::Writer } else { Role::Reader };
            p.require(need, rec.group.as_deref(), "exporting PKCS#12")?;
            if req.password.is_empty() {
                return Err(Error::InvalidInput("`password` must not be empty".into()));
            }
            if req.password.chars().count() > 1024 {
                return Err(Error::InvalidInput("`password` is longer than 1024 characters".into()));
            }
            if let Some(at) = rec.deleted_at {
                return Err(Error::Conflict(format!(
                    "certificate {id} was deleted at {}; restore it to download",
                    rfc3339(at)
                )));
            }
            let v = self.load_version(&rec, req.version).await?;
            let key = match (&v.key_sealed, include_key) {
                (Some(sealed), true) => {
                    let der = self.keyring.open(&key_context(id, v.version), sealed)?;
                    Some(pki::private_key_from_pkcs8(&der)?)
                }
                (None, true) => {
                    return Err(Error::NotFound(format!(
                        "certificate {id} version {} has no private key; pass include_key=false for certificates only",
                        v.version
                    )));
                }
                (_, false) => None,
            };
            let password = Zeroizing::new(req.password.clone());
            let name = rec.name.clone();
            let bytes = tokio::task::spawn_blocking(move || {
                pki::export_pkcs12(&v.leaf_der, &v.chain_der, key.as_ref(), &password, &name)
            })
            .await
            .map_err(|e| Error::Internal(format!("PKCS#12 task failed: {e}")))??;
            Ok(Download {
                bytes: Zeroizing::new(bytes),
                content_type: "application/x-pkcs12",
                file_name: download_file_name(&rec.name, "", req.version, "p12"),
            })
        }
        .await;
        self.finish_read(ctx, &p, action, Some(&target), result, detail)
            .await
    }

    // ---------------------------------------------------------------- tokens

    async fn insert_token(
        &self,
        tx: &mut WriteTx,
        spec: NewToken,
        now: OffsetDateTime,
    ) -> Result<(String, TokenRecord)> {
        let NewToken {
            name,
            role,
            group,
            expires_at,
            created_by,
        } = spec;
        let secret = authz::generate_secret()?;
        let rec = TokenRecord {
            id: Uuid::now_v7(),
            name,
            token_hash: secret.hash.clone(),
            prefix: secret.prefix.clone(),
            role,
            group,
            created_at: whole_second(now),
            expires_at,
            revoked_at: None,
            last_used_at: None,
            created_by,
        };
        self.store.token_insert(tx, &rec).await?;
        Ok((secret.secret, rec))
    }

    fn validate_token_request(
        req: &CreateTokenRequest,
        now: OffsetDateTime,
    ) -> Result<(String, Role, Option<String>)> {
        let name = domain::validate_name("name", &req.name)?;
        let role = req.role.ok_or_else(|| {
            Error::InvalidInput("`role` is required: reader, writer, manager or admin".into())
        })?;
        let group = req
            .group
            .as_deref()
            .filter(|g| !g.trim().is_empty())
            .map(domain::validate_group)
            .transpose()?;
        if let Some(exp) = req.expires_at
            && exp <= now
        {
            return Err(Error::InvalidInput(format!(
                "`expires_at` {} is not in the future (now {})",
                rfc3339(exp),
                rfc3339(now)
            )));
        }
        Ok((name, role, group))
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn token_create(
        &self,
        ctx: &RequestCtx,
        req: CreateTokenRequest,
    ) -> Result<CreatedToken> {
        const ACTION: &str = actions::TOKEN_CREATE;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            let (name, role, group) = Self::validate_token_request(&req, ctx.now)?;
            // A group-limited admin only makes tokens for its own group.
            let group = match (&p.group, group) {
                (Some(mine), None) => Some(mine.clone()),
                (_, g) => g,
            };
            p.require(Role::Admin, group.as_deref(), "creating tokens")?;
            let mut tx = self.store.begin_write().await?;
            let (secret, rec) = self
                .insert_token(
                    &mut tx,
                    NewToken {
                        name,
                        role,
                        group,
                        expires_at: req.expires_at,
                        created_by: Some(p.token_id),
                    },
                    ctx.now,
                )
                .await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&rec.id.to_string()),
                json!({"name": rec.name, "role": rec.role, "group": rec.group}),
            )
            .await?;
            tx.commit().await?;
            Ok(CreatedToken {
                token: secret,
                info: token_info(&rec),
            })
        }
        .await;
        self.finish_write(ctx, &p, ACTION, None, result, json!({"name": req.name}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn token_list(&self, ctx: &RequestCtx) -> Result<TokenList> {
        const ACTION: &str = actions::TOKEN_LIST;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            p.require(Role::Admin, p.group.as_deref(), "listing tokens")?;
            let items = self.store.token_list(p.group.as_deref()).await?;
            Ok(TokenList {
                items: items.iter().map(token_info).collect(),
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, None, result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id, token = %id))]
    pub async fn token_revoke(&self, ctx: &RequestCtx, id: Uuid) -> Result<TokenInfo> {
        const ACTION: &str = actions::TOKEN_REVOKE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Admin, p.group.as_deref(), "revoking tokens")?;
            let t = self
                .store
                .token_get(id)
                .await?
                .filter(|t| p.reaches_group(t.group.as_deref()))
                .ok_or_else(|| Error::NotFound(format!("token {id} not found")))?;
            if let Some(at) = t.revoked_at {
                return Err(Error::Conflict(format!(
                    "token {id} was already revoked at {}",
                    rfc3339(at)
                )));
            }
            let mut tx = self.store.begin_write().await?;
            self.store.token_revoke(&mut tx, id, ctx.now).await?;
            self.record_in(
                &mut tx,
                ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": t.name}),
            )
            .await?;
            tx.commit().await?;
            let mut t = t;
            t.revoked_at = Some(whole_second(ctx.now));
            Ok(token_info(&t))
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    /// Offline token creation (`certkeepd token create`), for automation and lost access.
    pub async fn token_create_offline(
        &self,
        ctx: &RequestCtx,
        req: CreateTokenRequest,
    ) -> Result<CreatedToken> {
        let (name, role, group) = Self::validate_token_request(&req, ctx.now)?;
        let mut tx = self.store.begin_write().await?;
        let (secret, rec) = self
            .insert_token(
                &mut tx,
                NewToken {
                    name,
                    role,
                    group,
                    expires_at: req.expires_at,
                    created_by: None,
                },
                ctx.now,
            )
            .await?;
        self.record_in(
            &mut tx,
            ctx,
            None,
            actions::TOKEN_CREATE,
            Some(&rec.id.to_string()),
            json!({"name": rec.name, "role": rec.role, "group": rec.group, "offline": true}),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedToken {
            token: secret,
            info: token_info(&rec),
        })
    }

    /// On a database with no tokens at all, make the first admin token. Returns its secret.
    pub async fn bootstrap_admin(&self, ctx: &RequestCtx) -> Result<Option<CreatedToken>> {
        if self.store.token_count().await? > 0 {
            return Ok(None);
        }
        let created = self
            .token_create_offline(
                ctx,
                CreateTokenRequest {
                    name: "initial-admin".into(),
                    role: Some(Role::Admin),
                    group: None,
                    expires_at: None,
                },
            )
            .await?;
        Ok(Some(created))
    }

    // ---------------------------------------------------------------- audit

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn audit_list(&self, ctx: &RequestCtx, q: AuditQuery) -> Result<AuditPage> {
        const ACTION: &str = actions::AUDIT_LIST;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            // The log spans every group: only an unrestricted admin reads it.
            p.require(Role::Admin, None, "reading the audit log")?;
            let limit = q.limit.unwrap_or(100);
            if limit == 0 || limit > MAX_PAGE_LIMIT {
                return Err(Error::InvalidInput(format!(
                    "`limit` is {limit}; it must be between 1 and {MAX_PAGE_LIMIT}"
                )));
            }
            let after = q.after.unwrap_or(0);
            if after < 0 {
                return Err(Error::InvalidInput("`after` must not be negative".into()));
            }
            if let Some(before) = q.before
                && before <= after
            {
                return Err(Error::InvalidInput(format!(
                    "`before` is {before}; it must be greater than `after` ({after})"
                )));
            }
            let descending = q.order.unwrap_or_default() == AuditOrder::Desc;
            let token_id = q.token_id.map(|t| t.to_string());
            let rows = self
                .store
                .audit_search(&crate::store::AuditFilter {
                    after,
                    before: q.before,
                    descending,
                    limit: limit + 1,
                    action: q.action.as_deref(),
                    target: q.target.as_deref(),
                    token_id: token_id.as_deref(),
                    since_ms: q
                        .since
                        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
                    until_ms: q
                        .until
                        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64),
                })
                .await?;
            let more = rows.len() > limit as usize;
            let rows = &rows[..rows.len().min(limit as usize)];
            let items = rows.iter().map(audit::to_api).collect::<Result<Vec<_>>>()?;
            let next = rows.last().map(|r| r.seq).filter(|_| more);
            Ok(AuditPage {
                next_after: next.filter(|_| !descending),
                next_before: next.filter(|_| descending),
                items,
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, None, result, json!({}))
            .await
    }
}

/// The database remembers which root key sealed its secrets; refuse to run with another.
async fn check_root_key(store: &Store, keyring: &Keyring) -> Result<()> {
    let mut tx = store.begin_write().await?;
    let stored = store
        .setting_init(&mut tx, ROOT_KEY_SETTING, keyring.root_key_id())
        .await?;
    tx.commit().await?;
    if stored != keyring.root_key_id() {
        return Err(Error::InvalidInput(format!(
            "the database was sealed with root key {stored:?}, but the configured root key is {:?}: \
             point --root-key-file at the right key",
            keyring.root_key_id()
        )));
    }
    Ok(())
}

const SIGNING_KEY_CONTEXT: &str = "notify-signing-key";

/// Seal a signing key for the settings table.
fn seal_signing_key(keyring: &Keyring, pkcs8: &[u8]) -> Result<String> {
    Ok(base64::engine::general_purpose::STANDARD.encode(keyring.seal(SIGNING_KEY_CONTEXT, pkcs8)?))
}

fn open_signing_key(keyring: &Keyring, stored: &str) -> Result<Signer> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(stored.as_bytes())
        .map_err(|_| Error::Internal("stored signing key is not base64".into()))?;
    Signer::from_pkcs8(&keyring.open(SIGNING_KEY_CONTEXT, &raw)?)
}

/// The instance's webhook signing keys: the first replica to start makes the key, sealed in the
/// database, shared by every replica. Reads only, once the key exists.
async fn load_signing_keys(
    store: &Store,
    keyring: &Keyring,
) -> Result<(SigningKeys, (Option<String>, Option<String>))> {
    let current = match store.setting_get(SIGNING_KEY_SETTING).await? {
        Some(c) => c,
        None => {
            let (_, candidate) = Signer::generate()?;
            let sealed = seal_signing_key(keyring, &candidate)?;
            let mut tx = store.begin_write().await?;
            let stored = store
                .setting_init(&mut tx, SIGNING_KEY_SETTING, &sealed)
                .await?;
            tx.commit().await?;
            stored
        }
    };
    let previous = store.setting_get(SIGNING_KEY_PREVIOUS_SETTING).await?;
    let keys = SigningKeys {
        current: open_signing_key(keyring, &current)?,
        previous: previous
            .as_deref()
            .map(|p| open_signing_key(keyring, p))
            .transpose()?,
    };
    Ok((keys, (Some(current), previous)))
}

/// Prefix an input error with where in a batch it happened.
fn prefix_error(at: &str, e: Error) -> Error {
    match e {
        Error::InvalidInput(m) => Error::InvalidInput(format!("{at}: {m}")),
        Error::TooLarge(m) => Error::TooLarge(format!("{at}: {m}")),
        other => other,
    }
}

/// `RSA`, `EC`, `Ed25519`, … whatever case the caller used.
fn canonical_key_algorithm(k: &str) -> String {
    match k.to_ascii_lowercase().as_str() {
        "rsa" => "RSA".into(),
        "ec" | "ecdsa" => "EC".into(),
        "ed25519" => "Ed25519".into(),
        "ed448" => "Ed448".into(),
        "dsa" => "DSA".into(),
        "rsa-pss" | "rsapss" => "RSA-PSS".into(),
        _ => k.to_string(),
    }
}

/// Stored times have whole seconds; what a response shows must equal what a read returns.
fn whole_second(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_file_names_are_safe_and_carry_an_explicit_version() {
        assert_eq!(download_file_name("www", "", None, "pem"), "www.pem");
        assert_eq!(
            download_file_name("www", "-key", Some(2), "der"),
            "www-key-v2.der"
        );
        assert_eq!(download_file_name("www", "", Some(1), "p12"), "www-v1.p12");
        assert_eq!(
            download_file_name("../etc/passwd", "-chain", None, "pem"),
            "_etc_passwd-chain.pem"
        );
        assert_eq!(safe_file_stem("a \"b\"\\c:d"), "a__b__c_d");
        assert_eq!(
            safe_file_stem("Zertifikat für Bäckerei"),
            "Zertifikat_für_Bäckerei"
        );
        // A right-to-left override (U+202E) would make this name display as "wwwexe.pem".
        assert_eq!(safe_file_stem("www\u{202E}mep.exe"), "www_mep.exe");
        assert_eq!(safe_file_stem("..."), "certificate");
        assert_eq!(safe_file_stem(&"x".repeat(300)).len(), 64);
    }

    #[test]
    fn request_ctx_debug_hides_the_bearer_token() {
        let ctx = RequestCtx {
            request_id: "req-1".into(),
            bearer: Some("ck_secret_token_value".into()),
            now: OffsetDateTime::UNIX_EPOCH,
        };
        let text = format!("{ctx:?}");
        assert!(!text.contains("ck_secret_token_value"), "{text}");
        assert!(
            text.contains("req-1") && text.contains("<redacted>"),
            "{text}"
        );
    }
}
