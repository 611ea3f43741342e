//! The real-path bench's start-up run: a journal holding many finished jobs (written with
//! the journal's own API), then the real daemon started on it, timed to its first `pong`;
//! and the daemon at rest on it, its RSS and its wake-ups. Knows no checkout.

use std::path::Path;
use std::time::{Duration, Instant};

use wxprint::clock;
use wxprint::journal::{JobRecord, Journal};
use wxprint::money::Money;
use wxprint::protocol::{JobState, PrintState};

use crate::daemon::{Daemon, Pos};
use crate::real_path_support::{context_switches, daemon_config, rss_kib, summary};
use crate::wechatpay_sim::Simulator;

/// How many times the daemon is started on the same journal.
const STARTS: usize = 15;

/// How long the daemon is left alone after its `pong` before, and while, its wake-ups are
/// counted.
const SETTLE: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(5);

/// A paid job of yesterday, as a checkout, a placement and a payment left it.
fn paid(i: usize, now_ms: i64) -> JobRecord {
    let created_ms = now_ms - 86_400_000 + i as i64 * 5_000;
    let no = format!("F{i:010}");
    let mut r = JobRecord::new(
        no.clone(),
        format!(
            r#"{{"order":{{"amount":{{"total":3200}},"description":"Latte x2","out_trade_no":"{no}"}},"receipt":{{"lines":[{{"amount":3200,"name":"Latte","quantity":2}}]}}}}"#
        ),
        "Latte x2",
        Money::cny(3200),
        created_ms + 600_000,
        created_ms,
    );
    r.place_body = Some(format!(
        r#"{{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Latte x2","out_trade_no":"{no}","time_expire":"{}","notify_url":"https://merchant.example/wechatpay/notify","amount":{{"total":3200,"currency":"CNY"}}}}"#,
        r.time_expire
    ));
    r.code_url = Some(format!("weixin://wxpay/bizpayurl?pr=F{i:09}"));
    r.placed_ms = Some(created_ms + 200);
    r.print = PrintState::Printed;
    r.print_started_ms = Some(created_ms + 210);
    r.state = JobState::Paid;
    r.transaction_id = Some(format!("42000{i:023}"));
    r.success_time = Some(clock::rfc3339(created_ms + 20_000));
    r.payer_total = Some(3200);
    r.paid_total = Some(3200);
    r.updated_ms = created_ms + 20_000;
    r
}

/// Write `finished` paid jobs into the journal under `state_dir`, and close it as the
/// daemon's shutdown does.
pub fn fill(state_dir: &Path, finished: usize) -> Duration {
    let started = Instant::now();
    let mut journal = Journal::open(state_dir).unwrap();
    let now = clock::now_ms();
    for i in 0..finished {
        journal.insert(&paid(i, now)).unwrap();
    }
    journal.checkpoint().unwrap();
    started.elapsed()
}

/// Start the daemon [`STARTS`] times on a journal of `finished` paid jobs; print start →
/// `pong`, and that a finished job is still read on demand by `status`.
pub fn report(dir: &Path, sim: &Simulator, finished: usize) {
    let printer = format!(
        "transport = \"file\"\ndevice = \"{}\"",
        dir.join("receipts").display()
    );
    let config = daemon_config(dir, sim, &printer);
    let filled = fill(&dir.join("state"), finished);
    let socket = dir.join("wxprint.sock");
    let (mut times, mut rss) = (Vec::new(), 0);
    for _ in 0..STARTS {
        let started = Instant::now();
        let daemon = Daemon::start(&config);
        let mut pos = Pos::connect(&socket);
        pos.ask(r#"{"op":"ping","id":"p"}"#, "pong");
        times.push(started.elapsed());
        rss = rss_kib(daemon.pid());
        pos.ask(
            r#"{"op":"status","id":"s","out_trade_no":"F0000000007"}"#,
            "status",
        );
        drop(daemon);
        let _ = std::fs::remove_file(&socket);
    }
    println!("  start with {finished} finished jobs in the journal (written in {filled:.1?}):");
    println!(
        "    start → pong  {}  ({STARTS} starts; target ≤ 50 ms); RSS {rss} KiB",
        summary(&times)
    );
    let (rss, woke) = idle(&config, &socket);
    println!(
        "    idle (nothing to do, {IDLE:?} after {SETTLE:?}): RSS {rss} KiB, {woke} context \
         switches (target ≤ 10 MB, no wake-ups)"
    );
}

/// The daemon started on the journal, asked once, then left alone: its RSS, and how many
/// times its threads were switched out during [`IDLE`] (0: nothing woke it).
fn idle(config: &Path, socket: &Path) -> (u64, u64) {
    let daemon = Daemon::start(config);
    Pos::connect(socket).ask(r#"{"op":"ping","id":"p"}"#, "pong");
    std::thread::sleep(SETTLE);
    let before = context_switches(daemon.pid());
    std::thread::sleep(IDLE);
    let woke = context_switches(daemon.pid()).saturating_sub(before);
    (rss_kib(daemon.pid()), woke)
}
