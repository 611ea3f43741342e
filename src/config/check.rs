//! Single-key validators: [`Check`] reads one key of a [`RawSettings`] into its typed form
//! and records a one-line error when the value has the wrong form.
//!
//! Each message is `key: what is wrong (got "value"[ from WXPRINT_…]); expected …`. Which keys
//! are required, and when, is decided by the caller (`validate.rs`); this file knows value
//! forms (paths, durations, URLs, baud rates, the enums' spellings), not sections.

use std::path::PathBuf;
use std::time::Duration;

use super::load::env_name;
use super::raw::RawSettings;
use super::settings::{Choice, Region, TextEncoding};
use super::url::{is_loopback, parse_url, split_host_port};
use super::{ConfigError, invalid};
use crate::money::{Currency, GLOBAL_CURRENCIES};

/// The baud rates accepted for `printer.baud_rate`.
pub const STANDARD_BAUD_RATES: &[u32] = &[
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
];

/// WeChat Pay public-key IDs start with this (`wechatpay.public_key_id`).
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// WeChat Pay limits `notify_url` to 256 characters.
const NOTIFY_URL_MAX_LEN: usize = 256;

/// The bounds of a duration key.
pub(super) enum Range {
    /// Zero or more.
    Any,
    /// More than zero.
    Positive,
    /// Within `[min, max]`, for the reason given.
    Between(Duration, Duration, &'static str),
}

/// Validates keys of a [`RawSettings`], collecting errors. Each getter returns a placeholder
/// value (or `None`) after recording an error, so that all keys are checked in one pass.
pub(super) struct Check<'a> {
    raw: &'a RawSettings,
    errors: Vec<ConfigError>,
}

impl<'a> Check<'a> {
    pub(super) fn new(raw: &'a RawSettings) -> Self {
        Check {
            raw,
            errors: Vec::new(),
        }
    }

