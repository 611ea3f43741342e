//! `wxprint serve`: the daemon's wiring. Opens the payment backend, the printer and the
//! journal, takes the socket (its own, or the one systemd's socket activation passes),
//! starts the jobs and serves until SIGTERM or SIGINT, telling systemd when it is ready and,
//! while it works, pinging its watchdog; starts the metrics exporter when `[metrics]` is on.
//! Logs go to the journal under systemd, else stderr.
//!
//! Only wiring: the daemon's behaviour lives in the library (`jobs`, `server`), which knows
//! nothing of systemd, signals or logging setup.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio_util::sync::CancellationToken;
use tracing::info;

use wxprint::config::{Backend, Region, Settings};
use wxprint::jobs::{Jobs, JobsConfig};
use wxprint::journal::Journal;
use wxprint::metrics::Exporter;
use wxprint::notify::{self, Notifications};
use wxprint::payment::PaymentBackend;
use wxprint::payment::sandbox::{Sandbox, SandboxMarket};
use wxprint::printer::PrinterHandle;
use wxprint::server;
use wxprint::wechatpay::WechatPay;

use super::{check_profile, load_settings, runtime};

/// The daemon's own log lines keep the target they had when they were written in
/// `main.rs` (a log reader or `RUST_LOG` filter may know it), not this module's path.
pub(crate) const LOG_TARGET: &str = "wxprint";

