//! The typed settings: plain structs and enums, what the rest of the crate reads.
//!
//! Every value here has been validated (`validate.rs`); the defaults come from the key table
//! (`keys.rs`). This file knows the shape of the settings and the spelling of each enum in the
//! file, not where values come from or how they are checked. What a setting means to a
//! consumer (a receipt layout, a serial port) is the consumer's business.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::money::Currency;

/// Everything the daemon and the CLI need to know, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `[daemon]`: where the daemon listens and keeps its journal.
    pub daemon: DaemonSettings,
    /// `[wechatpay]`: the payment backend and the merchant account.
    pub wechatpay: WechatPaySettings,
    /// `[printer]`: how the receipt printer is reached and what it can do.
    pub printer: PrinterSettings,
    /// `[receipt]`: what every receipt says.
    pub receipt: ReceiptSettings,
    /// `[notify]`: WeChat Pay's payment notifications (off by default).
    pub notify: NotifySettings,
    /// `[metrics]`: Prometheus metrics on a socket and/or a textfile (off by default).
    pub metrics: MetricsSettings,
}

/// `[daemon]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// Unix socket the POS connects to.
    pub socket: PathBuf,
    /// Directory of the journal (created if missing).
    pub state_dir: PathBuf,
    /// How long a finished job stays in the journal (`daemon.keep_finished`).
    pub keep_finished: Duration,
}

/// Which payment backend places and tracks orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The real WeChat Pay API v3.
    WechatPay,
    /// Offline payments for POS developers, paid with `wxprint sandbox-pay`.
    Sandbox,
}

/// Which WeChat Pay the merchant is signed up with (`wechatpay.region`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// Mainland China (`api.mch.weixin.qq.com`), CNY only.
    Mainland,
    /// WeChat Pay Global, the cross-border API (`apihk.mch.weixin.qq.com`), paid in the
    /// merchant's settlement currency.
    Global,
}

/// `[wechatpay]`.
#[derive(Debug, Clone, PartialEq)]
pub struct WechatPaySettings {
    /// Who places the orders.
    pub backend: Backend,
    /// Which WeChat Pay: mainland or Global. Decides the default hosts, the API paths and
    /// which currencies and keys are allowed.
    pub region: Region,
    /// Without a trailing slash (it is stripped), e.g. `https://api.mch.weixin.qq.com`.
    pub api_base: String,
    /// Without a trailing slash, like `api_base`; empty turns the fail-over off.
    pub backup_api_base: String,
    /// An extra trusted root certificate (PEM) for the API connection.
    pub ca_file: Option<PathBuf>,
    /// The AppID bound to the merchant account.
    pub appid: String,
    /// The merchant ID (商户号); the service provider's / institution's `sp_mchid` when
    /// `sub_mchid` is set.
    pub mchid: String,
    /// Service-provider (mainland) or institutional (Global) mode: the sub-merchant's ID;
    /// empty for a direct (mainland) or common (Global) merchant.
    pub sub_mchid: String,
    /// The sub-merchant's own AppID (optional, only with `sub_mchid`); empty for none.
    pub sub_appid: String,
    /// Serial number of the merchant API certificate.
    pub merchant_serial_no: String,
    /// The merchant's private key (PEM); a path, never the key itself.
    pub private_key_file: PathBuf,
    /// Public-key mode: `PUB_KEY_ID_…`, empty in certificate mode.
    pub public_key_id: String,
    /// Public-key mode: the WeChat Pay public key (PEM).
    pub public_key_file: PathBuf,
    /// Certificate mode: the file holding the APIv3 key; `None` is public-key mode.
    pub apiv3_key_file: Option<PathBuf>,
    /// Sent with each order; may be empty with the sandbox.
    pub notify_url: String,
    /// The currency of every order (ISO 4217): CNY on the mainland, the merchant's
    /// settlement currency on Global. Amounts are in its minor unit.
    pub currency: Currency,
    /// Global: the merchant category code (4 digits), sent with each order; empty on the
    /// mainland.
    pub merchant_category_code: String,
    /// `time_expire = now + order_ttl`.
    pub order_ttl: Duration,
    /// Never close an order younger than this.
    pub close_min_age: Duration,
    /// Never ask for two refunds of one order nearer together than this (WeChat Pay's rule:
    /// a minute).
    pub refund_spacing: Duration,
    /// Timeout of one API request.
    pub request_timeout: Duration,
    /// How long a checkout waits for a verified answer to its placement before it fails
    /// (`wechatpay_unavailable`).
    pub place_timeout: Duration,
    /// How often the payment state is queried.
    pub poll: PollSchedule,
    /// The most payment queries a second, over all open orders together
    /// (`wechatpay.query_rate`).
    pub query_rate: u32,
}

