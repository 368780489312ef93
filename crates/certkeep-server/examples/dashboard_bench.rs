//! Dashboard benchmark (see BENCHMARKS.md): how long the web UI's dashboard takes to render
//! over a filled database. Separate from `bench` so each measures one thing.
//!
//! `dashboard_bench --data-dir DIR [--requests N]`: with the server stopped, opens the database
//! of a data directory filled by `bench fill` (bench/run.sh does it), serves it in-process on
//! loopback, signs in to the web UI with a new admin token and requests `/` N times (default
//! 200) over HTTP: session lookup, authentication, the audit write, the status counts, the
//! 13-week timeline, the 20 soonest and the HTML rendering. Prints the certificate count and
//! latency percentiles; then times the use-case alone (`App::certificate_dashboard`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use certkeep_server::app::{App, RequestCtx};
use time::OffsetDateTime;

fn percentiles(label: &str, mut v: Vec<Duration>) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {} requests: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        v.len(),
        ms(at(0.50)),
        ms(at(0.95)),
        ms(at(0.99)),
        ms(v[v.len() - 1])
    );
}

#[tokio::main]
async fn main() {
    let mut data_dir = None;
    let mut requests = 200usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let v = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--data-dir" => data_dir = Some(v),
            "--requests" => requests = v.parse().expect("--requests N"),
            other => panic!("unknown flag {other}"),
        }
    }
    let config = certkeep_server::config::Config {
        data_dir: data_dir.expect("--data-dir DIR").into(),
        ..Default::default()
    };
    let t = Instant::now();
    let app = Arc::new(App::open(&config).await.unwrap());
    println!(
        "opened (migrations included) in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let now = OffsetDateTime::now_utc();
    let ctx = RequestCtx {
        request_id: "dashboard-bench".into(),
        bearer: None,
        now,
    };
    let token = app
        .token_create_offline(
            &ctx,
            certkeep_api::CreateTokenRequest {
                name: "dashboard-bench".into(),
                role: Some(certkeep_api::Role::Admin),
                group: None,
                expires_at: None,
            },
        )
        .await
        .unwrap()
        .token;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(certkeep_server::serve_with(
        app.clone(),
        listener,
        certkeep_server::jobs::Schedule::manual(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .post(format!("{url}/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "sign-in failed");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();

    let page = |http: reqwest::Client, cookie: String, url: String| async move {
        let t = Instant::now();
        let r = http
            .get(format!("{url}/"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.text().await.unwrap();
        (t.elapsed(), body)
    };
    let (_, body) = page(http.clone(), cookie.clone(), url.clone()).await;
    let counts: Vec<&str> = body
        .split("<span class=\"n\">")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .collect();
    let d = app
        .certificate_dashboard(&RequestCtx {
            bearer: Some(token.clone()),
            ..ctx.clone()
        })
        .await
        .unwrap();
    let c = &d.counts;
    println!(
        "certificates: {} live (valid {}, expiring {}, expired {}, not yet valid {}); page shows {counts:?}; {} bytes of HTML",
        c.valid + c.expiring + c.expired + c.not_yet_valid,
        c.valid,
        c.expiring,
        c.expired,
        c.not_yet_valid,
        body.len()
    );

    let mut http_times = Vec::with_capacity(requests);
    for _ in 0..requests {
        http_times.push(page(http.clone(), cookie.clone(), url.clone()).await.0);
    }
    percentiles("GET / (dashboard page over HTTP)", http_times);

    let mut app_times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        app.certificate_dashboard(&RequestCtx {
            bearer: Some(token.clone()),
            now: OffsetDateTime::now_utc(),
            ..ctx.clone()
        })
        .await
        .unwrap();
        app_times.push(t.elapsed());
    }
    percentiles("App::certificate_dashboard (use-case only)", app_times);

    let mut count_times = Vec::with_capacity(requests);
    for _ in 0..requests {
        let now = OffsetDateTime::now_utc();
        let t = Instant::now();
        app.store
            .certificate_expiry_counts(
                None,
                now.unix_timestamp(),
                (now + app.policy.expiring_window).unix_timestamp(),
                certkeep_server::app::TIMELINE_WEEKS,
            )
            .await
            .unwrap();
        count_times.push(t.elapsed());
    }
    percentiles(
        "Store::certificate_expiry_counts (the counts only)",
        count_times,
    );
    // A token limited to one group sees that group's counts (the group index serves them).
    let group = app
        .store
        .certificate_list(&certkeep_server::store::CertificateFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .find_map(|r| r.group);
    if let Some(group) = group {
        let scoped = app
            .token_create_offline(
                &ctx,
                certkeep_api::CreateTokenRequest {
                    name: "dashboard-bench-group".into(),
                    role: Some(certkeep_api::Role::Reader),
                    group: Some(group.clone()),
                    expires_at: None,
                },
            )
            .await
            .unwrap()
            .token;
        let mut times = Vec::with_capacity(requests);
        let mut live = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let d = app
                .certificate_dashboard(&RequestCtx {
                    bearer: Some(scoped.clone()),
                    now: OffsetDateTime::now_utc(),
                    ..ctx.clone()
                })
                .await
                .unwrap();
            times.push(t.elapsed());
            let c = d.counts;
            live = c.valid + c.expiring + c.expired + c.not_yet_valid;
        }
        percentiles(
            &format!("App::certificate_dashboard, token limited to group {group:?} ({live} live)"),
            times,
        );
    }
    let _ = stop_tx.send(());
    let _ = server.await;
}
