//! Server configuration: defaults, then `CERTKEEP_*` environment variables, then flags (clap
//! resolves env and flags; see `main.rs`). Secrets in URLs are masked in `Debug`.

use std::net::SocketAddr;
use std::path::PathBuf;

use time::Duration;

use crate::error::{Error, Result};
use crate::store::sqlite_url_for;

pub const DEFAULT_DATA_DIR: &str = "./certkeep-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Where certkeepd's own TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files: the certificate (its chain may follow it in the same file) and the key.
    Files { cert: PathBuf, key: PathBuf },
    /// A certificate of the inventory (with its stored chain and key), by id.
    Inventory(uuid::Uuid),
}

#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; the SQLite file in `data_dir` when absent.
    pub database_url: Option<String>,
    /// The root key file; `data_dir/root.key` when absent.
    pub root_key_file: Option<PathBuf>,
    /// How long before expiry a certificate counts as `expiring`.
    pub expiring_window: Duration,
    /// How long a soft-deleted certificate stays restorable before it is purged.
    pub deleted_retention: Duration,
    /// Allow plain HTTP on a non-loopback address (TLS termination elsewhere).
    pub danger_allow_plaintext_non_loopback: bool,
    /// The URL users reach this server at (links in notifications); `http://<listen>` when absent.
    pub public_url: Option<String>,
    /// Let notification channels use plain `http://` endpoints and SMTP without TLS.
    pub danger_allow_http_channels: bool,
    /// How long the expiry sweep gives a newly stored certificate version to become visible to
    /// every replica (its import committing, clocks apart) before taking it up.
    pub sweep_settle: Duration,
    /// How long a delivery worker's claim on the deliveries it sends lasts unless renewed; it
    /// renews it every third of that while it still sends, so only a worker that died gives
    /// its deliveries over to another.
    pub delivery_lease: Duration,
    /// Serve HTTPS with this certificate; plain HTTP when absent.
    pub tls: Option<TlsSource>,
    /// How often the TLS certificate is checked for a new version (files rewritten, the
    /// inventory entry reimported).
    pub tls_reload: std::time::Duration,
    /// Where certkeep answers ACME HTTP-01 challenges (`/.well-known/acme-challenge/`); off when absent.
    pub acme_http_listen: Option<SocketAddr>,
    /// The recursive resolver DNS-01 checks ask for NS sets and CNAMEs; the first
    /// `nameserver` of /etc/resolv.conf when absent.
    pub acme_dns_resolver: Option<SocketAddr>,
    /// The port of authoritative nameservers, asked directly for DNS-01 propagation (53).
    pub acme_dns_port: u16,
    /// Renew ordered certificates once this share of their lifetime (percent) has passed; 2/3 when absent.
    pub acme_renew_lifetime_percent: Option<f64>,
    /// Renew ordered certificates at the latest this many days before expiry, but never before
    /// half their lifetime has passed.
    pub acme_renew_days_before_expiry: u32,
    /// Orders started per ACME account per hour at most; the rest wait (the CA's rate limits).
    pub acme_orders_per_account_per_hour: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            root_key_file: None,
            expiring_window: Duration::days(30),
            deleted_retention: Duration::days(30),
            danger_allow_plaintext_non_loopback: false,
            public_url: None,
            danger_allow_http_channels: false,
            sweep_settle: Duration::minutes(5),
            delivery_lease: Duration::seconds(60),
            tls: None,
            tls_reload: std::time::Duration::from_secs(60),
            acme_http_listen: None,
            acme_dns_resolver: None,
            acme_dns_port: 53,
            acme_renew_lifetime_percent: None,
            acme_renew_days_before_expiry: 30,
            acme_orders_per_account_per_hour: 100,
        }
    }
}

