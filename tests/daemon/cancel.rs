//! `cancel`: `cancelling` at once, `closed{cancelled}` once the order is closed at the payment
//! service — never before close_min_age after placement, and a payment racing the close wins.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use wxprint::money::Money;
use wxprint::payment::sandbox::Sandbox;
use wxprint::payment::{BoxFuture, PaymentBackend, PaymentError, PlaceOrder, Placed, TradeState};

use crate::support::{Daemon, Options, checkout, fast_config};
use crate::{start_with_backend, start_with_config};

/// cancel → cancelling at once, closed{cancelled} once the order is closed.
#[tokio::test]
async fn cancel_closes_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    pos.checkout_printed(checkout("T0000000003", 100)).await;

    let mut cashier = daemon.connect().await;
    cashier
        .send(json!({"op": "cancel", "id": "c", "out_trade_no": "T0000000003"}))
        .await;
    let cancelling = cashier.expect("cancelling").await;
    assert_eq!(cancelling["state"], "cancelling");
    let closed = cashier.expect("closed").await;
    assert_eq!(closed["reason"], "cancelled");
    assert_eq!(closed["id"], "c");
    assert_eq!(pos.expect("cancelling").await["id"], "co-T0000000003");
    assert_eq!(pos.expect("closed").await["reason"], "cancelled");

    // The order is closed at the payment service too: it can no longer be paid.
    let (code, _) = cashier
        .call_error(json!({"op": "sandbox_pay", "out_trade_no": "T0000000003"}))
        .await;
    assert_eq!(code, "not_payable");
    assert_eq!(
        cashier
            .call_error(json!({"op": "reprint", "out_trade_no": "T0000000003"}))
            .await
            .0,
        "not_payable"
    );
    // Cancelling a closed order answers how it ended.
    assert_eq!(
        cashier
            .call(json!({"op": "cancel", "out_trade_no": "T0000000003"}))
            .await["event"],
        "closed"
    );
    daemon.shutdown().await;
}

/// A cancel inside close_min_age keeps polling; a payment arriving meanwhile wins.
#[tokio::test]
async fn payment_during_the_close_wait_is_reported_as_paid() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config();
    config.close_min_age = Duration::from_secs(600);
    let daemon = start_with_config(dir.path(), config).await;
    let mut pos = daemon.connect().await;
    pos.checkout_printed(checkout("T0000000004", 100)).await;

    let mut cashier = daemon.connect().await;
    cashier
        .send(json!({"op": "cancel", "out_trade_no": "T0000000004"}))
        .await;
    cashier.expect("cancelling").await;
    cashier.silent_for(Duration::from_millis(300)).await; // the order is too young to close
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000004"}))
        .await;
    // (the checkout's own stream got `cancelling` first)
    let status = if status["event"] == "cancelling" {
        pos.recv().await
    } else {
        status
    };
    assert_eq!(status["state"], "cancelling");

    // The customer had already scanned: the payment is reported, not lost.
    daemon.sandbox.as_ref().unwrap().pay("T0000000004").unwrap();
    assert_eq!(cashier.expect("paid").await["state"], "paid");
    assert_eq!(pos.expect("paid").await["state"], "paid");
    daemon.shutdown().await;
}

/// Records when orders were placed and closed, around the sandbox.
struct Recording {
    sandbox: Arc<Sandbox>,
    /// Placements wait for a permit, so a test can hold one in flight.
    gate: Arc<tokio::sync::Semaphore>,
    log: Arc<Mutex<Vec<(&'static str, Instant)>>>,
}

impl Recording {
    fn new(dir: &std::path::Path, permits: usize) -> Recording {
        Recording {
            sandbox: Arc::new(Sandbox::open(&dir.join("state")).unwrap()),
            gate: Arc::new(tokio::sync::Semaphore::new(permits)),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl PaymentBackend for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn accepts(&self, amount: &Money) -> Result<(), String> {
        self.sandbox.accepts(amount)
    }
    fn place<'a>(&'a self, o: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        Box::pin(async move {
            self.gate.acquire().await.unwrap().forget();
            let placed = self.sandbox.place(o).await;
            self.log.lock().unwrap().push(("place", Instant::now()));
            placed
        })
    }
    fn query<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        self.sandbox.query(no)
    }
    fn close<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        self.log.lock().unwrap().push(("close", Instant::now()));
        self.sandbox.close(no)
    }
}

/// A cancel right after the checkout waits until the order is close_min_age old, counted
/// from its placement, before closing it.
#[tokio::test]
async fn close_waits_for_close_min_age_after_placement() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Recording::new(dir.path(), 1);
    let log = backend.log.clone();
    let mut config = fast_config();
    config.close_min_age = Duration::from_millis(400);
    let options = Options {
        config,
        backend: Some(Arc::new(backend)),
        ..Options::default()
    };
    let daemon = Daemon::start_with(dir.path(), options).await;
    let mut pos = daemon.connect().await;
    pos.checkout_printed(checkout("T0000000017", 100)).await;
    let mut cashier = daemon.connect().await;
    cashier
        .send(json!({"op": "cancel", "out_trade_no": "T0000000017"}))
        .await;
    cashier.expect("cancelling").await;
    assert_eq!(cashier.expect("closed").await["reason"], "cancelled");
    let log = log.lock().unwrap().clone();
    let placed = log.iter().find(|(op, _)| *op == "place").unwrap().1;
    let closed = log.iter().find(|(op, _)| *op == "close").unwrap().1;
    assert!(
        closed - placed >= Duration::from_millis(400),
        "closed {:?} after placement",
        closed - placed
    );
    daemon.shutdown().await;
}

/// Cancelled while the order is being placed: no QR is announced or printed, and the order
/// is closed once placed.
#[tokio::test]
async fn cancel_during_placement_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Recording::new(dir.path(), 0);
    let gate = backend.gate.clone();
    let daemon = start_with_backend(dir.path(), backend).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000018", 100)).await;
    assert_eq!(pos.expect("accepted").await["state"], "ordering");
    let mut cashier = daemon.connect().await;
    cashier
        .send(json!({"op": "cancel", "out_trade_no": "T0000000018"}))
        .await;
    cashier.expect("cancelling").await;
    gate.add_permits(1); // the placement goes through now
    assert_eq!(cashier.expect("closed").await["reason"], "cancelled");
    assert_eq!(pos.expect("cancelling").await["state"], "cancelling");
    assert_eq!(pos.expect("closed").await["reason"], "cancelled");
    assert!(daemon.receipts().is_empty(), "nothing printed");
    // A retry replays the outcome without the unannounced code_url.
    let mut retry = daemon.connect().await;
    retry.send(checkout("T0000000018", 100)).await;
    retry.expect("accepted").await;
    assert_eq!(retry.expect("closed").await["reason"], "cancelled");
    daemon.shutdown().await;
}
