//! The web UI over real HTTP: sessions and their cookie, CSRF, roles enforced by the server,
//! the import form, the table's filters, dashboard counts, admin pages and channels.

use certkeep_api::{ImportCertificateRequest, Role};
use certkeep_testkit as tk;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use time::{Duration, OffsetDateTime};

use crate::certificates::fixtures;
use crate::helpers::{TestApp, ctx};

/// A browser without JavaScript: follows no redirects, keeps the session cookie.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookie: Option<String>,
    /// The `Set-Cookie` header of the sign-in.
    pub set_cookie: String,
}

/// An `application/x-www-form-urlencoded` body.
pub fn form_body(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_string(),
            cookie: None,
            set_cookie: String::new(),
        }
    }

    pub async fn signed_in(base: &str, token: &str) -> Browser {
        let mut b = Browser::new(base);
        let r = b.post("/sign-in", &[("token", token)]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        b.set_cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
        b.cookie = Some(b.set_cookie.split(';').next().unwrap().to_string());
        b
    }

    fn with_cookie(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.cookie {
            Some(c) => r.header(COOKIE, c),
            None => r,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.with_cookie(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let r = self.get(path).await;
        (r.status(), r.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.with_cookie(self.http.post(format!("{}{path}", self.base)))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_multipart(
        &self,
        path: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> reqwest::Response {
        let boundary = "certkeepboundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, file, data) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.with_cookie(self.http.post(format!("{}{path}", self.base)))
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the page at `path`.
    pub async fn csrf(&self, path: &str) -> String {
        csrf_of(&self.page(path).await.1)
    }
}

/// A new admin token (the bootstrap one stays with the typed client).
pub async fn admin_token(app: &TestApp) -> String {
    app.client_with_role(Role::Admin, None).await.1
}

/// A P-256 root valid from well before `now` for ten years.
pub fn test_ca(name: &str, now: OffsetDateTime) -> tk::Ca {
    tk::Ca::new_root(
        tk::KeyKind::EcP256,
        name,
        now - Duration::days(800),
        now + Duration::days(3650),
    )
    .unwrap()
}

/// An import request for a leaf of `ca` valid from `nb` to `na`, in `group`.
pub fn entry(
    ca: &tk::Ca,
    name: &str,
    nb: OffsetDateTime,
    na: OffsetDateTime,
    group: &str,
) -> ImportCertificateRequest {
    let leaf = ca
        .leaf(&tk::LeafSpec::new(&format!("{name}.example.test"), nb, na))
        .unwrap();
    ImportCertificateRequest {
        name: name.into(),
        certificate: leaf.cert_pem,
        group: Some(group.into()).filter(|g: &String| !g.is_empty()),
        ..ImportCertificateRequest::default()
    }
}

async fn is_deleted(app: &TestApp, id: uuid::Uuid) -> bool {
    app.admin
        .certificate_get(id)
        .await
        .unwrap()
        .deleted_at
        .is_some()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()[LOCATION].to_str().unwrap().to_string()
}

async fn import_with_key(app: &TestApp, name: &str) -> uuid::Uuid {
    let f = fixtures();
    app.admin
        .certificate_import(&ImportCertificateRequest {
            name: name.into(),
            certificate: f.leaf_pem.clone(),
            private_key: Some(f.leaf_key_pem.clone()),
            chain: vec![f.intermediate_pem.clone()],
            ..ImportCertificateRequest::default()
        })
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn ui_sign_in_sets_a_strict_http_only_session_cookie_and_sign_out_ends_it() {
    let app = TestApp::spawn().await;
    let anon = Browser::new(&app.base_url);
    let r = anon.get("/").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/sign-in");
    let (status, html) = anon.page("/sign-in").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<label for=\"token\">API token</label>"));

    let r = anon.post("/sign-in", &[("token", "ck_not-a-token")]).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("unknown or malformed bearer token")
    );

    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let c = &b.set_cookie;
    assert!(c.starts_with("certkeep_session="), "{c}");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
        "Expires=",
    ] {
        assert!(c.contains(flag), "cookie {c} lacks {flag}");
    }
    assert!(!c.contains("Secure"), "plain-http public URL: {c}");
    let (status, html) = b.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Dashboard</h1>") && html.contains("<svg"));

    // Sign-out needs the form's CSRF token.
    let r = b.post("/sign-out", &[("csrf", "wrong")]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.page("/").await.0, StatusCode::OK);
    let csrf = b.csrf("/").await;
    let r = b.post("/sign-out", &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        r.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(location(&b.get("/").await), "/sign-in");

    let audit = app
        .admin
        .audit_list(&certkeep_api::AuditQuery::default())
        .await
        .unwrap();
    let actions: Vec<&str> = audit.items.iter().map(|e| e.action.as_str()).collect();
    for a in ["session.create", "certificate.dashboard", "session.delete"] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
}

#[tokio::test]
async fn ui_cookie_is_secure_when_the_public_url_is_https() {
    let app = TestApp::spawn_manual().await;
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    assert!(b.set_cookie.contains("; Secure"), "{}", b.set_cookie);
    // Behind a proxy the browser's origin is the public URL, not the host the server sees.
    let post = |origin: &'static str| {
        b.http
            .post(format!("{}/sign-in", app.base_url))
            .header("origin", origin)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form_body(&[("token", token.as_str())]))
            .send()
    };
    assert_eq!(
        post("https://certkeep.example.test")
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        post("https://elsewhere.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn ui_forms_refuse_a_missing_or_wrong_csrf_token_and_cross_origin_posts() {
    let app = TestApp::spawn().await;
    let id = import_with_key(&app, "csrf").await;
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let r = b
        .post(&format!("/certificates/{id}/delete"), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("security token"));
    let r = b.post(&format!("/certificates/{id}/delete"), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!is_deleted(&app, id).await);

    let csrf = b.csrf(&format!("/certificates/{id}")).await;
    let r = b
        .with_cookie(
            b.http
                .post(format!("{}/certificates/{id}/delete", app.base_url)),
        )
        .header("origin", "https://evil.example")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!is_deleted(&app, id).await);

    // With the right token, from the same origin: deleted, then restored.
    let r = b
        .post(
            &format!("/certificates/{id}/delete"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(is_deleted(&app, id).await);
    let html = b.page(&format!("/certificates/{id}")).await.1;
    assert!(html.contains("Restore"));
    let r = b
        .post(
            &format!("/certificates/{id}/restore"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(!is_deleted(&app, id).await);
}

#[tokio::test]
async fn ui_reader_sees_no_key_download_or_delete_and_the_server_refuses_them() {
    let app = TestApp::spawn().await;
    let id = import_with_key(&app, "roles").await;
    let (_, reader) = app.client_with_role(Role::Reader, None).await;
    let b = Browser::signed_in(&app.base_url, &reader).await;
    let (status, html) = b.page(&format!("/certificates/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Certificate (PEM)"));
    assert!(!html.contains("part=private_key"), "reader sees a key link");
    assert!(!html.contains("/delete"), "reader sees delete");
    assert!(
        !html.contains("href=\"/tokens\""),
        "reader sees the tokens page"
    );

    let r = b
        .get(&format!("/certificates/{id}/download?part=private_key"))
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("needs the writer role"));
    let r = b
        .get(&format!(
            "/certificates/{id}/download?part=certificate&format=pem"
        ))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"roles.pem\""
    );
    assert!(r.text().await.unwrap().contains("BEGIN CERTIFICATE"));
    // A version picked from the versions table is in the saved file's name.
    let r = b
        .get(&format!(
            "/certificates/{id}/download?part=fullchain&format=pem&version=1"
        ))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"roles-fullchain-v1.pem\""
    );
    let csrf = b.csrf(&format!("/certificates/{id}")).await;
    let r = b
        .post(
            &format!("/certificates/{id}/delete"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(b.page("/tokens").await.0, StatusCode::FORBIDDEN);
    assert_eq!(b.page("/audit").await.0, StatusCode::FORBIDDEN);

    let (_, writer) = app.client_with_role(Role::Writer, None).await;
    let w = Browser::signed_in(&app.base_url, &writer).await;
    let html = w.page(&format!("/certificates/{id}")).await.1;
    assert!(html.contains("part=private_key"));
    let r = w
        .get(&format!("/certificates/{id}/download?part=private_key"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("PRIVATE KEY"));
    let csrf = w.csrf(&format!("/certificates/{id}")).await;
    let r = w
        .post(
            &format!("/certificates/{id}/pkcs12"),
            &[
                ("csrf", csrf.as_str()),
                ("password", "pw"),
                ("include_key", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/x-pkcs12");
}

/// The first base64 line of a PEM certificate: enough to recognise it in OpenSSL's output.
fn pem_line(pem: &str) -> &str {
    pem.lines().nth(1).unwrap()
}

#[tokio::test]
async fn ui_versions_table_downloads_every_version_as_pem_der_and_pkcs12() {
    let app = TestApp::spawn().await;
    let v1 = fixtures();
    let id = app
        .admin
        .certificate_import(&ImportCertificateRequest {
            name: "versions".into(),
            certificate: v1.leaf_pem.clone(),
            private_key: Some(v1.leaf_key_pem.clone()),
            chain: vec![v1.intermediate_pem.clone()],
            ..ImportCertificateRequest::default()
        })
        .await
        .unwrap()
        .id;
    let v2 = crate::certificates::fixtures_for(
        certkeep_testkit::KeyKind::EcP256,
        "www.example.test",
        OffsetDateTime::now_utc(),
    );
    app.admin
        .certificate_reimport(
            id,
            &certkeep_api::ReimportCertificateRequest {
                certificate: v2.leaf_pem.clone(),
                private_key: Some(v2.leaf_key_pem.clone()),
                chain: vec![v2.intermediate_pem.clone()],
                password: None,
            },
        )
        .await
        .unwrap();

    let (_, writer) = app.client_with_role(Role::Writer, None).await;
    let w = Browser::signed_in(&app.base_url, &writer).await;
    let html = w.page(&format!("/certificates/{id}")).await.1;
    for v in ["1", "2"] {
        for link in [
            format!("part=certificate&amp;format=pem&amp;version={v}"),
            format!("part=certificate&amp;format=der&amp;version={v}"),
            format!("part=fullchain&amp;format=pem&amp;version={v}"),
            format!("part=private_key&amp;format=pem&amp;version={v}"),
        ] {
            assert!(html.contains(&link), "no {link}");
        }
        assert!(html.contains(&format!("name=\"version\" value=\"{v}\"")));
        assert!(html.contains(&format!("id=\"p12key-{v}\"")));
    }
    // The older version's files are the older version's.
    let der = w
        .get(&format!(
            "/certificates/{id}/download?part=certificate&format=der&version=1"
        ))
        .await;
    assert_eq!(der.status(), StatusCode::OK);
    assert_eq!(der.bytes().await.unwrap().to_vec(), v1.leaf_der);
    let key = w
        .get(&format!(
            "/certificates/{id}/download?part=private_key&format=pem&version=1"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(key.trim(), v1.leaf_key_pem.trim());
    let csrf = w.csrf(&format!("/certificates/{id}")).await;
    let r = w
        .post(
            &format!("/certificates/{id}/pkcs12"),
            &[
                ("csrf", csrf.as_str()),
                ("version", "1"),
                ("password", "old-version-pw"),
                ("include_key", "1"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/x-pkcs12");
    let dir = tempfile::tempdir().unwrap();
    let p12 = dir.path().join("v1.p12");
    std::fs::write(&p12, r.bytes().await.unwrap()).unwrap();
    let dump = String::from_utf8(crate::certificates::openssl(
        &[
            "pkcs12",
            "-in",
            p12.to_str().unwrap(),
            "-passin",
            "pass:old-version-pw",
            "-nodes",
        ],
        None,
    ))
    .unwrap();
    assert!(dump.contains(pem_line(&v1.leaf_pem)), "{dump}");
    assert!(!dump.contains(pem_line(&v2.leaf_pem)));
    assert!(dump.contains("PRIVATE KEY"));
    // Audited like any key download, with the version.
    let events = app
        .admin
        .audit_list(&certkeep_api::AuditQuery {
            action: Some("certificate.download_key".into()),
            target: Some(id.to_string()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert!(
        events
            .iter()
            .any(|e| e.detail["format"] == "pkcs12" && e.detail["version"] == 1),
        "{events:?}"
    );
    let r = w
        .post(
            &format!("/certificates/{id}/pkcs12"),
            &[
                ("csrf", csrf.as_str()),
                ("version", "one"),
                ("password", "pw"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("version &#34;one&#34; is not a version number")
    );
    let r = w
        .post(
            &format!("/certificates/{id}/pkcs12"),
            &[
                ("csrf", csrf.as_str()),
                ("version", "7"),
                ("password", "pw"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A Reader: certificates of every version and PKCS#12 without keys; no key anywhere.
    let (_, reader) = app.client_with_role(Role::Reader, None).await;
    let b = Browser::signed_in(&app.base_url, &reader).await;
    let html = b.page(&format!("/certificates/{id}")).await.1;
    assert!(html.contains("part=certificate&amp;format=der&amp;version=1"));
    assert!(html.contains("name=\"version\" value=\"1\""));
    assert!(!html.contains("part=private_key") && !html.contains("include_key"));
    let csrf = b.csrf(&format!("/certificates/{id}")).await;
    let r = b
        .post(
            &format!("/certificates/{id}/pkcs12"),
            &[
                ("csrf", csrf.as_str()),
                ("version", "1"),
                ("password", "pw"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "certificates only");
    let r = b
        .post(
            &format!("/certificates/{id}/pkcs12"),
            &[
                ("csrf", csrf.as_str()),
                ("version", "1"),
                ("password", "pw"),
                ("include_key", "1"),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "the server refuses the key anyway"
    );
}

#[tokio::test]
async fn ui_revoking_the_token_ends_its_sessions() {
    let app = TestApp::spawn().await;
    let (_, reader) = app.client_with_role(Role::Reader, None).await;
    let b = Browser::signed_in(&app.base_url, &reader).await;
    assert_eq!(b.page("/certificates").await.0, StatusCode::OK);
    let list = app.admin.token_list().await.unwrap();
    let t = list.items.iter().find(|t| t.role == Role::Reader).unwrap();
    app.admin.token_revoke(t.id).await.unwrap();
    let r = b.get("/certificates").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/sign-in");
}

#[tokio::test]
async fn ui_import_form_imports_files_and_shows_errors_next_to_the_field() {
    let app = TestApp::spawn().await;
    let f = fixtures();
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let csrf = b.csrf("/import").await;
    let r = b
        .post_multipart(
            "/import",
            &[
                ("csrf", None, csrf.as_bytes()),
                ("name", None, b"from the form"),
                ("labels", None, b"env=prod\nteam=web"),
                ("certificate_file", Some("leaf.der"), &f.leaf_der),
                (
                    "private_key_file",
                    Some("leaf.key"),
                    f.leaf_key_pem.as_bytes(),
                ),
                ("chain", None, f.intermediate_pem.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    let id: uuid::Uuid = to.strip_prefix("/certificates/").unwrap().parse().unwrap();
    let c = app.admin.certificate_get(id).await.unwrap();
    assert!(c.has_private_key);
    assert_eq!(c.labels["env"], "prod");
    let (status, html) = b.page(&to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("from the form") && html.contains("certkeep Test Intermediate"));

    // A broken certificate: 400, the server's message beside the certificate field.
    let r = b
        .post_multipart(
            "/import",
            &[
                ("csrf", None, csrf.as_bytes()),
                ("name", None, b"broken"),
                (
                    "certificate",
                    None,
                    b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                ),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"certificate-error\""), "{html}");
    assert!(html.contains("value=\"broken\""), "the name is kept");
    // A key that does not match: the message sits beside the key field.
    let r = b
        .post_multipart(
            "/import",
            &[
                ("csrf", None, csrf.as_bytes()),
                ("name", None, b"mismatch"),
                ("certificate", None, f.leaf_pem.as_bytes()),
                ("private_key", None, f.other_key_pem.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"private_key-error\""), "{html}");
    assert!(
        !html.contains("PRIVATE KEY-----"),
        "a key is never echoed back"
    );
    // Without a CSRF token nothing is imported.
    let r = b
        .post_multipart(
            "/import",
            &[
                ("name", None, b"x"),
                ("certificate", None, f.leaf_pem.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ui_table_searches_filters_sorts_and_pages() {
    let app = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let ca = test_ca("UI Table CA", now);
    let specs = [
        ("alpha", now - Duration::days(100), now - Duration::days(2)),
        ("bravo", now - Duration::days(10), now + Duration::days(12)),
        (
            "charlie",
            now - Duration::days(10),
            now + Duration::days(200),
        ),
    ];
    for (name, nb, na) in specs {
        let req = entry(&ca, name, nb, na, "web");
        app.admin.certificate_import(&req).await.unwrap();
    }
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let (_, html) = b.page("/certificates?q=bravo").await;
    assert!(html.contains(">bravo</a>") && !html.contains(">charlie</a>"));
    let (_, html) = b.page("/certificates?status=expired").await;
    assert!(html.contains(">alpha</a>") && !html.contains(">bravo</a>"));
    let (_, html) = b.page("/certificates?within=30").await;
    assert!(
        html.contains(">bravo</a>")
            && !html.contains(">charlie</a>")
            && !html.contains(">alpha</a>")
    );
    assert!(
        html.contains("12 days left") || html.contains("11 days left"),
        "{html}"
    );
    let (_, html) = b
        .page("/certificates?sort=-name&group=web&issuer=ui+table")
        .await;
    let (c, a) = (
        html.find(">charlie</a>").unwrap(),
        html.find(">alpha</a>").unwrap(),
    );
    assert!(c < a, "sorted by name descending");
    assert!(!html.contains("Next page"));
    assert!(
        b.page("/certificates?key=EC")
            .await
            .1
            .contains(">alpha</a>")
    );
    // The dashboard counts them by status and lists the unexpired soonest first.
    let html = b.page("/").await.1;
    assert!(
        html.contains("<span class=\"n\">1</span><span>expired</span>"),
        "{html}"
    );
    assert!(html.contains("<span class=\"n\">1</span><span>expiring ≤ 30 days</span>"));
    assert!(html.contains("<span class=\"n\">1</span><span>valid</span>"));
    assert!(html.find(">bravo</a>").unwrap() < html.find(">charlie</a>").unwrap());

    // Bad input: a 400 page that says what is wrong, never a 500.
    for (path, says) in [
        ("/certificates?status=bogus", "unknown status"),
        ("/certificates?within=soon", "expiring within"),
        ("/certificates?cursor=garbage", "cursor"),
        ("/certificates?sort=size", "unknown sort order"),
        ("/certificates/not-an-id", "valid id"),
    ] {
        let (status, html) = b.page(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        assert!(html.contains(says), "{path}: {html}");
    }
    assert_eq!(
        b.page(&format!("/certificates/{}", uuid::Uuid::now_v7()))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn ui_table_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let ca = test_ca("UI Paging CA", now);
    let items = (0..55)
        .map(|i| {
            let na = now + Duration::days(30 + i);
            entry(
                &ca,
                &format!("page-{i:02}"),
                now - Duration::days(1),
                na,
                "",
            )
        })
        .collect();
    app.admin
        .certificate_import_batch(&certkeep_api::BatchImportRequest { items })
        .await
        .unwrap();
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let html = b.page("/certificates?sort=name").await.1;
    assert!(html.contains(">page-49</a>") && !html.contains(">page-50</a>"));
    let at = html.find("rel=\"next\"").unwrap();
    let href = html[..at]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    let html = b.page(&href).await.1;
    assert!(
        html.contains(">page-50</a>")
            && html.contains(">page-54</a>")
            && !html.contains(">page-49</a>"),
        "{href}: {html}"
    );
    assert!(html.contains("First page"));
}

#[tokio::test]
async fn ui_admin_creates_and_revokes_tokens_and_reads_the_audit_log() {
    let app = TestApp::spawn().await;
    let id = import_with_key(&app, "audited").await;
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let csrf = b.csrf("/tokens").await;
    let r = b
        .post(
            "/tokens",
            &[
                ("csrf", csrf.as_str()),
                ("name", "ci robot"),
                ("role", "reader"),
                ("expires_days", "30"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    let at = html.find("id=\"new-token\">").unwrap() + 15;
    let secret = html[at..].split('<').next().unwrap().to_string();
    assert!(secret.starts_with("ck_"));
    // Shown once: the list shows only the prefix.
    assert!(!b.page("/tokens").await.1.contains(&secret));
    let r = b
        .post(
            "/tokens",
            &[("csrf", csrf.as_str()), ("name", "x"), ("role", "emperor")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("unknown role"));
    let robot = Browser::signed_in(&app.base_url, &secret).await;
    assert_eq!(robot.page("/").await.0, StatusCode::OK);
    let t = app
        .admin
        .token_list()
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|t| t.name == "ci robot")
        .unwrap();
    let r = b
        .post(
            &format!("/tokens/{}/revoke", t.id),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(robot.get("/").await.status(), StatusCode::SEE_OTHER);

    let (status, html) = b.page(&format!("/audit?target={id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("certificate.import") && !html.contains("token.create"));
    let html = b.page("/audit?action=token.revoke").await.1;
    assert!(html.contains("token.revoke") && !html.contains("certificate.import"));
    // By token and by time.
    let me = app
        .admin
        .token_list()
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|t| t.name == "admin-all")
        .unwrap();
    let html = b.page(&format!("/audit?token={}", me.id)).await.1;
    assert!(html.contains("token.create") && !html.contains("certificate.import"));
    let html = b
        .page("/audit?since=2000-01-01&until=2000-01-02T00:00")
        .await
        .1;
    assert!(html.contains("No event matches."));
    let (status, html) = b.page("/audit?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("is not a date"));
    assert_eq!(b.page("/audit?token=nope").await.0, StatusCode::BAD_REQUEST);

    // The detail page shows an admin the certificate's audit events.
    let html = b.page(&format!("/certificates/{id}")).await.1;
    assert!(html.contains("Audit events") && html.contains("certificate.import"));
}

/// The `#` column of the audit page's rows, top to bottom.
fn audit_seqs(html: &str) -> Vec<i64> {
    html.split("<tr>\n        <td>")
        .skip(1)
        .map(|row| row.split('<').next().unwrap().parse().unwrap())
        .collect()
}

fn older_link(html: &str) -> Option<String> {
    let at = html.find("rel=\"next\"")?;
    let start = html[..at].rfind("href=\"")? + 6;
    Some(
        html[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&"),
    )
}

#[tokio::test]
async fn ui_audit_log_lists_newest_first_and_pages_to_older_events() {
    let app = TestApp::spawn().await;
    for _ in 0..120 {
        app.admin
            .certificate_list(&Default::default())
            .await
            .unwrap();
    }
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let (status, html) = b.page("/audit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Newest first."));
    let first = audit_seqs(&html);
    assert_eq!(first.len(), 100);
    assert!(first.windows(2).all(|w| w[0] == w[1] + 1), "{first:?}");
    // The newest event listed is the sign-in's token creation or later.
    let head = app
        .admin
        .audit_list(&certkeep_api::AuditQuery {
            order: Some(certkeep_api::AuditOrder::Desc),
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .items[0]
        .seq;
    assert!(
        first[0] < head && first[0] > head - 5,
        "{} vs {head}",
        first[0]
    );
    let next = older_link(&html).expect("a link to older events");
    assert!(next.contains(&format!("before={}", first[99])), "{next}");
    assert!(html.contains("Older events"));
    let (status, older) = b.page(&next).await;
    assert_eq!(status, StatusCode::OK);
    let second = audit_seqs(&older);
    assert_eq!(
        second[0],
        first[99] - 1,
        "the next page starts below the first"
    );
    assert_eq!(
        *second.last().unwrap(),
        1,
        "the last page ends at the oldest"
    );
    assert!(
        older_link(&older).is_none(),
        "the oldest page has no older link"
    );
    // Filters survive paging.
    let html = b.page("/audit?action=certificate.list").await.1;
    let next = older_link(&html).unwrap();
    assert!(next.contains("action=certificate.list"), "{next}");
    let older = b.page(&next).await.1;
    assert!(!older.contains("token.create") && older.contains("certificate.list"));
}

#[tokio::test]
async fn ui_channels_are_created_tested_and_show_their_deliveries() {
    let app = TestApp::spawn_manual().await;
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = receiver.local_addr().unwrap();
    tokio::spawn(async move {
        let svc =
            axum::Router::new().route("/hook", axum::routing::post(|| async { "thanks, got it" }));
        axum::serve(receiver, svc).await.unwrap();
    });
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let csrf = b.csrf("/channels/new").await;
    let url = format!("http://{addr}/hook");
    let r = b
        .post(
            "/channels/new",
            &[
                ("csrf", csrf.as_str()),
                ("name", "ops hook"),
                ("kind", "webhook"),
                ("enabled", "1"),
                ("url", url.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("whsec_"),
        "the generated secret is shown once"
    );
    let list = b.page("/channels").await.1;
    assert!(list.contains("ops hook") && list.contains(&url));
    let id = app.admin.channel_list().await.unwrap().items[0].id;
    let r = b
        .post(&format!("/channels/{id}/test"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    // The receiver's status and answer body, as the receiver sent them.
    assert!(
        html.contains("<h2>Test delivered</h2>")
            && html.contains(
                "The receiver answered HTTP 200: <code class=\"wrap\">thanks, got it</code>"
            ),
        "{html}"
    );
    assert!(
        html.contains("channel.test"),
        "the delivery history lists the test"
    );
    let history = b.page(&format!("/channels/{id}")).await.1;
    let row = history
        .split("<tr>")
        .find(|r| r.contains("channel.test"))
        .expect("the test in the delivery history");
    assert!(
        row.contains(">delivered<") && row.contains("HTTP 200"),
        "{row}"
    );
    // Edit, with a bad URL first: the form comes back with the message.
    let r = b
        .post(
            &format!("/channels/{id}/edit"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "ops hook"),
                ("kind", "webhook"),
                ("url", "ftp://nope"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = b
        .post(
            &format!("/channels/{id}/edit"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "renamed hook"),
                ("kind", "webhook"),
                ("url", url.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        b.page(&format!("/channels/{id}"))
            .await
            .1
            .contains("renamed hook")
    );
    assert!(
        b.page(&format!("/channels/{id}"))
            .await
            .1
            .contains("disabled")
    );
}

/// The message shown beside field `id`, if any.
fn field_error(html: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}-error\">");
    let at = html.find(&marker)? + marker.len();
    Some(html[at..].split("</p>").next().unwrap().to_string())
}

const ROUTING_KEY: &str = "R0UT1NGK3Y0123456789abcdefABCDEF";

#[tokio::test]
async fn ui_channel_form_sets_label_scope_events_url_and_reminder_hour() {
    let app = TestApp::spawn_manual().await;
    // A PagerDuty stand-in that keeps what it was sent.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_url = format!("http://{}/v2/other", receiver.local_addr().unwrap());
    let keep = seen.clone();
    tokio::spawn(async move {
        let svc = axum::Router::new().route(
            "/v2/other",
            axum::routing::post(move |body: String| async move {
                keep.lock().unwrap().push(body);
                (axum::http::StatusCode::ACCEPTED, "{\"status\":\"success\"}")
            }),
        );
        axum::serve(receiver, svc).await.unwrap();
    });
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let (status, html) = b.page("/channels/new").await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "id=\"labels\"",
        "id=\"events_url\"",
        "id=\"smtp_ca_pem\"",
        "id=\"expired_hour\"",
    ] {
        assert!(html.contains(field), "the form has {field}");
    }
    assert!(
        html.contains("value=\"9\""),
        "the reminder hour starts at the default"
    );
    let csrf = csrf_of(&html);
    let base = [
        ("csrf", csrf.as_str()),
        ("name", "oncall"),
        ("kind", "pagerduty"),
        ("enabled", "1"),
        ("routing_key", ROUTING_KEY),
        ("events_url", "http://127.0.0.1:9/v2/enqueue"),
        ("group", "web"),
        ("labels", "env=prod\nteam = ops"),
        ("expired_hour", "17"),
    ];
    let with = |field: &'static str, value: &'static str| {
        let mut form = base.to_vec();
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        form
    };
    // Each bad value comes back beside its own field, with the server's words, and the
    // routing key typed is not sent back.
    for (field, value, id, words) in [
        ("expired_hour", "24", "expired_hour", "it must be 0 to 23"),
        ("expired_hour", "noon", "expired_hour", "is not an hour"),
        (
            "events_url",
            "ftp://pd.example.test/enqueue",
            "events_url",
            "`events_url` has scheme &#34;ftp&#34;",
        ),
        (
            "labels",
            "env=prod\nbroken",
            "labels",
            "label 2 (&#34;broken&#34;) is not key=value",
        ),
        ("labels", "bad key=1", "labels", "label key"),
    ] {
        let r = b.post("/channels/new", &with(field, value)).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}={value}");
        let html = r.text().await.unwrap();
        let message =
            field_error(&html, id).unwrap_or_else(|| panic!("no message beside {id}: {html}"));
        assert!(message.contains(words), "{id}: {message}");
        assert!(html.contains(&format!("aria-describedby=\"{id}-error\"")));
        assert!(!html.contains(ROUTING_KEY), "the routing key is sent back");
    }
    assert!(app.admin.channel_list().await.unwrap().items.is_empty());

    let r = b.post("/channels/new", &base).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let c = app.admin.channel_list().await.unwrap().items.remove(0);
    assert_eq!(location(&r), format!("/channels/{}", c.id));
    assert_eq!(c.endpoint, "http://127.0.0.1:9/v2/enqueue");
    assert_eq!(c.scope.group.as_deref(), Some("web"));
    assert_eq!(
        c.scope
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["env=prod", "team=ops"]
    );
    assert_eq!(c.expired_hour_utc, 17);
    let page = b.page(&format!("/channels/{}", c.id)).await.1;
    assert!(page.contains("Events API URL") && page.contains("http://127.0.0.1:9/v2/enqueue"));
    assert!(
        page.contains("group web")
            && page.contains("<code>env=prod</code> and <code>team=ops</code>")
    );
    assert!(page.contains("17:00 UTC"));
    assert!(!page.contains(ROUTING_KEY));

    // The edit form shows the settings (not the key); an edit changes them and keeps the key.
    let form = b.page(&format!("/channels/{}/edit", c.id)).await.1;
    assert!(form.contains("env=prod\nteam=ops") && form.contains("value=\"17\""));
    assert!(form.contains("value=\"http://127.0.0.1:9/v2/enqueue\""));
    assert!(!form.contains(ROUTING_KEY));
    let edit = |hour: &'static str, labels: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "oncall".to_string()),
            ("kind", "pagerduty".to_string()),
            ("enabled", "1".to_string()),
            ("events_url", other_url.clone()),
            ("group", String::new()),
            ("labels", labels.to_string()),
            ("expired_hour", hour.to_string()),
        ]
    };
    let post = |form: Vec<(&'static str, String)>| {
        let b = &b;
        let path = format!("/channels/{}/edit", c.id);
        async move {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(&path, &pairs).await
        }
    };
    let r = post(edit("-1", "env=staging")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    assert!(
        field_error(&html, "expired_hour")
            .unwrap()
            .contains("&#34;-1&#34; is not an hour")
    );
    let r = post(edit("6", "env=staging")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let c = app.admin.channel_get(c.id).await.unwrap();
    assert_eq!(c.expired_hour_utc, 6);
    assert_eq!(c.endpoint, other_url);
    assert_eq!(c.scope.group, None);
    assert_eq!(
        c.scope.labels.get("env").map(String::as_str),
        Some("staging")
    );
    assert_eq!(c.scope.labels.len(), 1);
    let page = b.page(&format!("/channels/{}", c.id)).await.1;
    assert!(page.contains("labelled <code>env=staging</code>") && page.contains("06:00 UTC"));
    // The routing key was kept: a test event goes to the new events URL with it.
    let r = b
        .post(
            &format!("/channels/{}/test", c.id),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Test delivered"));
    let bodies = seen.lock().unwrap().clone();
    assert!(
        !bodies.is_empty() && bodies.iter().all(|b| b.contains(ROUTING_KEY)),
        "{bodies:?}"
    );
}

#[tokio::test]
async fn ui_email_channel_takes_a_relay_ca_and_never_shows_the_password() {
    let app = TestApp::spawn_manual().await;
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let csrf = b.csrf("/channels/new").await;
    let f = fixtures();
    let mut form = vec![
        ("csrf", csrf.clone()),
        ("name", "team mail".to_string()),
        ("kind", "email".to_string()),
        ("enabled", "1".to_string()),
        ("smtp_host", "smtp.example.test".to_string()),
        ("smtp_port", "2525".to_string()),
        ("smtp_tls", "implicit".to_string()),
        ("smtp_username", "certkeep".to_string()),
        ("smtp_password", "hunter2-secret".to_string()),
        ("email_from", "certkeep@example.test".to_string()),
        ("email_to", "team@example.test".to_string()),
        ("expired_hour", "8".to_string()),
    ];
    let send = |form: &[(&'static str, String)], path: String| {
        let b = &b;
        let pairs: Vec<(&'static str, String)> = form.to_vec();
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(&path, &pairs).await
        }
    };
    // A key where the CA goes: refused beside the CA field, the password not sent back.
    let mut bad = form.clone();
    bad.push(("smtp_ca_pem", f.leaf_key_pem.clone()));
    let r = send(&bad, "/channels/new".into()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    let message = field_error(&html, "smtp_ca_pem").expect("a message beside the CA field");
    assert!(
        message.contains("`smtp.ca_pem` block 1 is a PRIVATE KEY, expected CERTIFICATE"),
        "{message}"
    );
    assert!(!html.contains("hunter2-secret"));
    let mut bad = form.clone();
    bad.push(("smtp_port", "smtp".into()));
    bad.retain(|(k, v)| *k != "smtp_port" || v == "smtp");
    let html = send(&bad, "/channels/new".into())
        .await
        .text()
        .await
        .unwrap();
    assert!(
        field_error(&html, "smtp_port")
            .unwrap()
            .contains("is not a port number")
    );

    form.push(("smtp_ca_pem", f.root_pem.clone()));
    let r = send(&form, "/channels/new".into()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let c = app.admin.channel_list().await.unwrap().items.remove(0);
    let smtp = c.smtp.clone().expect("the relay is shown");
    assert_eq!(smtp.ca_pem.as_deref(), Some(f.root_pem.trim()));
    assert_eq!(
        (smtp.host.as_str(), smtp.port),
        ("smtp.example.test", Some(2525))
    );
    assert_eq!(smtp.password, None, "the password is never returned");
    assert_eq!(c.expired_hour_utc, 8);
    let page = b.page(&format!("/channels/{}", c.id)).await.1;
    assert!(page.contains("smtp.example.test:2525, implicit TLS, user certkeep"));
    assert!(
        page.contains("Relay CA") && page.contains("certkeep Test Root"),
        "{page}"
    );
    assert!(page.contains("08:00 UTC"));
    assert!(!page.contains("hunter2-secret"));
    let edit_form = b.page(&format!("/channels/{}/edit", c.id)).await.1;
    assert!(edit_form.contains("BEGIN CERTIFICATE") && edit_form.contains("value=\"2525\""));
    assert!(edit_form.contains("<option value=\"implicit\" selected>"));
    assert!(!edit_form.contains("hunter2-secret"));

    // Saving the edit form as shown changes nothing; emptying the CA removes it.
    let path = format!("/channels/{}/edit", c.id);
    let mut same = form.clone();
    same.retain(|(k, _)| *k != "smtp_password");
    assert_eq!(
        send(&same, path.clone()).await.status(),
        StatusCode::SEE_OTHER
    );
    let again = app.admin.channel_get(c.id).await.unwrap();
    assert_eq!(again.smtp, c.smtp);
    same.retain(|(k, _)| *k != "smtp_ca_pem");
    same.push(("smtp_ca_pem", String::new()));
    assert_eq!(send(&same, path).await.status(), StatusCode::SEE_OTHER);
    let c = app.admin.channel_get(c.id).await.unwrap();
    assert_eq!(c.smtp.unwrap().ca_pem, None);
    let page = b.page(&format!("/channels/{}", c.id)).await.1;
    assert!(page.contains("public roots only"));
}

#[tokio::test]
async fn ui_editing_a_slack_channel_keeps_its_secret_url() {
    let app = TestApp::spawn_manual().await;
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/services/T000/B000/s3cretpath",
        receiver.local_addr().unwrap()
    );
    tokio::spawn(async move {
        let svc = axum::Router::new().route(
            "/services/T000/B000/s3cretpath",
            axum::routing::post(|| async { "ok" }),
        );
        axum::serve(receiver, svc).await.unwrap();
    });
    let c = app
        .admin
        .channel_create(&certkeep_api::CreateChannelRequest {
            name: "chat".into(),
            kind: Some(certkeep_api::ChannelKind::Slack),
            url: Some(url),
            ..Default::default()
        })
        .await
        .unwrap()
        .channel;
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let form = b.page(&format!("/channels/{}/edit", c.id)).await.1;
    // The URL's path is the credential: the form shows neither it nor its redacted form.
    assert!(
        !form.contains("s3cretpath") && !form.contains("/…"),
        "{form}"
    );
    assert!(form.contains("URL (empty keeps the current one)"));
    let csrf = csrf_of(&form);
    let r = b
        .post(
            &format!("/channels/{}/edit", c.id),
            &[
                ("csrf", csrf.as_str()),
                ("name", "team chat"),
                ("kind", "slack"),
                ("enabled", "1"),
                ("url", ""),
                ("expired_hour", "9"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = b
        .post(
            &format!("/channels/{}/test", c.id),
            &[("csrf", csrf.as_str())],
        )
        .await;
    let html = r.text().await.unwrap();
    assert!(html.contains("Test delivered"), "{html}");
    assert_eq!(app.admin.channel_get(c.id).await.unwrap().name, "team chat");
}

#[tokio::test]
async fn ui_dashboard_counts_by_status_per_group_and_week() {
    let app = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let ca = test_ca("Dash CA", now);
    let mk = |nb, na, group| entry(&ca, "d", nb, na, group);
    let items = vec![
        mk(now - Duration::days(100), now - Duration::days(1), "a"),
        mk(now - Duration::days(100), now - Duration::days(50), "b"),
        mk(now - Duration::days(1), now + Duration::days(3), "a"),
        mk(now - Duration::days(1), now + Duration::days(10), "a"),
        mk(now - Duration::days(1), now + Duration::days(60), "b"),
        mk(now - Duration::days(1), now + Duration::days(400), "a"),
        mk(now + Duration::days(5), now + Duration::days(95), "a"),
    ];
    app.admin
        .certificate_import_batch(&certkeep_api::BatchImportRequest { items })
        .await
        .unwrap();
    let deleted = app
        .admin
        .certificate_list(&Default::default())
        .await
        .unwrap()
        .items[0]
        .id;
    app.admin.certificate_delete(deleted).await.unwrap();

    let admin = certkeep_server::app::RequestCtx {
        bearer: Some(admin_token(&app).await),
        now,
        ..ctx()
    };
    let d = app.app.certificate_dashboard(&admin).await.unwrap();
    // The deleted one (the earliest to expire: expired in group b) is not counted.
    assert_eq!(
        (
            d.counts.expired,
            d.counts.expiring,
            d.counts.valid,
            d.counts.not_yet_valid
        ),
        (1, 2, 2, 1)
    );
    assert_eq!(d.counts.weeks.len(), 13);
    assert_eq!(d.counts.weeks[0], 1);
    assert_eq!(d.counts.weeks[1], 1);
    assert_eq!(d.counts.weeks[8], 1);
    assert_eq!(d.counts.weeks[13 - 1], 0);
    assert_eq!(d.counts.weeks.iter().sum::<i64>(), 3);
    assert_eq!(d.soonest.len(), 5);
    assert!(
        d.soonest
            .windows(2)
            .all(|w| w[0].not_after <= w[1].not_after)
    );

    let (_, group_b) = app.client_with_role(Role::Reader, Some("b")).await;
    let b_ctx = certkeep_server::app::RequestCtx {
        bearer: Some(group_b),
        now,
        ..ctx()
    };
    let d = app.app.certificate_dashboard(&b_ctx).await.unwrap();
    assert_eq!(
        (
            d.counts.expired,
            d.counts.expiring,
            d.counts.valid,
            d.counts.not_yet_valid
        ),
        (0, 0, 1, 0)
    );
    assert_eq!(d.soonest.len(), 1);
    let (_, group_a) = app.client_with_role(Role::Reader, Some("a")).await;
    let a_ctx = certkeep_server::app::RequestCtx {
        bearer: Some(group_a),
        now,
        ..ctx()
    };
    let d = app.app.certificate_dashboard(&a_ctx).await.unwrap();
    assert_eq!(
        (
            d.counts.expired,
            d.counts.expiring,
            d.counts.valid,
            d.counts.not_yet_valid
        ),
        (1, 2, 1, 1)
    );
}

#[tokio::test]
async fn audit_events_filter_by_token_and_time_over_the_api() {
    let app = TestApp::spawn().await;
    let before = OffsetDateTime::now_utc() - Duration::seconds(1);
    let (reader, _) = app.client_with_role(Role::Reader, None).await;
    reader.certificate_list(&Default::default()).await.unwrap();
    let reader_id = app
        .admin
        .token_list()
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|t| t.role == Role::Reader)
        .unwrap()
        .id;
    let q = certkeep_api::AuditQuery {
        token_id: Some(reader_id),
        since: Some(before),
        ..Default::default()
    };
    let page = app.admin.audit_list(&q).await.unwrap();
    assert!(!page.items.is_empty());
    assert!(
        page.items
            .iter()
            .all(|e| e.token_id == Some(reader_id) && e.time >= before)
    );
    let page = app
        .admin
        .audit_list(&certkeep_api::AuditQuery {
            until: Some(before),
            ..q
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

/// The version numbers in the versions table of a certificate page.
fn version_rows(html: &str) -> Vec<u32> {
    let at = html.find("<h2>Versions</h2>").expect("a versions table");
    let table = &html[at..html[at..].find("</table>").unwrap() + at];
    table
        .split("<tr>")
        .skip(1)
        .filter_map(|row| {
            let cell = row.split("<td>").nth(1)?;
            cell.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// `(version, serial)` of every stored version of `id`, through the API.
async fn stored_versions(app: &TestApp, id: uuid::Uuid) -> Vec<(u32, String)> {
    app.admin
        .certificate_versions(id)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|v| (v.version, v.serial))
        .collect()
}

/// Text as askama escapes it into HTML.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn ui_reimport_and_edit_through_the_forms_and_a_reader_is_refused() {
    let app = TestApp::spawn().await;
    let id = import_with_key(&app, "formed").await;
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let page = format!("/certificates/{id}");
    let html = b.page(&page).await.1;
    assert!(html.contains(&format!("action=\"/certificates/{id}/reimport\"")));
    assert!(html.contains(&format!("href=\"/certificates/{id}/edit\"")));
    assert_eq!(version_rows(&html), vec![1]);
    let csrf = csrf_of(&html);
    let v2 = crate::certificates::fixtures_for(
        tk::KeyKind::EcP256,
        "www.example.test",
        OffsetDateTime::now_utc(),
    );
    let v1_serial = app.admin.certificate_get(id).await.unwrap().serial;

    // Without the CSRF token: refused, no new version.
    let r = b
        .post_multipart(
            &format!("/certificates/{id}/reimport"),
            &[("certificate", None, v2.leaf_pem.as_bytes())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(stored_versions(&app, id).await.len(), 1);

    // A key that does not belong to the certificate: the message beside the key field.
    let r = b
        .post_multipart(
            &format!("/certificates/{id}/reimport"),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("certificate_file", Some("v2.der"), &v2.leaf_der),
                ("private_key", None, v2.other_key_pem.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let html = r.text().await.unwrap();
    let message = field_error(&html, "private_key").expect("an error beside the key");
    assert!(message.contains("key"), "{message}");
    assert!(html.contains("Reimport a certificate"), "{html}");
    assert_eq!(stored_versions(&app, id).await.len(), 1);

    // The new certificate as a DER file, its key and chain pasted: version 2.
    let r = b
        .post_multipart(
            &format!("/certificates/{id}/reimport"),
            &[
                ("csrf", None, csrf.as_bytes()),
                ("certificate_file", Some("v2.der"), &v2.leaf_der),
                ("private_key", None, v2.leaf_key_pem.as_bytes()),
                (
                    "chain_file",
                    Some("chain.pem"),
                    v2.intermediate_pem.as_bytes(),
                ),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("A new version was imported."), "{html}");
    assert_eq!(version_rows(&html), vec![2, 1]);
    let stored = stored_versions(&app, id).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    let meta = app.admin.certificate_get(id).await.unwrap();
    assert_eq!(meta.version, 2);
    assert_ne!(meta.serial, v1_serial);
    assert!(stored.iter().any(|(v, s)| *v == 2 && *s == meta.serial));
    assert!(meta.has_private_key && meta.chain_length == 1);
    assert_eq!(version_rows(&b.page(&page).await.1), vec![2, 1]);

    // Edit: the form shows the stored values and saves the new ones.
    let html = b.page(&format!("{page}/edit")).await.1;
    assert!(html.contains("value=\"formed\""), "{html}");
    let r = b
        .post(
            &format!("{page}/edit"),
            &[
                ("csrf", csrf.as_str()),
                ("name", "renamed"),
                ("description", "the shop's front door"),
                ("group", "payments"),
                ("labels", "env=prod\nteam=pay"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), page);
    let c = app.admin.certificate_get(id).await.unwrap();
    assert_eq!(c.name, "renamed");
    assert_eq!(c.description, "the shop's front door");
    assert_eq!(c.group.as_deref(), Some("payments"));
    assert_eq!(
        c.labels.into_iter().collect::<Vec<_>>(),
        [("env".into(), "prod".into()), ("team".into(), "pay".into())]
    );
    let html = b.page(&page).await.1;
    assert!(
        html.contains("renamed")
            && html.contains("the shop&#39;s front door")
            && html.contains("payments"),
        "{html}"
    );

    // Bad inputs: 400, the server's message beside the field, the values kept, nothing saved.
    for (field, name, group, labels, says) in [
        (
            "name",
            "",
            "payments",
            "env=prod",
            "`name` must not be empty",
        ),
        (
            "group",
            "renamed",
            "no spaces",
            "env=prod",
            "`group` contains ' '",
        ),
        (
            "labels",
            "renamed",
            "payments",
            "no-equals-sign",
            "is not key=value",
        ),
        (
            "labels",
            "renamed",
            "payments",
            "bad key=v",
            "label key \"bad key\"",
        ),
        (
            "description",
            "renamed",
            "payments",
            "env=prod",
            "`description` contains the control character U+0007",
        ),
    ] {
        let description = if field == "description" {
            "bell\u{7}"
        } else {
            "kept"
        };
        let r = b
            .post(
                &format!("{page}/edit"),
                &[
                    ("csrf", csrf.as_str()),
                    ("name", name),
                    ("description", description),
                    ("group", group),
                    ("labels", labels),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}");
        let html = r.text().await.unwrap();
        let message = field_error(&html, field).unwrap_or_else(|| panic!("{field}: {html}"));
        assert!(message.contains(&escaped(says)), "{field}: {message}");
        assert!(html.contains(&format!("aria-describedby=\"{field}-error\"")));
        assert_eq!(
            html.matches("class=\"field-error\"").count(),
            1,
            "{field}: one message, beside its field"
        );
        let c = app.admin.certificate_get(id).await.unwrap();
        assert_eq!(
            (c.name.as_str(), c.group.as_deref()),
            ("renamed", Some("payments"))
        );
    }
    // Without the CSRF token: refused, nothing saved.
    let r = b
        .post(
            &format!("{page}/edit"),
            &[("name", "forged"), ("group", "payments")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.admin.certificate_get(id).await.unwrap().name, "renamed");

    // A Reader sees neither form, and the server refuses both posts.
    let (_, reader) = app.client_with_role(Role::Reader, None).await;
    let rb = Browser::signed_in(&app.base_url, &reader).await;
    let html = rb.page(&page).await.1;
    assert!(
        !html.contains("/reimport") && !html.contains("/edit"),
        "{html}"
    );
    let rcsrf = csrf_of(&html);
    let r = rb
        .post(
            &format!("{page}/edit"),
            &[("csrf", rcsrf.as_str()), ("name", "by a reader")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("needs the writer role"));
    let r = rb
        .post_multipart(
            &format!("{page}/reimport"),
            &[
                ("csrf", None, rcsrf.as_bytes()),
                ("certificate", None, v2.leaf_pem.as_bytes()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("needs the manager role"));
    assert_eq!(app.admin.certificate_get(id).await.unwrap().name, "renamed");
    assert_eq!(stored_versions(&app, id).await.len(), 2);
    // Nor do the form pages open for a role that could not submit them.
    for (path, needs) in [
        (
            format!("{page}/edit"),
            "editing a certificate needs the writer role",
        ),
        (
            "/import".to_string(),
            "importing certificates needs the manager role",
        ),
        ("/channels/new".to_string(), "needs the manager role"),
        (
            "/orders/new".to_string(),
            "ordering a certificate needs the manager role",
        ),
    ] {
        let r = rb.get(&path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needs), "{path}: {body}");
        assert!(
            !body.contains("<form method=\"post\" action=\"/"),
            "{path}: {body}"
        );
    }
    // A Writer edits but does not import.
    let (_, writer) = app.client_with_role(Role::Writer, None).await;
    let wb = Browser::signed_in(&app.base_url, &writer).await;
    assert_eq!(
        wb.get(&format!("{page}/edit")).await.status(),
        StatusCode::OK
    );
    assert_eq!(wb.get("/import").await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn ui_import_form_takes_a_pkcs12_with_its_password() {
    let app = TestApp::spawn().await;
    let f = fixtures();
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let csrf = b.csrf("/import").await;
    // One from the test generator and one made by OpenSSL from the same certificate and key.
    let dir = tempfile::tempdir().unwrap();
    let (key, cert, chain) = (
        dir.path().join("key.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("chain.pem"),
    );
    std::fs::write(&key, &f.leaf_key_pem).unwrap();
    std::fs::write(&cert, &f.leaf_pem).unwrap();
    std::fs::write(&chain, &f.intermediate_pem).unwrap();
    let by_openssl = crate::certificates::openssl(
        &[
            "pkcs12",
            "-export",
            "-inkey",
            key.to_str().unwrap(),
            "-in",
            cert.to_str().unwrap(),
            "-certfile",
            chain.to_str().unwrap(),
            "-passout",
            "pass:openssl-pass",
        ],
        None,
    );
    for (name, p12, password) in [
        (
            "p12 generated",
            &f.pkcs12,
            crate::certificates::P12_PASSWORD,
        ),
        ("p12 openssl", &by_openssl, "openssl-pass"),
    ] {
        // The wrong password: the message beside the password field, nothing stored.
        let r = b
            .post_multipart(
                "/import",
                &[
                    ("csrf", None, csrf.as_bytes()),
                    ("name", None, name.as_bytes()),
                    ("certificate_file", Some("bundle.p12"), p12),
                    ("password", None, b"not the password"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        let html = r.text().await.unwrap();
        let message = field_error(&html, "password").unwrap_or_else(|| panic!("{name}: {html}"));
        assert!(
            message.to_lowercase().contains("password"),
            "{name}: {message}"
        );
        assert!(field_error(&html, "certificate").is_none(), "{name}");
        assert!(
            html.contains(&format!("value=\"{name}\"")),
            "the name is kept"
        );
        let listed = app
            .admin
            .certificate_list(&certkeep_api::CertificateListQuery {
                q: Some(name.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            listed.items.is_empty(),
            "{name}: stored after a wrong password"
        );

        // The right password: an entry with its key and chain.
        let r = b
            .post_multipart(
                "/import",
                &[
                    ("csrf", None, csrf.as_bytes()),
                    ("name", None, name.as_bytes()),
                    ("certificate_file", Some("bundle.p12"), p12),
                    ("password", None, password.as_bytes()),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{name}");
        let to = location(&r);
        let id: uuid::Uuid = to.strip_prefix("/certificates/").unwrap().parse().unwrap();
        let c = app.admin.certificate_get(id).await.unwrap();
        assert_eq!(c.name, name);
        assert!(c.has_private_key, "{name}");
        assert_eq!(c.chain_length, 1, "{name}");
        assert_eq!(c.domains, f.domains);
        let html = b.page(&to).await.1;
        assert!(html.contains("Private key (PEM)"), "{name}");
        let r = b
            .get(&format!("{to}/download?part=private_key&format=pem"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let key_pem = r.text().await.unwrap();
        // The stored key is the certificate's: OpenSSL derives the same public key from both.
        let public_of_key =
            crate::certificates::openssl(&["pkey", "-pubout"], Some(key_pem.as_bytes()));
        let public_of_cert = crate::certificates::openssl(
            &["x509", "-noout", "-pubkey"],
            Some(f.leaf_pem.as_bytes()),
        );
        assert_eq!(public_of_key, public_of_cert, "{name}");
    }
}

/// The names in the certificates table, in order.
fn table_names(html: &str) -> Vec<String> {
    let Some(at) = html.find("<tbody>") else {
        return Vec::new();
    };
    html[at..]
        .split("<td><a href=\"/certificates/")
        .skip(1)
        .filter_map(|s| {
            s.split_once("\">")?
                .1
                .split("</a>")
                .next()
                .map(String::from)
        })
        .collect()
}

#[tokio::test]
async fn ui_table_filters_exclude_rows_that_do_not_match_and_sort() {
    let app = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let one = test_ca("Filter CA One", now);
    let two = test_ca("Filter CA Two", now);
    let specs = [
        // name, CA, key, group, env label, not_after
        (
            "ec-prod",
            &one,
            tk::KeyKind::EcP256,
            "web",
            "prod",
            now + Duration::days(200),
        ),
        (
            "rsa-dev",
            &two,
            tk::KeyKind::Rsa2048,
            "api",
            "dev",
            now + Duration::days(20),
        ),
        (
            "old-dev",
            &one,
            tk::KeyKind::EcP256,
            "api",
            "dev",
            now - Duration::days(3),
        ),
    ];
    for (name, ca, kind, group, env, na) in specs {
        let leaf = ca
            .leaf(
                &tk::LeafSpec::new(
                    &format!("{name}.example.test"),
                    now - Duration::days(30),
                    na,
                )
                .key(kind),
            )
            .unwrap();
        app.admin
            .certificate_import(&ImportCertificateRequest {
                name: name.into(),
                certificate: leaf.cert_pem,
                group: Some(group.into()),
                labels: [("env".to_string(), env.to_string())].into(),
                ..ImportCertificateRequest::default()
            })
            .await
            .unwrap();
    }
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    // Default order: soonest expiry first.
    for (query, expected) in [
        ("", vec!["old-dev", "rsa-dev", "ec-prod"]),
        ("label=env%3Dprod", vec!["ec-prod"]),
        ("label=env%3Ddev", vec!["old-dev", "rsa-dev"]),
        ("label=env", vec!["old-dev", "rsa-dev", "ec-prod"]),
        ("label=team", vec![]),
        ("key=RSA", vec!["rsa-dev"]),
        ("key=EC", vec!["old-dev", "ec-prod"]),
        ("key=Ed25519", vec![]),
        ("group=api", vec!["old-dev", "rsa-dev"]),
        ("group=web", vec!["ec-prod"]),
        ("issuer=ca+two", vec!["rsa-dev"]),
        ("issuer=filter+ca+one", vec!["old-dev", "ec-prod"]),
        ("status=valid", vec!["ec-prod"]),
        ("status=expiring", vec!["rsa-dev"]),
        ("status=expired", vec!["old-dev"]),
        ("within=30", vec!["rsa-dev"]),
        ("within=365", vec!["rsa-dev", "ec-prod"]),
        ("label=env%3Ddev&key=EC&group=api", vec!["old-dev"]),
        ("sort=name", vec!["ec-prod", "old-dev", "rsa-dev"]),
        ("sort=-name", vec!["rsa-dev", "old-dev", "ec-prod"]),
        ("sort=not_after", vec!["old-dev", "rsa-dev", "ec-prod"]),
        ("sort=-not_after", vec!["ec-prod", "rsa-dev", "old-dev"]),
        ("sort=-name&label=env%3Ddev", vec!["rsa-dev", "old-dev"]),
    ] {
        let (status, html) = b.page(&format!("/certificates?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(table_names(&html), expected, "{query}");
        if expected.is_empty() {
            assert!(html.contains("No certificate matches."), "{query}");
        }
    }
}

#[tokio::test]
async fn ui_table_next_page_keeps_the_filter_and_the_order() {
    let app = TestApp::spawn().await;
    let now = OffsetDateTime::now_utc();
    let ca = test_ca("UI Filter Paging CA", now);
    // 60 in group "paged" (expiring in 30..90 days), 10 elsewhere that must never show.
    let items = (0..70)
        .map(|i| {
            let group = if i < 60 { "paged" } else { "other" };
            entry(
                &ca,
                &format!("fp-{i:02}"),
                now - Duration::days(1),
                now + Duration::days(30 + i),
                group,
            )
        })
        .collect();
    app.admin
        .certificate_import_batch(&certkeep_api::BatchImportRequest { items })
        .await
        .unwrap();
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let html = b.page("/certificates?group=paged&sort=-not_after").await.1;
    let first = table_names(&html);
    let expected: Vec<String> = (0..60).rev().map(|i| format!("fp-{i:02}")).collect();
    assert_eq!(first, expected[..50]);
    let at = html.find("rel=\"next\"").expect("a next page link");
    let href = html[..at]
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(
        href.contains("group=paged") && href.contains("sort=-not_after"),
        "{href}"
    );
    let html = b.page(&href).await.1;
    assert_eq!(table_names(&html), expected[50..]);
    assert!(
        !html.contains("rel=\"next\""),
        "the last page has no next link"
    );
    assert!(html.contains("First page"));
}

/// The value of attribute `name` in the opening tag `tag`.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!(" {name}=\"");
    let at = tag.find(&marker)? + marker.len();
    tag[at..].split('"').next()
}

/// Accessibility that can be read from the HTML: every form control has a label (`<label
/// for=id>` or `aria-label`), every table header cell has a scope, and the skip link's target
/// exists. Returns how many controls it checked.
fn assert_accessible(path: &str, html: &str) -> usize {
    let mut checked = 0;
    assert!(
        html.contains("<a class=\"skip\" href=\"#main\">"),
        "{path}: no skip link"
    );
    assert!(
        html.contains("<main id=\"main\">"),
        "{path}: the skip link's target is missing"
    );
    for control in ["<input", "<select", "<textarea"] {
        for piece in html.split(control).skip(1) {
            let tag = &piece[..piece.find('>').unwrap()];
            if matches!(attr(tag, "type"), Some("hidden" | "submit" | "button")) {
                continue;
            }
            if attr(tag, "aria-label").is_some_and(|l| !l.is_empty()) {
                continue;
            }
            let id = attr(tag, "id")
                .unwrap_or_else(|| panic!("{path}: {control}{tag}> has neither id nor aria-label"));
            assert!(
                html.contains(&format!("<label for=\"{id}\"")),
                "{path}: {control} id={id} has no label"
            );
            assert_eq!(
                html.matches(&format!(" id=\"{id}\"")).count(),
                1,
                "{path}: id {id} is not unique"
            );
            checked += 1;
        }
    }
    for piece in html.split("<th").skip(1) {
        if piece.starts_with("ead") {
            continue;
        }
        let tag = &piece[..piece.find('>').unwrap()];
        assert!(
            matches!(attr(tag, "scope"), Some("col" | "row")),
            "{path}: <th{tag}> has no scope"
        );
    }
    let tables = html.matches("<table").count();
    assert_eq!(
        html.matches("<div class=\"table-wrap\">\n  <table").count(),
        tables,
        "{path}: a table outside its scrolling container"
    );
    checked
}

#[tokio::test]
async fn ui_every_page_labels_its_controls_scopes_its_headers_and_has_a_skip_target() {
    let app = TestApp::spawn_manual().await;
    let id = import_with_key(&app, "accessible").await;
    let channel = app
        .admin
        .channel_create(&certkeep_api::CreateChannelRequest {
            name: "a11y hook".into(),
            kind: Some(certkeep_api::ChannelKind::Webhook),
            url: Some("https://hooks.example.com/x".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .channel
        .id;
    let token = admin_token(&app).await;
    let b = Browser::signed_in(&app.base_url, &token).await;
    let anon = Browser::new(&app.base_url);
    let (status, html) = anon.page("/sign-in").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(assert_accessible("/sign-in", &html), 1, "the token field");
    let mut checked = 0;
    for path in [
        "/".to_string(),
        "/certificates".into(),
        format!("/certificates/{id}"),
        format!("/certificates/{id}/edit"),
        "/import".into(),
        "/channels".into(),
        "/channels/new".into(),
        format!("/channels/{channel}"),
        format!("/channels/{channel}/edit"),
        "/orders".into(),
        "/orders/new".into(),
        "/audit".into(),
        "/tokens".into(),
    ] {
        let (status, html) = b.page(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        checked += assert_accessible(&path, &html);
    }
    assert!(checked > 50, "only {checked} form controls found");
    // The pages as they come back with errors beside the fields.
    let csrf = b.csrf("/import").await;
    let r = b
        .post_multipart(
            "/import",
            &[
                ("csrf", None, csrf.as_bytes()),
                ("name", None, b"x"),
                ("certificate", None, b"junk"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_accessible("/import (refused)", &r.text().await.unwrap());
    let r = b
        .post(
            &format!("/certificates/{id}/edit"),
            &[("csrf", csrf.as_str()), ("name", "x"), ("group", "a b")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_accessible(
        "/certificates/{id}/edit (refused)",
        &r.text().await.unwrap(),
    );
}
