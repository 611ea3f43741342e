//! Unknown `WXPRINT_*` environment variables: a variable that is neither `WXPRINT_CONFIG`
//! nor a `WXPRINT_<SECTION>__<KEY>` setting is ignored by the loader, so a typo
//! (`WXPRINT_PRINTER_BAUD_RATE`, one underscore) would silently leave the default in place.
//! This file finds them and names the closest known variable; the loader logs them at start
//! and `check-config` prints them. Variables with `__` are checked by the loader itself.

use super::keys::KEYS;
use super::load::{CONFIG_PATH_ENV, ENV_PREFIX, env_name};

/// One warning line for each `WXPRINT_*` variable of `env` that wxprint does not read and
/// that the loader does not already report as an error (those without `__`), naming the
/// closest known variable.
pub fn unknown_env_vars(env: &[(String, String)]) -> Vec<String> {
    let prefix = format!("{ENV_PREFIX}_");
    let known: Vec<String> = KEYS
        .iter()
        .map(|key| env_name(&key.dotted()))
        .chain([CONFIG_PATH_ENV.to_string()])
        .collect();
    env.iter()
        .map(|(name, _)| name)
        .filter(|name| {
            let upper = name.to_ascii_uppercase();
            upper.starts_with(&prefix)
                && !upper[prefix.len()..].contains("__")
                && upper != CONFIG_PATH_ENV
        })
        .map(|name| {
            let closest = closest(name, &known);
            format!(
                "warning: environment variable {name} is not a wxprint variable and is \
                 ignored; did you mean {closest}? (a setting is WXPRINT_<SECTION>__<KEY>, \
                 two underscores after the section; the config file is WXPRINT_CONFIG)"
            )
        })
        .collect()
}

/// The known name nearest to `name` (case and underscores aside first, then by edits).
fn closest<'a>(name: &str, known: &'a [String]) -> &'a str {
    let squash = |s: &str| -> Vec<u8> {
        s.bytes()
            .filter(|&b| b != b'_')
            .map(|b| b.to_ascii_uppercase())
            .collect()
    };
    let wanted = squash(name);
    known
        .iter()
        .min_by_key(|candidate| edit_distance(&wanted, &squash(candidate)))
        .map(String::as_str)
        .unwrap_or(CONFIG_PATH_ENV)
}

/// Levenshtein distance of two byte strings.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(x != y));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::env;

    #[test]
    fn unknown_variables_name_the_closest_known_one() {
        let vars = env(&[
            ("WXPRINT_PRINTER_BAUD_RATE", "9600"),
            ("wxprint_receipt_title", "x"),
            ("WXPRINT_CONFIG", "/etc/wxprint/wxprint.toml"),
            ("WXPRINT_PRINTER__BAUD_RATE", "9600"),
            ("WXPRINTER", "1"),
            ("PATH", "/usr/bin"),
        ]);
        let warnings = unknown_env_vars(&vars);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("WXPRINT_PRINTER_BAUD_RATE is not a wxprint variable"));
        assert!(warnings[0].contains("did you mean WXPRINT_PRINTER__BAUD_RATE?"));
        assert!(warnings[1].contains("did you mean WXPRINT_RECEIPT__TITLE?"));
        assert_eq!(edit_distance(b"KITTEN", b"SITTING"), 3);
    }
}
