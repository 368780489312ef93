//! `certkeepd --config FILE`: settings from TOML under the environment and the flags.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Start `certkeepd` with `args` and `env`; the address it listens on, or its error output if
/// it exits instead.
fn start(args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certkeepd"));
    cmd.args(args)
        .env_remove("CERTKEEP_LISTEN")
        .env_remove("CERTKEEP_CONFIG")
        .env("CERTKEEP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("certkeepd: listening on ") {
            child.kill().unwrap();
            child.wait().unwrap();
            return Ok(addr.trim().to_string());
        }
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    Err(err)
}

#[test]
fn settings_come_from_the_file_under_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("certkeep.toml");
    let write = |extra: &str| {
        std::fs::write(
            &file,
            format!(
                "# certkeepd settings\ndata_dir = {:?}\nsweep-interval-secs = 60\n{extra}\n",
                data.display().to_string()
            ),
        )
        .unwrap();
    };
    let config = file.to_str().unwrap();

    write("listen = \"127.0.0.1:0\"");
    let addr = start(&["--config", config], &[]).unwrap();
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");
    assert!(
        data.join("certkeep.db").exists(),
        "data_dir came from the file"
    );
    // The environment names the file just as well.
    let addr = start(&[], &[("CERTKEEP_CONFIG", config)]).unwrap();
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");

    // A public address from the file is refused without TLS…
    write("listen = \"0.0.0.0:0\"");
    let err = start(&[&format!("--config={config}")], &[]).unwrap_err();
    assert!(err.contains("refusing to serve plain HTTP"), "{err}");
    // …unless the environment or a flag overrides it.
    let addr = start(&["--config", config], &[("CERTKEEP_LISTEN", "127.0.0.1:0")]).unwrap();
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");
    let addr = start(&["--config", config, "--listen", "127.0.0.1:0"], &[]).unwrap();
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");
    // Booleans switch flags on.
    write("listen = \"0.0.0.0:0\"\ndanger_allow_plaintext_non_loopback = true");
    let addr = start(&["--config", config], &[]).unwrap();
    assert!(addr.starts_with("http://0.0.0.0:"), "{addr}");

    // What is wrong in the file is named.
    write("colour = \"blue\"");
    let err = start(&["--config", config], &[]).unwrap_err();
    assert!(err.contains("unknown setting `colour`"), "{err}");
    assert!(
        err.contains("sweep_interval_secs"),
        "the known settings are listed: {err}"
    );
    write("listen = [\"127.0.0.1:0\"]");
    let err = start(&["--config", config], &[]).unwrap_err();
    assert!(err.contains("`listen` must be a string"), "{err}");
    write("sweep_interval_secs = 0\nlisten = \"127.0.0.1:0\"");
    let err = start(&["--config", config], &[]).unwrap_err();
    assert!(err.contains("sweep-interval-secs"), "{err}");
    std::fs::write(&file, "listen = ").unwrap();
    let err = start(&["--config", config], &[]).unwrap_err();
    assert!(err.contains("is not valid TOML"), "{err}");
    write("tls_cert_file = \"/nonexistent.pem\"\nlisten = \"127.0.0.1:0\"");
    let err = start(&["--config", config], &[]).unwrap_err();
    assert!(err.contains("tls-cert-file needs tls-key-file"), "{err}");
    let err = start(
        &[
            "--config",
            &dir.path().join("missing.toml").display().to_string(),
        ],
        &[],
    )
    .unwrap_err();
    assert!(err.contains("cannot read the configuration file"), "{err}");
}
