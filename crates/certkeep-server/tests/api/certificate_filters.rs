//! The certificate listing's plans for rare and common filter values (on SQLite a rare key
//! type, issuer or label drives the query from its own index; a common one walks the sort
//! order): every combination of filters, each sort and keyset paging give exactly the entries
//! a plain filter over everything stored gives.

use std::collections::BTreeMap;

use certkeep_server::domain::LabelFilter;
use certkeep_server::pki::CertInfo;
use certkeep_server::store::{
    CertificateFilter, CertificateRecord, CursorKey, ListOrder, VersionRecord,
};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::TestApp;

/// More than the store's bound for a rare value (2,000), so the common values take the walk.
const ENTRIES: usize = 2_300;
const PAGE: u32 = 25;
const PAGES: usize = 3;

fn entry(i: usize, now: OffsetDateTime) -> (CertificateRecord, VersionRecord) {
    let id = Uuid::new_v4();
    let key_algorithm = if i.is_multiple_of(50) { "RSA" } else { "EC" };
    let issuer = if i.is_multiple_of(97) {
        "O=Example, CN=Rare CA One".to_string()
    } else if i.is_multiple_of(89) {
        "O=Example, CN=Rare CA Two".to_string()
    } else {
        format!("O=Example, CN=Common CA {}", i % 3)
    };
    let mut labels = BTreeMap::from([("env".to_string(), "prod".to_string())]);
    if i.is_multiple_of(61) {
        labels.insert("tier".into(), "gold".into());
    }
    if i.is_multiple_of(53) {
        labels.insert("owner".into(), format!("team{}", i % 2));
    }
    // Ties on both sort keys, so that the id decides between entries.
    let not_after = now + Duration::days(i64::try_from(i % 300).unwrap());
    let rec = CertificateRecord {
        id,
        name: format!("cert-{:04}", i % 700),
        description: String::new(),
        group: Some(if i.is_multiple_of(2) { "g1" } else { "g2" }.to_string()),
        labels,
        source: "import".into(),
        current_version: 1,
        info: CertInfo {
            subject: format!("CN=host{i}.example.test"),
            issuer,
            serial: format!("{i:x}"),
            domains: vec![format!("host{i}.example.test")],
            ip_addresses: Vec::new(),
            not_before: now - Duration::days(30),
            not_after,
            key_algorithm: key_algorithm.into(),
            key_size: None,
            key_curve: None,
            signature_algorithm: "ecdsa-with-SHA256".into(),
            fingerprint_sha256: format!("{i:064x}"),
            is_ca: false,
            x509_version: 3,
        },
        has_private_key: false,
        chain_length: 0,
        chain_complete: true,
        chain_issues: Vec::new(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let version = VersionRecord {
        cert_id: id,
        version: 1,
        leaf_der: vec![0x30, 0x00],
        chain_der: Vec::new(),
        chain_complete: true,
        chain_issues: Vec::new(),
        key_sealed: None,
        has_key: false,
        created_at: now,
        created_by: None,
    };
    (rec, version)
}

fn matches(r: &CertificateRecord, f: &CertificateFilter) -> bool {
    r.deleted_at.is_some() == f.deleted
        && f.group.as_ref().is_none_or(|g| r.group.as_ref() == Some(g))
        && f.key_algorithm
            .as_ref()
            .is_none_or(|k| &r.info.key_algorithm == k)
        && f.issuer
            .as_ref()
            .is_none_or(|s| r.info.issuer.to_lowercase().contains(s.as_str()))
        && f.labels.iter().all(|l| match &l.value {
            Some(v) => r.labels.get(&l.key) == Some(v),
            None => r.labels.contains_key(&l.key),
        })
}

fn expected(all: &[CertificateRecord], f: &CertificateFilter) -> Vec<Uuid> {
    let mut rows: Vec<&CertificateRecord> = all.iter().filter(|r| matches(r, f)).collect();
    rows.sort_by(|a, b| {
        let (ka, kb) = (a.id.to_string(), b.id.to_string());
        match f.order {
            ListOrder::NotAfterAsc => (a.info.not_after, ka).cmp(&(b.info.not_after, kb)),
            ListOrder::NotAfterDesc => (b.info.not_after, kb).cmp(&(a.info.not_after, ka)),
            ListOrder::NameAsc => (&a.name, ka).cmp(&(&b.name, kb)),
            ListOrder::NameDesc => (&b.name, kb).cmp(&(&a.name, ka)),
        }
    });
    rows.into_iter().map(|r| r.id).collect()
}

/// The first `PAGES` pages of `f`, each following the previous page's last entry.
async fn listed(t: &TestApp, f: &CertificateFilter) -> Vec<Uuid> {
    let mut f = f.clone();
    f.limit = PAGE;
    let mut out = Vec::new();
    for _ in 0..PAGES {
        let page = t.app.store.certificate_list(&f).await.unwrap();
        let Some(last) = page.last() else { break };
        let key = match f.order {
            ListOrder::NotAfterAsc | ListOrder::NotAfterDesc => {
                CursorKey::Time(last.info.not_after.unix_timestamp())
            }
            ListOrder::NameAsc | ListOrder::NameDesc => CursorKey::Text(last.name.clone()),
        };
        f.after = Some((key, last.id.to_string()));
        let full = page.len() == PAGE as usize;
        out.extend(page.iter().map(|r| r.id));
        if !full {
            break;
        }
    }
    out
}

fn label(key: &str, value: Option<&str>) -> LabelFilter {
    LabelFilter {
        key: key.into(),
        value: value.map(str::to_string),
    }
}

#[tokio::test]
async fn rare_and_common_filter_values_list_exactly_the_matching_entries() {
    let t = TestApp::spawn().await;
    let now =
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let mut all = Vec::with_capacity(ENTRIES);
    let mut tx = t.app.store.begin_write().await.unwrap();
    for i in 0..ENTRIES {
        let (rec, version) = entry(i, now);
        t.app
            .store
            .certificate_insert(&mut tx, &rec, &version)
            .await
            .unwrap();
        all.push(rec);
    }
    // Deleted entries hold rare values too; live listings must leave them out.
    for (i, rec) in all.iter_mut().enumerate() {
        if i.is_multiple_of(100) || (i.is_multiple_of(97) && i.is_multiple_of(2)) {
            t.app
                .store
                .certificate_set_deleted(&mut tx, rec.id, Some(now), now)
                .await
                .unwrap();
            rec.deleted_at = Some(now);
        }
    }
    tx.commit().await.unwrap();

    let keys = [None, Some("EC"), Some("RSA"), Some("Ed25519")];
    let issuers = [
        None,
        Some("common ca"),
        Some("rare ca"),
        Some("rare ca two"),
        Some("no such ca"),
    ];
    let label_sets = [
        vec![],
        vec![label("env", Some("prod"))],
        vec![label("tier", Some("gold"))],
        vec![label("owner", None)],
        vec![label("tier", Some("gold")), label("env", Some("prod"))],
        vec![label("owner", Some("team0")), label("tier", None)],
        vec![label("env", Some("qa"))],
    ];
    let orders = [
        ListOrder::NotAfterAsc,
        ListOrder::NotAfterDesc,
        ListOrder::NameAsc,
        ListOrder::NameDesc,
    ];
    let mut checked = 0usize;
    let mut non_empty = 0usize;
    for key in keys {
        for issuer in issuers {
            for labels in &label_sets {
                for (n, order) in orders.into_iter().enumerate() {
                    // The group and deleted variants with one sort each keep the run short.
                    let variants = [(None, false), (Some("g1"), n == 0), (None, n == 1)];
                    for (group, deleted) in variants {
                        if (group.is_some() || deleted) && n > 1 {
                            continue;
                        }
                        let f = CertificateFilter {
                            deleted,
                            group: group.map(str::to_string),
                            key_algorithm: key.map(str::to_string),
                            issuer: issuer.map(str::to_string),
                            labels: labels.clone(),
                            order,
                            ..CertificateFilter::default()
                        };
                        let want = expected(&all, &f);
                        let want = &want[..want.len().min(PAGE as usize * PAGES)];
                        let got = listed(&t, &f).await;
                        assert_eq!(got, want, "filter {f:?}");
                        checked += 1;
                        non_empty += usize::from(!want.is_empty());
                    }
                }
            }
        }
    }
    assert!(checked > 500, "{checked} combinations checked");
    assert!(
        non_empty > checked / 5,
        "{non_empty} of {checked} non-empty"
    );
}

/// What the expiry sweep reads comes back whole and once whatever the page size: pages meet
/// between entries expiring at the same second (the id breaks the tie), on every index the
/// sweep's filters choose.
#[tokio::test]
async fn sweep_candidates_come_back_whole_across_pages() {
    use certkeep_server::store::PercentWindow;

    let t = TestApp::spawn().await;
    let now =
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let n = 700;
    let mut all = Vec::with_capacity(n);
    let mut tx = t.app.store.begin_write().await.unwrap();
    for i in 0..n {
        let (mut rec, mut version) = entry(i, now);
        // Many entries expiring at the very same second, and versions stored at five times.
        rec.info.not_after = now + Duration::days(i64::try_from(i % 40).unwrap());
        version.created_at = now - Duration::hours(i64::try_from(i % 5).unwrap());
        t.app
            .store
            .certificate_insert(&mut tx, &rec, &version)
            .await
            .unwrap();
        if i.is_multiple_of(9) {
            t.app
                .store
                .certificate_set_deleted(&mut tx, rec.id, Some(now), now)
                .await
                .unwrap();
            rec.deleted_at = Some(now);
        }
        all.push((rec, version.created_at));
    }
    tx.commit().await.unwrap();

    let s = now.unix_timestamp();
    let day = 86_400;
    let in_range = CertificateFilter {
        not_after_min: Some(s + 3 * day),
        not_after_max_excl: Some(s + 31 * day),
        ..CertificateFilter::default()
    };
    let cases: Vec<(&str, CertificateFilter)> = vec![
        ("expiry range", in_range.clone()),
        (
            "expiry range in a group",
            CertificateFilter {
                scope_group: Some("g1".into()),
                ..in_range.clone()
            },
        ),
        (
            "expiry range with a label, settled before",
            CertificateFilter {
                labels: vec![label("env", Some("prod"))],
                version_until: Some(s - 2 * 3600),
                ..in_range.clone()
            },
        ),
        (
            "versions stored in a window",
            CertificateFilter {
                version_after: Some(s - 3 * 3600),
                version_until: Some(s - 3600),
                ..CertificateFilter::default()
            },
        ),
        (
            "percent window",
            CertificateFilter {
                percent_window: Some(PercentWindow {
                    percent: 50,
                    now: s,
                    after: None,
                }),
                ..CertificateFilter::default()
            },
        ),
        ("everything live", CertificateFilter::default()),
    ];
    for (what, f) in cases {
        let mut want: Vec<(Uuid, i64)> = all
            .iter()
            .filter(|(r, version_at)| {
                let na = r.info.not_after.unix_timestamp();
                let nb = r.info.not_before.unix_timestamp();
                let v = version_at.unix_timestamp();
                r.deleted_at.is_none()
                    && f.scope_group
                        .as_ref()
                        .is_none_or(|g| r.group.as_ref() == Some(g))
                    && f.labels
                        .iter()
                        .all(|l| r.labels.get(&l.key) == l.value.as_ref())
                    && f.not_after_min.is_none_or(|m| na >= m)
                    && f.not_after_max_excl.is_none_or(|m| na < m)
                    && f.version_after.is_none_or(|m| v > m)
                    && f.version_until.is_none_or(|m| v <= m)
                    && f.percent_window.is_none_or(|w| {
                        na >= w.now && (na - w.now) * 100 <= (na - nb) * i64::from(w.percent)
                    })
            })
            .map(|(r, _)| (r.id, r.info.not_after.unix_timestamp()))
            .collect();
        want.sort();
        assert!(want.len() > 20, "{what}: the case selects enough entries");
        for page in [1, 7, 64, 100_000] {
            let got = t
                .app
                .store
                .certificate_due_candidates_paged(&f, page)
                .await
                .unwrap();
            let mut got: Vec<(Uuid, i64)> = got
                .iter()
                .map(|c| {
                    assert_eq!(c.version, 1);
                    (c.id, c.not_after.unix_timestamp())
                })
                .collect();
            got.sort();
            assert_eq!(got, want, "{what}, {page} a page");
        }
    }
}
