//! certkeepd: the certificate inventory server. See DESIGN.md for what each module owns.

pub mod acme;
pub mod app;
pub mod audit;
pub mod authz;
pub mod config;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod keyring;
pub mod notify;
pub mod pki;
pub mod store;
pub mod web;

use std::sync::Arc;

use tokio::net::TcpListener;

/// Serve the API on `listener` until `shutdown` resolves; background jobs run alongside.
pub async fn serve(
    app: Arc<app::App>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(app, listener, jobs::Schedule::default(), shutdown).await
}

/// [`serve`] with a chosen job schedule, on any listener (plain TCP, or
/// [`web::tls::TlsListener`]).
pub async fn serve_with<L>(
    app: Arc<app::App>,
    listener: L,
    schedule: jobs::Schedule,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let challenges = match app.policy.acme.http_listen {
        Some(addr) => {
            let l = TcpListener::bind(addr).await?;
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(
                axum::serve(l, web::challenge_router(app.clone()))
                    .with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    })
                    .into_future(),
            ))
        }
        None => None,
    };
    let jobs = tokio::spawn(jobs::run(app.clone(), schedule, stop_rx));
    let router = web::router(app.clone());
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop_tx.send(true);
    let _ = jobs.await;
    if let Some(c) = challenges {
        let _ = c.await;
    }
    app.store.close().await;
    result
}
