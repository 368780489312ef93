//! `certkeepd`: serve the API (default), or run an offline admin command against the data
//! directory or database URL: `token create`, `audit verify`, `openapi`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use certkeep_api::{CreateTokenRequest, Role};
use certkeep_server::app::{App, RequestCtx};
use certkeep_server::config::{self, Config};
use certkeep_server::{audit, web};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Parser)]
#[command(
    name = "certkeepd",
    version,
    about = "certkeep server: certificate inventory, encrypted keys, audit"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct Global {
    /// A TOML file of settings: top-level keys are the long options below (`listen =
    /// "0.0.0.0:8443"`, `database_url = "postgres://…"`, `sweep_interval_secs = 60`, …).
    /// Flags and CERTKEEP_* variables override it.
    #[arg(long, env = "CERTKEEP_CONFIG", global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Data directory: SQLite database and root key file.
    #[arg(long, env = "CERTKEEP_DATA_DIR", default_value = config::DEFAULT_DATA_DIR, global = true)]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "CERTKEEP_LISTEN", default_value = config::DEFAULT_LISTEN, global = true)]
    listen: SocketAddr,
    /// Database URL (`sqlite://PATH` or `postgres://…`); the SQLite file in the data directory by default.
    #[arg(
        long,
        env = "CERTKEEP_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// File holding the database URL (keeps a password out of the environment and `ps`).
    #[arg(
        long,
        env = "CERTKEEP_DATABASE_URL_FILE",
        global = true,
        conflicts_with = "database_url"
    )]
    database_url_file: Option<PathBuf>,
    /// Root key file; `DATA_DIR/root.key` by default. Replicas sharing a database need the same one.
    #[arg(long, env = "CERTKEEP_ROOT_KEY_FILE", global = true)]
    root_key_file: Option<PathBuf>,
    /// Days before expiry at which a certificate counts as `expiring`.
    #[arg(long, env = "CERTKEEP_EXPIRING_DAYS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    expiring_days: u32,
    /// Days a deleted certificate stays restorable before it is purged.
    #[arg(long, env = "CERTKEEP_DELETED_RETENTION_DAYS", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u32).range(0..=3650))]
    deleted_retention_days: u32,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    #[arg(
        long,
        env = "CERTKEEP_DANGER_ALLOW_PLAINTEXT_NON_LOOPBACK",
        global = true
    )]
    danger_allow_plaintext_non_loopback: bool,
    /// The URL users reach this server at, for links in notifications (default http://LISTEN).
    #[arg(long, env = "CERTKEEP_PUBLIC_URL", global = true)]
    public_url: Option<String>,
    /// Let notification channels send to plain http:// endpoints and SMTP without TLS.
    #[arg(long, env = "CERTKEEP_DANGER_ALLOW_HTTP_CHANNELS", global = true)]
    danger_allow_http_channels: bool,
    /// Answer ACME HTTP-01 challenges on this address (port 80 as the CA sees it); off when absent.
    #[arg(long, env = "CERTKEEP_ACME_HTTP_LISTEN", global = true)]
    acme_http_listen: Option<SocketAddr>,
    /// Recursive resolver for DNS-01 checks (default: the first nameserver of /etc/resolv.conf).
    #[arg(long, env = "CERTKEEP_ACME_DNS_RESOLVER", global = true)]
    acme_dns_resolver: Option<SocketAddr>,
    /// Port of the authoritative nameservers asked directly for DNS-01 propagation.
    #[arg(
        long,
        env = "CERTKEEP_ACME_DNS_PORT",
        default_value_t = 53,
        global = true
    )]
    acme_dns_port: u16,
    /// Renew ordered certificates once this percentage of their lifetime has passed (default 2/3).
    #[arg(long, env = "CERTKEEP_ACME_RENEW_LIFETIME_PERCENT", global = true)]
    acme_renew_lifetime_percent: Option<f64>,
    /// Renew ordered certificates at the latest this many days before they expire (never
    /// before half their lifetime, so short-lived certificates are not due at issuance).
    #[arg(long, env = "CERTKEEP_ACME_RENEW_DAYS_BEFORE_EXPIRY", default_value_t = 30, global = true,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    acme_renew_days_before_expiry: u32,
    /// Orders started per ACME account per hour at most; the rest wait for the next hour.
    #[arg(long, env = "CERTKEEP_ACME_ORDERS_PER_ACCOUNT_PER_HOUR", default_value_t = 100, global = true,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    acme_orders_per_account_per_hour: u32,
    /// Seconds between expiry sweeps (each replica tries; one at a time holds the lease).
    #[arg(long, env = "CERTKEEP_SWEEP_INTERVAL_SECS", default_value_t = 300, global = true,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    sweep_interval_secs: u64,
    /// Seconds the expiry sweep gives a newly stored certificate to become visible to every
    /// replica before notifying about it: keep it above the 120 s request timeout plus the
    /// clock differences between replicas (lower values are for tests).
    #[arg(long, env = "CERTKEEP_SWEEP_SETTLE_SECS", default_value_t = 300, global = true,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    sweep_settle_secs: u64,
    /// Serve HTTPS with this certificate (PEM or DER; a PEM file may carry the chain after the
    /// leaf). Needs --tls-key-file. Rewritten files are picked up while running.
    #[arg(
        long,
        env = "CERTKEEP_TLS_CERT_FILE",
        global = true,
        value_name = "PATH",
        requires = "tls_key_file",
        conflicts_with = "tls_certificate_id"
    )]
    tls_cert_file: Option<PathBuf>,
    /// The private key of --tls-cert-file (PEM or DER, unencrypted).
    #[arg(
        long,
        env = "CERTKEEP_TLS_KEY_FILE",
        global = true,
        value_name = "PATH",
        requires = "tls_cert_file"
    )]
    tls_key_file: Option<PathBuf>,
    /// Serve HTTPS with a certificate from the inventory (its current version, chain and key);
    /// a reimported version is picked up while running.
    #[arg(
        long,
        env = "CERTKEEP_TLS_CERTIFICATE_ID",
        global = true,
        value_name = "ID"
    )]
    tls_certificate_id: Option<uuid::Uuid>,
    /// Seconds between checks for a new TLS certificate.
    #[arg(long, env = "CERTKEEP_TLS_RELOAD_SECS", default_value_t = 60, global = true,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    tls_reload_secs: u64,
    /// Log format.
    #[arg(long, env = "CERTKEEP_LOG_FORMAT", default_value = "text", global = true,
          value_parser = ["text", "json"])]
    log_format: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// API tokens, offline.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The audit log, offline.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is printed alone on the last line of stdout.
    Create {
        /// reader, writer, manager or admin.
        #[arg(long)]
        role: String,
        /// Limit the token to one certificate group.
        #[arg(long)]
        group: Option<String>,
        /// A name to recognise the token by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Expire the token after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the whole audit log; exit 1 when it is broken.
    Verify,
}

