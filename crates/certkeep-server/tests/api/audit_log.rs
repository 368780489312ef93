//! The audit log: every action (reads and denials included) is recorded, pages in order, and
//! `certkeepd audit verify` detects edited and removed events.

use certkeep_api::{AuditOrder, AuditOutcome, AuditQuery, CertificateListQuery, Role};
use sqlx::{Connection, Executor};

use crate::helpers::{TestApp, is_postgres};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_and_denials_are_recorded_and_paged() {
    let t = TestApp::spawn().await;
    let (reader, _) = t.client_with_role(Role::Reader, None).await;
    reader
        .certificate_list(&CertificateListQuery {
            q: Some("example".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let _ = reader.token_list().await.unwrap_err();
    let _ = t
        .client(None)
        .certificate_list(&Default::default())
        .await
        .unwrap_err();

    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = t
            .admin
            .audit_list(&AuditQuery {
                after,
                limit: Some(2),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        all.extend(page.items);
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    for (i, ev) in all.iter().enumerate() {
        assert_eq!(ev.seq, i as i64 + 1, "sequence has no gaps");
        assert!(!ev.request_id.is_empty());
    }
    let list = all
        .iter()
        .find(|e| e.action == "certificate.list" && e.outcome == AuditOutcome::Success)
        .expect("a successful list is recorded");
    assert_eq!(list.detail["query"]["q"], "example");
    let denied = all
        .iter()
        .find(|e| e.action == "token.list" && e.outcome == AuditOutcome::Denied)
        .expect("a denied token listing is recorded");
    assert!(denied.token_id.is_some());
    assert!(denied.detail["error"].as_str().unwrap().contains("admin"));
    assert!(
        all.iter().any(|e| e.action == "certificate.list"
            && e.outcome == AuditOutcome::Denied
            && e.token_id.is_none()),
        "an unauthenticated attempt is recorded"
    );
    // Filter by action.
    let only = t
        .admin
        .audit_list(&AuditQuery {
            action: Some("token.create".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!only.items.is_empty() && only.items.iter().all(|e| e.action == "token.create"));
    // Bad paging is a 400.
    let e = t
        .admin
        .audit_list(&AuditQuery {
            limit: Some(0),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newest_first_pages_backwards_with_before() {
    let t = TestApp::spawn().await;
    for _ in 0..6 {
        t.admin.certificate_list(&Default::default()).await.unwrap();
    }
    let desc = |before| AuditQuery {
        before,
        order: Some(AuditOrder::Desc),
        limit: Some(4),
        ..Default::default()
    };
    let first = t.admin.audit_list(&desc(None)).await.unwrap();
    assert_eq!(first.items.len(), 4);
    assert!(first.next_after.is_none(), "no `after` cursor newest first");
    let top = first.items[0].seq;
    let mut seen = Vec::new();
    let mut page = first;
    loop {
        seen.extend(page.items.iter().map(|e| e.seq));
        // Events recorded while paging (these listings) are newer: the cursor is not moved by them.
        match page.next_before {
            Some(b) => page = t.admin.audit_list(&desc(Some(b))).await.unwrap(),
            None => break,
        }
    }
    assert_eq!(seen, (1..=top).rev().collect::<Vec<_>>());
    // Filters apply newest first too, and the oldest-first default is unchanged.
    let lists = t
        .admin
        .audit_list(&AuditQuery {
            action: Some("certificate.list".into()),
            order: Some(AuditOrder::Desc),
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(lists.items.len(), 2);
    assert!(lists.items[0].seq > lists.items[1].seq);
    assert!(lists.items.iter().all(|e| e.action == "certificate.list"));
    assert!(lists.next_before.is_some());
    let asc = t
        .admin
        .audit_list(&AuditQuery {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        asc.items.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(asc.next_after, Some(2));
    assert!(asc.next_before.is_none());
    // A window that cannot hold anything is refused, naming both ends.
    let e = t
        .admin
        .audit_list(&AuditQuery {
            after: Some(5),
            before: Some(5),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(e.to_string().contains("`before` is 5"), "{e}");
    t.stop().await;
}

fn verify(t_dir: &std::path::Path, url: &str) -> (bool, String) {
    let out = assert_cmd::Command::cargo_bin("certkeepd")
        .unwrap()
        .args(["audit", "verify", "--data-dir"])
        .arg(t_dir)
        .args(["--database-url", url])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_detects_edited_and_removed_events() {
    let t = TestApp::spawn().await;
    for _ in 0..5 {
        t.admin.certificate_list(&Default::default()).await.unwrap();
    }
    let dir = t.data_dir();
    let url = t.database_url.clone();
    let _keep = t.stop().await;

    let (ok, out) = verify(&dir, &url);
    assert!(ok, "{out}");
    assert!(out.contains("intact"), "{out}");

    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&url).await.unwrap();
    // The log refuses edits through SQL as long as its triggers are in place.
    assert!(
        db.execute("UPDATE audit_events SET detail = '{}' WHERE seq = 2")
            .await
            .is_err()
    );
    assert!(
        db.execute("DELETE FROM audit_events WHERE seq = 2")
            .await
            .is_err()
    );
    // Someone with raw access drops the guard and edits an event.
    if is_postgres() {
        db.execute("DROP TRIGGER audit_events_no_update ON audit_events")
            .await
            .unwrap();
    } else {
        db.execute("DROP TRIGGER audit_events_no_update")
            .await
            .unwrap();
        db.execute("DROP TRIGGER audit_events_no_delete")
            .await
            .unwrap();
    }
    db.execute("UPDATE audit_events SET detail = '{\"query\":{\"q\":\"forged\"}}' WHERE seq = 3")
        .await
        .unwrap();
    let (ok, out) = verify(&dir, &url);
    assert!(!ok, "edit not detected: {out}");
    assert!(out.contains("event 3"), "{out}");

    // Removing an event in the middle is detected too.
    let url2 = url.clone();
    let t2_dir = dir.clone();
    db.execute("UPDATE audit_events SET detail = (SELECT detail FROM audit_events WHERE seq = 2) WHERE seq = 3")
        .await
        .unwrap();
    db.execute("DELETE FROM audit_events WHERE seq = 4")
        .await
        .unwrap();
    let (ok, out) = verify(&t2_dir, &url2);
    assert!(!ok, "{out}");
    assert!(out.contains("missing"), "{out}");

    // And so is a removed tail.
    let mut db2 = sqlx::AnyConnection::connect(&url).await.unwrap();
    db2.execute("DELETE FROM audit_events WHERE seq >= 4")
        .await
        .unwrap();
    let (ok, out) = verify(&dir, &url);
    assert!(!ok, "{out}");
    assert!(out.contains("removed"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_authenticate_first_and_are_audited() {
    let t = TestApp::spawn().await;
    let bad_body = serde_json::json!({"name": "x", "certificate": 5});
    // No token: 401, whatever the body.
    let resp = t
        .client(None)
        .raw(reqwest::Method::POST, "/api/v1/certificates")
        .json(&bad_body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // A valid token: 400 naming the field, and a failed event in the log.
    let resp = t
        .admin
        .raw(reqwest::Method::POST, "/api/v1/certificates")
        .json(&bad_body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("certificate"),
        "{body}"
    );
    let page = t
        .admin
        .audit_list(&AuditQuery {
            action: Some("certificate.import".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        page.items
            .iter()
            .any(|e| e.outcome == AuditOutcome::Denied && e.token_id.is_none())
    );
    let failed = page
        .items
        .iter()
        .find(|e| e.outcome == AuditOutcome::Failed)
        .expect("the malformed import is audited");
    assert_eq!(failed.request_id, body["request_id"].as_str().unwrap());
    t.stop().await;
}
