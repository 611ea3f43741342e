//! Configuration: the TOML file documented key by key in `config/wxprint.toml`, environment
//! overrides, validation, and the effective settings printed back.
//!
//! # Map
//!
//! - `settings.rs`: the typed settings, plain structs and enums; what the crate reads.
//! - `keys.rs`: the one table of keys ([`KEYS`]): section, name, production and sandbox
//!   defaults, a one-line doc, how a value is written back; the defaults and
//!   [`Settings::effective_toml`] come from it.
//! - `load.rs`: the config path, the three layers and the `WXPRINT_…` variable names.
//! - `env_names.rs`: unknown `WXPRINT_*` variables (ignored, so warned about) and the
//!   known name closest to each ([`unknown_env_vars`]).
//! - `raw.rs`: the merged tree flattened to text; unknown keys and non-scalar values.
//! - `region_defaults.rs`: the defaults that depend on `wechatpay.region` (the API hosts),
//!   filled in by validation when neither the file nor the environment sets them.
//! - `samples.rs`: WeChat Pay's documentation sample ids ([`documentation_samples`]), which
//!   `check-config` refuses.
//! - `check.rs`: single-key validators ([`STANDARD_BAUD_RATES`], [`PUBLIC_KEY_ID_PREFIX`]).
//! - `validate.rs`: raw text → typed settings, one function per section, and which keys are
//!   required when.
//! - `url.rs`: URL and `host:port` splitting for the checks.
//!
//! This module says what the settings are; it knows nothing of sockets, HTTP, printers or
//! receipts. What a setting means is its consumer's business (`jobs::layout_for` turns
//! `[printer]` into a receipt layout, `wechatpay` reads the key files named by path here).
//!
//! # Layering
//!
//! [`Settings::load`] merges three layers with the `config` crate, a later layer winning
//! key by key:
//!
//! 1. **Defaults**: [`Settings::production_defaults`], or with `sandbox = true`
//!    (`serve --sandbox`) [`Settings::sandbox_defaults`]. Every key has a default, so a
//!    file only needs the keys it changes.
//! 2. **The TOML file** (`--config FILE`, else `WXPRINT_CONFIG`, else
//!    [`DEFAULT_CONFIG_PATH`]; the CLI picks it, see [`config_path_from_env`]).
//! 3. **The environment**, in the `config` crate's style: `WXPRINT_<SECTION>__<KEY>`, e.g.
//!    `WXPRINT_PRINTER__BAUD_RATE=9600` overrides `printer.baud_rate`. Only variables with
//!    a `__` after the prefix name keys; `WXPRINT_CONFIG` is the path of the file itself;
//!    any other `WXPRINT_*` variable is ignored but logged as a warning (and printed by
//!    `check-config`), with the closest known name.
//!
//! The merged tree is then checked for unknown keys (a typo must not silently leave a
//! default in place) and flattened into `RawSettings`: each key's value as text (values from
//! the environment are always text, so an integer may be written as a string anywhere) and
//! whether the environment set it. `validate` checks each key into its typed form. All
//! problems are reported together ([`ConfigError::Many`]); each is one line naming the key,
//! the value and the expected form:
//!
//! ```text
//! printer.baud_rate: not a standard baud rate (got "9601"); expected one of 1200, 2400, …
//! ```
//!
//! [`Settings::effective_toml`] (also [`Settings`]'s `Display`) prints the result back as
//! TOML with every key, for `wxprint check-config`. Key files are referred to by path only;
//! nothing here reads them (the `wechatpay` module does).

use std::path::PathBuf;

mod check;
mod env_names;
mod keys;
mod load;
mod raw;
mod region_defaults;
mod samples;
mod settings;
mod shown;
mod url;
mod validate;

#[cfg(test)]
mod testing;

pub use check::{PUBLIC_KEY_ID_PREFIX, STANDARD_BAUD_RATES};
pub use env_names::unknown_env_vars;
pub use keys::{KEYS, Key, REDACTED};
pub use load::{
    CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH, ENV_PREFIX, config_path_from_env, default_config_path,
};
pub use samples::documentation_samples;
pub use settings::MetricsSettings;
pub use settings::{
    Backend, DaemonSettings, DrawerLevel, FlowControl, NotifyListen, NotifySettings, PollSchedule,
    PrinterSettings, QrMode, ReceiptSettings, Region, Settings, TextEncoding, Transport,
    WechatPaySettings,
};

/// Why settings could not be loaded. Each message is one line naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` / `WXPRINT_CONFIG` is missing or unreadable.
    #[error("cannot read config file {path}: {message}")]
    File {
        /// The config file.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// The file is not valid TOML (`message` has the line and column).
    #[error("config file {path} is not valid TOML: {message}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The parser's complaint, on one line.
        message: String,
    },
    /// One key is unknown or has a bad value; `message` is
    /// `what is wrong (got "value"); expected …`.
    #[error("{key}: {message}")]
    Invalid {
        /// The dotted key (`printer.baud_rate`); for the environment, the malformed
        /// variable's name, or `WXPRINT` when its values as a whole were refused.
        key: String,
        /// What is wrong, and what is expected.
        message: String,
    },
    /// Several of the above, one line each.
    #[error("{}", display_lines(.0))]
    Many(Vec<ConfigError>),
}

fn display_lines(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The single errors: the list of [`ConfigError::Many`], else just this one.
    pub fn errors(&self) -> &[ConfigError] {
        match self {
            ConfigError::Many(errors) => errors,
            other => std::slice::from_ref(other),
        }
    }

    /// One error for a list of them: the error itself when there is only one.
    fn from_list(mut errors: Vec<ConfigError>) -> ConfigError {
        if errors.len() == 1 {
            errors.remove(0)
        } else {
            ConfigError::Many(errors)
        }
    }
}

/// `ConfigError::Invalid` for `key`.
fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.to_string(),
    }
}
