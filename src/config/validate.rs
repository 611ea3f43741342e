//! Validation: the raw text of every key → typed [`Settings`], one function per section.
//!
//! The single-key forms are [`Check`]'s; what is decided here is which keys are required and
//! when, because that spans keys: backend `wechatpay` needs the merchant's identifiers, the
//! key mode (`apiv3_key_file` set or not) decides between the public key and the APIv3 key,
//! and the transport decides between `device` and `address`. All problems are collected in
//! key order, one line each, so that one run of `check-config` shows them all.

use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;
use super::check::{Check, Range};
use super::raw::RawSettings;
use super::region_defaults::region_default;
use super::settings::{
    Backend, DaemonSettings, FlowControl, MetricsSettings, NotifyListen, NotifySettings,
    PollSchedule, PrinterSettings, QrMode, ReceiptSettings, Region, Settings, TextEncoding,
    Transport, WechatPaySettings,
};
use super::url::{is_loopback, parse_url, split_host_port};

mod drawer;
#[cfg(test)]
mod kinds_tests;
#[cfg(test)]
mod tests;

/// `keep_finished`'s bounds: at least a day: `status` answers for the day's orders; at most ten years.
const KEEP_FINISHED: Range = Range::Between(
    Duration::from_secs(24 * 3600),
    Duration::from_secs(10 * 366 * 24 * 3600),
    "finished jobs are kept at least a day",
);

/// `order_ttl`'s bounds.
const ORDER_TTL: Range = Range::Between(
    Duration::from_secs(60),
    Duration::from_secs(2 * 60 * 60),
    "WeChat Pay needs time_expire at least 1 minute ahead, and a code_url lives 2 hours",
);

/// `close_min_age` of a live WeChat Pay Global merchant: Global refuses to close an order
/// younger than 5 minutes (a hard rule), so a shorter age only earns refused closes.
const GLOBAL_CLOSE_MIN_AGE: Range = Range::Between(
    Duration::from_secs(5 * 60),
    Duration::from_secs(2 * 60 * 60),
    "WeChat Pay Global refuses to close an order younger than 5 minutes",
);

/// `refund_spacing` of a live merchant on WeChat Pay's hosts: WeChat Pay refuses a refund of
/// an order asked for less than a minute after the one before, so a shorter spacing only
/// earns refunds ended `failed`. A simulator on this machine (a loopback `api_base`) may have
/// a shorter rule.
const LIVE_REFUND_SPACING: Range = Range::Between(
    Duration::from_secs(60),
    Duration::from_secs(60 * 60),
    "WeChat Pay refuses a refund of an order less than a minute after the one before",
);

/// The range of `refund_spacing`: [`LIVE_REFUND_SPACING`] for a live merchant unless both
/// hosts are on this machine (a simulator; an empty backup is none).
fn refund_spacing_range(live: bool, api_base: &str, backup_api_base: &str) -> Range {
    let local = |url: &str| parse_url(url).is_ok_and(|url| is_loopback(url.host));
    let simulator = local(api_base) && (backup_api_base.is_empty() || local(backup_api_base));
    if live && !simulator {
        LIVE_REFUND_SPACING
    } else {
        Range::Any
    }
}

/// Every key of `raw` in its typed form, and all problems found, in key order.
///
/// The settings are meant for use only when there are no problems: where a key is wrong,
/// its field holds a placeholder (an empty value, zero, or the harmless choice named at
/// each `unwrap_or` below) so that the other keys can still be checked.
pub(super) fn validate(raw: &RawSettings) -> (Settings, Vec<ConfigError>) {
    let mut c = Check::new(raw);
    let settings = Settings {
        daemon: daemon(&mut c),
        wechatpay: wechatpay(&mut c),
        printer: printer(&mut c),
        receipt: receipt(&mut c),
        notify: notify(&mut c),
        metrics: metrics(&mut c),
    };
    notify_needs_apiv3_key(&mut c, &settings);
    (settings, c.into_errors())
}

