//! Loading: which file, and the three layers merged key by key (defaults, the file, the
//! environment), then the tree read (`raw.rs`) and validated (`validate.rs`).
//!
//! This file owns the names outside the file: the default path, `WXPRINT_CONFIG`, and the
//! `WXPRINT_<SECTION>__<KEY>` variables. It knows the `config` crate; it does not know what
//! any key means.

use std::path::{Path, PathBuf};

use ::config::{Config, Environment, File, FileFormat, Map, Source, Value};

use super::keys::KEYS;
use super::raw::RawSettings;
use super::region_defaults::REGION_DEFAULTED;
use super::settings::Settings;
use super::validate::validate;
use super::{ConfigError, invalid};

/// The config file used when neither `--config` nor `WXPRINT_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/wxprint/wxprint.toml";

/// The environment variable naming the config file (not a setting itself).
pub const CONFIG_PATH_ENV: &str = "WXPRINT_CONFIG";

/// Prefix of the environment overrides: `WXPRINT_<SECTION>__<KEY>`.
pub const ENV_PREFIX: &str = "WXPRINT";

/// The origin the `config` crate gives values from [`Environment`].
pub(super) const ENV_ORIGIN: &str = "the environment";

/// `/etc/wxprint/wxprint.toml`: the config file when neither `--config` nor
/// `WXPRINT_CONFIG` names one.
pub fn default_config_path() -> PathBuf {
    PathBuf::from(DEFAULT_CONFIG_PATH)
}

/// The config file named by `WXPRINT_CONFIG`, if set and not empty.
pub fn config_path_from_env() -> Option<PathBuf> {
    std::env::var_os(CONFIG_PATH_ENV)
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
}

impl Settings {
    /// Load `path` (TOML) over the defaults, then the `WXPRINT_…` environment. Variables
    /// wxprint does not read ([`super::unknown_env_vars`]) are logged as warnings.
    /// `sandbox` starts from [`Settings::sandbox_defaults`] instead of the production ones.
    pub fn load(path: Option<&Path>, sandbox: bool) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                Some((
                    name.into_string().ok()?,
                    value.to_string_lossy().into_owned(),
                ))
            })
            .collect();
        for warning in super::unknown_env_vars(&env) {
            tracing::warn!("{warning}");
        }
        Settings::load_with_env(path, sandbox, &env)
    }

    /// [`Settings::load`] with the environment given as `(name, value)` pairs instead of
    /// read from the process (for tests). Variables other than `WXPRINT_<SECTION>__<KEY>`
    /// are ignored.
    pub fn load_with_env(
        path: Option<&Path>,
        sandbox: bool,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let mut errors = Vec::new();
        let tree = merged_tree(path, sandbox, env, &mut errors)?;
        let raw = RawSettings::from_tree(tree, &mut errors);
        let (settings, invalid) = validate(&raw);
        errors.extend(invalid);
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigError::from_list(errors))
        }
    }
}

