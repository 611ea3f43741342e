//! The merged tree, flattened: `section.key` → the value as text, and whether the
//! environment set it.
//!
//! Reading the tree is where unknown sections and keys (a typo must not silently leave a
//! default in place) and values that are tables or arrays are reported. Values from the
//! environment are always text, so every value is kept as text and an integer may be written
//! as a string anywhere. This file knows the key table and the `config` crate's tree, not
//! what any value means (`check.rs`, `validate.rs`).

use ::config::{Map, Value, ValueKind};

use super::keys::KEYS;
use super::load::{ENV_ORIGIN, env_name};
use super::region_defaults::REGION_DEFAULTED;
use super::{ConfigError, invalid};

/// The merged tree as text: `section.key` → value, for every known key.
#[derive(Debug, Default)]
pub(super) struct RawSettings {
    pub(super) values: Map<String, RawValue>,
}

#[derive(Debug)]
pub(super) struct RawValue {
    pub(super) text: String,
    /// Set by a `WXPRINT_…` variable (named in error messages).
    pub(super) from_env: bool,
}

impl RawSettings {
    /// The defaults of the key table, production or `sandbox`, as if read from a file;
    /// without the [`REGION_DEFAULTED`] keys, which validation fills in for the region.
    pub(super) fn defaults(sandbox: bool) -> RawSettings {
        let values = KEYS
            .iter()
            .filter(|key| !REGION_DEFAULTED.contains(&key.dotted().as_str()))
            .map(|key| {
                let text = key.default_text(sandbox).to_string();
                let value = RawValue {
                    text,
                    from_env: false,
                };
                (key.dotted(), value)
            })
            .collect();
        RawSettings { values }
    }

    /// Flatten `tree`; report unknown sections and keys, and values that are tables or
    /// arrays, into `errors`.
    pub(super) fn from_tree(
        tree: Map<String, Value>,
        errors: &mut Vec<ConfigError>,
    ) -> RawSettings {
        let mut sections: Vec<&str> = KEYS.iter().map(|e| e.section).collect();
        sections.dedup();
        let mut raw = RawSettings::default();

        for (section, value) in sorted(tree) {
            if !sections.contains(&section.as_str()) {
                errors.push(unknown_section(&section, &sections));
                continue;
            }
            let table = match value.kind {
                ValueKind::Table(table) => table,
                other => {
                    errors.push(invalid(
                        &section,
                        &format!("not a section (got {other}); expected a table [{section}]"),
                    ));
                    continue;
                }
            };
            for (key, value) in sorted(table) {
                raw.read_key(&section, &key, value, errors);
            }
        }
        raw
    }

    /// Keep `section.key = value`, or report why it cannot be kept.
    fn read_key(&mut self, section: &str, key: &str, value: Value, errors: &mut Vec<ConfigError>) {
        let dotted = format!("{section}.{key}");
        let from_env = value.origin() == Some(ENV_ORIGIN);
        let source = if from_env {
            format!(" (from {})", env_name(&dotted))
        } else {
            String::new()
        };
        let keys: Vec<&str> = KEYS
            .iter()
            .filter(|e| e.section == section)
            .map(|e| e.name)
            .collect();
        if !keys.contains(&key) {
            let mut message = format!("unknown key{source}; expected one of {}", keys.join(", "));
            if let Some(home) = KEYS.iter().find(|e| e.name == key) {
                message.push_str(&format!(" ({key} belongs in [{}])", home.section));
            }
            errors.push(invalid(&dotted, &message));
            return;
        }
        let kind = match &value.kind {
            ValueKind::Table(_) => Some("a table"),
            ValueKind::Array(_) => Some("an array"),
            ValueKind::Nil => Some("nothing"),
            _ => None,
        };
        match (kind, value.into_string()) {
            (None, Ok(text)) => {
                self.values.insert(dotted, RawValue { text, from_env });
            }
            (kind, _) => errors.push(invalid(
                &dotted,
                &format!(
                    "not a single value (got {}{source}); expected a string or a number",
                    kind.unwrap_or("something else")
                ),
            )),
        }
    }
}

/// A name at the top of the tree that is not a section: a key above the first `[section]`
/// header, or a misspelt section.
fn unknown_section(name: &str, sections: &[&str]) -> ConfigError {
    let message = match KEYS.iter().find(|e| e.name == name) {
        Some(home) => format!(
            "unknown top-level key; expected it under [{}] ({})",
            home.section,
            home.dotted()
        ),
        None => format!("unknown section; expected one of {}", sections.join(", ")),
    };
    invalid(name, &message)
}

/// The entries of a `config` map in key order (it is a hash map), for stable error order.
fn sorted(map: Map<String, Value>) -> Vec<(String, Value)> {
    let mut entries: Vec<_> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

#[cfg(test)]
mod tests {
    use crate::config::ConfigError;
    use crate::config::testing::{assert_invalid, assert_one_line_each, error_of};

    #[test]
    fn unknown_keys_are_errors() {
        let err = error_of("[printer]\nbaudrate = 9600\n", true);
        assert_eq!(
            err.to_string(),
            "printer.baudrate: unknown key; expected one of transport, device, address, \
             baud_rate, flow_control, profile, qr, encoding, print_timeout, drawer_on_ms, \
             drawer_off_ms, drawer_open_level"
        );

        let err = error_of("[printr]\nbaud_rate = 9600\n", true);
        assert_invalid(
            &err,
            "printr",
            "unknown section; expected one of daemon, wechatpay, printer, receipt, notify, metrics",
        );

        let err = error_of("baud_rate = 9600\n", true);
        assert_invalid(&err, "baud_rate", "expected it under [printer]");

        let err = error_of("[printer]\ntitle = \"x\"\n", true);
        assert_invalid(&err, "printer.title", "title belongs in [receipt]");

        let err = error_of("printer = \"usb\"\n", true);
        assert_invalid(&err, "printer", "not a section");

        let err = error_of("[printer]\nbaud_rate = [9600]\n", true);
        assert_invalid(
            &err,
            "printer.baud_rate",
            "not a single value (got an array)",
        );
        assert_eq!(err.errors().len(), 1, "{err}");

        // Several problems: all reported, one line each.
        let err = error_of("[printer]\nbaudrate = 1\nqr = \"x\"\n[x]\n", true);
        assert_eq!(err.errors().len(), 3, "{err}");
        assert!(matches!(err, ConfigError::Many(_)));
        assert_one_line_each(&err);
    }
}
