//! How results reach stdout: the API's JSON objects pretty-printed, or aligned tables and
//! key/value blocks for people. Cell text comes from the server (names, subjects, labels), so
//! control characters are escaped before they reach a terminal.

use std::io::Write;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::CliError;

/// Write `text` to stdout as is.
pub fn print_raw(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).map_err(CliError::stdout)?;
    out.flush().map_err(CliError::stdout)
}

pub fn print_text(text: &str) -> Result<(), CliError> {
    print_raw(text.as_bytes())
}

/// Print an API object as pretty JSON followed by a newline.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::local(format!("cannot render JSON: {e}")))?;
    text.push('\n');
    print_text(&text)
}

/// Progress and hints for people: stderr, so stdout stays parseable.
pub fn note(message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{message}");
}

/// Columns of cells, rendered with every column as wide as its widest cell.
#[derive(Debug)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| sanitize(c)).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let header: Vec<String> = self.headers.iter().map(|h| (*h).to_string()).collect();
        let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                match widths.get_mut(i) {
                    Some(w) => *w = (*w).max(width(cell)),
                    None => widths.push(width(cell)),
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&header).chain(self.rows.iter()) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(width(cell));
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `key:  value` lines with the values aligned.
#[derive(Debug, Default)]
pub struct KeyValues {
    pairs: Vec<(&'static str, String)>,
}

impl KeyValues {
    pub fn new() -> KeyValues {
        KeyValues::default()
    }

    pub fn add(&mut self, key: &'static str, value: impl AsRef<str>) -> &mut KeyValues {
        self.pairs.push((key, sanitize(value.as_ref())));
        self
    }

    pub fn render(&self) -> String {
        let w = self.pairs.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
        let mut out = String::new();
        for (k, v) in &self.pairs {
            let line = format!("{:<w$}  {v}", format!("{k}:"), w = w + 1);
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Escape control characters (newlines, ANSI escapes) so a hostile name cannot rewrite the
/// terminal or break the table's lines.
pub fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 3339 to the second: tables are for people and keep their columns even; JSON output
/// carries the exact values.
pub fn time(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

pub fn opt_time(t: Option<OffsetDateTime>) -> String {
    t.map(time).unwrap_or_else(|| "-".into())
}

pub fn opt_str(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| "-".into())
}

pub fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_without_trailing_spaces() {
        let mut t = Table::new(&["ID", "NAME", "X"]);
        t.row(vec!["1".into(), "a-long-name".into(), "".into()]);
        t.row(vec!["22".into(), "b".into(), "z".into()]);
        assert_eq!(
            t.render(),
            "ID  NAME         X\n1   a-long-name\n22  b            z\n"
        );
    }

    #[test]
    fn control_characters_are_escaped() {
        let mut t = Table::new(&["NAME"]);
        t.row(vec!["evil\n\u{1b}[31mred".into()]);
        assert_eq!(t.render(), "NAME\nevil\\n\\u{1b}[31mred\n");
    }

    #[test]
    fn key_values_align() {
        let mut kv = KeyValues::new();
        kv.add("id", "1").add("name", "n");
        assert_eq!(kv.render(), "id:    1\nname:  n\n");
    }
}
