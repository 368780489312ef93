//! Use-cases of ACME accounts and DNS-01 providers. They are instance-wide: a Manager not
//! limited to a group registers and removes them; every reader lists them, and any Manager may
//! order through them. Account keys and TSIG secrets are sealed by the keyring.

use base64::Engine;
use certkeep_api::{
    AcmeAccountInfo, AcmeAccountList, CreateAcmeAccountRequest, CreateDnsProviderRequest,
    DnsProviderInfo, DnsProviderKind, DnsProviderList, Role, TsigAlgorithm,
    UpdateAcmeAccountRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::instrument;
use uuid::Uuid;

use super::{App, RequestCtx, actions, whole_second};
use crate::acme::{self, dns};
use crate::domain;
use crate::error::{Error, Result};
use crate::notify::channels;
use crate::notify::event::EventType;
use crate::store::{AcmeAccountRecord, DnsProviderRecord, OrderReference};

const DEFAULT_PROPAGATION_TIMEOUT: u32 = 300;
const MAX_PROPAGATION_TIMEOUT: u32 = 3600;

pub(super) fn account_context(id: Uuid) -> String {
    format!("acme-account:{id}")
}

pub(super) fn provider_context(id: Uuid) -> String {
    format!("dns-provider:{id}")
}

/// The non-secret settings of an RFC 2136 provider, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Rfc2136Config {
    pub server: String,
    pub zone: String,
    pub tsig_key_name: String,
    pub tsig_algorithm: TsigAlgorithm,
    pub propagation_timeout_seconds: u32,
}

/// The settings of a callback provider, as stored: the webhook channel told about records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CallbackConfig {
    pub channel_id: Uuid,
    pub zone: String,
    pub propagation_timeout_seconds: u32,
}

/// The settings of a manual provider, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ManualConfig {
    pub zone: String,
    pub propagation_timeout_seconds: u32,
}

/// A provider's stored settings, by its kind.
pub(super) enum ProviderConfig {
    Rfc2136(Rfc2136Config),
    Callback(CallbackConfig),
    Manual(ManualConfig),
}

impl ProviderConfig {
    pub fn zone(&self) -> &str {
        match self {
            ProviderConfig::Rfc2136(c) => &c.zone,
            ProviderConfig::Callback(c) => &c.zone,
            ProviderConfig::Manual(c) => &c.zone,
        }
    }

    pub fn propagation_timeout_seconds(&self) -> u32 {
        match self {
            ProviderConfig::Rfc2136(c) => c.propagation_timeout_seconds,
            ProviderConfig::Callback(c) => c.propagation_timeout_seconds,
            ProviderConfig::Manual(c) => c.propagation_timeout_seconds,
        }
    }
}

pub(super) fn provider_config(rec: &DnsProviderRecord) -> Result<ProviderConfig> {
    let unreadable = |e: serde_json::Error| {
        Error::Internal(format!(
            "stored settings of DNS provider {} are unreadable: {e}",
            rec.id
        ))
    };
    match DnsProviderKind::parse(&rec.kind) {
        Some(DnsProviderKind::Rfc2136) => serde_json::from_str(&rec.config)
            .map(ProviderConfig::Rfc2136)
            .map_err(unreadable),
        Some(DnsProviderKind::Callback) => serde_json::from_str(&rec.config)
            .map(ProviderConfig::Callback)
            .map_err(unreadable),
        Some(DnsProviderKind::Manual) => serde_json::from_str(&rec.config)
            .map(ProviderConfig::Manual)
            .map_err(unreadable),
        None => Err(Error::Internal(format!(
            "DNS provider {} has the unknown kind {:?}",
            rec.id, rec.kind
        ))),
    }
}

fn account_info(a: &AcmeAccountRecord) -> AcmeAccountInfo {
    AcmeAccountInfo {
        id: a.id,
        name: a.name.clone(),
        directory_url: a.directory_url.clone(),
        contact: a.contact.clone(),
        eab_kid: a.eab_kid.clone(),
        custom_ca_root: a.ca_root_pem.is_some(),
        account_url: a.account_url.clone(),
        created_at: a.created_at,
    }
}