impl WechatPaySettings {
    /// Whether the merchant is a sub-merchant: service-provider mode on the mainland,
    /// institutional mode on Global (`sub_mchid` is set; `mchid`/`appid` are then the
    /// provider's `sp_mchid`/`sp_appid`).
    pub fn is_sub_merchant(&self) -> bool {
        !self.sub_mchid.is_empty()
    }
}

/// The query schedule of a payable order (keys `poll_interval`, `poll_fast_window`,
/// `poll_interval_paying`, `poll_interval_slow` of `[wechatpay]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    /// Interval during the first `fast_window` after the QR was printed.
    pub fast: Duration,
    /// How long after printing the `fast` interval applies.
    pub fast_window: Duration,
    /// Interval while the customer is entering their password (USERPAYING).
    pub paying: Duration,
    /// Interval after the fast window, until `time_expire`.
    pub slow: Duration,
}

impl PollSchedule {
    /// How many times slower an order is queried in its fast window when payment
    /// notifications are on (`notify.listen` set): the notification reports the payment,
    /// polling is only the fallback for one that never comes.
    pub const NOTIFIED_SLOWDOWN: u32 = 3;

    /// The schedule with payment notifications on: the fast window's interval
    /// [`NOTIFIED_SLOWDOWN`](Self::NOTIFIED_SLOWDOWN) times longer (1 s → 3 s, so a third of
    /// the queries in an order's first minute), the slow interval never shorter than that;
    /// `paying` unchanged (the customer is at the counter, confirming).
    pub fn with_notifications(self) -> PollSchedule {
        let fast = self.fast.saturating_mul(Self::NOTIFIED_SLOWDOWN);
        PollSchedule {
            fast,
            slow: self.slow.max(fast),
            ..self
        }
    }
}

/// How the receipt printer is wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A serial port (`device`, `baud_rate`, `flow_control`).
    Serial,
    /// A USB printer-class device node (`device`).
    Usb,
    /// A network printer, raw TCP (`address`).
    Tcp,
    /// No printer: one file per receipt in the directory `device`.
    File,
}

/// Serial flow control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControl {
    /// RTS/CTS.
    Hardware,
    /// XON/XOFF.
    Software,
    /// None: the link paces the bytes itself.
    None,
}

/// How the QR code is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrMode {
    /// The printer profile decides.
    Auto,
    /// The printer's own QR command.
    Native,
    /// An image rendered by wxprint; works on every printer.
    Raster,
}

/// How receipt text beyond ASCII is encoded (`printer.encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// The printer profile decides: GB18030 on the Chinese-market profiles, code page 1252
    /// on the Epson ones.
    Auto,
    /// Chinese mode, 2-byte GB18030: hanzi print, accented Latin letters mostly do not.
    Gb18030,
    /// The single-byte Western European code page 1252: accented Latin letters print,
    /// hanzi become `?`.
    Cp1252,
}

/// `[printer]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PrinterSettings {
    /// How the printer is wired.
    pub transport: Transport,
    /// serial / usb: the device node; file: the directory of the receipt files.
    pub device: PathBuf,
    /// tcp: `host:port`.
    pub address: String,
    /// serial: line speed, one of [`STANDARD_BAUD_RATES`](super::STANDARD_BAUD_RATES).
    pub baud_rate: u32,
    /// serial: flow control.
    pub flow_control: FlowControl,
    /// Name of a printer profile (`printer::profile`), checked at start.
    pub profile: String,
    /// How the QR code is printed.
    pub qr: QrMode,
    /// How text beyond ASCII is encoded.
    pub encoding: TextEncoding,
    /// A receipt held back by a printer fault fails after this.
    pub print_timeout: Duration,
    /// The `drawer` op's pulse (`drawer_on_ms`, `drawer_off_ms`, on pin 2 unless the op
    /// names pin 5); valid by construction: off ≥ 4 × on.
    pub drawer_pulse: crate::escpos::DrawerPulse,
    /// The drawer sensor's level (connector pin 3) when the drawer is open.
    pub drawer_open_level: DrawerLevel,
}

