//! Refunds proven across `kill -9`: the real `wxprint` binary against the WeChat Pay
//! simulator, killed with SIGKILL at random moments while refunds are asked for, applied
//! (some of WeChat Pay's answers lost on the way: the refund made, the answer never heard),
//! processing and queried, and started again on the same journal. The POS retries each
//! refund until it hears `refund_accepted`, as a real one would. In the end every refund
//! asked for is refunded once: in `status` as at WeChat Pay, never twice, never lost.
//!
//! `cargo test --test refund_storm`. Its size: `WXPRINT_REFUND_KILLS` (default 12, two
//! or three refunds asked for per kill); its RNG seed: `WXPRINT_REFUND_SEED` (default:
//! random, printed, and named in every failure so the run can be repeated).

#[path = "support/bin.rs"]
mod bin;
#[allow(dead_code, reason = "the checkouts' storm uses the rest of the rig")]
#[path = "support/crash_rig.rs"]
mod crash_rig;
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

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crash_rig::{Pos, Rig, env_number};
use virtual_printer::{Link, VirtualPrinter};
use wechatpay_sim::{Endpoint, Fault, RefundStatus, SimConfig, Simulator, Trust};

/// What each paid order to refund costs, and so what its refunds add up to at most.
const TOTAL: i64 = 3200;

/// One refund the POS means to make: named by the POS or left for the daemon to name
/// (then told apart by its reason, which no other refund of the order shares).
struct Intent {
    out_trade_no: String,
    out_refund_no: Option<String>,
    amount: i64,
    reason: String,
}

impl Intent {
    fn request(&self) -> Value {
        let mut refund = json!({"amount": self.amount, "reason": self.reason});
        if let Some(no) = &self.out_refund_no {
            refund["out_refund_no"] = json!(no);
        }
        json!({"op": "refund", "out_trade_no": self.out_trade_no, "refund": refund})
    }
}

/// Kills at random moments of refunds' lives, each followed by a restart: every refund the
/// POS asked for ends `refunded` in `status`, and WeChat Pay holds exactly those refunds,
/// each once, each with its amount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_refunds_never_doubles_or_loses_one() {
    let kills = env_number("WXPRINT_REFUND_KILLS").unwrap_or(12);
    let seed = env_number("WXPRINT_REFUND_SEED").unwrap_or_else(|| fastrand::u64(..));
    eprintln!("refund storm: seed {seed} (WXPRINT_REFUND_SEED={seed} repeats it), {kills} kills");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig {
        refund_delay: Duration::from_millis(300),
        ..SimConfig::from_fixtures(Trust::PublicKey)
    })
    .await;
    let printer = VirtualPrinter::start(Link::Tcp);
    let mut rig = Rig::new(dir.path(), &sim, &printer, "100ms");
    rig.start().await;
    // Enough paid orders for the refunds asked for (about 2.5 a kill, 350 fen each).
    let orders = paid_orders(&rig, &sim, seed, (kills as usize / 3).max(6)).await;

    let mut intents = Vec::new();
    let mut asking: Vec<JoinHandle<Vec<Value>>> = Vec::new();
    let mut refunded = vec![0; orders.len()];
    for round in 0..kills as usize {
        let new = new_intents(&mut rng, &orders, &mut refunded, round);
        // Each asked twice at once, as a POS that times out and retries would: the second
        // request is the first again, never a second refund.
        let mut first = Vec::new();
        for intent in &new {
            if let Some(mut pos) = rig.connect().await
                && pos.send(&intent.request()).await
            {
                first.push(pos);
            }
            let (socket, request) = (rig.socket.clone(), intent.request());
            asking.push(tokio::spawn(ask_until_accepted(socket, request)));
        }
        intents.extend(new);
        inject_a_fault(&sim, &mut rng);
        // Half the kills come while the new refunds are being taken (journaled, answered),
        // the others later: applied, processing, queried.
        if rng.bool() {
            std::thread::sleep(Duration::from_micros(rng.u64(0..2000)));
        } else {
            tokio::time::sleep(Duration::from_millis(rng.u64(0..700))).await;
        }
        rig.kill9();
        drop(first);
        tokio::time::sleep(Duration::from_millis(rng.u64(0..100))).await;
        rig.start().await;
    }
    let mut problems = Vec::new();
    for ask in asking {
        problems.extend(
            ask.await
                .unwrap()
                .into_iter()
                .map(|e| format!("refused: {e}")),
        );
    }
    sim.clear_faults();
    let statuses = settle(&rig, &orders, &intents).await;
    problems.extend(check(&sim, &orders, &intents, &statuses));
    eprintln!(
        "refund storm: seed {seed}: {} refunds asked for over {} starts",
        intents.len(),
        rig.starts()
    );
    assert!(
        problems.is_empty(),
        "seed {seed} (log {}):\n{}",
        rig.log_path().display(),
        problems.join("\n")
    );
}

/// Two or three new refunds of random paid orders, of 1 to 6 yuan each, within what is left
/// of each order; half of them named by the POS.
fn new_intents(
    rng: &mut fastrand::Rng,
    orders: &[String],
    refunded: &mut [i64],
    round: usize,
) -> Vec<Intent> {
    let mut new = Vec::new();
    for k in 0..rng.usize(2..=3) {
        let which = rng.usize(..orders.len());
        let amount = rng.i64(100..=600);
        if refunded[which] + amount > TOTAL {
            continue;
        }
        refunded[which] += amount;
        new.push(Intent {
            out_trade_no: orders[which].clone(),
            out_refund_no: rng
                .bool()
                .then(|| format!("{}-S{round}K{k}", orders[which])),
            amount,
            reason: format!("storm round {round} refund {k}"),
        });
    }
    new
}

