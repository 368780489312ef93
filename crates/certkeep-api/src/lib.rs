//! The certkeep REST contract (`/api/v1`): request and response types, the error body every
//! failure carries, and (feature `client`) a typed async client. The CLI and the integration
//! tests use only this crate, so what compiles against it is what users script against.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

mod acme;
#[cfg(feature = "client")]
mod client;
mod redact;
pub use acme::*;
#[cfg(feature = "client")]
pub use client::{Client, ClientError};
use redact::Material;
pub use redact::Redacted;

/// Largest accepted size of one input (certificate, key, chain file, PKCS#12), after decoding.
pub const MAX_INPUT_BYTES: usize = 100 * 1024;
/// Longest accepted certificate or token name, in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// Longest accepted description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Most items one batch import may carry.
pub const MAX_BATCH_ITEMS: usize = 1000;
/// Largest page a list endpoint returns.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// The JSON body of every 4xx/5xx response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `invalid_input`, `not_found`, `forbidden`.
    pub code: String,
    /// Human-readable message naming what is wrong.
    pub message: String,
    /// The request id, also sent as the `x-request-id` header and recorded in the audit log.
    pub request_id: String,
}

/// Lifecycle status of a certificate, computed from its validity period and the current time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    Valid,
    Expiring,
    Expired,
    NotYetValid,
}

impl CertificateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateStatus::Valid => "valid",
            CertificateStatus::Expiring => "expiring",
            CertificateStatus::Expired => "expired",
            CertificateStatus::NotYetValid => "not_yet_valid",
        }
    }
}

/// Where a certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CertificateSource {
    Imported,
    /// Ordered from an ACME CA by certkeep.
    Ordered,
}

