//! End-to-end tests of the `certkeep` binary: each test boots the real server in-process on
//! 127.0.0.1:0 (fresh SQLite database in a temp dir) and runs the real binary against it, the way
//! an operator or a script would. The typed client is the oracle for "what the API says".
//!
//! The backend is SQLite, or a fresh PostgreSQL database (made with `psql`) when
//! `CERTKEEP_TEST_DATABASE_URL` is set, as in scripts/test.sh's PostgreSQL run.
//!
//! `--help` snapshots live in `tests/help/`; refresh them with `UPDATE_SNAPSHOTS=1 cargo test -p
//! certkeep-cli --test cli help_snapshots` and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use certkeep_api::{CertificateMetadata, Client, ClientError, DownloadPart, DownloadQuery};
use certkeep_testkit::{Ca, Issued, KeyKind, LeafSpec};
use serde_json::Value;
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

/// Pebble and BIND on loopback, as the server's ordering tests start them.
#[path = "../../certkeep-server/tests/api/acme_peers.rs"]
#[allow(dead_code)] // shared with the server's tests; this binary uses part of it
mod acme_peers;

// ------------------------------------------------------------------------------------ harness

/// With `CERTKEEP_TEST_DATABASE_URL` set, a new empty PostgreSQL database for one test;
/// otherwise `None` (SQLite in the data directory).
fn fresh_postgres_database() -> Option<String> {
    let base = std::env::var("CERTKEEP_TEST_DATABASE_URL").ok()?;
    let name = format!("ck_cli_{}", uuid::Uuid::new_v4().simple());
    let out = std::process::Command::new("psql")
        .arg(&base)
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql is needed for the PostgreSQL run (apt-get install postgresql-client)");
    assert!(
        out.status.success(),
        "CREATE DATABASE failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (prefix, _) = base.rsplit_once('/').expect("database URL has a path");
    Some(format!("{prefix}/{name}"))
}

/// A running server and what it takes to talk to it.
struct Server {
    rt: tokio::runtime::Runtime,
    url: String,
    admin: String,
    _data: TempDir,
}

impl Server {
    fn start() -> Server {
        Server::start_with(|_| {})
    }

    /// A server whose configuration `tweak` adjusts first.
    fn start_with(tweak: impl FnOnce(&mut certkeep_server::config::Config)) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut config = certkeep_server::config::Config {
            data_dir: data.path().to_path_buf(),
            database_url: fresh_postgres_database(),
            ..Default::default()
        };
        tweak(&mut config);
        let (url, admin) = rt.block_on(async {
            let app = Arc::new(certkeep_server::app::App::open(&config).await.unwrap());
            let ctx = certkeep_server::app::RequestCtx {
                request_id: "test-bootstrap".into(),
                bearer: None,
                now: OffsetDateTime::now_utc(),
            };
            let admin = app.bootstrap_admin(&ctx).await.unwrap().unwrap().token;
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let Some(source) = &config.tls else {
                tokio::spawn(certkeep_server::serve(
                    app,
                    listener,
                    std::future::pending(),
                ));
                return (format!("http://{addr}"), admin);
            };
            let (acceptor, _cert) = certkeep_server::web::tls::setup(&app, source)
                .await
                .unwrap();
            let listener = certkeep_server::web::tls::listener(listener, acceptor).unwrap();
            tokio::spawn(certkeep_server::serve_with(
                app,
                listener,
                certkeep_server::jobs::Schedule::default(),
                std::future::pending(),
            ));
            (format!("https://localhost:{}", addr.port()), admin)
        });
        Server {
            rt,
            url,
            admin,
            _data: data,
        }
    }

    /// The binary with a clean environment pointing at this server, without a token.
    fn anon(&self) -> Command {
        let mut cmd = bare_cli();
        cmd.env("CERTKEEP_URL", &self.url);
        cmd
    }

    /// The binary authenticated with `token` (through the environment, as scripts would).
    fn as_token(&self, token: &str) -> Command {
        let mut cmd = self.anon();
        cmd.env("CERTKEEP_TOKEN", token);
        cmd
    }

    fn admin(&self) -> Command {
        self.as_token(&self.admin)
    }

    fn client(&self, token: &str) -> Client {
        Client::new(&self.url, Some(token.to_string())).unwrap()
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// `certkeep --output json …` as admin, expected to succeed, parsed.
    fn json(&self, args: &[&str]) -> Value {
        let out = self
            .admin()
            .args(args)
            .args(["--output", "json"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {}", lossy(&out)))
    }

    /// Import and return the metadata as the CLI printed it.
    fn import(&self, args: &[&str]) -> CertificateMetadata {
        let mut all = vec!["cert", "import"];
        all.extend_from_slice(args);
        serde_json::from_value(self.json(&all)).unwrap()
    }
}

/// The binary with none of the environment that would change its behaviour or help text.
fn bare_cli() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkeep"));
    for var in [
        "CERTKEEP_URL",
        "CERTKEEP_TOKEN",
        "CERTKEEP_TOKEN_FILE",
        "CLICOLOR_FORCE",
        "CLICOLOR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn last_line(stdout: &[u8]) -> String {
    lossy(stdout).lines().last().expect("no output").to_string()
}

/// The server's message for a request the typed client makes, to compare with what the CLI
/// prints (the request id differs per request, the message does not).
fn api_message<T: std::fmt::Debug>(r: Result<T, ClientError>) -> (String, String) {
    match r {
        Err(ClientError::Api { body, .. }) => (body.message, body.code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Assert the CLI failed as the API did: exit 1 and `error: <message> (<code>, request <id>)`.
fn assert_api_failure(assert: assert_cmd::assert::Assert, message: &str, code: &str) -> String {
    let out = assert.code(1).get_output().clone();
    let stderr = lossy(&out.stderr);
    let expected = format!("error: {message} ({code}, request ");
    assert!(
        stderr.contains(&expected),
        "stderr does not contain {expected:?}:\n{stderr}"
    );
    stderr
}

/// Certificates on disk, made by the testkit: root → intermediate → leaf.
struct Fixtures {
    dir: TempDir,
    root: Ca,
    int: Ca,
    leaf: Issued,
}

impl Fixtures {
    fn new(cn: &str) -> Fixtures {
        let now = OffsetDateTime::now_utc();
        let nb = now - Duration::days(1);
        let root = Ca::new_root(
            KeyKind::EcP256,
            "CLI Test Root",
            nb,
            now + Duration::days(3650),
        )
        .unwrap();
        let int = root
            .intermediate(
                KeyKind::EcP256,
                "CLI Test Intermediate",
                nb,
                now + Duration::days(1825),
            )
            .unwrap();
        let leaf = int
            .leaf(
                &LeafSpec::new(cn, nb, now + Duration::days(90))
                    .dns([cn.to_string(), format!("alt.{cn}")]),
            )
            .unwrap();
        let f = Fixtures {
            dir: tempfile::tempdir().unwrap(),
            root,
            int,
            leaf,
        };
        f.write("leaf.pem", f.leaf.cert_pem.as_bytes());
        f.write("leaf.der", &f.leaf.cert_der);
        f.write("leaf.key", f.leaf.key_pem.as_bytes());
        f.write("int.pem", f.int.cert_pem().as_bytes());
        f.write("root.pem", f.root.cert_pem().as_bytes());
        f
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// A second leaf under the same intermediate, for reimports.
    fn another_leaf(&self, cn: &str) -> Issued {
        let now = OffsetDateTime::now_utc();
        self.int
            .leaf(&LeafSpec::new(
                cn,
                now - Duration::days(1),
                now + Duration::days(180),
            ))
            .unwrap()
    }
}

/// An `openssl x509` fact about a PEM certificate (`-serial`, `-fingerprint`): lowercase hex
/// without colons.
fn openssl_x509(pem_path: &str, flags: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-in", pem_path])
        .args(flags)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl x509 {flags:?}: {}",
        lossy(&out.stderr)
    );
    let text = lossy(&out.stdout);
    text.trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase()
}

// -------------------------------------------------------------------------------------- tests

#[test]
fn import_pem_with_key_and_chain_then_get_matches_the_api() {
    let s = Server::start();
    let f = Fixtures::new("www.example.com");
    let meta = s.import(&[
        "--name",
        "web",
        "--cert",
        &f.path("leaf.pem"),
        "--key",
        &f.path("leaf.key"),
        "--chain",
        &f.path("int.pem"),
        "--chain",
        &f.path("root.pem"),
        "--description",
        "front door",
        "--group",
        "web",
        "--label",
        "env=prod",
        "--label",
        "team=edge",
    ]);
    assert_eq!(meta.name, "web");
    assert_eq!(meta.description, "front door");
    assert_eq!(meta.group.as_deref(), Some("web"));
    assert_eq!(meta.labels.get("env").map(String::as_str), Some("prod"));
    assert_eq!(meta.domains, vec!["www.example.com", "alt.www.example.com"]);
    assert!(meta.has_private_key);
    assert_eq!(meta.chain_length, 2);
    assert!(meta.chain_complete, "{:?}", meta.chain_issues);
    assert_eq!(meta.key_algorithm, "EC");
    assert_eq!(meta.version, 1);
    // Someone else's reading of the same certificate.
    let serial = openssl_x509(&f.path("leaf.pem"), &["-serial"]);
    assert_eq!(meta.serial, serial.trim_start_matches('0'));
    assert_eq!(
        meta.fingerprint_sha256,
        openssl_x509(&f.path("leaf.pem"), &["-fingerprint", "-sha256"])
    );

    // `cert get --output json` prints exactly the API's object: same JSON as a raw GET.
    let id = meta.id.to_string();
    let out = s
        .admin()
        .args(["cert", "get", &id, "--output", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let printed: Value = serde_json::from_slice(&out).unwrap();
    let raw: Value = s.block_on(async {
        s.client(&s.admin)
            .raw(reqwest::Method::GET, &format!("/api/v1/certificates/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(printed, raw);
    let typed = s
        .block_on(s.client(&s.admin).certificate_get(meta.id))
        .unwrap();
    assert_eq!(
        lossy(&out),
        format!("{}\n", serde_json::to_string_pretty(&typed).unwrap())
    );

    // Table form: key/value lines.
    let table = s
        .admin()
        .args(["cert", "get", &id])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = lossy(&table);
    let field = |key: &str| -> String {
        table
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k == key).then(|| v.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {key:?} line in:\n{table}"))
    };
    assert_eq!(field("id"), id);
    assert_eq!(field("domains"), "www.example.com, alt.www.example.com");
    assert_eq!(field("labels"), "env=prod, team=edge");
    assert_eq!(field("key"), "EC P-256");
    assert_eq!(field("chain"), "2 certificates, complete");
    assert_eq!(field("private key"), "stored");
    // Values line up in one column.
    let columns: BTreeSet<usize> = table
        .lines()
        .map(|l| l.len() - l[l.find(':').unwrap() + 1..].trim_start().len())
        .collect();
    assert_eq!(columns.len(), 1, "{table}");
}

#[test]
fn import_der_pkcs12_and_stdin() {
    let s = Server::start();
    let f = Fixtures::new("der.example.com");

    let der = s.import(&["--name", "der", "--cert", &f.path("leaf.der")]);
    assert!(!der.has_private_key);
    assert_eq!(der.domains[0], "der.example.com");

    let p12 = certkeep_testkit::pkcs12(&f.leaf, &[f.int.cert_der()], "p12-secret").unwrap();
    let p12_path = f.write("leaf.p12", &p12);
    let meta = s.import(&[
        "--name",
        "p12",
        "--cert",
        p12_path.to_str().unwrap(),
        "--password",
        "p12-secret",
    ]);
    assert!(meta.has_private_key);
    assert_eq!(meta.chain_length, 1);
    assert_eq!(meta.fingerprint_sha256, der.fingerprint_sha256);

    // Password from a file, with the trailing newline editors add.
    let pw = f.write("pw.txt", b"p12-secret\n");
    let meta = s.import(&[
        "--name",
        "p12-file",
        "--cert",
        p12_path.to_str().unwrap(),
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(meta.has_private_key);

    // A wrong PKCS#12 password is the server's error.
    let client = s.client(&s.admin);
    let (message, code) = api_message(s.block_on(client.certificate_import(
        &certkeep_api::ImportCertificateRequest {
            name: "p12-bad".into(),
            certificate: base64_std(&p12),
            password: Some("wrong".into()),
            ..Default::default()
        },
    )));
    assert_api_failure(
        s.admin()
            .args([
                "cert",
                "import",
                "--name",
                "p12-bad",
                "--cert",
                p12_path.to_str().unwrap(),
            ])
            .args(["--password", "wrong"])
            .assert(),
        &message,
        &code,
    );

    // stdin: a PEM bundle holding the certificate and its key.
    let bundle = format!("{}{}", f.leaf.cert_pem, f.leaf.key_pem);
    let out = s
        .admin()
        .args([
            "cert", "import", "--name", "stdin", "--cert", "-", "--output", "json",
        ])
        .write_stdin(bundle)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let meta: CertificateMetadata = serde_json::from_slice(&out).unwrap();
    assert!(meta.has_private_key);
    assert_eq!(meta.name, "stdin");

    // stdin can be read once only.
    let out = s
        .admin()
        .args(["cert", "import", "--name", "x", "--cert", "-", "--key", "-"])
        .write_stdin("")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(lossy(&out.stderr).contains("only one input may be read from stdin"));

    // Table output of an import names the entry.
    let out = s
        .admin()
        .args([
            "cert",
            "import",
            "--name",
            "table-import",
            "--cert",
            &f.path("leaf.pem"),
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = lossy(&out);
    assert!(
        text.contains("name:") && text.contains("table-import"),
        "{text}"
    );
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn list_with_filters_sorting_and_pages() {
    let s = Server::start();
    let a = Fixtures::new("alpha.example.com");
    let b = Fixtures::new("beta.example.org");
    let c = Fixtures::new("gamma.example.net");
    s.import(&[
        "--name",
        "alpha",
        "--cert",
        &a.path("leaf.pem"),
        "--group",
        "web",
        "--label",
        "env=prod",
    ]);
    s.import(&[
        "--name",
        "beta",
        "--cert",
        &b.path("leaf.pem"),
        "--group",
        "web",
        "--label",
        "env=dev",
    ]);
    s.import(&[
        "--name",
        "gamma",
        "--cert",
        &c.path("leaf.pem"),
        "--label",
        "env=prod",
    ]);

    // Table: header and every name.
    let out = s
        .admin()
        .args(["cert", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = lossy(&out);
    let header = table.lines().next().unwrap();
    for col in ["ID", "NAME", "STATUS", "NOT AFTER", "DOMAINS", "ISSUER CN"] {
        assert!(header.contains(col), "{header}");
    }
    for name in ["alpha", "beta", "gamma"] {
        assert!(table.contains(name), "{table}");
    }
    assert!(
        table.contains("alpha.example.com, alt.alpha.example.com"),
        "{table}"
    );
    assert!(table.contains("CLI Test Intermediate"), "{table}");
    assert!(table.contains("valid"), "{table}");

    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |v: &Value| names(v).into_iter().collect::<BTreeSet<_>>();
    let want = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();

    assert_eq!(
        set(&s.json(&["cert", "list", "--group", "web"])),
        want(&["alpha", "beta"])
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--label", "env=prod"])),
        want(&["alpha", "gamma"])
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--label", "env=prod", "--group", "web"])),
        want(&["alpha"])
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--q", "example.org"])),
        want(&["beta"])
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--status", "valid"])).len(),
        3
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--status", "expired"])).len(),
        0
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--key-algorithm", "EC"])).len(),
        3
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--issuer", "CLI Test Intermediate"])).len(),
        3
    );
    let soon = (OffsetDateTime::now_utc() + Duration::days(10))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    assert_eq!(
        set(&s.json(&["cert", "list", "--expires-before", &soon])).len(),
        0
    );
    assert_eq!(
        set(&s.json(&["cert", "list", "--expires-after", &soon])).len(),
        3
    );
    assert_eq!(
        names(&s.json(&["cert", "list", "--sort", "name"])),
        ["alpha", "beta", "gamma"]
    );
    assert_eq!(
        names(&s.json(&["cert", "list", "--sort", "-name"])),
        ["gamma", "beta", "alpha"]
    );

    // One page: the API's page object, with a cursor; --all walks every page.
    let page = s.json(&["cert", "list", "--limit", "1", "--sort", "name"]);
    assert_eq!(names(&page), ["alpha"]);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next_cursor")
        .to_string();
    let next = s.json(&[
        "cert", "list", "--limit", "1", "--sort", "name", "--cursor", &cursor,
    ]);
    assert_eq!(names(&next), ["beta"]);
    let all = s.json(&["cert", "list", "--limit", "1", "--sort", "name", "--all"]);
    assert_eq!(names(&all), ["alpha", "beta", "gamma"]);
    assert_eq!(
        all.as_object().unwrap().len(),
        1,
        "--all prints {{items}} only"
    );

    // Table mode tells people (on stderr) that there is more.
    let out = s
        .admin()
        .args(["cert", "list", "--limit", "1"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(
        lossy(&out.stderr).contains("--cursor"),
        "{}",
        lossy(&out.stderr)
    );

    // A bad time is a usage error, caught before any request.
    s.admin()
        .args(["cert", "list", "--expires-before", "tomorrow"])
        .assert()
        .code(2);
}

#[test]
fn reimport_versions_and_edit() {
    let s = Server::start();
    let f = Fixtures::new("svc.example.com");
    let meta = s.import(&[
        "--name",
        "svc",
        "--cert",
        &f.path("leaf.pem"),
        "--key",
        &f.path("leaf.key"),
        "--label",
        "a=1",
    ]);
    let id = meta.id.to_string();

    let next = f.another_leaf("svc.example.com");
    f.write("next.pem", next.cert_pem.as_bytes());
    f.write("next.key", next.key_pem.as_bytes());
    let re: CertificateMetadata = serde_json::from_value(s.json(&[
        "cert",
        "reimport",
        &id,
        "--cert",
        &f.path("next.pem"),
        "--key",
        &f.path("next.key"),
        "--chain",
        &f.path("int.pem"),
    ]))
    .unwrap();
    assert_eq!(re.version, 2);
    assert_eq!(re.id, meta.id);
    assert_ne!(re.fingerprint_sha256, meta.fingerprint_sha256);
    assert_eq!(re.chain_length, 1);

    let versions = s.json(&["cert", "versions", &id]);
    let items = versions["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let table = lossy(
        &s.admin()
            .args(["cert", "versions", &id])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(table.lines().count(), 3, "{table}");
    assert!(table.contains(&re.fingerprint_sha256) && table.contains(&meta.fingerprint_sha256));

    // Labels given replace all labels.
    let edited: CertificateMetadata = serde_json::from_value(s.json(&[
        "cert",
        "edit",
        &id,
        "--name",
        "svc-renamed",
        "--description",
        "edited",
        "--group",
        "ops",
        "--label",
        "b=2",
        "--label",
        "c=3",
    ]))
    .unwrap();
    assert_eq!(edited.name, "svc-renamed");
    assert_eq!(edited.description, "edited");
    assert_eq!(edited.group.as_deref(), Some("ops"));
    assert_eq!(
        edited.labels.into_iter().collect::<Vec<_>>(),
        [
            ("b".to_string(), "2".to_string()),
            ("c".to_string(), "3".to_string())
        ]
    );

    let cleared: CertificateMetadata =
        serde_json::from_value(s.json(&["cert", "edit", &id, "--clear-labels"])).unwrap();
    assert!(cleared.labels.is_empty());
    assert_eq!(
        cleared.name, "svc-renamed",
        "fields not given are left alone"
    );

    // Nothing to edit, or a malformed label, is a usage error.
    s.admin().args(["cert", "edit", &id]).assert().code(2);
    s.admin()
        .args(["cert", "edit", &id, "--label", "novalue"])
        .assert()
        .code(2);
    s.admin()
        .args(["cert", "edit", &id, "--label", "a=1", "--clear-labels"])
        .assert()
        .code(2);
}

#[test]
fn download_parts_formats_and_pkcs12() {
    let s = Server::start();
    let f = Fixtures::new("dl.example.com");
    let meta = s.import(&[
        "--name",
        "dl",
        "--cert",
        &f.path("leaf.pem"),
        "--key",
        &f.path("leaf.key"),
        "--chain",
        &f.path("int.pem"),
    ]);
    let id = meta.id.to_string();

    // Default: the leaf in PEM on stdout.
    let out = s
        .admin()
        .args(["cert", "download", &id])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(lossy(&out).matches("BEGIN CERTIFICATE").count(), 1);

    let out = s
        .admin()
        .args(["cert", "download", &id, "--part", "fullchain"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let fullchain = lossy(&out);
    assert_eq!(
        fullchain.matches("BEGIN CERTIFICATE").count(),
        2,
        "{fullchain}"
    );
    let client = s.client(&s.admin);
    let api_fullchain = s
        .block_on(client.certificate_download(
            meta.id,
            &DownloadQuery {
                part: Some(DownloadPart::Fullchain),
                ..Default::default()
            },
        ))
        .unwrap();
    assert_eq!(out, api_fullchain);

    // DER bytes are the certificate's DER, byte for byte.
    let der_out = f.dir.path().join("out.der");
    s.admin()
        .args([
            "cert",
            "download",
            &id,
            "--format",
            "der",
            "--out",
            der_out.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert_eq!(std::fs::read(&der_out).unwrap(), f.leaf.cert_der);
    assert_ne!(file_mode(&der_out), 0o600, "no key, no need to hide it");

    // The private key: written 0600, and it is the key we imported.
    let key_out = f.dir.path().join("out.key");
    std::fs::write(&key_out, "old").unwrap();
    set_mode(&key_out, 0o644);
    s.admin()
        .args([
            "cert",
            "download",
            &id,
            "--part",
            "private-key",
            "--out",
            key_out.to_str().unwrap(),
        ])
        .assert()
        .success();
    assert_eq!(file_mode(&key_out), 0o600);
    let key_pem = std::fs::read_to_string(&key_out).unwrap();
    assert!(key_pem.contains("BEGIN PRIVATE KEY"), "{key_pem}");
    assert_eq!(pem_body(&key_pem), pem_body(&f.leaf.key_pem));

    // PKCS#12: OpenSSL opens it with the password.
    let p12_out = f.dir.path().join("out.p12");
    s.admin()
        .args([
            "cert",
            "download",
            &id,
            "--format",
            "pkcs12",
            "--password",
            "exp0rt",
        ])
        .args(["--out", p12_out.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(file_mode(&p12_out), 0o600);
    let certs = openssl_pkcs12(&p12_out, "exp0rt", &["-nokeys"]);
    assert_eq!(certs.matches("BEGIN CERTIFICATE").count(), 2, "{certs}");
    let keys = openssl_pkcs12(&p12_out, "exp0rt", &["-nocerts", "-nodes"]);
    assert!(keys.contains("PRIVATE KEY"), "{keys}");

    // --no-key: certificates only.
    let p12_nokey = f.dir.path().join("nokey.p12");
    s.admin()
        .args([
            "cert",
            "download",
            &id,
            "--format",
            "pkcs12",
            "--password",
            "exp0rt",
            "--no-key",
        ])
        .args(["--out", p12_nokey.to_str().unwrap()])
        .assert()
        .success();
    let keys = openssl_pkcs12(&p12_nokey, "exp0rt", &["-nocerts", "-nodes"]);
    assert!(!keys.contains("PRIVATE KEY"), "{keys}");

    // The wrong password does not open it.
    let st = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-in",
            p12_out.to_str().unwrap(),
            "-passin",
            "pass:nope",
            "-nokeys",
        ])
        .output()
        .unwrap();
    assert!(!st.status.success());

    // Local mistakes: PKCS#12 without a password, --no-key without PKCS#12.
    let out = s
        .admin()
        .args(["cert", "download", &id, "--format", "pkcs12"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(lossy(&out.stderr).contains("--password"));
    s.admin()
        .args(["cert", "download", &id, "--no-key"])
        .assert()
        .code(2);

    // An older version is downloadable.
    let next = f.another_leaf("dl.example.com");
    f.write("next.pem", next.cert_pem.as_bytes());
    s.admin()
        .args(["cert", "reimport", &id, "--cert", &f.path("next.pem")])
        .assert()
        .success();
    let v1 = s
        .admin()
        .args(["cert", "download", &id, "--version", "1"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(pem_body(&lossy(&v1)), pem_body(&f.leaf.cert_pem));
}

fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

fn openssl_pkcs12(path: &Path, password: &str, extra: &[&str]) -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "pkcs12",
            "-in",
            path.to_str().unwrap(),
            "-passin",
            &format!("pass:{password}"),
        ])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl pkcs12: {}",
        lossy(&out.stderr)
    );
    lossy(&out.stdout)
}

fn file_mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn delete_restore_and_purge() {
    let s = Server::start();
    let f = Fixtures::new("gone.example.com");
    let id = s
        .import(&["--name", "gone", "--cert", &f.path("leaf.pem")])
        .id
        .to_string();

    let out = s
        .admin()
        .args(["cert", "delete", &id])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(lossy(&out).contains("deleted"));
    assert_eq!(
        s.json(&["cert", "list"])["items"].as_array().unwrap().len(),
        0
    );
    let deleted = s.json(&["cert", "list", "--deleted"]);
    assert_eq!(deleted["items"][0]["id"], Value::String(id.clone()));
    assert!(deleted["items"][0]["deleted_at"].is_string());

    let restored = s.json(&["cert", "restore", &id]);
    assert!(restored["deleted_at"].is_null());
    assert_eq!(
        s.json(&["cert", "list"])["items"].as_array().unwrap().len(),
        1
    );

    // Purge refuses a live entry: the server's conflict, exit 1.
    let client = s.client(&s.admin);
    let uuid = id.parse().unwrap();
    let (message, code) = api_message(s.block_on(client.certificate_purge(uuid)));
    assert_eq!(code, "conflict");
    assert_api_failure(
        s.admin().args(["cert", "purge", &id]).assert(),
        &message,
        &code,
    );

    // JSON mode: the API answers 204, so nothing is printed.
    let out = s
        .admin()
        .args(["cert", "delete", &id, "--output", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(out.is_empty());
    s.admin().args(["cert", "purge", &id]).assert().success();
    let (message, code) = api_message(s.block_on(client.certificate_get(uuid)));
    assert_eq!(code, "not_found");
    assert_api_failure(
        s.admin().args(["cert", "get", &id]).assert(),
        &message,
        &code,
    );
}

#[test]
fn tokens_create_list_revoke_and_roles() {
    let s = Server::start();
    let f = Fixtures::new("tok.example.com");
    let meta = s.import(&[
        "--name",
        "tok",
        "--cert",
        &f.path("leaf.pem"),
        "--key",
        &f.path("leaf.key"),
    ]);
    let id = meta.id.to_string();

    // Table mode: the secret alone on the last line.
    let out = s
        .admin()
        .args([
            "token",
            "create",
            "--name",
            "reader-bot",
            "--role",
            "reader",
            "--expires-in-days",
            "30",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let reader = last_line(&out.stdout);
    assert!(!reader.contains(' ') && reader.len() >= 20, "{reader:?}");
    assert!(lossy(&out.stdout).contains("reader-bot"));

    // The reader lists and reads…
    let out = s
        .as_token(&reader)
        .args(["cert", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(lossy(&out).contains("tok"));
    s.as_token(&reader)
        .args(["cert", "download", &id])
        .assert()
        .success();
    // …but may not download the key: exit 1 and the server's message.
    let (message, code) = api_message(s.block_on(s.client(&reader).certificate_download(
        meta.id,
        &DownloadQuery {
            part: Some(DownloadPart::PrivateKey),
            ..Default::default()
        },
    )));
    assert_eq!(code, "forbidden");
    let out_file = f.dir.path().join("should-not-exist.key");
    assert_api_failure(
        s.as_token(&reader)
            .args([
                "cert",
                "download",
                &id,
                "--part",
                "private-key",
                "--out",
                out_file.to_str().unwrap(),
            ])
            .assert(),
        &message,
        &code,
    );
    assert!(!out_file.exists(), "nothing is written on failure");
    // Nor the PKCS#12 with the key.
    s.as_token(&reader)
        .args([
            "cert",
            "download",
            &id,
            "--format",
            "pkcs12",
            "--password",
            "x",
            "--out",
        ])
        .arg(f.dir.path().join("r.p12"))
        .assert()
        .code(1);

    // JSON mode: the CreatedToken object.
    let created = s.json(&[
        "token",
        "create",
        "--name",
        "writer-bot",
        "--role",
        "writer",
        "--group",
        "web",
        "--expires-at",
        "2099-01-01T00:00:00Z",
    ]);
    assert_eq!(created["info"]["role"], "writer");
    assert_eq!(created["info"]["group"], "web");
    assert_eq!(created["info"]["expires_at"], "2099-01-01T00:00:00Z");
    assert!(created["token"].as_str().unwrap().len() >= 20);

    // List shows them (never the secrets).
    let list = lossy(
        &s.admin()
            .args(["token", "list"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(
        list.contains("reader-bot")
            && list.contains("writer-bot")
            && list.contains("initial-admin")
    );
    assert!(!list.contains(&reader));
    let tokens = s.json(&["token", "list"]);
    let reader_id = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "reader-bot")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Revoke; the token then fails with the server's message.
    let revoked = s.json(&["token", "revoke", &reader_id]);
    assert!(revoked["revoked_at"].is_string());
    let (message, code) =
        api_message(s.block_on(s.client(&reader).certificate_list(&Default::default())));
    assert_eq!(code, "unauthenticated");
    assert_api_failure(
        s.as_token(&reader).args(["cert", "list"]).assert(),
        &message,
        &code,
    );

    // Revoking twice is the server's conflict.
    s.admin()
        .args(["token", "revoke", &reader_id])
        .assert()
        .code(1);
}

#[test]
fn audit_list_shows_imports() {
    let s = Server::start();
    let f = Fixtures::new("audit.example.com");
    let id = s
        .import(&["--name", "audited", "--cert", &f.path("leaf.pem")])
        .id
        .to_string();
    s.import(&["--name", "audited-2", "--cert", &f.path("leaf.der")]);

    let table = lossy(
        &s.admin()
            .args(["audit", "list"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(table.contains("certificate.import"), "{table}");
    assert!(table.lines().next().unwrap().contains("ACTION"));

    let page = s.json(&[
        "audit",
        "list",
        "--action",
        "certificate.import",
        "--target",
        &id,
    ]);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page:#}");
    assert_eq!(items[0]["action"], "certificate.import");
    assert_eq!(items[0]["target"], Value::String(id.clone()));
    assert_eq!(items[0]["outcome"], "success");

    // --all walks pages of one event each.
    let all = s.json(&[
        "audit",
        "list",
        "--action",
        "certificate.import",
        "--limit",
        "1",
        "--all",
    ]);
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "{all:#}");
    let first = all["items"][0]["seq"].as_i64().unwrap();
    let after = s.json(&[
        "audit",
        "list",
        "--action",
        "certificate.import",
        "--after",
        &first.to_string(),
    ]);
    assert_eq!(after["items"].as_array().unwrap().len(), 1);
}

#[test]
fn audit_list_newest_first_pages_backwards_with_before() {
    let s = Server::start();
    let f = Fixtures::new("newest.example.com");
    let ids: Vec<String> = ["first", "second", "third"]
        .iter()
        .map(|name| {
            s.import(&["--name", name, "--cert", &f.path("leaf.pem")])
                .id
                .to_string()
        })
        .collect();
    let seqs = |page: &Value| -> Vec<i64> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect()
    };
    let targets = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["target"].as_str().unwrap().to_string())
            .collect()
    };
    let imports = ["audit", "list", "--action", "certificate.import"];

    let oldest_first = s.json(&imports);
    assert_eq!(targets(&oldest_first), ids);
    let newest_first = s.json(&[&imports[..], &["--newest-first"]].concat());
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(targets(&newest_first), reversed, "{newest_first:#}");
    let ascending = seqs(&oldest_first);
    let mut descending = seqs(&newest_first);
    assert!(descending.windows(2).all(|w| w[0] > w[1]), "{descending:?}");
    descending.reverse();
    assert_eq!(descending, ascending);

    // One page at a time: `next_before` is what --before takes for the next, older page.
    let page = s.json(&[&imports[..], &["--newest-first", "--limit", "2"]].concat());
    assert_eq!(targets(&page), reversed[..2]);
    assert_eq!(page["next_after"], Value::Null);
    let before = page["next_before"].as_i64().unwrap().to_string();
    let older = s.json(
        &[
            &imports[..],
            &["--newest-first", "--limit", "2", "--before", &before],
        ]
        .concat(),
    );
    assert_eq!(targets(&older), reversed[2..]);
    assert!(
        older.get("next_before").is_none_or(Value::is_null),
        "{older:#}"
    );

    // The table says how to get the older page.
    let out = s
        .admin()
        .args([&imports[..], &["--newest-first", "--limit", "1"]].concat())
        .assert()
        .success()
        .get_output()
        .clone();
    let table = lossy(&out.stdout);
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{table}");
    assert!(rows[0].contains(&ids[2]), "{table}");
    assert!(
        lossy(&out.stderr).contains(&format!("older events: add --before {}", ascending[2])),
        "{}",
        lossy(&out.stderr)
    );

    // --all follows `next_before` to the start of the log.
    let all = s.json(&[&imports[..], &["--newest-first", "--limit", "1", "--all"]].concat());
    assert_eq!(targets(&all), reversed, "{all:#}");
    let all_tables = lossy(
        &s.admin()
            .args([&imports[..], &["--newest-first", "--limit", "1", "--all"]].concat())
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let order: Vec<usize> = ids
        .iter()
        .map(|id| all_tables.find(id.as_str()).unwrap())
        .collect();
    assert!(order[2] < order[1] && order[1] < order[0], "{all_tables}");
}

#[test]
fn failures_carry_the_server_message_and_exit_codes() {
    let s = Server::start();
    let f = Fixtures::new("bad.example.com");

    // Garbage as a certificate: the server says why, exit 1.
    let garbage = f.write(
        "garbage.bin",
        b"\x00\x01 this is not a certificate \xff\xfe",
    );
    let client = s.client(&s.admin);
    let (message, code) = api_message(s.block_on(client.certificate_import(
        &certkeep_api::ImportCertificateRequest {
            name: "bad".into(),
            certificate: base64_std(&std::fs::read(&garbage).unwrap()),
            ..Default::default()
        },
    )));
    assert_eq!(code, "invalid_input");
    let stderr = assert_api_failure(
        s.admin()
            .args([
                "cert",
                "import",
                "--name",
                "bad",
                "--cert",
                garbage.to_str().unwrap(),
            ])
            .assert(),
        &message,
        &code,
    );
    assert!(stderr.trim_end().ends_with(')'), "{stderr}");

    // A PEM file holding no certificate.
    let key_only = f.path("leaf.key");
    s.admin()
        .args(["cert", "import", "--name", "bad", "--cert", &key_only])
        .assert()
        .code(1);

    // No token: the server's unauthenticated error.
    let (message, code) = api_message(
        s.block_on(
            Client::new(&s.url, None)
                .unwrap()
                .certificate_list(&Default::default()),
        ),
    );
    assert_api_failure(s.anon().args(["cert", "list"]).assert(), &message, &code);

    // Unknown id.
    s.admin()
        .args(["cert", "get", "0190c4a8-0000-7000-8000-000000000000"])
        .assert()
        .code(1);

    // Local problems: exit 2, nothing sent.
    let out = s
        .admin()
        .args([
            "cert",
            "import",
            "--name",
            "x",
            "--cert",
            "/nonexistent/cert.pem",
        ])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(lossy(&out.stderr).contains("/nonexistent/cert.pem"));
    s.admin()
        .args(["cert", "get", "not-a-uuid"])
        .assert()
        .code(2);
    s.admin().args(["cert", "frobnicate"]).assert().code(2);
    s.admin()
        .args([
            "cert",
            "import",
            "--name",
            "x",
            "--cert",
            &f.path("leaf.pem"),
            "--label",
            "nokey",
        ])
        .assert()
        .code(2);

    bare_cli()
        .args(["--url", "ftp://example.com", "cert", "list"])
        .assert()
        .code(2);

    // The server is not there: exit 1, and the URL is named.
    let out = bare_cli()
        .args(["--url", "http://127.0.0.1:9", "cert", "list"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(lossy(&out.stderr).contains("http://127.0.0.1:9"));
}

#[test]
fn token_sources() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("  {}\n", s.admin)).unwrap();

    s.anon()
        .args(["--token-file", file.to_str().unwrap(), "cert", "list"])
        .assert()
        .success();
    s.anon()
        .env("CERTKEEP_TOKEN_FILE", &file)
        .args(["cert", "list"])
        .assert()
        .success();
    s.anon()
        .args(["--token", &s.admin, "cert", "list"])
        .assert()
        .success();
    // Global options work after the subcommand too.
    s.anon()
        .args(["cert", "list", "--token", &s.admin])
        .assert()
        .success();
    // The command line beats the environment.
    s.as_token("bogus")
        .args(["--token", &s.admin, "cert", "list"])
        .assert()
        .success();
    // Two sources at the same level are refused.
    s.anon()
        .args([
            "--token",
            &s.admin,
            "--token-file",
            file.to_str().unwrap(),
            "cert",
            "list",
        ])
        .assert()
        .code(2);
    s.as_token(&s.admin)
        .env("CERTKEEP_TOKEN_FILE", &file)
        .args(["cert", "list"])
        .assert()
        .code(2);
    std::fs::write(&file, "\n").unwrap();
    s.anon()
        .args(["--token-file", file.to_str().unwrap(), "cert", "list"])
        .assert()
        .code(2);
}

#[test]
fn batch_import() {
    let s = Server::start();
    let a = Fixtures::new("batch-a.example.com");
    let b = Fixtures::new("batch-b.example.com");
    let body = serde_json::json!({
        "items": [
            {"name": "batch-a", "certificate": a.leaf.cert_pem, "private_key": a.leaf.key_pem},
            {"name": "batch-b", "certificate": b.leaf.cert_pem, "labels": {"env": "prod"}},
        ]
    });
    let file = a.write("batch.json", body.to_string().as_bytes());
    let resp = s.json(&["cert", "import-batch", "--file", file.to_str().unwrap()]);
    assert_eq!(resp["items"].as_array().unwrap().len(), 2);
    assert_eq!(resp["items"][0]["has_private_key"], true);
    let out = s
        .admin()
        .args(["cert", "import-batch", "--file", "-"])
        .write_stdin(
            serde_json::json!({"items": [{"name": "batch-c", "certificate": a.leaf.cert_pem}]})
                .to_string(),
        )
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(lossy(&out).contains("batch-c"));
    let bad = a.write("bad.json", b"{\"items\": 3}");
    s.admin()
        .args(["cert", "import-batch", "--file", bad.to_str().unwrap()])
        .assert()
        .code(2);
}

// ------------------------------------------------------------------- notification channels

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

/// A local HTTP endpoint for webhook channels, on the server's runtime: it records every
/// request and answers 204, or 400 on `/reject`.
struct Receiver {
    url: String,
    got: Arc<std::sync::Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(s: &Server) -> Receiver {
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        type Log = Arc<std::sync::Mutex<Vec<Received>>>;
        async fn record(
            axum::extract::State(log): axum::extract::State<Log>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: axum::body::Bytes,
        ) -> StatusCode {
            let path = uri.path().to_string();
            let reject = path == "/reject";
            log.lock().unwrap().push(Received {
                method: method.to_string(),
                path,
                headers,
                body: body.to_vec(),
            });
            if reject {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::NO_CONTENT
            }
        }
        let got: Log = Arc::default();
        let app = axum::Router::new().fallback(record).with_state(got.clone());
        let url = s.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            format!("http://{addr}")
        });
        Receiver { url, got }
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// A server that may send webhooks to plain-HTTP loopback receivers like [`Receiver`].
fn channel_server() -> Server {
    Server::start_with(|config| config.danger_allow_http_channels = true)
}

/// The value of `key:` in a key/value block.
fn kv_field(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == key).then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {key:?} line in:\n{text}"))
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn channel_webhook_create_test_list_update_deliveries_delete() {
    let s = channel_server();
    let r = Receiver::start(&s);
    let hook = format!("{}/hook", r.url);

    // Table mode: the channel, then the signing secret alone on the last line.
    let out = s
        .admin()
        .args([
            "channel",
            "create",
            "--name",
            "hooks",
            "--kind",
            "webhook",
            "--webhook-url",
            &hook,
            "--event",
            "cert.expiring",
            "--event",
            "cert.expired",
            "--label",
            "env=prod",
            "--threshold",
            "30d",
            "--threshold",
            "10%",
            "--expired-hour",
            "7",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = lossy(&out.stdout);
    let secret = last_line(&out.stdout);
    assert!(
        secret.starts_with("whsec_") && !secret.contains(' '),
        "{text}"
    );
    assert_eq!(kv_field(&text, "name"), "hooks");
    assert_eq!(kv_field(&text, "kind"), "webhook");
    assert_eq!(kv_field(&text, "enabled"), "yes");
    assert_eq!(kv_field(&text, "endpoint"), hook);
    assert_eq!(kv_field(&text, "scope"), "labels env=prod");
    let id = kv_field(&text, "id");
    assert!(lossy(&out.stderr).contains("shown only now"));

    // get: the API's object as is, without the secret.
    let out = s
        .admin()
        .args(["channel", "get", &id, "--output", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(!lossy(&out).contains(&secret), "{}", lossy(&out));
    let got: Value = serde_json::from_slice(&out).unwrap();
    let raw: Value = s.block_on(async {
        s.client(&s.admin)
            .raw(
                reqwest::Method::GET,
                &format!("/api/v1/notification-channels/{id}"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    assert_eq!(got, raw);
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["kind"], "webhook");
    assert_eq!(got["enabled"], true);
    assert_eq!(
        strings(&got["events"]),
        strings(&serde_json::json!(["cert.expiring", "cert.expired"]))
    );
    assert_eq!(got["scope"]["labels"]["env"], "prod");
    assert_eq!(
        strings(&got["thresholds"]),
        strings(&serde_json::json!(["30d", "10%"]))
    );
    assert_eq!(got["expired_hour_utc"], 7);
    let table = lossy(
        &s.admin()
            .args(["channel", "get", &id])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(!table.contains(&secret), "{table}");
    assert_eq!(kv_field(&table, "expired reminder"), "daily at 07:00 UTC");

    // list: table and JSON, never the secret.
    let table = lossy(
        &s.admin()
            .args(["channel", "list"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let header = table.lines().next().unwrap();
    for col in ["ID", "NAME", "KIND", "ENABLED", "ENDPOINT", "EVENTS"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(table.contains(&id) && table.contains("hooks"), "{table}");
    assert!(!table.contains(&secret), "{table}");
    let list = s.json(&["channel", "list"]);
    assert!(!list.to_string().contains(&secret));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list:#}");
    assert_eq!(items[0], got);

    // test: delivered, exit 0; the receiver got one signed POST.
    let out = s
        .admin()
        .args(["channel", "test", &id])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = lossy(&out);
    assert_eq!(kv_field(&text, "delivered"), "yes", "{text}");
    let status = kv_field(&text, "status code");
    assert!(status.starts_with('2'), "{text}");
    let received = r.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let req = &received[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hook");
    let webhook_id = req
        .headers
        .get("webhook-id")
        .expect("a webhook-id header")
        .to_str()
        .unwrap()
        .to_string();
    assert!(!webhook_id.is_empty());
    let body: Value = serde_json::from_slice(&req.body)
        .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", lossy(&req.body)));
    assert!(!body.to_string().contains(&secret));
    assert_eq!(kv_field(&text, "delivery"), webhook_id);

    // deliveries: the test delivery, in the table and in JSON.
    let page = s.json(&["channel", "deliveries", &id]);
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page:#}");
    assert_eq!(items[0]["id"], webhook_id.as_str());
    assert_eq!(items[0]["channel_id"], id.as_str());
    assert_eq!(items[0]["status"], "delivered");
    let table = lossy(
        &s.admin()
            .args(["channel", "deliveries", &id])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    for col in [
        "ID",
        "EVENT",
        "STATUS",
        "ATTEMPTS",
        "CODE",
        "CREATED",
        "LAST ERROR",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().expect("one delivery row");
    assert!(
        row.starts_with(&webhook_id) && row.contains("delivered"),
        "{table}"
    );
    assert_eq!(lines.next(), None, "{table}");
    let failed = s.json(&["channel", "deliveries", &id, "--status", "failed"]);
    assert_eq!(failed["items"].as_array().unwrap().len(), 0, "{failed:#}");
    let all = s.json(&["channel", "deliveries", &id, "--limit", "1", "--all"]);
    assert_eq!(all["items"].as_array().unwrap().len(), 1, "{all:#}");

    // update: disable; a group joins the labels already in the scope.
    let updated = s.json(&["channel", "update", &id, "--disable", "--group", "web"]);
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["name"], "hooks", "options not given are left alone");
    assert_eq!(updated["scope"]["group"], "web");
    assert_eq!(updated["scope"]["labels"]["env"], "prod");
    assert_eq!(s.json(&["channel", "get", &id])["enabled"], false);
    let text = lossy(
        &s.admin()
            .args(["channel", "update", &id, "--enable", "--name", "hooks-2"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(kv_field(&text, "enabled"), "yes");
    assert_eq!(kv_field(&text, "name"), "hooks-2");
    assert_eq!(kv_field(&text, "scope"), "group web; labels env=prod");

    // delete; the channel is then gone, as the API says.
    let out = s
        .admin()
        .args(["channel", "delete", &id])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(lossy(&out).contains(&format!("deleted channel {id}")));
    let uuid: uuid::Uuid = id.parse().unwrap();
    let (message, code) = api_message(s.block_on(s.client(&s.admin).channel_get(uuid)));
    assert_api_failure(
        s.admin().args(["channel", "get", &id]).assert(),
        &message,
        &code,
    );
    assert!(
        s.json(&["channel", "list"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn channel_test_not_delivered_exits_1() {
    let s = channel_server();
    let r = Receiver::start(&s);
    let dir = tempfile::tempdir().unwrap();
    // A secret of our own, from a file (with the newline editors add).
    let secret = format!("whsec_{}", base64_std(&[7u8; 32]));
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let created = s.json(&[
        "channel",
        "create",
        "--name",
        "rejecting",
        "--kind",
        "webhook",
        "--webhook-url",
        &format!("{}/reject", r.url),
        "--secret-file",
        secret_file.to_str().unwrap(),
    ]);
    assert_eq!(created["channel"]["name"], "rejecting");
    assert_eq!(created["channel"]["kind"], "webhook");
    let id = created["channel"]["id"].as_str().unwrap().to_string();

    // Table: the answer on stdout, the failure on stderr, exit 1.
    let out = s
        .admin()
        .args(["channel", "test", &id])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let text = lossy(&out.stdout);
    assert_eq!(kv_field(&text, "delivered"), "no", "{text}");
    assert_eq!(kv_field(&text, "status code"), "400", "{text}");
    let stderr = lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: the test event was not delivered: "),
        "{stderr}"
    );
    let detail = kv_field(&text, "detail");
    if detail != "-" {
        assert!(stderr.contains(&detail), "{stderr}");
    }

    // JSON: the ChannelTestResult, still exit 1.
    let out = s
        .admin()
        .args(["channel", "test", &id, "--output", "json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let result: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(result["delivered"], false);
    assert_eq!(result["status_code"], 400);
    assert_eq!(r.received().len(), 2);
    assert!(r.received().iter().all(|q| q.path == "/reject"));

    // Both attempts are in the history, as failures.
    let failed = s.json(&["channel", "deliveries", &id, "--status", "failed"]);
    assert_eq!(failed["items"].as_array().unwrap().len(), 2, "{failed:#}");
    let table = lossy(
        &s.admin()
            .args(["channel", "deliveries", &id])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(table.contains("failed") && table.contains("400"), "{table}");
}

#[test]
fn channel_permissions_jwks_and_local_errors() {
    let s = channel_server();
    let r = Receiver::start(&s);
    let hook = format!("{}/hook", r.url);

    // A Reader may not create channels: exit 1 and the server's message.
    let out = s
        .admin()
        .args(["token", "create", "--name", "ro", "--role", "reader"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let reader = last_line(&out);
    let (message, code) = api_message(s.block_on(s.client(&reader).channel_create(
        &certkeep_api::CreateChannelRequest {
            name: "nope".into(),
            kind: Some(certkeep_api::ChannelKind::Webhook),
            url: Some(hook.clone()),
            ..Default::default()
        },
    )));
    assert_api_failure(
        s.as_token(&reader)
            .args([
                "channel",
                "create",
                "--name",
                "nope",
                "--kind",
                "webhook",
                "--webhook-url",
                &hook,
            ])
            .assert(),
        &message,
        &code,
    );
    assert!(
        s.json(&["channel", "list"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(r.received().is_empty());

    // The JWKS: public, the API's document as is.
    let out = s
        .anon()
        .args(["channel", "jwks"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let jwks: Value = serde_json::from_slice(&out).unwrap();
    let typed = s
        .block_on(Client::new(&s.url, None).unwrap().notification_jwks())
        .unwrap();
    assert_eq!(jwks, typed);
    let keys = jwks["keys"].as_array().expect("a keys array");
    assert!(!keys.is_empty(), "{jwks:#}");
    for k in keys {
        assert!(k.get("d").is_none(), "no private part: {k}");
    }

    // Usage and local errors: exit 2, nothing sent.
    let create = |extra: &[&str]| {
        let mut cmd = s.admin();
        cmd.args(["channel", "create", "--name", "x"]).args(extra);
        cmd
    };
    let stderr = |cmd: &mut Command| lossy(&cmd.assert().code(2).get_output().stderr);
    assert!(
        stderr(&mut create(&[
            "--kind",
            "slack",
            "--webhook-url",
            &hook,
            "--routing-key",
            "k"
        ]))
        .contains("--routing-key does not apply to --kind slack")
    );
    assert!(stderr(&mut create(&["--kind", "webhook"])).contains("--webhook-url"));
    assert!(
        stderr(&mut create(&["--kind", "email", "--from", "a@example.com"]))
            .contains("--kind email needs --smtp-host, --to")
    );
    stderr(&mut create(&[
        "--kind",
        "email",
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--smtp-port",
        "25",
    ]));
    stderr(&mut create(&[
        "--kind",
        "webhook",
        "--webhook-url",
        &hook,
        "--secret",
        "a",
        "--secret-file",
        "b",
    ]));
    assert!(
        stderr(&mut create(&[
            "--kind",
            "webhook",
            "--webhook-url",
            &hook,
            "--secret-file",
            "/nonexistent/secret",
        ]))
        .contains("/nonexistent/secret")
    );
    stderr(&mut create(&[
        "--kind",
        "webhook",
        "--webhook-url",
        &hook,
        "--threshold",
        "soon",
    ]));
    stderr(&mut create(&[
        "--kind",
        "webhook",
        "--webhook-url",
        &hook,
        "--expired-hour",
        "24",
    ]));
    stderr(&mut create(&["--kind", "carrier-pigeon"]));
    let some_id = "0190c4a8-0000-7000-8000-000000000000";
    assert!(stderr(s.admin().args(["channel", "update", some_id])).contains("nothing to update"));
    stderr(
        s.admin()
            .args(["channel", "update", some_id, "--enable", "--disable"]),
    );
    stderr(
        s.admin()
            .args(["channel", "deliveries", some_id, "--status", "lost"]),
    );
    assert!(
        s.json(&["channel", "list"])["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(r.received().is_empty());
}

// ------------------------------------------------------------------------- help snapshots

/// Every command's `--help`, compared with `tests/help/*.txt`. Commands are found by walking the
/// `Commands:` sections, so a new subcommand gets a snapshot without editing this test.
#[test]
fn acme_providers_and_orders_from_the_cli() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("tsig.key");
    std::fs::write(&secret, "c2VjcmV0IHNlY3JldA==\n").unwrap();
    let p = s.json(&[
        "acme",
        "dns-provider",
        "create",
        "--name",
        "bind",
        "--server",
        "127.0.0.1:5353",
        "--zone",
        "example.com.",
        "--tsig-key-name",
        "certkeep",
        "--tsig-algorithm",
        "hmac-sha512",
        "--tsig-secret-file",
        secret.to_str().unwrap(),
    ]);
    assert_eq!(p["zone"], "example.com");
    assert_eq!(p["tsig_algorithm"], "hmac-sha512");
    assert!(
        !p.to_string().contains("c2VjcmV0"),
        "the secret is never shown"
    );
    let pid = p["id"].as_str().unwrap().to_string();
    let out = s
        .admin()
        .args(["acme", "dns-provider", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(lossy(&out).contains("127.0.0.1:5353"), "{}", lossy(&out));

    // Orders are checked before any CA is asked; the server's reason is printed.
    let account = uuid::Uuid::now_v7().to_string();
    let out = s
        .admin()
        .args(["cert", "order", "--name", "w", "--domain", "*.example.com"])
        .args(["--account", &account, "--challenge", "http-01"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        lossy(&out.stderr).contains("wildcards need `challenge` dns-01"),
        "{}",
        lossy(&out.stderr)
    );
    let out = s
        .admin()
        .args(["cert", "order", "--name", "w", "--domain", "example.com"])
        .args([
            "--account",
            &account,
            "--challenge",
            "dns-01",
            "--dns-provider",
            &pid,
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        lossy(&out.stderr).contains("`account_id`"),
        "{}",
        lossy(&out.stderr)
    );
    let out = s
        .admin()
        .args([
            "acme",
            "account",
            "create",
            "--name",
            "x",
            "--directory",
            "http://ca.example/dir",
            "--agree-tos",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        lossy(&out.stderr).contains("`directory`"),
        "{}",
        lossy(&out.stderr)
    );
    let out = s
        .admin()
        .args(["order", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(lossy(&out.stderr).contains("no orders"));
    assert_eq!(s.json(&["order", "list"])["items"], serde_json::json!([]));
    let out = s
        .admin()
        .args(["cert", "revoke", &account, "--reason", "key-compromise"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        lossy(&out.stderr).contains("not found"),
        "{}",
        lossy(&out.stderr)
    );

    s.admin()
        .args(["acme", "dns-provider", "delete", &pid])
        .assert()
        .success();
    assert_eq!(
        s.json(&["acme", "dns-provider", "list"])["items"],
        serde_json::json!([])
    );
}

#[test]
fn help_snapshots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/help");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let mut seen = BTreeSet::new();
    let mut drift = Vec::new();
    let mut queue = vec![Vec::<String>::new()];
    while let Some(path) = queue.pop() {
        let out = bare_cli()
            .args(&path)
            .arg("--help")
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let help = lossy(&out);
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            queue.push(p);
        }
        let name = std::iter::once("certkeep".to_string())
            .chain(path.iter().cloned())
            .collect::<Vec<_>>()
            .join("-")
            + ".txt";
        let file = dir.join(&name);
        seen.insert(name.clone());
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &help).unwrap();
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(expected) if expected == help => {}
            Ok(expected) => drift.push(format!(
                "{name}: `certkeep {} --help` changed:\n{}",
                path.join(" "),
                line_diff(&expected, &help)
            )),
            Err(_) => drift.push(format!(
                "{name}: no snapshot for `certkeep {} --help`",
                path.join(" ")
            )),
        }
    }
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".txt") && !seen.contains(n))
                .collect()
        })
        .unwrap_or_default();
    if update {
        for n in &stale {
            std::fs::remove_file(dir.join(n)).unwrap();
        }
        return;
    }
    for n in stale {
        drift.push(format!("{n}: snapshot of a command that no longer exists"));
    }
    assert!(
        drift.is_empty(),
        "--help output drifted from crates/certkeep-cli/tests/help/ (other tools script against \
         these commands). If the change is intended, run\n  UPDATE_SNAPSHOTS=1 cargo test -p \
         certkeep-cli --test cli help_snapshots\nand review the diff.\n\n{}",
        drift.join("\n\n")
    );
}

/// Names in the `Commands:` section of a help text, without `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect()
}

fn line_diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.lines().collect();
    let a: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push_str(&format!("  -{x}\n"));
                }
                if let Some(y) = y {
                    out.push_str(&format!("  +{y}\n"));
                }
            }
        }
    }
    out
}

/// An https:// server whose certificate comes from a private CA: `--ca-file` (or
/// CERTKEEP_CA_FILE) makes the CLI trust it; without it the CLI says it cannot verify.
#[test]
fn https_server_with_a_private_ca_needs_ca_file() {
    let data = tempfile::tempdir().unwrap();
    let now = OffsetDateTime::now_utc();
    let ca = Ca::new_root(
        KeyKind::EcP256,
        "CLI TLS CA",
        now - Duration::days(1),
        now + Duration::days(30),
    )
    .unwrap();
    let leaf = ca
        .leaf(
            &LeafSpec::new(
                "localhost",
                now - Duration::days(1),
                now + Duration::days(30),
            )
            .dns(["localhost"]),
        )
        .unwrap();
    let cert = data.path().join("server.pem");
    let key = data.path().join("server.key");
    let ca_file = data.path().join("ca.pem");
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let server = Server::start_with(|c| {
        c.tls = Some(certkeep_server::config::TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        });
    });
    let (url, admin) = (server.url.clone(), server.admin.clone());

    let cli = || {
        let mut cmd = bare_cli();
        cmd.env("CERTKEEP_URL", &url).env("CERTKEEP_TOKEN", &admin);
        cmd
    };
    let out = cli()
        .args(["cert", "list"])
        .assert()
        .failure()
        .code(1)
        .get_output()
        .stderr
        .clone();
    assert!(
        lossy(&out).contains("cannot reach the server"),
        "{}",
        lossy(&out)
    );
    let out = cli()
        .args(["cert", "list", "--output", "json", "--ca-file"])
        .arg(&ca_file)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let page: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(page["items"], serde_json::json!([]));
    cli()
        .env("CERTKEEP_CA_FILE", &ca_file)
        .args(["cert", "list"])
        .assert()
        .success();
    let out = cli()
        .args(["cert", "list", "--ca-file"])
        .arg(data.path().join("missing.pem"))
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(
        lossy(&out).contains("cannot read the CA file"),
        "{}",
        lossy(&out)
    );
}

/// `cert notifications`: an entry's notification history (empty for a new one), and the
/// server's 404 for an unknown id.
#[test]
fn cert_notifications_lists_an_entrys_history() {
    let s = Server::start();
    let f = Fixtures::new("notes.example.com");
    let meta = s.import(&["--name", "notes", "--cert", &f.path("leaf.der")]);
    let page = s.json(&["cert", "notifications", &meta.id.to_string()]);
    assert_eq!(page["items"], serde_json::json!([]));
    let out = s
        .admin()
        .args([
            "cert",
            "notifications",
            "00000000-0000-0000-0000-000000000000",
        ])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    assert!(
        lossy(&out).contains("not found") || lossy(&out).contains("no certificate"),
        "{}",
        lossy(&out)
    );
}

/// `certkeep --output json order get ID` until the order is issued or failed (the server's
/// order job runs it in the background).
fn wait_for_order(s: &Server, id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let o = s.json(&["order", "get", id]);
        if o["status"] == "issued" || o["status"] == "failed" {
            return o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order {id} still {}",
            o["status"]
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[test]
fn ordering_renewing_and_revoking_from_the_cli_against_pebble() {
    use acme_peers::{Bind, EAB_HMAC, EAB_KID, Pebble, tools_available};
    if !tools_available() {
        return;
    }
    let bind = Bind::start();
    let pebble = Pebble::start(&bind, true, false);
    let http = format!("127.0.0.1:{}", pebble.http_port).parse().unwrap();
    let s = Server::start_with(|c| {
        c.acme_http_listen = Some(http);
        c.acme_dns_resolver = Some(bind.addr());
        c.acme_dns_port = bind.port;
    });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("pebble-root.pem");
    std::fs::write(&root, &pebble.tls_root_pem).unwrap();
    let hmac = dir.path().join("eab.key");
    std::fs::write(&hmac, format!("{EAB_HMAC}\n")).unwrap();
    let create = |extra: &[&str]| {
        let mut args = vec![
            "acme",
            "account",
            "create",
            "--name",
            "pebble",
            "--directory",
            pebble.directory_url.as_str(),
            "--contact",
            "ops@example.com",
            "--agree-tos",
            "--ca-root-file",
            root.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>()
    };

    // The CA requires External Account Binding: without it the CA's refusal is printed.
    let out = s
        .admin()
        .args(create(&[]))
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(
        lossy(&out.stderr).contains("the CA refused"),
        "{}",
        lossy(&out.stderr)
    );
    let mut with_eab = create(&["--eab-kid", EAB_KID, "--eab-hmac-key-file"]);
    with_eab.push(hmac.to_str().unwrap().to_string());
    with_eab.extend(["--output".to_string(), "json".to_string()]);
    let out = s
        .admin()
        .args(&with_eab)
        .assert()
        .success()
        .get_output()
        .clone();
    let account: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(account["name"], "pebble");
    assert_eq!(account["eab_kid"], EAB_KID);
    assert_eq!(account["custom_ca_root"], true);
    assert_eq!(account["directory_url"], pebble.directory_url.as_str());
    assert!(
        account["account_url"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:"),
        "{account}"
    );
    assert!(
        !account.to_string().contains(EAB_HMAC),
        "the MAC key is never shown"
    );
    let account_id = account["id"].as_str().unwrap().to_string();

    let updated = s.json(&[
        "acme",
        "account",
        "update",
        &account_id,
        "--name",
        "pebble-eab",
        "--contact",
        "security@example.com",
    ]);
    assert_eq!(updated["id"], account_id.as_str());
    assert_eq!(updated["name"], "pebble-eab");
    let contact = updated["contact"].to_string();
    assert!(
        contact.contains("security@example.com") && !contact.contains("ops@example.com"),
        "{updated}"
    );
    let listed = s.json(&["acme", "account", "list"]);
    assert_eq!(listed["items"][0]["name"], "pebble-eab");

    // Ordering: HTTP-01, answered by the server's challenge listener.
    let order = s.json(&[
        "cert",
        "order",
        "--name",
        "www",
        "--domain",
        "www.acme.test",
        "--domain",
        "api.acme.test",
        "--account",
        &account_id,
        "--challenge",
        "http-01",
        "--key-type",
        "rsa-2048",
        "--label",
        "env=test",
    ]);
    assert_eq!(order["name"], "www");
    assert_eq!(order["account_id"], account_id.as_str());
    assert_eq!(order["auto_renew"], true);
    let order_id = order["id"].as_str().unwrap().to_string();
    let done = wait_for_order(&s, &order_id);
    assert_eq!(done["status"], "issued", "{done}");
    assert!(done["failed_domain"].is_null(), "{done}");
    let cert_id = done["certificate_id"].as_str().unwrap().to_string();

    let list = s.json(&["order", "list"]);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], order_id.as_str());
    assert_eq!(items[0]["status"], "issued");
    let out = s
        .admin()
        .args(["order", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let table = lossy(&out);
    assert!(
        table.contains(&order_id) && table.contains("issued"),
        "{table}"
    );

    let v1 = s.json(&["cert", "get", &cert_id]);
    assert_eq!(v1["source"], "ordered");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["labels"]["env"], "test");
    let mut domains: Vec<String> = serde_json::from_value(v1["domains"].clone()).unwrap();
    domains.sort();
    assert_eq!(domains, ["api.acme.test", "www.acme.test"]);

    // Renewal by hand with a new key: a second version, another certificate.
    let renew = s.json(&["cert", "renew", &cert_id, "--rekey"]);
    assert_eq!(renew["renews_certificate_id"], cert_id.as_str());
    assert_eq!(renew["rekey"], true);
    let renewed = wait_for_order(&s, renew["id"].as_str().unwrap());
    assert_eq!(renewed["status"], "issued", "{renewed}");
    assert_eq!(renewed["certificate_id"], cert_id.as_str());
    let v2 = s.json(&["cert", "get", &cert_id]);
    assert_eq!(v2["version"], 2);
    assert_ne!(v2["fingerprint_sha256"], v1["fingerprint_sha256"]);
    assert_ne!(v2["serial"], v1["serial"]);
    assert_eq!(
        s.json(&["order", "list"])["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Automatic renewal off and on again.
    let state = s.json(&["cert", "renewal", &cert_id]);
    assert_eq!(state["auto_renew"], true, "{state}");
    let off = s.json(&["cert", "renewal", &cert_id, "--auto-renew", "off"]);
    assert_eq!(off["auto_renew"], false, "{off}");
    assert_eq!(s.json(&["cert", "renewal", &cert_id])["auto_renew"], false);
    let on = s.json(&["cert", "renewal", &cert_id, "--auto-renew", "on"]);
    assert_eq!(on["auto_renew"], true, "{on}");

    // Revocation at the CA, with the reason the CA records (RFC 5280 keyCompromise = 1).
    let serial = v2["serial"].as_str().unwrap().to_string();
    let revoked = s.json(&["cert", "revoke", &cert_id, "--reason", "key-compromise"]);
    assert_eq!(revoked["certificate_id"], cert_id.as_str());
    assert_eq!(revoked["version"], 2);
    assert_eq!(revoked["serial"], serial.as_str());
    assert_eq!(revoked["reason"], "key_compromise");
    let status: Value = serde_json::from_str(&s.block_on(pebble.cert_status(&serial))).unwrap();
    assert_eq!(status["Status"], "Revoked", "{status}");
    assert_eq!(status["Reason"], 1, "{status}");
    // The first version was not revoked.
    let serial1 = v1["serial"].as_str().unwrap();
    let status: Value = serde_json::from_str(&s.block_on(pebble.cert_status(serial1))).unwrap();
    assert_eq!(status["Status"], "Valid", "{status}");
}
