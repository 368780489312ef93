//! Benchmark driver (see bench/run.sh and BENCHMARKS.md). Talks to a running `certkeepd`.
//!
//! `bench fill --count N`: generates N realistic certificates with private keys (P-256 mostly,
//! RSA-2048 and P-384 too; 1–4 DNS names; five issuing CAs; lifetimes of 90/365/398 days spread
//! so some are expired and some expiring) and imports them through the batch endpoint. The
//! first `--measure` certificates are generated before the clock starts, so the import rate
//! measures the server, not the generator.
//!
//! `bench list --requests N`: requests the first page of certificates expiring within 30 days
//! N times and prints latency percentiles.
//!
//! `bench notify --data-dir DIR`: with the server stopped, opens its database in-process,
//! adds a webhook channel pointing at a local receiver, times one expiry sweep over everything
//! stored, then times the delivery worker sending what the sweep enqueued and 20,000
//! single-certificate deliveries, and last a sweep for a channel that finds the whole inventory
//! stored since its previous run (as after a bulk import between two sweeps).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use certkeep_api::{
    BatchImportRequest, CertificateListQuery, CertificateStatus, Client, ImportCertificateRequest,
};
use certkeep_testkit::{Ca, KeyKind, KeyPool, LeafSpec};
use time::{Duration, OffsetDateTime};

struct Args {
    command: String,
    url: String,
    token: String,
    count: usize,
    measure: usize,
    batch: usize,
    concurrency: usize,
    requests: usize,
    seed: u64,
    data_dir: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        command: String::new(),
        url: "http://127.0.0.1:8080".into(),
        token: std::env::var("CERTKEEP_TOKEN").unwrap_or_default(),
        count: 10_000,
        measure: 20_000,
        batch: 1000,
        concurrency: 2,
        requests: 1000,
        seed: 1,
        data_dir: String::new(),
    };
    let mut it = std::env::args().skip(1);
    a.command = it.next().unwrap_or_default();
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = v,
            "--token" => a.token = v,
            "--count" => a.count = v.parse().unwrap(),
            "--measure" => a.measure = v.parse().unwrap(),
            "--batch" => a.batch = v.parse().unwrap(),
            "--concurrency" => a.concurrency = v.parse().unwrap(),
            "--requests" => a.requests = v.parse().unwrap(),
            "--seed" => a.seed = v.parse().unwrap(),
            "--data-dir" => a.data_dir = v,
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// Deterministic xorshift, so two runs fill the same shape of data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Generator {
    cas: Vec<Ca>,
    rsa: KeyPool,
    now: OffsetDateTime,
    rng: Rng,
    serial: u64,
}

impl Generator {
    fn new(seed: u64, now: OffsetDateTime) -> Generator {
        let (nb, na) = (now - Duration::days(400), now + Duration::days(3650));
        let root = Ca::new_root(KeyKind::EcP384, "Bench Root CA", nb, na).unwrap();
        let cas = (0..5)
            .map(|i| {
                root.intermediate(KeyKind::EcP256, &format!("Bench Issuing CA {i}"), nb, na)
                    .unwrap()
            })
            .collect();
        Generator {
            cas,
            rsa: KeyPool::generate(KeyKind::Rsa2048, 64).unwrap(),
            now,
            rng: Rng(seed.max(1)),
            serial: 0,
        }
    }

    fn item(&mut self) -> ImportCertificateRequest {
        self.serial += 1;
        let i = self.serial;
        let r = &mut self.rng;
        let team = r.below(200);
        let lifetime = [90i64, 365, 398][r.below(3) as usize];
        // Issued uniformly over the past lifetime + 40 days: ~10 % expired, ~8 % expiring.
        let age = r.below((lifetime + 40) as u64) as i64;
        let not_before = self.now - Duration::days(age) - Duration::seconds(r.below(86_400) as i64);
        let not_after = not_before + Duration::days(lifetime);
        let names: Vec<String> = (0..1 + r.below(4))
            .map(|n| format!("svc{i}-{n}.team{team}.example.com"))
            .collect();
        let kind_roll = r.below(100);
        let ca = &self.cas[r.below(5) as usize];
        let env = ["prod", "staging", "dev"][r.below(3) as usize];
        let spec = LeafSpec::new(&names[0], not_before, not_after).dns(names.clone());
        let leaf = if kind_roll < 20 {
            ca.leaf_with_key(&spec, self.rsa.next_key()).unwrap()
        } else if kind_roll < 25 {
            ca.leaf(&spec.key(KeyKind::EcP384)).unwrap()
        } else {
            ca.leaf(&spec).unwrap()
        };
        ImportCertificateRequest {
            name: format!("svc{i}.team{team}"),
            description: None,
            group: Some(format!("team-{team}")),
            labels: BTreeMap::from([("env".to_string(), env.to_string())]),
            certificate: leaf.cert_pem,
            private_key: Some(leaf.key_pem),
            chain: vec![ca.cert_pem()],
            password: None,
        }
    }
}

