//! [`JobsConfig`]: the state machine's part of the settings, and the receipt layout of
//! the configured printer profile.
//!
//! The only file of `jobs/` that reads the settings tree: the rest of the state machine sees
//! durations, the [`PollSchedule`] (a plain value it re-exports) and a [`Layout`], never the
//! settings, the TOML or the environment.

use std::time::Duration;

pub(crate) use crate::config::PollSchedule;
use crate::config::{Backend, NotifyListen, PrinterSettings, QrMode, Settings, TextEncoding};
use crate::escpos::{DrawerPulse, Layout, QrStyle, TextMode};
use crate::printer::profile;

/// What the state machine needs from the settings.
#[derive(Debug, Clone)]
pub struct JobsConfig {
    /// `time_expire = now + order_ttl` when the POS gives none.
    pub order_ttl: Duration,
    /// WeChat Pay's rule: never close a younger order.
    pub close_min_age: Duration,
    /// WeChat Pay's rule: an order stays payable at least this long (one minute); a POS's
    /// `time_expire` nearer than that is refused ([`TIME_EXPIRE_MIN`]; tests shrink it).
    pub time_expire_min: Duration,
    /// How long a checkout waits for a verified answer to its placement before it fails
    /// with `wechatpay_unavailable` (`wechatpay.place_timeout`).
    pub place_timeout: Duration,
    /// How often a payable order is queried (`[wechatpay]` `poll_*` keys; slower with
    /// payment notifications on, see [`poll_schedule`]).
    pub poll: PollSchedule,
    /// `[receipt]` defaults; a checkout's `receipt` overrides them.
    pub receipt_title: String,
    /// The text printed at the foot of the receipt (wrapped, centred).
    pub receipt_footer: String,
    /// Print a payment slip after every payment (`receipt.paid_slip`); without it, only
    /// after the checkouts that ask (`"slip": true`).
    pub paid_slip: bool,
    /// Paper width, text mode and QR style of the printer profile (see [`layout_for`]).
    pub layout: Layout,
    /// The printer profile's name, for the test page.
    pub profile: String,
    /// A receipt the printer cannot take (paper out, offline, unplugged) stays pending and
    /// is tried again; after this long it is `failed` (the order stays payable).
    pub print_timeout: Duration,
    /// The most payment queries a second, over all open orders (`wechatpay.query_rate`).
    pub query_rate: u32,
    /// How long a finished job stays in the journal (`daemon.keep_finished`).
    pub keep_finished: Duration,
    /// The `drawer` op's pulse (`printer.drawer_on_ms` / `drawer_off_ms`, pin 2).
    pub drawer: DrawerPulse,
}

/// WeChat Pay's shortest order life: a `time_expire` less than a minute ahead is raised to
/// one minute by WeChat Pay (docs/wechatpay.md §2); wxprint refuses it instead, so the POS
/// never believes in a shorter window than the customer has.
pub const TIME_EXPIRE_MIN: Duration = Duration::from_secs(60);

impl JobsConfig {
    /// The state machine's part of the settings.
    pub fn from_settings(settings: &Settings) -> JobsConfig {
        JobsConfig {
            order_ttl: settings.wechatpay.order_ttl,
            close_min_age: settings.wechatpay.close_min_age,
            time_expire_min: TIME_EXPIRE_MIN,
            place_timeout: settings.wechatpay.place_timeout,
            poll: poll_schedule(settings),
            receipt_title: settings.receipt.title.clone(),
            receipt_footer: settings.receipt.footer.clone(),
            paid_slip: settings.receipt.paid_slip,
            layout: layout_for(&settings.printer),
            profile: settings.printer.profile.clone(),
            print_timeout: settings.printer.print_timeout,
            query_rate: settings.wechatpay.query_rate,
            keep_finished: settings.daemon.keep_finished,
            drawer: settings.printer.drawer_pulse,
        }
    }
}

/// The query schedule: the configured one, or, when WeChat Pay's payment notifications
/// come (`notify.listen` set with the WeChat Pay backend), the slower
/// [`PollSchedule::with_notifications`]: polling is then only the fallback for a lost
/// notification, and a payment is still found by it.
pub(crate) fn poll_schedule(settings: &Settings) -> PollSchedule {
    let configured = settings.wechatpay.poll;
    let notified = settings.notify.listen != NotifyListen::Off
        && settings.wechatpay.backend == Backend::WechatPay;
    if notified {
        configured.with_notifications()
    } else {
        configured
    }
}

