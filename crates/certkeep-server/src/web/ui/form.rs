//! Reading posted forms (optional text, lists, `key=value` labels) and putting a refused
//! form's message next to the field it is about.

use std::collections::BTreeMap;

/// The trimmed text, or `None` when it is empty.
pub fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Items separated by commas, spaces or new lines.
pub fn list_of(s: &str) -> Vec<String> {
    s.split([',', '\n', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Labels as a form shows them: one `key=value` a line.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `key=value` lines (or comma-separated) into labels.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, part) in text
        .split(['\n', ','])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("label {} ({part:?}) is not key=value", i + 1))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Which form field a message is about: the first field one of whose clues the message
/// contains (compared in lower case).
pub type Clues<'a> = &'a [(&'static str, &'a [&'a str])];

/// A refused form's message and the field it is shown next to (`""`: above the form).
#[derive(Debug, Default, Clone)]
pub struct FormError {
    field: &'static str,
    message: String,
}

impl FormError {
    /// No error: a fresh form.
    pub fn none() -> FormError {
        FormError::default()
    }

    /// The server's `message`, placed by `clues`; above the form when no clue matches.
    pub fn place(message: String, clues: Clues<'_>) -> FormError {
        let lower = message.to_lowercase();
        let field = clues
            .iter()
            .find(|(_, words)| words.iter().any(|w| lower.contains(w)))
            .map_or("", |(field, _)| *field);
        FormError { field, message }
    }

    /// The message when it is about `field` (templates ask beside each field).
    pub fn on(&self, field: &str) -> Option<&str> {
        (!self.message.is_empty() && self.field == field).then_some(self.message.as_str())
    }

    /// ` aria-invalid="true" aria-describedby="<field>-error"` on the field the message is
    /// about (templates pass literal field names, so the text is safe as HTML).
    pub fn aria(&self, field: &str) -> String {
        match self.on(field) {
            Some(_) => format!(" aria-invalid=\"true\" aria-describedby=\"{field}-error\""),
            None => String::new(),
        }
    }

    /// The message when it is about no field in particular.
    pub fn general(&self) -> Option<&str> {
        self.on("")
    }

    pub fn is_some(&self) -> bool {
        !self.message.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn messages_go_to_the_first_field_they_name() {
        let clues: Clues<'_> = &[("events_url", &["`events_url`"]), ("url", &["`url`"])];
        let e = FormError::place("`events_url` is not a URL".into(), clues);
        assert_eq!(e.on("events_url"), Some("`events_url` is not a URL"));
        assert_eq!(e.on("url"), None);
        assert_eq!(e.general(), None);
        let e = FormError::place("database is down".into(), clues);
        assert_eq!(e.general(), Some("database is down"));
        assert!(FormError::none().general().is_none());
    }

    #[test]
    fn labels_read_lines_and_commas() {
        let l = parse_labels("env=prod\n team = ops, a=b=c").unwrap();
        assert_eq!(labels_text(&l), "a=b=c\nenv=prod\nteam=ops");
        assert_eq!(
            parse_labels("env=prod\nbroken").unwrap_err(),
            "label 2 (\"broken\") is not key=value"
        );
    }
}
