//! The command line: every command, option and value the `certkeep` binary accepts, as clap
//! derive types. Other tools script against these exact forms, and `tests/help/` holds the
//! rendered `--help` of each command so a change here shows up as a reviewed snapshot diff.

use std::path::PathBuf;

use certkeep_api::{
    CertificateSort, CertificateStatus, ChannelKind, DeliveryStatus, DownloadPart, Role,
    SmtpTlsMode,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

const EXIT_STATUS_HELP: &str = "\
Exit status: 0 on success; 1 when the server refused the request or could not be reached \
(the server's message, error code and request id are printed to stderr); 2 for usage and local \
errors (bad arguments, unreadable files).";

/// Operate a certkeep server: certificates, notification channels, API tokens and the audit log.
#[derive(Debug, Parser)]
#[command(
    name = "certkeep",
    bin_name = "certkeep",
    version,
    term_width = 100,
    after_help = EXIT_STATUS_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Server root URL.
    #[arg(
        long,
        global = true,
        env = "CERTKEEP_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub url: String,
    /// API token. Command lines are visible to other local users: prefer --token-file or the
    /// environment.
    #[arg(
        long,
        global = true,
        env = "CERTKEEP_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Read the API token from this file (surrounding whitespace is ignored).
    #[arg(long, global = true, env = "CERTKEEP_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Also trust the CA certificates in this PEM file for an https:// server (one whose
    /// certificate comes from a private CA).
    #[arg(long, global = true, env = "CERTKEEP_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Output format: aligned tables for people, or the API's JSON objects (pretty-printed).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table, value_name = "FORMAT")]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Certificates: import, order, list, inspect, edit, download, renew, revoke, delete.
    #[command(subcommand)]
    Cert(CertCommand),
    /// API tokens (Admin).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log (Admin).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Notification channels: webhook, Slack, Teams, PagerDuty and e-mail alerts.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Certificate orders from ACME CAs (`certkeep cert order` starts one).
    #[command(subcommand)]
    Order(OrderCommand),
    /// ACME accounts and DNS-01 providers.
    #[command(subcommand)]
    Acme(AcmeCommand),
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Import a certificate (PEM, DER or PKCS#12; the server detects the format) as a new entry.
    Import(ImportArgs),
    /// Import many certificates at once from a BatchImportRequest JSON file (all or nothing).
    ImportBatch(ImportBatchArgs),
    /// List certificates, with filters.
    List(ListArgs),
    /// Show one certificate's metadata.
    Get(IdArg),
    /// Store a new certificate (and key, chain) as the next version of an entry.
    Reimport(ReimportArgs),
    /// Edit name, description, group or labels.
    Edit(EditArgs),
    /// Download the certificate, chain, full chain or private key, or a PKCS#12 file.
    Download(DownloadArgs),
    /// Soft-delete an entry: it stays restorable until purged.
    Delete(IdArg),
    /// Restore a soft-deleted entry.
    Restore(IdArg),
    /// Remove a soft-deleted entry for good, with every version and key.
    Purge(IdArg),
    /// List the stored versions of an entry.
    Versions(IdArg),
    /// The latest notifications sent about an entry (newest first).
    Notifications(IdArg),
    /// Order a certificate from an ACME CA; it is obtained in the background (see `order get`).
    Order(Box<OrderArgs>),
    /// Renew an ordered certificate now (a new version); the key is kept unless --rekey.
    Renew(RenewArgs),
    /// Revoke the current version of an ordered certificate at its CA.
    Revoke(RevokeArgs),
    /// Show an ordered certificate's renewal state; --auto-renew turns automatic renewal on or
    /// off (Manager).
    Renewal(RenewalArgs),
}

#[derive(Debug, Args)]
pub struct OrderArgs {
    /// Name of the inventory entry the certificate becomes.
    #[arg(long)]
    pub name: String,
    /// DNS name; repeat for several (the first is the subject). `*.example.com` needs dns-01.
    #[arg(long = "domain", value_name = "NAME", required = true)]
    pub domains: Vec<String>,
    /// ACME account id (`certkeep acme account list`).
    #[arg(long, value_name = "ID")]
    pub account: Uuid,
    #[arg(long, value_enum)]
    pub challenge: ChallengeArg,
    /// DNS provider id, for dns-01 (`certkeep acme dns-provider list`).
    #[arg(long, value_name = "ID")]
    pub dns_provider: Option<Uuid>,
    /// Key generated for the certificate.
    #[arg(long, value_enum, default_value_t = KeyTypeArg::EcP256)]
    pub key_type: KeyTypeArg,
    /// Free-text description.
    #[arg(long)]
    pub description: Option<String>,
    /// Group the entry belongs to.
    #[arg(long)]
    pub group: Option<String>,
    /// Label `key=value`; repeat for several.
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
    /// Do not renew automatically before expiry.
    #[arg(long)]
    pub no_auto_renew: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChallengeArg {
    #[value(name = "http-01")]
    Http01,
    #[value(name = "dns-01")]
    Dns01,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    #[value(name = "ec-p256")]
    EcP256,
    #[value(name = "ec-p384")]
    EcP384,
    #[value(name = "rsa-2048")]
    Rsa2048,
    #[value(name = "rsa-3072")]
    Rsa3072,
    #[value(name = "rsa-4096")]
    Rsa4096,
}

#[derive(Debug, Args)]
pub struct RenewArgs {
    /// Certificate id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    /// Generate a new key instead of keeping the current one.
    #[arg(long)]
    pub rekey: bool,
}

#[derive(Debug, Args)]
pub struct RenewalArgs {
    /// Certificate id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    #[arg(long, value_enum)]
    pub auto_renew: Option<Switch>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Certificate id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    #[arg(long, value_enum, default_value_t = ReasonArg::Unspecified)]
    pub reason: ReasonArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReasonArg {
    Unspecified,
    KeyCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
}

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// List the newest orders, newest first.
    List,
    /// Show one order: its status, why it failed, and (manual DNS-01) the TXT records to create.
    Get(OrderIdArg),
    /// The TXT records of a manual DNS-01 order are in place: check they are served and have
    /// the CA validate (Manager).
    Validate(OrderIdArg),
}

#[derive(Debug, Args)]
pub struct OrderIdArg {
    /// Order id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
}

#[derive(Debug, Subcommand)]
pub enum AcmeCommand {
    /// ACME accounts (registered with their CA).
    #[command(subcommand)]
    Account(AcmeAccountCommand),
    /// DNS-01 providers.
    #[command(subcommand)]
    DnsProvider(DnsProviderCommand),
}

#[derive(Debug, Subcommand)]
pub enum AcmeAccountCommand {
    /// Register an account with a CA (Manager, not limited to a group).
    Create(AcmeAccountCreateArgs),
    /// List accounts.
    List,
    /// Rename an account, replace its contacts at the CA, or roll its key over (Manager, not
    /// limited to a group).
    Update(AcmeAccountUpdateArgs),
    /// Remove an account no order uses.
    Delete(AcmeIdArg),
}

#[derive(Debug, Args)]
pub struct AcmeAccountUpdateArgs {
    /// Account id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    #[arg(long)]
    pub name: Option<String>,
    /// New contact address, replacing all current ones; repeat for several.
    #[arg(long, value_name = "EMAIL", conflicts_with = "no_contact")]
    pub contact: Vec<String>,
    /// Remove every contact address at the CA.
    #[arg(long)]
    pub no_contact: bool,
    /// Replace the account key with a new one at the CA.
    #[arg(long)]
    pub rollover_key: bool,
}

#[derive(Debug, Args)]
pub struct AcmeIdArg {
    /// Id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
}

#[derive(Debug, Args)]
pub struct AcmeAccountCreateArgs {
    #[arg(long)]
    pub name: String,
    /// `letsencrypt`, `letsencrypt-staging`, or the https:// URL of a directory.
    #[arg(long, value_name = "DIRECTORY")]
    pub directory: String,
    /// Contact e-mail address; repeat for several.
    #[arg(long, value_name = "EMAIL")]
    pub contact: Vec<String>,
    /// Agree to the CA's terms of service (required).
    #[arg(long)]
    pub agree_tos: bool,
    /// External Account Binding key id, for CAs that require it.
    #[arg(long, value_name = "KID", requires = "eab_hmac_key_file")]
    pub eab_kid: Option<String>,
    /// File holding the EAB MAC key (base64url).
    #[arg(long, value_name = "FILE", requires = "eab_kid")]
    pub eab_hmac_key_file: Option<PathBuf>,
    /// PEM file with the root(s) to trust for the directory's TLS (private ACME servers; every certificate in it).
    #[arg(long, value_name = "FILE")]
    pub ca_root_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DnsProviderCommand {
    /// Configure an RFC 2136, callback or manual provider (Manager, not limited to a group).
    Create(DnsProviderCreateArgs),
    /// List providers.
    List,
    /// Remove a provider no order uses.
    Delete(AcmeIdArg),
}

#[derive(Debug, Args)]
pub struct DnsProviderCreateArgs {
    #[arg(long)]
    pub name: String,
    /// rfc2136: certkeep writes the records by dynamic updates; callback: a webhook channel
    /// is sent dns.validation_required / dns.validation_completed and its receiver writes them;
    /// manual: orders stop showing the records, someone creates them and runs `order validate`.
    #[arg(long, value_enum, default_value_t = ProviderKindArg::Rfc2136)]
    pub kind: ProviderKindArg,
    /// The zone the records go into, e.g. `example.com`.
    #[arg(long)]
    pub zone: String,
    /// rfc2136: the zone's primary that takes updates, `host[:port]`.
    #[arg(long, value_name = "HOST:PORT")]
    pub server: Option<String>,
    /// rfc2136: the TSIG key name.
    #[arg(long, value_name = "NAME")]
    pub tsig_key_name: Option<String>,
    #[arg(long, value_enum, default_value_t = TsigArg::HmacSha256)]
    pub tsig_algorithm: TsigArg,
    /// rfc2136: file holding the TSIG secret (base64, as in BIND's `secret "…";`).
    #[arg(long, value_name = "FILE")]
    pub tsig_secret_file: Option<PathBuf>,
    /// callback: the webhook channel told about each record.
    #[arg(long, value_name = "ID")]
    pub channel_id: Option<Uuid>,
    /// Seconds to wait for every authoritative nameserver to serve a record (default 300).
    #[arg(long, value_name = "SECONDS")]
    pub propagation_timeout: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderKindArg {
    Rfc2136,
    Callback,
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TsigArg {
    #[value(name = "hmac-sha256")]
    HmacSha256,
    #[value(name = "hmac-sha384")]
    HmacSha384,
    #[value(name = "hmac-sha512")]
    HmacSha512,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// Certificate id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
}

/// The certificate material of an import or reimport.
#[derive(Debug, Args)]
pub struct MaterialArgs {
    /// Certificate file: PEM, DER or PKCS#12 (`-` reads stdin). A PEM file may also hold the key
    /// and chain; a PKCS#12 file holds all three.
    #[arg(long = "cert", value_name = "FILE")]
    pub cert: PathBuf,
    /// Private key file: PEM or DER, PKCS#8 or traditional, encrypted or not (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Chain certificate file, PEM or DER (`-` reads stdin); repeat for several.
    #[arg(long, value_name = "FILE")]
    pub chain: Vec<PathBuf>,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Password of an encrypted key or PKCS#12 file. Visible to other local users: prefer
    /// --password-file.
    #[arg(long, value_name = "PASS", conflicts_with = "password_file")]
    pub password: Option<String>,
    /// Read the password from this file (one trailing newline is ignored; `-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// The password that encrypts a PKCS#12 download.
#[derive(Debug, Args)]
pub struct ExportPasswordArgs {
    /// Password to encrypt the PKCS#12 file with (--format pkcs12). Visible to other local
    /// users: prefer --password-file.
    #[arg(long, value_name = "PASS", conflicts_with = "password_file")]
    pub password: Option<String>,
    /// Read the PKCS#12 password from this file (one trailing newline is ignored; `-` reads
    /// stdin).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

impl ExportPasswordArgs {
    pub fn as_input(&self) -> PasswordArgs {
        PasswordArgs {
            password: self.password.clone(),
            password_file: self.password_file.clone(),
        }
    }
}

/// Metadata given at import.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Name of the new entry.
    #[arg(long)]
    pub name: String,
    #[command(flatten)]
    pub material: MaterialArgs,
    /// Free-text description.
    #[arg(long)]
    pub description: Option<String>,
    /// Group the entry belongs to (tokens can be limited to a group).
    #[arg(long)]
    pub group: Option<String>,
    /// Label `key=value`; repeat for several.
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportBatchArgs {
    /// JSON file `{"items": [ImportCertificateRequest, ...]}` (`-` reads stdin).
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct ReimportArgs {
    /// Certificate id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    #[command(flatten)]
    pub material: MaterialArgs,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Certificate id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    /// New description (`""` clears it).
    #[arg(long)]
    pub description: Option<String>,
    /// New group (`""` removes the entry from its group).
    #[arg(long)]
    pub group: Option<String>,
    /// Label `key=value`; the labels given replace all labels. Repeat for several.
    #[arg(long, value_name = "K=V", conflicts_with = "clear_labels")]
    pub label: Vec<String>,
    /// Remove all labels.
    #[arg(long)]
    pub clear_labels: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Free text, matched case-insensitively within name, domains, subject and issuer.
    #[arg(long, value_name = "TEXT")]
    pub q: Option<String>,
    /// Only certificates with this status.
    #[arg(long, value_enum)]
    pub status: Option<StatusArg>,
    /// Only certificates of this group.
    #[arg(long)]
    pub group: Option<String>,
    /// Label `key=value` (exact) or `key` (present); repeat to require several.
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
    /// Substring of the issuer DN, case-insensitive.
    #[arg(long, value_name = "S")]
    pub issuer: Option<String>,
    /// Key algorithm, e.g. RSA, EC, Ed25519.
    #[arg(long, value_name = "A")]
    pub key_algorithm: Option<String>,
    /// Only certificates expiring before this time (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    pub expires_before: Option<OffsetDateTime>,
    /// Only certificates expiring after this time (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    pub expires_after: Option<OffsetDateTime>,
    /// Sort order; a leading `-` reverses it.
    #[arg(long, value_enum, allow_hyphen_values = true)]
    pub sort: Option<SortArg>,
    /// Page size (1..=1000; the server's default is 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Continue from this cursor (the `next_cursor` of a previous page).
    #[arg(long, value_name = "C")]
    pub cursor: Option<String>,
    /// Follow `next_cursor` to the last page and print everything.
    #[arg(long)]
    pub all: bool,
    /// List soft-deleted entries instead of live ones.
    #[arg(long)]
    pub deleted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum StatusArg {
    Valid,
    Expiring,
    Expired,
    NotYetValid,
}

impl From<StatusArg> for CertificateStatus {
    fn from(s: StatusArg) -> Self {
        match s {
            StatusArg::Valid => CertificateStatus::Valid,
            StatusArg::Expiring => CertificateStatus::Expiring,
            StatusArg::Expired => CertificateStatus::Expired,
            StatusArg::NotYetValid => CertificateStatus::NotYetValid,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    #[value(name = "not_after")]
    NotAfter,
    #[value(name = "-not_after")]
    NotAfterDesc,
    #[value(name = "name")]
    Name,
    #[value(name = "-name")]
    NameDesc,
}

impl From<SortArg> for CertificateSort {
    fn from(s: SortArg) -> Self {
        match s {
            SortArg::NotAfter => CertificateSort::NotAfter,
            SortArg::NotAfterDesc => CertificateSort::NotAfterDesc,
            SortArg::Name => CertificateSort::Name,
            SortArg::NameDesc => CertificateSort::NameDesc,
        }
    }
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Certificate id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    /// What to download (PEM and DER only; default: certificate). `private-key` needs Writer.
    #[arg(long, value_enum)]
    pub part: Option<PartArg>,
    /// File format. `pkcs12` bundles leaf, chain and (unless --no-key) the private key, encrypted
    /// with --password.
    #[arg(long, value_enum, default_value_t = FormatArg::Pem)]
    pub format: FormatArg,
    #[command(flatten)]
    pub password: ExportPasswordArgs,
    /// Entry version (default: the current one).
    #[arg(long, value_name = "N")]
    pub version: Option<u32>,
    /// PKCS#12 without the private key.
    #[arg(long)]
    pub no_key: bool,
    /// Write to this file instead of stdout (created with mode 0600 when it holds a key).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PartArg {
    Certificate,
    Chain,
    Fullchain,
    PrivateKey,
}

impl From<PartArg> for DownloadPart {
    fn from(p: PartArg) -> Self {
        match p {
            PartArg::Certificate => DownloadPart::Certificate,
            PartArg::Chain => DownloadPart::Chain,
            PartArg::Fullchain => DownloadPart::Fullchain,
            PartArg::PrivateKey => DownloadPart::PrivateKey,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Pem,
    Der,
    Pkcs12,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is shown only now (alone on the last line of output).
    Create(TokenCreateArgs),
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke(TokenIdArg),
}

#[derive(Debug, Args)]
pub struct TokenIdArg {
    /// Token id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Name of the token, e.g. what uses it.
    #[arg(long)]
    pub name: String,
    /// Role; each includes the rights of those before it.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Limit the token to certificates of this group.
    #[arg(long)]
    pub group: Option<String>,
    /// Expiry time (RFC 3339).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339, conflicts_with = "expires_in_days")]
    pub expires_at: Option<OffsetDateTime>,
    /// Expiry in this many days from now.
    #[arg(long, value_name = "D", value_parser = clap::value_parser!(u32).range(1..=36600))]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// List and read metadata, download certificates and chains.
    Reader,
    /// + download private keys, edit metadata.
    Writer,
    /// + import, reimport, delete, restore, purge.
    Manager,
    /// + tokens and the audit log.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Reader => Role::Reader,
            RoleArg::Writer => Role::Writer,
            RoleArg::Manager => Role::Manager,
            RoleArg::Admin => Role::Admin,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List audit events, oldest first (or newest first with --newest-first).
    List(AuditListArgs),
}

#[derive(Debug, Args)]
pub struct AuditListArgs {
    /// Only events after this sequence number.
    #[arg(long, value_name = "SEQ")]
    pub after: Option<i64>,
    /// Only events before this sequence number.
    #[arg(long, value_name = "SEQ")]
    pub before: Option<i64>,
    /// Start from the newest event; further (older) pages with --before.
    #[arg(long)]
    pub newest_first: bool,
    /// Page size (1..=1000; the server's default is 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Only this action, e.g. certificate.import, certificate.download_key, token.create.
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Only events about this target (a certificate or token id).
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Follow the pages to the end of the log (its start with --newest-first) and print
    /// everything.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Create a channel (Manager); a generated webhook signing secret is shown only now (alone
    /// on the last line of output).
    Create(Box<ChannelCreateArgs>),
    /// List channels (never their secrets).
    List,
    /// Show one channel (never its secrets).
    Get(ChannelIdArg),
    /// Change a channel (Manager); only the options given change.
    Update(Box<ChannelUpdateArgs>),
    /// Delete a channel with its delivery history (Manager).
    Delete(ChannelIdArg),
    /// Send a test event now, even to a disabled channel, and show the receiver's answer (exit 1
    /// when it was not delivered).
    Test(ChannelIdArg),
    /// List a channel's deliveries, newest first.
    Deliveries(DeliveriesArgs),
    /// Print the JWKS: the public keys that sign webhook bodies, for receivers to verify them.
    Jwks,
    /// Replace the webhook signing key (Admin); the previous key stays in the JWKS for an overlap.
    RotateSigningKey,
}

#[derive(Debug, Args)]
pub struct ChannelIdArg {
    /// Channel id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
}

#[derive(Debug, Args)]
pub struct ChannelCreateArgs {
    /// Name of the channel.
    #[arg(long)]
    pub name: String,
    /// Kind of channel; it decides which endpoint options apply.
    #[arg(long, value_enum)]
    pub kind: ChannelKindArg,
    #[command(flatten)]
    pub settings: ChannelSettingsArgs,
    /// Create the channel disabled: it sends nothing until enabled.
    #[arg(long)]
    pub disabled: bool,
}

#[derive(Debug, Args)]
pub struct ChannelUpdateArgs {
    /// Channel id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    /// New name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub settings: ChannelSettingsArgs,
    /// Remove every scope label (see --label).
    #[arg(long, conflicts_with = "label")]
    pub clear_labels: bool,
    /// Enable the channel.
    #[arg(long, conflicts_with = "disable")]
    pub enable: bool,
    /// Disable the channel: it sends nothing until enabled again.
    #[arg(long)]
    pub disable: bool,
}

/// What a channel sends, where, and about which certificates: shared by create and update.
#[derive(Debug, Args)]
pub struct ChannelSettingsArgs {
    /// Where to POST: the webhook URL (https://), or the Slack or Teams incoming-webhook URL.
    /// Slack and Teams URLs hold a secret in their path, visible to other local users on the
    /// command line.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Webhook signing secret: `whsec_` and base64 of 24 to 64 random bytes (generated when not
    /// given at create). Visible to other local users: prefer --secret-file.
    #[arg(long, value_name = "SECRET", conflicts_with = "secret_file")]
    pub secret: Option<String>,
    /// Read the webhook signing secret from this file (surrounding whitespace is ignored; `-`
    /// reads stdin).
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// PagerDuty integration (routing) key. Visible to other local users: prefer
    /// --routing-key-file.
    #[arg(long, value_name = "KEY", conflicts_with = "routing_key_file")]
    pub routing_key: Option<String>,
    /// Read the PagerDuty routing key from this file (surrounding whitespace is ignored; `-`
    /// reads stdin).
    #[arg(long, value_name = "FILE")]
    pub routing_key_file: Option<PathBuf>,
    /// PagerDuty Events API v2 URL (default: https://events.pagerduty.com/v2/enqueue).
    #[arg(long, value_name = "URL")]
    pub events_url: Option<String>,
    /// SMTP server host name. The --smtp-* options replace the SMTP settings as a whole (but
    /// the password is kept when not given again), so they all need --smtp-host.
    #[arg(long, value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (default: 587 with starttls, 465 with implicit, 25 with none).
    #[arg(long, value_name = "PORT", requires = "smtp_host",
          value_parser = clap::value_parser!(u16).range(1..))]
    pub smtp_port: Option<u16>,
    /// SMTP transport security (default: starttls).
    #[arg(long, value_enum, value_name = "MODE", requires = "smtp_host")]
    pub smtp_tls: Option<SmtpTlsArg>,
    /// SMTP user name.
    #[arg(long, value_name = "USER", requires = "smtp_host")]
    pub smtp_username: Option<String>,
    /// SMTP password. Visible to other local users: prefer --smtp-password-file.
    #[arg(
        long,
        value_name = "PASS",
        requires = "smtp_host",
        conflicts_with = "smtp_password_file"
    )]
    pub smtp_password: Option<String>,
    /// Read the SMTP password from this file (one trailing newline is ignored; `-` reads stdin).
    #[arg(long, value_name = "FILE", requires = "smtp_host")]
    pub smtp_password_file: Option<PathBuf>,
    /// PEM file with the certificates of a private CA to trust for the SMTP relay (besides the
    /// public roots).
    #[arg(long, value_name = "FILE", requires = "smtp_host")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Sender address of e-mails.
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// Recipient address of e-mails; repeat for several (at update, the addresses given replace
    /// all recipients).
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,
    /// Event type to send: cert.expiring, cert.expired, cert.imported, cert.reimported,
    /// cert.deleted, cert.issued, cert.order_failed, cert.renewed, cert.renew_failed,
    /// dns.validation_required, dns.validation_completed; repeat for several (default: a set per kind; at update, the types given
    /// replace all).
    #[arg(long, value_name = "TYPE")]
    pub event: Vec<String>,
    /// Only certificates of this group (at update, `""` removes the group condition).
    #[arg(long)]
    pub group: Option<String>,
    /// Only certificates carrying label `key=value`; repeat to require several (at update, the
    /// labels given replace all scope labels).
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
    /// When to send cert.expiring: days before expiry (`30d`) or percent of the lifetime left
    /// (`10%`); repeat for several (default: 90d 60d 30d 10d 1d; at update, the thresholds
    /// given replace all).
    #[arg(long, value_name = "30d|10%", value_parser = parse_threshold)]
    pub threshold: Vec<String>,
    /// Hour of the day (UTC, 0-23) of the daily cert.expired reminder (default: 9).
    #[arg(long, value_name = "H", value_parser = clap::value_parser!(u8).range(0..=23))]
    pub expired_hour: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChannelKindArg {
    /// Signed JSON POST to an HTTPS endpoint (--webhook-url, --secret).
    Webhook,
    /// Slack incoming webhook (--webhook-url).
    Slack,
    /// Microsoft Teams incoming webhook (--webhook-url).
    Teams,
    /// PagerDuty Events API v2 (--routing-key, --events-url).
    Pagerduty,
    /// E-mail over SMTP (--smtp-host, --from, --to).
    Email,
}

impl From<ChannelKindArg> for ChannelKind {
    fn from(k: ChannelKindArg) -> Self {
        match k {
            ChannelKindArg::Webhook => ChannelKind::Webhook,
            ChannelKindArg::Slack => ChannelKind::Slack,
            ChannelKindArg::Teams => ChannelKind::Teams,
            ChannelKindArg::Pagerduty => ChannelKind::Pagerduty,
            ChannelKindArg::Email => ChannelKind::Email,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmtpTlsArg {
    /// STARTTLS after connecting.
    Starttls,
    /// TLS from the first byte.
    Implicit,
    /// Plain text: only for a relay on loopback.
    None,
}

impl From<SmtpTlsArg> for SmtpTlsMode {
    fn from(t: SmtpTlsArg) -> Self {
        match t {
            SmtpTlsArg::Starttls => SmtpTlsMode::Starttls,
            SmtpTlsArg::Implicit => SmtpTlsMode::Implicit,
            SmtpTlsArg::None => SmtpTlsMode::None,
        }
    }
}

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// Channel id.
    #[arg(value_name = "ID")]
    pub id: Uuid,
    /// Only deliveries with this status (pending: waiting for a first attempt or a retry;
    /// failed: given up on).
    #[arg(long, value_enum)]
    pub status: Option<DeliveryStatusArg>,
    /// Page size (1..=1000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Continue from this cursor (the `next_cursor` of a previous page).
    #[arg(long, value_name = "C")]
    pub cursor: Option<String>,
    /// Follow `next_cursor` to the last page and print everything.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeliveryStatusArg {
    Pending,
    Delivered,
    Failed,
}

impl From<DeliveryStatusArg> for DeliveryStatus {
    fn from(s: DeliveryStatusArg) -> Self {
        match s {
            DeliveryStatusArg::Pending => DeliveryStatus::Pending,
            DeliveryStatusArg::Delivered => DeliveryStatus::Delivered,
            DeliveryStatusArg::Failed => DeliveryStatus::Failed,
        }
    }
}

/// `30d` (days before expiry) or `10%` (of the lifetime left): a positive whole number and its
/// unit. The server decides the allowed range.
fn parse_threshold(s: &str) -> Result<String, String> {
    let digits = s.strip_suffix('d').or_else(|| s.strip_suffix('%'));
    match digits {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            if n.bytes().all(|b| b == b'0') {
                Err(format!("`{s}`: a threshold must be more than zero"))
            } else {
                Ok(s.to_string())
            }
        }
        _ => Err(format!(
            "`{s}` is not a threshold like 30d (days before expiry) or 10% (of the lifetime)"
        )),
    }
}

fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("`{s}` is not an RFC 3339 time like 2026-01-31T00:00:00Z: {e}"))
}
