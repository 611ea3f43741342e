//! Closing: a cancel closes only once the order is old enough and loses to a racing payment;
//! expiry closes at WeChat Pay; faults on the close still end closed.

use std::time::Duration;

use serde_json::json;

use crate::support::checkout;
use crate::wechatpay_sim::{Endpoint, Fault, TradeState, Trust};
use crate::{checkout_printed, fast_config, start, start_with, until};

/// Cancel: closed only when the order is old enough, then `closed{cancelled}`; the
/// pay/close race ends `paid`.
#[tokio::test]
async fn cancel_closes_after_close_min_age_and_a_racing_payment_wins() {
    let mut config = fast_config();
    config.close_min_age = Duration::from_millis(800);
    let setup = start_with(Trust::PublicKey, config, |_| {}).await;
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112640").await;
    let mut cashier = setup.daemon.connect().await;
    cashier
        .send(json!({"op": "cancel", "out_trade_no": "T2026112640"}))
        .await;
    cashier.expect("cancelling").await;
    assert_eq!(cashier.expect("closed").await["reason"], "cancelled");
    let order = setup.sim.order("T2026112640").unwrap();
    let age = order
        .closed_at
        .unwrap()
        .duration_since(order.created_at)
        .unwrap();
    assert!(
        age >= Duration::from_millis(800),
        "closed {age:?} after creation"
    );

    pos.expect("cancelling").await;
    pos.expect("closed").await;

    // The race: the customer pays while the close is on its way — held at WeChat Pay for
    // a second (within the client's 1.5 s timeout), and paid as soon as it has arrived, so
    // that the race is the same on a loaded machine.
    checkout_printed(&setup, &mut pos, "T2026112641").await;
    setup.sim.inject(
        Endpoint::Close,
        Fault::Delay(Duration::from_millis(1000)),
        1,
    );
    cashier
        .send(json!({"op": "cancel", "out_trade_no": "T2026112641"}))
        .await;
    cashier.expect("cancelling").await;
    until("the close reaching WeChat Pay", || {
        let closes = setup.sim.requests_to(Endpoint::Close);
        closes.iter().any(|r| r.path.contains("T2026112641"))
    })
    .await;
    assert!(setup.sim.pay("T2026112641"));
    assert_eq!(cashier.expect("paid").await["state"], "paid");
    let close = setup
        .sim
        .requests_to(Endpoint::Close)
        .into_iter()
        .rfind(|r| r.path.contains("T2026112641"))
        .expect("a close was sent");
    assert!(
        matches!(
            close.error_code.as_deref(),
            Some("ORDERPAID" | "ORDER_PAID")
        ),
        "the close lost the race: {:?}",
        close.error_code
    );
    setup.daemon.shutdown().await;
}

/// An unpaid order is closed at time_expire (closed loop).
#[tokio::test]
async fn expiry_closes_the_order_at_wechat_pay() {
    let mut config = fast_config();
    config.order_ttl = Duration::from_secs(3);
    let setup = start_with(Trust::PublicKey, config, |_| {}).await;
    let mut pos = setup.daemon.connect().await;
    pos.checkout_printed(checkout("T2026112650", 100)).await;
    assert_eq!(pos.expect("closed").await["reason"], "expired");
    assert_eq!(
        setup.sim.order("T2026112650").unwrap().state,
        TradeState::Closed
    );
    setup.daemon.shutdown().await;
}

/// Faults on the close: the order still ends closed, and only after WeChat Pay closed it.
#[tokio::test]
async fn close_faults_still_end_closed() {
    let setup = start(Trust::PublicKey).await;
    let mut pos = setup.daemon.connect().await;
    checkout_printed(&setup, &mut pos, "T2026112680").await;
    for fault in [
        Fault::Status500,
        Fault::BadSignature,
        Fault::Reset,
        Fault::SignTest,
        Fault::Status429,
    ] {
        setup.sim.inject(Endpoint::Close, fault, 1);
    }
    pos.send(json!({"op": "cancel", "out_trade_no": "T2026112680"}))
        .await;
    pos.expect("cancelling").await;
    pos.expect("cancelling").await; // the checkout's own stream hears it too
    let closed = pos.expect("closed").await;
    assert_eq!(closed["reason"], "cancelled");
    let order = setup.sim.order("T2026112680").unwrap();
    assert_eq!(order.state, TradeState::Closed);
    setup.daemon.shutdown().await;
}
