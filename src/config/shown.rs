//! How a typed value of a key is written back as TOML ([`Shown`]), and the helpers the key
//! table's `show` functions use. Knows no key and no section: `keys.rs` has the table.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A value as the file writes it.
pub(super) enum Shown {
    Text(String),
    Integer(i64),
    Bool(bool),
}

impl Shown {
    /// The value as TOML: a quoted string or a bare integer.
    pub(super) fn toml(&self) -> String {
        match self {
            Shown::Text(text) => toml_string(text),
            Shown::Integer(n) => n.to_string(),
            Shown::Bool(b) => b.to_string(),
        }
    }
}

pub(super) fn path(p: &Path) -> Shown {
    Shown::Text(p.display().to_string())
}

pub(super) fn optional_path(p: &Option<PathBuf>) -> Shown {
    Shown::Text(
        p.as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    )
}

pub(super) fn text(s: &str) -> Shown {
    Shown::Text(s.to_string())
}

pub(super) fn duration(d: Duration) -> Shown {
    Shown::Text(humantime::format_duration(d).to_string())
}

/// `s` as a TOML basic string.
pub(super) fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