fn provider_info(p: &DnsProviderRecord) -> Result<DnsProviderInfo> {
    let info = DnsProviderInfo {
        id: p.id,
        name: p.name.clone(),
        kind: DnsProviderKind::Rfc2136,
        server: None,
        zone: String::new(),
        tsig_key_name: None,
        tsig_algorithm: None,
        channel_id: None,
        propagation_timeout_seconds: 0,
        created_at: p.created_at,
    };
    Ok(match provider_config(p)? {
        ProviderConfig::Rfc2136(c) => DnsProviderInfo {
            server: Some(c.server),
            zone: c.zone,
            tsig_key_name: Some(c.tsig_key_name),
            tsig_algorithm: Some(c.tsig_algorithm),
            propagation_timeout_seconds: c.propagation_timeout_seconds,
            ..info
        },
        ProviderConfig::Callback(c) => DnsProviderInfo {
            kind: DnsProviderKind::Callback,
            zone: c.zone,
            channel_id: Some(c.channel_id),
            propagation_timeout_seconds: c.propagation_timeout_seconds,
            ..info
        },
        ProviderConfig::Manual(c) => DnsProviderInfo {
            kind: DnsProviderKind::Manual,
            zone: c.zone,
            propagation_timeout_seconds: c.propagation_timeout_seconds,
            ..info
        },
    })
}

fn validate_contact(contact: &[String]) -> Result<Vec<String>> {
    contact
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let c = c.trim();
            let addr = c.strip_prefix("mailto:").unwrap_or(c);
            let ok = addr
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains(' '));
            if ok && !addr.contains(char::is_whitespace) {
                Ok(format!("mailto:{addr}"))
            } else {
                Err(Error::InvalidInput(format!(
                    "`contact[{i}]` {c:?} is not an e-mail address"
                )))
            }
        })
        .collect()
}

fn decode_b64(field: &str, s: &str) -> Result<Vec<u8>> {
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let unpadded = compact.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(unpadded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(unpadded))
        .map_err(|e| Error::InvalidInput(format!("`{field}` is not base64: {e}")))?;
    if bytes.is_empty() {
        return Err(Error::InvalidInput(format!("`{field}` is empty")));
    }
    Ok(bytes)
}

/// The PEM text of a CA root bundle, checked to be certificates only, at least one, each
/// parseable: all of them are trusted.
fn validate_root_pem(pem_text: &str) -> Result<String> {
    let blocks = pem::parse_many(pem_text.as_bytes())
        .map_err(|e| Error::InvalidInput(format!("`ca_root_pem` is not PEM: {e}")))?;
    if blocks.is_empty() {
        return Err(Error::InvalidInput(
            "`ca_root_pem` holds no CERTIFICATE block".into(),
        ));
    }
    for (i, block) in blocks.iter().enumerate() {
        if block.tag() != "CERTIFICATE" {
            return Err(Error::InvalidInput(format!(
                "`ca_root_pem`: PEM block {} is a {}, expected CERTIFICATE",
                i + 1,
                block.tag()
            )));
        }
        x509_parser::parse_x509_certificate(block.contents()).map_err(|e| {
            Error::InvalidInput(format!(
                "`ca_root_pem`: CERTIFICATE block {} does not parse: {e}",
                i + 1
            ))
        })?;
    }
    Ok(pem_text.to_string())
}

/// Providers other than rfc2136 take no server and no TSIG key.
fn refuse_rfc2136_fields(req: &CreateDnsProviderRequest) -> Result<()> {
    for (field, value) in [
        ("server", &req.server),
        ("tsig_key_name", &req.tsig_key_name),
        ("tsig_secret", &req.tsig_secret),
    ] {
        if !value.trim().is_empty() {
            return Err(Error::InvalidInput(format!(
                "`{field}` applies only to `kind` rfc2136"
            )));
        }
    }
    Ok(())
}