async fn import_all(
    client: &Client,
    items: Vec<ImportCertificateRequest>,
    batch: usize,
    concurrency: usize,
) {
    let client = Arc::new(client.clone());
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let mut tasks = Vec::new();
    let mut items = items;
    while !items.is_empty() {
        let rest = items.split_off(batch.min(items.len()));
        let chunk = std::mem::replace(&mut items, rest);
        let permit = sem.clone().acquire_owned().await.unwrap();
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let resp = c
                .certificate_import_batch(&BatchImportRequest { items: chunk })
                .await
                .unwrap_or_else(|e| panic!("batch import failed: {e}"));
            drop(permit);
            resp.items.len()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

async fn fill(a: &Args, client: &Client) {
    let now = OffsetDateTime::now_utc();
    let mut g = Generator::new(a.seed, now);
    let measured = a.measure.min(a.count);
    let t0 = Instant::now();
    let items: Vec<_> = (0..measured).map(|_| g.item()).collect();
    eprintln!("generated {measured} certificates in {:.1?}", t0.elapsed());
    let t1 = Instant::now();
    import_all(client, items, a.batch, a.concurrency).await;
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "import: {measured} certificates with keys in {secs:.2} s = {:.0} certificates/s (batch {}, concurrency {})",
        measured as f64 / secs,
        a.batch,
        a.concurrency
    );
    // The rest: generated and imported in a pipeline (not a throughput figure).
    let mut done = measured;
    let t2 = Instant::now();
    while done < a.count {
        let n = (a.batch * a.concurrency * 5).min(a.count - done);
        let items: Vec<_> = (0..n).map(|_| g.item()).collect();
        import_all(client, items, a.batch, a.concurrency).await;
        done += n;
        if done % 100_000 < n {
            eprintln!("filled {done} / {} ({:.0?})", a.count, t2.elapsed());
        }
    }
    println!("filled {done} certificates");
    // The import rate again, now that the database holds `count` certificates.
    let items: Vec<_> = (0..measured).map(|_| g.item()).collect();
    let t3 = Instant::now();
    import_all(client, items, a.batch, a.concurrency).await;
    let secs = t3.elapsed().as_secs_f64();
    println!(
        "import at {done} stored: {measured} certificates with keys in {secs:.2} s = {:.0} certificates/s",
        measured as f64 / secs
    );
}

fn percentiles(mut lat: Vec<StdDuration>) -> String {
    lat.sort();
    let pct = |p: f64| -> f64 {
        lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1].as_secs_f64() * 1e3
    };
    format!(
        "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        pct(1.0)
    )
}

/// Timed requests of one listing query; prints percentiles.
async fn time_queries(client: &Client, label: &str, q: &CertificateListQuery, requests: usize) {
    for _ in 0..10 {
        client.certificate_list(q).await.unwrap();
    }
    let mut lat = Vec::with_capacity(requests);
    let mut items = 0;
    for _ in 0..requests {
        let t = Instant::now();
        let page = client.certificate_list(q).await.unwrap();
        lat.push(t.elapsed());
        items = page.items.len();
    }
    println!(
        "{label} ({items} items on the page), {requests} requests: {}",
        percentiles(lat)
    );
}

async fn list(a: &Args, client: &Client) {
    let q = CertificateListQuery {
        status: Some(CertificateStatus::Expiring),
        limit: Some(100),
        ..Default::default()
    };
    time_queries(client, "list status=expiring limit=100", &q, a.requests).await;
}

/// Free-text search: a rare substring (one match) and a common one (a team's ~5,000).
async fn search(a: &Args, client: &Client) {
    for (what, text) in [("unique", "svc4242-0."), ("common", "team17.")] {
        let q = CertificateListQuery {
            q: Some(text.to_string()),
            limit: Some(100),
            ..Default::default()
        };
        time_queries(
            client,
            &format!("search q={text:?} ({what})"),
            &q,
            a.requests,
        )
        .await;
    }
}

/// A receiver that counts requests and answers 204.
async fn counting_receiver() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |_body: axum::body::Bytes| {
            let c = c.clone();
            async move {
                c.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), count)
}

