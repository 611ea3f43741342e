//! The checkout itself: events in order, the printed QR is the live code_url, payment
//! reported to every follower; idempotent retries; `follow: false`; many POS at once.

use std::time::Duration;

use serde_json::json;

use crate::support::{Client, Daemon, checkout, decode_qr};

/// checkout → accepted, code_url, printed; the receipt's QR decodes to exactly that
/// code_url, which is the one the payment service accepts; sandbox_pay → paid, for both the
/// paying connection and the waiting checkout.
#[tokio::test]
async fn checkout_prints_the_code_url_and_reports_the_payment() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let opening = pos.checkout_printed(checkout("T20261126001", 3200)).await;
    let (accepted, code, printed) = (opening.accepted, opening.code, opening.printed);
    let code_url = opening.code_url;
    assert_eq!(accepted["id"], "co-T20261126001");
    assert_eq!(accepted["out_trade_no"], "T20261126001");
    assert_eq!(accepted["state"], "ordering");
    assert_eq!(accepted["resumed"], false);
    assert_eq!(code["state"], "awaiting_payment");
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{code_url}"
    );
    assert_eq!(printed["print"], "printed");
    assert_eq!(printed["id"], "co-T20261126001");

    let receipts = daemon.receipts();
    assert_eq!(receipts.len(), 1);
    let bytes = std::fs::read(&receipts[0]).unwrap();
    assert_eq!(decode_qr(&bytes, 576), vec![code_url.clone()]);
    let sandbox = daemon.sandbox.as_ref().unwrap();
    assert_eq!(
        sandbox.current_code_url("T20261126001").unwrap(),
        code_url,
        "the printed QR is live"
    );

    let mut cashier = daemon.connect().await;
    cashier
        .send(json!({"op": "sandbox_pay", "id": "pay", "out_trade_no": "T20261126001"}))
        .await;
    let paid = cashier.expect("paid").await;
    assert_eq!(paid["id"], "pay");
    assert_eq!(
        paid["amount"],
        json!({"total": 3200, "payer_total": 3200, "currency": "CNY", "payer_currency": "CNY"})
    );
    let waited = pos.expect("paid").await;
    assert_eq!(waited["id"], "co-T20261126001");
    assert_eq!(waited["state"], "paid");
    assert_eq!(waited["transaction_id"], paid["transaction_id"]);
    assert!(waited["success_time"].as_str().unwrap().ends_with("+08:00"));

    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T20261126001"}))
        .await;
    assert_eq!(status["event"], "status");
    assert_eq!(status["state"], "paid");
    assert_eq!(status["print"], "printed");
    assert_eq!(status["code_url"], code_url.as_str());
    assert_eq!(
        status["amount"],
        json!({"total": 3200, "currency": "CNY", "payer_currency": "CNY"})
    );
    daemon.shutdown().await;
}

/// The same checkout again resumes the job: no second order, no second receipt.
/// Different content under the same number is refused.
#[tokio::test]
async fn identical_checkout_resumes_and_different_content_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut first = daemon.connect().await;
    let code_url = first
        .checkout_printed(checkout("T0000000001", 500))
        .await
        .code_url;

    let mut retry = daemon.connect().await;
    let resumed = retry.checkout_printed(checkout("T0000000001", 500)).await;
    assert_eq!(resumed.accepted["resumed"], true);
    assert_eq!(resumed.accepted["state"], "awaiting_payment");
    assert_eq!(resumed.code_url, code_url);
    retry.silent_for(Duration::from_millis(200)).await;
    assert_eq!(daemon.receipts().len(), 1, "no reprint");
    assert_eq!(
        daemon
            .sandbox
            .as_ref()
            .unwrap()
            .current_code_url("T0000000001")
            .unwrap(),
        code_url,
        "no second order: the printed code_url is still the live one"
    );

    // The same number with another amount, or other receipt lines, is another order.
    let (code, m) = retry.call_error(checkout("T0000000001", 501)).await;
    assert_eq!(code, "duplicate_order");
    assert_eq!(m["out_trade_no"], "T0000000001");
    assert_eq!(
        m["state"], "awaiting_payment",
        "errors about an order carry its state"
    );
    let mut other_lines = checkout("T0000000001", 500);
    other_lines["receipt"]["lines"][0]["name"] = json!("Mocha");
    assert_eq!(retry.call_error(other_lines).await.0, "duplicate_order");

    // An explicit default currency is the same content.
    let mut explicit = checkout("T0000000001", 500);
    explicit["order"]["amount"]["currency"] = json!("CNY");
    retry.send(explicit).await;
    assert_eq!(retry.expect("accepted").await["resumed"], true);

    // Both followers hear the payment.
    let mut pay = daemon.connect().await;
    pay.send(json!({"op": "sandbox_pay", "out_trade_no": "T0000000001"}))
        .await;
    pay.expect("paid").await;
    first.expect("paid").await;
    retry.expect("code_url").await;
    retry.expect("printed").await;
    retry.expect("paid").await;
    retry.expect("paid").await;

    // Once paid, a retried checkout replays the outcome and ends there.
    let replayed = retry.checkout_printed(checkout("T0000000001", 500)).await;
    assert_eq!(replayed.accepted["state"], "paid");
    retry.expect("paid").await;
    daemon.shutdown().await;
}

/// follow=false ends the stream after `printed`; the connection stays usable.
#[tokio::test]
async fn no_follow_checkout_ends_after_printing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("T0000000002", 100);
    request["follow"] = json!(false);
    pos.checkout_printed(request).await;
    pos.send(json!({"op": "sandbox_pay", "id": "p", "out_trade_no": "T0000000002"}))
        .await;
    let paid = pos.expect("paid").await;
    assert_eq!(paid["id"], "p", "only the sandbox_pay request reports it");
    pos.silent_for(Duration::from_millis(200)).await;
    daemon.shutdown().await;
}

/// Many POS connections at once, each with its own order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let socket = daemon.socket.clone();
        tasks.push(tokio::spawn(async move {
            let no = format!("T10000000{i:02}");
            let mut pos = Client::connect(&socket).await;
            pos.checkout_printed(checkout(&no, 100 + i)).await;
            let mut pay = Client::connect(&socket).await;
            pay.send(json!({"op": "sandbox_pay", "out_trade_no": no}))
                .await;
            pay.expect("paid").await;
            assert_eq!(pos.expect("paid").await["amount"]["total"], 100 + i);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(daemon.receipts().len(), 8);
    daemon.shutdown().await;
}