    /// The problems found, in the order the keys were checked.
    pub(super) fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }

    /// Whether `key` has a value: every key but the region-defaulted ones
    /// (`keys::REGION_DEFAULTED`) always has one, from its default at least.
    pub(super) fn is_set(&self, key: &str) -> bool {
        self.raw.values.contains_key(key)
    }

    /// The value of `key` as text; `""` for a region-defaulted key that nothing set.
    pub(super) fn text(&self, key: &str) -> &'a str {
        self.raw
            .values
            .get(key)
            .map(|v| v.text.as_str())
            .unwrap_or("")
    }

    /// Record `key: what (got "value"); expected …`.
    pub(super) fn fail(&mut self, key: &str, what: &str, expected: &str) {
        let got = match self.raw.values.get(key) {
            Some(v) if v.from_env => format!("got {:?} from {}", v.text, env_name(key)),
            Some(v) => format!("got {:?}", v.text),
            // Not a single value: already reported by `RawSettings::from_tree`.
            None => return,
        };
        self.errors.push(invalid(
            key,
            &format!("{what} ({got}); expected {expected}"),
        ));
    }

    /// One of `T`'s spellings, in any case.
    pub(super) fn choice<T: Choice>(&mut self, key: &str) -> Option<T> {
        let found = self.spelling::<T>(key);
        if found.is_none() {
            let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
            self.fail(
                key,
                "unknown value",
                &format!("one of {}", names.join(", ")),
            );
        }
        found
    }

    /// The value of `key` if it is one of `T`'s spellings, in any case.
    fn spelling<T: Choice>(&self, key: &str) -> Option<T> {
        let text = self.text(key).trim();
        T::ALL
            .iter()
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(text))
    }

    /// `printer.encoding`: a [`TextEncoding`], in any case.
    pub(super) fn encoding(&mut self, key: &str) -> Option<TextEncoding> {
        let found = self.spelling::<TextEncoding>(key);
        if found.is_none() {
            self.fail(
                key,
                "unsupported encoding",
                "\"gb18030\" (Chinese), \"cp1252\" (Western European) \
                 or \"auto\" (the printer profile decides)",
            );
        }
        found
    }

    /// Text that must not be empty, trimmed.
    pub(super) fn required_text(&mut self, key: &str, expected: &str) -> String {
        let value = self.text(key).trim().to_string();
        if value.is_empty() {
            self.fail(key, "empty", expected);
        }
        value
    }

    /// A path that must not be empty.
    pub(super) fn required_path(&mut self, key: &str, expected: &str) -> PathBuf {
        self.path(key, true, expected)
    }

    /// A path, required to be non-empty when `required`.
    pub(super) fn path(&mut self, key: &str, required: bool, expected: &str) -> PathBuf {
        let text = self.text(key).to_string();
        if required && text.trim().is_empty() {
            self.fail(key, "empty", expected);
        }
        PathBuf::from(text)
    }

    /// A path, `None` when empty.
    pub(super) fn optional_path(&mut self, key: &str) -> Option<PathBuf> {
        let text = self.text(key);
        (!text.trim().is_empty()).then(|| PathBuf::from(text))
    }

    /// An identifier of the merchant (trimmed), required with backend `wechatpay`.
    pub(super) fn identifier(&mut self, key: &str, required: bool, expected: &str) -> String {
        let value = self.text(key).trim().to_string();
        if required && value.is_empty() {
            self.fail(key, "required with backend \"wechatpay\"", expected);
        }
        value
    }

    /// `PUB_KEY_ID_…`; required in public-key mode with backend `wechatpay`.
    pub(super) fn public_key_id(&mut self, key: &str, required: bool) -> String {
        let value = self.text(key).trim().to_string();
        let expected = "the WeChat Pay public key ID from the merchant platform, \
                        \"PUB_KEY_ID_…\" (or set apiv3_key_file for certificate mode)";
        if value.is_empty() {
            if required {
                self.fail(
                    key,
                    "required with backend \"wechatpay\" unless apiv3_key_file is set",
                    expected,
                );
            }
        } else if !value.starts_with(PUBLIC_KEY_ID_PREFIX) {
            self.fail(
                key,
                &format!("does not start with {PUBLIC_KEY_ID_PREFIX:?}"),
                expected,
            );
        }
        value
    }

    /// A humantime duration (`"10m"`, `"1h 30m"`) within `range`.
    pub(super) fn duration(&mut self, key: &str, range: Range) -> Duration {
        let text = self.text(key).trim();
        let Ok(duration) = humantime::parse_duration(text) else {
            self.fail(
                key,
                "not a duration",
                "a duration such as \"10s\", \"5m\" or \"1h 30m\"",
            );
            return Duration::ZERO;
        };
        match range {
            Range::Any => {}
            Range::Positive if duration.is_zero() => {
                self.fail(key, "zero", "a duration longer than zero, e.g. \"10s\"")
            }
            Range::Positive => {}
            Range::Between(min, max, why) if duration < min || duration > max => {
                let what = if duration < min {
                    "too short"
                } else {
                    "too long"
                };
                let expected = format!(
                    "from {} to {} ({why})",
                    humantime::format_duration(min),
                    humantime::format_duration(max)
                );
                self.fail(key, what, &expected);
            }
            Range::Between(..) => {}
        }
        duration
    }

    /// A whole number within `range` (`unit` names what it counts, for the message).
    pub(super) fn integer(
        &mut self,
        key: &str,
        range: std::ops::RangeInclusive<u32>,
        unit: &str,
    ) -> u32 {
        let text = self.text(key).trim();
        let expected = format!(
            "a whole number of {unit} from {} to {}",
            range.start(),
            range.end()
        );
        match text.parse::<u32>() {
            Ok(n) if range.contains(&n) => n,
            Ok(_) => {
                self.fail(key, "out of range", &expected);
                *range.start()
            }
            Err(_) => {
                self.fail(key, "not a whole number", &expected);
                *range.start()
            }
        }
    }

    /// `true` or `false` (a TOML boolean, or the word from the environment, in any case).
    pub(super) fn boolean(&mut self, key: &str) -> bool {
        let text = self.text(key).trim();
        if text.eq_ignore_ascii_case("true") {
            return true;
        }
        if !text.eq_ignore_ascii_case("false") {
            self.fail(key, "not a boolean", "true or false");
        }
        false
    }

    /// One of [`STANDARD_BAUD_RATES`], as an integer or a string of digits.
    pub(super) fn baud_rate(&mut self, key: &str) -> u32 {
        let text = self.text(key).trim();
        let rates: Vec<String> = STANDARD_BAUD_RATES.iter().map(u32::to_string).collect();
        let expected = format!("one of {}", rates.join(", "));
        match text.parse::<u32>() {
            Ok(rate) if STANDARD_BAUD_RATES.contains(&rate) => rate,
            Ok(_) => {
                self.fail(key, "not a standard baud rate", &expected);
                0
            }
            Err(_) => {
                self.fail(key, "not an integer", &expected);
                0
            }
        }
    }

    /// An API base URL: `https://host[:port][/path]`, plain `http://` only for a loopback
    /// host (tests, simulators). A trailing slash is stripped.
    pub(super) fn base_url(&mut self, key: &str) -> String {
        let text = self.text(key).trim().to_string();
        let expected = "an https:// URL such as \"https://api.mch.weixin.qq.com\" \
                        (http:// only for 127.0.0.0/8, [::1] or localhost)";
        match parse_url(&text) {
            Err(what) => self.fail(key, what, expected),
            Ok(url) if url.scheme == "https" || (url.scheme == "http" && is_loopback(url.host)) => {
                if url.rest.contains(['?', '#']) {
                    self.fail(key, "a base URL takes no query or fragment", expected);
                }
            }
            Ok(url) if url.scheme == "http" => self.fail(
                key,
                "plain http:// is only allowed for loopback hosts",
                expected,
            ),
            Ok(_) => self.fail(key, "not an http(s) URL", expected),
        }
        text.trim_end_matches('/').to_string()
    }

    /// A base URL as [`Check::base_url`], or empty.
    pub(super) fn optional_base_url(&mut self, key: &str) -> String {
        if self.text(key).trim().is_empty() {
            String::new()
        } else {
            self.base_url(key)
        }
    }

    /// The notify URL sent with each order: an https URL without a query string, at most
    /// 256 characters; required with backend `wechatpay`, optional with the sandbox.
    pub(super) fn notify_url(&mut self, key: &str, required: bool) -> String {
        let text = self.text(key).trim().to_string();
        let expected = "an https:// URL without a query string, \
                        e.g. \"https://merchant.example/wechatpay/notify\"";
        if text.is_empty() {
            if required {
                self.fail(key, "required with backend \"wechatpay\"", expected);
            }
            return text;
        }
        match parse_url(&text) {
            Err(what) => self.fail(key, what, expected),
            Ok(url) if url.scheme != "https" => {
                self.fail(key, "WeChat Pay only notifies https:// URLs", expected)
            }
            Ok(url) if url.rest.contains('?') => self.fail(
                key,
                "WeChat Pay forbids a query string in notify_url",
                expected,
            ),
            Ok(url) if url.rest.contains('#') => {
                self.fail(key, "a notify URL takes no fragment", expected)
            }
            Ok(_) if text.chars().count() > NOTIFY_URL_MAX_LEN => {
                self.fail(key, "longer than WeChat Pay's 256 characters", expected)
            }
            Ok(_) => {}
        }
        text
    }

    /// The currency of the orders (ISO 4217, any case): only CNY on the mainland, one of
    /// [`GLOBAL_CURRENCIES`] on Global.
    pub(super) fn currency(&mut self, key: &str, region: Region) -> Currency {
        let code = self.text(key).trim().to_ascii_uppercase();
        match region {
            Region::Mainland if code != Currency::CNY.code() => self.fail(
                key,
                "mainland WeChat Pay takes only CNY",
                "\"CNY\" (or region = \"global\" for a WeChat Pay Global merchant)",
            ),
            Region::Global if !GLOBAL_CURRENCIES.contains(&code.as_str()) => self.fail(
                key,
                "not a currency of WeChat Pay Global",
                &format!(
                    "the merchant's settlement currency, one of {}",
                    GLOBAL_CURRENCIES.join(", ")
                ),
            ),
            _ => {}
        }
        Currency::new(code)
    }

    /// The merchant category code: exactly 4 digits, required on Global, not used (so not
    /// allowed) on the mainland.
    pub(super) fn merchant_category_code(&mut self, key: &str, region: Region) -> String {
        let value = self.text(key).trim().to_string();
        let expected = "the 4-digit merchant category code (MCC) WeChat Pay Global assigned, \
                        e.g. \"5812\"";
        match region {
            Region::Global if value.is_empty() => {
                self.fail(key, "required with region \"global\"", expected)
            }
            Region::Global if value.len() != 4 || !value.bytes().all(|b| b.is_ascii_digit()) => {
                self.fail(key, "not 4 digits", expected)
            }
            Region::Mainland if !value.is_empty() => self.fail(
                key,
                "only used with region \"global\"",
                "\"\" on the mainland (or region = \"global\" for a WeChat Pay Global merchant)",
            ),
            _ => {}
        }
        value
    }

    /// `host:port` of a network printer.
    pub(super) fn tcp_address(&mut self, key: &str) {
        let text = self.text(key).trim();
        if !matches!(split_host_port(text), Some((_, Some(_)))) {
            self.fail(
                key,
                "transport \"tcp\" needs host:port",
                "e.g. \"printer.local:9100\" or \"[2001:db8::9]:9100\"",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::testing::load_text;
    use crate::config::{Backend, QrMode, TextEncoding, Transport};

    #[test]
    fn spellings_and_numbers_as_strings() {
        let text = "[printer]\ntransport = \"USB\"\ndevice = \"/dev/usb/lp0\"\n\
                    baud_rate = \"38400\"\nqr = \"Native\"\nencoding = \"gb18030\"\n\
                    [wechatpay]\norder_ttl = \"1m\"\nrequest_timeout = \"1h 30m\"\n";
        let s = load_text(text, true).unwrap();
        assert_eq!(s.printer.transport, Transport::Usb);
        assert_eq!(s.printer.baud_rate, 38400);
        assert_eq!(s.printer.qr, QrMode::Native);
        assert_eq!(s.printer.encoding, TextEncoding::Gb18030);
        assert_eq!(s.wechatpay.order_ttl, Duration::from_secs(60));
        assert_eq!(s.wechatpay.request_timeout, Duration::from_secs(5400));
        assert_eq!(Transport::Usb.to_string(), "usb");
        assert_eq!(Backend::WechatPay.as_str(), "wechatpay");
    }
}
