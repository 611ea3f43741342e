//! Never silent (issue 12 §2): with WeChat Pay unreachable, its answers unverifiable or
//! rate-limited, the POS hears `delayed` at the first failed attempt, `status` carries the
//! job's `last_error`, and after `place_timeout` the checkout ends `failed` with
//! `wechatpay_unavailable`. An order that may exist at WeChat Pay is then closed in the
//! background, or reported `paid` if it turns out paid. The real WeChat Pay backend against
//! the simulator.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use wxprint::config::Settings;
use wxprint::jobs::JobsConfig;
use wxprint::wechatpay::WechatPay;

use crate::merchant;
use crate::support::{Client, Daemon, Options, checkout, fast_config};
use crate::wechatpay_sim::{Endpoint, Fault, SimConfig, Simulator, Trust};

/// A daemon on the real backend for `sim` (settings tweaked by `tweak`), giving up on a
/// placement after `place_timeout`, closing no order younger than `close_min_age`.
async fn start(
    dir: &Path,
    sim: &Simulator,
    place_timeout: Duration,
    close_min_age: Duration,
    tweak: impl FnOnce(&mut Settings),
) -> Daemon {
    let mut s = merchant::settings(dir, sim, Trust::PublicKey);
    s.wechatpay.request_timeout = Duration::from_millis(1500);
    tweak(&mut s);
    let backend = Arc::new(WechatPay::from_settings(&s.wechatpay).unwrap());
    let config = JobsConfig {
        place_timeout,
        close_min_age,
        ..fast_config()
    };
    let options = Options {
        config,
        backend: Some(backend),
        printer: None,
    };
    Daemon::start_with(dir, options).await
}

async fn simulator() -> Simulator {
    Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await
}

/// The job's `status`.
async fn status(pos: &mut Client, no: &str) -> Value {
    pos.call(json!({"op": "status", "out_trade_no": no})).await
}

/// Checkout `no` and read `accepted` and the first `delayed`, which must be for `reason`.
async fn delayed_checkout(pos: &mut Client, no: &str, reason: &str) -> Value {
    pos.send(checkout(no, 3200)).await;
    pos.expect("accepted").await;
    let delayed = pos.expect("delayed").await;
    assert_eq!(delayed["out_trade_no"], no, "{delayed}");
    assert_eq!(delayed["state"], "ordering", "{delayed}");
    assert_eq!(delayed["reason"], reason, "{delayed}");
    assert_eq!(delayed["attempt"], 1, "{delayed}");
    assert!(delayed["retry_in_ms"].as_u64().is_some(), "{delayed}");
    delayed
}

/// The rest of the checkout's stream: more `delayed` (at most every few seconds), then
/// `failed` with `wechatpay_unavailable`; returns the `failed`.
async fn failed_after_delays(pos: &mut Client) -> Value {
    loop {
        let m = pos.recv().await;
        match m["event"].as_str() {
            Some("delayed") => continue,
            Some("failed") => {
                assert_eq!(m["error"]["code"], "wechatpay_unavailable", "{m}");
                let message = m["error"]["message"].as_str().unwrap();
                assert!(message.contains("another way"), "{message}");
                return m;
            }
            _ => panic!("expected delayed or failed, got {m}"),
        }
    }
}

/// A wrong WeChat Pay public key: every answer fails verification. The POS hears why at
/// once, `status` shows it, and the checkout fails within `place_timeout`; no QR.
#[tokio::test]
async fn unverifiable_answers_are_told_at_once_and_end_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator().await;
    let wrong_key = dir.path().join("not_wechatpay_pub.pem");
    std::fs::copy(
        crate::wechatpay_sim::default_fixture_dir().join("merchant_pub.pem"),
        &wrong_key,
    )
    .unwrap();
    let daemon = start(
        dir.path(),
        &sim,
        Duration::from_secs(6),
        Duration::ZERO,
        |s| {
            s.wechatpay.public_key_file = wrong_key.clone();
        },
    )
    .await;
    let mut pos = daemon.connect().await;
    let delayed = delayed_checkout(&mut pos, "T2026112620001", "unverified_answer").await;
    let message = delayed["error"]["message"].as_str().unwrap();
    assert!(message.contains("did not verify"), "{message}");
    assert!(message.contains("signature does not match"), "{message}");

    let mut other = daemon.connect().await;
    let job = status(&mut other, "T2026112620001").await;
    let last = &job["last_error"];
    assert_eq!(last["reason"], "unverified_answer", "{job}");
    assert_eq!(last["code"], "wechatpay", "{job}");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("signature does not match"),
        "{job}"
    );
    assert!(last["at"].as_str().unwrap().contains('T'), "{job}");

    let failed = failed_after_delays(&mut pos).await;
    // WeChat Pay did answer: the order exists there, so it is closed in the background.
    assert_eq!(failed["state"], "cancelling", "{failed}");
    assert!(
        daemon.receipts().is_empty(),
        "no QR from an unverified answer"
    );
    daemon.shutdown().await;
}

