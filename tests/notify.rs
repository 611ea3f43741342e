//! Payment notifications end to end: the daemon (real WeChat Pay backend, real socket)
//! with its notification listener, and the simulator sending signed, encrypted
//! notifications like WeChat Pay. What must hold: a verified `TRANSACTION.SUCCESS` reports
//! `paid` at once and stops the polling; anything forged, stale, undecryptable or foreign
//! changes nothing and is answered 4xx; a repeat is answered 204 and changes nothing; 100
//! at once are all answered within WeChat's 5 s; a lost one is still found by polling.
//! Refund notifications (`REFUND.SUCCESS` / `.ABNORMAL` / `.CLOSED`) end a journaled refund
//! at once, the same way; foreign ones and refunds not of this register change nothing.

#[path = "support/merchant.rs"]
mod merchant;
#[path = "support/mod.rs"]
#[allow(
    dead_code,
    unused_imports,
    reason = "this binary starts its own daemon, to hand its jobs to the listener"
)]
mod support;
#[path = "support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use support::{Client, checkout, fast_config};
use wechatpay_sim::{
    Endpoint, Fault, Kind, NotifyTarget, RefundStatus, SimConfig, Simulator, Trust,
};
use wxprint::config::{Backend, NotifyListen, PollSchedule, Settings};
use wxprint::jobs::{Jobs, JobsConfig};
use wxprint::journal::Journal;
use wxprint::notify::{self, Notifications};
use wxprint::printer::{FilePrinter, PrinterHandle};
use wxprint::server;
use wxprint::wechatpay::WechatPay;

const PATH: &str = "/wechatpay/notify";
const HOUR: Duration = Duration::from_secs(3600);

/// The daemon with its notification listener on `127.0.0.1:<free port>`, and the
/// simulator playing WeChat Pay.
struct Setup {
    dir: tempfile::TempDir,
    sim: Simulator,
    target: NotifyTarget,
    stop: CancellationToken,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Setup {
    async fn connect(&self) -> Client {
        Client::connect(&self.dir.path().join("wxprint.sock")).await
    }

    /// The job's `status` event.
    async fn status(&self, no: &str) -> Value {
        let mut pos = self.connect().await;
        pos.call(json!({"op": "status", "id": "s", "out_trade_no": no}))
            .await
    }
}

/// Polling so slow that only a notification can report a payment within a test.
fn never_polls() -> PollSchedule {
    PollSchedule {
        fast: HOUR,
        fast_window: HOUR,
        paying: HOUR,
        slow: HOUR,
    }
}

async fn start(account: SimConfig, poll: PollSchedule) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let trust = account.trust;
    let sim = Simulator::start(account).await;
    let s = merchant::settings(dir.path(), &sim, trust);
    let backend = Arc::new(WechatPay::from_settings(&s.wechatpay).unwrap());
    let mut config = fast_config();
    config.poll = poll;
    let printer = PrinterHandle::spawn(Box::new(FilePrinter::new(dir.path().join("receipts"))));
    let journal = Journal::open(&dir.path().join("state")).unwrap();
    let jobs = Jobs::start(config, backend.clone(), printer, journal).unwrap();
    let socket = server::bind(&dir.path().join("wxprint.sock")).unwrap();
    let listen = NotifyListen::Tcp("127.0.0.1:0".into());
    let listener = notify::bind(&listen).await.unwrap().expect("listening");
    let target = NotifyTarget::Tcp(listener.address(), PATH.into());
    let stop = CancellationToken::new();
    let notifications = Arc::new(Notifications::new(backend, jobs.clone(), PATH));
    tokio::spawn(notify::run(listener, notifications, stop.clone()));
    tokio::spawn(server::run(socket, jobs, stop.clone().cancelled_owned()));
    Setup {
        dir,
        sim,
        target,
        stop,
    }
}

/// A POS connection that checked out order `no` and saw its receipt printed.
async fn printed(setup: &Setup, no: &str) -> Client {
    let mut pos = setup.connect().await;
    pos.checkout_printed(checkout(no, 3200)).await;
    pos
}

