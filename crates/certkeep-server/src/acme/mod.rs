//! ACME (RFC 8555) with instant-acme: registering accounts and taking one order from "new"
//! to an issued chain, with HTTP-01 answers stored for the challenge listener or DNS-01
//! records written through RFC 2136. It knows nothing of HTTP routing, users or the audit
//! log; `app::orders` wires it to those.

pub mod ari;
pub mod dns;

use std::time::Duration;

use certkeep_api::{AcmeProblem, AcmeSubproblem, KeyType};
use instant_acme::{
    Account, AccountBuilder, AccountCredentials, AuthorizationStatus, ChallengeType,
    ExternalAccountKey, Identifier, NewAccount, NewOrder, OrderStatus, Problem, RetryPolicy,
};
use zeroize::Zeroizing;

/// Where ACME ordering listens and asks, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub http_listen: Option<std::net::SocketAddr>,
    pub lookup: dns::Lookup,
    pub renewal: crate::domain::renewal::RenewalPolicy,
    /// Orders started per account per hour at most.
    pub orders_per_account_per_hour: u32,
    /// How long a replica's claim on an order lasts unless renewed; the replica running the
    /// order renews it every third of that, so only a replica that died or lost the database
    /// for that long leaves its order to another.
    pub order_lease: time::Duration,
}

impl Settings {
    pub fn from_config(c: &crate::config::Config) -> Settings {
        Settings {
            http_listen: c.acme_http_listen,
            lookup: dns::Lookup {
                resolver: c.acme_dns_resolver.unwrap_or_else(system_resolver),
                nameserver_port: c.acme_dns_port,
            },
            renewal: crate::domain::renewal::RenewalPolicy {
                lifetime_fraction: c
                    .acme_renew_lifetime_percent
                    .map_or(2.0 / 3.0, |p| p / 100.0),
                before_expiry: time::Duration::days(i64::from(c.acme_renew_days_before_expiry)),
            },
            orders_per_account_per_hour: c.acme_orders_per_account_per_hour,
            order_lease: DEFAULT_ORDER_LEASE,
        }
    }
}

/// The first `nameserver` of /etc/resolv.conf, else 127.0.0.1:53.
fn system_resolver() -> std::net::SocketAddr {
    std::fs::read_to_string("/etc/resolv.conf")
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("nameserver"))
                    .then(|| w.next())
                    .flatten()
                    .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
            })
        })
        .map_or_else(
            || std::net::SocketAddr::from(([127, 0, 0, 1], 53)),
            |ip| std::net::SocketAddr::new(ip, 53),
        )
}

/// Long enough that renewing it every third is cheap, short enough that an order whose
/// replica died is taken up again within minutes.
pub const DEFAULT_ORDER_LEASE: time::Duration = time::Duration::minutes(15);

pub const LETSENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

/// How long the CA gets to validate all challenges, and then to issue.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(180);
const ISSUANCE_TIMEOUT: Duration = Duration::from_secs(120);

/// Why an ACME exchange failed: words, the CA's problem document, the domain at fault.
#[derive(Debug, Clone, Default)]
pub struct Failure {
    pub message: String,
    pub problem: Option<Box<AcmeProblem>>,
    pub domain: Option<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            ..Failure::default()
        }
    }

    fn at(domain: &str, message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            problem: None,
            domain: Some(domain.to_string()),
        }
    }
}

fn problem_doc(p: &Problem) -> AcmeProblem {
    AcmeProblem {
        kind: p.r#type.clone(),
        detail: p.detail.clone(),
        status: p.status,
        subproblems: p
            .subproblems
            .iter()
            .map(|s| AcmeSubproblem {
                identifier: s
                    .identifier
                    .as_ref()
                    .map(|i| i.authorized(false).to_string()),
                kind: s.r#type.clone(),
                detail: s.detail.clone(),
            })
            .collect(),
    }
}

pub fn failure(context: &str, e: instant_acme::Error) -> Failure {
    match e {
        instant_acme::Error::Api(p) => {
            let doc = problem_doc(&p);
            let domain = doc.subproblems.iter().find_map(|s| s.identifier.clone());
            Failure {
                message: format!(
                    "{context}: the CA refused: {}",
                    p.detail.as_deref().unwrap_or("no detail given")
                ),
                problem: Some(Box::new(doc)),
                domain,
            }
        }
        other => Failure::new(format!("{context}: {}", with_causes(&other))),
    }
}

