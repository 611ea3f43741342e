//! Scale (issue 12 §3): many unpaid orders share one query budget — at most
//! `query_rate` queries a second, old orders in turn — and a new checkout goes first. The
//! real WeChat Pay backend against the simulator, whose request log gives the order in
//! which queries arrived.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use wxprint::jobs::JobsConfig;
use wxprint::wechatpay::WechatPay;

use crate::merchant;
use crate::support::{Daemon, Options, checkout, fast_config};
use crate::wechatpay_sim::{Endpoint, Fault, RequestLog, SimConfig, Simulator, Trust};

/// The budget of these tests: queries a second over all orders.
const RATE: u32 = 10;

/// An order's fast window (its queries go first): long enough for a new checkout's first
/// query to fall in it on a loaded machine, where placing and printing may take a while.
const FAST_WINDOW: Duration = Duration::from_secs(1);

/// A daemon on the real backend for `sim` that would query every order every 10 ms, were it
/// not for the budget of [`RATE`] a second; an order's fast window is [`FAST_WINDOW`].
async fn start(dir: &Path, sim: &Simulator) -> Daemon {
    let s = merchant::settings(dir, sim, Trust::PublicKey);
    let backend = Arc::new(WechatPay::from_settings(&s.wechatpay).unwrap());
    let mut config = JobsConfig {
        query_rate: RATE,
        ..fast_config()
    };
    config.poll.fast = Duration::from_millis(10);
    config.poll.slow = Duration::from_millis(10);
    config.poll.fast_window = FAST_WINDOW;
    let options = Options {
        config,
        backend: Some(backend),
        printer: None,
    };
    Daemon::start_with(dir, options).await
}

/// The order a query asked about.
fn queried(r: &RequestLog) -> String {
    r.path_only().rsplit('/').next().unwrap().to_owned()
}

/// Wait (polling the simulator's log) until `done(queries)` holds.
async fn until(sim: &Simulator, done: impl Fn(&[RequestLog]) -> bool) -> Vec<RequestLog> {
    for _ in 0..1000 {
        let queries = sim.requests_to(Endpoint::Query);
        if done(&queries) {
            return queries;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the daemon did not get there in 10 s");
}

#[tokio::test]
async fn old_orders_share_the_query_budget_in_turn_and_a_new_checkout_goes_first() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let daemon = start(dir.path(), &sim).await;
    let mut pos = daemon.connect().await;
    let old = 10;
    for i in 0..old {
        pos.checkout_printed(checkout(&format!("OLD{i:04}"), 100))
            .await;
    }
    // Later than the daemon's placement of every old order (an order's age counts from its
    // answer): past this plus the fast window, every old order is in the background lane.
    let all_placed = std::time::Instant::now();
    // Every old order past its fast window, and two rounds of queries made since.
    let queries = until(&sim, |q| {
        let late = q.iter().filter(|r| r.instant > all_placed + FAST_WINDOW);
        late.count() >= 2 * old
    })
    .await;

    // The budget: at most RATE a second, after a first second's worth (and those in flight).
    let span = queries.last().unwrap().instant - queries[0].instant;
    let most = f64::from(RATE) * span.as_secs_f64() + f64::from(RATE) + 8.0;
    assert!(
        queries.len() as f64 <= most,
        "{} queries in {span:?}: more than {RATE} a second",
        queries.len()
    );
    // In turn: the last two rounds asked about every old order, none more than twice as often.
    let rounds: Vec<String> = queries[queries.len() - 2 * old..]
        .iter()
        .map(queried)
        .collect();
    for i in 0..old {
        let no = format!("OLD{i:04}");
        let n = rounds.iter().filter(|q| **q == no).count();
        assert!(
            (1..=3).contains(&n),
            "{no} queried {n} times in two rounds: {rounds:?}"
        );
    }

    // A new checkout: once its first query is due (its receipt printed, then the fast
    // interval), it goes before the old orders waiting in line. Old queries granted before
    // that (a slow machine may take a while to print) are no queue-jumping.
    pos.checkout_printed(checkout("NEW0001", 3200)).await;
    let due = std::time::Instant::now() + Duration::from_millis(10);
    let queries = until(&sim, |q| q.iter().any(|r| queried(r) == "NEW0001")).await;
    let ahead: Vec<String> = queries
        .iter()
        .filter(|r| r.instant > due)
        .map(queried)
        .take_while(|no| no != "NEW0001")
        .collect();
    assert!(
        ahead.len() <= 2,
        "the new order's first query, once due, waited behind {} old ones: {ahead:?}",
        ahead.len()
    );
    daemon.shutdown().await;
}

/// Open TCP connections to `port` on 127.0.0.1 (from `/proc/net/tcp`: the port is the
/// simulator's, so these are the daemon's sockets to WeChat Pay).
fn connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"01")
        })
        .count()
}