#[tokio::test]
async fn a_notification_reports_paid_without_waiting_for_a_poll() {
    let accounts = [
        SimConfig::from_fixtures(Trust::Both),
        SimConfig::from_fixtures(Trust::Certificate),
        SimConfig::from_fixtures(Trust::Both).with_kind(Kind::GlobalInstitutional),
    ];
    for account in accounts {
        let kind = format!("{:?} {:?}", account.trust, account.kind());
        let setup = start(account, never_polls()).await;
        let mut pos = printed(&setup, "NT1001").await;
        let delivery = setup
            .sim
            .pay_and_notify("NT1001", setup.target.clone(), vec![])
            .expect("paid at WeChat Pay");
        let paid = pos.expect("paid").await;
        let transaction = setup.sim.transaction("NT1001").unwrap();
        let id_field = if transaction.get("id").is_some() {
            "id"
        } else {
            "transaction_id"
        };
        assert_eq!(
            paid["transaction_id"], transaction[id_field],
            "{kind}: {paid}"
        );
        assert_eq!(paid["amount"]["total"], 3200, "{kind}: {paid}");
        if id_field == "id" {
            assert!(
                paid["amount"]["exchange_rate"]["rate"].is_i64(),
                "{kind}: Global fields: {paid}"
            );
        }
        assert_eq!(delivery.await.unwrap(), [204], "{kind}");
        assert!(
            setup.sim.requests_to(Endpoint::Query).is_empty(),
            "{kind}: no poll was needed"
        );

        // WeChat Pay sends it again: answered, nothing changes.
        let again = setup.sim.notification("NT1001").unwrap();
        assert_eq!(again.post(&setup.target).await, 204, "{kind}");
        pos.silent_for(Duration::from_millis(200)).await;
        assert_eq!(setup.status("NT1001").await["state"], "paid", "{kind}");
        assert!(
            setup.sim.requests_to(Endpoint::Query).is_empty(),
            "{kind}: polling stopped"
        );
    }
}

#[tokio::test]
async fn forged_stale_undecryptable_and_foreign_notifications_change_nothing() {
    let setup = start(SimConfig::from_fixtures(Trust::Both), never_polls()).await;
    let mut pos = printed(&setup, "NT2001").await;
    assert!(
        setup.sim.pay("NT2001"),
        "paid at WeChat Pay, not yet known to wxprint"
    );
    let sim = &setup.sim;
    let genuine = sim.notification("NT2001").unwrap();
    let transaction = sim.transaction("NT2001").unwrap();
    let key = sim.config().apiv3_key.clone();
    let with = |field: &str, value: &str| {
        let mut t = transaction.clone();
        t[field] = json!(value);
        sim.seal("TRANSACTION.SUCCESS", &t, &key, 0)
    };

    let mut forged = genuine.clone();
    let text = String::from_utf8(forged.body.clone()).unwrap();
    forged.body = text
        .replacen("\"ciphertext\":\"", "\"ciphertext\":\"A", 1)
        .into_bytes();
    let mut probe = genuine.clone();
    for (name, value) in &mut probe.headers {
        if name == "Wechatpay-Signature" {
            *value = format!("WECHATPAY/SIGNTEST/{value}");
        }
    }
    let mut unsigned = genuine.clone();
    unsigned.headers.clear();
    let cases = [
        ("forged body", forged, 401),
        ("signature probe", probe, 401),
        ("unsigned", unsigned, 401),
        (
            "stale replay",
            sim.seal("TRANSACTION.SUCCESS", &transaction, &key, 301),
            401,
        ),
        (
            "another APIv3 key",
            sim.seal("TRANSACTION.SUCCESS", &transaction, &[b'k'; 32], 0),
            400,
        ),
        ("another merchant", with("mchid", "1900000999"), 400),
        ("another app", with("appid", "wx0000000000000999"), 400),
        ("an order not ours", with("out_trade_no", "NT9999"), 404),
    ];
    for (what, notification, status) in cases {
        assert_eq!(notification.post(&setup.target).await, status, "{what}");
    }
    let wrong_path = NotifyTarget::Tcp(address(&setup.target), "/other".into());
    assert_eq!(genuine.post(&wrong_path).await, 404, "another path");

    pos.silent_for(Duration::from_millis(300)).await;
    assert_eq!(setup.status("NT2001").await["state"], "awaiting_payment");

    assert_eq!(genuine.post(&setup.target).await, 204, "the genuine one");
    pos.expect("paid").await;
}

fn address(target: &NotifyTarget) -> String {
    match target {
        NotifyTarget::Tcp(address, _) => address.clone(),
        NotifyTarget::Unix(..) => unreachable!("the tests listen on TCP"),
    }
}

