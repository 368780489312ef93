//! Tests of the pki module: generated fixtures (certkeep-testkit), real-world variants made by
//! the `openssl` CLI (which must be installed: those tests fail without it), and robustness
//! against mutated input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bundle;
mod openssl;
mod robustness;

use std::path::PathBuf;
use std::process::Command;

use certkeep_testkit::{Ca, Issued, KeyKind, LeafSpec};
use time::{Duration, OffsetDateTime};

use super::{Bundle, BundleInput, PkiError, parse_bundle};

/// A root, an intermediate and a leaf (P-256 unless told otherwise).
pub(super) struct Pki {
    pub root: Ca,
    pub int: Ca,
    pub leaf: Issued,
    pub now: OffsetDateTime,
}

pub(super) fn pki(leaf_key: KeyKind) -> Pki {
    let now = OffsetDateTime::now_utc();
    let (nb, na) = (now - Duration::days(1), now + Duration::days(365));
    let root = Ca::new_root(KeyKind::EcP384, "Test Root", nb, na).unwrap();
    let int = root
        .intermediate(KeyKind::EcP256, "Test Int", nb, na)
        .unwrap();
    let leaf = int
        .leaf(
            &LeafSpec::new("www.example.com", nb, now + Duration::days(90))
                .dns(["www.example.com", "example.com"])
                .ip("192.0.2.7".parse().unwrap())
                .ip("2001:db8::1".parse().unwrap())
                .key(leaf_key),
        )
        .unwrap();
    Pki {
        root,
        int,
        leaf,
        now,
    }
}

pub(super) fn parse(
    cert: &[u8],
    key: Option<&[u8]>,
    chain: &[&[u8]],
    pw: Option<&str>,
) -> Result<Bundle, PkiError> {
    parse_bundle(&BundleInput {
        certificate: cert,
        private_key: key,
        chain,
        password: pw,
    })
}

pub(super) fn err_text(r: Result<Bundle, PkiError>) -> String {
    match r {
        Ok(b) => panic!("expected an error, got a bundle for {}", b.info.subject),
        Err(e) => e.to_string(),
    }
}

/// A scratch directory in which `openssl` runs. Missing `openssl` fails the test.
pub(super) struct Ossl {
    dir: tempfile::TempDir,
}

impl Ossl {
    pub fn new() -> Ossl {
        Ossl {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `openssl ARGS` in the scratch directory; panics with its stderr on failure.
    pub fn run(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("the openssl binary is required for this test: {e}"));
        assert!(
            out.status.success(),
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs one openssl command line: arguments split on spaces, '...' quotes one argument.
    pub fn sh(&self, line: &str) {
        let args = split_args(line);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&refs);
    }

    /// Like `sh`, returning stdout.
    pub fn sh_out(&self, line: &str) -> Vec<u8> {
        let args = split_args(line);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.output(&refs)
    }

    /// Like `run`, returning stdout.
    pub fn output(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("the openssl binary is required for this test: {e}"));
        assert!(
            out.status.success(),
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap_or_else(|e| panic!("reading {name}: {e}"))
    }

    pub fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.path(name), data).unwrap();
    }
}

fn split_args(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(current);
    }
    args
}
