//! The defaults and the effective settings, both read off [`KEYS`]: what the table says,
//! validated into typed [`Settings`], and typed settings written back as TOML for
//! `wxprint check-config`. Knows no key by name.

use super::super::raw::RawSettings;
use super::super::validate::validate;
use super::{KEYS, REDACTED, SECRET_KEYS, Settings, toml_string};

impl Settings {
    /// The defaults under the file ([`Key::production`]): the documented values, with the
    /// merchant's identifiers (`appid`, `mchid`, …) and `notify_url` empty, so that a
    /// production file must set them.
    pub fn production_defaults() -> Settings {
        Settings::defaults(false)
    }

    /// The embedded sandbox defaults of `serve --sandbox` without a config file
    /// ([`Key::sandbox`]): offline payments, everything under the current directory
    /// (`./wxprint.sock`, `./state/`, receipts as files in `./receipts/`), and a short
    /// `close_min_age` so that a cancel finishes within seconds.
    pub fn sandbox_defaults() -> Settings {
        Settings::defaults(true)
    }

    /// The table's defaults, validated into typed settings. The only problems validation
    /// finds in them are the merchant keys that the production defaults leave empty on
    /// purpose (a test holds the table to that), so the problems are not reported here:
    /// loading reports them against the file that should set them.
    fn defaults(sandbox: bool) -> Settings {
        let (settings, _missing_merchant_keys) = validate(&RawSettings::defaults(sandbox));
        settings
    }

    /// The settings as TOML, every key of every section, durations as humantime strings
    /// (`"10m"`); for `wxprint check-config`. Loading this text gives the same settings.
    /// Values of secret keys (none so far) print as `"<redacted>"`.
    pub fn effective_toml(&self) -> String {
        self.render_toml(|key| SECRET_KEYS.contains(&key))
    }

    /// [`Settings::effective_toml`] with `is_secret("section.key")` deciding what to redact.
    pub(in crate::config) fn render_toml(&self, is_secret: impl Fn(&str) -> bool) -> String {
        let mut out = String::new();
        let mut section = "";
        for key in KEYS {
            if key.section != section {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("[{}]\n", key.section));
                section = key.section;
            }
            let value = if is_secret(&key.dotted()) {
                toml_string(REDACTED)
            } else {
                (key.show)(self).toml()
            };
            out.push_str(&format!("{} = {}\n", key.name, value));
        }
        out
    }
}