/// `e` and the errors under it: "client error (Connect)" alone hides the TLS reason.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// `f` with its domain set, when the CA named none in subproblems, to the ordered domain its
/// detail names (CAs refusing an identifier often say which only in words); the longest
/// match, so `www.example.com` wins over `example.com`.
fn blame_named_domain(mut f: Failure, domains: &[String]) -> Failure {
    if f.domain.is_none() {
        let detail = f
            .problem
            .as_ref()
            .and_then(|p| p.detail.clone())
            .unwrap_or_default();
        f.domain = domains
            .iter()
            .filter(|d| detail.contains(d.as_str()))
            .max_by_key(|d| d.len())
            .cloned();
    }
    f
}

/// The directory URL of `directory`: a preset name or an `https://` URL.
pub fn directory_url(directory: &str) -> Result<String, String> {
    match directory.trim() {
        "letsencrypt" => Ok(LETSENCRYPT.to_string()),
        "letsencrypt-staging" => Ok(LETSENCRYPT_STAGING.to_string()),
        url if url.starts_with("https://") && url.len() > "https://".len() => Ok(url.to_string()),
        other => Err(format!(
            "`directory` {other:?} is neither `letsencrypt`, `letsencrypt-staging` nor an https:// URL"
        )),
    }
}

/// An account builder trusting every certificate of `root_pem` instead of the public roots.
fn builder(root_pem: Option<&str>) -> Result<AccountBuilder, Failure> {
    let Some(pem) = root_pem else {
        return Account::builder().map_err(|e| failure("cannot set up the ACME HTTP client", e));
    };
    let roots = root_store(pem).map_err(Failure::new)?;
    // instant-acme's own custom-root builder reads a file and trusts its first certificate
    // only; a private CA's bundle (old and new root, say) needs all of them.
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, instant_acme::BodyWrapper<bytes::Bytes>>(connector);
    Ok(Account::builder_with_http(Box::new(client)))
}

/// The trust anchors of the PEM bundle `pem`: every CERTIFICATE block; an error when there is
/// none or one is not usable.
fn root_store(pem: &str) -> Result<rustls::RootCertStore, String> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for (i, der) in rustls_pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let der = der.map_err(|e| format!("the custom CA root: PEM block {}: {e}", i + 1))?;
        roots.add(der).map_err(|e| {
            format!(
                "the custom CA root: certificate {} is not a usable trust anchor: {e}",
                i + 1
            )
        })?;
    }
    if roots.is_empty() {
        return Err("the custom CA root holds no CERTIFICATE block".into());
    }
    Ok(roots)
}

/// A newly registered account: its credentials (JSON holding the key) and URL.
pub struct Registered {
    pub credentials_json: Zeroizing<String>,
    pub account_url: String,
}

/// Register a new account at `directory_url`.
pub async fn register(
    directory_url: &str,
    contact: &[String],
    eab: Option<(&str, &[u8])>,
    root_pem: Option<&str>,
) -> Result<Registered, Failure> {
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let eab = eab.map(|(kid, key)| ExternalAccountKey::new(kid.to_string(), key));
    let (account, credentials) = builder(root_pem)?
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory_url.to_string(),
            eab.as_ref(),
        )
        .await
        .map_err(|e| failure(&format!("registering at {directory_url}"), e))?;
    let json = serde_json::to_string(&credentials)
        .map_err(|e| Failure::new(format!("cannot encode the account credentials: {e}")))?;
    Ok(Registered {
        credentials_json: Zeroizing::new(json),
        account_url: account.id().to_string(),
    })
}

/// Load a stored account.
pub async fn account(credentials_json: &str, root_pem: Option<&str>) -> Result<Account, Failure> {
    let creds: AccountCredentials = serde_json::from_str(credentials_json)
        .map_err(|e| Failure::new(format!("stored account credentials are unreadable: {e}")))?;
    builder(root_pem)?
        .from_credentials(creds)
        .await
        .map_err(|e| failure("loading the ACME account", e))
}

/// A new private key of `kind`, as PKCS#8 DER.
pub fn generate_key(kind: KeyType) -> Result<rcgen::KeyPair, Failure> {
    use rcgen::{KeyPair, RsaKeySize};
    let r = match kind {
        KeyType::EcP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyType::EcP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyType::Rsa2048 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048),
        KeyType::Rsa3072 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072),
        KeyType::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
    };
    r.map_err(|e| Failure::new(format!("cannot generate a {} key: {e}", kind.as_str())))
}

fn csr_der(domains: &[String], key: &rcgen::KeyPair) -> Result<Vec<u8>, Failure> {
    let mut params = rcgen::CertificateParams::new(domains.to_vec())
        .map_err(|e| Failure::new(format!("cannot build the CSR: {e}")))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(first) = domains.first() {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, first.as_str());
    }
    let csr = params
        .serialize_request(key)
        .map_err(|e| Failure::new(format!("cannot sign the CSR: {e}")))?;
    Ok(csr.der().to_vec())
}

