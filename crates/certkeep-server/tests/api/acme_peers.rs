//! Real ACME peers on loopback for the ordering tests: Debian's Pebble (a test ACME CA, with
//! `PEBBLE_VA_NOSLEEP=1` but real validation) and BIND 9 (an authoritative zone `acme.test`
//! taking RFC 2136 updates signed with a TSIG key). Each test starts its own, on free ports,
//! and they stop when dropped. Pebble resolves through that BIND (`-dnsserver`).
//!
//! `pebble`, `named`, `dig` and `openssl` must be there when `CI=true` (a missing one fails the
//! test); elsewhere a missing tool skips the test with a loud message.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

pub const ZONE: &str = "acme.test";
pub const TSIG_KEY_NAME: &str = "certkeep-update";
/// A Pebble EAB key id and its MAC key (base64url), as in Pebble's example configuration.
pub const EAB_KID: &str = "kid-1";
pub const EAB_HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
/// A name Pebble refuses to issue for.
pub const BLOCKED_DOMAIN: &str = "blocked.acme.test";

/// `true` when every tool is there; otherwise a failure under `CI=true`, else a loud skip.
pub fn tools_available() -> bool {
    let missing: Vec<&str> = ["pebble", "named", "dig", "nsupdate", "openssl"]
        .into_iter()
        .filter(|t| which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{missing:?} missing and CI=true: scripts/test.sh installs them (pebble, bind9, bind9-dnsutils)"
        );
    }
    eprintln!(
        "\n*** SKIPPED: {missing:?} missing (scripts/test.sh installs pebble, bind9, bind9-dnsutils; CI fails without them) ***\n"
    );
    false
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// A port for a peer told its port before it starts (Pebble, BIND, the browser driver, the
/// server's HTTP-01 listener), free on TCP and UDP now. Not from the kernel's ephemeral range
/// (32768–60999 here): a port probed there can be handed to another test's `bind(0)` or
/// outgoing connection before the peer binds it (seen: the server's HTTP-01 listener failing
/// to bind, so a test's server stopped). Each is handed out once per test process, from a
/// random start so that concurrent test processes rarely meet.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let _ = NEXT.compare_exchange(
        0,
        1 + std::process::id() as u16 % SPAN,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..SPAN {
        let port = FIRST + NEXT.fetch_add(1, Ordering::SeqCst) % SPAN;
        if TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN)
}

