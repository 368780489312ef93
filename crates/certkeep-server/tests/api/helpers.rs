//! Boot the real server on 127.0.0.1:0 and hand tests the typed client. The backend is SQLite
//! in a temporary directory, or, when `CERTKEEP_TEST_DATABASE_URL` is set (scripts/test.sh sets
//! it), a fresh PostgreSQL database created for the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use certkeep_api::{Client, CreateTokenRequest, Role};
use certkeep_server::app::{App, RequestCtx};
use certkeep_server::config::Config;
use sqlx::{Connection, Executor};
use time::OffsetDateTime;
use tokio::sync::oneshot;

pub struct TestApp {
    pub base_url: String,
    pub admin: Client,
    pub app: Arc<App>,
    pub dir: tempfile::TempDir,
    pub database_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub fn ctx() -> RequestCtx {
    RequestCtx {
        request_id: "test".into(),
        bearer: None,
        now: OffsetDateTime::now_utc(),
    }
}

/// A PostgreSQL URL for a new, empty database, when the run targets PostgreSQL.
pub async fn fresh_postgres_url() -> Option<String> {
    let base = std::env::var("CERTKEEP_TEST_DATABASE_URL").ok()?;
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to CERTKEEP_TEST_DATABASE_URL");
    let name = format!("ck_{}", uuid::Uuid::new_v4().simple());
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    Some(format!("{prefix}/{name}"))
}

pub fn is_postgres() -> bool {
    std::env::var("CERTKEEP_TEST_DATABASE_URL").is_ok()
}

pub async fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        database_url: fresh_postgres_url().await,
        ..Config::default()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = test_config(dir.path()).await;
        Self::spawn_with(dir, config).await
    }

    /// A server whose background jobs do not run (tests call `run_once` with chosen times)
    /// and whose channels may use plain-HTTP receivers on loopback.
    pub async fn spawn_manual() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path()).await;
        config.danger_allow_http_channels = true;
        config.public_url = Some("https://certkeep.example.test".into());
        Self::spawn_scheduled(dir, config, certkeep_server::jobs::Schedule::manual()).await
    }

    pub async fn spawn_with(dir: tempfile::TempDir, config: Config) -> TestApp {
        Self::spawn_scheduled(dir, config, certkeep_server::jobs::Schedule::default()).await
    }

    pub async fn spawn_scheduled(
        dir: tempfile::TempDir,
        config: Config,
        schedule: certkeep_server::jobs::Schedule,
    ) -> TestApp {
        let database_url = config.database_url();
        let app = Arc::new(App::open(&config).await.expect("open app"));
        let admin_token = app
            .bootstrap_admin(&ctx())
            .await
            .expect("bootstrap")
            .expect("first admin token")
            .token;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(certkeep_server::serve_with(
            app.clone(),
            listener,
            schedule,
            async move {
                let _ = stop_rx.await;
            },
        ));
        let base_url = format!("http://{addr}");
        let admin = Client::new(&base_url, Some(admin_token)).expect("client");
        TestApp {
            base_url,
            admin,
            app,
            dir,
            database_url,
            stop: Some(stop_tx),
            server: Some(server),
        }
    }

    pub fn client(&self, token: Option<&str>) -> Client {
        Client::new(&self.base_url, token.map(str::to_string)).expect("client")
    }

    /// A client holding a new token with `role` (and `group`).
    pub async fn client_with_role(&self, role: Role, group: Option<&str>) -> (Client, String) {
        let t = self
            .admin
            .token_create(&CreateTokenRequest {
                name: format!("{}-{}", role.as_str(), group.unwrap_or("all")),
                role: Some(role),
                group: group.map(str::to_string),
                expires_at: None,
            })
            .await
            .expect("create token");
        (self.client(Some(&t.token)), t.token)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        self.dir
    }
}

/// A `certkeepd` process as users run it.
pub struct Process {
    pub child: Child,
    pub url: String,
    pub first_token: Option<String>,
}

/// Start the `certkeepd` binary on 127.0.0.1:0 with `dir`, `db` and `extra` flags; return once
/// it listens (with the admin token it printed, if this was the first start).
pub fn start_certkeepd(dir: &std::path::Path, db: Option<&str>, extra: &[&str]) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkeepd"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .env("CERTKEEP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(url) = db {
        cmd.args(["--database-url", url]);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first_token = None;
    let url = loop {
        assert!(Instant::now() < deadline, "certkeepd did not start");
        let line = lines.next().expect("certkeepd exited early").unwrap();
        if line.starts_with("ck_") {
            first_token = Some(line.trim().to_string());
        }
        if let Some(addr) = line.strip_prefix("certkeepd: listening on ") {
            break addr.trim().to_string();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Process {
        child,
        url,
        first_token,
    }
}