#[tokio::test]
async fn a_hundred_notifications_at_once_are_all_answered_within_five_seconds() {
    let setup = start(SimConfig::from_fixtures(Trust::Both), never_polls()).await;
    let orders: Vec<String> = (0..20).map(|i| format!("NT3{i:03}")).collect();
    let mut watch = setup.connect().await;
    watch.send(json!({"op": "watch", "id": "w"})).await;
    for no in &orders {
        printed(&setup, no).await;
        assert!(setup.sim.pay(no));
    }
    // Five deliveries of each order's notification (WeChat Pay's retries overlap), at once.
    let sends = orders.iter().flat_map(|no| {
        let notification = setup.sim.notification(no).unwrap();
        let target = setup.target.clone();
        (0..5).map(move |_| {
            let (n, target) = (notification.clone(), target.clone());
            tokio::spawn(async move {
                tokio::time::timeout(Duration::from_secs(5), n.post(&target)).await
            })
        })
    });
    let answers: Vec<_> = sends.collect();
    assert_eq!(answers.len(), 100);
    for answer in answers {
        assert_eq!(
            answer.await.unwrap(),
            Ok(204),
            "answered 204 within WeChat's 5 s"
        );
    }
    let mut paid = Vec::new();
    while paid.len() < orders.len() {
        let m = watch.recv().await;
        if m["event"] == "paid" {
            paid.push(m["out_trade_no"].as_str().unwrap().to_owned());
        }
    }
    paid.sort();
    assert_eq!(paid, orders, "each order paid once");
    watch.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_lost_notification_is_still_covered_by_polling() {
    let setup = start(SimConfig::from_fixtures(Trust::Both), fast_config().poll).await;
    let mut pos = printed(&setup, "NT4001").await;
    // Nothing listens there: every delivery fails, as when the shop's tunnel is down.
    let nowhere = NotifyTarget::Unix(setup.dir.path().join("nobody.sock"), PATH.into());
    let delivery = setup
        .sim
        .pay_and_notify("NT4001", nowhere, vec![Duration::from_millis(10)])
        .expect("paid at WeChat Pay");
    assert_eq!(delivery.await.unwrap(), [0, 0], "retried, never answered");
    let paid = pos.expect("paid").await;
    assert_eq!(paid["amount"]["total"], 3200);
    assert!(
        !setup.sim.requests_to(Endpoint::Query).is_empty(),
        "found by a query"
    );
}

/// Order `no` paid (told by its notification) and refund `{no}-R1` of 1,000 accepted and
/// processing at WeChat Pay; `pos` follows the order.
async fn refund_processing(setup: &Setup, no: &str) -> Client {
    let mut pos = printed(setup, no).await;
    assert!(setup.sim.pay(no));
    let paid = setup.sim.notification(no).unwrap();
    assert_eq!(paid.post(&setup.target).await, 204);
    pos.expect("paid").await;
    pos.send(json!({"op": "refund", "out_trade_no": no, "refund": {"amount": 1000}}))
        .await;
    let accepted = pos.expect("refund_accepted").await;
    assert_eq!(accepted["out_refund_no"], format!("{no}-R1"));
    // `refund_accepted` is journaled before the call: wait for the call to arrive.
    while setup.sim.refund_of(&format!("{no}-R1")).is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    pos
}

/// A partner merchant whose refunds WeChat keeps processing and whose refund queries
/// fail: only a notification can tell a refund's outcome.
async fn start_refunds() -> Setup {
    let mut account = SimConfig::from_fixtures(Trust::Both).with_kind(Kind::MainlandPartner);
    account.refund_delay = HOUR;
    let setup = start(account, never_polls()).await;
    setup
        .sim
        .inject(Endpoint::RefundQuery, Fault::Status500, 1_000_000);
    setup
}

#[tokio::test]
async fn refund_notifications_end_the_refund_at_once() {
    let setup = start_refunds().await;
    let sim = &setup.sim;

    let mut pos = refund_processing(&setup, "NR1001").await;
    assert!(sim.finish_refund("NR1001-R1", RefundStatus::Success));
    let (event_type, object) = sim.refund_object("NR1001-R1").unwrap();
    assert_eq!(event_type, "REFUND.SUCCESS");
    let key = sim.config().apiv3_key.clone();
    let with = |field: &str, value: Value| {
        let mut o = object.clone();
        o[field] = value;
        sim.seal_as("REFUND.SUCCESS", "refund", &o, &key, 0)
    };
    let cases = [
        (
            "another sub-merchant",
            with("sub_mchid", json!("1900000999")),
            400,
        ),
        (
            "the other mode's merchant",
            with("mchid", json!("1230000109")),
            400,
        ),
        (
            "a refund not ours",
            with("out_refund_no", json!("NR9999-R1")),
            404,
        ),
        (
            "our refund's number on another order",
            with("out_trade_no", json!("NR9999")),
            400,
        ),
        (
            "a transaction under REFUND.*",
            sim.seal_as("REFUND.SUCCESS", "transaction", &object, &key, 0),
            400,
        ),
        (
            "stale replay",
            sim.seal_as("REFUND.SUCCESS", "refund", &object, &key, 301),
            401,
        ),
    ];
    for (what, notification, status) in cases {
        assert_eq!(notification.post(&setup.target).await, status, "{what}");
    }
    let listed = &setup.status("NR1001").await["refunds"][0];
    assert_eq!(listed["state"], "processing", "nothing changed: {listed}");

    let genuine = sim.refund_notification("NR1001-R1").unwrap();
    assert_eq!(genuine.post(&setup.target).await, 204);
    let done = pos.expect("refunded").await;
    assert_eq!(done["out_refund_no"], "NR1001-R1");
    assert_eq!(
        done["refund_id"],
        sim.refund_of("NR1001-R1").unwrap().refund_id
    );
    assert_eq!(done["amount"]["refund"], 1000);
    // A repeat is answered 204 and changes nothing.
    assert_eq!(genuine.post(&setup.target).await, 204);
    let listed = &setup.status("NR1001").await["refunds"];
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["state"], "refunded");
}