/// Everything known about a certificate entry (its current version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateMetadata {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub group: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub source: CertificateSource,
    pub status: CertificateStatus,
    /// Subject distinguished name, RFC 4514 style (`CN=example.com, O=Example`).
    pub subject: String,
    pub issuer: String,
    /// Serial number, lowercase hex without leading zeros.
    pub serial: String,
    /// DNS subject alternative names, then the subject CN if it is not among them.
    pub domains: Vec<String>,
    pub ip_addresses: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA`, `RSA-PSS`, or the key's OID when unknown.
    pub key_algorithm: String,
    /// Key size in bits (RSA modulus, EC field size, 256 for Ed25519).
    pub key_size: Option<u32>,
    /// `P-256`, `P-384`, `P-521`, other named curves by name; null for non-EC keys.
    pub key_curve: Option<String>,
    /// OpenSSL-style name, e.g. `sha256WithRSAEncryption`, `ecdsa-with-SHA256`, `ED25519`.
    pub signature_algorithm: String,
    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    pub fingerprint_sha256: String,
    pub is_ca: bool,
    pub has_private_key: bool,
    /// Number of certificates in the stored chain, leaf excluded.
    pub chain_length: u32,
    /// True when every chain certificate given links from the leaf without gaps.
    pub chain_complete: bool,
    /// What is missing or unlinked in the chain, in words.
    pub chain_issues: Vec<String>,
    /// Version of this entry: 1 on import, +1 on each reimport.
    pub version: u32,
    /// X.509 version of the leaf (1, 2 or 3).
    pub x509_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Set when the entry is soft-deleted; it is purged after the retention period.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub deleted_at: Option<OffsetDateTime>,
}

/// Import of a new certificate entry.
///
/// `certificate`, `private_key` and each `chain` item are either PEM text or base64 of the
/// binary file (DER or PKCS#12); the format is detected from content. A single PEM input may
/// hold the certificate, its key and its chain in any order; a PKCS#12 input holds all three.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportCertificateRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    pub certificate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    /// Password of an encrypted private key or a PKCS#12 file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for ImportCertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            description,
            group,
            labels,
            certificate,
            private_key,
            chain,
            password,
        } = self;
        f.debug_struct("ImportCertificateRequest")
            .field("name", name)
            .field("description", description)
            .field("group", group)
            .field("labels", labels)
            .field("certificate", &Material(certificate.len()))
            .field("private_key", &Redacted::option(private_key))
            .field("chain", &Material::all(chain))
            .field("password", &Redacted::option(password))
            .finish()
    }
}

/// A new certificate (version) for an existing entry.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ReimportCertificateRequest {
    pub certificate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl fmt::Debug for ReimportCertificateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            certificate,
            private_key,
            chain,
            password,
        } = self;
        f.debug_struct("ReimportCertificateRequest")
            .field("certificate", &Material(certificate.len()))
            .field("private_key", &Redacted::option(private_key))
            .field("chain", &Material::all(chain))
            .field("password", &Redacted::option(password))
            .finish()
    }
}

/// Many imports in one request, for migrations. All or nothing: if any item is invalid,
/// the response names it and nothing is stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BatchImportRequest {
    pub items: Vec<ImportCertificateRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchImportResponse {
    pub items: Vec<CertificateMetadata>,
}

/// Metadata edit; absent fields are left as they are. An empty `description` clears it;
/// `group: null` is "leave", `group: ""` removes the entry from its group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EditCertificateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Replaces all labels when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// One page of certificates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificatePage {
    pub items: Vec<CertificateMetadata>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Sort orders for certificate listings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CertificateSort {
    #[default]
    #[serde(rename = "not_after")]
    NotAfter,
    #[serde(rename = "-not_after")]
    NotAfterDesc,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "-name")]
    NameDesc,
}

impl CertificateSort {
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateSort::NotAfter => "not_after",
            CertificateSort::NotAfterDesc => "-not_after",
            CertificateSort::Name => "name",
            CertificateSort::NameDesc => "-name",
        }
    }
}

/// Query of `GET /api/v1/certificates`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct CertificateListQuery {
    /// Free text, matched case-insensitively within name, domains, subject and issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CertificateStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `key=value` (exact) or `key` (present). Several labels: comma-separated, all must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Substring of the issuer DN, case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_algorithm: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_before: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_after: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<CertificateSort>,
    /// Page size, 1..=1000, default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// List soft-deleted entries instead of live ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// One stored version of a certificate entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateVersion {
    pub version: u32,
    pub current: bool,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub domains: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub fingerprint_sha256: String,
    pub key_algorithm: String,
    pub has_private_key: bool,
    pub chain_length: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateVersionList {
    pub items: Vec<CertificateVersion>,
}

/// Which part of an entry to download.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DownloadPart {
    /// The leaf certificate alone.
    #[default]
    Certificate,
    /// The chain without the leaf (intermediates, and the root when it was given).
    Chain,
    /// Leaf followed by the chain (PEM only).
    Fullchain,
    /// The private key as PKCS#8 (Writer and above).
    PrivateKey,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DownloadFormat {
    #[default]
    Pem,
    /// DER: one certificate (or the key); `chain` in DER needs exactly one chain certificate.
    Der,
}

/// Query of `GET /api/v1/certificates/{id}/download`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<DownloadPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DownloadFormat>,
    /// Entry version; the current one when absent. When given, the file name in
    /// `Content-Disposition` ends in `-vN` (`www-chain-v2.pem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
}

/// Body of `POST /api/v1/certificates/{id}/pkcs12`: a PKCS#12 (AES-256-CBC, PBKDF2-SHA256,
/// HMAC-SHA256 MAC) with the leaf, chain and, unless `include_key` is false, the private key.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Pkcs12ExportRequest {
    pub password: String,
    /// Entry version; the current one when absent. When given, the file name in
    /// `Content-Disposition` ends in `-vN` (`www-v2.p12`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_key: Option<bool>,
}

impl fmt::Debug for Pkcs12ExportRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            password: _,
            version,
            include_key,
        } = self;
        f.debug_struct("Pkcs12ExportRequest")
            .field("password", &Redacted)
            .field("version", version)
            .field("include_key", include_key)
            .finish()
    }
}

/// Access roles, each including the rights of those before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// List and read metadata, download certificates and chains.
    Reader,
    /// + download private keys, edit metadata.
    Writer,
    /// + import, reimport, delete, restore, purge.
    Manager,
    /// + tokens and the audit log.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Writer => "writer",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.to_ascii_lowercase().as_str() {
            "reader" => Some(Role::Reader),
            "writer" => Some(Role::Writer),
            "manager" => Some(Role::Manager),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    pub role: Option<Role>,
    /// Restrict the token to certificates of this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub group: Option<String>,
    /// First characters of the secret, to recognise it.
    pub prefix: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub last_used_at: Option<OffsetDateTime>,
    /// Token that created this one; null for tokens made offline by `certkeepd`.
    pub created_by: Option<Uuid>,
}