/// WeChat Pay cannot be reached at all: `delayed` with `wechatpay_unreachable`, then
/// `failed`.
#[tokio::test]
async fn an_unreachable_wechat_pay_is_told_at_once_and_ends_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator().await;
    let nowhere = crate::support::UNREACHABLE_API.to_owned();
    let daemon = start(
        dir.path(),
        &sim,
        Duration::from_secs(2),
        Duration::ZERO,
        |s| {
            s.wechatpay.api_base = nowhere;
        },
    )
    .await;
    let mut pos = daemon.connect().await;
    let delayed = delayed_checkout(&mut pos, "T2026112620002", "wechatpay_unreachable").await;
    let message = delayed["error"]["message"].as_str().unwrap();
    assert!(message.contains("did not answer"), "{message}");
    failed_after_delays(&mut pos).await;
    let job = status(&mut pos, "T2026112620002").await;
    assert_eq!(job["error"]["code"], "wechatpay_unavailable", "{job}");
    assert!(daemon.receipts().is_empty());
    daemon.shutdown().await;
}

/// WeChat Pay answers 429 to every placement: `delayed` with `rate_limited`, then
/// `failed` (state `failed`, or `cancelling` when the limit fell during an attempt, whose
/// outcome is then unknown).
#[tokio::test]
async fn a_rate_limited_placement_is_told_at_once_and_ends_the_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator().await;
    sim.inject(Endpoint::Native, Fault::Status429, 1000);
    let daemon = start(
        dir.path(),
        &sim,
        Duration::from_secs(6),
        Duration::ZERO,
        |_| {},
    )
    .await;
    let mut pos = daemon.connect().await;
    delayed_checkout(&mut pos, "T2026112620003", "rate_limited").await;
    let failed = failed_after_delays(&mut pos).await;
    let state = failed["state"].as_str().unwrap();
    assert!(["failed", "cancelling"].contains(&state), "{failed}");
    assert!(
        sim.order("T2026112620003").is_none(),
        "a 429 creates nothing"
    );
    daemon.shutdown().await;
}

/// Placements whose answers are lost (the order is created, the answer never arrives):
/// the checkout fails, and the order is closed at WeChat Pay in the background.
#[tokio::test]
async fn an_order_of_a_failed_checkout_is_closed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator().await;
    sim.inject(Endpoint::Native, Fault::LoseAnswer, 1000);
    let daemon = start(
        dir.path(),
        &sim,
        Duration::from_secs(2),
        Duration::ZERO,
        |_| {},
    )
    .await;
    let mut watch = daemon.connect().await;
    watch.send(json!({"op": "watch"})).await;
    let mut pos = daemon.connect().await;
    let no = "T2026112620004";
    delayed_checkout(&mut pos, no, "wechatpay_unreachable").await;
    let failed = failed_after_delays(&mut pos).await;
    assert_eq!(failed["state"], "cancelling", "{failed}");
    let closed = next_final(&mut watch, no).await;
    assert_eq!(closed["event"], "closed", "{closed}");
    let order = sim.order(no).expect("the lost placement created the order");
    assert!(order.closed_at.is_some(), "closed at WeChat Pay");
    assert!(daemon.receipts().is_empty());
    daemon.shutdown().await;
}

/// The order of a failed checkout turns out paid (the customer paid somehow): it is
/// reported `paid`, never dropped.
#[tokio::test]
async fn an_order_of_a_failed_checkout_that_turns_out_paid_is_reported_paid() {
    let dir = tempfile::tempdir().unwrap();
    let sim = simulator().await;
    sim.inject(Endpoint::Native, Fault::LoseAnswer, 1000);
    let min_age = Duration::from_secs(600); // not closed before the payment
    let daemon = start(dir.path(), &sim, Duration::from_secs(2), min_age, |_| {}).await;
    let mut watch = daemon.connect().await;
    watch.send(json!({"op": "watch"})).await;
    let mut pos = daemon.connect().await;
    let no = "T2026112620005";
    delayed_checkout(&mut pos, no, "wechatpay_unreachable").await;
    failed_after_delays(&mut pos).await;
    assert!(sim.pay(no), "the order exists and is payable");
    let paid = next_final(&mut watch, no).await;
    assert_eq!(paid["event"], "paid", "{paid}");
    let job = status(&mut pos, no).await;
    assert_eq!(job["state"], "paid", "{job}");
    daemon.shutdown().await;
}

/// The next `paid` or `closed` of order `no` a watcher hears.
async fn next_final(watch: &mut Client, no: &str) -> Value {
    loop {
        let m = watch.recv().await;
        if m["out_trade_no"] == no && (m["event"] == "paid" || m["event"] == "closed") {
            return m;
        }
    }
}