/// The listener needs the APIv3 key: WeChat Pay encrypts every notification with it.
/// Only with the WeChat Pay backend (the sandbox sends none, and `serve` says so).
fn notify_needs_apiv3_key(c: &mut Check<'_>, s: &Settings) {
    if s.notify.listen != NotifyListen::Off
        && s.wechatpay.backend == Backend::WechatPay
        && s.wechatpay.apiv3_key_file.is_none()
    {
        c.fail(
            "notify.listen",
            "is set but wechatpay.apiv3_key_file is not: WeChat Pay encrypts notifications \
             with the APIv3 key",
            "wechatpay.apiv3_key_file set too (the APIv3 key file from the merchant \
             platform; public-key trust stays), or notify.listen = \"\" to turn \
             notifications off",
        );
    }
}

fn daemon(c: &mut Check<'_>) -> DaemonSettings {
    DaemonSettings {
        socket: c.required_path("daemon.socket", "the path of the Unix socket"),
        state_dir: c.required_path("daemon.state_dir", "the journal's directory"),
        keep_finished: c.duration("daemon.keep_finished", KEEP_FINISHED),
    }
}

/// `[wechatpay]`: what is required depends on the backend, the key mode and the region.
fn wechatpay(c: &mut Check<'_>) -> WechatPaySettings {
    let backend = c.choice::<Backend>("wechatpay.backend");
    let live = backend == Some(Backend::WechatPay);
    // Placeholder: the mainland, whose rules are the narrower ones.
    let region = c
        .choice::<Region>("wechatpay.region")
        .unwrap_or(Region::Mainland);
    let (api_base, backup_api_base) = hosts(c, region);
    let ca_file = c.optional_path("wechatpay.ca_file");
    let appid = c.identifier(
        "wechatpay.appid",
        live,
        "the AppID bound to the merchant account, e.g. \"wxd678efh567hg6787\"",
    );
    let mchid = c.identifier(
        "wechatpay.mchid",
        live,
        "the merchant ID (商户号), e.g. \"1230000109\"",
    );
    let (sub_mchid, sub_appid) = sub_merchant(c, &mchid);
    let merchant_serial_no = c.identifier(
        "wechatpay.merchant_serial_no",
        live,
        "the serial number of the merchant API certificate",
    );
    let apiv3_key_file = c.optional_path("wechatpay.apiv3_key_file");
    let public_key_mode = apiv3_key_file.is_none();
    let refund_spacing = refund_spacing_range(live, &api_base, &backup_api_base);
    WechatPaySettings {
        // Placeholder: the sandbox requires nothing more.
        backend: backend.unwrap_or(Backend::Sandbox),
        region,
        api_base,
        backup_api_base,
        ca_file,
        appid,
        mchid,
        sub_mchid,
        sub_appid,
        merchant_serial_no,
        private_key_file: c.path(
            "wechatpay.private_key_file",
            live,
            "the path of the merchant's private key (apiclient_key.pem)",
        ),
        public_key_id: c.public_key_id("wechatpay.public_key_id", live && public_key_mode),
        public_key_file: c.path(
            "wechatpay.public_key_file",
            live && public_key_mode,
            "the path of the WeChat Pay public key (or set apiv3_key_file for certificate mode)",
        ),
        apiv3_key_file,
        notify_url: c.notify_url("wechatpay.notify_url", live),
        currency: c.currency("wechatpay.currency", region),
        merchant_category_code: c
            .merchant_category_code("wechatpay.merchant_category_code", region),
        order_ttl: c.duration("wechatpay.order_ttl", ORDER_TTL),
        close_min_age: c.duration(
            "wechatpay.close_min_age",
            if live && region == Region::Global {
                GLOBAL_CLOSE_MIN_AGE
            } else {
                Range::Any
            },
        ),
        refund_spacing: c.duration("wechatpay.refund_spacing", refund_spacing),
        request_timeout: c.duration("wechatpay.request_timeout", Range::Positive),
        place_timeout: c.duration("wechatpay.place_timeout", Range::Positive),
        poll: PollSchedule {
            fast: c.duration("wechatpay.poll_interval", Range::Positive),
            fast_window: c.duration("wechatpay.poll_fast_window", Range::Positive),
            paying: c.duration("wechatpay.poll_interval_paying", Range::Positive),
            slow: c.duration("wechatpay.poll_interval_slow", Range::Positive),
        },
        query_rate: c.integer("wechatpay.query_rate", 1..=100, "queries a second"),
    }
}

