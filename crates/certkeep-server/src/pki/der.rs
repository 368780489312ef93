//! A minimal DER (and tolerant BER) reader and a DER writer for the few envelopes this module
//! takes apart or builds itself: key containers (PKCS#1, SEC1, PKCS#8), PKCS#7 certificate
//! bags, PBE parameters. Certificates themselves are parsed by x509-parser.

use std::borrow::Cow;
use std::fmt;

pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const CTX0: u8 = 0xa0;
pub(crate) const CTX1: u8 = 0xa1;

/// Why bytes are not (complete) DER. Display is the evidence shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DerError {
    Empty,
    Truncated { needed: usize, available: usize },
    BadLength,
    HighTagNumber,
    TooDeep,
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DerError::Empty => write!(f, "no data"),
            DerError::Truncated { needed, available } => write!(
                f,
                "truncated DER (an element needs {needed} bytes, only {available} are left)"
            ),
            DerError::BadLength => write!(f, "invalid DER length encoding"),
            DerError::HighTagNumber => write!(f, "unsupported multi-byte DER tag"),
            DerError::TooDeep => write!(f, "DER nesting too deep"),
        }
    }
}

/// One tag-length-value element. `raw` is the whole element including its header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    pub fn is(&self, tag: u8) -> bool {
        self.tag == tag
    }

    /// The children of a constructed element.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.value)
    }
}

/// Reads one element from the front of `input`; returns it and the bytes after it.
/// Indefinite lengths (BER) are accepted for constructed elements: `value` then spans the
/// children without the end-of-contents marker.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    read_depth(input, 0)
}

fn read_depth(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), DerError> {
    if depth > 32 {
        return Err(DerError::TooDeep);
    }
    let (&tag, rest) = input.split_first().ok_or(DerError::Empty)?;
    if tag & 0x1f == 0x1f {
        return Err(DerError::HighTagNumber);
    }
    let (&first, rest) = rest.split_first().ok_or(DerError::Truncated {
        needed: 2,
        available: 1,
    })?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else if first == 0x80 {
        // Indefinite length: only legal for constructed encodings (BER).
        if tag & 0x20 == 0 {
            return Err(DerError::BadLength);
        }
        let mut cursor = rest;
        loop {
            if cursor.len() >= 2 && cursor[0] == 0 && cursor[1] == 0 {
                let value_len = rest.len() - cursor.len();
                let header_len = input.len() - rest.len();
                let total = header_len + value_len + 2;
                return Ok((
                    Tlv {
                        tag,
                        value: &rest[..value_len],
                        raw: &input[..total],
                    },
                    &cursor[2..],
                ));
            }
            let (_, next) = read_depth(cursor, depth + 1)?;
            cursor = next;
        }
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return Err(DerError::BadLength);
        }
        if rest.len() < n {
            return Err(DerError::Truncated {
                needed: n,
                available: rest.len(),
            });
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(DerError::Truncated {
            needed: len,
            available: rest.len(),
        });
    }
    let header_len = input.len() - rest.len();
    Ok((
        Tlv {
            tag,
            value: &rest[..len],
            raw: &input[..header_len + len],
        },
        &rest[len..],
    ))
}

/// Sequential reader over the children of a constructed element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Reader { rest: input }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    pub fn next(&mut self) -> Result<Tlv<'a>, DerError> {
        let (tlv, rest) = read(self.rest)?;
        self.rest = rest;
        Ok(tlv)
    }

    /// The next element if it has `tag`, else `None` (nothing consumed).
    pub fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) {
            self.next().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The next element, which must have `tag`.
    pub fn expect(&mut self, tag: u8) -> Option<Tlv<'a>> {
        if self.peek_tag() != Some(tag) {
            return None;
        }
        self.next().ok()
    }
}

