//! Test helpers shared by the config tests: temporary files, environments, the merchant keys
//! a production file needs, and assertions on one-line errors. Test code only.

use std::io::Write;

use super::{ConfigError, Settings};

/// A TOML file with `text`, kept while the returned handle lives.
pub(super) fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

pub(super) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The merchant keys that backend `wechatpay` requires, as a file.
pub(super) const MERCHANT: &str = r#"
    [wechatpay]
    appid = "wxd678efh567hg6787"
    mchid = "1230000109"
    merchant_serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    public_key_id = "PUB_KEY_ID_0112340000000000000000000000000000"
    notify_url = "https://merchant.example/wechatpay/notify"
"#;

/// [`MERCHANT`] with `line` (`key = value`) instead of its line for that key.
pub(super) fn merchant_with(line: &str) -> String {
    let name = line.split(" = ").next().unwrap();
    let mut text: Vec<&str> = MERCHANT
        .lines()
        .filter(|l| !l.trim_start().starts_with(&format!("{name} = ")))
        .collect();
    text.push(line);
    text.join("\n")
}

pub(super) fn load_text(text: &str, sandbox: bool) -> Result<Settings, ConfigError> {
    let file = file(text);
    Settings::load_with_env(Some(file.path()), sandbox, &[])
}

/// The error of loading `text`; panics if it loads.
pub(super) fn error_of(text: &str, sandbox: bool) -> ConfigError {
    match load_text(text, sandbox) {
        Ok(settings) => panic!("loaded, expected an error:\n{text}\n{settings:?}"),
        Err(err) => err,
    }
}

/// Asserts that `err` has an `Invalid` error for `key` whose message contains `part`,
/// and that every line names a key.
pub(super) fn assert_invalid(err: &ConfigError, key: &str, part: &str) {
    assert_one_line_each(err);
    let found = err.errors().iter().any(|e| match e {
        ConfigError::Invalid { key: k, message } => k == key && message.contains(part),
        _ => false,
    });
    assert!(found, "no error for {key} containing {part:?} in:\n{err}");
}

pub(super) fn assert_one_line_each(err: &ConfigError) {
    for e in err.errors() {
        let line = e.to_string();
        assert!(!line.contains('\n'), "not one line: {line:?}");
    }
    assert_eq!(err.to_string().lines().count(), err.errors().len());
}