/// The settings of a TOML configuration file, as (long option name, value) pairs: each
/// top-level key is one of certkeepd's long options (`listen`, `database-url` or
/// `database_url`, …) with a string, integer or boolean value. Flags and `CERTKEEP_*`
/// environment variables take precedence over the file.
pub fn read_config_file(path: &std::path::Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::InvalidInput(format!(
            "cannot read the configuration file {}: {e}",
            path.display()
        ))
    })?;
    let table: toml::Table = text.parse().map_err(|e| {
        Error::InvalidInput(format!(
            "the configuration file {} is not valid TOML: {e}",
            path.display()
        ))
    })?;
    table
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(Error::InvalidInput(format!(
                        "{}: `{key}` must be a string, an integer or a boolean, not {}",
                        path.display(),
                        other.type_str()
                    )));
                }
            };
            Ok((key.replace('_', "-"), value))
        })
        .collect()
}

/// `scheme://user:****@host/...`: the password of a URL replaced.
pub fn mask_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:****{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("database_url", &self.database_url.as_deref().map(mask_url))
            .field("root_key_file", &self.root_key_file)
            .field("expiring_window", &self.expiring_window)
            .field("deleted_retention", &self.deleted_retention)
            .field(
                "danger_allow_plaintext_non_loopback",
                &self.danger_allow_plaintext_non_loopback,
            )
            .field("public_url", &self.public_url)
            .field(
                "danger_allow_http_channels",
                &self.danger_allow_http_channels,
            )
            .field("sweep_settle", &self.sweep_settle)
            .field("delivery_lease", &self.delivery_lease)
            .field("tls", &self.tls)
            .field("tls_reload", &self.tls_reload)
            .field("acme_http_listen", &self.acme_http_listen)
            .field("acme_dns_resolver", &self.acme_dns_resolver)
            .field("acme_dns_port", &self.acme_dns_port)
            .field(
                "acme_renew_lifetime_percent",
                &self.acme_renew_lifetime_percent,
            )
            .field(
                "acme_renew_days_before_expiry",
                &self.acme_renew_days_before_expiry,
            )
            .field(
                "acme_orders_per_account_per_hour",
                &self.acme_orders_per_account_per_hour,
            )
            .finish()
    }
}

impl Config {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| sqlite_url_for(&self.data_dir))
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_string())
            .unwrap_or_else(|| format!("{}://{}", self.scheme(), self.listen))
    }

    /// `https` when serving TLS.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    pub fn root_key_path(&self) -> PathBuf {
        self.root_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("root.key"))
    }

    /// Refuse configurations that would be unsafe or cannot work.
    pub fn check(&self) -> Result<()> {
        if self.tls.is_none()
            && !self.listen.ip().is_loopback()
            && !self.danger_allow_plaintext_non_loopback
        {
            return Err(Error::InvalidInput(format!(
                "refusing to serve plain HTTP on non-loopback address {}: give a certificate \
                 (--tls-cert-file and --tls-key-file, or --tls-certificate-id), or put certkeepd \
                 behind a TLS terminator and pass --danger-allow-plaintext-non-loopback",
                self.listen
            )));
        }
        if let Some(p) = self.acme_renew_lifetime_percent
            && !(p > 0.0 && p < 100.0)
        {
            return Err(Error::InvalidInput(format!(
                "the renewal share of the lifetime is {p}%; give more than 0 and less than 100"
            )));
        }
        if self.expiring_window <= Duration::ZERO {
            return Err(Error::InvalidInput(
                "the expiring window must be positive".into(),
            ));
        }
        Ok(())
    }

    /// Create the data directory (mode 0700) if needed.
    pub fn ensure_data_dir(&self) -> Result<()> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&self.data_dir).map_err(|e| {
            Error::InvalidInput(format!(
                "cannot create data directory {}: {e}",
                self.data_dir.display()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn masks_passwords() {
        assert_eq!(
            mask_url("postgres://ck:s3cret@db:5432/ck"),
            "postgres://ck:****@db:5432/ck"
        );
        assert_eq!(mask_url("sqlite:///x.db"), "sqlite:///x.db");
        let c = Config {
            database_url: Some("postgres://a:pw@h/d".into()),
            ..Config::default()
        };
        assert!(!format!("{c:?}").contains("pw@"));
    }

    #[test]
    fn refuses_plaintext_on_public_address() {
        let c = Config {
            listen: "0.0.0.0:8080".parse().unwrap(),
            ..Config::default()
        };
        assert!(c.check().is_err());
        assert!(Config::default().check().is_ok());
    }
}