#[tokio::test]
async fn connections_to_wechat_pay_stay_bounded_with_many_checkouts_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    assert!(
        sim.addr.ip().is_loopback() && sim.addr.is_ipv4(),
        "{}",
        sim.addr
    );
    let orders: usize = 40;
    // Slow answers to the placements, so that they all are in flight together.
    sim.inject(
        Endpoint::Native,
        Fault::Delay(Duration::from_millis(300)),
        orders,
    );
    let daemon = start(dir.path(), &sim).await;
    let port = sim.addr.port();
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let watching = {
        let most = most.clone();
        tokio::spawn(async move {
            loop {
                most.fetch_max(connections_to(port), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut checkouts = Vec::new();
    for i in 0..orders {
        let mut pos = daemon.connect().await;
        checkouts.push(tokio::spawn(async move {
            pos.checkout_printed(checkout(&format!("MANY{i:04}"), 100))
                .await;
        }));
    }
    for c in checkouts {
        c.await.unwrap();
    }
    // And while all of them are polled.
    until(&sim, |q| q.len() >= 20).await;
    watching.abort();
    let most = most.load(std::sync::atomic::Ordering::Relaxed);
    assert!(most > 0, "the watch saw the daemon's connections");
    assert!(
        most <= 16,
        "{most} connections to WeChat Pay at once for {orders} checkouts: not bounded"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn old_finished_jobs_are_pruned_at_start_and_unfinished_ones_never() {
    use wxprint::journal::{JobRecord, Journal};
    use wxprint::money::Money;
    use wxprint::protocol::JobState;

    let dir = tempfile::tempdir().unwrap();
    let long_ago = 1_600_000_000_000; // 2020
    {
        let mut journal = Journal::open(&dir.path().join("state")).unwrap();
        for (no, state) in [
            ("OLDPAID", JobState::Paid),
            ("OLDOPEN", JobState::AwaitingPayment),
        ] {
            let mut r = JobRecord::new(no, "{}", "Latte", Money::cny(100), long_ago, long_ago);
            r.state = state;
            r.updated_ms = long_ago;
            journal.insert(&r).unwrap();
        }
    }
    let config = JobsConfig {
        keep_finished: Duration::from_secs(24 * 3600),
        ..fast_config()
    };
    let daemon = crate::start_with_config(dir.path(), config).await;
    let mut pos = daemon.connect().await;
    let mut pruned = None;
    for _ in 0..500 {
        let m = pos
            .call(serde_json::json!({"op": "status", "out_trade_no": "OLDPAID"}))
            .await;
        if m["event"] == "error" {
            pruned = Some(m);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pruned = pruned.expect("the old paid job is pruned");
    assert_eq!(pruned["error"]["code"], "order_not_found", "{pruned}");
    let message = pruned["error"]["message"].as_str().unwrap();
    assert!(message.contains("pruned"), "{message}");
    let open = pos
        .call(serde_json::json!({"op": "status", "out_trade_no": "OLDOPEN"}))
        .await;
    assert_eq!(
        open["event"], "status",
        "an unfinished job is never pruned: {open}"
    );
    daemon.shutdown().await;
}