/// What proves control of the domains.
pub enum Solver<'a> {
    /// Answers are handed to `publish` (token, key authorization) for the HTTP-01 listener.
    Http01,
    Dns01 {
        writer: DnsWriter<'a>,
        /// The zone whose authoritative nameservers must all serve each record.
        zone: hickory_net::proto::rr::Name,
        lookup: dns::Lookup,
        propagation_timeout: Duration,
    },
}

/// Who writes and removes the DNS-01 records.
pub enum DnsWriter<'a> {
    /// certkeep itself, by RFC 2136 updates.
    Rfc2136(&'a dns::Rfc2136),
    /// Someone told through the order's hooks (a webhook receiver).
    Callback,
    /// A person, shown the records: until `confirmed`, the order stops once they are known.
    Manual { confirmed: bool },
}

/// A DNS-01 record of this order, to remove afterwards.
pub struct DnsRecord {
    /// The name validated, as the order has it (`*.` for wildcards).
    pub domain: String,
    pub name: hickory_net::proto::rr::Name,
    pub value: String,
}

/// What the caller does for the order: keep HTTP-01 answers where the listener finds them,
/// remember the order URL.
pub trait OrderHooks: Send + Sync {
    fn publish_http01(
        &self,
        token: &str,
        key_authorization: &str,
    ) -> impl std::future::Future<Output = Result<(), Failure>> + Send;
    fn order_url(&self, url: &str) -> impl std::future::Future<Output = ()> + Send;
    /// Ask for `record` to be created (callback providers).
    fn dns_record_required(
        &self,
        record: &DnsRecord,
    ) -> impl std::future::Future<Output = Result<(), Failure>> + Send;
    /// Say `record` may be removed (callback providers).
    fn dns_record_completed(
        &self,
        record: &DnsRecord,
    ) -> impl std::future::Future<Output = ()> + Send;
}

/// What to order: the names, the key, and (for a renewal) the certificate it replaces.
pub struct OrderSpec<'a> {
    pub domains: &'a [String],
    pub key: &'a rcgen::KeyPair,
    /// DER of the certificate being renewed: named in the order (RFC 9773 `replaces`) when
    /// the CA offers renewal information.
    pub replaces: Option<&'a [u8]>,
    /// The order at the CA already made by an earlier run (manual DNS-01), to go on with.
    pub existing_url: Option<&'a str>,
}

/// Where a run of an order ended.
pub enum Outcome {
    /// The certificate chain (PEM, leaf first).
    Issued(String),
    /// Manual DNS-01: these records are to be created before the CA is asked to validate.
    AwaitingDns(Vec<DnsRecord>),
    /// Told to stop (the caller lost its claim on the order) before the end.
    Stopped,
}

