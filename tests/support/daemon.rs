//! The daemon under test, in this process: the real `Jobs`, journal and socket server, with
//! the sandbox backend and the file printer unless a test brings its own. It only starts and
//! stops the daemon; tests talk to it through [`Client`], never to its insides.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use wxprint::jobs::{Jobs, JobsConfig};
use wxprint::journal::Journal;
use wxprint::payment::PaymentBackend;
use wxprint::payment::sandbox::Sandbox;
use wxprint::printer::{FilePrinter, Printer, PrinterHandle};
use wxprint::server;

use super::{Client, TIMEOUT, fast_config};

/// A daemon running in this process.
pub struct Daemon {
    /// Where its state, receipts and socket live.
    #[allow(
        dead_code,
        reason = "tests/printers reads receipts from the printer, not here"
    )]
    pub dir: PathBuf,
    /// The socket a POS connects to.
    pub socket: PathBuf,
    /// The sandbox backend, unless the test brought a backend of its own.
    #[allow(
        dead_code,
        reason = "only tests/daemon pays through the sandbox directly"
    )]
    pub sandbox: Option<Arc<Sandbox>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// What to start a daemon with; defaults: sandbox backend, file printer, [`fast_config`].
pub struct Options {
    pub config: JobsConfig,
    pub backend: Option<Arc<dyn PaymentBackend>>,
    pub printer: Option<Box<dyn Printer>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: fast_config(),
            backend: None,
            printer: None,
        }
    }
}

impl Daemon {
    /// Start a daemon whose state, receipts and socket live in `dir`.
    #[allow(
        dead_code,
        reason = "the other test binaries always bring a backend or printer"
    )]
    pub async fn start(dir: &Path) -> Daemon {
        Daemon::start_with(dir, Options::default()).await
    }

    pub async fn start_with(dir: &Path, options: Options) -> Daemon {
        Daemon::start_serving(dir, options, server::MAX_CONNECTIONS).await
    }

    /// [`Daemon::start`], serving at most `max_connections` POS connections at once.
    #[allow(dead_code, reason = "only tests/daemon shows the cap")]
    pub async fn start_capped(dir: &Path, max_connections: usize) -> Daemon {
        Daemon::start_serving(dir, Options::default(), max_connections).await
    }

    async fn start_serving(dir: &Path, options: Options, max_connections: usize) -> Daemon {
        let state = dir.join("state");
        let socket = dir.join("wxprint.sock");
        let (backend, sandbox): (Arc<dyn PaymentBackend>, _) = match options.backend {
            Some(b) => (b, None),
            None => {
                let s = Arc::new(Sandbox::open(&state).unwrap());
                (s.clone(), Some(s))
            }
        };
        let printer = options
            .printer
            .unwrap_or_else(|| Box::new(FilePrinter::new(dir.join("receipts"))));
        let journal = Journal::open(&state).unwrap();
        let jobs = Jobs::start(
            options.config,
            backend,
            PrinterHandle::spawn(printer),
            journal,
        )
        .unwrap();
        let listener = server::bind(&socket)
            .unwrap()
            .max_connections(max_connections);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, jobs, async {
            let _ = stopped.await;
        }));
        Daemon {
            dir: dir.to_owned(),
            socket,
            sandbox,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A new POS connection.
    pub async fn connect(&self) -> Client {
        Client::connect(&self.socket).await
    }

    /// Begin a graceful shutdown (as SIGTERM does) without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shut down gracefully and wait until the daemon has stopped.
    pub async fn shutdown(mut self) {
        self.begin_shutdown();
        self.stopped().await;
    }

    /// Wait until a shutdown begun with [`Daemon::begin_shutdown`] has finished.
    pub async fn stopped(mut self) {
        let task = self.task.take().unwrap();
        tokio::time::timeout(TIMEOUT, task)
            .await
            .expect("daemon stops")
            .unwrap();
    }

    /// The receipt files written so far, oldest first.
    #[allow(
        dead_code,
        reason = "tests/printers reads receipts from the printer, not here"
    )]
    pub fn receipts(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("receipts"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "bin"));
        files.sort();
        files
    }
}
