//! The web UI in a real browser: headless Chromium driven over WebDriver (chromedriver).
//! Signs in, imports a certificate with its key through the form, finds it by search, opens
//! it, downloads it, sees a Reader denied the key download, signs out; orders a certificate
//! from a local Pebble through the order form (after the form refuses a bad domain beside the
//! field) and follows the order to issued and failed; takes screenshots of the pages at desktop
//! and phone widths into `$CARGO_TARGET_DIR/ui-screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`: with `CI=true` their absence fails the
//! test (scripts/test.sh installs them), otherwise it is skipped loudly.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use certkeep_api::{BatchImportRequest, ImportCertificateRequest, Role};
use certkeep_testkit as tk;
use fantoccini::{Client, ClientBuilder, Locator};
use time::{Duration, OffsetDateTime};

use crate::acme_peers::free_port;
use crate::certificates::fixtures;
use crate::helpers::TestApp;
use crate::ui::{admin_token, test_ca};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

/// `(chromium, chromedriver)`, or `None` (a failure under `CI=true`).
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_tool(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find_tool(&["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "chromium and chromium-driver are missing and CI=true: scripts/test.sh installs them"
                );
            }
            eprintln!(
                "\n*** SKIPPED: chromium/chromedriver missing (apt-get install chromium chromium-driver; CI fails without them) ***\n"
            );
            None
        }
    }
}

async fn start_driver(driver: &Path) -> (Driver, String) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Driver(child);
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    (guard, format!("http://127.0.0.1:{port}"))
}

async fn open_browser(
    webdriver: &str,
    chromium: &Path,
    profile: &Path,
    downloads: &Path,
) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("start a Chromium session")
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join(".."));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A screenshot of the whole page at the window's width: the window grows to the page's
/// height for it (the pages need no script; this one only measures).
async fn screenshot(b: &Client, name: &str) {
    let path = screenshot_dir().join(name);
    let (width, height) = b.get_window_size().await.unwrap();
    let page_height = b
        .execute("return document.documentElement.scrollHeight;", vec![])
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(height)
        .min(8000);
    let grow = page_height + 120 > height;
    if grow {
        b.set_window_size(width as u32, page_height as u32 + 120)
            .await
            .unwrap();
    }
    std::fs::write(&path, b.screenshot().await.unwrap()).unwrap();
    if grow {
        b.set_window_size(width as u32, height as u32)
            .await
            .unwrap();
    }
    println!("screenshot: {}", path.display());
}

