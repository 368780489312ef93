//! Storage: SQLite (embedded default, WAL, `synchronous=FULL`) or PostgreSQL, chosen by URL.
//! Both backends share one schema shape (ids as text, times as Unix seconds, booleans as 0/1)
//! so the queries are written once over `sqlx::Any`; what differs between dialects is kept in
//! this file: migrations, connection setup and how a write transaction begins.
//!
//! SQLite has one writer at a time, so its writes go through a one-connection pool (no
//! `SQLITE_BUSY` between our own requests) while reads use a pool of their own.

mod acme;
mod audit;
mod certificates;
mod dashboard;
mod notifications;
mod sessions;
mod settings;
mod tokens;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Transaction};

pub use acme::{
    AcmeAccountRecord, AcmeCertificateRecord, DnsProviderRecord, OrderOutcome, OrderRecord,
    OrderReference,
};
pub use audit::{AuditFilter, AuditRow};
pub use certificates::{
    CertificateFilter, CertificateRecord, CursorKey, DueCandidate, ListOrder, PercentWindow,
    VersionRecord,
};
pub use dashboard::ExpiryCounts;
pub use notifications::{ChannelRecord, OutboxRecord, OutboxUpdate};
pub use sessions::SessionRecord;
pub use tokens::TokenRecord;

use crate::error::{Error, Result};

/// A write transaction. Everything a use-case writes, its audit event included, commits or
/// rolls back together.
pub type WriteTx = Transaction<'static, sqlx::Any>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct Store {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The SQLite URL of the embedded database in `data_dir`.
pub fn sqlite_url_for(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("certkeep.db").display()
    )
}

fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(Error::InvalidInput(format!(
            "database URL scheme {scheme:?} is not supported; use sqlite:// or postgres://"
        )))
    }
}

impl Store {
    /// Connect to `url` and bring the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let opts = AnyConnectOptions::from_str(url)
            .map_err(|e| Error::InvalidInput(format!("database URL is invalid: {e}")))?;
        let store = match backend {
            Backend::Sqlite => {
                let write = sqlite_pool(opts.clone(), 1, WRITER_CACHE_KIB).await?;
                // Schema and journal mode first, on the writer, before readers open.
                write.execute("PRAGMA journal_mode = WAL").await?;
                SQLITE_MIGRATIONS
                    .run(&write)
                    .await
                    .map_err(|e| Error::Internal(format!("database migration failed: {e}")))?;
                let read = sqlite_pool(opts, 4, READER_CACHE_KIB).await?;
                Store {
                    backend,
                    read,
                    write,
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(opts)
                    .await
                    .map_err(|e| {
                        Error::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
                    })?;
                POSTGRES_MIGRATIONS
                    .run(&pool)
                    .await
                    .map_err(|e| Error::Internal(format!("database migration failed: {e}")))?;
                Store {
                    backend,
                    read: pool.clone(),
                    write: pool,
                }
            }
        };
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// Begin a write transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`), so a
    /// transaction that reads before it writes cannot fail half-way on a lock upgrade when
    /// another process (an offline `certkeepd token create`) writes too.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        let tx = match self.backend {
            Backend::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.write.begin().await?,
        };
        Ok(tx)
    }

    /// Row lock clause for read-modify-write statements; SQLite's write lock already covers it.
    pub(crate) fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }

    /// Clause that makes concurrent claimers skip rows another transaction has locked.
    pub(crate) fn skip_locked(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// Cheap liveness query for `/readyz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// SQLite page cache of the one writer: index pages of a large inventory stay in memory, so
/// bulk imports into a million rows do not wait on page reads.
const WRITER_CACHE_KIB: u32 = 64 * 1024;
/// Page cache of each of the four readers.
const READER_CACHE_KIB: u32 = 8 * 1024;

async fn sqlite_pool(opts: AnyConnectOptions, max: u32, cache_kib: u32) -> Result<AnyPool> {
    AnyPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = -{cache_kib}")))
                    .await?;
                // Durability for everything acknowledged; wait rather than fail on a foreign
                // writer; enforce the schema's foreign keys.
                conn.execute(
                    "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(opts)
        .await
        .map_err(|e| Error::Unavailable(format!("cannot open the SQLite database: {e}")))
}

pub(crate) fn bool_to_i64(b: bool) -> i64 {
    i64::from(b)
}

pub(crate) fn ts(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn from_ts(v: i64) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(v)
        .map_err(|_| Error::Internal(format!("stored timestamp {v} is out of range")))
}

pub(crate) fn parse_uuid(s: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(s).map_err(|_| Error::Internal(format!("stored id {s:?} is not a UUID")))
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable(format!("database unavailable: {e}"))
            }
            sqlx::Error::Database(db) if is_busy(db.as_ref()) => {
                Error::Unavailable(format!("database busy: {e}"))
            }
            _ => Error::Internal(format!("database error: {e}")),
        }
    }
}

fn is_busy(db: &dyn sqlx::error::DatabaseError) -> bool {
    // SQLITE_BUSY (5) / SQLITE_LOCKED (6); PostgreSQL serialization/lock failures.
    matches!(
        db.code().as_deref(),
        Some("5") | Some("6") | Some("517") | Some("40001") | Some("40P01") | Some("55P03")
    )
}