/// WeChat Pay's side of the way, now and then: a refund made whose answer is lost, a 500, a
/// slow answer, a query that does not come back.
fn inject_a_fault(sim: &Simulator, rng: &mut fastrand::Rng) {
    let delay = Fault::Delay(Duration::from_millis(200));
    match rng.usize(..5) {
        0 => sim.inject(Endpoint::Refund, Fault::LoseAnswer, 1),
        1 => sim.inject(Endpoint::Refund, Fault::Status500, 1),
        2 => sim.inject(Endpoint::Refund, delay, 1),
        3 => sim.inject(Endpoint::RefundQuery, Fault::Reset, 1),
        _ => {}
    }
}

/// `count` orders checked out, printed and paid at the simulator, each reported `paid`.
async fn paid_orders(rig: &Rig, sim: &Simulator, seed: u64, count: usize) -> Vec<String> {
    let mut orders = Vec::new();
    for i in 0..count {
        let no = format!("RS{:06}{i:03}", seed % 1_000_000);
        let checkout = json!({"op": "checkout", "follow": false, "order": {"out_trade_no": no,
            "description": "Latte x2", "amount": {"total": TOTAL}}});
        let mut pos = rig.connect().await.expect("the daemon is up");
        assert!(pos.send(&checkout).await);
        while let Some(event) = pos.recv().await {
            if event["event"] == "printed" {
                break;
            }
        }
        assert!(sim.pay(&no), "{no} placed at the simulator");
        orders.push(no);
    }
    for no in &orders {
        wait_for(rig, no, Duration::from_secs(20), |s| s["state"] == "paid").await;
    }
    orders
}

/// Ask for one refund until `refund_accepted` is heard: across the daemon's deaths, the
/// identical request again (the daemon resumes it, or takes it anew if it never had it).
/// Returns the errors heard (none expected).
async fn ask_until_accepted(socket: PathBuf, request: Value) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut errors = Vec::new();
    while Instant::now() < deadline {
        if let Some(mut pos) = Pos::connect(&socket).await
            && pos.send(&request).await
        {
            while let Some(event) = pos.recv().await {
                match event["event"].as_str() {
                    Some("refund_accepted") => return errors,
                    Some("error") => errors.push(event),
                    _ => {}
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    errors.push(json!({"never accepted": request}));
    errors
}

/// `status` of `no` once `done` holds for it (panics after `limit`).
async fn wait_for(rig: &Rig, no: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    let mut last = None;
    loop {
        if let Some(status) = rig.status(no).await {
            if done(&status) {
                return status;
            }
            last = Some(status);
        }
        assert!(
            Instant::now() < deadline,
            "{no} not settled in {limit:?} (log {}): {last:?}",
            rig.log_path().display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every order's `status` once each refund asked for of it is over (not `processing`).
async fn settle(rig: &Rig, orders: &[String], intents: &[Intent]) -> Vec<Value> {
    let mut statuses = Vec::new();
    for no in orders {
        let asked = intents.iter().filter(|i| &i.out_trade_no == no).count();
        let over = |s: &Value| {
            let refunds = s["refunds"].as_array().map_or(&[][..], Vec::as_slice);
            refunds.len() >= asked && refunds.iter().all(|r| r["state"] != "processing")
        };
        statuses.push(wait_for(rig, no, Duration::from_secs(60), over).await);
    }
    statuses
}

/// What is wrong with the refunds, in words: each asked for once and refunded, in the
/// daemon's `status` and at the simulator; nothing else refunded there.
fn check(
    sim: &Simulator,
    orders: &[String],
    intents: &[Intent],
    statuses: &[Value],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (no, status) in orders.iter().zip(statuses) {
        let ours: Vec<&Intent> = intents.iter().filter(|i| &i.out_trade_no == no).collect();
        let listed = status["refunds"].as_array().cloned().unwrap_or_default();
        let at_wechat = sim.refunds_of(no);
        if listed.len() != ours.len() || at_wechat.len() != ours.len() {
            problems.push(format!(
                "{no}: {} refunds asked for, {} in status, {} at WeChat Pay: {listed:?}",
                ours.len(),
                listed.len(),
                at_wechat.len()
            ));
        }
        for intent in ours {
            let mine: Vec<&Value> = listed
                .iter()
                .filter(|r| r["reason"] == intent.reason)
                .collect();
            let [refund] = mine[..] else {
                problems.push(format!(
                    "{no}: {:?} is {} refunds",
                    intent.reason,
                    mine.len()
                ));
                continue;
            };
            let number = refund["out_refund_no"].as_str().unwrap_or_default();
            if refund["state"] != "refunded" || refund["amount"] != intent.amount {
                problems.push(format!("{no}: {refund}"));
            }
            if intent.out_refund_no.as_deref().is_some_and(|n| n != number) {
                problems.push(format!(
                    "{no}: named {:?}, made {number}",
                    intent.out_refund_no
                ));
            }
            let made: Vec<_> = at_wechat
                .iter()
                .filter(|r| r.out_refund_no == number)
                .collect();
            if made.len() != 1
                || made[0].refund != intent.amount
                || made[0].status != RefundStatus::Success
            {
                problems.push(format!("{no}: {number} at WeChat Pay: {made:?}"));
            }
        }
    }
    problems
}