/// `api_base` and `backup_api_base`: an explicit value (file or environment) wins, even an
/// empty backup, which turns the fail-over off (a simulator, a proxy); else the region's
/// default hosts.
fn hosts(c: &mut Check<'_>, region: Region) -> (String, String) {
    let mut host = |key: &str, optional: bool| match region_default(key, region) {
        Some(default) if !c.is_set(key) => default.to_string(),
        _ if optional => c.optional_base_url(key),
        _ => c.base_url(key),
    };
    let api_base = host("wechatpay.api_base", false);
    let backup_api_base = host("wechatpay.backup_api_base", true);
    (api_base, backup_api_base)
}

/// `sub_mchid` and `sub_appid`: a sub-merchant's AppID needs its merchant ID.
/// The sub-merchant's id is WeChat Pay's: digits, and not the provider's own `mchid` (it
/// goes into signed query strings as it is).
fn sub_merchant(c: &mut Check<'_>, mchid: &str) -> (String, String) {
    let sub_mchid = c.text("wechatpay.sub_mchid").trim().to_string();
    let sub_appid = c.text("wechatpay.sub_appid").trim().to_string();
    if !sub_mchid.chars().all(|ch| ch.is_ascii_digit()) {
        c.fail(
            "wechatpay.sub_mchid",
            "is not a WeChat Pay merchant ID",
            "the sub-merchant's 商户号, digits only, e.g. \"1900000109\"",
        );
    } else if !sub_mchid.is_empty() && sub_mchid == mchid {
        c.fail(
            "wechatpay.sub_mchid",
            "is the same as wechatpay.mchid",
            "the sub-merchant's own 商户号; mchid holds the service provider's (sp_mchid)",
        );
    }
    if !sub_appid.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        c.fail(
            "wechatpay.sub_appid",
            "is not an AppID",
            "the sub-merchant's AppID, letters and digits, e.g. \"wx8888888888888888\"",
        );
    }
    if sub_mchid.is_empty() && !sub_appid.is_empty() {
        c.fail(
            "wechatpay.sub_appid",
            "set without wechatpay.sub_mchid",
            "sub_mchid set as well (service-provider or institutional mode, with mchid and \
             appid the provider's), or sub_appid = \"\" for a direct merchant",
        );
    }
    (sub_mchid, sub_appid)
}

/// `[printer]`: the transport decides between `device` and `address`. Whether `profile`
/// names a known profile is checked where the profiles are (`printer::profile::find`).
fn printer(c: &mut Check<'_>) -> PrinterSettings {
    let transport = c.choice::<Transport>("printer.transport");
    let device = PathBuf::from(c.text("printer.device"));
    let address = c.text("printer.address").trim().to_string();
    match transport {
        Some(Transport::Tcp) => c.tcp_address("printer.address"),
        Some(other) if device.as_os_str().is_empty() => c.fail(
            "printer.device",
            &format!("required with transport {:?}", other.as_str()),
            if other == Transport::File {
                "a directory for the receipt files, e.g. \"./receipts\""
            } else {
                "a device path, e.g. \"/dev/wxprint-printer\" or \"/dev/usb/lp0\""
            },
        ),
        _ => {}
    }
    PrinterSettings {
        // Placeholders: the transport and the choices that need no other key.
        transport: transport.unwrap_or(Transport::File),
        device,
        address,
        baud_rate: c.baud_rate("printer.baud_rate"),
        flow_control: c
            .choice::<FlowControl>("printer.flow_control")
            .unwrap_or(FlowControl::None),
        profile: c.required_text(
            "printer.profile",
            "a printer profile, e.g. \"80mm\" or \"58mm\"",
        ),
        qr: c.choice::<QrMode>("printer.qr").unwrap_or(QrMode::Auto),
        encoding: c.encoding("printer.encoding").unwrap_or(TextEncoding::Auto),
        print_timeout: c.duration("printer.print_timeout", Range::Positive),
        drawer_pulse: drawer::pulse(c),
        drawer_open_level: drawer::open_level(c),
    }
}