/// A newly created token: the only time the secret is shown.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    pub token: String,
    pub info: TokenInfo,
}

impl fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { token: _, info } = self;
        f.debug_struct("CreatedToken")
            .field("token", &Redacted)
            .field("info", info)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub items: Vec<TokenInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Success,
    Denied,
    Failed,
}

/// One entry of the hash-chained audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    /// Position in the log, from 1, without gaps.
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub token_id: Option<Uuid>,
    /// e.g. `certificate.import`, `certificate.download_key`, `token.create`.
    pub action: String,
    /// What the action was about, e.g. a certificate or token id.
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub request_id: String,
    /// Non-secret details (reason of a denial or failure, format downloaded, …).
    pub detail: serde_json::Value,
    /// SHA-256 of the previous event's hash and this event's content, lowercase hex.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Oldest first (`order=asc`): pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
    /// Newest first (`order=desc`): pass as `before` to get the next (older) page; absent on
    /// the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// Which end of the audit log a listing starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditOrder {
    /// Oldest first, paged with `after`.
    #[default]
    Asc,
    /// Newest first, paged with `before`.
    Desc,
}

/// Query of `GET /api/v1/audit-events`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events with `seq` greater than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    /// Only events with `seq` less than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
    /// `asc` (oldest first, the default) or `desc` (newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<AuditOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Only events of this token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_id: Option<Uuid>,
    /// Only events at or after this time (RFC 3339).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub since: Option<OffsetDateTime>,
    /// Only events before this time (RFC 3339).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<OffsetDateTime>,
}

/// Body of `/healthz` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthStatus {
    pub status: String,
}

// ------------------------------------------------------------------------------ notifications

/// Kinds of notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// HTTPS POST of the JSON event, signed (JWS ES256 + Standard Webhooks HMAC).
    Webhook,
    /// Slack incoming webhook.
    Slack,
    /// Microsoft Teams incoming webhook.
    Teams,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// E-mail over SMTP.
    Email,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
            ChannelKind::Pagerduty => "pagerduty",
            ChannelKind::Email => "email",
        }
    }
}

/// TLS mode of an SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SmtpTlsMode {
    /// STARTTLS (port 587 by default).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465 by default).
    Implicit,
    /// Plain text: only for a relay on loopback.
    None,
}

/// SMTP server settings of an e-mail channel. The password is write-only.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// 587 for STARTTLS, 465 for implicit TLS, 25 without TLS, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub tls: SmtpTlsMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Write-only: never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// PEM certificates of a private CA to trust for this relay (besides the public roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            host,
            port,
            tls,
            username,
            password,
            ca_pem,
        } = self;
        f.debug_struct("SmtpConfig")
            .field("host", host)
            .field("port", port)
            .field("tls", tls)
            .field("username", username)
            .field("password", &Redacted::option(password))
            .field("ca_pem", ca_pem)
            .finish()
    }
}

/// Which certificates a channel is about: all when both are empty; otherwise those of the
/// group and carrying every label given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChannelScope {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A new notification channel. Which endpoint fields apply depends on `kind`:
/// webhook: `url` (+ optional `secret`, generated when absent); slack and teams: `url`;
/// pagerduty: `routing_key` (+ optional `events_url`); email: `smtp`, `email_from`, `email_to`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateChannelRequest {
    pub name: String,
    pub kind: Option<ChannelKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Webhook signing secret (`whsec_<base64>`), write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// PagerDuty integration (routing) key, write-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub email_to: Vec<String>,
    /// Event types to send (`cert.expiring`, `cert.expired`, `cert.imported`,
    /// `cert.reimported`, `cert.deleted`, `cert.issued`, `cert.order_failed`, `cert.renewed`,
    /// `cert.renew_failed`). When absent: every type for a webhook; `cert.expiring`,
    /// `cert.expired`, `cert.order_failed` and `cert.renew_failed` for Slack, Teams and e-mail;
    /// `cert.expired`, `cert.renew_failed`, `cert.reimported`, `cert.renewed` and
    /// `cert.deleted` for PagerDuty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ChannelScope>,
    /// When `cert.expiring` is sent: `"90d"`, `"30d"`, `"10%"` (of the lifetime)…;
    /// default `["90d", "60d", "30d", "10d", "1d"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<String>>,
    /// Hour of the day (UTC, 0–23) of the daily `cert.expired` reminder; default 9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_hour_utc: Option<u8>,
}

