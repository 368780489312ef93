//! HTTPS: certkeepd's certificate (from files or from its own inventory) behind a rustls
//! resolver that a reload loop swaps when the files change or the entry gets a new version, and
//! a listener that runs TLS handshakes beside the accept loop, so a slow or broken client never
//! holds up the others.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::OffsetDateTime;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::app::{self, App, RequestCtx, TlsMaterial};
use crate::config::TlsSource;
use crate::error::{Error, Result};

/// How long a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The certificate presented to every client, replaceable while serving.
#[derive(Debug)]
pub struct ServerCert {
    current: RwLock<(Arc<CertifiedKey>, String)>,
}

impl ServerCert {
    fn revision(&self) -> String {
        self.current.read().map(|c| c.1.clone()).unwrap_or_default()
    }

    fn replace(&self, key: CertifiedKey, revision: String) {
        if let Ok(mut c) = self.current.write() {
            *c = (Arc::new(key), revision);
        }
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.0.clone())
    }
}

fn certified(m: &TlsMaterial) -> Result<CertifiedKey> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(m.key_pkcs8.to_vec()));
    let key = rustls::crypto::aws_lc_rs::sign::any_supported_type(&der)
        .map_err(|e| Error::InvalidInput(format!("the TLS key cannot be used to sign: {e}")))?;
    let chain = m
        .chain
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    Ok(CertifiedKey::new(chain, key))
}

fn system_ctx() -> RequestCtx {
    RequestCtx {
        request_id: format!("server:tls:{}", uuid::Uuid::now_v7()),
        bearer: None,
        now: OffsetDateTime::now_utc(),
    }
}

async fn load(app: &App, source: &TlsSource) -> Result<TlsMaterial> {
    let m = match source {
        TlsSource::Files { cert, key } => app::tls_from_files(cert, key)?,
        TlsSource::Inventory(id) => app.tls_from_inventory(&system_ctx(), *id).await?,
    };
    if m.not_after < OffsetDateTime::now_utc() {
        tracing::warn!(revision = %m.revision, not_after = %m.not_after, "the TLS certificate has expired");
    }
    Ok(m)
}

async fn revision(app: &App, source: &TlsSource) -> Result<String> {
    match source {
        TlsSource::Files { cert, key } => app::tls_files_revision(cert, key),
        TlsSource::Inventory(id) => app.tls_inventory_revision(*id).await,
    }
}

/// Load the certificate to serve and build the acceptor around it.
pub async fn setup(app: &App, source: &TlsSource) -> Result<(TlsAcceptor, Arc<ServerCert>)> {
    let m = load(app, source).await?;
    let cert = Arc::new(ServerCert {
        current: RwLock::new((Arc::new(certified(&m)?), m.revision)),
    });
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS configuration: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(cert.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(config)), cert))
}

/// Every `every`, look for a new revision of the certificate and serve it; a new revision that
/// cannot be used (a half-written file, a key that does not match) is logged and the current
/// certificate kept. Ends when the server is gone.
pub async fn reload_loop(
    app: Arc<App>,
    source: TlsSource,
    cert: Weak<ServerCert>,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let Some(cert) = cert.upgrade() else {
            return;
        };
        match revision(&app, &source).await {
            Ok(r) if r == cert.revision() => {}
            Ok(_) => match load(&app, &source)
                .await
                .and_then(|m| Ok((certified(&m)?, m)))
            {
                Ok((key, m)) => {
                    tracing::info!(revision = %m.revision, not_after = %m.not_after, "serving a new TLS certificate");
                    cert.replace(key, m.revision);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the TLS certificate changed but cannot be used; keeping the current one");
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot check the TLS certificate for a new version")
            }
        }
    }
}

/// Connections that completed their TLS handshake.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

/// Accept on `tcp` and hand over connections once their handshake is done.
pub fn listener(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<TlsListener> {
    let local = tcp.local_addr()?;
    let (tx, rx) = mpsc::channel(128);
    tokio::spawn(async move {
        loop {
            let (stream, addr) = tokio::select! {
                () = tx.closed() => return,
                r = tcp.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send((tls, addr)).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                }
            });
        }
    });
    Ok(TlsListener { rx, local })
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
