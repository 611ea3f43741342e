//! The one table of keys: for every key of the file its section, its production and sandbox
//! defaults, a one-line doc and how its typed value is written back as TOML.
//!
//! Everything that lists keys reads [`KEYS`]: the defaults ([`Settings::production_defaults`],
//! [`Settings::sandbox_defaults`]), the default layer of loading, the unknown-key check and
//! [`Settings::effective_toml`]. `config/wxprint.toml` documents each key at length; a test
//! holds it to this table (same keys, same sections, the doc line and the default).
//!
//! This file does not know how a value is checked (`check.rs`, `validate.rs`) or where it
//! comes from (`load.rs`).

use super::region_defaults::{MAINLAND_API, MAINLAND_BACKUP_API};
use super::settings::Settings;
pub(super) use super::shown::{Shown, toml_string};
use super::shown::{duration, optional_path, path, text};

mod render;
#[cfg(test)]
mod tests;

/// One key of the file.
#[derive(Debug)]
pub struct Key {
    /// The `[section]` it belongs in.
    pub section: &'static str,
    /// The key's name in its section.
    pub name: &'static str,
    /// The default of a production install, as text (as the environment would give it).
    pub production: &'static str,
    /// The default of `serve --sandbox` where it differs from `production`.
    pub sandbox: Option<&'static str>,
    /// What the key is for, in one line (the first line of its comment in
    /// `config/wxprint.toml`).
    pub doc: &'static str,
    /// The key's value in typed settings, as the file writes it.
    pub(super) show: fn(&Settings) -> Shown,
}

impl Key {
    /// `section.key`, as the `config` crate and the error messages name it.
    pub fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.name)
    }

    /// The default under [`Settings::sandbox_defaults`] (`sandbox`) or the production one.
    pub fn default_text(&self, sandbox: bool) -> &'static str {
        match self.sandbox {
            Some(text) if sandbox => text,
            _ => self.production,
        }
    }
}

/// Keys (`section.key`) whose values are secrets, printed as [`REDACTED`] by
/// [`Settings::effective_toml`]. None so far: keys live in files, and the `*_file` keys are
/// plain paths, shown as they are. A future key holding a secret value must be listed here.
const SECRET_KEYS: &[&str] = &[];

/// What [`Settings::effective_toml`] prints instead of a secret value.
pub const REDACTED: &str = "<redacted>";

