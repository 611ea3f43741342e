//! Test support: start the real daemon in-process on a temporary socket, and talk to it
//! over that socket exactly as a POS does (one JSON object per line).

#![allow(dead_code)] // each test binary uses a different part of this

pub mod virtual_printer;
pub mod wechatpay_sim;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use wxprint::config::PollSchedule;
use wxprint::escpos::Layout;
use wxprint::jobs::{Jobs, JobsConfig};
use wxprint::journal::Journal;
use wxprint::payment::PaymentBackend;
use wxprint::payment::sandbox::Sandbox;
use wxprint::printer::{FilePrinter, Printer, PrinterHandle};
use wxprint::server;

/// How long a test waits for any one message before failing.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The state machine's settings, with timings shrunk so tests run in milliseconds.
pub fn fast_config() -> JobsConfig {
    JobsConfig {
        order_ttl: Duration::from_secs(600),
        close_min_age: Duration::ZERO,
        poll: PollSchedule {
            fast: Duration::from_millis(50),
            fast_window: Duration::from_secs(60),
            paying: Duration::from_millis(20),
            slow: Duration::from_millis(100),
        },
        receipt_title: "Test Shop".into(),
        receipt_footer: "Thank you".into(),
        layout: Layout::MM80,
        profile: "80mm".into(),
        print_timeout: Duration::from_millis(300),
    }
}

/// A daemon running in this process.
pub struct Daemon {
    pub dir: PathBuf,
    pub socket: PathBuf,
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
    pub async fn start(dir: &Path) -> Daemon {
        Daemon::start_with(dir, Options::default()).await
    }

    pub async fn start_with(dir: &Path, options: Options) -> Daemon {
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
        let listener = server::bind(&socket).unwrap();
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
        let task = self.task.take().unwrap();
        tokio::time::timeout(TIMEOUT, task)
            .await
            .expect("daemon stops")
            .unwrap();
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
    pub fn receipts(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.join("receipts"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "bin"));
        files.sort();
        files
    }
}

/// A POS-side connection.
pub struct Client {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Client {
    pub async fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket)
            .await
            .expect("connect to the daemon");
        let (read, write) = stream.into_split();
        Client {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    /// Send raw bytes (the test adds the newline where it wants one).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).await.unwrap();
    }

    /// Close our sending side (as `socat` does at the end of its input); replies still come.
    pub async fn close_write(&mut self) {
        self.write.shutdown().await.unwrap();
    }

    /// Send one request line.
    pub async fn send(&mut self, request: Value) {
        let mut line = request.to_string();
        line.push('\n');
        self.send_raw(line.as_bytes()).await;
    }

    /// The next message, as JSON. Panics after [`TIMEOUT`] or when the daemon hangs up.
    pub async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(TIMEOUT, self.lines.next_line())
            .await
            .expect("a message within the timeout")
            .expect("read from the socket")
            .expect("the daemon closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The next message, which must be event `name`.
    pub async fn expect(&mut self, name: &str) -> Value {
        let m = self.recv().await;
        assert_eq!(m["event"], name, "expected {name}, got {m}");
        m
    }

    /// `None` if the daemon closed the connection.
    pub async fn recv_or_eof(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(TIMEOUT, self.lines.next_line())
            .await
            .expect("a message or end of stream within the timeout")
            .ok()??;
        Some(serde_json::from_str(&line).unwrap())
    }

    /// Nothing arrives within `d`.
    pub async fn silent_for(&mut self, d: Duration) {
        if let Ok(Ok(Some(line))) = tokio::time::timeout(d, self.lines.next_line()).await {
            panic!("unexpected message: {line}");
        }
    }

    /// Send a request and return the first reply.
    pub async fn call(&mut self, request: Value) -> Value {
        self.send(request).await;
        self.recv().await
    }

    /// An error reply's code.
    pub async fn call_error(&mut self, request: Value) -> (String, Value) {
        let m = self.call(request).await;
        assert_eq!(m["event"], "error", "expected an error, got {m}");
        (m["error"]["code"].as_str().unwrap().to_owned(), m)
    }
}

/// A checkout request like a POS would send.
pub fn checkout(no: &str, total: i64) -> Value {
    json!({
        "op": "checkout",
        "id": format!("co-{no}"),
        "order": {"out_trade_no": no, "description": "Latte x2", "amount": {"total": total}},
        "receipt": {"lines": [{"name": "Latte", "quantity": 2, "amount": total}]}
    })
}

/// Decode every QR code in an ESC/POS byte stream, through our renderer.
pub fn decode_qr(bytes: &[u8], width: usize) -> Vec<String> {
    let bitmap = wxprint::preview::render(bytes, width).expect("renderable");
    let mut img =
        rqrr::PreparedImage::prepare_from_greyscale(bitmap.width, bitmap.height, |x, y| {
            if bitmap.dots[y * bitmap.width + x] {
                0
            } else {
                255
            }
        });
    img.detect_grids()
        .into_iter()
        .map(|g| g.decode().expect("a decodable QR").1)
        .collect()
}