/// An INTEGER's content without leading zero bytes (the magnitude of a positive integer).
pub(crate) fn unsigned(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Bit length of an unsigned big-endian integer.
pub(crate) fn bit_len(bytes: &[u8]) -> u32 {
    let bytes = unsigned(bytes);
    match bytes.first() {
        None => 0,
        Some(first) => {
            let rest_bits = u32::try_from(bytes.len() - 1)
                .unwrap_or(u32::MAX / 16)
                .saturating_mul(8);
            rest_bits.saturating_add(8 - first.leading_zeros())
        }
    }
}

/// Small non-negative INTEGER content as u64 (None when negative or larger).
pub(crate) fn small_uint(bytes: &[u8]) -> Option<u64> {
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let mag = unsigned(bytes);
    if mag.len() > 8 {
        return None;
    }
    Some(mag.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Dotted text of an OID's content bytes (best effort on malformed input).
pub(crate) fn oid_to_string(content: &[u8]) -> String {
    let mut arcs: Vec<u128> = Vec::new();
    let mut acc: u128 = 0;
    for b in content {
        acc = (acc << 7) | u128::from(b & 0x7f);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        }
        if acc > (u128::MAX >> 8) {
            return format!("invalid-oid-{}", hex::encode(content));
        }
    }
    let mut out = String::new();
    if let Some(first) = arcs.first() {
        let (a, b) = match *first {
            x if x < 40 => (0, x),
            x if x < 80 => (1, x - 40),
            x => (2, x - 80),
        };
        out.push_str(&format!("{a}.{b}"));
        for arc in &arcs[1..] {
            out.push_str(&format!(".{arc}"));
        }
    }
    out
}

/// Contents of an OCTET STRING, primitive or (BER) constructed; also for `[0] IMPLICIT`.
pub(crate) fn octets(t: Tlv<'_>) -> Option<Cow<'_, [u8]>> {
    octets_depth(t, 0)
}

fn octets_depth(t: Tlv<'_>, depth: usize) -> Option<Cow<'_, [u8]>> {
    if t.tag & 0x20 == 0 {
        return Some(Cow::Borrowed(t.value));
    }
    // Real files chunk one level deep; a deeper nesting is hostile.
    if depth > 8 {
        return None;
    }
    let mut out = Vec::new();
    let mut r = t.reader();
    while !r.is_empty() {
        let child = r.next().ok()?;
        out.extend_from_slice(&octets_depth(child, depth + 1)?);
    }
    Some(Cow::Owned(out))
}

// ---- writer ----

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        let n = bytes.len() - skip;
        out.push(0x80 | n as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Encodes one element.
pub(crate) fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    out.push(tag);
    push_len(&mut out, value.len());
    out.extend_from_slice(value);
    out
}

/// Encodes a constructed element from already-encoded children.
pub(crate) fn constructed(tag: u8, children: &[&[u8]]) -> Vec<u8> {
    let len: usize = children.iter().map(|c| c.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    push_len(&mut out, len);
    for c in children {
        out.extend_from_slice(c);
    }
    out
}

/// Encodes a non-negative INTEGER from big-endian magnitude bytes.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let mag = unsigned(magnitude);
    let mut content = Vec::with_capacity(mag.len() + 1);
    if mag.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(mag);
    tlv(INTEGER, &content)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn reads_definite_and_indefinite() {
        let der = [0x30, 0x03, 0x02, 0x01, 0x05];
        let (t, rest) = read(&der).unwrap();
        assert_eq!(t.tag, SEQUENCE);
        assert_eq!(t.value, &[0x02, 0x01, 0x05]);
        assert!(rest.is_empty());
        let ber = [0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00, 0xff];
        let (t, rest) = read(&ber).unwrap();
        assert_eq!(t.value, &[0x02, 0x01, 0x05]);
        assert_eq!(t.raw.len(), 7);
        assert_eq!(rest, &[0xff]);
    }

    #[test]
    fn truncation_is_reported() {
        let err = read(&[0x30, 0x82, 0x01, 0x00, 0x01]).unwrap_err();
        assert_eq!(
            err,
            DerError::Truncated {
                needed: 256,
                available: 1
            }
        );
        assert!(err.to_string().contains("truncated DER"));
    }

    #[test]
    fn oid_text_and_integers() {
        assert_eq!(
            oid_to_string(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
            "1.2.840.10045.3.1.7"
        );
        assert_eq!(oid_to_string(&[0x2b, 0x65, 0x70]), "1.3.101.112");
        assert_eq!(bit_len(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_len(&[0x01, 0x00]), 9);
        assert_eq!(uint(&[0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(uint(&[0x00, 0x7f]), vec![0x02, 0x01, 0x7f]);
        assert_eq!(small_uint(&[0x01, 0x00]), Some(256));
        assert_eq!(tlv(OCTET_STRING, &[0u8; 200])[..3], [0x04, 0x81, 200]);
    }
}