fn wait_for_tcp(addr: SocketAddr, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early ({status})");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A BIND instance serving `acme.test`: A records to 127.0.0.1 for every name, updates
/// allowed with the TSIG key.
pub struct Bind {
    _proc: Guard,
    pub port: u16,
    /// The TSIG secret (base64), as in `secret "…";`.
    pub tsig_secret: String,
    _dir: tempfile::TempDir,
}

impl Bind {
    pub fn start() -> Bind {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut raw = [0u8; 32];
        aws_lc_rs::rand::fill(&mut raw).unwrap();
        let secret = base64::engine::general_purpose::STANDARD.encode(raw);
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("named.conf"),
            format!(
                r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    allow-query {{ any; }};
    notify no;
}};
controls {{ }};
key "{TSIG_KEY_NAME}" {{
    algorithm hmac-sha256;
    secret "{secret}";
}};
zone "{ZONE}" {{
    type primary;
    file "{d}/{ZONE}.zone";
    allow-update {{ key "{TSIG_KEY_NAME}"; }};
}};
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("{ZONE}.zone")),
            format!(
                "$TTL 60\n\
                 @ IN SOA ns.{ZONE}. admin.{ZONE}. 1 60 60 600 60\n\
                 @ IN NS ns.{ZONE}.\n\
                 ns IN A 127.0.0.1\n\
                 @ IN A 127.0.0.1\n\
                 * IN A 127.0.0.1\n"
            ),
        )
        .unwrap();
        let mut child = Command::new(which("named").unwrap())
            .args(["-g", "-c"])
            .arg(dir.path().join("named.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_tcp(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "named",
            &mut child,
        );
        let bind = Bind {
            _proc: Guard(child),
            port,
            tsig_secret: secret,
            _dir: dir,
        };
        // The zone is loaded once it answers for its SOA.
        let deadline = Instant::now() + Duration::from_secs(30);
        while bind.dig("SOA", ZONE).is_empty() {
            assert!(Instant::now() < deadline, "named did not load {ZONE}");
            std::thread::sleep(Duration::from_millis(50));
        }
        bind
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Change the zone with `nsupdate` (TSIG-signed), e.g. `update add x.acme.test 60 A 127.0.0.2`.
    pub fn nsupdate(&self, update: &str) {
        use std::io::Write;
        let mut child = Command::new(which("nsupdate").unwrap())
            .args([
                "-y",
                &format!("hmac-sha256:{TSIG_KEY_NAME}:{}", self.tsig_secret),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        write!(
            child.stdin.take().unwrap(),
            "server 127.0.0.1 {}\nzone {ZONE}\n{update}\nsend\n",
            self.port
        )
        .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "nsupdate {update:?} failed"
        );
    }

    /// `dig +short` of `rtype` `name` at this server.
    pub fn dig(&self, rtype: &str, name: &str) -> String {
        let out = Command::new(which("dig").unwrap())
            .args([
                "@127.0.0.1",
                "-p",
                &self.port.to_string(),
                "+short",
                "+norecurse",
                "+time=2",
                "+tries=1",
                rtype,
                name,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// A Pebble CA resolving names through `dns`.
pub struct Pebble {
    _proc: Guard,
    pub directory_url: String,
    management: SocketAddr,
    /// The root of Pebble's own HTTPS listener (the account's `ca_root_pem`).
    pub tls_root_pem: String,
    /// The listener's certificate and key, for a stub that must be trusted the same way.
    pub tls_cert_pem: String,
    pub tls_key_pem: String,
    /// Where it connects for HTTP-01 (certkeep's challenge listener must be here).
    pub http_port: u16,
    _dir: tempfile::TempDir,
}

impl Pebble {
    /// `reject_nonces`: keep Pebble's deliberate `badNonce` answers (5 % of requests), as real CAs send some.
    pub fn start(dns: &Bind, eab_required: bool, reject_nonces: bool) -> Pebble {
        Pebble::start_with_validity(dns, eab_required, reject_nonces, None)
    }

    /// As [`Pebble::start`], issuing certificates valid for `validity_seconds` (Pebble's
    /// default is five years).
    pub fn start_with_validity(
        dns: &Bind,
        eab_required: bool,
        reject_nonces: bool,
        validity_seconds: Option<u64>,
    ) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let (tls_root_pem, cert, key) = tls_identity();
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), &key).unwrap();
        let (port, mgmt, http_port, tls_port) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{port}"),
                "managementListenAddress": format!("127.0.0.1:{mgmt}"),
                "certificate": dir.path().join("cert.pem"),
                "privateKey": dir.path().join("key.pem"),
                "httpPort": http_port,
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": eab_required,
                "externalAccountMACKeys": { EAB_KID: EAB_HMAC },
                "domainBlocklist": [BLOCKED_DOMAIN],
            }
        });
        let mut config = config;
        if let Some(v) = validity_seconds {
            config["pebble"]["certificateValidityPeriod"] = v.into();
        }
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let mut child = Command::new(which("pebble").unwrap())
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns.addr().to_string()])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env(
                "PEBBLE_WFE_NONCEREJECT",
                if reject_nonces { "5" } else { "0" },
            )
            // Orders validate again: a renewal must not pass on an old authorization. Pebble
            // still reuses one 1 % of the time at 0 (a fresh one only when
            // `rand.Intn(100) > 0`): tests that need a failing validation deactivate the
            // account's valid authorizations first (acme.rs `deactivate_authorizations`).
            .env("PEBBLE_AUTHZREUSE", "0")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_tcp(
            SocketAddr::from(([127, 0, 0, 1], port)),
            "pebble",
            &mut child,
        );
        wait_for_tcp(
            SocketAddr::from(([127, 0, 0, 1], mgmt)),
            "pebble management",
            &mut child,
        );
        Pebble {
            _proc: Guard(child),
            directory_url: format!("https://127.0.0.1:{port}/dir"),
            management: SocketAddr::from(([127, 0, 0, 1], mgmt)),
            tls_root_pem,
            tls_cert_pem: cert,
            tls_key_pem: key,
            http_port,
            _dir: dir,
        }
    }

    /// What Pebble's management interface says of the certificate with `serial` (hex).
    pub async fn cert_status(&self, serial: &str) -> String {
        self.get_text(&format!(
            "https://{}/cert-status-by-serial/{serial}",
            self.management
        ))
        .await
    }

    /// GET `url` from Pebble, trusting its listener's root.
    pub async fn get_text(&self, url: &str) -> String {
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(self.tls_root_pem.as_bytes()).unwrap()])
            .build()
            .unwrap();
        http.get(url).send().await.unwrap().text().await.unwrap()
    }

    /// The root that signs the certificates Pebble issues (it changes on every start).
    pub async fn issuing_root_pem(&self) -> String {
        self.get_text(&format!("https://{}/roots/0", self.management))
            .await
    }
}

/// A throwaway CA and a `localhost`/127.0.0.1 certificate it signed: (CA PEM, cert PEM, key PEM).
fn tls_identity() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "pebble listener test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), key.serialize_pem())
}

/// `openssl verify` of `leaf_pem` with `chain_pem` as untrusted intermediates and `root_pem`
/// as the only trust anchor: Ok, or openssl's complaint.
pub fn openssl_verify(
    dir: &Path,
    root_pem: &str,
    chain_pem: &str,
    leaf_pem: &str,
) -> Result<(), String> {
    let root = dir.join("root.pem");
    let chain = dir.join("chain.pem");
    let leaf = dir.join("leaf.pem");
    std::fs::write(&root, root_pem).unwrap();
    std::fs::write(&chain, chain_pem).unwrap();
    std::fs::write(&leaf, leaf_pem).unwrap();
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg("-untrusted")
        .arg(&chain)
        .arg(&leaf)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
