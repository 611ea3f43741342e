//! `cargo bench --bench real_path`: the checkout as a shop feels it, on the real path
//! (issue 12 §1 and §3 "Scale"). Measured, not asserted: read the numbers.
//!
//! The real `wxprint serve` binary, configured with the real WeChat Pay backend against
//! the in-repo simulator on loopback TCP, prints to the virtual
//! printer on a TCP 9100 port and on a pty (serial, RTS/CTS). A POS client writes each
//! checkout on the real Unix socket (one connection per checkout, as `wxprint checkout`
//! does); the time is from that write to the arrival of the last byte of the receipt's cut
//! at the printer (on TCP the kernel's receive time at the printer's socket, as for the
//! simulator below — the printer's wake-up is the printer's; a pty has no such time: there
//! it is when the printer read it). The simulator's own time for the placement — from the
//! kernel's receive time of the request's first bytes in its socket to its answer
//! written — is timed by the simulator itself and subtracted: what is left is the daemon's
//! own time (target p50 ≤ 1 ms, p99 ≤ 3 ms), the loopback's transit and the daemon's
//! wake-ups included. (Until December 2026 a timing proxy between the two measured it: a
//! hop the real path does not have, whose threads and extra writes on the two cores were
//! charged to the daemon.)
//!
//! Scale: before the measured checkouts, `pending` orders are placed and printed and never
//! paid, so the daemon polls them all (default schedule and `query_rate`, the simulator
//! answering at once) while the new checkouts are measured (target p99 ≤ 5 ms and RSS ≤
//! 15 MB at 1,000 pending). Also: start → first `pong` (a journal in service, and with 10,000
//! finished jobs in it: target ≤ 50 ms), RSS, open descriptors, bytes of the QR and of
//! the receipt on the wire.
//!
//! `WXPRINT_BENCH_CHECKOUTS` sets how many checkouts per run are measured (default 300),
//! `WXPRINT_BENCH_PENDING` the pending levels (default `0,10,100,1000`),
//! `WXPRINT_BENCH_FINISHED` the finished jobs of the start-up run (default 10000);
//! `WXPRINT_BENCH_PAUSE_MS` a pause before each checkout (default 0: back to back; a shop's
//! checkouts come seconds apart, each finding the machine idle: its cores asleep, its
//! caches cold — on a VM that costs each wake-up far more);
//! `WXPRINT_BENCH_SMAPS=1` also prints the daemon's largest mappings after each run (where
//! its memory is: the binary's code, the heap, large allocations);
//! `WXPRINT_BENCH_BINARY=path` runs another build of `wxprint` instead of this tree's (an
//! A/B comparison: run both, alternating, on the same machine).

#[path = "../tests/support/sim_config.rs"]
mod sim_config;
#[allow(unused_imports, reason = "a whole test double; the bench uses a part")]
#[path = "../tests/support/virtual_printer/mod.rs"]
mod virtual_printer;
#[path = "../tests/support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/real_path.rs"]
mod real_path_support;
#[path = "support/startup.rs"]
mod startup;

use std::path::Path;
use std::time::{Duration, Instant};

use daemon::{Daemon, Pos, checkout_line};
use real_path_support::{
    cpu_time, daemon_config, open_fds, print_mappings, qr_bytes, rss_kib, rss_kib_of, summary,
};
use virtual_printer::{Link, VirtualPrinter};
use wechatpay_sim::{SimConfig, Simulator, Trust};

