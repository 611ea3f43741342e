//! Typed settings: the TOML file of DESIGN.md, environment overrides, validation.
//!
//! Loading happens in three steps: the `config` crate layers the TOML file and the
//! `WXPRINT_…` environment over the built-in defaults, the raw tree is deserialised into
//! [`RawSettings`] (every key optional, strings as written), and [`Settings::from_raw`]
//! validates each key into its typed form. Every error names the key, the value and the
//! expected form, on one line.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the daemon and the CLI need to know, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub daemon: DaemonSettings,
    pub wechatpay: WechatPaySettings,
    pub printer: PrinterSettings,
    pub receipt: ReceiptSettings,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// Unix socket the POS connects to.
    pub socket: PathBuf,
    /// Directory of the journal (created if missing).
    pub state_dir: PathBuf,
}

/// Which payment backend places and tracks orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    WechatPay,
    Sandbox,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WechatPaySettings {
    pub backend: Backend,
    pub api_base: String,
    pub backup_api_base: String,
    pub ca_file: Option<PathBuf>,
    pub appid: String,
    pub mchid: String,
    pub merchant_serial_no: String,
    pub private_key_file: PathBuf,
    pub public_key_id: String,
    pub public_key_file: PathBuf,
    pub apiv3_key_file: Option<PathBuf>,
    pub notify_url: String,
    /// `time_expire = now + order_ttl`.
    pub order_ttl: Duration,
    /// Never close an order younger than this.
    pub close_min_age: Duration,
    pub request_timeout: Duration,
    /// How often the payment state is queried.
    pub poll: PollSchedule,
}

/// The query schedule of a payable order (extension of DESIGN.md's keys:
/// `poll_interval`, `poll_fast_window`, `poll_interval_paying`, `poll_interval_slow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSchedule {
    /// Interval during the first `fast_window` after the QR was printed.
    pub fast: Duration,
    pub fast_window: Duration,
    /// Interval while the customer is entering their password (USERPAYING).
    pub paying: Duration,
    /// Interval after the fast window, until `time_expire`.
    pub slow: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Serial,
    Usb,
    Tcp,
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControl {
    Hardware,
    Software,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrMode {
    Auto,
    Native,
    Raster,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrinterSettings {
    pub transport: Transport,
    pub device: PathBuf,
    pub address: String,
    pub baud_rate: u32,
    pub flow_control: FlowControl,
    pub profile: String,
    pub qr: QrMode,
    pub encoding: String,
    pub print_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReceiptSettings {
    pub title: String,
    pub footer: String,
}

/// Why settings could not be loaded. Each message is one line naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl Settings {
    /// The embedded sandbox defaults of `serve --sandbox` without a config file.
    pub fn sandbox_defaults() -> Settings {
        todo!("config helper")
    }

    /// Load `path` (TOML) over the defaults, then the `WXPRINT_…` environment.
    /// `sandbox` starts from [`Settings::sandbox_defaults`] instead of the production ones.
    pub fn load(_path: Option<&Path>, _sandbox: bool) -> Result<Settings, ConfigError> {
        todo!("config helper")
    }
}