async fn wait_for_file(dir: &Path, suffix: &str) -> PathBuf {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        if let Some(p) = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with(suffix))
        {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "no {suffix} file was downloaded into {}",
            dir.display()
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// Wait for the page whose `<h1>` starts with `expected` (form posts navigate asynchronously).
async fn wait_h1(b: &Client, expected: &str) -> String {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        if let Ok(h1) = b.find(Locator::Css("h1")).await
            && let Ok(text) = h1.text().await
            && text.starts_with(expected)
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no page titled {expected:?}: {}",
            b.source().await.unwrap_or_default()
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

async fn wait_path(b: &Client, path: &str) {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    while b.current_url().await.unwrap().path() != path {
        assert!(Instant::now() < deadline, "never reached {path}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

async fn fill(b: &Client, id: &str, text: &str) {
    let field = b.find(Locator::Id(id)).await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(b: &Client, locator: Locator<'_>) {
    let target = b.find(locator).await.unwrap();
    target.click().await.unwrap();
}

async fn sign_in(b: &Client, base: &str, token: &str) {
    b.goto(&format!("{base}/sign-in")).await.unwrap();
    fill(b, "token", token).await;
    click(b, Locator::Css("form button[type=submit]")).await;
    wait_h1(b, "Dashboard").await;
}

async fn sign_out(b: &Client) {
    click(b, Locator::Css("form.who button")).await;
    wait_path(b, "/sign-in").await;
}

/// Wait until the table shows `n` rows for a search of `q`.
async fn wait_rows(b: &Client, q: &str, n: usize) {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        let url = b.current_url().await.unwrap();
        let rows = b
            .find_all(Locator::Css("tbody tr"))
            .await
            .map_or(0, |r| r.len());
        if url.query().is_some_and(|s| s.contains(&format!("q={q}"))) && rows == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the search found {rows} rows at {url}"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// Some certificates around now, so the dashboard has something to show.
async fn seed(app: &TestApp) {
    let now = OffsetDateTime::now_utc();
    let ca = test_ca("Example Issuing CA", now);
    let items = (0..40i64)
        .map(|i| {
            let na = now + Duration::days(i * 3 - 6) + Duration::hours(3);
            let spec =
                tk::LeafSpec::new(&format!("svc{i}.example.com"), na - Duration::days(90), na);
            ImportCertificateRequest {
                name: format!("svc{i}.example.com"),
                certificate: ca.leaf(&spec).unwrap().cert_pem,
                group: Some(if i % 2 == 0 { "web" } else { "api" }.into()),
                ..ImportCertificateRequest::default()
            }
        })
        .collect();
    app.admin
        .certificate_import_batch(&BatchImportRequest { items })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_in_chromium_sign_in_import_search_download_reader_denied_sign_out() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    let app = TestApp::spawn().await;
    seed(&app).await;
    let base = app.base_url.clone();
    let admin = admin_token(&app).await;
    let (_, reader) = app.client_with_role(Role::Reader, None).await;
    let work = tempfile::tempdir().unwrap();
    let downloads = work.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let f = fixtures();
    let cert_file = work.path().join("shop.pem");
    let key_file = work.path().join("shop.key");
    std::fs::write(&cert_file, format!("{}{}", f.leaf_pem, f.intermediate_pem)).unwrap();
    std::fs::write(&key_file, &f.leaf_key_pem).unwrap();

    let (_driver, webdriver) = start_driver(&driver).await;
    let profile = work.path().join("profile");
    let b = open_browser(&webdriver, &chromium, &profile, &downloads).await;
    let result = async {
        sign_in(&b, &base, &admin).await;
        screenshot(&b, "dashboard.png").await;
        assert_keyboard_order(
            &b,
            &[
                "/",
                "/certificates",
                "/import",
                "/orders",
                "/channels",
                "/audit",
                "/tokens",
            ],
        )
        .await;

        // Import with the key through the form (file uploads).
        b.goto(&format!("{base}/import")).await.unwrap();
        fill(&b, "name", "shop-frontend").await;
        fill(&b, "labels", "env=prod").await;
        fill(&b, "certificate_file", &cert_file.to_string_lossy()).await;
        fill(&b, "private_key_file", &key_file.to_string_lossy()).await;
        click(&b, Locator::Css("form.import button[type=submit]")).await;
        wait_h1(&b, "shop-frontend").await;

        // Find it by search and open it.
        b.goto(&format!("{base}/certificates")).await.unwrap();
        fill(&b, "q", "shop-front").await;
        click(&b, Locator::Css("form.filters button")).await;
        wait_rows(&b, "shop-front", 1).await;
        click(&b, Locator::LinkText("shop-frontend")).await;
        wait_h1(&b, "shop-frontend").await;
        let page = b.source().await.unwrap();
        assert!(page.contains("Private key (PEM)") && page.contains("certkeep Test Intermediate"));
        let detail_url = b.current_url().await.unwrap().to_string();
        screenshot(&b, "certificate-detail.png").await;

        // Download the certificate.
        click(&b, Locator::LinkText("Certificate (PEM)")).await;
        let file = wait_for_file(&downloads, ".pem").await;
        let deadline = Instant::now() + StdDuration::from_secs(10);
        let text = loop {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.contains("END CERTIFICATE") || Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(StdDuration::from_millis(100)).await;
        };
        assert!(
            text.contains("BEGIN CERTIFICATE"),
            "downloaded {}: {text}",
            file.display()
        );
        sign_out(&b).await;

        // A Reader: no key download on the page, and the server refuses it anyway.
        sign_in(&b, &base, &reader).await;
        b.goto(&detail_url).await.unwrap();
        let page = b.source().await.unwrap();
        assert!(page.contains("Certificate (PEM)"));
        assert!(!page.contains("Private key (PEM)") && !page.contains("part=private_key"));
        b.goto(&format!("{detail_url}/download?part=private_key"))
            .await
            .unwrap();
        let page = b.source().await.unwrap();
        assert!(
            page.contains("403 Forbidden") && page.contains("needs the writer role"),
            "{page}"
        );
        b.goto(&format!("{base}/")).await.unwrap();
        sign_out(&b).await;
        b.goto(&format!("{base}/certificates")).await.unwrap();
        wait_path(&b, "/sign-in").await;

        // The other pages, for a person to look at.
        sign_in(&b, &base, &admin).await;
        let channel = app
            .admin
            .channel_create(&certkeep_api::CreateChannelRequest {
                name: "team mail".into(),
                kind: Some(certkeep_api::ChannelKind::Email),
                smtp: Some(certkeep_api::SmtpConfig {
                    host: "smtp.example.com".into(),
                    ca_pem: Some(f.root_pem.clone()),
                    ..Default::default()
                }),
                email_from: Some("certkeep@example.com".into()),
                email_to: vec!["team@example.com".into(), "oncall@example.com".into()],
                scope: Some(certkeep_api::ChannelScope {
                    group: Some("web".into()),
                    labels: [("env".to_string(), "prod".to_string())].into(),
                }),
                expired_hour_utc: Some(7),
                ..Default::default()
            })
            .await
            .unwrap()
            .channel
            .id;
        for (path, name) in [
            ("/certificates?sort=name", "certificates.png"),
            ("/import", "import.png"),
            ("/channels", "channels.png"),
            ("/channels/new", "channel-new.png"),
            (&format!("/channels/{channel}"), "channel.png"),
            (&format!("/channels/{channel}/edit"), "channel-edit.png"),
            ("/audit", "audit.png"),
            ("/tokens", "tokens.png"),
        ] {
            b.goto(&format!("{base}{path}")).await.unwrap();
            screenshot(&b, name).await;
        }
        // A bad value comes back beside its field.
        b.goto(&format!("{base}/channels/{channel}/edit"))
            .await
            .unwrap();
        let hour = b.find(Locator::Id("expired_hour")).await.unwrap();
        hour.clear().await.unwrap();
        hour.send_keys("23").await.unwrap();
        let labels = b.find(Locator::Id("labels")).await.unwrap();
        labels.send_keys("\nno-equals-sign").await.unwrap();
        click(&b, Locator::Css("form.channel button[type=submit]")).await;
        wait_h1(&b, "Edit channel").await;
        let message = field_error(&b, "labels").await;
        assert!(message.contains("is not key=value"), "{message}");
        screenshot(&b, "channel-edit-error.png").await;

        // The pages at a phone's width.
        b.set_window_size(390, 1400).await.unwrap();
        screenshot(&b, "dashboard-phone.png").await;
        assert_no_horizontal_overflow(&b, "the dashboard at 390 px").await;
        b.goto(&detail_url).await.unwrap();
        screenshot(&b, "certificate-detail-phone.png").await;
        assert_no_horizontal_overflow(&b, "a certificate at 390 px").await;
        let detail_path = detail_url.strip_prefix(base.as_str()).unwrap().to_string();
        for (path, name) in [
            ("/certificates?sort=name", "certificates-phone.png"),
            (&format!("{detail_path}/edit"), "certificate-edit-phone.png"),
            ("/import", "import-phone.png"),
            ("/channels", "channels-phone.png"),
            (&format!("/channels/{channel}"), "channel-phone.png"),
            ("/channels/new", "channel-new-phone.png"),
            ("/orders", "orders-list-phone.png"),
            ("/orders/new", "order-new-phone.png"),
            ("/audit", "audit-phone.png"),
            ("/tokens", "tokens-phone.png"),
        ] {
            b.goto(&format!("{base}{path}")).await.unwrap();
            screenshot(&b, name).await;
            assert_no_horizontal_overflow(&b, &format!("{path} at 390 px")).await;
        }
        // The keyboard order holds at a phone's width too (the navigation wraps).
        b.goto(&format!("{base}/certificates")).await.unwrap();
        assert_keyboard_order(&b, &["/", "/certificates", "/import"]).await;
        sign_out(&b).await;
        b.goto(&format!("{base}/sign-in")).await.unwrap();
        assert_no_horizontal_overflow(&b, "the sign-in page at 390 px").await;
    }
    .await;
    let _ = b.close().await;
    result
}

/// Press Tab once (as the keyboard does, through WebDriver actions) and describe what has the
/// focus then: its tag, `href` and text.
async fn tab(b: &Client) -> String {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    let tab = char::from(Key::Tab);
    b.perform_actions(
        KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab }),
    )
    .await
    .unwrap();
    b.execute(
        "const e = document.activeElement; \
         return e.tagName + ' ' + (e.getAttribute('href') || '') + ' ' + e.textContent.trim();",
        vec![],
    )
    .await
    .unwrap()
    .as_str()
    .unwrap()
    .to_string()
}

/// From the start of a freshly loaded page, Tab reaches the skip link first, then the brand
/// and the navigation links in order; the skip link's target exists.
async fn assert_keyboard_order(b: &Client, nav: &[&str]) {
    b.refresh().await.unwrap();
    assert_eq!(tab(b).await, "A #main Skip to content");
    let target = b
        .execute("return document.getElementById('main').tagName;", vec![])
        .await
        .unwrap();
    assert_eq!(target.as_str(), Some("MAIN"));
    assert_eq!(tab(b).await, "A / certkeep");
    for link in nav {
        let focused = tab(b).await;
        assert!(
            focused.starts_with(&format!("A {link} ")),
            "expected the {link} link to have the focus, not {focused}"
        );
    }
}

/// At the window's width the page does not scroll sideways: wide tables scroll inside their
/// own container instead.
async fn assert_no_horizontal_overflow(b: &Client, what: &str) {
    let widths = b
        .execute(
            "const d = document.documentElement; return [d.scrollWidth, d.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, client) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(
        scroll <= client,
        "{what}: the page is {scroll} px wide in a {client} px window"
    );
}

/// The text shown beside form field `id`, once the page showing it has loaded (a form posted
/// back to a page of the same title: the old page may still be there for a moment).
async fn field_error(b: &Client, id: &str) -> String {
    let deadline = Instant::now() + StdDuration::from_secs(20);
    loop {
        if let Ok(e) = b.find(Locator::Id(&format!("{id}-error"))).await
            && let Ok(text) = e.text().await
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no error beside {id}: {}",
            b.source().await.unwrap_or_default()
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_in_chromium_orders_list_form_errors_and_order_states() {
    let Some((chromium, driver)) = browser_tools() else {
        return;
    };
    if !crate::acme_peers::tools_available() {
        return;
    }
    let env = crate::acme::env(false).await.expect("peers are available");
    let t = &env.t;
    let account = t
        .admin
        .acme_account_create(&crate::acme::account_request(&env.pebble))
        .await
        .unwrap();
    let base = t.base_url.clone();
    let admin = admin_token(t).await;
    let work = tempfile::tempdir().unwrap();
    let (_driver, webdriver) = start_driver(&driver).await;
    let b = open_browser(
        &webdriver,
        &chromium,
        &work.path().join("profile"),
        work.path(),
    )
    .await;
    let result = async {
        sign_in(&b, &base, &admin).await;
        b.goto(&format!("{base}/orders")).await.unwrap();
        wait_h1(&b, "Orders").await;
        assert!(
            b.source()
                .await
                .unwrap()
                .contains("No certificate has been ordered")
        );
        screenshot(&b, "orders-empty.png").await;

        // The form: a wildcard cannot be validated over HTTP-01; the CA is not asked.
        click(&b, Locator::LinkText("New order")).await;
        wait_h1(&b, "New order").await;
        screenshot(&b, "order-form.png").await;
        fill(&b, "name", "shop").await;
        fill(
            &b,
            "domains",
            &format!("*.shop.{}", crate::acme_peers::ZONE),
        )
        .await;
        click(&b, Locator::Css("form.order button[type=submit]")).await;
        wait_h1(&b, "New order").await;
        let message = field_error(&b, "domains").await;
        assert!(
            message.contains("wildcards need `challenge` dns-01"),
            "{message}"
        );
        let domains = b.find(Locator::Id("domains")).await.unwrap();
        assert_eq!(
            domains.attr("aria-invalid").await.unwrap().as_deref(),
            Some("true")
        );
        assert!(
            b.find(Locator::Id("name-error")).await.is_err(),
            "only the domains field is marked"
        );
        screenshot(&b, "order-form-error.png").await;
        assert!(t.admin.order_list().await.unwrap().items.is_empty());

        // Corrected, it is ordered: the order's page, then issued by the order job.
        domains.clear().await.unwrap();
        fill(&b, "domains", &format!("shop.{}", crate::acme_peers::ZONE)).await;
        click(&b, Locator::Css("form.order button[type=submit]")).await;
        wait_h1(&b, "shop").await;
        let order_url = b.current_url().await.unwrap().to_string();
        let page = b.source().await.unwrap();
        assert!(
            page.contains("pending") && page.contains("http-01"),
            "{page}"
        );
        screenshot(&b, "order-pending.png").await;
        let id: uuid::Uuid = order_url.rsplit('/').next().unwrap().parse().unwrap();
        let done = crate::acme::run_order(t, id).await;
        assert_eq!(done.status, certkeep_api::OrderStatus::Issued, "{done:?}");
        b.goto(&order_url).await.unwrap();
        wait_h1(&b, "shop").await;
        assert!(b.source().await.unwrap().contains("issued"));
        screenshot(&b, "order-issued.png").await;

        // A name the CA refuses: the page says which domain and what the CA said.
        let refused = t
            .admin
            .order_create(&crate::acme::order(
                "blocked",
                &[crate::acme_peers::BLOCKED_DOMAIN],
                account.id,
                certkeep_api::ChallengeType::Http01,
            ))
            .await
            .unwrap();
        let failed = crate::acme::run_order(t, refused.id).await;
        assert_eq!(failed.status, certkeep_api::OrderStatus::Failed);
        b.goto(&format!("{base}/orders/{}", refused.id))
            .await
            .unwrap();
        wait_h1(&b, "blocked").await;
        let page = b.source().await.unwrap();
        assert!(
            page.contains("Why it failed") && page.contains("The CA said"),
            "{page}"
        );
        screenshot(&b, "order-failed.png").await;

        b.goto(&format!("{base}/orders")).await.unwrap();
        wait_h1(&b, "Orders").await;
        let rows = b.find_all(Locator::Css("tbody tr")).await.unwrap();
        assert_eq!(rows.len(), 2);
        screenshot(&b, "orders.png").await;

        b.set_window_size(390, 1400).await.unwrap();
        screenshot(&b, "orders-phone.png").await;
        assert_no_horizontal_overflow(&b, "the orders at 390 px").await;
        b.goto(&format!("{base}/orders/new")).await.unwrap();
        screenshot(&b, "order-form-phone.png").await;
        assert_no_horizontal_overflow(&b, "the order form at 390 px").await;
        b.goto(&format!("{base}/orders/{}", refused.id))
            .await
            .unwrap();
        screenshot(&b, "order-failed-phone.png").await;
        assert_no_horizontal_overflow(&b, "a failed order at 390 px").await;
    }
    .await;
    let _ = b.close().await;
    result
}