/// What one run (one path, one number of pending orders) measured.
struct Run {
    total: Vec<Duration>,
    own: Vec<Duration>,
    sim: Vec<Duration>,
    start_to_pong: Duration,
    rss_ready_kib: u64,
    rss_pending_kib: u64,
    rss_end_kib: u64,
    rss_anon_kib: u64,
    /// The daemon's CPU time (all threads) over the measured checkouts, while the pending
    /// orders are polled.
    cpu: Duration,
    max_fds: usize,
    qr_bytes: usize,
    receipt_bytes: usize,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let checkouts: usize = env_or("WXPRINT_BENCH_CHECKOUTS", 300);
    let finished: usize = env_or("WXPRINT_BENCH_FINISHED", 10_000);
    let levels: Vec<usize> = std::env::var("WXPRINT_BENCH_PENDING")
        .unwrap_or_else(|_| "0,10,100,1000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sim = runtime.block_on(Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)));
    println!("real path: wxprint serve ↔ simulator (loopback HTTP, timing itself) → printer");
    for (link, name) in [(Link::Tcp, "tcp 9100"), (Link::Pty, "pty serial")] {
        for &pending in &levels {
            let dir = tempfile::tempdir().unwrap();
            let run = run_path(dir.path(), &sim, (link, pending), checkouts);
            report(name, pending, &run);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    startup::report(dir.path(), &sim, finished);
}

/// The `[printer]` section for the virtual printer `vp` on `link`.
fn printer_section(vp: &VirtualPrinter, link: Link) -> String {
    match link {
        Link::Tcp => format!("transport = \"tcp\"\naddress = \"{}\"", vp.address()),
        Link::Pty => format!(
            "transport = \"serial\"\ndevice = \"{}\"\nbaud_rate = 115200\nflow_control = \"hardware\"",
            vp.device_path().display()
        ),
    }
}

/// The finished jobs in the journal a measured daemon starts on: a register's journal in
/// service, not a new install's. Enough writes that the journal's WAL has grown to its
/// working size and been started over (`journal/wal.rs`): in service, commits write over
/// it; in a new journal the first thousand pages (about a hundred checkouts) append, and
/// their `fdatasync`s cost up to 0.1 ms more on the bench's VM.
const IN_SERVICE: usize = 400;

/// Start a daemon printing on `link` on a journal in service ([`IN_SERVICE`]), place
/// `pending` orders that stay unpaid, then time `n` checkouts (after 20 to warm up), each
/// on its own connection.
fn run_path(dir: &Path, sim: &Simulator, (link, pending): (Link, usize), n: usize) -> Run {
    let vp = VirtualPrinter::start(link);
    let config = daemon_config(dir, sim, &printer_section(&vp, link));
    startup::fill(&dir.join("state"), IN_SERVICE);
    let started = Instant::now();
    let daemon = Daemon::start(&config);
    let socket = dir.join("wxprint.sock");
    Pos::connect(&socket).ask(r#"{"op":"ping","id":"p"}"#, "pong");
    let start_to_pong = started.elapsed();
    let rss_ready_kib = rss_kib(daemon.pid());
    let tag = if link == Link::Tcp { "T" } else { "S" };
    for i in 0..pending {
        let no = format!("P{tag}{pending}X{i:08}");
        Pos::connect(&socket).ask(&checkout_line(&format!("p{i}"), &no), "printed");
    }
    let rss_pending_kib = rss_kib(daemon.pid());
    let mut max_fds = open_fds(daemon.pid());
    let (mut total, mut own, mut sim_time) = (Vec::new(), Vec::new(), Vec::new());
    // Read when the warm-up is over.
    let mut cpu_from = Duration::ZERO;
    // Back to back by default; `WXPRINT_BENCH_PAUSE_MS` spaces them as a shop would.
    let pause = Duration::from_millis(env_or("WXPRINT_BENCH_PAUSE_MS", 0));
    for i in 0..n + 20 {
        std::thread::sleep(pause);
        let no = format!("B{tag}{pending}X{i:08}");
        let line = checkout_line(&format!("c{i}"), &no);
        let mut pos = Pos::connect(&socket);
        let t0 = Instant::now();
        pos.ask(&line, "printed");
        let cut = vp.cut_arrivals()[pending + i];
        let waited = sim.placement_time(t0, cut);
        max_fds = max_fds.max(open_fds(daemon.pid()));
        if i + 1 == 20 {
            cpu_from = cpu_time(daemon.pid());
        }
        if i >= 20 {
            total.push(cut - t0);
            sim_time.push(waited);
            own.push((cut - t0).saturating_sub(waited));
        }
    }
    let cpu = cpu_time(daemon.pid()).saturating_sub(cpu_from);
    let rss_end_kib = rss_kib(daemon.pid());
    let rss_anon_kib = rss_kib_of(daemon.pid(), "RssAnon:");
    if std::env::var_os("WXPRINT_BENCH_SMAPS").is_some() {
        print_mappings(daemon.pid());
    }
    let receipt = vp.receipts().pop().unwrap_or_default();
    drop(daemon);
    Run {
        total,
        own,
        sim: sim_time,
        start_to_pong,
        rss_ready_kib,
        rss_pending_kib,
        rss_end_kib,
        rss_anon_kib,
        cpu,
        max_fds,
        qr_bytes: qr_bytes(&receipt),
        receipt_bytes: receipt.len(),
    }
}

fn report(name: &str, pending: usize, run: &Run) {
    println!(
        "  {name}, {pending} orders pending: {} checkouts",
        run.total.len()
    );
    println!("    socket → last cut byte  {}", summary(&run.total));
    println!("    simulator's own time    {}", summary(&run.sim));
    println!(
        "    daemon's own time       {}  (target p50 ≤ 1 ms, p99 ≤ 3 ms; p99 ≤ 5 ms at 1,000 pending)",
        summary(&run.own)
    );
    println!(
        "    daemon's CPU time       {} µs a checkout (all threads, the pending orders' polling included)",
        run.cpu.as_micros() / run.total.len().max(1) as u128
    );
    println!(
        "    RSS {} KiB ready, {} KiB with the pending orders, {} KiB after the run (target ≤ 15 MB; {} KiB of it anonymous); open fds at most {}",
        run.rss_ready_kib, run.rss_pending_kib, run.rss_end_kib, run.rss_anon_kib, run.max_fds
    );
    println!(
        "    start → pong {:.1?} (journal in service); QR on the wire {} B; whole receipt {} B",
        run.start_to_pong, run.qr_bytes, run.receipt_bytes
    );
}
