//! Tolerant reading of PEM text as real tools write it: CRLF or CR line endings, text before,
//! between and after blocks (`openssl x509 -text` output, PKCS#12 "Bag Attributes"), RFC 1421
//! headers (`Proc-Type`, `DEK-Info`), missing base64 padding, stray whitespace. Also 64-column
//! PEM writing.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// One decoded PEM block. `index` is 1-based in the order of the input.
#[derive(Debug)]
pub(crate) struct PemBlock {
    pub index: usize,
    pub label: String,
    pub headers: Vec<(String, String)>,
    pub der: Vec<u8>,
}

impl PemBlock {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// True when the bytes contain a PEM BEGIN line.
pub(crate) fn looks_like_pem(input: &[u8]) -> bool {
    find(input, b"-----BEGIN ").is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// All blocks of `input`. `field` names the input in errors (e.g. "`certificate`").
pub(crate) fn parse(input: &[u8], field: &str) -> Result<Vec<PemBlock>, String> {
    let mut blocks = Vec::new();
    let mut rest = input;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let index = blocks.len() + 1;
        let after_begin = &rest[start + b"-----BEGIN ".len()..];
        let line_end = after_begin
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
            .unwrap_or(after_begin.len());
        let begin_line = &after_begin[..line_end];
        let label_end = find(begin_line, b"-----").ok_or_else(|| {
            format!("PEM block {index} in {field}: malformed BEGIN line (no closing dashes)")
        })?;
        let label = String::from_utf8_lossy(&begin_line[..label_end])
            .trim()
            .to_string();
        let body_and_rest = &after_begin[line_end..];
        let end_pos = find(body_and_rest, b"-----END").ok_or_else(|| {
            format!("PEM block {index} ({label}) in {field} has no END line: the text is truncated")
        })?;
        let body = &body_and_rest[..end_pos];
        let after_end = &body_and_rest[end_pos + b"-----END".len()..];
        let end_line_len = after_end
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
            .unwrap_or(after_end.len());
        let end_line = &after_end[..end_line_len];
        let end_label = String::from_utf8_lossy(end_line)
            .trim()
            .trim_end_matches('-')
            .trim()
            .to_string();
        if !end_label.is_empty() && end_label != label {
            return Err(format!(
                "PEM block {index} in {field} begins as {label} but ends as {end_label}"
            ));
        }
        let (headers, der) = decode_body(body)
            .map_err(|e| format!("PEM block {index} ({label}) in {field}: {e}"))?;
        blocks.push(PemBlock {
            index,
            label,
            headers,
            der,
        });
        rest = &after_end[end_line_len..];
    }
    Ok(blocks)
}

type Headers = Vec<(String, String)>;

fn decode_body(body: &[u8]) -> Result<(Headers, Vec<u8>), String> {
    let mut headers: Headers = Vec::new();
    let mut b64 = Vec::with_capacity(body.len());
    for (line_no, line) in body.split(|b| *b == b'\n' || *b == b'\r').enumerate() {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            continue;
        }
        // RFC 1421 headers precede the data; base64 never contains ':'.
        if b64.is_empty()
            && let Some(colon) = trimmed.iter().position(|b| *b == b':')
        {
            let key = String::from_utf8_lossy(&trimmed[..colon])
                .trim()
                .to_string();
            let value = String::from_utf8_lossy(&trimmed[colon + 1..])
                .trim()
                .to_string();
            headers.push((key, value));
            continue;
        }
        for (col, b) in trimmed.iter().enumerate() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => b64.push(*b),
                b' ' | b'\t' => {}
                other => {
                    return Err(format!(
                        "invalid base64 character {:?} at body line {}, column {}",
                        char::from(*other),
                        line_no,
                        col + 1
                    ));
                }
            }
        }
    }
    // Padding in the middle (concatenated base64) is not valid; strip only trailing '='.
    let data_end = b64.iter().rposition(|b| *b != b'=').map_or(0, |p| p + 1);
    if b64[..data_end].contains(&b'=') {
        return Err("invalid base64 ('=' padding inside the data)".into());
    }
    let der = LENIENT
        .decode(&b64[..data_end])
        .map_err(|e| format!("invalid base64 ({e})"))?;
    if der.is_empty() {
        return Err("the block is empty".into());
    }
    Ok((headers, der))
}

/// 64-column PEM with a trailing newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trip_and_tolerance() {
        let der: Vec<u8> = (0u8..=200).collect();
        let pem = encode("CERTIFICATE", &der);
        assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
        assert!(pem.lines().all(|l| l.len() <= 64));
        let noisy = format!(
            "Bag Attributes\r\n    localKeyID: 01 02\r\nsubject=CN = x\r\n{}\r\ntrailing text",
            pem.replace('\n', "\r\n")
        );
        let blocks = parse(noisy.as_bytes(), "`certificate`").unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(blocks[0].der, der);
    }

    #[test]
    fn headers_and_errors() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        let blocks = parse(text.as_bytes(), "`private_key`").unwrap();
        assert_eq!(blocks[0].header("proc-type"), Some("4,ENCRYPTED"));
        assert_eq!(
            blocks[0].header("DEK-Info"),
            Some("AES-256-CBC,00112233445566778899AABBCCDDEEFF")
        );
        assert_eq!(blocks[0].der, vec![0, 1, 2]);

        let truncated = "-----BEGIN CERTIFICATE-----\nAAEC\n";
        let err = parse(truncated.as_bytes(), "`certificate`").unwrap_err();
        assert!(err.contains("no END line"), "{err}");
        let bad = "-----BEGIN CERTIFICATE-----\nAA!C\n-----END CERTIFICATE-----\n";
        let err = parse(bad.as_bytes(), "`certificate`").unwrap_err();
        assert!(err.contains("invalid base64"), "{err}");
        let mismatched = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END PRIVATE KEY-----\n";
        assert!(parse(mismatched.as_bytes(), "`x`").is_err());
    }
}
