//! The crash tests' rig: the real `wxprint` binary as a child process, run against the
//! WeChat Pay simulator and a TCP virtual printer, killed with SIGKILL and started again on
//! the same state directory. It also gives a POS connection that tolerates the daemon dying
//! under it ([`Pos`]), and a shared log of the events POS connections heard ([`Heard`]).
//!
//! It knows the config file and the socket protocol, never wxprint's insides; it makes no
//! assertion about jobs (the tests do). Declare it next to `bin`, `wechatpay_sim`, `sim_config`
//! and `virtual_printer` at the crate root, as `tests/crash.rs` does.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use crate::bin::WXPRINT;
use crate::sim_config;
use crate::virtual_printer::VirtualPrinter;
use crate::wechatpay_sim::Simulator;

/// How long the rig waits for the daemon to answer `ping` after a start.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The daemon under test as a child process, its config, and what it talks to.
pub struct Rig {
    pub dir: PathBuf,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub state: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.kill9();
    }
}

impl Rig {
    /// A rig in `dir` whose daemon uses `sim` (public-key mode) and the TCP `printer`, with
    /// timings short enough for tests: orders may be closed at once (`close_min_age` 0 s),
    /// refunds of one order asked for 300 ms apart, polling every `poll` (the simulator's
    /// mainland merchant has no close minimum and no refund spacing).
    pub fn new(dir: &Path, sim: &Simulator, printer: &VirtualPrinter, poll: &str) -> Rig {
        let config = sim_config::write(
            dir,
            sim,
            &format!(
                "order_ttl = \"30m\"\nclose_min_age = \"0s\"\nrefund_spacing = \"300ms\"\n\
                 request_timeout = \"2s\"\n\
                 poll_interval = \"{poll}\"\npoll_interval_paying = \"{poll}\"\n\
                 poll_interval_slow = \"{poll}\"\n"
            ),
            &format!(
                "[printer]\ntransport = \"tcp\"\naddress = \"{}\"\n",
                printer.address()
            ),
        );
        Rig {
            dir: dir.to_owned(),
            config,
            socket: dir.join("wxprint.sock"),
            state: dir.join("state"),
            child: None,
            starts: 0,
        }
    }

    /// `wxprint serve`, its log appended to `daemon.log`; returns once it answers `ping`.
    pub async fn start(&mut self) {
        self.start_with(|c| c).await;
    }

    /// Like [`Rig::start`], with the command adjusted by `adjust` first.
    pub async fn start_with(&mut self, adjust: impl FnOnce(&mut Command) -> &mut Command) {
        assert!(self.child.is_none(), "the daemon is already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut command = Command::new(WXPRINT);
        command
            .args(["serve", "--config", self.config.to_str().unwrap()])
            .current_dir(&self.dir)
            .env_remove("WXPRINT_CONFIG")
            .env("RUST_LOG", "wxprint=debug")
            .stdout(Stdio::null())
            .stderr(log);
        adjust(&mut command);
        self.child = Some(command.spawn().expect("start wxprint serve"));
        self.starts += 1;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Some(mut pos) = Pos::connect(&self.socket).await
                && pos.call(json!({"op": "ping"})).await.is_some()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the daemon exited with {status}; see {}",
                    self.log_path().display()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the daemon did not answer ping; see {}",
                self.log_path().display()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL the daemon (no shutdown of any kind) and reap it. No-op when not running.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// How many times the daemon was started.
    pub fn starts(&self) -> usize {
        self.starts
    }

    /// Where the daemon's log goes (all starts, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("daemon.log")
    }

    /// A new POS connection (`None` while the daemon is down).
    pub async fn connect(&self) -> Option<Pos> {
        Pos::connect(&self.socket).await
    }

    /// `status` of one order, `None` if the daemon could not answer.
    pub async fn status(&self, no: &str) -> Option<Value> {
        let mut pos = self.connect().await?;
        pos.call(json!({"op": "status", "out_trade_no": no})).await
    }
}

/// The whole number in the environment variable `name` (a storm's size or seed), if set;
/// anything else there is a mistake worth stopping for.
pub fn env_number(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a whole number")),
    )
}

/// A POS connection that reports the daemon going away as `None` instead of panicking.
pub struct Pos {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Pos {
    pub async fn connect(socket: &Path) -> Option<Pos> {
        let stream = UnixStream::connect(socket).await.ok()?;
        let (read, write) = stream.into_split();
        Some(Pos {
            lines: BufReader::new(read).lines(),
            write,
        })
    }

    /// Send one request line; false if the daemon is gone.
    pub async fn send(&mut self, request: &Value) -> bool {
        let mut line = request.to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await.is_ok()
    }

    /// The next message; `None` at end of stream, on an error, or after 10 s of silence.
    pub async fn recv(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
            .await
            .ok()?
            .ok()??;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
    }

    /// Send a request and return the first reply.
    pub async fn call(&mut self, request: Value) -> Option<Value> {
        if !self.send(&request).await {
            return None;
        }
        self.recv().await
    }
}

/// Every event the POS connections heard, in arrival order: `(out_trade_no, event)`.
#[derive(Clone, Default)]
pub struct Heard(Arc<Mutex<Vec<(String, Value)>>>);

impl Heard {
    pub fn push(&self, no: &str, event: Value) {
        self.0.lock().unwrap().push((no.to_owned(), event));
    }

    /// Whether `no` was heard with event `name`.
    pub fn has(&self, no: &str, name: &str) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|(n, e)| n == no && e["event"] == name)
    }
}

/// Follow a checkout: send `request` on a new connection and record every event heard
/// until the daemon closes the stream or dies. Returns whether `accepted` was heard.
pub async fn follow(socket: PathBuf, no: String, request: Value, heard: Heard) -> bool {
    let Some(mut pos) = Pos::connect(&socket).await else {
        return false;
    };
    if !pos.send(&request).await {
        return false;
    }
    let mut accepted = false;
    while let Some(event) = pos.recv().await {
        accepted |= event["event"] == "accepted";
        let last = matches!(event["event"].as_str(), Some("paid" | "closed" | "failed"))
            || (event["event"] == "error" && event.get("state").is_none());
        heard.push(&no, event);
        if last {
            break;
        }
    }
    accepted
}