/// `printer.drawer_open_level`: the level of the drawer connector's pin 3 (the open/closed
/// switch) that means "open". It depends on the drawer's wiring; most drawers read low
/// when open (receiptio and JumpMind OpenPOS read a set bit, pin 3 high, as closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrawerLevel {
    /// Pin 3 high (`DLE EOT 1` bit 2 set) means open.
    High,
    /// Pin 3 low (`DLE EOT 1` bit 2 clear) means open.
    Low,
}

/// `[receipt]`: defaults that a checkout's own title / footer override.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReceiptSettings {
    /// Printed above the items; empty for none.
    pub title: String,
    /// Printed below the QR code; empty for none.
    pub footer: String,
    /// Print a payment slip after every payment (a checkout's `"slip": true` asks for one
    /// order's).
    pub paid_slip: bool,
}

/// `[notify]`: the listener for WeChat Pay's payment notifications.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NotifySettings {
    /// Where to listen; [`NotifyListen::Off`] by default.
    pub listen: NotifyListen,
    /// The request path notifications are POSTed to, e.g. `/wechatpay/notify`.
    pub path: String,
}

/// `notify.listen`: `""`, `host:port` or `unix:PATH`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NotifyListen {
    /// `""`: no listener; polling alone learns of payments.
    #[default]
    Off,
    /// `host:port`, e.g. `127.0.0.1:8088`.
    Tcp(String),
    /// `unix:PATH`: a Unix socket for a reverse proxy on the same machine.
    Unix(PathBuf),
}

impl fmt::Display for NotifyListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotifyListen::Off => Ok(()),
            NotifyListen::Tcp(address) => f.write_str(address),
            NotifyListen::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// `[metrics]`: the fleet metrics, served and/or written (both off by default).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricsSettings {
    /// Where `GET /metrics` is served: the same forms as `notify.listen`; off by default.
    pub listen: NotifyListen,
    /// The file node_exporter's textfile collector reads (`….prom`); `None`: not written.
    pub textfile: Option<PathBuf>,
    /// How often the textfile is rewritten.
    pub interval: Duration,
}

impl MetricsSettings {
    /// Whether anything is served or written.
    pub fn is_on(&self) -> bool {
        self.listen != NotifyListen::Off || self.textfile.is_some()
    }
}

impl Default for Settings {
    /// The production defaults, see [`Settings::production_defaults`].
    fn default() -> Self {
        Settings::production_defaults()
    }
}

impl Default for PollSchedule {
    /// The production schedule: every second for the first minute, then every 10 s; every
    /// second while the customer confirms on their phone (the reasons are at the keys'
    /// defaults in `keys.rs`).
    fn default() -> Self {
        Settings::production_defaults().wechatpay.poll
    }
}

impl fmt::Display for Settings {
    /// The effective settings as TOML, see [`Settings::effective_toml`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.effective_toml())
    }
}

// ---------------------------------------------------------------------------------------
// The enums' spellings in the file.

/// An enum key of the file: its values and their spellings.
pub(super) trait Choice: Copy + 'static {
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

macro_rules! choice {
    ($type:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            /// The spelling in the config file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $name),+
                }
            }
        }

        impl Choice for $type {
            const ALL: &'static [Self] = &[$($type::$variant),+];
            fn name(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice!(Backend { WechatPay => "wechatpay", Sandbox => "sandbox" });
choice!(Region { Mainland => "mainland", Global => "global" });
choice!(Transport { Serial => "serial", Usb => "usb", Tcp => "tcp", File => "file" });
choice!(FlowControl { Hardware => "hardware", Software => "software", None => "none" });
choice!(QrMode { Auto => "auto", Native => "native", Raster => "raster" });
choice!(DrawerLevel { High => "high", Low => "low" });
choice!(TextEncoding { Auto => "auto", Gb18030 => "gb18030", Cp1252 => "cp1252" });
