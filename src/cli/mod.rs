//! The command line: the flags, the commands and their help texts (a contract: tests/cli.rs
//! and the README quote them), where each command goes, and what the commands share.
//!
//! Three kinds of command: `serve` runs the daemon ([`serve`]); a [`DaemonOp`] is one
//! request to the running daemon whose answers are printed as they come ([`client`]); a
//! [`Tool`] does its own work ([`tools`], [`check_config`], [`loopback`]).
//! Shared here: the runtime, the socket the client commands use, the settings the daemon
//! side loads (with the systemd-directory fallbacks of `serve --sandbox`), and the
//! "cannot connect" hint. No command's logic lives here.
//!
//! This module belongs to the binary, not to the `wxprint` library: it uses the library's
//! public API only, as any other client of it would.

mod check_config;
mod client;
mod drawer;
mod loopback;
mod probe;
mod serve;
mod tools;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use wxprint::config::{self, Backend, Settings};

/// Socket of a daemon started from a checkout without config (`serve --sandbox`).
const LOCAL_SOCKET: &str = "./wxprint.sock";
/// Socket of the installed daemon.
const SYSTEM_SOCKET: &str = "/run/wxprint/wxprint.sock";

#[derive(Parser)]
#[command(
    name = "wxprint",
    version,
    about = "WeChat Pay Native QR receipts on ESC/POS printers"
)]
pub(crate) struct Cli {
    /// Config file (default /etc/wxprint/wxprint.toml; WXPRINT_CONFIG also names it).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Daemon socket for client commands (default: the config's daemon.socket, else
    /// ./wxprint.sock if it exists, else /run/wxprint/wxprint.sock).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Print the daemon's messages as raw JSON lines.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Every command. `--help` lists them in the order they are declared here (serve, the
/// daemon ops, the tools), so moving a variant changes the help text.
#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve {
        /// Sandbox payments (no WeChat Pay call). Without a config file: socket
        /// ./wxprint.sock, journal in ./state/, receipts as files under ./receipts/.
        #[arg(long)]
        sandbox: bool,
    },
    #[command(flatten)]
    Op(DaemonOp),
    #[command(flatten)]
    Tool(Tool),
}

/// Commands that are one request of the socket protocol, answered by the daemon; each
/// becomes a `protocol::Op` (`client.rs`).
#[derive(Subcommand)]
enum DaemonOp {
    /// Check out through the daemon and print its events as they come.
    ///
    /// Exit codes: 0 paid (with --no-follow: placed and printed), 2 refused request,
    /// 3 closed, 4 failed, 5 (--no-follow) placed and payable but the receipt waits for the
    /// printer.
    Checkout {
        #[arg(long)]
        out_trade_no: String,
        /// Amount in the minor unit of the currency (fen: 3200 = ￥32.00; JPY has none).
        #[arg(long)]
        total: i64,
        #[arg(long)]
        description: String,
        /// ISO 4217 code of the amount (e.g. HKD); without it, the merchant's configured
        /// currency (`wechatpay.currency`).
        #[arg(long, value_name = "CODE")]
        currency: Option<String>,
        /// Stop once the order is placed and printed (exit 0), or placed with its receipt
        /// waiting for the printer (exit 5), instead of waiting for the payment.
        #[arg(long)]
        no_follow: bool,
        /// Print a payment slip once paid (as `receipt.paid_slip` does for every order).
        #[arg(long)]
        slip: bool,
    },
    /// Show an order's full record.
    Status { out_trade_no: String },
    /// Cancel an order; waits until WeChat Pay has closed it (or it turns out paid).
    Cancel { out_trade_no: String },
    /// Print a payable order's receipt again (same QR).
    Reprint { out_trade_no: String },
    /// Print every event of every order.
    Watch,
    /// Show the printer's live status.
    Printer,
    /// Pay a sandbox order, as a customer scanning the QR would.
    SandboxPay { out_trade_no: String },
    /// Refund some or all of a paid order; waits until the money went back.
    ///
    /// Exit codes: 0 refunded, 2 refused request (not paid, more than is left, a known
    /// refund number with other content), 4 the refund failed (or needs the merchant
    /// platform).
    Refund {
        out_trade_no: String,
        /// Amount in the minor unit of the order's currency (fen: 500 = ￥5.00).
        #[arg(long)]
        amount: i64,
        /// Shown to the customer in WeChat's refund message (at most 80 bytes).
        #[arg(long)]
        reason: Option<String>,
        /// The refund's number; without it the daemon's `<out_trade_no>-R<n>` (running
        /// the same command again then resumes the same refund).
        #[arg(long)]
        out_refund_no: Option<String>,
        /// Print a refund slip once the money went back.
        #[arg(long)]
        slip: bool,
    },
    /// Kick the cash drawer (ESC p with the configured pulse). Exit codes: 0 kicked,
    /// 5 the printer cannot take it now (unreachable, paper out, cover open, offline).
    Drawer {
        /// The drawer connector pin: 2 (the usual drawer) or 5 (a second drawer).
        #[arg(long, default_value_t = 2, value_parser = drawer::pin)]
        pin: u8,
    },
}