fn receipt(c: &mut Check<'_>) -> ReceiptSettings {
    ReceiptSettings {
        title: c.text("receipt.title").to_string(),
        footer: c.text("receipt.footer").to_string(),
        paid_slip: c.boolean("receipt.paid_slip"),
    }
}

/// `[notify]`: `listen` is off (`""`), `host:port` or `unix:PATH`; `path` an absolute request
/// path without query.
fn notify(c: &mut Check<'_>) -> NotifySettings {
    let listen = listen(c, "notify.listen", "unix:/run/wxprint-notify/notify.sock");
    let path = c.text("notify.path").trim().to_string();
    let bad = |p: &str| {
        !p.starts_with('/')
            || p.chars()
                .any(|c| c == '?' || c == '#' || c.is_whitespace() || c.is_control())
    };
    if bad(&path) {
        c.fail(
            "notify.path",
            "not an absolute request path",
            "the path of wechatpay.notify_url, e.g. \"/wechatpay/notify\" (no query)",
        );
    }
    NotifySettings { listen, path }
}

/// A listener key (`notify.listen`, `metrics.listen`): off (`""`), `host:port` or
/// `unix:PATH` with an absolute path (`unix` is the example socket).
fn listen(c: &mut Check<'_>, key: &str, unix: &str) -> NotifyListen {
    let text = c.text(key).trim().to_string();
    if text.is_empty() {
        NotifyListen::Off
    } else if let Some(path) = text.strip_prefix("unix:") {
        if !path.starts_with('/') {
            let expected = format!("e.g. \"{unix}\"");
            c.fail(key, "a Unix socket needs an absolute path", &expected);
        }
        NotifyListen::Unix(PathBuf::from(path))
    } else {
        if !matches!(split_host_port(&text), Some((_, Some(_)))) {
            let expected = format!("\"\" (off), e.g. \"127.0.0.1:8088\" or \"{unix}\"");
            c.fail(key, "not host:port or unix:PATH", &expected);
        }
        NotifyListen::Tcp(text)
    }
}

/// `metrics.interval`'s bounds.
const METRICS_INTERVAL: Range = Range::Between(
    Duration::from_secs(1),
    Duration::from_secs(3600),
    "node_exporter reads the textfile at every scrape (typically every 15 s to 1 min)",
);

/// `[metrics]`: `listen` as `notify.listen`; `textfile` off (`""`) or an absolute path
/// ending in `.prom` (the only files node_exporter's textfile collector reads).
fn metrics(c: &mut Check<'_>) -> MetricsSettings {
    let listen = listen(
        c,
        "metrics.listen",
        "unix:/run/wxprint-metrics/metrics.sock",
    );
    let textfile = c.optional_path("metrics.textfile");
    if let Some(path) = &textfile
        && (!path.is_absolute() || path.extension().is_none_or(|e| e != "prom"))
    {
        c.fail(
            "metrics.textfile",
            "not an absolute path ending in .prom",
            "\"\" (off), e.g. \"/var/lib/node_exporter/textfile_collector/wxprint.prom\" \
             (node_exporter reads only *.prom files)",
        );
    }
    MetricsSettings {
        listen,
        textfile,
        interval: c.duration("metrics.interval", METRICS_INTERVAL),
    }
}