/// The three layers merged by the `config` crate, a later layer winning key by key. A file
/// that cannot be read or parsed is the error; malformed variable names go to `errors`.
fn merged_tree(
    path: Option<&Path>,
    sandbox: bool,
    env: &[(String, String)],
    errors: &mut Vec<ConfigError>,
) -> Result<Map<String, Value>, ConfigError> {
    // Layer 1: the defaults, every key as text (like the environment's values), except
    // those whose default depends on the region (validation fills them in).
    let mut builder = Config::builder();
    for key in KEYS
        .iter()
        .filter(|key| !REGION_DEFAULTED.contains(&key.dotted().as_str()))
    {
        builder = builder
            .set_default(key.dotted(), key.default_text(sandbox))
            .map_err(|err| invalid(&key.dotted(), &one_line(&err.to_string())))?;
    }

    // Layer 2: the file. Read here rather than by the `config` crate, for errors naming
    // the path.
    if let Some(path) = path {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError::File {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?;
        builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
    }

    // Layer 3: the environment, only the variables that name a key.
    let (variables, env_errors) = key_variables(env);
    errors.extend(env_errors);
    builder = builder.add_source(
        Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .source(Some(variables)),
    );

    // The defaults and the environment are plain text, so only the file can fail here.
    builder
        .build()
        .and_then(|config| config.collect())
        .map_err(|err| {
            let message = one_line(&err.to_string());
            match path {
                Some(path) => ConfigError::Parse {
                    path: path.to_path_buf(),
                    message,
                },
                None => invalid(ENV_PREFIX, &message),
            }
        })
}

/// The `WXPRINT_<SECTION>__<KEY>` variables of `env`, for [`Environment::source`], and an
/// error for each such variable whose name is malformed. Variables without `__` after the
/// prefix (`WXPRINT_CONFIG`, …) are not keys and are skipped.
fn key_variables(env: &[(String, String)]) -> (Map<String, String>, Vec<ConfigError>) {
    let prefix = format!("{ENV_PREFIX}_");
    let mut variables = Map::new();
    let mut errors = Vec::new();
    for (name, value) in env {
        let Some(rest) = name
            .get(..prefix.len())
            .filter(|head| head.eq_ignore_ascii_case(&prefix))
            .map(|_| &name[prefix.len()..])
        else {
            continue;
        };
        if !rest.contains("__") {
            continue;
        }
        let well_formed = rest.split("__").all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if well_formed {
            variables.insert(name.clone(), value.clone());
        } else {
            errors.push(invalid(
                name,
                "not a setting's name; expected WXPRINT_<SECTION>__<KEY>, e.g. WXPRINT_PRINTER__BAUD_RATE",
            ));
        }
    }
    (variables, errors)
}

/// The variable that sets `section.key`: `WXPRINT_SECTION__KEY`.
pub(super) fn env_name(dotted: &str) -> String {
    format!(
        "{ENV_PREFIX}_{}",
        dotted.to_ascii_uppercase().replace('.', "__")
    )
}

/// A multi-line message (the TOML parser's, with a source excerpt) as one line: the
/// excerpt lines (`  |`, `2 | …`) are dropped, the others joined with ": ".
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|line| {
            let excerpt = line.starts_with('|')
                || line
                    .split_once(" |")
                    .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            !line.is_empty() && !excerpt
        })
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::config::testing::{assert_invalid, env, file};

    #[test]
    fn environment_overrides_file() {
        let file = file("[printer]\nbaud_rate = 19200\nprofile = \"58mm\"\n");
        let vars = env(&[
            ("WXPRINT_PRINTER__BAUD_RATE", "9600"),
            ("WXPRINT_RECEIPT__TITLE", "Env shop"),
            ("wxprint_receipt__footer", "lowercase works too"),
            ("WXPRINT_WECHATPAY__CLOSE_MIN_AGE", "30s"),
            // Not keys: the config path, other variables of ours, other programs'.
            ("WXPRINT_CONFIG", "/somewhere/else.toml"),
            ("WXPRINT_LOG", "debug"),
            ("WXPRINTER__X", "1"),
            ("PATH", "/usr/bin"),
        ]);
        let s = Settings::load_with_env(Some(file.path()), true, &vars).unwrap();
        assert_eq!(s.printer.baud_rate, 9600);
        assert_eq!(s.printer.profile, "58mm");
        assert_eq!(s.receipt.title, "Env shop");
        assert_eq!(s.receipt.footer, "lowercase works too");
        assert_eq!(s.wechatpay.close_min_age, Duration::from_secs(30));

        // Merchant keys from the environment alone.
        let vars = env(&[
            ("WXPRINT_WECHATPAY__APPID", "wxd678efh567hg6787"),
            ("WXPRINT_WECHATPAY__MCHID", "1230000109"),
            ("WXPRINT_WECHATPAY__MERCHANT_SERIAL_NO", "5157F09E"),
            (
                "WXPRINT_WECHATPAY__APIV3_KEY_FILE",
                "/etc/wxprint/apiv3.key",
            ),
            ("WXPRINT_WECHATPAY__NOTIFY_URL", "https://m.example/n"),
        ]);
        let s = Settings::load_with_env(None, false, &vars).unwrap();
        assert_eq!(
            s.wechatpay.apiv3_key_file.as_deref(),
            Some(Path::new("/etc/wxprint/apiv3.key"))
        );
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let vars = env(&[("WXPRINT_PRINTER__BAUD_RATE", "fast")]);
        let err = Settings::load_with_env(None, true, &vars).unwrap_err();
        assert_invalid(
            &err,
            "printer.baud_rate",
            "not an integer (got \"fast\" from WXPRINT_PRINTER__BAUD_RATE)",
        );

        let vars = env(&[("WXPRINT_PRINTER__BAUDRATE", "9600")]);
        let err = Settings::load_with_env(None, true, &vars).unwrap_err();
        assert_invalid(
            &err,
            "printer.baudrate",
            "unknown key (from WXPRINT_PRINTER__BAUDRATE); expected one of transport, device",
        );

        let vars = env(&[("WXPRINT_PRINTER__BAUD-RATE", "9600")]);
        let err = Settings::load_with_env(None, true, &vars).unwrap_err();
        assert_invalid(&err, "WXPRINT_PRINTER__BAUD-RATE", "not a setting's name");
    }

    #[test]
    fn file_errors_name_the_path() {
        let missing = Path::new("/nonexistent/wxprint.toml");
        let err = Settings::load_with_env(Some(missing), true, &[]).unwrap_err();
        assert!(matches!(err, ConfigError::File { .. }));
        assert!(
            err.to_string().contains("/nonexistent/wxprint.toml"),
            "{err}"
        );

        let file = file("[printer]\nbaud_rate = \n");
        let err = Settings::load_with_env(Some(file.path()), true, &[]).unwrap_err();
        let line = err.to_string();
        assert!(matches!(err, ConfigError::Parse { .. }));
        assert!(line.contains(&file.path().display().to_string()), "{line}");
        assert!(line.contains("line 2"), "{line}");
        assert!(!line.contains('\n'), "{line:?}");
    }

    #[test]
    fn paths_and_env_names() {
        assert_eq!(
            default_config_path(),
            Path::new("/etc/wxprint/wxprint.toml")
        );
        assert_eq!(env_name("printer.baud_rate"), "WXPRINT_PRINTER__BAUD_RATE");
        assert_eq!(CONFIG_PATH_ENV, "WXPRINT_CONFIG");
        assert_eq!(
            one_line(
                "TOML parse error at line 2, column 13\n  |\n2 | baud_rate = \n  |             ^\nstring values must be quoted\n"
            ),
            "TOML parse error at line 2, column 13: string values must be quoted"
        );
    }
}