/// Commands that do their own work: `test-print` asks the daemon but prints by itself when
/// none runs, `loopback` is a scripted conversation with it, the others need no daemon.
#[derive(Subcommand)]
enum Tool {
    /// Print a test page (through the daemon when it runs, else straight to the printer).
    TestPrint,
    /// Preview an ESC/POS byte stream as a PNG image.
    Render {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Paper width in dots (576 for 80 mm, 384 for 58 mm); default: the configured
        /// printer profile's (`printer.profile`), 576 without a config file.
        #[arg(long)]
        width: Option<usize>,
    },
    /// List candidate printer devices: serial ports (with USB ids), `/dev/usb/lp*`.
    Printers {
        /// Then ask the configured printer who it is (status, GS I maker and model) and
        /// suggest `profile` and `qr` settings. Stop the daemon first: the printer takes
        /// one connection at a time.
        #[arg(long)]
        probe: bool,
        /// With --probe, on a serial printer: first find its baud rate (a few junk
        /// characters may print at the wrong rates).
        #[arg(long, requires = "probe")]
        baud_probe: bool,
    },
    /// Technician check of the whole path through the running daemon — socket, payment,
    /// printer — with the time of each stage and a PASS (0), WARN (2: the printer did not
    /// confirm) or FAIL (1) verdict; a failed test cancels its order.
    Loopback {
        /// Place a real WeChat Pay order (instead of one on the daemon's built-in sandbox)
        /// and wait for someone to scan and pay it.
        #[arg(long)]
        live: bool,
        /// Amount in fen for `--live` (default 1 fen = ￥0.01).
        #[arg(long, default_value_t = 1)]
        total: i64,
        /// How long `--live` waits for the payment before closing the order, in seconds.
        #[arg(long, default_value_t = 180)]
        wait: u64,
    },
    /// Validate the configuration and print the effective settings. Exit codes: 0 good,
    /// 1 a problem, 3 (`--online`) WeChat Pay accepted the signed request but the WeChat Pay
    /// public key was not proven (its error answers are unsigned): add `--order`.
    CheckConfig {
        /// Also make one signed call to WeChat Pay (a query of an order that does not
        /// exist) to prove the merchant id, the signing key, its serial and the clock
        /// (certificate mode: and the APIv3 key, by downloading the certificates).
        #[arg(long)]
        online: bool,
        /// With --online: also place a real test order of the smallest amount (1 fen,
        /// ￥0.01, or one minor unit of the configured currency) that expires in one minute
        /// and is closed at once (WeChat Pay Global: left to expire, it closes no order
        /// younger than 5 minutes), to prove the WeChat Pay public key with its signed
        /// answer. Its QR is never shown, so nobody can pay it.
        #[arg(long, requires = "online")]
        order: bool,
    },
}

/// Runs one parsed command line; the exit code is the command's verdict.
pub(crate) fn run(cli: Cli) -> Result<ExitCode> {
    let config_path = cli.config.or_else(config::config_path_from_env);
    let config_path = config_path.as_deref();
    let socket = || socket_path(cli.socket.as_deref(), config_path);
    match cli.command {
        Command::Serve { sandbox } => serve::serve(config_path, sandbox),
        Command::Op(op) => client::ask(op.into(), &socket()?, cli.json),
        Command::Tool(Tool::TestPrint) => tools::test_print(&socket()?, cli.json, config_path),
        Command::Tool(Tool::Render {
            input,
            output,
            width,
        }) => tools::render(&input, &output, width, config_path),
        Command::Tool(Tool::Printers { probe, baud_probe }) => {
            let listed = tools::printers()?;
            if probe {
                return probe::run(config_path, baud_probe);
            }
            Ok(listed)
        }
        Command::Tool(Tool::Loopback { live, total, wait }) => {
            loopback::run(&socket()?, live, total, Duration::from_secs(wait), cli.json)
        }
        Command::Tool(Tool::CheckConfig { online, order }) => {
            check_config::run(config_path, online, order)
        }
    }
}

