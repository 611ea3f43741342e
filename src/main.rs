//! The `wxprint` command: the daemon (`serve`) and the technician's and POS developer's
//! tools, which speak the same socket protocol as a POS.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tracing::info;

use wxprint::config::{self, Backend, Settings};
use wxprint::jobs::{Jobs, JobsConfig};
use wxprint::journal::Journal;
use wxprint::payment::PaymentBackend;
use wxprint::payment::sandbox::Sandbox;
use wxprint::printer::PrinterHandle;
use wxprint::protocol::{Checkout, Event, Message, Op, Order, OrderAmount, Request};
use wxprint::{preview, receipt, server};

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
struct Cli {
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

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve {
        /// Sandbox payments (no WeChat Pay call). Without a config file: socket
        /// ./wxprint.sock, journal in ./state/, receipts as files under ./receipts/.
        #[arg(long)]
        sandbox: bool,
    },
    /// Check out through the daemon and print its events as they come.
    Checkout {
        #[arg(long)]
        out_trade_no: String,
        /// Amount in fen (3200 = ￥32.00).
        #[arg(long)]
        total: i64,
        #[arg(long)]
        description: String,
        /// Stop after the receipt is printed instead of waiting for the payment.
        #[arg(long)]
        no_follow: bool,
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
    /// Print a test page (through the daemon when it runs, else straight to the printer).
    TestPrint,
    /// Preview an ESC/POS byte stream as a PNG image.
    Render {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        /// Paper width in dots (576 for 80 mm, 384 for 58 mm).
        #[arg(long, default_value_t = 576)]
        width: usize,
    },
    /// List candidate printer devices: serial ports with USB ids, `/dev/usb/lp*`.
    Printers,
    /// Technician check of the whole path through the running daemon — socket, payment,
    /// printer — with the time of each stage and a PASS/FAIL verdict.
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
    /// Validate the configuration and print the effective settings.
    CheckConfig {
        /// Also make one signed call to WeChat Pay to prove the credentials.
        #[arg(long)]
        online: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wxprint: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    // One thread is plenty for a register, and keeps memory and wake-ups low. Blocking
    // printer I/O has its own thread.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(cli: Cli) -> Result<ExitCode> {
    let config_path = cli.config.clone().or_else(config::config_path_from_env);
    match cli.command {
        Command::Serve { sandbox } => serve(config_path.as_deref(), sandbox),
        Command::Render {
            input,
            output,
            width,
        } => {
            let bytes = std::fs::read(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            // Render what is there even if the stream is cut short, and say so.
            let (bitmap, problem) = preview::render_lossy(&bytes, width);
            if let Some(problem) = problem {
                eprintln!("warning: {}: {problem}", input.display());
            }
            std::fs::write(&output, bitmap.to_png())
                .with_context(|| format!("cannot write {}", output.display()))?;
            println!(
                "{} → {} ({}×{} dots)",
                input.display(),
                output.display(),
                bitmap.width,
                bitmap.height
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { online } => check_config(config_path.as_deref(), online),
        Command::Loopback { live, total, wait } => {
            let socket = socket_path(cli.socket.as_deref(), config_path.as_deref())?;
            loopback(&socket, live, total, std::time::Duration::from_secs(wait))
        }
        Command::Printers => {
            let found = wxprint::printer::discover::scan(Path::new("/sys"));
            if found.is_empty() {
                println!(
                    "no serial (ttyUSB/ttyACM) or usblp printer devices found; check the cable and `dmesg`"
                );
            }
            for candidate in &found {
                println!("{candidate}");
            }
            let link = Path::new("/dev/wxprint-printer");
            if let Ok(target) = std::fs::read_link(link) {
                println!(
                    "{} -> {} (the udev rule's stable name)",
                    link.display(),
                    target.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        command => {
            let socket = socket_path(cli.socket.as_deref(), config_path.as_deref())?;
            client(command, &socket, cli.json, config_path.as_deref())
        }
    }
}

/// Settings for `serve` and `test-print`: the given file, else the system file, else (with
/// `--sandbox`) the embedded sandbox defaults.
fn load_settings(path: Option<&Path>, sandbox: bool) -> Result<Settings> {
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

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Under systemd, stderr is the journal: log there natively, with the structured fields
    // (OUT_TRADE_NO, STATE, REQUEST_ID…) that `journalctl -u wxprint OUT_TRADE_NO=…` finds.
    if stderr_is_journal()
        && let Ok(journald) = tracing_journald::layer()
    {
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(journald.with_syslog_identifier("wxprint".into()))
            .try_init();
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

/// `$JOURNAL_STREAM` names the journal's `device:inode`; it is ours only if stderr is it.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = stream.split_once(':') else {
        return false;
    };
    let stderr = std::fs::metadata("/proc/self/fd/2");
    stderr.is_ok_and(|m| m.dev().to_string() == dev && m.ino().to_string() == ino)
}

/// The printer profile must be one wxprint knows.
fn check_profile(settings: &Settings) -> Result<()> {
    if wxprint::printer::profile::find(&settings.printer.profile).is_none() {
        bail!(
            "printer.profile: unknown profile {:?}; expected one of {}",
            settings.printer.profile,
            wxprint::printer::profile::names()
        );
    }
    Ok(())
}

fn serve(config_path: Option<&Path>, sandbox: bool) -> Result<ExitCode> {
    init_logging();
    let settings = load_settings(config_path, sandbox)?;
    check_profile(&settings)?;
    let state_dir = &settings.daemon.state_dir;
    let backend: Arc<dyn PaymentBackend> = match settings.wechatpay.backend {
        Backend::Sandbox => Arc::new(
            Sandbox::open(state_dir)
                .with_context(|| format!("sandbox store in {}", state_dir.display()))?,
        ),
        Backend::WechatPay => {
            let backend =
                wxprint::wechatpay::WechatPay::from_settings(&settings.wechatpay).map(Arc::new)?;
            if settings.wechatpay.apiv3_key_file.is_some() {
                // Certificate mode: fetch the platform certificates now, so that a merchant
                // who has none hears it at start and not as silent failures later.
                match runtime()?.block_on(backend.refresh_certificates()) {
                    Ok(n) => info!(count = n, "WeChat Pay platform certificates loaded"),
                    Err(e @ wxprint::payment::PaymentError::Rejected { .. })
                        if settings.wechatpay.public_key_id.is_empty() =>
                    {
                        bail!("{e}")
                    }
                    Err(e) => tracing::warn!(
                        error = %e,
                        "platform certificates not loaded yet; retrying on the first call"
                    ),
                }
            }
            backend
        }
    };
    let printer = PrinterHandle::spawn(wxprint::printer::open(&settings.printer));
    let journal = Journal::open(state_dir)?;
    let journal_path = journal.path().to_owned();

    let rt = runtime()?;
    rt.block_on(async {
        // The socket first: if another daemon runs, stop before touching its jobs. Under
        // systemd socket activation (wxprint.socket) the socket is handed to us as fd 3,
        // with its owner, group and mode already set, and it outlives our restarts.
        let (listener, activated) = match activated_listener()? {
            Some(listener) => (listener, true),
            None => (server::bind(&settings.daemon.socket)?, false),
        };
        let jobs = Jobs::start(
            JobsConfig::from_settings(&settings),
            backend.clone(),
            printer.clone(),
            journal,
        )?;
        info!(
            socket = %settings.daemon.socket.display(),
            journal = %journal_path.display(),
            printer = printer.describe(),
            backend = backend.name(),
            resumed = jobs.active_count(),
            "wxprint {} ready",
            env!("CARGO_PKG_VERSION")
        );
        if backend.as_sandbox().is_some() {
            info!(
                "sandbox backend: no real payment happens; pay orders with `wxprint sandbox-pay N`"
            );
        }
        let status = format!(
            "ready: backend {}, printer {}",
            backend.name(),
            printer.describe()
        );
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&status),
        ]);
        if let Some(interval) = sd_notify::watchdog_enabled() {
            tokio::spawn(watchdog(jobs.clone(), interval, status));
        }
        server::run_with(listener, jobs, shutdown_signal(), !activated).await;
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The listening socket systemd passed (`LISTEN_FDS`, fd 3), if any.
fn activated_listener() -> Result<Option<tokio::net::UnixListener>> {
    use std::os::fd::FromRawFd;
    let Some(fd) = sd_notify::listen_fds()?.next() else {
        return Ok(None);
    };
    // SAFETY: systemd hands this fd to us alone (LISTEN_PID is our pid); we take it once.
    let std_listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) };
    std_listener.set_nonblocking(true)?;
    Ok(Some(tokio::net::UnixListener::from_std(std_listener)?))
}

/// `WATCHDOG=1` every half interval, but only while the daemon's machinery answers: the
/// job manager's lock can be taken (no deadlock) and this task gets to run on the one
/// runtime thread that also runs the jobs (nothing blocks it). A stuck daemon stops
/// pinging and systemd restarts it; unfinished jobs resume from the journal.
async fn watchdog(jobs: Jobs, interval: std::time::Duration, status: String) {
    let mut tick = tokio::time::interval(interval / 2);
    loop {
        tick.tick().await;
        if jobs.is_shutting_down() {
            return;
        }
        let active = jobs.active_count(); // takes the jobs lock
        let line = format!("{status}; {active} open order(s)");
        let _ = sd_notify::notify(&[
            sd_notify::NotifyState::Watchdog,
            sd_notify::NotifyState::Status(&line),
        ]);
    }
}

/// SIGTERM (systemd) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => info!("SIGTERM received"),
        _ = int.recv() => info!("SIGINT received"),
    }
}

fn check_config(path: Option<&Path>, online: bool) -> Result<ExitCode> {
    let path = path
        .map(Path::to_owned)
        .unwrap_or_else(config::default_config_path);
    let settings = match Settings::load(Some(&path), false) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!("# effective settings from {}", path.display());
    print!("{settings}");
    if let Err(e) = check_profile(&settings) {
        eprintln!("{e}");
        return Ok(ExitCode::FAILURE);
    }
    if settings.wechatpay.backend == Backend::WechatPay {
        // The key files: present, private, parseable (no network needed).
        if let Err(e) = wxprint::wechatpay::WechatPay::from_settings(&settings.wechatpay) {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        println!("# key files: ok");
    }
    if online {
        return check_online(&settings);
    }
    Ok(ExitCode::SUCCESS)
}

/// `check-config --online`: one signed call that proves keys, serial, clock and trust mode.
fn check_online(settings: &Settings) -> Result<ExitCode> {
    if settings.wechatpay.backend == Backend::Sandbox {
        println!("# online check: sandbox backend, nothing to check");
        return Ok(ExitCode::SUCCESS);
    }
    let backend =
        match wxprint::wechatpay::WechatPay::from_settings(&settings.wechatpay).map(Arc::new) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("online check FAILED: {e}");
                return Ok(ExitCode::FAILURE);
            }
        };
    let report = runtime()?.block_on(backend.probe());
    match report {
        Ok(report) => {
            println!(
                "# online check OK: WeChat Pay accepted our signed request for mchid {} (Request-ID {})",
                settings.wechatpay.mchid,
                report.request_id.as_deref().unwrap_or("none")
            );
            if let Some(n) = report.certificates {
                println!(
                    "# certificate mode: {n} platform certificate(s) downloaded, decrypted with the APIv3 key and verified"
                );
            }
            if !report.verified && report.certificates.is_none() {
                println!(
                    "# public-key mode: not proven by this call (WeChat Pay does not sign its error answers); the first order's answer is verified with public_key_file"
                );
            }
            if let Some(offset) = report.clock_offset {
                let verdict = if offset.abs() > 60 {
                    "WARNING: fix the clock (NTP)"
                } else {
                    "ok"
                };
                println!("# clock offset to WeChat Pay: {offset} s ({verdict})");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let hint = match &e {
                wxprint::payment::PaymentError::Rejected { code, .. } if code == "SIGN_ERROR" => {
                    "check merchant_serial_no, private_key_file and the register's clock"
                }
                wxprint::payment::PaymentError::Transient { .. } => {
                    "check the network, DNS and api_base (and ca_file for a private CA)"
                }
                _ => "check appid, mchid and the trust mode keys",
            };
            eprintln!("online check FAILED: {e}; {hint}");
            Ok(ExitCode::FAILURE)
        }
    }
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

/// When a client command is done with the daemon's answers.
fn finished(op: &Op, event: &Event) -> Option<ExitCode> {
    let code = |c: u8| Some(ExitCode::from(c));
    match (op, event) {
        (Op::Watch, _) => None,
        (_, Event::Error { print: None, .. }) => code(2),
        (Op::Checkout(c), Event::Error { .. }) if !c.follow => code(2),
        (_, Event::Paid { .. }) => code(if matches!(op, Op::Cancel { .. }) {
            3
        } else {
            0
        }),
        (_, Event::Closed { .. }) => code(if matches!(op, Op::Cancel { .. }) {
            0
        } else {
            3
        }),
        (_, Event::Failed { .. }) => code(4),
        (Op::Checkout(c), Event::Printed { .. }) if !c.follow => code(0),
        (Op::Checkout(_) | Op::Cancel { .. } | Op::SandboxPay { .. }, _) => None,
        _ => code(0),
    }
}

fn client(
    command: Command,
    socket: &Path,
    json: bool,
    config_path: Option<&Path>,
) -> Result<ExitCode> {
    let op = match command {
        Command::Checkout {
            out_trade_no,
            total,
            description,
            no_follow,
        } => Op::Checkout(Box::new(Checkout {
            order: Order {
                out_trade_no,
                description,
                amount: OrderAmount {
                    total,
                    currency: "CNY".into(),
                },
                attach: None,
                time_expire: None,
                goods_tag: None,
            },
            receipt: None,
            follow: !no_follow,
            loopback: false,
        })),
        Command::Status { out_trade_no } => Op::Status { out_trade_no },
        Command::Cancel { out_trade_no } => Op::Cancel { out_trade_no },
        Command::Reprint { out_trade_no } => Op::Reprint { out_trade_no },
        Command::SandboxPay { out_trade_no } => Op::SandboxPay { out_trade_no },
        Command::Watch => Op::Watch,
        Command::Printer => Op::Printer,
        Command::TestPrint => Op::TestPrint,
        Command::Serve { .. }
        | Command::Render { .. }
        | Command::CheckConfig { .. }
        | Command::Loopback { .. }
        | Command::Printers => {
            unreachable!("handled before")
        }
    };
    let request = Request {
        id: Some(format!("cli-{}", std::process::id())),
        op,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let stream = match UnixStream::connect(socket).await {
            Ok(s) => s,
            Err(e) if matches!(request.op, Op::TestPrint) => {
                println!(
                    "daemon not reachable at {} ({e}); printing straight to the printer",
                    socket.display()
                );
                return test_print_direct(config_path);
            }
            Err(e) => return Err(connect_error(socket, e)),
        };
        let (read, mut write) = stream.into_split();
        write
            .write_all(format!("{}\n", request.to_json()).as_bytes())
            .await?;
        let mut lines = BufReader::new(read).lines();
        // One-answer ops get an answer within a minute or something is wrong; streams
        // (checkout, cancel, sandbox-pay, watch) wait as long as the order takes.
        let streams = matches!(
            request.op,
            Op::Checkout(_) | Op::Cancel { .. } | Op::SandboxPay { .. } | Op::Watch
        );
        loop {
            let next = lines.next_line();
            let line = if streams {
                next.await?
            } else {
                tokio::time::timeout(std::time::Duration::from_secs(60), next)
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "no answer from the daemon at {} within 60 s; check `systemctl status wxprint`",
                            socket.display()
                        )
                    })??
            };
            let Some(line) = line else { break };
            let message: Message = serde_json::from_str(&line)
                .with_context(|| format!("unexpected message from the daemon: {line}"))?;
            if json {
                println!("{line}");
            } else {
                println!("{}", describe(&message.event));
            }
            if let Some(code) = finished(&request.op, &message.event) {
                return Ok(code);
            }
        }
        bail!("the daemon closed the connection before answering (is it shutting down?)")
    })
}

fn connect_error(socket: &Path, e: std::io::Error) -> anyhow::Error {
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

fn test_print_direct(config_path: Option<&Path>) -> Result<ExitCode> {
    let sandbox = config_path.is_none() && !config::default_config_path().exists();
    let settings = load_settings(config_path, sandbox)?;
    check_profile(&settings)?;
    let mut printer = wxprint::printer::open(&settings.printer);
    let layout = wxprint::jobs::layout_for(&settings.printer);
    let status = printer.status();
    println!("{}", serde_json::to_string(&status).unwrap_or_default());
    let info = vec![
        format!("wxprint {}", env!("CARGO_PKG_VERSION")),
        format!("profile: {}", settings.printer.profile),
        format!("printer: {}", printer.describe()),
        format!(
            "status: online {:?}, paper {}, cover open {:?}{}",
            status.online,
            status.paper,
            status.cover_open,
            status.error.map(|e| format!(" ({e})")).unwrap_or_default()
        ),
    ];
    let location = printer.write_job("test-page", &receipt::test_page(&info, &layout))?;
    println!(
        "printed{}",
        location.map(|l| format!(" {l}")).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// `wxprint loopback`: a checkout through the socket exactly as a POS sends it, timed.
fn loopback(socket: &Path, live: bool, total: i64, wait: std::time::Duration) -> Result<ExitCode> {
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let mut stages: Vec<(String, Duration)> = Vec::new();
    let verdict = runtime()?.block_on(async {
        let stream = match UnixStream::connect(socket).await {
            Ok(s) => s,
            Err(e) => return Err(format!("{}", connect_error(socket, e))),
        };
        stages.push(("socket accepted".into(), start.elapsed()));
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let no = format!("LOOP{}", wxprint::clock::now_ms());
        let checkout = Request {
            id: Some("loopback".into()),
            op: Op::Checkout(Box::new(Checkout {
                order: Order {
                    out_trade_no: no.clone(),
                    description: "wxprint loopback test".into(),
                    amount: OrderAmount { total: if live { total } else { 1 }, currency: "CNY".into() },
                    attach: None,
                    time_expire: None,
                    goods_tag: None,
                },
                receipt: Some(wxprint::protocol::ReceiptSpec {
                    title: Some("wxprint loopback".into()),
                    lines: None,
                    footer: Some(if live { "Scan and pay to finish the test".into() } else { "Test receipt - not a payment".into() }),
                }),
                follow: true,
                loopback: !live,
            })),
        };
        let send = |request: Request| format!("{}\n", request.to_json());
        write.write_all(send(checkout).as_bytes()).await.map_err(|e| e.to_string())?;
        let step = Duration::from_secs(30);
        let mut paid_deadline = None;
        loop {
            let timeout = paid_deadline.map_or(step, |d: Instant| d.saturating_duration_since(Instant::now()));
            let line = match tokio::time::timeout(timeout, lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(_) => return Err("the daemon closed the connection (is it stopping?)".into()),
                Err(_) if paid_deadline.is_some() => {
                    let cancel = Request { id: Some("loopback".into()), op: Op::Cancel { out_trade_no: no.clone() } };
                    let _ = write.write_all(send(cancel).as_bytes()).await;
                    return Err(format!("not paid within {}s; the order is being closed", wait.as_secs()));
                }
                Err(_) => {
                    let last = stages.last().map_or("nothing", |s| s.0.as_str()).to_owned();
                    return Err(format!("no progress for {}s after {last}", step.as_secs()));
                }
            };
            let message: Message = serde_json::from_str(&line).map_err(|e| e.to_string())?;
            let at = start.elapsed();
            match message.event {
                Event::Accepted { .. } => stages.push(("checkout journaled".into(), at)),
                Event::CodeUrl { .. } => stages.push(("order placed (code_url)".into(), at)),
                Event::Printer { status, .. } => {
                    return Err(format!(
                        "the printer is not ready ({}); check power, cable, baud rate and flow control, paper and cover",
                        status.error.unwrap_or_else(|| "unknown".into())
                    ));
                }
                Event::Printed { location, .. } => {
                    let location = location.unwrap_or_default();
                    stages.push(("receipt written".into(), at));
                    if location.contains("confirmed by the printer") {
                        stages.push(("printer confirmed (GS r)".into(), at));
                    } else if location.contains("did not confirm") {
                        stages.push(("printer confirmed: NO (no status answer; check the cable, or a unidirectional printer)".into(), at));
                    }
                    if live {
                        println!("scan the QR on the receipt with WeChat and pay within {}s…", wait.as_secs());
                        paid_deadline = Some(Instant::now() + wait);
                    } else {
                        let pay = Request { id: Some("loopback".into()), op: Op::SandboxPay { out_trade_no: no.clone() } };
                        write.write_all(send(pay).as_bytes()).await.map_err(|e| e.to_string())?;
                    }
                }
                Event::Paid { amount, .. } => {
                    stages.push((format!("paid ({})", if live { format!("{} fen", amount.total) } else { "sandbox".into() }), at));
                    return Ok(());
                }
                Event::Failed { error, .. } | Event::Error { error, .. } => {
                    let hint = match error.wechatpay_code.as_deref() {
                        Some("SIGN_ERROR") => "; check the register's clock (NTP), merchant_serial_no and private_key_file",
                        Some(_) => "; check appid, mchid and the merchant account",
                        None if error.code == wxprint::protocol::ErrorCode::Printer => "; check the printer cable, baud rate and paper",
                        None => "",
                    };
                    return Err(format!("{}{hint}", error.message));
                }
                Event::Closed { reason, .. } => return Err(format!("the order was closed ({})", reason.as_str())),
                _ => {}
            }
        }
    });
    println!("{:<70} {:>9}", "stage", "ms");
    for (stage, at) in &stages {
        println!("{stage:<70} {:>9.1}", at.as_secs_f64() * 1000.0);
    }
    match verdict {
        Ok(()) => {
            println!("PASS: socket → payment → printer works");
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            println!("FAIL: {why}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// One line of human-readable output per event.
fn describe(event: &Event) -> String {
    let yuan = |fen: i64| format!("￥{}.{:02}", fen / 100, fen % 100);
    match event {
        Event::Accepted {
            out_trade_no,
            state,
            resumed,
        } => format!(
            "accepted   {out_trade_no} ({}){}",
            state.as_str(),
            if *resumed { ", resumed" } else { "" }
        ),
        Event::CodeUrl { code_url, .. } => format!("code_url   {code_url}"),
        Event::Printed { location, .. } => {
            format!("printed    {}", location.as_deref().unwrap_or(""))
        }
        Event::Cancelling { out_trade_no, .. } => {
            format!("cancelling {out_trade_no} (closed as soon as WeChat Pay allows)")
        }
        Event::Paid {
            transaction_id,
            success_time,
            amount,
            ..
        } => format!(
            "paid       {} transaction {transaction_id} at {success_time}",
            yuan(amount.total)
        ),
        Event::Closed { reason, .. } => format!("closed     {}", reason.as_str()),
        Event::Failed { error, .. } => format!(
            "failed     {}{}: {}",
            serde_json::to_value(error.code)
                .unwrap_or_default()
                .as_str()
                .unwrap_or(""),
            error
                .wechatpay_code
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default(),
            error.message
        ),
        Event::Error { error, .. } => format!(
            "error      {}: {}",
            serde_json::to_value(error.code)
                .unwrap_or_default()
                .as_str()
                .unwrap_or(""),
            error.message
        ),
        Event::Status(status) => serde_json::to_string_pretty(status).unwrap_or_default(),
        Event::Printer {
            out_trade_no: Some(no),
            status,
            ..
        } => format!(
            "printer    {no}: receipt waiting for the printer ({})",
            status.error.as_deref().unwrap_or("not ready")
        ),
        Event::Printer { status, .. } => serde_json::to_string_pretty(status).unwrap_or_default(),
        Event::Pong { version, protocol } => {
            format!("pong       wxprint {version}, protocol {protocol}")
        }
    }
}