/// Run one order to its certificate chain, or (manual DNS-01) to the records a person is to
/// create. When `stop` turns true (or its sender goes away) the run is abandoned wherever it
/// is. DNS-01 records written are removed before returning, whatever the outcome.
pub async fn run_order(
    account: &Account,
    spec: &OrderSpec<'_>,
    solver: &Solver<'_>,
    hooks: &impl OrderHooks,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<Outcome, Failure> {
    let mut written: Vec<DnsRecord> = Vec::new();
    let result = tokio::select! {
        r = run_order_inner(account, spec, solver, hooks, &mut written) => r,
        // An error means nobody can say "stop" any more, nor keep the claim: stop as well.
        _ = stop.wait_for(|stop| *stop) => Ok(Outcome::Stopped),
    };
    if let Solver::Dns01 { writer, .. } = solver {
        for r in &written {
            match writer {
                DnsWriter::Rfc2136(provider) => {
                    if let Err(e) = provider.remove_txt(&r.name, &r.value).await {
                        tracing::warn!(record = %r.name, error = %e, "cannot remove a DNS-01 record");
                    }
                }
                DnsWriter::Callback => hooks.dns_record_completed(r).await,
                // The person who created them removes them.
                DnsWriter::Manual { .. } => {}
            }
        }
    }
    result
}

async fn run_order_inner(
    account: &Account,
    spec: &OrderSpec<'_>,
    solver: &Solver<'_>,
    hooks: &impl OrderHooks,
    written: &mut Vec<DnsRecord>,
) -> Result<Outcome, Failure> {
    let (domains, key) = (spec.domains, spec.key);
    let identifiers: Vec<Identifier> = domains.iter().map(|d| Identifier::Dns(d.clone())).collect();
    let replaced = spec.replaces.map(rustls_pki_types::CertificateDer::from);
    let replaced_id = replaced
        .as_ref()
        .and_then(|d| instant_acme::CertificateIdentifier::try_from(d).ok());
    // `replaces` is sent only to CAs with renewal information; one that then answers badly
    // (ignores the field, or says it was already replaced) gets the plain order instead.
    let plain = NewOrder::new(&identifiers);
    let tried_replaces = replaced_id.is_some() && spec.existing_url.is_none();
    let first = match (spec.existing_url, replaced_id) {
        (Some(url), _) => account.order(url.to_string()).await,
        (None, Some(id)) => {
            account
                .new_order(&NewOrder::new(&identifiers).replaces(id))
                .await
        }
        (None, None) => account.new_order(&plain).await,
    };
    let mut order = match first {
        Err(e) if tried_replaces => {
            tracing::info!(error = %e, "the CA did not take `replaces`; ordering without it");
            account.new_order(&plain).await
        }
        other => other,
    }
    .map_err(|e| blame_named_domain(failure("creating the order", e), domains))?;
    hooks.order_url(order.url()).await;
    let kind = match solver {
        Solver::Http01 => ChallengeType::Http01,
        Solver::Dns01 { .. } => ChallengeType::Dns01,
    };

    // Put every answer in place, then wait for DNS, then tell the CA: it validates right away.
    {
        let mut authzs = order.authorizations();
        while let Some(authz) = authzs.next().await {
            let mut authz = authz.map_err(|e| failure("fetching an authorization", e))?;
            let domain = authz.identifier().to_string();
            match authz.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => {}
                other => {
                    return Err(Failure::at(
                        &domain,
                        format!("the authorization for {domain} is {other:?}"),
                    ));
                }
            }
            let base = match authz.identifier().identifier {
                Identifier::Dns(d) => d.clone(),
                _ => domain.clone(),
            };
            let challenge = authz.challenge(kind.clone()).ok_or_else(|| {
                Failure::at(
                    &domain,
                    format!("the CA offers no {kind:?} challenge for {domain}"),
                )
            })?;
            let key_auth = challenge.key_authorization();
            match solver {
                Solver::Http01 => {
                    hooks
                        .publish_http01(&challenge.token, key_auth.as_str())
                        .await?;
                }
                Solver::Dns01 {
                    writer,
                    zone,
                    lookup,
                    ..
                } => {
                    let name = dns::parse_name("domain", &format!("_acme-challenge.{base}"))
                        .map_err(|e| Failure::at(&domain, e))?;
                    let target = dns::follow_cname(lookup, &name)
                        .await
                        .map_err(|e| Failure::at(&domain, e))?;
                    dns::check_in_zone(zone, &target).map_err(|e| Failure::at(&domain, e))?;
                    let record = DnsRecord {
                        domain: domain.clone(),
                        name: target,
                        value: key_auth.dns_value(),
                    };
                    match writer {
                        DnsWriter::Rfc2136(provider) => provider
                            .add_txt(&record.name, &record.value)
                            .await
                            .map_err(|e| Failure::at(&domain, e))?,
                        DnsWriter::Callback => hooks.dns_record_required(&record).await?,
                        DnsWriter::Manual { .. } => {}
                    }
                    written.push(record);
                }
            }
        }
    }
    if let Solver::Dns01 {
        writer: DnsWriter::Manual { confirmed: false },
        ..
    } = solver
        && !written.is_empty()
    {
        return Ok(Outcome::AwaitingDns(std::mem::take(written)));
    }
    if let Solver::Dns01 {
        zone,
        lookup,
        propagation_timeout,
        ..
    } = solver
    {
        for r in written.iter() {
            dns::wait_propagated(lookup, zone, &r.name, &r.value, *propagation_timeout)
                .await
                .map_err(|e| Failure::at(&r.domain, e))?;
        }
    }
    {
        let mut authzs = order.authorizations();
        while let Some(authz) = authzs.next().await {
            let mut authz = authz.map_err(|e| failure("fetching an authorization", e))?;
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            let domain = authz.identifier().to_string();
            if let Some(mut c) = authz.challenge(kind.clone()) {
                c.set_ready().await.map_err(|e| Failure {
                    domain: Some(domain.clone()),
                    ..failure("answering the challenge", e)
                })?;
            }
        }
    }

    let retry = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(VALIDATION_TIMEOUT);
    match order.poll_ready(&retry).await {
        Ok(OrderStatus::Ready) => {}
        Ok(_) => return Err(validation_failure(&mut order).await),
        Err(e) => {
            // An invalid order comes with the order's problem; the failed authorization
            // names the domain and the CA's reason for it.
            let f = validation_failure(&mut order).await;
            return Err(if f.domain.is_some() {
                f
            } else {
                failure("waiting for validation", e)
            });
        }
    }
    let csr = csr_der(domains, key)?;
    order
        .finalize_csr(&csr)
        .await
        .map_err(|e| failure("finalizing the order", e))?;
    order
        .poll_certificate(&retry.timeout(ISSUANCE_TIMEOUT))
        .await
        .map(Outcome::Issued)
        .map_err(|e| failure("waiting for the certificate", e))
}

