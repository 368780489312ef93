//! Local inputs: certificate material, passwords, the token and labels, read from files or
//! stdin (`-`, at most once per command) and encoded the way the API expects.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use base64::Engine;
use certkeep_api::MAX_INPUT_BYTES;

use crate::args::{MaterialArgs, PasswordArgs};
use crate::error::CliError;

/// Certificate material as the API's `certificate`, `private_key` and `chain` fields want it.
/// No `Debug`: it holds the private key and its password.
pub struct Material {
    pub certificate: String,
    pub private_key: Option<String>,
    pub chain: Vec<String>,
    pub password: Option<String>,
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Refuse a command that would read stdin twice: the second read would silently get nothing.
pub fn check_single_stdin<'a>(
    inputs: impl IntoIterator<Item = (&'a str, &'a Path)>,
) -> Result<(), CliError> {
    let from_stdin: Vec<&str> = inputs
        .into_iter()
        .filter(|(_, p)| is_stdin(p))
        .map(|(what, _)| what)
        .collect();
    if from_stdin.len() > 1 {
        return Err(CliError::local(format!(
            "only one input may be read from stdin (`-`), but {} all are",
            from_stdin.join(", ")
        )));
    }
    Ok(())
}

/// Read a file (or stdin for `-`), refusing more than `limit` bytes.
pub fn read_input(what: &str, path: &Path, limit: usize) -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let result = if is_stdin(path) {
        std::io::stdin().lock().take(cap).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(cap).read_to_end(&mut buf))
    };
    let shown = if is_stdin(path) {
        "stdin".to_string()
    } else {
        path.display().to_string()
    };
    result.map_err(|e| CliError::local(format!("cannot read {what} from {shown}: {e}")))?;
    if buf.len() > limit {
        return Err(CliError::local(format!(
            "{what} {shown} is larger than {limit} bytes, the limit for one input"
        )));
    }
    Ok(buf)
}

/// PEM text goes as is; anything else (DER, PKCS#12) as standard base64 — the API's contract.
pub fn encode_material(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN") => text.to_string(),
        _ => base64::engine::general_purpose::STANDARD.encode(bytes),
    }
}

impl Material {
    pub fn read(args: &MaterialArgs) -> Result<Material, CliError> {
        let mut inputs: Vec<(&str, &Path)> = vec![("--cert", args.cert.as_path())];
        if let Some(k) = &args.key {
            inputs.push(("--key", k.as_path()));
        }
        for c in &args.chain {
            inputs.push(("--chain", c.as_path()));
        }
        if let Some(p) = &args.password.password_file {
            inputs.push(("--password-file", p.as_path()));
        }
        check_single_stdin(inputs)?;

        let certificate = encode_material(&read_input("certificate", &args.cert, MAX_INPUT_BYTES)?);
        let private_key = args
            .key
            .as_deref()
            .map(|k| read_input("private key", k, MAX_INPUT_BYTES).map(|b| encode_material(&b)))
            .transpose()?;
        let chain = args
            .chain
            .iter()
            .map(|c| {
                read_input("chain certificate", c, MAX_INPUT_BYTES).map(|b| encode_material(&b))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Material {
            certificate,
            private_key,
            chain,
            password: read_password(&args.password)?,
        })
    }
}

/// The password given inline or in a file (one trailing line ending dropped, nothing else:
/// passwords may contain spaces).
pub fn read_password(args: &PasswordArgs) -> Result<Option<String>, CliError> {
    if let Some(p) = &args.password {
        return Ok(Some(p.clone()));
    }
    let Some(path) = &args.password_file else {
        return Ok(None);
    };
    let bytes = read_input("password", path, 64 * 1024)?;
    let mut text = String::from_utf8(bytes).map_err(|_| {
        CliError::local(format!(
            "password file {} is not UTF-8 text",
            path.display()
        ))
    })?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Some(text))
}

/// A secret from a file: the whole text with `trim` (tokens, keys: surrounding whitespace is
/// never part of them), or with one trailing line ending dropped (passwords may contain spaces).
pub fn read_secret_file(what: &str, path: &Path, trim: bool) -> Result<String, CliError> {
    let bytes = read_input(what, path, 64 * 1024)?;
    let shown = if is_stdin(path) {
        "stdin".to_string()
    } else {
        path.display().to_string()
    };
    let mut text = String::from_utf8(bytes)
        .map_err(|_| CliError::local(format!("{what} from {shown} is not UTF-8 text")))?;
    if trim {
        text = text.trim().to_string();
    } else if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(CliError::local(format!("{what} from {shown} is empty")));
    }
    Ok(text)
}

/// The token from `--token-file`: the file's text without surrounding whitespace.
pub fn read_token_file(path: &Path) -> Result<String, CliError> {
    let bytes = read_input("token", path, 64 * 1024)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::local(format!("token file {} is not UTF-8 text", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::local(format!(
            "token file {} is empty",
            path.display()
        )));
    }
    Ok(token.to_string())
}

/// `--label k=v` options as a map; a repeated key is a mistake, not a silent overwrite.
pub fn parse_labels(labels: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut map = BTreeMap::new();
    for l in labels {
        let Some((k, v)) = l.split_once('=') else {
            return Err(CliError::local(format!("--label `{l}` must be key=value")));
        };
        if k.is_empty() {
            return Err(CliError::local(format!("--label `{l}` has an empty key")));
        }
        if map.insert(k.to_string(), v.to_string()).is_some() {
            return Err(CliError::local(format!("--label key `{k}` is given twice")));
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_goes_as_text_and_binary_as_base64() {
        let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(encode_material(pem), String::from_utf8_lossy(pem));
        assert_eq!(encode_material(&[0x30, 0x82, 0xff]), "MIL/");
        // UTF-8 text without a PEM header (e.g. base64 someone pasted) is still binary to us.
        assert_eq!(encode_material(b"abc"), "YWJj");
    }

    #[test]
    fn labels_parse_and_reject_mistakes() {
        let m = parse_labels(&["env=prod".into(), "team=a=b".into(), "empty=".into()]);
        let m = m.ok().unwrap_or_default();
        assert_eq!(m.get("env").map(String::as_str), Some("prod"));
        assert_eq!(m.get("team").map(String::as_str), Some("a=b"));
        assert_eq!(m.get("empty").map(String::as_str), Some(""));
        assert!(parse_labels(&["novalue".into()]).is_err());
        assert!(parse_labels(&["=v".into()]).is_err());
        assert!(parse_labels(&["a=1".into(), "a=2".into()]).is_err());
    }

    #[test]
    fn stdin_only_once() {
        let dash = Path::new("-");
        let file = Path::new("a.pem");
        assert!(check_single_stdin([("--cert", dash), ("--key", file)]).is_ok());
        assert!(check_single_stdin([("--cert", dash), ("--key", dash)]).is_err());
    }
}
