//! Proven across `kill -9`: the real `wxprint` binary against the WeChat Pay simulator and a
//! virtual TCP printer, killed with SIGKILL at chosen points of jobs' lives and started
//! again on the same journal. Nothing acknowledged is lost, no order is placed twice, every
//! payment is reported, every unpaid order is closed at WeChat Pay.
//!
//! `cargo test --test crash`. The storm's size: `WXPRINT_CRASH_KILLS` (default 50, four
//! checkouts per kill); its RNG seed: `WXPRINT_CRASH_SEED` (default: random, printed, and
//! named in every failure so the run can be repeated).

#[path = "support/bin.rs"]
mod bin;
#[path = "support/crash_rig.rs"]
mod crash_rig;
#[path = "support/crash_storm.rs"]
mod crash_storm;
#[path = "support/qr.rs"]
mod qr;
#[path = "support/sim_config.rs"]
mod sim_config;
#[allow(
    unused_imports,
    reason = "the virtual printer's API is shared; this binary uses a part"
)]
#[path = "support/virtual_printer/mod.rs"]
mod virtual_printer;
#[path = "support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crash_rig::{Heard, Rig, env_number, follow};
use crash_storm::{Plan, Storm};
use virtual_printer::{Link, VirtualPrinter};
use wechatpay_sim::{Endpoint, SimConfig, Simulator, TradeState, Trust};

/// Kills in the CI-sized run; four checkouts each.
const CI_KILLS: usize = 50;

/// At least 50 kills over 200 checkouts at every phase of a job's life, each followed by a
/// restart: every acknowledged checkout ends (paid or closed) as `status` says; one
/// `out_trade_no` is one order at WeChat Pay (every placement of it byte-identical); every
/// order paid at WeChat Pay is reported paid with its transaction; every unpaid one is
/// closed there; the journal opens after every kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_point_loses_no_order_and_no_payment() {
    let kills = env_number("WXPRINT_CRASH_KILLS").map_or(CI_KILLS, |k| k as usize);
    let seed = env_number("WXPRINT_CRASH_SEED").unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash storm: seed {seed} (WXPRINT_CRASH_SEED={seed} repeats it), {kills} kills");
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let printer = VirtualPrinter::start(Link::Tcp);
    let mut storm = Storm {
        rig: Rig::new(dir.path(), &sim, &printer, "100ms"),
        sim: &sim,
        printer: &printer,
        rng: fastrand::Rng::with_seed(seed),
        seed,
        orders: BTreeMap::new(),
        heard: Heard::default(),
        kills: BTreeMap::new(),
        missed: 0,
    };
    for round in 0..kills {
        storm.round(round, 4).await;
    }
    let finals = storm.settle(Duration::from_secs(60)).await;
    eprintln!(
        "crash storm: seed {seed}: {} checkouts, kills per phase {:?} ({} points not reached), \
         {} starts, {} receipts cut",
        storm.orders.len(),
        storm.kills,
        storm.missed,
        storm.rig.starts(),
        printer.receipts().len()
    );
    let problems = check(&storm, &finals);
    assert!(
        problems.is_empty(),
        "seed {seed} (log {}):\n{}",
        storm.rig.log_path().display(),
        problems.join("\n")
    );
    assert!(storm.kills.values().sum::<usize>() >= kills);
    assert!(storm.orders.len() >= 4 * kills);
    assert!(
        storm.kills.len() == 5 || kills < 5,
        "every phase was hit: {:?}",
        storm.kills
    );
}

/// `*** 重印 REPRINT ***` as an 80 mm (Chinese-mode, GB18030) printer gets it.
const REPRINT_GB18030: &[u8] = b"*** \x1C\x26\xD6\xD8\xD3\xA1\x1C\x2E REPRINT ***\n";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A `kill -9` while the printer is taking the receipt: after the restart the receipt is
/// printed again (the customer needs a payable QR) with the same QR, and this second copy
/// says `重印 REPRINT` under the title; the first copy does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_cut_off_by_kill_9_prints_again_marked_reprint() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let printer = VirtualPrinter::start(Link::Tcp);
    let mut rig = Rig::new(dir.path(), &sim, &printer, "1s");
    rig.start().await;
    // A printer that drains 1 kB a second: the receipt takes seconds to come out.
    printer.set_state(|s| s.slow_reader_bytes_per_sec = Some(1000));
    let heard = Heard::default();
    let no = "CUTOFF0001";
    let request = Storm::checkout(no);
    let first = tokio::spawn(follow(
        rig.socket.clone(),
        no.into(),
        request.clone(),
        heard.clone(),
    ));
    let started = tokio::time::Instant::now();
    while printer.bytes().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "nothing reached the printer"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!heard.has(no, "printed"), "the print was not cut off");
    rig.kill9();
    assert!(first.await.unwrap(), "the checkout was acknowledged");
    printer.set_state(|s| s.slow_reader_bytes_per_sec = None);

    rig.start().await;
    let resumed = tokio::spawn(follow(
        rig.socket.clone(),
        no.into(),
        request,
        heard.clone(),
    ));
    let receipts = printer.wait_receipts(2, Duration::from_secs(10)).await;
    assert_eq!(
        receipts.len(),
        2,
        "one copy cut off by the crash, one after the restart"
    );
    assert!(
        !contains(&receipts[0], REPRINT_GB18030),
        "the first copy is not a reprint"
    );
    assert!(
        contains(&receipts[1], REPRINT_GB18030),
        "the second copy says 重印 REPRINT"
    );
    let code_url = sim.order(no).unwrap().code_url;
    for r in &receipts {
        assert_eq!(
            qr::decode_qr(r, 576),
            vec![code_url.clone()],
            "the same, live QR"
        );
    }
    assert!(sim.pay(no));
    assert!(resumed.await.unwrap());
    assert!(heard.has(no, "paid"));
}

