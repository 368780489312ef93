//! Three `certkeepd` processes on one database (PostgreSQL in the PostgreSQL run, one SQLite
//! file otherwise), sweeping every second; the one delivering is killed with SIGKILL mid-run. Every due
//! notification reaches the receiver, each in exactly one notification (webhook-id).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use certkeep_api::{
    BatchImportRequest, ChannelKind, Client, CreateChannelRequest, ImportCertificateRequest,
};
use time::{Duration, OffsetDateTime};

use crate::certificates::root_ca;
use crate::helpers::{Process, fresh_postgres_url, start_certkeepd};

fn start(dir: &std::path::Path, db: Option<&str>) -> Process {
    start_certkeepd(
        dir,
        db,
        &[
            "--sweep-interval-secs",
            "1",
            "--sweep-settle-secs",
            "10",
            "--danger-allow-http-channels",
        ],
    )
}

type Seen = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    async fn hook(
        State(s): State<Seen>,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> StatusCode {
        let id = headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        s.lock()
            .unwrap()
            .push((id, serde_json::from_slice(&body).unwrap_or_default()));
        // Answer late, so the kill lands while the sender waits for the answer.
        tokio::time::sleep(StdDuration::from_millis(1500)).await;
        StatusCode::NO_CONTENT
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), seen)
}

/// (event, certificate id) → the webhook ids it arrived in.
fn notices(seen: &Seen) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for (id, n) in seen.lock().unwrap().iter() {
        for c in n["certificates"].as_array().into_iter().flatten() {
            out.entry((
                n["type"].as_str().unwrap_or_default().to_string(),
                c["id"].as_str().unwrap_or_default().to_string(),
            ))
            .or_default()
            .insert(id.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_one_killed_deliver_every_notification_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_postgres_url().await;
    let (hook_url, seen) = receiver().await;
    let mut r1 = start(dir.path(), db.as_deref());
    let token = r1
        .first_token
        .clone()
        .expect("first start prints the admin token");
    let mut r2 = start(dir.path(), db.as_deref());
    let mut r3 = start(dir.path(), db.as_deref());
    let c2 = Client::new(&r2.url, Some(token.clone())).unwrap();
    c2.channel_create(&CreateChannelRequest {
        name: "replicated".into(),
        kind: Some(ChannelKind::Webhook),
        url: Some(hook_url),
        events: Some(vec!["cert.expiring".into(), "cert.imported".into()]),
        ..Default::default()
    })
    .await
    .unwrap();

    // 300 certificates, each due for one expiring notice (within 1..=30 days).
    let now = OffsetDateTime::now_utc();
    let ca = root_ca("Replica CA", now);
    let items: Vec<_> = (0..300)
        .map(|i| ImportCertificateRequest {
            name: format!("rep{i}"),
            certificate: ca
                .leaf(&certkeep_testkit::LeafSpec::new(
                    &format!("rep{i}.example.test"),
                    now - Duration::days(60),
                    now + Duration::days(1 + i % 30) + Duration::hours(1),
                ))
                .unwrap()
                .cert_pem,
            ..Default::default()
        })
        .collect();
    let imported = c2
        .certificate_import_batch(&BatchImportRequest { items })
        .await
        .unwrap()
        .items;
    // Kill the replica that took the import (its worker was woken by it and leased the
    // deliveries) as soon as they are under way: the others must take them over.
    let started = Instant::now();
    while seen.lock().unwrap().is_empty() && started.elapsed() < StdDuration::from_secs(30) {
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    r2.child.kill().unwrap();
    r2.child.wait().unwrap();
    // What reached the receiver up to the kill (requests the killed process had sent are
    // recorded within moments; nobody else may take its deliveries over for a lease's time).
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let before_kill: BTreeSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();

    let want: BTreeSet<(String, String)> = imported
        .iter()
        .flat_map(|m| {
            ["cert.expiring", "cert.imported"]
                .into_iter()
                .map(move |e| (e.to_string(), m.id.to_string()))
        })
        .collect();
    // Deliveries the killed replica had leased are taken over when its lease (60 s) expires.
    let deadline = Instant::now() + StdDuration::from_secs(150);
    loop {
        let got = notices(&seen);
        if want.iter().all(|k| got.contains_key(k)) || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    // Let any stray duplicate surface before judging.
    tokio::time::sleep(StdDuration::from_secs(3)).await;
    let got = notices(&seen);
    let missing: Vec<_> = want.iter().filter(|k| !got.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{} notices never arrived, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    // A delivery interrupted by the kill is sent again under the same webhook-id (receivers
    // deduplicate on it); no notice may ever travel in two different notifications.
    let doubled: Vec<_> = got.iter().filter(|(_, ids)| ids.len() > 1).collect();
    assert!(
        doubled.is_empty(),
        "notices sent in more than one notification: {doubled:?}"
    );
    // And a request is repeated only if the killed replica was sending it when it died: the
    // delivery it had not recorded. Everything sent after the kill arrived exactly once.
    let mut requests: BTreeMap<String, usize> = BTreeMap::new();
    for (id, _) in seen.lock().unwrap().iter() {
        *requests.entry(id.clone()).or_default() += 1;
    }
    let repeated: Vec<_> = requests
        .iter()
        .filter(|(id, n)| **n > 1 && !before_kill.contains(*id))
        .collect();
    assert!(
        repeated.is_empty(),
        "deliveries repeated though not in flight at the kill: {repeated:?}"
    );
    assert!(
        requests.values().all(|n| *n <= 2),
        "a delivery arrived more than twice: {requests:?}"
    );
    assert_eq!(
        got.len(),
        want.len(),
        "unexpected notices: {:?}",
        got.keys()
            .filter(|k| !want.contains(*k))
            .collect::<Vec<_>>()
    );
    // What the killed replica held is taken over once its lease expires: in the end nothing
    // is left pending and every delivery is recorded as delivered.
    let c1 = Client::new(&r1.url, Some(token.clone())).unwrap();
    let channel = c1.channel_list().await.unwrap().items[0].id;
    let deadline = Instant::now() + StdDuration::from_secs(150);
    let history = loop {
        let page = c1
            .channel_deliveries(
                channel,
                &certkeep_api::DeliveryQuery {
                    limit: Some(1000),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let pending = page
            .items
            .iter()
            .filter(|d| d.status != certkeep_api::DeliveryStatus::Delivered)
            .count();
        if pending == 0 || Instant::now() > deadline {
            break page;
        }
        tokio::time::sleep(StdDuration::from_millis(500)).await;
    };
    assert!(
        history
            .items
            .iter()
            .all(|d| d.status == certkeep_api::DeliveryStatus::Delivered),
        "deliveries left behind by the killed replica: {:?}",
        history
            .items
            .iter()
            .filter(|d| d.status != certkeep_api::DeliveryStatus::Delivered)
            .collect::<Vec<_>>()
    );
    let ids: BTreeSet<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(
        ids.len(),
        history.items.len(),
        "every notification the server recorded reached the receiver"
    );
    for r in [&mut r1, &mut r3] {
        r.child.kill().unwrap();
        r.child.wait().unwrap();
    }
}