impl Global {
    fn config(&self) -> Result<Config, String> {
        let database_url = match (&self.database_url, &self.database_url_file) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read database URL file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
            ),
            (None, None) => None,
        };
        Ok(Config {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            database_url,
            root_key_file: self.root_key_file.clone(),
            expiring_window: Duration::days(i64::from(self.expiring_days)),
            deleted_retention: Duration::days(i64::from(self.deleted_retention_days)),
            danger_allow_plaintext_non_loopback: self.danger_allow_plaintext_non_loopback,
            public_url: self.public_url.clone(),
            danger_allow_http_channels: self.danger_allow_http_channels,
            sweep_settle: Duration::seconds(self.sweep_settle_secs as i64),
            delivery_lease: Config::default().delivery_lease,
            tls: match (
                &self.tls_cert_file,
                &self.tls_key_file,
                self.tls_certificate_id,
            ) {
                (Some(_), _, Some(_)) => {
                    return Err(
                        "give either tls-cert-file with tls-key-file, or tls-certificate-id".into(),
                    );
                }
                (Some(cert), Some(key), None) => Some(config::TlsSource::Files {
                    cert: cert.clone(),
                    key: key.clone(),
                }),
                (Some(_), None, _) => return Err("tls-cert-file needs tls-key-file".into()),
                (None, Some(_), _) => return Err("tls-key-file needs tls-cert-file".into()),
                (None, None, Some(id)) => Some(config::TlsSource::Inventory(id)),
                (None, None, None) => None,
            },
            tls_reload: std::time::Duration::from_secs(self.tls_reload_secs),
            acme_http_listen: self.acme_http_listen,
            acme_dns_resolver: self.acme_dns_resolver,
            acme_dns_port: self.acme_dns_port,
            acme_renew_lifetime_percent: self.acme_renew_lifetime_percent,
            acme_renew_days_before_expiry: self.acme_renew_days_before_expiry,
            acme_orders_per_account_per_hour: self.acme_orders_per_account_per_hour,
        })
    }
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CERTKEEP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn offline_ctx(now: OffsetDateTime) -> RequestCtx {
    RequestCtx {
        request_id: format!("cli:{}", uuid::Uuid::now_v7()),
        bearer: None,
        now,
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

async fn run(cli: Cli) -> Result<ExitCode, String> {
    let config = cli.global.config()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Arc::new(App::open(&config).await.map_err(|e| e.to_string())?);
            let now = OffsetDateTime::now_utc();
            if let Some(t) = app
                .bootstrap_admin(&offline_ctx(now))
                .await
                .map_err(|e| e.to_string())?
            {
                println!(
                    "certkeepd: created the first admin token (id {}). It is shown only now; store it safely:",
                    t.info.id
                );
                println!("{}", t.token);
            }
            let tls = match &config.tls {
                Some(source) => {
                    let (acceptor, cert) = web::tls::setup(&app, source)
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::spawn(web::tls::reload_loop(
                        app.clone(),
                        source.clone(),
                        Arc::downgrade(&cert),
                        config.tls_reload,
                    ));
                    Some(acceptor)
                }
                None => None,
            };
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
            let addr = listener.local_addr().map_err(|e| e.to_string())?;
            println!("certkeepd: listening on {}://{addr}", config.scheme());
            tracing::info!(%addr, database = %config::mask_url(&config.database_url()), "certkeepd started");
            let schedule = certkeep_server::jobs::Schedule {
                sweep_every: std::time::Duration::from_secs(cli.global.sweep_interval_secs),
                ..Default::default()
            };
            let served = match tls {
                Some(acceptor) => {
                    let listener =
                        web::tls::listener(listener, acceptor).map_err(|e| e.to_string())?;
                    certkeep_server::serve_with(app, listener, schedule, shutdown_signal()).await
                }
                None => {
                    certkeep_server::serve_with(app, listener, schedule, shutdown_signal()).await
                }
            };
            served.map_err(|e| format!("server error: {e}"))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token(TokenCommand::Create {
            role,
            group,
            name,
            expires_in_days,
        }) => {
            let role = Role::parse(&role).ok_or_else(|| {
                format!("unknown role {role:?}: use reader, writer, manager or admin")
            })?;
            let app = App::open(&config).await.map_err(|e| e.to_string())?;
            let now = OffsetDateTime::now_utc();
            let created = app
                .token_create_offline(
                    &offline_ctx(now),
                    CreateTokenRequest {
                        name,
                        role: Some(role),
                        group,
                        expires_at: expires_in_days.map(|d| now + Duration::days(i64::from(d))),
                    },
                )
                .await
                .map_err(|e| e.to_string())?;
            app.store.close().await;
            println!(
                "created {} token {} ({}){}",
                created.info.role.as_str(),
                created.info.id,
                created.info.name,
                created
                    .info
                    .group
                    .as_deref()
                    .map(|g| format!(" for group {g}"))
                    .unwrap_or_default()
            );
            println!("{}", created.token);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify) => {
            let app = App::open(&config).await.map_err(|e| e.to_string())?;
            let report = audit::verify(&app.store).await.map_err(|e| e.to_string())?;
            app.store.close().await;
            if report.ok() {
                println!(
                    "audit log intact: {} events, hash chain verified",
                    report.events
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!("audit log BROKEN ({} events read):", report.events);
                for p in &report.problems {
                    println!("  - {p}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Command::Openapi => {
            let doc = web::openapi_document();
            let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The configuration file named by `--config PATH`, `--config=PATH` or CERTKEEP_CONFIG.
fn config_file_path() -> Option<PathBuf> {
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(p) = a.to_str().and_then(|s| s.strip_prefix("--config=")) {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os("CERTKEEP_CONFIG").map(PathBuf::from)
}

/// Parse the command line over the configuration file's settings (they become the options'
/// defaults, so environment variables and flags override them).
fn parse_cli() -> Result<Cli, String> {
    let mut cmd = Cli::command();
    if let Some(path) = config_file_path() {
        let settings = config::read_config_file(&path).map_err(|e| e.to_string())?;
        for (key, value) in settings {
            let id = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(key.as_str()) && key != "config")
                .map(|a| a.get_id().clone());
            let Some(id) = id else {
                let known: Vec<String> = cmd
                    .get_arguments()
                    .filter_map(|a| a.get_long())
                    .filter(|l| !matches!(*l, "config" | "help" | "version"))
                    .map(|l| l.replace('-', "_"))
                    .collect();
                return Err(format!(
                    "{}: unknown setting `{}`; the settings are: {}",
                    path.display(),
                    key.replace('-', "_"),
                    known.join(", ")
                ));
            };
            cmd = cmd.mut_arg(id, |a| a.default_value(value));
        }
    }
    Cli::from_arg_matches(&cmd.get_matches()).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match parse_cli() {
        Ok(cli) => cli,
        Err(message) => {
            eprintln!("certkeepd: error: {message}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&cli.global.log_format);
    match run(cli).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("certkeepd: error: {message}");
            ExitCode::from(2)
        }
    }
}