async fn notify(a: &Args) {
    use certkeep_server::app::{App, RequestCtx};
    use certkeep_server::jobs::{delivery_job, expiry_sweep_job};
    let config = certkeep_server::config::Config {
        data_dir: a.data_dir.clone().into(),
        danger_allow_http_channels: true,
        // The server is stopped: every import has committed, none need time to settle.
        sweep_settle: Duration::seconds(1),
        ..Default::default()
    };
    let app = App::open(&config).await.unwrap();
    let admin = app
        .token_create_offline(
            &RequestCtx {
                request_id: "bench".into(),
                bearer: None,
                now: OffsetDateTime::now_utc(),
            },
            certkeep_api::CreateTokenRequest {
                name: "bench".into(),
                role: Some(certkeep_api::Role::Admin),
                group: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let ctx = |now| RequestCtx {
        request_id: "bench".into(),
        bearer: Some(admin.token.clone()),
        now,
    };
    let (url, received) = counting_receiver().await;
    app.channel_create(
        &ctx(OffsetDateTime::now_utc()),
        certkeep_api::CreateChannelRequest {
            name: "bench".into(),
            kind: Some(certkeep_api::ChannelKind::Webhook),
            url: Some(url.clone()),
            events: Some(vec!["cert.expiring".into(), "cert.expired".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let now = OffsetDateTime::now_utc();
    let t = Instant::now();
    let r = expiry_sweep_job::run_once(&app, now)
        .await
        .unwrap()
        .unwrap();
    println!(
        "expiry sweep, first run over all stored: {} notices in {} deliveries enqueued in {:.2} s",
        r.notices,
        r.deliveries,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let r2 = expiry_sweep_job::run_once(&app, now + Duration::hours(1))
        .await
        .unwrap()
        .unwrap();
    println!(
        "expiry sweep, one hour later: {} notices enqueued in {:.3} s",
        r2.notices,
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let d = delivery_job::run_once(&app, now + Duration::hours(1))
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "delivery of the sweep's batches (up to 100 certificates each): {} delivered in {secs:.2} s = {:.0} deliveries/s",
        d.delivered,
        d.delivered as f64 / secs
    );
    // Single-certificate deliveries, as lifecycle events produce them.
    let ch = app.store.channels_enabled().await.unwrap().remove(0);
    let sample = app
        .store
        .certificate_list(&certkeep_server::store::CertificateFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .remove(0);
    let mut tx = app.store.begin_write().await.unwrap();
    for _ in 0..20_000 {
        let s = certkeep_server::notify::outbox::summary(
            &sample,
            now,
            "https://certkeep.example",
            None,
        );
        certkeep_server::notify::outbox::enqueue(
            &app,
            &mut tx,
            &ch,
            certkeep_server::notify::event::EventType::CertImported,
            vec![s],
            now,
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let before = received.load(std::sync::atomic::Ordering::Relaxed);
    let t = Instant::now();
    let d = delivery_job::run_once(&app, now + Duration::hours(1))
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!(
        "delivery of 20,000 single-certificate webhooks (signed JWS + HMAC): {} delivered ({} received) in {secs:.2} s = {:.0} deliveries/s",
        d.delivered,
        received.load(std::sync::atomic::Ordering::Relaxed) - before,
        d.delivered as f64 / secs
    );
    // The whole inventory stored since a channel's last run, as after a bulk import between
    // two hourly sweeps: a channel first swept a year ago (before anything was stored, so that
    // run finds nothing), then swept now, finds every version newly settled.
    app.channel_create(
        &ctx(OffsetDateTime::now_utc()),
        certkeep_api::CreateChannelRequest {
            name: "bench-after-import".into(),
            kind: Some(certkeep_api::ChannelKind::Webhook),
            url: Some(url),
            events: Some(vec!["cert.expiring".into(), "cert.expired".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let early = expiry_sweep_job::run_once(&app, now - Duration::days(365))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(early.notices, 0, "nothing was stored a year ago");
    let t = Instant::now();
    let r3 = expiry_sweep_job::run_once(&app, now + Duration::hours(2))
        .await
        .unwrap()
        .unwrap();
    println!(
        "expiry sweep, every version stored since the last run: {} notices in {} deliveries enqueued in {:.2} s",
        r3.notices,
        r3.deliveries,
        t.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    let client = Client::new(&a.url, Some(a.token.clone())).unwrap();
    match a.command.as_str() {
        "fill" => fill(&a, &client).await,
        "list" => list(&a, &client).await,
        "search" => search(&a, &client).await,
        "notify" => notify(&a).await,
        other => {
            panic!(
                "usage: bench fill|list|search [--url U] [--token T] [--count N] ...; got {other:?}"
            )
        }
    }
}