fn validate_server(s: &str) -> Result<String> {
    let t = s.trim();
    let host = match t.parse::<std::net::SocketAddr>() {
        Ok(_) => return Ok(t.to_string()),
        Err(_) => match t.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => {
                p.parse::<u16>().map_err(|_| {
                    Error::InvalidInput(format!("`server` {s:?}: the port is not a number"))
                })?;
                h
            }
            _ => t,
        },
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(t.to_string());
    }
    dns::parse_name("server", host).map_err(Error::InvalidInput)?;
    Ok(t.to_string())
}

/// The CA's refusal is the caller's input at fault; anything else is the CA out of reach.
fn ca_error(f: acme::Failure) -> Error {
    if f.problem.is_some() {
        Error::InvalidInput(f.message)
    } else {
        Error::Unavailable(f.message)
    }
}

impl App {
    async fn account_record(&self, id: Uuid) -> Result<AcmeAccountRecord> {
        self.store
            .acme_account_get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("ACME account {id} not found")))
    }

    async fn provider_record(&self, id: Uuid) -> Result<DnsProviderRecord> {
        self.store
            .dns_provider_get(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("DNS provider {id} not found")))
    }

    /// Load the stored account `rec` for talking to its CA.
    pub async fn load_account(&self, rec: &AcmeAccountRecord) -> Result<instant_acme::Account> {
        let creds = self
            .keyring
            .open(&account_context(rec.id), &rec.credentials_sealed)?;
        let creds = std::str::from_utf8(&creds)
            .map_err(|_| Error::Internal("stored account credentials are not UTF-8".into()))?;
        acme::account(creds, rec.ca_root_pem.as_deref())
            .await
            .map_err(|f| Error::Unavailable(f.message))
    }

    /// Rename an account, change its contacts at the CA, or roll its key over (Manager not
    /// limited to a group).
    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn acme_account_update(
        &self,
        ctx: &RequestCtx,
        id: Uuid,
        req: UpdateAcmeAccountRequest,
    ) -> Result<AcmeAccountInfo> {
        const ACTION: &str = actions::ACME_ACCOUNT_UPDATE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let detail = json!({
            "name": req.name,
            "contact": req.contact,
            "rollover_key": req.rollover_key,
        });
        let result = async {
            p.require(Role::Manager, None, "changing ACME accounts")?;
            let mut rec = self.account_record(id).await?;
            if let Some(name) = &req.name {
                rec.name = domain::validate_name("name", name)?;
            }
            let contact = req.contact.as_deref().map(validate_contact).transpose()?;
            if contact.is_some() || req.rollover_key {
                let mut account = self.load_account(&rec).await?;
                if let Some(contact) = contact {
                    let list: Vec<&str> = contact.iter().map(String::as_str).collect();
                    account.update_contacts(&list).await.map_err(|e| {
                        ca_error(acme::failure("`contact`: changing the contacts", e))
                    })?;
                    rec.contact = contact;
                }
                if req.rollover_key {
                    let creds = account
                        .update_key()
                        .await
                        .map_err(|e| ca_error(acme::failure("rolling the account key over", e)))?;
                    let json =
                        zeroize::Zeroizing::new(serde_json::to_string(&creds).map_err(|e| {
                            Error::Internal(format!("cannot encode the account credentials: {e}"))
                        })?);
                    rec.credentials_sealed =
                        self.keyring.seal(&account_context(id), json.as_bytes())?;
                }
            }
            rec.updated_at = whole_second(ctx.now);
            let mut tx = self.store.begin_write().await?;
            self.store.acme_account_update(&mut tx, &rec).await?;
            self.commit_recorded(tx, ctx, Some(&p), ACTION, Some(&target), detail.clone())
                .await?;
            Ok(account_info(&rec))
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, detail)
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn acme_account_create(
        &self,
        ctx: &RequestCtx,
        req: CreateAcmeAccountRequest,
    ) -> Result<AcmeAccountInfo> {
        const ACTION: &str = actions::ACME_ACCOUNT_CREATE;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let id = Uuid::now_v7();
        let target = id.to_string();
        let result = async {
            p.require(Role::Manager, None, "registering ACME accounts")?;
            let name = domain::validate_name("name", &req.name)?;
            let directory_url = acme::directory_url(&req.directory).map_err(Error::InvalidInput)?;
            if !req.terms_of_service_agreed {
                return Err(Error::InvalidInput(
                    "`terms_of_service_agreed` must be true: registering means agreeing to the CA's terms of service".into(),
                ));
            }
            let contact = validate_contact(&req.contact)?;
            let eab = match &req.eab {
                Some(e) if e.kid.trim().is_empty() => {
                    return Err(Error::InvalidInput("`eab.kid` is empty".into()));
                }
                Some(e) => Some((e.kid.trim().to_string(), decode_b64("eab.hmac_key", &e.hmac_key)?)),
                None => None,
            };
            let root = req.ca_root_pem.as_deref().map(validate_root_pem).transpose()?;
            let registered = acme::register(
                &directory_url,
                &contact,
                eab.as_ref().map(|(k, v)| (k.as_str(), v.as_slice())),
                root.as_deref(),
            )
            .await
            .map_err(ca_error)?;
            let rec = AcmeAccountRecord {
                id,
                name,
                directory_url,
                contact,
                eab_kid: eab.map(|(k, _)| k),
                ca_root_pem: root,
                credentials_sealed: self
                    .keyring
                    .seal(&account_context(id), registered.credentials_json.as_bytes())?,
                account_url: registered.account_url,
                created_at: whole_second(ctx.now),
                updated_at: whole_second(ctx.now),
            };
            let mut tx = self.store.begin_write().await?;
            self.store.acme_account_insert(&mut tx, &rec).await?;
            self.commit_recorded(tx, ctx,
                Some(&p),
                ACTION,
                Some(&target),
                json!({"name": rec.name, "directory_url": rec.directory_url, "eab_kid": rec.eab_kid}),).await?;
            Ok(account_info(&rec))
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
    pub async fn acme_account_list(&self, ctx: &RequestCtx) -> Result<AcmeAccountList> {
        const ACTION: &str = actions::ACME_ACCOUNT_LIST;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "listing ACME accounts")?;
            let items = self.store.acme_account_list().await?;
            Ok(AcmeAccountList {
                items: items.iter().map(account_info).collect(),
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, None, result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn acme_account_get(&self, ctx: &RequestCtx, id: Uuid) -> Result<AcmeAccountInfo> {
        const ACTION: &str = actions::ACME_ACCOUNT_READ;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "reading ACME accounts")?;
            Ok(account_info(&self.account_record(id).await?))
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn acme_account_delete(&self, ctx: &RequestCtx, id: Uuid) -> Result<()> {
        const ACTION: &str = actions::ACME_ACCOUNT_DELETE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Manager, None, "removing ACME accounts")?;
            let mut tx = self.store.begin_write().await?;
            let used = self
                .store
                .orders_referring(&mut tx, OrderReference::Account, id)
                .await?;
            if used > 0 {
                return Err(Error::Conflict(format!(
                    "ACME account {id} is used by {used} orders; it stays while they exist"
                )));
            }
            if !self.store.acme_account_delete(&mut tx, id).await? {
                return Err(Error::NotFound(format!("ACME account {id} not found")));
            }
            self.commit_recorded(tx, ctx, Some(&p), ACTION, Some(&target), json!({}))
                .await?;
            Ok(())
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn dns_provider_create(
        &self,
        ctx: &RequestCtx,
        req: CreateDnsProviderRequest,
    ) -> Result<DnsProviderInfo> {
        const ACTION: &str = actions::DNS_PROVIDER_CREATE;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let id = Uuid::now_v7();
        let target = id.to_string();
        let result = async {
            p.require(Role::Manager, None, "configuring DNS providers")?;
            let name = domain::validate_name("name", &req.name)?;
            let kind = req.kind.unwrap_or(DnsProviderKind::Rfc2136);
            let zone = dns::parse_name("zone", &req.zone).map_err(Error::InvalidInput)?;
            let zone = zone.to_ascii().trim_end_matches('.').to_string();
            let timeout = req
                .propagation_timeout_seconds
                .unwrap_or(DEFAULT_PROPAGATION_TIMEOUT);
            if timeout == 0 || timeout > MAX_PROPAGATION_TIMEOUT {
                return Err(Error::InvalidInput(format!(
                    "`propagation_timeout_seconds` is {timeout}; give 1 to {MAX_PROPAGATION_TIMEOUT}"
                )));
            }
            let (config, secret, detail) = match kind {
                DnsProviderKind::Rfc2136 => {
                    if req.channel_id.is_some() {
                        return Err(Error::InvalidInput(
                            "`channel_id` applies only to `kind` callback".into(),
                        ));
                    }
                    let server = validate_server(&req.server)?;
                    let key_name = dns::parse_name("tsig_key_name", &req.tsig_key_name)
                        .map_err(Error::InvalidInput)?;
                    let secret = decode_b64("tsig_secret", &req.tsig_secret)?;
                    let config = Rfc2136Config {
                        server,
                        zone,
                        tsig_key_name: key_name.to_ascii().trim_end_matches('.').to_string(),
                        tsig_algorithm: req.tsig_algorithm,
                        propagation_timeout_seconds: timeout,
                    };
                    let detail = json!({"server": config.server, "zone": config.zone});
                    (serde_json::to_string(&config), secret, detail)
                }
                DnsProviderKind::Manual => {
                    refuse_rfc2136_fields(&req)?;
                    if req.channel_id.is_some() {
                        return Err(Error::InvalidInput(
                            "`channel_id` applies only to `kind` callback".into(),
                        ));
                    }
                    let config = ManualConfig {
                        zone,
                        propagation_timeout_seconds: timeout,
                    };
                    let detail = json!({"zone": config.zone});
                    (serde_json::to_string(&config), Vec::new(), detail)
                }
                DnsProviderKind::Callback => {
                    refuse_rfc2136_fields(&req)?;
                    let channel_id = req.channel_id.ok_or_else(|| {
                        Error::InvalidInput("`channel_id` is required with `kind` callback".into())
                    })?;
                    match self.store.channel_get(channel_id).await? {
                        Some(ch) if ch.kind == "webhook" => {
                            for event in [
                                EventType::DnsValidationRequired,
                                EventType::DnsValidationCompleted,
                            ] {
                                if !channels::wants(&ch, event) {
                                    return Err(Error::InvalidInput(format!(
                                        "`channel_id` {channel_id}: the channel does not send {}; add it to the channel's events",
                                        event.as_str()
                                    )));
                                }
                            }
                        }
                        Some(ch) => {
                            return Err(Error::InvalidInput(format!(
                                "`channel_id` {channel_id} is a {} channel; callback providers need a webhook channel",
                                ch.kind
                            )));
                        }
                        None => {
                            return Err(Error::InvalidInput(format!(
                                "`channel_id` {channel_id} names no notification channel"
                            )));
                        }
                    }
                    let config = CallbackConfig {
                        channel_id,
                        zone,
                        propagation_timeout_seconds: timeout,
                    };
                    let detail = json!({"zone": config.zone, "channel_id": channel_id});
                    (serde_json::to_string(&config), Vec::new(), detail)
                }
            };
            let secret = zeroize::Zeroizing::new(secret);
            let mut detail = detail;
            detail["name"] = json!(name);
            detail["kind"] = json!(kind.as_str());
            let rec = DnsProviderRecord {
                id,
                name,
                kind: kind.as_str().to_string(),
                config: config
                    .map_err(|e| Error::Internal(format!("cannot encode provider settings: {e}")))?,
                secret_sealed: self.keyring.seal(&provider_context(id), &secret)?,
                channel_id: req.channel_id.filter(|_| kind == DnsProviderKind::Callback),
                created_at: whole_second(ctx.now),
                updated_at: whole_second(ctx.now),
            };
            let mut tx = self.store.begin_write().await?;
            // The channel locked until the provider is stored: a delete of it waits, then
            // finds the provider and is refused; one that went first leaves nothing to lock.
            if let Some(channel_id) = rec.channel_id
                && self
                    .store
                    .channel_get_for_update(&mut tx, channel_id)
                    .await?
                    .is_none()
            {
                return Err(Error::InvalidInput(format!(
                    "`channel_id` {channel_id} names no notification channel"
                )));
            }
            self.store.dns_provider_insert(&mut tx, &rec).await?;
            self.commit_recorded(tx, ctx,
                Some(&p),
                ACTION,
                Some(&target),
                detail,).await?;
            provider_info(&rec)
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
    pub async fn dns_provider_list(&self, ctx: &RequestCtx) -> Result<DnsProviderList> {
        const ACTION: &str = actions::DNS_PROVIDER_LIST;
        let p = self.authenticate(ctx, ACTION, None).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "listing DNS providers")?;
            let items = self.store.dns_provider_list().await?;
            Ok(DnsProviderList {
                items: items.iter().map(provider_info).collect::<Result<_>>()?,
            })
        }
        .await;
        self.finish_read(ctx, &p, ACTION, None, result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn dns_provider_get(&self, ctx: &RequestCtx, id: Uuid) -> Result<DnsProviderInfo> {
        const ACTION: &str = actions::DNS_PROVIDER_READ;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Reader, p.group.as_deref(), "reading DNS providers")?;
            provider_info(&self.provider_record(id).await?)
        }
        .await;
        self.finish_read(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }

    #[instrument(skip_all, fields(request_id = %ctx.request_id))]
    pub async fn dns_provider_delete(&self, ctx: &RequestCtx, id: Uuid) -> Result<()> {
        const ACTION: &str = actions::DNS_PROVIDER_DELETE;
        let target = id.to_string();
        let p = self.authenticate(ctx, ACTION, Some(&target)).await?;
        let result = async {
            p.require(Role::Manager, None, "removing DNS providers")?;
            let mut tx = self.store.begin_write().await?;
            let used = self
                .store
                .orders_referring(&mut tx, OrderReference::DnsProvider, id)
                .await?;
            if used > 0 {
                return Err(Error::Conflict(format!(
                    "DNS provider {id} is used by {used} orders; it stays while they exist"
                )));
            }
            if !self.store.dns_provider_delete(&mut tx, id).await? {
                return Err(Error::NotFound(format!("DNS provider {id} not found")));
            }
            self.commit_recorded(tx, ctx, Some(&p), ACTION, Some(&target), json!({}))
                .await?;
            Ok(())
        }
        .await;
        self.finish_write(ctx, &p, ACTION, Some(&target), result, json!({}))
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn ca_pem(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn refused(pem: &str) -> String {
        match validate_root_pem(pem) {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn custom_root_bundles_are_certificates_only() {
        let (a, key) = ca_pem("root a");
        let (b, _) = ca_pem("root b");
        let bundle = format!("{a}{b}");
        assert_eq!(validate_root_pem(&bundle).unwrap(), bundle);

        for garbage in ["", "garbage", "-----BEGIN CERTIFICATE-----\nnot base64"] {
            let m = refused(garbage);
            assert!(m.contains("`ca_root_pem`"), "{m}");
        }
        assert!(refused("garbage").contains("holds no CERTIFICATE block"));
        let m = refused(&format!("{a}{key}"));
        assert!(
            m.contains("PEM block 2 is a PRIVATE KEY, expected CERTIFICATE"),
            "{m}"
        );
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let m = refused(&format!("{a}{broken}"));
        assert!(m.contains("CERTIFICATE block 2 does not parse"), "{m}");
    }
}
