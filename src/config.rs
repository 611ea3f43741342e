//! Typed settings: the TOML file of DESIGN.md, environment overrides, validation.
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
//!    a `__` after the prefix name keys; the others, such as `WXPRINT_CONFIG` (the path of
//!    the file itself), are left alone.
//!
//! The merged tree is then checked for unknown keys (a typo must not silently leave a
//! default in place) and flattened into `RawSettings`: each key's value as text (values from
//! the environment are always text, so an integer may be written as a string anywhere) and
//! whether the environment set it. `Settings::from_raw` validates each key into its typed
//! form. All problems are reported together ([`ConfigError::Many`]); each is one line naming
//! the key, the value and the expected form:
//!
//! ```text
//! printer.baud_rate: not a standard baud rate (got "9601"); expected one of 1200, 2400, …
//! ```
//!
//! [`Settings::effective_toml`] (also [`Settings`]'s `Display`) prints the result back as
//! TOML with every key, for `wxprint check-config`. Key files are referred to by path only;
//! nothing here reads them (the `wechatpay` module does).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ::config::{Config, Environment, File, FileFormat, Source, Value, ValueKind};

/// The config file used when neither `--config` nor `WXPRINT_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/wxprint/wxprint.toml";

/// The environment variable naming the config file (not a setting itself).
pub const CONFIG_PATH_ENV: &str = "WXPRINT_CONFIG";

/// Prefix of the environment overrides: `WXPRINT_<SECTION>__<KEY>`.
pub const ENV_PREFIX: &str = "WXPRINT";

/// The baud rates accepted for `printer.baud_rate`.
pub const STANDARD_BAUD_RATES: &[u32] = &[
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
];

/// WeChat Pay public-key IDs start with this (`wechatpay.public_key_id`).
pub const PUBLIC_KEY_ID_PREFIX: &str = "PUB_KEY_ID_";

/// Keys (`section.key`) whose values are secrets, printed as [`REDACTED`] by
/// [`Settings::effective_toml`]. None so far: keys live in files, and the `*_file` keys are
/// plain paths, shown as they are. A future key holding a secret value must be listed here.
const SECRET_KEYS: &[&str] = &[];

/// What [`Settings::effective_toml`] prints instead of a secret value.
pub const REDACTED: &str = "<redacted>";

/// The origin the `config` crate gives values from [`Environment`].
const ENV_ORIGIN: &str = "the environment";

/// WeChat Pay limits `notify_url` to 256 characters.
const NOTIFY_URL_MAX_LEN: usize = 256;

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
    /// Without a trailing slash (it is stripped), e.g. `https://api.mch.weixin.qq.com`.
    pub api_base: String,
    /// Without a trailing slash, like `api_base`.
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
    /// Lowercase; only `gb18030` for now.
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
    /// The file named by `--config` / `WXPRINT_CONFIG` is missing or unreadable.
    #[error("cannot read config file {path}: {message}")]
    File { path: PathBuf, message: String },
    /// The file is not valid TOML (`message` has the line and column).
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    /// One key is unknown or has a bad value; `message` is
    /// `what is wrong (got "value"); expected …`.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
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

// ---------------------------------------------------------------------------------------
// The enums' spellings in the file.

/// An enum key of the file: its values and their spellings.
trait Choice: Copy + 'static {
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
choice!(Transport { Serial => "serial", Usb => "usb", Tcp => "tcp", File => "file" });
choice!(FlowControl { Hardware => "hardware", Software => "software", None => "none" });
choice!(QrMode { Auto => "auto", Native => "native", Raster => "raster" });

// ---------------------------------------------------------------------------------------
// Defaults.

impl Default for PollSchedule {
    /// Every second for the first minute (a payment is noticed 0.5 s after it happens at
    /// the median, within 1 s always, at one query per second — WeChat Pay's own guidance
    /// is every 2 s, which puts the median at 1 s), then every 10 s; every second while the
    /// customer confirms the payment on their phone.
    fn default() -> Self {
        PollSchedule {
            fast: Duration::from_secs(1),
            fast_window: Duration::from_secs(60),
            paying: Duration::from_secs(1),
            slow: Duration::from_secs(10),
        }
    }
}

impl Default for Settings {
    /// The production defaults, see [`Settings::production_defaults`].
    fn default() -> Self {
        Settings::production_defaults()
    }
}

impl Settings {
    /// The defaults under the file: those of DESIGN.md's example, with the merchant's
    /// identifiers (`appid`, `mchid`, …) and `notify_url` empty, so that they must be set.
    pub fn production_defaults() -> Settings {
        Settings {
            daemon: DaemonSettings {
                socket: PathBuf::from("/run/wxprint/wxprint.sock"),
                state_dir: PathBuf::from("/var/lib/wxprint"),
            },
            wechatpay: WechatPaySettings {
                backend: Backend::WechatPay,
                api_base: "https://api.mch.weixin.qq.com".into(),
                backup_api_base: "https://api2.mch.weixin.qq.com".into(),
                ca_file: None,
                appid: String::new(),
                mchid: String::new(),
                merchant_serial_no: String::new(),
                private_key_file: PathBuf::from("/etc/wxprint/apiclient_key.pem"),
                public_key_id: String::new(),
                public_key_file: PathBuf::from("/etc/wxprint/wechatpay_pub.pem"),
                apiv3_key_file: None,
                notify_url: String::new(),
                order_ttl: Duration::from_secs(10 * 60),
                close_min_age: Duration::from_secs(5 * 60),
                request_timeout: Duration::from_secs(10),
                poll: PollSchedule::default(),
            },
            printer: PrinterSettings {
                transport: Transport::Serial,
                device: PathBuf::from("/dev/wxprint-printer"),
                address: String::new(),
                baud_rate: 115200,
                flow_control: FlowControl::Hardware,
                profile: "80mm".into(),
                qr: QrMode::Auto,
                encoding: "gb18030".into(),
                print_timeout: Duration::from_secs(10 * 60),
            },
            receipt: ReceiptSettings::default(),
        }
    }

