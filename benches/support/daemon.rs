//! The benches' daemon as a POS sees it (`real_path`, `notify`): the `wxprint serve`
//! child process and a POS connection on its socket that writes a request and reads until
//! an event. Knows no figures.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The real binary: cargo's build of this tree, or `WXPRINT_BENCH_BINARY` — another build
/// of wxprint, to compare two versions back to back on the same machine (figures from
/// different runs of a shared machine differ more than most changes do).
fn wxprint() -> String {
    std::env::var("WXPRINT_BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_wxprint").into())
}

/// A running daemon, killed when dropped.
pub struct Daemon(Child);

impl Daemon {
    /// `wxprint serve --config config` (its log to /dev/null).
    pub fn start(config: &Path) -> Daemon {
        Daemon(
            Command::new(wxprint())
                .args(["serve", "--config", config.to_str().unwrap()])
                .env_remove("WXPRINT_CONFIG")
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A POS connection on the daemon's socket.
pub struct Pos {
    write: UnixStream,
    read: BufReader<UnixStream>,
}

impl Pos {
    /// Connect to the daemon's socket as soon as it is there (at most 20 s).
    pub fn connect(socket: &Path) -> Pos {
        let start = Instant::now();
        loop {
            if let Ok(stream) = UnixStream::connect(socket) {
                let read = BufReader::new(stream.try_clone().unwrap());
                return Pos {
                    write: stream,
                    read,
                };
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no daemon socket"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Write `line`, then [`Pos::wait_for`] `event`.
    pub fn ask(&mut self, line: &str, event: &str) {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        self.wait_for(event);
    }

    /// Read until an event named `event` (fails on `failed` or `error`).
    pub fn wait_for(&mut self, event: &str) {
        let want = format!("\"event\":\"{event}\"");
        let mut answer = String::new();
        loop {
            answer.clear();
            assert!(
                self.read.read_line(&mut answer).unwrap() > 0,
                "daemon hung up"
            );
            assert!(
                !answer.contains("\"event\":\"failed\"") && !answer.contains("\"event\":\"error\""),
                "{answer}"
            );
            if answer.contains(&want) {
                return;
            }
        }
    }
}

/// A checkout request for order `no` (￥32.00, one item line) whose events end at
/// `printed`, as `wxprint checkout --no-follow` asks: the connection then closes.
pub fn checkout_line(id: &str, no: &str) -> String {
    format!(
        r#"{{"op":"checkout","id":"{id}","follow":false,"order":{{"out_trade_no":"{no}","description":"Latte x2","amount":{{"total":3200}}}},"receipt":{{"lines":[{{"name":"Latte","quantity":2,"amount":3200}}]}}}}"#
    )
}