/// Which authorization failed and the CA's reason.
async fn validation_failure(order: &mut instant_acme::Order) -> Failure {
    let mut authzs = order.authorizations();
    while let Some(authz) = authzs.next().await {
        let Ok(mut authz) = authz else { continue };
        let Ok(state) = authz.refresh().await else {
            continue;
        };
        if state.status != AuthorizationStatus::Invalid {
            continue;
        }
        let domain = state.identifier().to_string();
        let problem = state.challenges.iter().find_map(|c| c.error.as_ref());
        return Failure {
            message: format!(
                "validation of {domain} failed: {}",
                problem
                    .and_then(|p| p.detail.as_deref())
                    .unwrap_or("the CA gave no detail")
            ),
            problem: problem.map(|p| Box::new(problem_doc(p))),
            domain: Some(domain),
        };
    }
    Failure::new("the CA marked the order invalid without naming a failed authorization")
}

/// Revoke `cert_der` at the CA of `account`.
pub async fn revoke(
    account: &Account,
    cert_der: &[u8],
    reason: certkeep_api::RevocationReason,
) -> Result<(), Failure> {
    use certkeep_api::RevocationReason as R;
    let reason = match reason {
        R::Unspecified => instant_acme::RevocationReason::Unspecified,
        R::KeyCompromise => instant_acme::RevocationReason::KeyCompromise,
        R::AffiliationChanged => instant_acme::RevocationReason::AffiliationChanged,
        R::Superseded => instant_acme::RevocationReason::Superseded,
        R::CessationOfOperation => instant_acme::RevocationReason::CessationOfOperation,
    };
    let der = rustls_pki_types::CertificateDer::from(cert_der);
    account
        .revoke(&instant_acme::RevocationRequest {
            certificate: &der,
            reason: Some(reason),
        })
        .await
        .map_err(|e| failure("revoking the certificate", e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn ca_pem(name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn every_certificate_of_a_custom_root_bundle_is_trusted() {
        let (old, new) = (ca_pem("old root"), ca_pem("new root"));
        assert_eq!(root_store(&old).unwrap().len(), 1);
        let bundle = format!("# private CA roots\n{old}\n{new}");
        assert_eq!(root_store(&bundle).unwrap().len(), 2);
        assert!(builder(Some(&bundle)).is_ok());

        let e = root_store("not a certificate at all").unwrap_err();
        assert!(e.contains("holds no CERTIFICATE block"), "{e}");
        let e = root_store("").unwrap_err();
        assert!(e.contains("holds no CERTIFICATE block"), "{e}");
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let e = root_store(&format!("{old}{broken}")).unwrap_err();
        assert!(e.contains("certificate 2"), "{e}");
    }

    #[test]
    fn a_refusal_naming_a_domain_only_in_words_blames_it() {
        let domains: Vec<String> = ["example.com", "www.example.com", "api.example.com"]
            .map(String::from)
            .to_vec();
        let refusal = |detail: &str| Failure {
            message: "creating the order: the CA refused".into(),
            problem: Some(Box::new(AcmeProblem {
                kind: Some("urn:ietf:params:acme:error:rejectedIdentifier".into()),
                detail: Some(detail.into()),
                status: Some(400),
                subproblems: vec![],
            })),
            domain: None,
        };
        let f = blame_named_domain(
            refusal("Order included disallowed domain www.example.com"),
            &domains,
        );
        assert_eq!(f.domain.as_deref(), Some("www.example.com"));
        let f = blame_named_domain(refusal("policy forbids issuing for this account"), &domains);
        assert_eq!(f.domain, None);
        // A subproblem's identifier is kept.
        let mut named = refusal("www.example.com");
        named.domain = Some("api.example.com".into());
        assert_eq!(
            blame_named_domain(named, &domains).domain.as_deref(),
            Some("api.example.com")
        );
    }
}