    /// The embedded sandbox defaults of `serve --sandbox` without a config file: offline
    /// payments, everything under the current directory (`./wxprint.sock`, `./state/`,
    /// receipts as files in `./receipts/`), and a short `close_min_age` so that a cancel
    /// finishes within seconds.
    pub fn sandbox_defaults() -> Settings {
        let mut settings = Settings::production_defaults();
        settings.daemon = DaemonSettings {
            socket: PathBuf::from("./wxprint.sock"),
            state_dir: PathBuf::from("./state"),
        };
        settings.wechatpay.backend = Backend::Sandbox;
        settings.wechatpay.close_min_age = Duration::from_secs(10);
        settings.printer.transport = Transport::File;
        settings.printer.device = PathBuf::from("./receipts");
        settings.printer.qr = QrMode::Raster;
        settings.receipt = ReceiptSettings {
            title: "wxprint sandbox".into(),
            footer: "Thank you!".into(),
        };
        settings
    }

    /// Load `path` (TOML) over the defaults, then the `WXPRINT_…` environment.
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
        let defaults = if sandbox {
            Settings::sandbox_defaults()
        } else {
            Settings::production_defaults()
        };
        let known = defaults.entries();
        let mut errors = Vec::new();

        // Layer 1: the defaults, every key as text (like the environment's values).
        let mut builder = Config::builder();
        for entry in &known {
            builder = builder
                .set_default(entry.dotted(), entry.value.plain())
                .map_err(|err| invalid(&entry.dotted(), &one_line(&err.to_string())))?;
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
        let tree = builder
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
            })?;

        let raw = RawSettings::from_tree(tree, &known, &mut errors);
        match Settings::from_raw(&raw) {
            Ok(settings) if errors.is_empty() => Ok(settings),
            Ok(_) => Err(ConfigError::from_list(errors)),
            Err(invalid) => {
                errors.extend(invalid);
                Err(ConfigError::from_list(errors))
            }
        }
    }

    /// The settings as TOML, every key of every section, durations as humantime strings
    /// (`"10m"`); for `wxprint check-config`. Loading this text gives the same settings.
    /// Values of secret keys (none so far) print as `"<redacted>"`.
    pub fn effective_toml(&self) -> String {
        self.render_toml(|key| SECRET_KEYS.contains(&key))
    }

    /// [`Settings::effective_toml`] with `is_secret("section.key")` deciding what to redact.
    fn render_toml(&self, is_secret: impl Fn(&str) -> bool) -> String {
        let mut out = String::new();
        let mut section = "";
        for entry in self.entries() {
            if entry.section != section {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("[{}]\n", entry.section));
                section = entry.section;
            }
            let value = if is_secret(&entry.dotted()) {
                toml_string(REDACTED)
            } else {
                entry.value.toml()
            };
            out.push_str(&format!("{} = {}\n", entry.key, value));
        }
        out
    }

    /// Every key with its value, in the order of DESIGN.md. This is the list of known keys:
    /// what the file may contain, what the defaults set and what `effective_toml` prints.
    fn entries(&self) -> Vec<Entry> {
        let d = &self.daemon;
        let w = &self.wechatpay;
        let p = &self.printer;
        let r = &self.receipt;
        let path = |p: &Path| Shown::Text(p.display().to_string());
        let optional_path = |p: &Option<PathBuf>| {
            Shown::Text(
                p.as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            )
        };
        let text = |s: &str| Shown::Text(s.to_string());
        let duration = |d: Duration| Shown::Text(humantime::format_duration(d).to_string());
        let entry = |section, key, value| Entry {
            section,
            key,
            value,
        };
        vec![
            entry("daemon", "socket", path(&d.socket)),
            entry("daemon", "state_dir", path(&d.state_dir)),
            entry("wechatpay", "backend", text(w.backend.as_str())),
            entry("wechatpay", "api_base", text(&w.api_base)),
            entry("wechatpay", "backup_api_base", text(&w.backup_api_base)),
            entry("wechatpay", "ca_file", optional_path(&w.ca_file)),
            entry("wechatpay", "appid", text(&w.appid)),
            entry("wechatpay", "mchid", text(&w.mchid)),
            entry(
                "wechatpay",
                "merchant_serial_no",
                text(&w.merchant_serial_no),
            ),
            // The key files are plain paths, not secrets: shown as they are.
            entry("wechatpay", "private_key_file", path(&w.private_key_file)),
            entry("wechatpay", "public_key_id", text(&w.public_key_id)),
            entry("wechatpay", "public_key_file", path(&w.public_key_file)),
            entry(
                "wechatpay",
                "apiv3_key_file",
                optional_path(&w.apiv3_key_file),
            ),
            entry("wechatpay", "notify_url", text(&w.notify_url)),
            entry("wechatpay", "order_ttl", duration(w.order_ttl)),
            entry("wechatpay", "close_min_age", duration(w.close_min_age)),
            entry("wechatpay", "request_timeout", duration(w.request_timeout)),
            entry("wechatpay", "poll_interval", duration(w.poll.fast)),
            entry(
                "wechatpay",
                "poll_fast_window",
                duration(w.poll.fast_window),
            ),
            entry("wechatpay", "poll_interval_paying", duration(w.poll.paying)),
            entry("wechatpay", "poll_interval_slow", duration(w.poll.slow)),
            entry("printer", "transport", text(p.transport.as_str())),
            entry("printer", "device", path(&p.device)),
            entry("printer", "address", text(&p.address)),
            entry("printer", "baud_rate", Shown::Integer(p.baud_rate.into())),
            entry("printer", "flow_control", text(p.flow_control.as_str())),
            entry("printer", "profile", text(&p.profile)),
            entry("printer", "qr", text(p.qr.as_str())),
            entry("printer", "encoding", text(&p.encoding)),
            entry("printer", "print_timeout", duration(p.print_timeout)),
            entry("receipt", "title", text(&r.title)),
            entry("receipt", "footer", text(&r.footer)),
        ]
    }

    /// Validate every key of `raw` into its typed form; all problems, in key order.
    fn from_raw(raw: &RawSettings) -> Result<Settings, Vec<ConfigError>> {
        let mut c = Check {
            raw,
            errors: Vec::new(),
        };

        let daemon = DaemonSettings {
            socket: c.required_path("daemon.socket", "the path of the Unix socket"),
            state_dir: c.required_path("daemon.state_dir", "the journal's directory"),
        };

        // [wechatpay]: what is required depends on the backend and the key mode.
        let backend = c.choice::<Backend>("wechatpay.backend");
        let live = backend == Some(Backend::WechatPay);
        let api_base = c.base_url("wechatpay.api_base");
        // An empty backup host turns the fail-over off (a simulator, a proxy).
        let backup_api_base = if c.text("wechatpay.backup_api_base").trim().is_empty() {
            String::new()
        } else {
            c.base_url("wechatpay.backup_api_base")
        };
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
        let merchant_serial_no = c.identifier(
            "wechatpay.merchant_serial_no",
            live,
            "the serial number of the merchant API certificate",
        );
        let apiv3_key_file = c.optional_path("wechatpay.apiv3_key_file");
        let public_key_mode = apiv3_key_file.is_none();
        let private_key_file = c.path(
            "wechatpay.private_key_file",
            live,
            "the path of the merchant's private key (apiclient_key.pem)",
        );
        let public_key_id = c.public_key_id("wechatpay.public_key_id", live && public_key_mode);
        let public_key_file = c.path(
            "wechatpay.public_key_file",
            live && public_key_mode,
            "the path of the WeChat Pay public key (or set apiv3_key_file for certificate mode)",
        );
        let notify_url = c.notify_url("wechatpay.notify_url", live);
        let order_ttl = c.duration(
            "wechatpay.order_ttl",
            Range::Between(
                Duration::from_secs(60),
                Duration::from_secs(2 * 60 * 60),
                "WeChat Pay needs time_expire at least 1 minute ahead, and a code_url lives 2 hours",
            ),
        );
        let close_min_age = c.duration("wechatpay.close_min_age", Range::Any);
        let request_timeout = c.duration("wechatpay.request_timeout", Range::Positive);
        let poll = PollSchedule {
            fast: c.duration("wechatpay.poll_interval", Range::Positive),
            fast_window: c.duration("wechatpay.poll_fast_window", Range::Positive),
            paying: c.duration("wechatpay.poll_interval_paying", Range::Positive),
            slow: c.duration("wechatpay.poll_interval_slow", Range::Positive),
        };

        // [printer]: the transport decides between `device` and `address`.
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
        let baud_rate = c.baud_rate("printer.baud_rate");
        let flow_control = c.choice::<FlowControl>("printer.flow_control");
        let profile = c.text("printer.profile").trim().to_string();
        if profile.is_empty() {
            c.fail(
                "printer.profile",
                "empty",
                "a printer profile, e.g. \"80mm\" or \"58mm\"",
            );
        }
        let qr = c.choice::<QrMode>("printer.qr");
        let encoding = c.text("printer.encoding").trim().to_ascii_lowercase();
        if encoding != "gb18030" {
            c.fail(
                "printer.encoding",
                "unsupported encoding",
                "\"gb18030\" (the only one so far)",
            );
        }
        let print_timeout = c.duration("printer.print_timeout", Range::Positive);

        let receipt = ReceiptSettings {
            title: c.text("receipt.title").to_string(),
            footer: c.text("receipt.footer").to_string(),
        };

        if !c.errors.is_empty() {
            return Err(c.errors);
        }
        // Every `None` below has recorded an error above, so the fallbacks are never used.
        Ok(Settings {
            daemon,
            wechatpay: WechatPaySettings {
                backend: backend.unwrap_or(Backend::Sandbox),
                api_base,
                backup_api_base,
                ca_file,
                appid,
                mchid,
                merchant_serial_no,
                private_key_file,
                public_key_id,
                public_key_file,
                apiv3_key_file,
                notify_url,
                order_ttl,
                close_min_age,
                request_timeout,
                poll,
            },
            printer: PrinterSettings {
                transport: transport.unwrap_or(Transport::File),
                device,
                address,
                baud_rate,
                flow_control: flow_control.unwrap_or(FlowControl::None),
                profile,
                qr: qr.unwrap_or(QrMode::Auto),
                encoding,
                print_timeout,
            },
            receipt,
        })
    }
}