/// Paper geometry, text mode and QR style for the configured printer profile (an unknown
/// profile name is refused at start, see [`crate::printer::profile::find`]; here it falls
/// back to the generic 80 mm profile). `qr` and `encoding` override the profile's choice
/// unless they are `auto`.
pub fn layout_for(printer: &PrinterSettings) -> Layout {
    let profile = profile::find(&printer.profile).unwrap_or(&profile::PROFILES[0]);
    let qr = match printer.qr {
        QrMode::Native => QrStyle::Native,
        QrMode::Raster => QrStyle::Raster,
        QrMode::Auto => profile.auto_qr(),
    };
    let mut layout = profile.layout(qr);
    layout.text = text_mode(printer.encoding).unwrap_or(profile.text);
    layout
}

/// The text mode `printer.encoding` asks for; `None` for `auto` (the profile decides).
fn text_mode(encoding: TextEncoding) -> Option<TextMode> {
    match encoding {
        TextEncoding::Auto => None,
        TextEncoding::Gb18030 => Some(TextMode::Chinese),
        // ESC t 16 = WPC1252 in Epson's numbering, which the Zjiang POS-5890 shares.
        TextEncoding::Cp1252 => Some(TextMode::CodePage(16)),
    }
}

/// A warning for the technician when `printer.encoding` overrides the profile's own text
/// mode. Until 0.1 the key was read by nothing, and the shipped config said `"gb18030"`, so
/// a kept `/etc/wxprint/wxprint.toml` may now switch an Epson profile to Chinese mode: say
/// so at start and in `check-config` rather than let receipts change silently.
pub fn encoding_override(printer: &PrinterSettings) -> Option<String> {
    let profile = profile::find(&printer.profile)?;
    let wanted = text_mode(printer.encoding)?;
    let describe = |mode: TextMode| match mode {
        TextMode::Chinese => "Chinese mode (GB18030)".to_owned(),
        TextMode::CodePage(n) => format!("code page ESC t {n}"),
    };
    (wanted != profile.text).then(|| {
        format!(
            "printer.encoding = {:?} overrides profile {:?}: receipt text is sent in {} instead of the profile's {}; set encoding = \"auto\" if receipts print garbled text",
            printer.encoding.as_str(),
            profile.name,
            describe(wanted),
            describe(profile.text),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn notifications_slow_the_first_minute_threefold_on_wechat_pay_only() {
        let mut settings = Settings::sandbox_defaults();
        let configured = settings.wechatpay.poll;
        settings.notify.listen = NotifyListen::Tcp("127.0.0.1:8088".into());
        assert_eq!(poll_schedule(&settings), configured, "the sandbox has none");
        settings.wechatpay.backend = Backend::WechatPay;
        let notified = poll_schedule(&settings);
        assert_eq!(notified.fast, configured.fast * 3);
        assert_eq!(notified.fast_window, configured.fast_window);
        assert_eq!(notified.paying, configured.paying);
        assert!(notified.slow >= notified.fast && notified.slow >= configured.slow);
        settings.notify.listen = NotifyListen::Off;
        assert_eq!(poll_schedule(&settings), configured);
    }

    #[test]
    fn an_encoding_that_overrides_the_profile_is_named() {
        let mut printer = Settings::sandbox_defaults().printer;
        printer.profile = "epson-tm-t88".into();
        printer.encoding = TextEncoding::Auto;
        assert_eq!(encoding_override(&printer), None);
        printer.encoding = TextEncoding::Cp1252;
        assert_eq!(encoding_override(&printer), None, "the profile's own mode");
        printer.encoding = TextEncoding::Gb18030;
        let note = encoding_override(&printer).expect("an override");
        assert!(
            note.contains("\"epson-tm-t88\"") && note.contains("GB18030"),
            "{note}"
        );
        printer.profile = "80mm".into();
        assert_eq!(encoding_override(&printer), None, "80mm is Chinese already");
    }
}