#[tokio::test]
async fn abnormal_and_closed_refund_notifications_end_refund_failed() {
    let setup = start_refunds().await;
    let sim = &setup.sim;
    for (no, end, state, code) in [
        ("NR1002", RefundStatus::Abnormal, "abnormal", "ABNORMAL"),
        ("NR1003", RefundStatus::Closed, "failed", "CLOSED"),
    ] {
        let mut pos = refund_processing(&setup, no).await;
        let r = format!("{no}-R1");
        assert!(sim.finish_refund(&r, end));
        let notification = sim.refund_notification(&r).unwrap();
        assert_eq!(notification.post(&setup.target).await, 204, "{end:?}");
        let failed = pos.expect("refund_failed").await;
        assert_eq!(
            (&failed["state"], &failed["error"]["wechatpay_code"]),
            (&json!(state), &json!(code)),
            "{failed}"
        );
    }
}

/// The queries of order `no` that reached the simulator, in order of arrival.
fn queries_of(setup: &Setup, no: &str) -> Vec<std::time::Instant> {
    let mut at: Vec<_> = setup
        .sim
        .requests_to(Endpoint::Query)
        .into_iter()
        .filter(|r| r.path_only().ends_with(&format!("/{no}")))
        .map(|r| r.instant)
        .collect();
    at.sort();
    at
}

/// With notifications on, the first minute has at most half the queries. Each interval
/// counts from the previous answer, so a query's own time L adds to both schedules' gaps:
/// 3 FAST + L ≥ 2 (FAST + L) while L ≤ FAST: 0.4 s leaves a loaded machine room.
#[tokio::test]
async fn with_notifications_on_the_first_minute_has_at_most_half_the_queries() {
    const FAST: Duration = Duration::from_millis(400);
    const WINDOW: Duration = Duration::from_secs(6);
    let configured = PollSchedule {
        fast: FAST,
        fast_window: HOUR,
        paying: FAST,
        slow: HOUR,
    };
    let schedule = |listen: NotifyListen| {
        let mut s = Settings::sandbox_defaults();
        s.wechatpay.backend = Backend::WechatPay;
        s.wechatpay.poll = configured;
        s.notify.listen = listen;
        JobsConfig::from_settings(&s).poll
    };
    let off = start(
        SimConfig::from_fixtures(Trust::Both),
        schedule(NotifyListen::Off),
    )
    .await;
    let on = start(
        SimConfig::from_fixtures(Trust::Both),
        schedule(NotifyListen::Tcp("127.0.0.1:8088".into())),
    )
    .await;
    let (_off_pos, _on_pos) = tokio::join!(printed(&off, "NT5001"), printed(&on, "NT5002"));
    let start = std::time::Instant::now();
    // The window to count in: both orders are unpaid and polled all along.
    tokio::time::sleep(WINDOW).await;
    let in_window = |at: Vec<std::time::Instant>| -> Vec<std::time::Instant> {
        at.into_iter().filter(|t| *t <= start + WINDOW).collect()
    };
    let without = in_window(queries_of(&off, "NT5001"));
    let with = in_window(queries_of(&on, "NT5002"));
    eprintln!(
        "queries in {WINDOW:?}: {} without notifications, {} with",
        without.len(),
        with.len()
    );
    assert!(
        with.len() * 2 <= without.len(),
        "{} queries with notifications, {} without",
        with.len(),
        without.len()
    );
    for pair in queries_of(&on, "NT5002").windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= FAST * 3,
            "queries {gap:?} apart with notifications on"
        );
    }
}
