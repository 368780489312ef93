//! Dashboard benchmark (see BENCHMARKS.md): how long the web UI's dashboard takes to render
//! over a filled database. Separate from `bench` so each measures one thing.
//!
//! `dashboard_bench --data-dir DIR [--requests N] [--table-requests N]`: with the server stopped, opens the database
//! of a data directory filled by `bench fill` (bench/run.sh does it), serves it in-process on
//! loopback, signs in to the web UI with a new admin token and requests `/` N times (default
//! 200) over HTTP: session lookup, authentication, the audit write, the status counts, the
//! 13-week timeline, the 20 soonest and the HTML rendering. Prints the certificate count and
//! latency percentiles; then times the use-case alone (`App::certificate_dashboard`).
//!
//! Then the certificates table: the UI page `/certificates?…` and the API list
//! `GET /api/v1/certificates?…&limit=50` (the UI's page size), each `--table-requests` times
//! (default 50; 3 for a filter whose first request takes over half a second), unfiltered and
//! with each filter (label, key type, issuer, group, status, expiring within N days), sorted
//! by name, and the second page; the filter values are taken
//! from the stored entries (the `bench fill` data: labels `env=prod|staging|dev`, 200 groups,
//! five issuing CAs, 75 % P-256, 20 % RSA and 5 % P-384 keys).
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
    let mut table_requests = 50usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let v = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--data-dir" => data_dir = Some(v),
            "--requests" => requests = v.parse().expect("--requests N"),
            "--table-requests" => table_requests = v.parse().expect("--table-requests N"),
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
    table(&http, &url, &cookie, &token, table_requests, &app).await;
    let _ = stop_tx.send(());
    let _ = server.await;
}

/// `GET {url}{path}` with `header: value`, timed; the status must be 200.
async fn timed_get(http: &reqwest::Client, url: &str, header: (&str, &str)) -> (Duration, String) {
    let t = Instant::now();
    let r = http
        .get(url)
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let body = r.text().await.unwrap();
    (t.elapsed(), body)
}

/// The certificates table at scale: the UI page and the API list, per filter.
async fn table(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    token: &str,
    requests: usize,
    app: &App,
) {
    // Filter values from the first entry by expiry (any live entry would do).
    let first = app
        .store
        .certificate_list(&certkeep_server::store::CertificateFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0);
    let label = first
        .labels
        .iter()
        .next()
        .map(|(k, v)| format!("{k}={v}"))
        .unwrap_or_else(|| "env=prod".into());
    let group = first.group.clone().unwrap_or_default();
    let issuer = first
        .info
        .issuer
        .split(',')
        .find_map(|p| p.trim().strip_prefix("CN="))
        .unwrap_or(&first.info.issuer)
        .to_string();
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    // The second page: the cursor the first page links to.
    let (_, html) = timed_get(http, &format!("{url}/certificates"), ("cookie", cookie)).await;
    let at = html.find("rel=\"next\"").expect("a next page link");
    let next = html[..at]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    let cursor = next.split("cursor=").nth(1).unwrap().to_string();
    let cases: Vec<(String, String)> = vec![
        ("no filter (expiry, soonest first)".into(), String::new()),
        (format!("label {label}"), format!("label={}", enc(&label))),
        ("key type RSA (20 %)".into(), "key=RSA".into()),
        ("key type EC (80 %)".into(), "key=EC".into()),
        (
            "key type Ed25519 (none stored)".into(),
            "key=Ed25519".into(),
        ),
        (
            format!("issuer {issuer:?}"),
            format!("issuer={}", enc(&issuer)),
        ),
        (format!("group {group}"), format!("group={}", enc(&group))),
        // Values that match nothing in a `bench fill` inventory; "rare" ones match a few
        // hundred entries where the data directory was seeded with them (BENCHMARKS.md).
        ("label env=qa (none stored)".into(), "label=env%3Dqa".into()),
        (
            "label tier=gold (rare where seeded)".into(),
            "label=tier%3Dgold".into(),
        ),
        (
            "issuer \"No Such CA\" (none stored)".into(),
            "issuer=No%20Such%20CA".into(),
        ),
        (
            "issuer \"Bench Rare CA\" (rare where seeded)".into(),
            "issuer=Bench%20Rare%20CA".into(),
        ),
        (
            "key type RSA, sorted by name".into(),
            "key=RSA&sort=name".into(),
        ),
        ("status expiring".into(), "status=expiring".into()),
        ("expiring within 30 days".into(), "within=30".into()),
        ("sort by name".into(), "sort=name".into()),
        ("sort by name, descending".into(), "sort=-name".into()),
        ("second page (expiry)".into(), format!("cursor={cursor}")),
    ];
    // The API spells the key type and the expiry window differently.
    let api_query = |qs: &str| {
        qs.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                if let Some(v) = p.strip_prefix("key=") {
                    format!("key_algorithm={v}")
                } else if p == "within=30" {
                    let now = OffsetDateTime::now_utc();
                    let fmt = |t: OffsetDateTime| {
                        enc(&t
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap())
                    };
                    format!(
                        "expires_after={}&expires_before={}",
                        fmt(now),
                        fmt(now + time::Duration::days(30))
                    )
                } else {
                    p.to_string()
                }
            })
            .chain(std::iter::once("limit=50".to_string()))
            .collect::<Vec<_>>()
            .join("&")
    };
    let bearer = format!("Bearer {token}");
    for (what, qs) in cases {
        let page_url = format!("{url}/certificates?{qs}");
        let (first, html) = timed_get(http, &page_url, ("cookie", cookie)).await;
        let rows = html.matches("<tr").count().saturating_sub(1);
        // A filter that walks the whole table says so in three requests (bench/run.sh stays short).
        let requests = if first > Duration::from_millis(500) {
            requests.min(3)
        } else {
            requests
        };
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            times.push(timed_get(http, &page_url, ("cookie", cookie)).await.0);
        }
        percentiles(&format!("UI /certificates, {what} ({rows} rows)"), times);
        let list_url = format!("{url}/api/v1/certificates?{}", api_query(&qs));
        let mut times = Vec::with_capacity(requests);
        for _ in 0..requests {
            times.push(
                timed_get(http, &list_url, ("authorization", &bearer))
                    .await
                    .0,
            );
        }
        percentiles(&format!("API list, {what}"), times);
    }
}
