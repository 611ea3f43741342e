//! The exporter: installs the Prometheus recorder (`metrics-exporter-prometheus`, used only
//! to keep and render the metrics: no HTTP server, push gateway or runtime of its own),
//! starts the `GET /metrics` listener and the textfile ticker that `[metrics]` turns on, and
//! stops them.
//!
//! A metrics problem never stops the daemon: a socket that cannot be bound or a textfile
//! that cannot be written is logged as an error, naming the key and what to do, and the
//! daemon takes payments as before. Off, none of this runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::{PAID_BUCKETS, PRINTED_BUCKETS, TIME_TO_PAID, TIME_TO_PRINTED, listener, textfile};
use crate::config::MetricsSettings;

/// Sets the gauges that are read rather than recorded (the journal's size, the open
/// orders), before each render.
pub type Refresh = Box<dyn Fn() + Send + Sync>;

/// Why the metrics could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The recorder could not be built or installed (another one is installed already).
    #[error("cannot start the metrics recorder: {0}; run one daemon per process")]
    Recorder(#[from] BuildError),
    /// The address or socket path could not be bound.
    #[error(
        "cannot serve metrics on {listen}: {source}; change metrics.listen (or set it to \"\" \
         to turn the metrics socket off)"
    )]
    Bind {
        /// `metrics.listen` as configured.
        listen: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// What the listener and the textfile render: the recorder's handle and the refresh.
pub(super) struct Render {
    handle: PrometheusHandle,
    refresh: Refresh,
}

impl Render {
    /// The metrics now, in the Prometheus text format (0.0.4).
    pub(super) fn text(&self) -> String {
        (self.refresh)();
        self.handle.render()
    }
}

/// The running exporter; [`Exporter::stop`] ends it.
pub struct Exporter {
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    textfile: Option<PathBuf>,
}

impl Exporter {
    /// Install the recorder and start what `settings` turn on; `None` when metrics are off
    /// (then nothing is installed, bound, spawned or written). Runs inside the runtime.
    pub async fn start(
        settings: &MetricsSettings,
        refresh: Refresh,
    ) -> Result<Option<Exporter>, MetricsError> {
        if !settings.is_on() {
            return Ok(None);
        }
        let handle = builder()?.install_recorder()?;
        super::initialise();
        let render = Arc::new(Render { handle, refresh });
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        match listener::bind(&settings.listen).await {
            Ok(Some(l)) => tasks.push(tokio::spawn(listener::run(l, render.clone(), stop.clone()))),
            Ok(None) => {}
            Err(e) => error!("{e}; the daemon runs on without it"),
        }
        let ticker = tick(
            render,
            settings.textfile.clone(),
            settings.interval,
            stop.clone(),
        );
        tasks.push(tokio::spawn(ticker));
        if let Some(path) = &settings.textfile {
            info!(textfile = %path.display(), every = %humantime::format_duration(settings.interval), "writing metrics for node_exporter");
        }
        Ok(Some(Exporter {
            stop,
            tasks,
            textfile: settings.textfile.clone(),
        }))
    }

    /// Stop serving and writing: the socket file is removed, and so is the textfile (a
    /// stopped daemon has no current metrics; node_exporter then stops reporting them).
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        if let Some(path) = &self.textfile {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The recorder's settings: the metrics' names as written (no suffixes added), and real
/// histograms with explicit buckets (without them the crate renders summaries, whose
/// quantiles cannot be added up across registers).
pub(super) fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(TIME_TO_PRINTED.into()), PRINTED_BUCKETS)?
        .set_buckets_for_metric(Matcher::Full(TIME_TO_PAID.into()), PAID_BUCKETS)
}

/// Every `interval`, from now: the textfile rewritten (when set), else the recorder's
/// upkeep alone (histogram samples are folded into their buckets, so that memory stays
/// bounded when nobody scrapes). A write under way when `stop` comes is finished first.
async fn tick(
    render: Arc<Render>,
    textfile: Option<PathBuf>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing: Option<String> = None;
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let Some(path) = &textfile else {
            render.handle.run_upkeep();
            continue;
        };
        let text = render.text();
        let to = path.clone();
        let written = tokio::task::spawn_blocking(move || textfile::write(&to, &text)).await;
        let problem = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if problem != failing {
            match &problem {
                Some(e) => warn!(
                    textfile = %path.display(),
                    "metrics not written: {e}; create the directory (node_exporter's \
                     --collector.textfile.directory) writable by wxprint, or change \
                     metrics.textfile; the daemon runs on and tries again"
                ),
                None => info!(textfile = %path.display(), "metrics written again"),
            }
            failing = problem;
        }
    }
}