impl fmt::Debug for CreateChannelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            kind,
            enabled,
            url,
            secret,
            routing_key,
            events_url,
            smtp,
            email_from,
            email_to,
            events,
            scope,
            thresholds,
            expired_hour_utc,
        } = self;
        // A Slack or Teams URL is itself the credential; a webhook URL may carry one too.
        f.debug_struct("CreateChannelRequest")
            .field("name", name)
            .field("kind", kind)
            .field("enabled", enabled)
            .field("url", &Redacted::option(url))
            .field("secret", &Redacted::option(secret))
            .field("routing_key", &Redacted::option(routing_key))
            .field("events_url", events_url)
            .field("smtp", smtp)
            .field("email_from", email_from)
            .field("email_to", email_to)
            .field("events", events)
            .field("scope", scope)
            .field("thresholds", thresholds)
            .field("expired_hour_utc", expired_hour_utc)
            .finish()
    }
}

/// A change to a channel; absent fields stay as they are. Secrets given replace the old ones.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateChannelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_to: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ChannelScope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_hour_utc: Option<u8>,
}

impl fmt::Debug for UpdateChannelRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            name,
            enabled,
            url,
            secret,
            routing_key,
            events_url,
            smtp,
            email_from,
            email_to,
            events,
            scope,
            thresholds,
            expired_hour_utc,
        } = self;
        f.debug_struct("UpdateChannelRequest")
            .field("name", name)
            .field("enabled", enabled)
            .field("url", &Redacted::option(url))
            .field("secret", &Redacted::option(secret))
            .field("routing_key", &Redacted::option(routing_key))
            .field("events_url", events_url)
            .field("smtp", smtp)
            .field("email_from", email_from)
            .field("email_to", email_to)
            .field("events", events)
            .field("scope", scope)
            .field("thresholds", thresholds)
            .field("expired_hour_utc", expired_hour_utc)
            .finish()
    }
}

/// A channel as the API shows it: secrets never, endpoints that hold tokens redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelInfo {
    pub id: Uuid,
    pub name: String,
    pub kind: ChannelKind,
    pub enabled: bool,
    /// Where it sends: the webhook URL, the Slack/Teams URL's host only (the path is a
    /// secret), the PagerDuty events URL, or `smtp://host:port`.
    pub endpoint: String,
    pub email_from: Option<String>,
    pub email_to: Vec<String>,
    /// The relay of an e-mail channel, with its custom CA if one was given; `password` is
    /// never returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    pub events: Vec<String>,
    pub scope: ChannelScope,
    pub thresholds: Vec<String>,
    pub expired_hour_utc: u8,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A created channel. `secret` is the webhook signing secret, shown only here.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedChannel {
    pub channel: ChannelInfo,
    pub secret: Option<String>,
}

impl fmt::Debug for CreatedChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { channel, secret } = self;
        f.debug_struct("CreatedChannel")
            .field("channel", channel)
            .field("secret", &Redacted::option(secret))
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelList {
    pub items: Vec<ChannelInfo>,
}

/// The receiver's answer to a test event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelTestResult {
    pub delivered: bool,
    pub status_code: Option<u16>,
    /// What the receiver said, or why it failed.
    pub detail: String,
    pub delivery_id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first attempt or for a retry.
    Pending,
    Delivered,
    /// Gave up: a permanent error, or retries exhausted.
    Failed,
}

/// One delivery of one event to one channel, with its history so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryInfo {
    /// Also the `webhook-id` header: stable across retries.
    pub id: Uuid,
    pub channel_id: Uuid,
    pub event: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub certificates: Vec<Uuid>,
    pub summary: String,
    pub last_error: Option<String>,
    pub last_status_code: Option<u16>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub next_attempt_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub delivered_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryPage {
    pub items: Vec<DeliveryInfo>,
    /// Pass as `cursor` for older deliveries; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /api/v1/notification-channels/{id}/deliveries` (newest first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DeliveryStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}