/// `wxprint serve [--sandbox]`: runs the daemon until it is told to stop.
pub(crate) fn serve(config_path: Option<&Path>, sandbox: bool) -> Result<ExitCode> {
    init_logging();
    raise_open_files_limit();
    let settings = load_settings(config_path, sandbox)?;
    check_profile(&settings)?;
    let (backend, wechatpay) = open_backend(&settings)?;
    let printer = PrinterHandle::spawn(wxprint::printer::open(&settings.printer));
    let journal = Journal::open(&settings.daemon.state_dir)?;
    let journal_path = journal.path().to_owned();

    let rt = runtime()?;
    rt.block_on(async {
        // The socket first: if another daemon runs, stop before touching its jobs.
        let listener = listen(&settings)?;
        let jobs = Jobs::start(
            JobsConfig::from_settings(&settings),
            backend.clone(),
            printer.clone(),
            journal,
        )?;
        // Before anything yields, so that no resumed job's change goes uncounted.
        let metrics = start_metrics(&settings, &journal_path, &jobs).await;
        let notifications = start_notifications(&settings, wechatpay, &jobs).await?;
        let status = announce_ready(&settings, &journal_path, &*backend, &printer, &jobs);
        tokio::spawn(super::probe::log_identity(
            printer.clone(),
            settings.clone(),
        ));
        if let Some(interval) = sd_notify::watchdog_enabled() {
            tokio::spawn(watchdog(jobs.clone(), interval, status));
        }
        server::run(listener, jobs, shutdown_signal()).await;
        notifications.stop().await;
        if let Some(metrics) = metrics {
            metrics.stop().await;
        }
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The payment backend the jobs use, and the WeChat Pay client itself when it is that one.
type Backends = (Arc<dyn PaymentBackend>, Option<Arc<WechatPay>>);

/// The configured payment backend: the sandbox's store, or the WeChat Pay client with its
/// keys loaded (and, in certificate mode, the platform certificates fetched), also returned
/// as itself for the notification listener.
fn open_backend(settings: &Settings) -> Result<Backends> {
    let state_dir = &settings.daemon.state_dir;
    Ok(match settings.wechatpay.backend {
        Backend::Sandbox => {
            // The sandbox stands in for the configured merchant: its currency, its region.
            let market = SandboxMarket {
                currency: settings.wechatpay.currency.clone(),
                global: settings.wechatpay.region == Region::Global,
            };
            let sandbox = Sandbox::open(state_dir)
                .with_context(|| format!("sandbox store in {}", state_dir.display()))?
                .with_market(market);
            (Arc::new(sandbox), None)
        }
        Backend::WechatPay => {
            let backend = WechatPay::from_settings(&settings.wechatpay).map(Arc::new)?;
            if settings.wechatpay.apiv3_key_file.is_some() {
                load_certificates(&backend, settings)?;
            }
            (backend.clone(), Some(backend))
        }
    })
}

/// Certificate mode: fetch the platform certificates now, so that a merchant who has none
/// hears it at start and not as silent failures later.
fn load_certificates(backend: &WechatPay, settings: &Settings) -> Result<()> {
    match runtime()?.block_on(backend.refresh_certificates()) {
        Ok(n) => info!(
            target: LOG_TARGET,
            count = n,
            "WeChat Pay platform certificates loaded"
        ),
        Err(e @ wxprint::payment::PaymentError::Rejected { .. })
            if settings.wechatpay.public_key_id.is_empty() =>
        {
            bail!("{e}")
        }
        // No platform certificates, and a public key: normal, said once by the client.
        Err(wxprint::payment::PaymentError::Rejected { code, .. })
            if code == "RESOURCE_NOT_EXISTS" => {}
        Err(e) => tracing::warn!(
            target: LOG_TARGET,
            error = %e,
            "platform certificates not loaded yet; retrying on the first call"
        ),
    }
    Ok(())
}

/// The payment notification listener, when it runs; [`Listening::stop`] ends it.
#[derive(Default)]
struct Listening(Option<(CancellationToken, tokio::task::JoinHandle<()>)>);

impl Listening {
    /// Stop accepting notifications, answer those being received, and return once the
    /// listener is closed.
    async fn stop(self) {
        if let Some((stop, task)) = self.0 {
            stop.cancel();
            let _ = task.await;
        }
    }
}

/// `[notify] listen`: the payment notification listener beside the socket server, on WeChat
/// Pay only (the sandbox has no notifications).
async fn start_notifications(
    settings: &Settings,
    wechatpay: Option<Arc<WechatPay>>,
    jobs: &Jobs,
) -> Result<Listening> {
    let Some(listener) = notify::bind(&settings.notify.listen).await? else {
        return Ok(Listening::default());
    };
    let Some(backend) = wechatpay else {
        tracing::warn!(
            target: LOG_TARGET,
            "notify.listen is set but the backend is the sandbox: no notifications come; not listening"
        );
        return Ok(Listening::default());
    };
    let notifications = Notifications::new(backend, jobs.clone(), &settings.notify.path);
    let stop = CancellationToken::new();
    let task = tokio::spawn(notify::run(listener, Arc::new(notifications), stop.clone()));
    let poll = JobsConfig::from_settings(settings).poll;
    info!(
        target: LOG_TARGET,
        "payment notifications on: polling is the fallback, every {} in an order's first {} \
         (poll_interval {} x {}), then every {}",
        humantime::format_duration(poll.fast),
        humantime::format_duration(poll.fast_window),
        humantime::format_duration(settings.wechatpay.poll.fast),
        wxprint::config::PollSchedule::NOTIFIED_SLOWDOWN,
        humantime::format_duration(poll.slow),
    );
    Ok(Listening(Some((stop, task))))
}

/// `[metrics]`: the exporter, when on; the journal's size and the open orders are read at
/// each render. A problem is logged and the daemon runs on: metrics never stop payments.
async fn start_metrics(settings: &Settings, journal: &Path, jobs: &Jobs) -> Option<Exporter> {
    let files = [journal.to_owned(), wal_of(journal)];
    let jobs = jobs.clone();
    let refresh = Box::new(move || {
        let bytes = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        wxprint::metrics::journal(bytes, jobs.active_count());
    });
    Exporter::start(&settings.metrics, refresh)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(target: LOG_TARGET, "{e}; the daemon runs on without metrics");
            None
        })
}

/// SQLite's write-ahead log beside `journal` (`journal.sqlite-wal`).
fn wal_of(journal: &Path) -> std::path::PathBuf {
    let mut name = journal.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// The daemon's listening socket. Under systemd socket activation (wxprint.socket) the
/// socket is handed to us as fd 3, with its owner, group and mode already set, and it
/// outlives our restarts, so the server must not remove it at exit
/// ([`server::Listener::activated`]). Otherwise we bind `daemon.socket` ourselves.
/// Runs inside the runtime.
fn listen(settings: &Settings) -> Result<server::Listener> {
    Ok(match activated_listener()? {
        Some(listener) => server::Listener::activated(listener),
        None => server::bind(&settings.daemon.socket)?,
    })
}

/// Logs "ready" and tells systemd (`READY=1`); returns the status line for the watchdog.
fn announce_ready(
    settings: &Settings,
    journal: &Path,
    backend: &dyn PaymentBackend,
    printer: &PrinterHandle,
    jobs: &Jobs,
) -> String {
    info!(
        target: LOG_TARGET,
        socket = %settings.daemon.socket.display(),
        journal = %journal.display(),
        printer = printer.describe(),
        backend = backend.name(),
        resumed = jobs.active_count(),
        "wxprint {} ready",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(note) = wxprint::jobs::encoding_override(&settings.printer) {
        tracing::warn!(target: LOG_TARGET, "{note}");
    }
    if backend.as_sandbox().is_some() {
        info!(
            target: LOG_TARGET,
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
    status
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
        _ = term.recv() => info!(target: LOG_TARGET, "SIGTERM received"),
        _ = int.recv() => info!(target: LOG_TARGET, "SIGINT received"),
    }
}

/// Logs to the journal, with structured fields, when stderr is the journal; else to
/// stderr, coloured on a terminal. `RUST_LOG` filters (default `info`).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Under systemd, stderr is the journal: log there natively, with the structured fields
    // (tracing-journald prefixes them: F_OUT_TRADE_NO, F_STATE, F_REQUEST_ID…) that
    // `journalctl -u wxprint F_OUT_TRADE_NO=…` finds.
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

/// The open files the daemon may need at once: [`server::MAX_CONNECTIONS`] POS
/// connections, the side doors' (64 + 8), WeChat Pay's connection pool, the journal, the
/// printer, with room to spare.
const OPEN_FILES: libc::rlim_t = 4096;

/// Raise the soft limit on open files to [`OPEN_FILES`], within the hard limit: systemd
/// gives services a soft limit of 1,024 and asks programs that need more to raise it
/// themselves (systemd.exec(5), `LimitNOFILE=`). The daemon never uses `select()`.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let wanted = OPEN_FILES.min(limit.rlim_max);
    if limit.rlim_cur < wanted {
        limit.rlim_cur = wanted;
        // SAFETY: as above. On failure the limit stays as it was, which still works.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            tracing::debug!("could not raise the open files limit");
        }
    }
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