/// Every key of the file, in the order of `config/wxprint.toml` and of
/// [`Settings::effective_toml`]. The merchant's identifiers (`appid`, `mchid`, …) and
/// `notify_url` default to empty, so that a production file must set them.
pub const KEYS: &[Key] = &[
    Key {
        section: "daemon",
        name: "socket",
        production: "/run/wxprint/wxprint.sock",
        sandbox: Some("./wxprint.sock"),
        doc: "Unix socket the POS software connects to (mode 0660).",
        show: |s| path(&s.daemon.socket),
    },
    Key {
        section: "daemon",
        name: "state_dir",
        production: "/var/lib/wxprint",
        sandbox: Some("./state"),
        doc: "Directory of the job journal; created if missing.",
        show: |s| path(&s.daemon.state_dir),
    },
    // The journal is the record of payments taken, but a register is no archive: the
    // merchant platform keeps every order (issue 12 §3: start fast with a big journal).
    Key {
        section: "daemon",
        name: "keep_finished",
        production: "30days",
        sandbox: None,
        doc: "How long a paid, closed or failed job stays in the journal (pruned at start and daily).",
        show: |s| duration(s.daemon.keep_finished),
    },
    Key {
        section: "wechatpay",
        name: "backend",
        production: "wechatpay",
        sandbox: Some("sandbox"),
        doc: "Payment backend: \"wechatpay\" (WeChat Pay API v3) or \"sandbox\" (offline).",
        show: |s| text(s.wechatpay.backend.as_str()),
    },
    Key {
        section: "wechatpay",
        name: "region",
        production: "mainland",
        sandbox: None,
        doc: "Which WeChat Pay: \"mainland\" (China) or \"global\" (WeChat Pay Global, cross-border).",
        show: |s| text(s.wechatpay.region.as_str()),
    },
    Key {
        section: "wechatpay",
        name: "api_base",
        production: MAINLAND_API,
        sandbox: None,
        doc: "WeChat Pay API base URL.",
        show: |s| text(&s.wechatpay.api_base),
    },
    Key {
        section: "wechatpay",
        name: "backup_api_base",
        production: MAINLAND_BACKUP_API,
        sandbox: None,
        doc: "Backup domain, tried once (freshly signed) when api_base cannot be reached.",
        show: |s| text(&s.wechatpay.backup_api_base),
    },
    Key {
        section: "wechatpay",
        name: "ca_file",
        production: "",
        sandbox: None,
        doc: "Extra trusted root certificate (PEM) for the API connection, e.g. a simulator's.",
        show: |s| optional_path(&s.wechatpay.ca_file),
    },
    Key {
        section: "wechatpay",
        name: "appid",
        production: "",
        sandbox: None,
        doc: "AppID bound to the merchant account (required with backend \"wechatpay\").",
        show: |s| text(&s.wechatpay.appid),
    },
    Key {
        section: "wechatpay",
        name: "mchid",
        production: "",
        sandbox: None,
        doc: "Merchant ID, 商户号 (required with backend \"wechatpay\").",
        show: |s| text(&s.wechatpay.mchid),
    },
    Key {
        section: "wechatpay",
        name: "sub_mchid",
        production: "",
        sandbox: None,
        doc: "Sub-merchant ID: set for service-provider (mainland) or institutional (global) mode.",
        show: |s| text(&s.wechatpay.sub_mchid),
    },
    Key {
        section: "wechatpay",
        name: "sub_appid",
        production: "",
        sandbox: None,
        doc: "The sub-merchant's own AppID (optional, only with sub_mchid).",
        show: |s| text(&s.wechatpay.sub_appid),
    },
    Key {
        section: "wechatpay",
        name: "merchant_serial_no",
        production: "",
        sandbox: None,
        doc: "Serial number of the merchant API certificate, used to sign requests.",
        show: |s| text(&s.wechatpay.merchant_serial_no),
    },
    // The key files are plain paths, not secrets: shown as they are.
    Key {
        section: "wechatpay",
        name: "private_key_file",
        production: "/etc/wxprint/apiclient_key.pem",
        sandbox: None,
        doc: "Merchant API private key (PEM), readable by the daemon only.",
        show: |s| path(&s.wechatpay.private_key_file),
    },
    Key {
        section: "wechatpay",
        name: "public_key_id",
        production: "",
        sandbox: None,
        doc: "Public-key mode (recommended): the WeChat Pay public key ID, \"PUB_KEY_ID_…\".",
        show: |s| text(&s.wechatpay.public_key_id),
    },
    Key {
        section: "wechatpay",
        name: "public_key_file",
        production: "/etc/wxprint/wechatpay_pub.pem",
        sandbox: None,
        doc: "Public-key mode: the WeChat Pay public key (PEM) that verifies responses.",
        show: |s| path(&s.wechatpay.public_key_file),
    },
    Key {
        section: "wechatpay",
        name: "apiv3_key_file",
        production: "",
        sandbox: None,
        doc: "File holding the 32-byte APIv3 key: certificate mode, and decrypting notifications.",
        show: |s| optional_path(&s.wechatpay.apiv3_key_file),
    },
    Key {
        section: "wechatpay",
        name: "notify_url",
        production: "",
        sandbox: None,
        doc: "Sent with each order (the API requires it): the merchant backend's https:// URL.",
        show: |s| text(&s.wechatpay.notify_url),
    },
    Key {
        section: "wechatpay",
        name: "currency",
        production: "CNY",
        sandbox: None,
        doc: "Currency of every order (ISO 4217); the POS sends amounts in its minor unit.",
        show: |s| text(s.wechatpay.currency.code()),
    },
    Key {
        section: "wechatpay",
        name: "merchant_category_code",
        production: "",
        sandbox: None,
        doc: "Merchant category code (MCC), 4 digits: required with region \"global\".",
        show: |s| text(&s.wechatpay.merchant_category_code),
    },
    Key {
        section: "wechatpay",
        name: "order_ttl",
        production: "10m",
        sandbox: None,
        doc: "How long a QR code can be paid: time_expire = now + order_ttl.",
        show: |s| duration(s.wechatpay.order_ttl),
    },
    // WeChat Pay refuses to close an order younger than 5 minutes; the sandbox has no such
    // rule, and a short age lets a cancel finish within seconds.
    Key {
        section: "wechatpay",
        name: "close_min_age",
        production: "5m",
        sandbox: Some("10s"),
        doc: "Never close an order younger than this.",
        show: |s| duration(s.wechatpay.close_min_age),
    },
    // WeChat Pay refuses a refund of an order asked for less than a minute after the one
    // before; a shorter spacing is for a simulator with a shorter rule (the crash tests).
    Key {
        section: "wechatpay",
        name: "refund_spacing",
        production: "1m",
        sandbox: None,
        doc: "Never ask for two refunds of one order nearer together than this.",
        show: |s| duration(s.wechatpay.refund_spacing),
    },
    Key {
        section: "wechatpay",
        name: "request_timeout",
        production: "10s",
        sandbox: None,
        doc: "Timeout of one WeChat Pay API request.",
        show: |s| duration(s.wechatpay.request_timeout),
    },
    // A cashier waits at the counter: past this, the checkout fails with
    // `wechatpay_unavailable` rather than leave the POS hanging (issue 12 §2).
    Key {
        section: "wechatpay",
        name: "place_timeout",
        production: "30s",
        sandbox: None,
        doc: "How long a checkout waits for a verified answer from WeChat Pay before it fails.",
        show: |s| duration(s.wechatpay.place_timeout),
    },
    // The polling schedule: every second for the first minute (a payment is noticed 0.5 s
    // after it happens at the median, within 1 s always, at one query per second — WeChat
    // Pay's own guidance is every 2 s, which puts the median at 1 s), then every 10 s; every
    // second while the customer confirms the payment on their phone.
    Key {
        section: "wechatpay",
        name: "poll_interval",
        production: "1s",
        sandbox: None,
        doc: "Payment query interval during the first poll_fast_window after printing.",
        show: |s| duration(s.wechatpay.poll.fast),
    },
    Key {
        section: "wechatpay",
        name: "poll_fast_window",
        production: "60s",
        sandbox: None,
        doc: "How long after printing poll_interval applies.",
        show: |s| duration(s.wechatpay.poll.fast_window),
    },
    Key {
        section: "wechatpay",
        name: "poll_interval_paying",
        production: "1s",
        sandbox: None,
        doc: "Query interval while the customer confirms on their phone (USERPAYING).",
        show: |s| duration(s.wechatpay.poll.paying),
    },
    Key {
        section: "wechatpay",
        name: "poll_interval_slow",
        production: "10s",
        sandbox: None,
        doc: "Query interval after the fast window, until time_expire.",
        show: |s| duration(s.wechatpay.poll.slow),
    },
    // One budget for every order's queries, so 1,000 unpaid orders never make more than
    // this many a second (issue 12 §3). WeChat Pay publishes no QPS for the order query;
    // the lowest per-merchant figure of its related APIs is micropay's 33/s
    // (docs/wechatpay.md §3.4): 10/s stays well under it, with room for placements,
    // closes and the merchant's other registers.
    Key {
        section: "wechatpay",
        name: "query_rate",
        production: "10",
        sandbox: None,
        doc: "Most payment queries a second, over all open orders together (1 to 100).",
        show: |s| Shown::Integer(s.wechatpay.query_rate.into()),
    },
    Key {
        section: "printer",
        name: "transport",
        production: "serial",
        sandbox: Some("file"),
        doc: "How the receipt printer is wired: \"serial\" | \"usb\" | \"tcp\" | \"file\".",
        show: |s| text(s.printer.transport.as_str()),
    },
    Key {
        section: "printer",
        name: "device",
        production: "/dev/wxprint-printer",
        sandbox: Some("./receipts"),
        doc: "serial / usb: the device node; file: a directory, one .bin file per receipt.",
        show: |s| path(&s.printer.device),
    },
    Key {
        section: "printer",
        name: "address",
        production: "",
        sandbox: None,
        doc: "tcp: the printer's host:port, usually port 9100.",
        show: |s| text(&s.printer.address),
    },
    Key {
        section: "printer",
        name: "baud_rate",
        production: "115200",
        sandbox: None,
        doc: "serial: line speed (must match the printer's setting).",
        show: |s| Shown::Integer(s.printer.baud_rate.into()),
    },
    Key {
        section: "printer",
        name: "flow_control",
        production: "hardware",
        sandbox: None,
        doc: "serial: flow control, \"hardware\" (RTS/CTS) | \"software\" (XON/XOFF) | \"none\".",
        show: |s| text(s.printer.flow_control.as_str()),
    },
    Key {
        section: "printer",
        name: "profile",
        production: "80mm",
        sandbox: None,
        doc: "Paper and printer profile: \"80mm\" | \"58mm\" | a named profile.",
        show: |s| text(&s.printer.profile),
    },
    // The sandbox prints raster QR codes, as the `wxprint render` preview shows them.
    Key {
        section: "printer",
        name: "qr",
        production: "auto",
        sandbox: Some("raster"),
        doc: "How the QR code is printed: \"auto\" | \"native\" | \"raster\".",
        show: |s| text(s.printer.qr.as_str()),
    },
    Key {
        section: "printer",
        name: "encoding",
        production: "auto",
        sandbox: None,
        doc: "Text encoding of receipt text: \"auto\" | \"gb18030\" | \"cp1252\".",
        show: |s| text(s.printer.encoding.as_str()),
    },
    Key {
        section: "printer",
        name: "print_timeout",
        production: "10m",
        sandbox: None,
        doc: "A receipt held back by a printer fault fails after this; the order stays payable.",
        show: |s| duration(s.printer.print_timeout),
    },
    // The folk standard `ESC p 0 25 250` (docs/escpos.md §3): 50 ms on, 500 ms off.
    Key {
        section: "printer",
        name: "drawer_on_ms",
        production: "50",
        sandbox: None,
        doc: "Cash drawer kick: how long the pulse is on, in ms (even, 2 to 126).",
        show: |s| Shown::Integer(s.printer.drawer_pulse.on_ms().into()),
    },
    Key {
        section: "printer",
        name: "drawer_off_ms",
        production: "500",
        sandbox: None,
        doc: "Cash drawer kick: the pause after the pulse, in ms (even, at least 4 × on, at most 510).",
        show: |s| Shown::Integer(s.printer.drawer_pulse.off_ms().into()),
    },
    Key {
        section: "printer",
        name: "drawer_open_level",
        production: "low",
        sandbox: None,
        doc: "The drawer sensor's level (connector pin 3) that means open: \"low\" | \"high\".",
        show: |s| text(s.printer.drawer_open_level.as_str()),
    },
    Key {
        section: "receipt",
        name: "title",
        production: "",
        sandbox: Some("wxprint sandbox"),
        doc: "Receipt header; a checkout request's own title overrides it.",
        show: |s| text(&s.receipt.title),
    },
    Key {
        section: "receipt",
        name: "footer",
        production: "",
        sandbox: Some("Thank you!"),
        doc: "Receipt footer; a checkout request's own footer overrides it.",
        show: |s| text(&s.receipt.footer),
    },
    Key {
        section: "receipt",
        name: "paid_slip",
        production: "false",
        sandbox: None,
        doc: "Print a payment slip after every payment; a checkout's \"slip\": true asks for one.",
        show: |s| Shown::Bool(s.receipt.paid_slip),
    },
    Key {
        section: "notify",
        name: "listen",
        production: "",
        sandbox: None,
        doc: "Where WeChat Pay's payment notifications are received: \"\" (off), host:port or unix:PATH.",
        show: |s| text(&s.notify.listen.to_string()),
    },
    Key {
        section: "notify",
        name: "path",
        production: "/wechatpay/notify",
        sandbox: None,
        doc: "The request path notifications are POSTed to (the path of wechatpay.notify_url).",
        show: |s| text(&s.notify.path),
    },
    Key {
        section: "metrics",
        name: "listen",
        production: "",
        sandbox: None,
        doc: "Where Prometheus metrics are served (GET /metrics): \"\" (off), host:port or unix:PATH.",
        show: |s| text(&s.metrics.listen.to_string()),
    },
    Key {
        section: "metrics",
        name: "textfile",
        production: "",
        sandbox: None,
        doc: "The .prom file node_exporter's textfile collector reads: \"\" (off) or a path.",
        show: |s| optional_path(&s.metrics.textfile),
    },
    Key {
        section: "metrics",
        name: "interval",
        production: "15s",
        sandbox: None,
        doc: "How often metrics.textfile is rewritten.",
        show: |s| duration(s.metrics.interval),
    },
];
