//! A small ACME directory in front of Pebble that adds what Debian's Pebble lacks: ACME
//! Renewal Information (RFC 9773). `/dir` is Pebble's directory plus `renewalInfo`; every other
//! endpoint is Pebble's own. The suggested window is whatever the test sets. It serves HTTPS
//! with Pebble's listener certificate, so the account trusts both with one root.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::acme_peers::Pebble;

#[derive(Default)]
struct Shared {
    window: Option<(OffsetDateTime, OffsetDateTime)>,
    /// Certificate identifiers asked about, in order.
    asked: Vec<String>,
    /// How long each answer takes.
    delay: std::time::Duration,
    /// Requests being answered now, and the most at once.
    in_flight: usize,
    max_in_flight: usize,
}

pub struct AriStub {
    pub directory_url: String,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AriStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl AriStub {
    pub async fn start(pebble: &Pebble) -> AriStub {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", tcp.local_addr().unwrap());
        let mut directory: serde_json::Value =
            serde_json::from_str(&pebble.get_text(&pebble.directory_url).await).unwrap();
        directory["renewalInfo"] = serde_json::json!(format!("{base}/renewal-info"));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = axum::Router::new()
            .route(
                "/dir",
                axum::routing::get(move || {
                    let d = directory.clone();
                    async move { Json(d) }
                }),
            )
            .route("/renewal-info/{id}", axum::routing::get(renewal_info))
            .with_state(shared.clone());
        let certs =
            rustls_pki_types::pem::PemObject::pem_slice_iter(pebble.tls_cert_pem.as_bytes())
                .collect::<Result<Vec<rustls_pki_types::CertificateDer>, _>>()
                .unwrap();
        let key = rustls_pki_types::pem::PemObject::from_pem_slice(pebble.tls_key_pem.as_bytes())
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let listener = TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        AriStub {
            directory_url: format!("{base}/dir"),
            shared,
            task,
        }
    }

    pub fn set_window(&self, start: OffsetDateTime, end: OffsetDateTime) {
        self.shared.lock().unwrap().window = Some((start, end));
    }

    pub fn asked(&self) -> Vec<String> {
        self.shared.lock().unwrap().asked.clone()
    }

    /// Answer each request after `delay`.
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.shared.lock().unwrap().delay = delay;
    }

    /// The most requests answered at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.shared.lock().unwrap().max_in_flight
    }
}

async fn renewal_info(
    State(shared): State<Arc<Mutex<Shared>>>,
    Path(id): Path<String>,
) -> axum::response::Response {
    let (window, delay) = {
        let mut s = shared.lock().unwrap();
        s.asked.push(id);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        (s.window, s.delay)
    };
    tokio::time::sleep(delay).await;
    shared.lock().unwrap().in_flight -= 1;
    let Some((start, end)) = window else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    (
        [(header::RETRY_AFTER, "3600")],
        Json(serde_json::json!({
            "suggestedWindow": {
                "start": start.format(&Rfc3339).unwrap(),
                "end": end.format(&Rfc3339).unwrap(),
            }
        })),
    )
        .into_response()
}