/// An interrupted write: the journal cannot grow (the daemon's file-size limit drops to one
/// byte, as a full disk does; SIGXFSZ ignored, so writes fail with `EFBIG`). A checkout
/// then is refused with `internal`, a message naming the journal, and nothing is placed at
/// WeChat Pay; the daemon still answers. Once the disk has room, the identical checkout
/// is accepted, placed once and printed: no job was lost. (A read-only state directory
/// cannot be shown here: the tests run as root, which writes anyway.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_cannot_be_written_refuses_the_checkout_and_places_nothing() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let printer = VirtualPrinter::start(Link::Tcp);
    let mut rig = Rig::new(dir.path(), &sim, &printer, "1s");
    rig.start_with(|c| {
        // Its log file cannot grow either: no log (a pipe would need a reader).
        c.stderr(std::process::Stdio::null());
        // SAFETY: only async-signal-safe libc calls between fork and exec.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            })
        }
    })
    .await;
    let pid = rig.pid().unwrap().to_string();
    let limit = |fsize: &str| {
        let out = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--fsize={fsize}")])
            .output()
            .expect("run prlimit (util-linux)");
        assert!(out.status.success(), "{out:?}");
    };
    limit("1:unlimited");
    let no = "DISKFULL01";
    let mut pos = rig.connect().await.unwrap();
    let refused = pos.call(Storm::checkout(no)).await.unwrap_or_else(|| {
        panic!(
            "no answer; log: {}",
            std::fs::read_to_string(rig.log_path()).unwrap()
        )
    });
    assert_eq!(refused["event"], "error", "{refused}");
    assert_eq!(refused["error"]["code"], "internal", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    for part in ["journal", "nothing was placed"] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(
        sim.requests_to(Endpoint::Native).is_empty(),
        "placed anyway"
    );
    assert!(pos.call(serde_json::json!({"op": "ping"})).await.is_some());

    limit("unlimited:unlimited");
    let heard = Heard::default();
    let accepted = tokio::spawn(follow(
        rig.socket.clone(),
        no.into(),
        Storm::checkout(no),
        heard.clone(),
    ));
    printer.wait_receipts(1, Duration::from_secs(10)).await;
    assert!(sim.pay(no));
    assert!(accepted.await.unwrap());
    assert!(heard.has(no, "paid"));
    assert_eq!(sim.requests_to(Endpoint::Native).len(), 1, "placed once");
}

/// Every rule of the storm, each broken one as a line naming the order.
fn check(storm: &Storm<'_>, finals: &BTreeMap<String, Value>) -> Vec<String> {
    let places = storm.sim.requests_to(Endpoint::Native);
    let mut problems = Vec::new();
    for (no, order) in &storm.orders {
        let status = &finals[no];
        let state = status["state"].as_str().unwrap_or_default();
        if !storm.heard.has(no, "accepted") {
            problems.push(format!("{no}: never acknowledged"));
        }
        let bodies: Vec<&str> = places
            .iter()
            .filter(|p| p.json()["out_trade_no"] == no.as_str())
            .map(|p| p.body.as_str())
            .collect();
        if bodies.windows(2).any(|w| w[0] != w[1]) {
            problems.push(format!("{no}: placed with different bodies: {bodies:?}"));
        }
        match storm.sim.order(no) {
            Some(o) if o.state == TradeState::Success => {
                let paid = o.payment.unwrap().transaction_id;
                if state != "paid" || status["transaction_id"] != paid.as_str() {
                    problems.push(format!(
                        "{no}: paid at WeChat Pay ({paid}), status {status}"
                    ));
                }
            }
            Some(o) if o.state != TradeState::Closed || state != "closed" => {
                problems.push(format!(
                    "{no}: {:?} at WeChat Pay, status {status}",
                    o.state
                ));
            }
            Some(_) => {}
            None if state == "paid" => {
                problems.push(format!("{no}: no order at WeChat Pay, status {status}"));
            }
            None => {}
        }
        let expected = match order.plan {
            Plan::Pay => "paid",
            Plan::Cancel => "closed",
        };
        if state != expected {
            problems.push(format!("{no}: planned {:?}, status {status}", order.plan));
        }
    }
    problems
}