/// How long an idle thread of the blocking pool is kept. A checkout's placement is signed
/// on one (`wechatpay/http/presign.rs`), and a shop's checkouts come minutes apart: with
/// tokio's default of 10 s each of them started a thread. Measured on the real path
/// (`cargo bench --bench real_path`, checkouts 20 ms apart, a 10 ms keep-alive standing for
/// 10 s between checkouts minutes apart): own time p50 0.14 ms and CPU 0.26 ms a checkout
/// more with a thread started each time. An idle thread waits without waking until then.
const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(3600);

/// The runtime every async command runs on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    // One thread is plenty for a register, and keeps memory and wake-ups low. Blocking
    // printer I/O has its own thread; signatures run on the blocking pool's.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .build()
        .context("cannot start the async runtime")
}

/// Settings for `serve` and `test-print`: the given file, else the system file, else (with
/// `--sandbox`) the embedded sandbox defaults.
pub(crate) fn load_settings(path: Option<&Path>, sandbox: bool) -> Result<Settings> {
    let default = config::default_config_path();
    let path = match path {
        Some(p) => Some(p.to_owned()),
        None if default.exists() && !sandbox => Some(default),
        None if sandbox => None,
        None => bail!(
            "no config file at {}; pass --config FILE, or run `wxprint serve --sandbox` to try wxprint without one",
            default.display()
        ),
    };
    let under_systemd = std::env::var_os("INVOCATION_ID").is_some();
    let mut settings = Settings::load(path.as_deref(), sandbox)?;
    if sandbox {
        settings.wechatpay.backend = Backend::Sandbox;
        if path.is_none() && under_systemd {
            // A service has no useful working directory: use the directories systemd
            // gives it (RuntimeDirectory=, StateDirectory=), else the system paths.
            let dir = |var: &str, default: &str| -> PathBuf {
                let given = std::env::var(var).ok();
                let first = given.as_deref().and_then(|v| v.split(':').next());
                PathBuf::from(first.filter(|d| !d.is_empty()).unwrap_or(default))
            };
            let state = dir("STATE_DIRECTORY", "/var/lib/wxprint");
            settings.daemon.socket = dir("RUNTIME_DIRECTORY", "/run/wxprint").join("wxprint.sock");
            settings.printer.device = state.join("receipts");
            settings.daemon.state_dir = state;
        }
    }
    Ok(settings)
}

/// The printer profile must be one wxprint knows.
pub(crate) fn check_profile(settings: &Settings) -> Result<()> {
    if wxprint::printer::profile::find(&settings.printer.profile).is_none() {
        bail!(
            "printer.profile: unknown profile {:?}; expected one of {}",
            settings.printer.profile,
            wxprint::printer::profile::names()
        );
    }
    Ok(())
}

/// "cannot connect to SOCKET", with what to check for the usual causes.
pub(crate) fn connect_error(socket: &Path, e: std::io::Error) -> anyhow::Error {
    let hint = match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "your user may not use the socket: add it to the socket's group (wxprint-pos) and log in again"
        }
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            "is the daemon running? (`wxprint serve --sandbox`, or `systemctl status wxprint`)"
        }
        _ => "check --socket and the daemon",
    };
    anyhow::anyhow!("cannot connect to {}: {e}; {hint}", socket.display())
}

/// `--socket`, else the config file's `daemon.socket`, else `./wxprint.sock` if it exists,
/// else the system socket. A config file named explicitly must load.
fn socket_path(flag: Option<&Path>, config_path: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(p.to_owned());
    }
    if let Some(file) = config_path {
        return Ok(Settings::load(Some(file), false)?.daemon.socket);
    }
    let system = config::default_config_path();
    if let Some(settings) = Some(&system)
        .filter(|p| p.exists())
        .and_then(|f| Settings::load(Some(f), false).ok())
    {
        return Ok(settings.daemon.socket);
    }
    if Path::new(LOCAL_SOCKET).exists() {
        return Ok(PathBuf::from(LOCAL_SOCKET));
    }
    Ok(PathBuf::from(SYSTEM_SOCKET))
}
