//! `cargo bench --bench real_path`: the checkout as a shop feels it, on the real path
//! (issue 12 §1). Measured, not asserted: read the numbers.
//!
//! The real `wxprint serve` binary, configured with the real WeChat Pay backend against
//! the in-repo simulator on loopback TCP (through a timing proxy), prints to the virtual
//! printer on a TCP 9100 port and on a pty (serial, RTS/CTS). A POS client writes each
//! checkout on the real Unix socket; the time is from that write to the arrival of the
//! last byte of the receipt's cut at the printer. The simulator's own time (from the last
//! byte of a request reaching it to the first byte of its answer) is measured by the proxy
//! and subtracted: what is left is the daemon's own time (target p50 ≤ 1 ms, p99 ≤ 3 ms).
//! Also: start → first `pong`, idle RSS, bytes of the QR and of the receipt on the wire.
//!
//! `WXPRINT_BENCH_CHECKOUTS` sets how many checkouts per path are measured (default 300).

#[allow(unused_imports, reason = "a whole test double; the bench uses a part")]
#[path = "../tests/support/virtual_printer/mod.rs"]
mod virtual_printer;
#[path = "../tests/support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

#[path = "support/real_path.rs"]
mod real_path_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use real_path_support::{Proxy, daemon_config, qr_bytes, rss_kib, summary};
use virtual_printer::{Link, VirtualPrinter};
use wechatpay_sim::{SimConfig, Simulator, Trust};

/// The real binary, built by cargo for this bench.
const WXPRINT: &str = env!("CARGO_BIN_EXE_wxprint");

/// A running daemon, killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one path's run measured.
struct Run {
    total: Vec<Duration>,
    own: Vec<Duration>,
    sim: Vec<Duration>,
    start_to_pong: Duration,
    rss_ready_kib: u64,
    rss_idle_kib: u64,
    qr_bytes: usize,
    receipt_bytes: usize,
}

fn main() {
    let checkouts: usize = std::env::var("WXPRINT_BENCH_CHECKOUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime.block_on(Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)));
    let proxy = Proxy::start(sim.addr);
    println!("real path: wxprint serve ↔ simulator (loopback HTTP, timing proxy) → printer");
    for (link, name) in [(Link::Tcp, "tcp 9100"), (Link::Pty, "pty serial")] {
        let dir = tempfile::tempdir().unwrap();
        let run = run_path(dir.path(), &sim, &proxy, link, checkouts);
        report(name, &run);
    }
}

/// Start a daemon printing on `link`, time `n` checkouts (after 20 to warm up).
fn run_path(dir: &Path, sim: &Simulator, proxy: &Proxy, link: Link, n: usize) -> Run {
    let vp = VirtualPrinter::start(link);
    let printer = match link {
        Link::Tcp => format!("transport = \"tcp\"\naddress = \"{}\"", vp.address()),
        Link::Pty => format!(
            "transport = \"serial\"\ndevice = \"{}\"\nbaud_rate = 115200\nflow_control = \"hardware\"",
            vp.device_path().display()
        ),
    };
    let config = daemon_config(dir, sim, proxy.port(), &printer);
    let started = Instant::now();
    let daemon = Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--config", config.to_str().unwrap()])
            .env_remove("WXPRINT_CONFIG")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut pos = connect(&dir.join("wxprint.sock"));
    pos.ask(r#"{"op":"ping","id":"p"}"#, "pong");
    let start_to_pong = started.elapsed();
    let rss_ready_kib = rss_kib(daemon.0.id());
    let tag = if link == Link::Tcp { "T" } else { "S" };
    let (mut total, mut own, mut sim_time) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n + 20 {
        let no = format!("B{tag}{i:08}");
        let line = format!(
            r#"{{"op":"checkout","id":"c{i}","order":{{"out_trade_no":"{no}","description":"Latte x2","amount":{{"total":3200}}}},"receipt":{{"lines":[{{"name":"Latte","quantity":2,"amount":3200}}]}}}}"#
        );
        let t0 = Instant::now();
        pos.ask(&line, "printed");
        let cut = vp.cut_arrivals()[i];
        let waited = proxy.simulator_time(t0, cut);
        if i >= 20 {
            total.push(cut - t0);
            sim_time.push(waited);
            own.push((cut - t0).saturating_sub(waited));
        }
    }
    // Idle: nothing to poll for an hour (the poll intervals of the config).
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle_kib = rss_kib(daemon.0.id());
    let receipt = vp.receipts().pop().unwrap_or_default();
    drop(daemon);
    Run {
        total,
        own,
        sim: sim_time,
        start_to_pong,
        rss_ready_kib,
        rss_idle_kib,
        qr_bytes: qr_bytes(&receipt),
        receipt_bytes: receipt.len(),
    }
}

fn report(name: &str, run: &Run) {
    println!("  {name}: {} checkouts", run.total.len());
    println!("    socket → last cut byte  {}", summary(&run.total));
    println!("    simulator's own time    {}", summary(&run.sim));
    println!(
        "    daemon's own time       {}  (target p50 ≤ 1 ms, p99 ≤ 3 ms)",
        summary(&run.own)
    );
    println!(
        "    start → pong {:.1?}; RSS {} KiB ready, {} KiB idle after the run",
        run.start_to_pong, run.rss_ready_kib, run.rss_idle_kib
    );
    println!(
        "    QR on the wire {} B; whole receipt {} B",
        run.qr_bytes, run.receipt_bytes
    );
}

/// A POS connection on the daemon's socket.
struct Pos {
    write: UnixStream,
    read: BufReader<UnixStream>,
}

/// Connect to the daemon's socket as soon as it is there (at most 20 s).
fn connect(socket: &Path) -> Pos {
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

impl Pos {
    /// Write `line`, read until an event named `event` (fails on `failed` or `error`).
    fn ask(&mut self, line: &str, event: &str) {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
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