impl fmt::Display for Settings {
    /// The effective settings as TOML, see [`Settings::effective_toml`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.effective_toml())
    }
}

// ---------------------------------------------------------------------------------------
// The key list and TOML output.

/// One key of the file with its value.
struct Entry {
    section: &'static str,
    key: &'static str,
    value: Shown,
}

impl Entry {
    /// `section.key`, as the `config` crate and the error messages name it.
    fn dotted(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// A value as the file writes it.
enum Shown {
    Text(String),
    Integer(i64),
}

impl Shown {
    /// The value as TOML: a quoted string or a bare integer.
    fn toml(&self) -> String {
        match self {
            Shown::Text(text) => toml_string(text),
            Shown::Integer(n) => n.to_string(),
        }
    }

    /// The value as text, as the environment would give it.
    fn plain(&self) -> String {
        match self {
            Shown::Text(text) => text.clone(),
            Shown::Integer(n) => n.to_string(),
        }
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------
// The environment layer.

/// The `WXPRINT_<SECTION>__<KEY>` variables of `env`, for [`Environment::source`], and an
/// error for each such variable whose name is malformed. Variables without `__` after the
/// prefix (`WXPRINT_CONFIG`, …) are not keys and are skipped.
fn key_variables(env: &[(String, String)]) -> (::config::Map<String, String>, Vec<ConfigError>) {
    let prefix = format!("{ENV_PREFIX}_");
    let mut variables = ::config::Map::new();
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
fn env_name(dotted: &str) -> String {
    format!(
        "{ENV_PREFIX}_{}",
        dotted.to_ascii_uppercase().replace('.', "__")
    )
}

// ---------------------------------------------------------------------------------------
// The merged tree, flattened.

/// The merged tree as text: `section.key` → value, for every known key.
#[derive(Debug, Default)]
struct RawSettings {
    values: ::config::Map<String, RawValue>,
}

#[derive(Debug)]
struct RawValue {
    text: String,
    /// Set by a `WXPRINT_…` variable (named in error messages).
    from_env: bool,
}

impl RawSettings {
    /// Flatten `tree`; report unknown sections and keys, and values that are tables or
    /// arrays, into `errors`.
    fn from_tree(
        tree: ::config::Map<String, Value>,
        known: &[Entry],
        errors: &mut Vec<ConfigError>,
    ) -> RawSettings {
        let mut sections: Vec<&str> = known.iter().map(|e| e.section).collect();
        sections.dedup();
        let mut raw = RawSettings::default();

        for (section, value) in sorted(tree) {
            if !sections.contains(&section.as_str()) {
                // A key above the first [section] header, or a misspelt section.
                let message = match known.iter().find(|e| e.key == section) {
                    Some(home) => format!(
                        "unknown top-level key; expected it under [{}] ({})",
                        home.section,
                        home.dotted()
                    ),
                    None => format!("unknown section; expected one of {}", sections.join(", ")),
                };
                errors.push(invalid(&section, &message));
                continue;
            }
            let table = match value.kind {
                ValueKind::Table(table) => table,
                other => {
                    errors.push(invalid(
                        &section,
                        &format!("not a section (got {other}); expected a table [{section}]"),
                    ));
                    continue;
                }
            };
            let keys: Vec<&str> = known
                .iter()
                .filter(|e| e.section == section)
                .map(|e| e.key)
                .collect();
            for (key, value) in sorted(table) {
                let dotted = format!("{section}.{key}");
                let from_env = value.origin() == Some(ENV_ORIGIN);
                let source = if from_env {
                    format!(" (from {})", env_name(&dotted))
                } else {
                    String::new()
                };
                if !keys.contains(&key.as_str()) {
                    let mut message =
                        format!("unknown key{source}; expected one of {}", keys.join(", "));
                    if let Some(home) = known.iter().find(|e| e.key == key) {
                        message.push_str(&format!(" ({key} belongs in [{}])", home.section));
                    }
                    errors.push(invalid(&dotted, &message));
                    continue;
                }
                let kind = match &value.kind {
                    ValueKind::Table(_) => Some("a table"),
                    ValueKind::Array(_) => Some("an array"),
                    ValueKind::Nil => Some("nothing"),
                    _ => None,
                };
                match (kind, value.into_string()) {
                    (None, Ok(text)) => {
                        raw.values.insert(dotted, RawValue { text, from_env });
                    }
                    (kind, _) => errors.push(invalid(
                        &dotted,
                        &format!(
                            "not a single value (got {}{source}); expected a string or a number",
                            kind.unwrap_or("something else")
                        ),
                    )),
                }
            }
        }
        raw
    }
}

/// The entries of a `config` map in key order (it is a hash map), for stable error order.
fn sorted(map: ::config::Map<String, Value>) -> Vec<(String, Value)> {
    let mut entries: Vec<_> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

// ---------------------------------------------------------------------------------------
// Validation of single keys.

/// The bounds of a duration key.
enum Range {
    /// Zero or more.
    Any,
    /// More than zero.
    Positive,
    /// Within `[min, max]`, for the reason given.
    Between(Duration, Duration, &'static str),
}

/// Validates keys of a [`RawSettings`], collecting errors. Each getter returns a fallback
/// value (or `None`) after recording an error, so that all keys are checked in one pass.
struct Check<'a> {
    raw: &'a RawSettings,
    errors: Vec<ConfigError>,
}

impl<'a> Check<'a> {
    /// The value of `key` as text. Every known key has a default, so it is always there.
    fn text(&self, key: &str) -> &'a str {
        self.raw
            .values
            .get(key)
            .map(|v| v.text.as_str())
            .unwrap_or("")
    }

    /// Record `key: what (got "value"); expected …`.
    fn fail(&mut self, key: &str, what: &str, expected: &str) {
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
    fn choice<T: Choice>(&mut self, key: &str) -> Option<T> {
        let text = self.text(key).trim();
        let found = T::ALL
            .iter()
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(text));
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

    /// A path that must not be empty.
    fn required_path(&mut self, key: &str, expected: &str) -> PathBuf {
        self.path(key, true, expected)
    }

    /// A path, required to be non-empty when `required`.
    fn path(&mut self, key: &str, required: bool, expected: &str) -> PathBuf {
        let text = self.text(key).to_string();
        if required && text.trim().is_empty() {
            self.fail(key, "empty", expected);
        }
        PathBuf::from(text)
    }

    /// A path, `None` when empty.
    fn optional_path(&mut self, key: &str) -> Option<PathBuf> {
        let text = self.text(key);
        (!text.trim().is_empty()).then(|| PathBuf::from(text))
    }

    /// An identifier of the merchant (trimmed), required with backend `wechatpay`.
    fn identifier(&mut self, key: &str, required: bool, expected: &str) -> String {
        let value = self.text(key).trim().to_string();
        if required && value.is_empty() {
            self.fail(key, "required with backend \"wechatpay\"", expected);
        }
        value
    }

    /// `PUB_KEY_ID_…`; required in public-key mode with backend `wechatpay`.
    fn public_key_id(&mut self, key: &str, required: bool) -> String {
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
    fn duration(&mut self, key: &str, range: Range) -> Duration {
        let text = self.text(key).trim();
        let duration = match humantime::parse_duration(text) {
            Ok(duration) => duration,
            Err(_) => {
                self.fail(
                    key,
                    "not a duration",
                    "a duration such as \"10s\", \"5m\" or \"1h 30m\"",
                );
                return Duration::ZERO;
            }
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

    /// One of [`STANDARD_BAUD_RATES`], as an integer or a string of digits.
    fn baud_rate(&mut self, key: &str) -> u32 {
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
    fn base_url(&mut self, key: &str) -> String {
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

    /// The notify URL sent with each order: an https URL without a query string, at most
    /// 256 characters; required with backend `wechatpay`, optional with the sandbox.
    fn notify_url(&mut self, key: &str, required: bool) -> String {
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

    /// `host:port` of a network printer.
    fn tcp_address(&mut self, key: &str) {
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

/// `ConfigError::Invalid` for `key`.
fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.to_string(),
    }
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

// ---------------------------------------------------------------------------------------
// URLs and addresses: just what the checks need, no URL crate.

/// An absolute URL split as `scheme://host[:port]rest`.
struct Url<'a> {
    /// Lowercase.
    scheme: String,
    /// Without the brackets of an IPv6 address.
    host: &'a str,
    /// Path, query and fragment.
    rest: &'a str,
}

fn parse_url(text: &str) -> Result<Url<'_>, &'static str> {
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains spaces or control characters");
    }
    let (scheme, after) = text.split_once("://").ok_or("not an absolute URL")?;
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.contains('@') {
        return Err("a user name or password does not belong in the URL");
    }
    let (host, _port) = split_host_port(authority).ok_or("no valid host[:port] in the URL")?;
    Ok(Url {
        scheme: scheme.to_ascii_lowercase(),
        host,
        rest,
    })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` → the host (without brackets) and the port.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let (host, after) = inner.split_once(']')?;
        host.parse::<Ipv6Addr>().ok()?;
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':')?)
        };
        (host, port)
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        let valid_name = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_name {
            return None;
        }
        (host, port)
    };
    let port = match port {
        None => None,
        Some(digits) => {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(digits.parse::<u16>().ok().filter(|&port| port != 0)?)
        }
    };
    Some((host, port))
}

/// `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A TOML file with `text`, kept while the returned handle lives.
    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(text.as_bytes()).expect("write temp file");
        file
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The merchant keys that backend `wechatpay` requires, as a file.
    const MERCHANT: &str = r#"
        [wechatpay]
        appid = "wxd678efh567hg6787"
        mchid = "1230000109"
        merchant_serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
        public_key_id = "PUB_KEY_ID_0112340000000000000000000000000000"
        notify_url = "https://merchant.example/wechatpay/notify"
    "#;

    /// [`MERCHANT`] with `line` (`key = value`) instead of its line for that key.
    fn merchant_with(line: &str) -> String {
        let name = line.split(" = ").next().unwrap();
        let mut text: Vec<&str> = MERCHANT
            .lines()
            .filter(|l| !l.trim_start().starts_with(&format!("{name} = ")))
            .collect();
        text.push(line);
        text.join("\n")
    }

    fn load_text(text: &str, sandbox: bool) -> Result<Settings, ConfigError> {
        let file = file(text);
        Settings::load_with_env(Some(file.path()), sandbox, &[])
    }

    /// The error of loading `text`; panics if it loads.
    fn error_of(text: &str, sandbox: bool) -> ConfigError {
        match load_text(text, sandbox) {
            Ok(settings) => panic!("loaded, expected an error:\n{text}\n{settings:?}"),
            Err(err) => err,
        }
    }

    /// Asserts that `err` has an `Invalid` error for `key` whose message contains `part`,
    /// and that every line names a key.
    fn assert_invalid(err: &ConfigError, key: &str, part: &str) {
        assert_one_line_each(err);
        let found = err.errors().iter().any(|e| match e {
            ConfigError::Invalid { key: k, message } => k == key && message.contains(part),
            _ => false,
        });
        assert!(found, "no error for {key} containing {part:?} in:\n{err}");
    }

    fn assert_one_line_each(err: &ConfigError) {
        for e in err.errors() {
            let line = e.to_string();
            assert!(!line.contains('\n'), "not one line: {line:?}");
        }
        assert_eq!(err.to_string().lines().count(), err.errors().len());
    }

    #[test]
    fn production_defaults_are_design_md_example() {
        let s = Settings::default();
        assert_eq!(s, Settings::production_defaults());
        assert_eq!(s.daemon.socket, Path::new("/run/wxprint/wxprint.sock"));
        assert_eq!(s.daemon.state_dir, Path::new("/var/lib/wxprint"));
        let w = &s.wechatpay;
        assert_eq!(w.backend, Backend::WechatPay);
        assert_eq!(w.api_base, "https://api.mch.weixin.qq.com");
        assert_eq!(w.backup_api_base, "https://api2.mch.weixin.qq.com");
        assert_eq!(w.ca_file, None);
        assert_eq!(w.apiv3_key_file, None);
        assert!(w.appid.is_empty() && w.mchid.is_empty() && w.merchant_serial_no.is_empty());
        assert!(w.public_key_id.is_empty() && w.notify_url.is_empty());
        assert_eq!(
            w.private_key_file,
            Path::new("/etc/wxprint/apiclient_key.pem")
        );
        assert_eq!(
            w.public_key_file,
            Path::new("/etc/wxprint/wechatpay_pub.pem")
        );
        assert_eq!(w.order_ttl, Duration::from_secs(600));
        assert_eq!(w.close_min_age, Duration::from_secs(300));
        assert_eq!(w.request_timeout, Duration::from_secs(10));
        assert_eq!(
            w.poll,
            PollSchedule {
                fast: Duration::from_secs(1),
                fast_window: Duration::from_secs(60),
                paying: Duration::from_secs(1),
                slow: Duration::from_secs(10),
            }
        );
        let p = &s.printer;
        assert_eq!(p.transport, Transport::Serial);
        assert_eq!(p.device, Path::new("/dev/wxprint-printer"));
        assert_eq!(p.address, "");
        assert_eq!(p.baud_rate, 115200);
        assert_eq!(p.flow_control, FlowControl::Hardware);
        assert_eq!(p.profile, "80mm");
        assert_eq!(p.qr, QrMode::Auto);
        assert_eq!(p.encoding, "gb18030");
        assert_eq!(p.print_timeout, Duration::from_secs(600));
        assert_eq!(s.receipt, ReceiptSettings::default());
    }

    #[test]
    fn production_defaults_need_the_merchant_keys() {
        let err = Settings::load_with_env(None, false, &[]).unwrap_err();
        for key in [
            "wechatpay.appid",
            "wechatpay.mchid",
            "wechatpay.merchant_serial_no",
            "wechatpay.public_key_id",
            "wechatpay.notify_url",
        ] {
            assert_invalid(&err, key, "required with backend \"wechatpay\"");
        }
        assert_eq!(err.errors().len(), 5, "{err}");

        // With them, the defaults load unchanged otherwise.
        let s = load_text(MERCHANT, false).unwrap();
        let mut expected = Settings::production_defaults();
        expected.wechatpay.appid = "wxd678efh567hg6787".into();
        expected.wechatpay.mchid = "1230000109".into();
        expected.wechatpay.merchant_serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into();
        expected.wechatpay.public_key_id = "PUB_KEY_ID_0112340000000000000000000000000000".into();
        expected.wechatpay.notify_url = "https://merchant.example/wechatpay/notify".into();
        assert_eq!(s, expected);
    }

    #[test]
    fn sandbox_defaults() {
        let s = Settings::sandbox_defaults();
        assert_eq!(s.daemon.socket, Path::new("./wxprint.sock"));
        assert_eq!(s.daemon.state_dir, Path::new("./state"));
        assert_eq!(s.wechatpay.backend, Backend::Sandbox);
        assert_eq!(s.wechatpay.order_ttl, Duration::from_secs(600));
        assert_eq!(s.wechatpay.close_min_age, Duration::from_secs(10));
        assert_eq!(s.wechatpay.api_base, "https://api.mch.weixin.qq.com");
        assert_eq!(
            s.wechatpay.private_key_file,
            Path::new("/etc/wxprint/apiclient_key.pem")
        );
        assert_eq!(s.wechatpay.poll, PollSchedule::default());
        assert_eq!(s.printer.transport, Transport::File);
        assert_eq!(s.printer.device, Path::new("./receipts"));
        assert_eq!(s.printer.profile, "80mm");
        assert_eq!(s.printer.qr, QrMode::Raster);
        assert_eq!(s.receipt.title, "wxprint sandbox");
        assert_eq!(s.receipt.footer, "Thank you!");
        // They are valid as they are: `serve --sandbox` needs no file.
        assert_eq!(Settings::load_with_env(None, true, &[]).unwrap(), s);
    }

    const FULL: &str = r#"
        [daemon]
        socket = "/tmp/x/pos.sock"
        state_dir = "/tmp/x/state"

        [wechatpay]
        backend = "wechatpay"
        api_base = "http://127.0.0.1:18080/"
        backup_api_base = "http://[::1]:18081"
        ca_file = "/tmp/x/ca.pem"
        appid = "wx0000000000000001"
        mchid = "1900000109"
        merchant_serial_no = "ABCDEF"
        private_key_file = "/tmp/x/key.pem"
        public_key_id = "PUB_KEY_ID_42"
        public_key_file = "/tmp/x/pub.pem"
        apiv3_key_file = "/tmp/x/apiv3.key"
        notify_url = "https://shop.example/notify"
        order_ttl = "1h 30m"
        close_min_age = "0s"
        request_timeout = "3s"
        poll_interval = "500ms"
        poll_fast_window = "2m"
        poll_interval_paying = "250ms"
        poll_interval_slow = "30s"

        [printer]
        transport = "tcp"
        device = ""
        address = "printer.local:9100"
        baud_rate = 9600
        flow_control = "software"
        profile = "58mm"
        qr = "native"
        encoding = "GB18030"
        print_timeout = "1m"

        [receipt]
        title = "Shop \"Ming\""
        footer = "谢谢惠顾"
    "#;

    fn full_settings() -> Settings {
        Settings {
            daemon: DaemonSettings {
                socket: "/tmp/x/pos.sock".into(),
                state_dir: "/tmp/x/state".into(),
            },
            wechatpay: WechatPaySettings {
                backend: Backend::WechatPay,
                api_base: "http://127.0.0.1:18080".into(),
                backup_api_base: "http://[::1]:18081".into(),
                ca_file: Some("/tmp/x/ca.pem".into()),
                appid: "wx0000000000000001".into(),
                mchid: "1900000109".into(),
                merchant_serial_no: "ABCDEF".into(),
                private_key_file: "/tmp/x/key.pem".into(),
                public_key_id: "PUB_KEY_ID_42".into(),
                public_key_file: "/tmp/x/pub.pem".into(),
                apiv3_key_file: Some("/tmp/x/apiv3.key".into()),
                notify_url: "https://shop.example/notify".into(),
                order_ttl: Duration::from_secs(90 * 60),
                close_min_age: Duration::ZERO,
                request_timeout: Duration::from_secs(3),
                poll: PollSchedule {
                    fast: Duration::from_millis(500),
                    fast_window: Duration::from_secs(120),
                    paying: Duration::from_millis(250),
                    slow: Duration::from_secs(30),
                },
            },
            printer: PrinterSettings {
                transport: Transport::Tcp,
                device: PathBuf::new(),
                address: "printer.local:9100".into(),
                baud_rate: 9600,
                flow_control: FlowControl::Software,
                profile: "58mm".into(),
                qr: QrMode::Native,
                encoding: "gb18030".into(),
                print_timeout: Duration::from_secs(60),
            },
            receipt: ReceiptSettings {
                title: "Shop \"Ming\"".into(),
                footer: "谢谢惠顾".into(),
            },
        }
    }

    #[test]
    fn a_file_overrides_every_key() {
        let expected = full_settings();
        assert_eq!(load_text(FULL, false).unwrap(), expected);
        // The defaults under it do not matter when the file sets every key.
        assert_eq!(load_text(FULL, true).unwrap(), expected);
        // FULL really sets every key.
        let keys = Settings::default().entries().len();
        let set = FULL.lines().filter(|l| l.contains(" = ")).count();
        assert_eq!(set, keys);
    }

    #[test]
    fn effective_toml_has_every_key_and_loads_back() {
        let settings = full_settings();
        let text = settings.effective_toml();
        assert_eq!(text, settings.to_string());
        for entry in settings.entries() {
            assert!(
                text.contains(&format!("\n{} = ", entry.key))
                    || text.starts_with(&format!("{} = ", entry.key)),
                "{} missing:\n{text}",
                entry.key
            );
        }
        assert!(text.contains("[printer]\n"));
        assert!(text.contains("order_ttl = \"1h 30m\"\n"));
        assert!(text.contains("baud_rate = 9600\n"));
        assert!(text.contains("title = \"Shop \\\"Ming\\\"\"\n"));
        assert!(text.contains("private_key_file = \"/tmp/x/key.pem\"\n"));
        assert_eq!(load_text(&text, false).unwrap(), settings);

        let defaults = Settings::sandbox_defaults();
        assert!(
            defaults
                .effective_toml()
                .contains("close_min_age = \"10s\"\n")
        );
        assert!(defaults.effective_toml().contains("ca_file = \"\"\n"));
        assert_eq!(
            load_text(&defaults.effective_toml(), true).unwrap(),
            defaults
        );
    }

    #[test]
    fn secrets_are_redacted() {
        let text = full_settings().render_toml(|key| key == "wechatpay.mchid");
        assert!(text.contains("mchid = \"<redacted>\"\n"), "{text}");
        assert!(!text.contains("1900000109"));
        // No key is secret so far.
        assert!(SECRET_KEYS.is_empty());
        assert!(full_settings().effective_toml().contains("1900000109"));
    }

    /// The repository's example configs, from the crate (in the main crate) or from their
    /// place in the repository (in a scratch crate).
    fn repo_config(name: &str) -> PathBuf {
        let local = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(name);
        if local.exists() {
            local
        } else {
            Path::new("/work/main/config").join(name)
        }
    }

    #[test]
    fn repository_configs_load() {
        let example = repo_config("wxprint.toml");
        let s = Settings::load_with_env(Some(&example), false, &[]).unwrap();
        assert_eq!(s.wechatpay.backend, Backend::WechatPay);
        // The example shows every key.
        let text = std::fs::read_to_string(&example).unwrap();
        for entry in s.entries() {
            assert!(
                text.contains(&format!("\n{} = ", entry.key)),
                "{} missing from {}",
                entry.dotted(),
                example.display()
            );
        }

        let sandbox = repo_config("sandbox.toml");
        let s = Settings::load_with_env(Some(&sandbox), false, &[]).unwrap();
        assert_eq!(s.wechatpay.backend, Backend::Sandbox);
        assert_eq!(s.daemon.socket, Path::new("./wxprint.sock"));
        assert_eq!(s.daemon.state_dir, Path::new("./state"));
        assert_eq!(s.printer.transport, Transport::File);
        assert_eq!(s.printer.device, Path::new("./receipts"));
    }

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
    fn unknown_keys_are_errors() {
        let err = error_of("[printer]\nbaudrate = 9600\n", true);
        assert_eq!(
            err.to_string(),
            "printer.baudrate: unknown key; expected one of transport, device, address, \
             baud_rate, flow_control, profile, qr, encoding, print_timeout"
        );

        let err = error_of("[printr]\nbaud_rate = 9600\n", true);
        assert_invalid(
            &err,
            "printr",
            "unknown section; expected one of daemon, wechatpay, printer, receipt",
        );

        let err = error_of("baud_rate = 9600\n", true);
        assert_invalid(&err, "baud_rate", "expected it under [printer]");

        let err = error_of("[printer]\ntitle = \"x\"\n", true);
        assert_invalid(&err, "printer.title", "title belongs in [receipt]");

        let err = error_of("printer = \"usb\"\n", true);
        assert_invalid(&err, "printer", "not a section");

        let err = error_of("[printer]\nbaud_rate = [9600]\n", true);
        assert_invalid(
            &err,
            "printer.baud_rate",
            "not a single value (got an array)",
        );
        assert_eq!(err.errors().len(), 1, "{err}");

        // Several problems: all reported, one line each.
        let err = error_of("[printer]\nbaudrate = 1\nqr = \"x\"\n[x]\n", true);
        assert_eq!(err.errors().len(), 3, "{err}");
        assert!(matches!(err, ConfigError::Many(_)));
        assert_one_line_each(&err);
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

    /// Each bad value, loaded over the sandbox defaults: `(file, key, part of the message)`.
    #[test]
    fn validation_errors_name_the_key() {
        let cases: &[(&str, &str, &str)] = &[
            // Durations.
            (
                "[wechatpay]\norder_ttl = \"10\"",
                "wechatpay.order_ttl",
                "not a duration (got \"10\"); expected a duration such as",
            ),
            (
                "[wechatpay]\norder_ttl = \"30s\"",
                "wechatpay.order_ttl",
                "too short (got \"30s\"); expected from 1m to 2h",
            ),
            (
                "[wechatpay]\norder_ttl = \"2h 1s\"",
                "wechatpay.order_ttl",
                "too long",
            ),
            (
                "[wechatpay]\nrequest_timeout = \"0s\"",
                "wechatpay.request_timeout",
                "zero",
            ),
            (
                "[wechatpay]\nclose_min_age = \"soon\"",
                "wechatpay.close_min_age",
                "not a duration",
            ),
            (
                "[wechatpay]\npoll_interval = \"0s\"",
                "wechatpay.poll_interval",
                "zero",
            ),
            (
                "[wechatpay]\npoll_fast_window = \"0s\"",
                "wechatpay.poll_fast_window",
                "zero",
            ),
            (
                "[wechatpay]\npoll_interval_paying = \"0ms\"",
                "wechatpay.poll_interval_paying",
                "zero",
            ),
            (
                "[wechatpay]\npoll_interval_slow = \"x\"",
                "wechatpay.poll_interval_slow",
                "not a duration",
            ),
            (
                "[printer]\nprint_timeout = \"0s\"",
                "printer.print_timeout",
                "zero",
            ),
            // Choices.
            (
                "[wechatpay]\nbackend = \"alipay\"",
                "wechatpay.backend",
                "unknown value (got \"alipay\"); expected one of wechatpay, sandbox",
            ),
            (
                "[printer]\ntransport = \"bluetooth\"",
                "printer.transport",
                "expected one of serial, usb, tcp, file",
            ),
            (
                "[printer]\nflow_control = \"rts\"",
                "printer.flow_control",
                "expected one of hardware, software, none",
            ),
            (
                "[printer]\nqr = \"ascii\"",
                "printer.qr",
                "expected one of auto, native, raster",
            ),
            ("[printer]\nprofile = \" \"", "printer.profile", "empty"),
            (
                "[printer]\nencoding = \"utf-8\"",
                "printer.encoding",
                "unsupported encoding (got \"utf-8\"); expected \"gb18030\"",
            ),
            (
                "[printer]\nbaud_rate = 9601",
                "printer.baud_rate",
                "not a standard baud rate (got \"9601\"); expected one of 1200, 2400",
            ),
            (
                "[printer]\nbaud_rate = \"fast\"",
                "printer.baud_rate",
                "not an integer",
            ),
            // URLs.
            (
                "[wechatpay]\napi_base = \"http://api.mch.weixin.qq.com\"",
                "wechatpay.api_base",
                "plain http:// is only allowed for loopback hosts",
            ),
            (
                "[wechatpay]\nbackup_api_base = \"http://10.0.0.1:8080\"",
                "wechatpay.backup_api_base",
                "only allowed for loopback hosts",
            ),
            (
                "[wechatpay]\napi_base = \"ftp://x.example\"",
                "wechatpay.api_base",
                "not an http(s) URL",
            ),
            (
                "[wechatpay]\napi_base = \"api.mch.weixin.qq.com\"",
                "wechatpay.api_base",
                "not an absolute URL",
            ),
            (
                "[wechatpay]\napi_base = \"https://x.example/?a=1\"",
                "wechatpay.api_base",
                "no query",
            ),
            (
                "[wechatpay]\napi_base = \"https://\"",
                "wechatpay.api_base",
                "no valid host",
            ),
            (
                "[wechatpay]\napi_base = \"https://x.example:99999\"",
                "wechatpay.api_base",
                "no valid host",
            ),
            (
                "[wechatpay]\nnotify_url = \"http://m.example/n\"",
                "wechatpay.notify_url",
                "only notifies https://",
            ),
            (
                "[wechatpay]\nnotify_url = \"https://m.example/n?shop=1\"",
                "wechatpay.notify_url",
                "forbids a query string",
            ),
            // Printer transports.
            (
                "[printer]\ntransport = \"tcp\"\naddress = \"printer.local\"",
                "printer.address",
                "transport \"tcp\" needs host:port (got \"printer.local\")",
            ),
            (
                "[printer]\ntransport = \"tcp\"",
                "printer.address",
                "needs host:port (got \"\")",
            ),
            (
                "[printer]\ntransport = \"usb\"\ndevice = \"\"",
                "printer.device",
                "required with transport \"usb\"",
            ),
            (
                "[printer]\ntransport = \"serial\"\ndevice = \"\"",
                "printer.device",
                "required with transport \"serial\"",
            ),
            (
                "[printer]\ntransport = \"file\"\ndevice = \"\"",
                "printer.device",
                "a directory",
            ),
            // Paths.
            ("[daemon]\nsocket = \"\"", "daemon.socket", "empty"),
            ("[daemon]\nstate_dir = \"\"", "daemon.state_dir", "empty"),
            // Public key ID (checked whenever set).
            (
                "[wechatpay]\npublic_key_id = \"0112340000\"",
                "wechatpay.public_key_id",
                "does not start with \"PUB_KEY_ID_\"",
            ),
        ];
        for (text, key, part) in cases {
            let err = error_of(text, true);
            assert_invalid(&err, key, part);
            assert_eq!(err.errors().len(), 1, "{text}: {err}");
            assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
        }
        let long = format!(
            "[wechatpay]\nnotify_url = \"https://m.example/{}\"",
            "n".repeat(250)
        );
        assert_invalid(&error_of(&long, true), "wechatpay.notify_url", "256");
    }

    #[test]
    fn backend_wechatpay_requirements() {
        // Each merchant key set to an empty value in an otherwise valid file.
        for (key, line, part) in [
            (
                "wechatpay.appid",
                "appid = \"\"",
                "required with backend \"wechatpay\"",
            ),
            ("wechatpay.mchid", "mchid = \" \"", "required"),
            (
                "wechatpay.merchant_serial_no",
                "merchant_serial_no = \"\"",
                "required",
            ),
            ("wechatpay.notify_url", "notify_url = \"\"", "required"),
            (
                "wechatpay.public_key_id",
                "public_key_id = \"\"",
                "unless apiv3_key_file is set",
            ),
            (
                "wechatpay.public_key_file",
                "public_key_file = \"\"",
                "empty",
            ),
            (
                "wechatpay.private_key_file",
                "private_key_file = \"\"",
                "empty",
            ),
        ] {
            let err = error_of(&merchant_with(line), false);
            assert_invalid(&err, key, part);
            assert_eq!(err.errors().len(), 1, "{line}: {err}");
        }

        // Certificate mode needs no public key.
        let cert = format!(
            "{}\npublic_key_file = \"\"\napiv3_key_file = \"/etc/wxprint/apiv3.key\"\n",
            MERCHANT.replace("public_key_id", "# public_key_id")
        );
        let s = load_text(&cert, false).unwrap();
        assert_eq!(s.wechatpay.public_key_id, "");

        // The sandbox needs none of it.
        let s = load_text("[wechatpay]\nbackend = \"sandbox\"\nappid = \"\"\n", false).unwrap();
        assert_eq!(s.wechatpay.backend, Backend::Sandbox);
        assert_eq!(s.wechatpay.notify_url, "");
    }

    #[test]
    fn urls_and_addresses() {
        for (base, ok) in [
            ("https://api.mch.weixin.qq.com", true),
            ("HTTPS://api.mch.weixin.qq.com/", true),
            ("https://sim.example:8443/prefix/", true),
            ("http://127.0.0.1:8080", true),
            ("http://127.9.9.9", true),
            ("http://localhost:1", true),
            ("http://[::1]:8080/", true),
            ("http://128.0.0.1", false),
            ("http://[::2]", false),
            ("http://localhost.example", false),
            ("https://user:pw@x.example", false),
            ("https://x.example#f", false),
            ("https://a b", false),
        ] {
            let text = format!("[wechatpay]\napi_base = {}", toml_string(base));
            let result = load_text(&text, true);
            assert_eq!(result.is_ok(), ok, "{base}: {result:?}");
            if let Ok(s) = result {
                assert!(!s.wechatpay.api_base.ends_with('/'), "{base}");
            }
        }
        for (address, ok) in [
            ("printer.local:9100", true),
            ("[2001:db8::9]:9100", true),
            ("printer.local:0", false),
            (":9100", false),
            ("2001:db8::9:9100", false),
            ("printer.local:x", false),
        ] {
            let text = format!("[printer]\ntransport = \"tcp\"\naddress = \"{address}\"");
            assert_eq!(load_text(&text, true).is_ok(), ok, "{address}");
        }
    }

    #[test]
    fn spellings_and_numbers_as_strings() {
        let text = "[printer]\ntransport = \"USB\"\ndevice = \"/dev/usb/lp0\"\n\
                    baud_rate = \"38400\"\nqr = \"Native\"\nencoding = \"gb18030\"\n\
                    [wechatpay]\norder_ttl = \"1m\"\nrequest_timeout = \"1h 30m\"\n";
        let s = load_text(text, true).unwrap();
        assert_eq!(s.printer.transport, Transport::Usb);
        assert_eq!(s.printer.baud_rate, 38400);
        assert_eq!(s.printer.qr, QrMode::Native);
        assert_eq!(s.wechatpay.order_ttl, Duration::from_secs(60));
        assert_eq!(s.wechatpay.request_timeout, Duration::from_secs(5400));
        assert_eq!(Transport::Usb.to_string(), "usb");
        assert_eq!(Backend::WechatPay.as_str(), "wechatpay");
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
