//! The daemon driven over its socket like a POS: checkout → events → the printed QR is the
//! code_url → payment; idempotency, cancel, expiry, restart, shutdown, and every error code.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::json;
use support::{Client, Daemon, Options, checkout, decode_qr, fast_config};
use wxprint::payment::{BoxFuture, PaymentBackend, PaymentError, PlaceOrder, Placed, TradeState};
use wxprint::printer::{Printer, PrinterError};
use wxprint::protocol::PrinterStatus;

/// checkout → accepted, code_url, printed; the receipt's QR decodes to exactly that
/// code_url, which is the one the payment service accepts; sandbox_pay → paid, for both the
/// paying connection and the waiting checkout.
#[tokio::test]
async fn checkout_prints_the_code_url_and_reports_the_payment() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T20261126001", 3200)).await;

    let accepted = pos.expect("accepted").await;
    assert_eq!(accepted["id"], "co-T20261126001");
    assert_eq!(accepted["out_trade_no"], "T20261126001");
    assert_eq!(accepted["state"], "ordering");
    assert_eq!(accepted["resumed"], false);
    let code = pos.expect("code_url").await;
    assert_eq!(code["state"], "awaiting_payment");
    let code_url = code["code_url"].as_str().unwrap().to_owned();
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{code_url}"
    );
    let printed = pos.expect("printed").await;
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
        json!({"total": 3200, "payer_total": 3200, "currency": "CNY"})
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
    assert_eq!(status["amount"], json!({"total": 3200, "currency": "CNY"}));
    daemon.shutdown().await;
}

/// The same checkout again resumes the job: no second order, no second receipt.
/// Different content under the same number is refused.
#[tokio::test]
async fn identical_checkout_resumes_and_different_content_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut first = daemon.connect().await;
    first.send(checkout("T0000000001", 500)).await;
    first.expect("accepted").await;
    let code_url = first.expect("code_url").await["code_url"].clone();
    first.expect("printed").await;

    let mut retry = daemon.connect().await;
    retry.send(checkout("T0000000001", 500)).await;
    let accepted = retry.expect("accepted").await;
    assert_eq!(accepted["resumed"], true);
    assert_eq!(accepted["state"], "awaiting_payment");
    assert_eq!(retry.expect("code_url").await["code_url"], code_url);
    retry.expect("printed").await;
    retry.silent_for(Duration::from_millis(200)).await;
    assert_eq!(daemon.receipts().len(), 1, "no reprint");
    assert_eq!(
        daemon
            .sandbox
            .as_ref()
            .unwrap()
            .current_code_url("T0000000001")
            .unwrap(),
        code_url.as_str().unwrap(),
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
    retry.send(checkout("T0000000001", 500)).await;
    assert_eq!(retry.expect("accepted").await["state"], "paid");
    retry.expect("code_url").await;
    retry.expect("printed").await;
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
    pos.send(request).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;
    pos.send(json!({"op": "sandbox_pay", "id": "p", "out_trade_no": "T0000000002"}))
        .await;
    let paid = pos.expect("paid").await;
    assert_eq!(paid["id"], "p", "only the sandbox_pay request reports it");
    pos.silent_for(Duration::from_millis(200)).await;
    daemon.shutdown().await;
}

/// cancel → cancelling at once, closed{cancelled} once the order is closed.
#[tokio::test]
async fn cancel_closes_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000003", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;

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
    let daemon = Daemon::start_with(
        dir.path(),
        Options {
            config,
            ..Options::default()
        },
    )
    .await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000004", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;

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

/// An order nobody pays is closed at time_expire.
#[tokio::test]
async fn unpaid_order_is_closed_at_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config();
    config.order_ttl = Duration::from_millis(400);
    let daemon = Daemon::start_with(
        dir.path(),
        Options {
            config,
            ..Options::default()
        },
    )
    .await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000005", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;
    let closed = pos.expect("closed").await;
    assert_eq!(closed["reason"], "expired");
    assert!(
        daemon.sandbox.as_ref().unwrap().pay("T0000000005").is_err(),
        "closed at WeChat Pay too"
    );
    daemon.shutdown().await;
}

/// The daemon restarts mid-payment: the job is resumed from the journal, the payment is
/// still reported, and nothing is placed or printed twice.
#[tokio::test]
async fn restart_mid_payment_still_reports_paid() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000006", 880)).await;
    pos.expect("accepted").await;
    let code_url = pos.expect("code_url").await["code_url"].clone();
    pos.expect("printed").await;
    daemon.shutdown().await;
    assert!(
        !dir.path().join("wxprint.sock").exists(),
        "socket removed on shutdown"
    );
    assert!(
        pos.recv_or_eof().await.is_none(),
        "connections closed on shutdown"
    );

    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000006", 880)).await;
    let accepted = pos.expect("accepted").await;
    assert_eq!(accepted["resumed"], true);
    assert_eq!(pos.expect("code_url").await["code_url"], code_url);
    pos.expect("printed").await;
    daemon.sandbox.as_ref().unwrap().pay("T0000000006").unwrap();
    let paid = pos.expect("paid").await;
    assert_eq!(paid["amount"]["total"], 880);
    assert_eq!(
        daemon.receipts().len(),
        1,
        "printed once across the restart"
    );
    assert_eq!(
        daemon
            .sandbox
            .as_ref()
            .unwrap()
            .current_code_url("T0000000006")
            .unwrap(),
        code_url.as_str().unwrap(),
        "not placed again: the printed QR stayed the live one"
    );
    daemon.shutdown().await;
}

/// A job whose time_expire passed while the daemon was down is closed on start.
#[tokio::test]
async fn order_expired_while_down_is_closed_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config();
    config.order_ttl = Duration::from_millis(300);
    config.poll.fast = Duration::from_secs(60);
    let daemon = Daemon::start_with(
        dir.path(),
        Options {
            config,
            ..Options::default()
        },
    )
    .await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("T0000000007", 100);
    request["follow"] = json!(false);
    pos.send(request).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;
    daemon.shutdown().await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000007", 100)).await;
    assert_eq!(pos.expect("accepted").await["resumed"], true);
    pos.expect("code_url").await;
    pos.expect("printed").await;
    assert_eq!(pos.expect("closed").await["reason"], "expired");
    daemon.shutdown().await;
}

/// `watch` sees every job's events, from any connection.
#[tokio::test]
async fn watchers_see_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut watcher = daemon.connect().await;
    watcher.send(json!({"op": "watch", "id": "w"})).await;
    // The watch is registered when the daemon answers a later request on the connection.
    assert_eq!(watcher.call(json!({"op": "ping"})).await["event"], "pong");

    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000008", 100)).await;
    for name in ["accepted", "code_url", "printed"] {
        let m = watcher.expect(name).await;
        assert_eq!(m["out_trade_no"], "T0000000008");
        assert_eq!(m["id"], "w");
    }
    pos.send(json!({"op": "sandbox_pay", "out_trade_no": "T0000000008"}))
        .await;
    assert_eq!(watcher.expect("paid").await["out_trade_no"], "T0000000008");
    daemon.shutdown().await;
}

/// `reprint` prints the same QR again; `test_print` and `printer` work without an order.
#[tokio::test]
async fn reprint_test_print_and_printer_status() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("T0000000009", 100);
    request["follow"] = json!(false);
    pos.send(request).await;
    pos.expect("accepted").await;
    let code_url = pos.expect("code_url").await["code_url"]
        .as_str()
        .unwrap()
        .to_owned();
    pos.expect("printed").await;

    let reprinted = pos
        .call(json!({"op": "reprint", "id": "r", "out_trade_no": "T0000000009"}))
        .await;
    assert_eq!(reprinted["event"], "printed");
    assert_eq!(reprinted["id"], "r");
    let receipts = daemon.receipts();
    assert_eq!(receipts.len(), 2);
    for r in &receipts {
        assert_eq!(
            decode_qr(&std::fs::read(r).unwrap(), 576),
            vec![code_url.clone()]
        );
    }

    let test = pos.call(json!({"op": "test_print"})).await;
    assert_eq!(test["event"], "printed");
    assert!(test.get("out_trade_no").is_none());
    let page = std::fs::read(test["location"].as_str().unwrap()).unwrap();
    assert_eq!(
        decode_qr(&page, 576).len(),
        1,
        "the test page carries a sample QR"
    );

    let printer = pos.call(json!({"op": "printer"})).await;
    assert_eq!(printer["event"], "printer");
    assert_eq!(
        printer["online"],
        serde_json::Value::Null,
        "the file transport cannot tell"
    );
    assert_eq!(printer["paper"], "ok");

    let pong = pos.call(json!({"op": "ping", "id": "p"})).await;
    assert_eq!(
        pong,
        json!({"id": "p", "event": "pong", "version": env!("CARGO_PKG_VERSION"), "protocol": 1})
    );
    daemon.shutdown().await;
}

/// Every malformed request gets an error naming what is wrong, the connection stays
/// usable, and a checkout running on another connection is not disturbed.
#[tokio::test]
async fn bad_input_gets_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut busy = daemon.connect().await;
    busy.send(checkout("T0000000010", 100)).await;
    busy.expect("accepted").await;
    busy.expect("code_url").await;
    busy.expect("printed").await;

    let mut pos = daemon.connect().await;
    pos.send_raw(b"{\"op\": \"ping\", \n").await;
    let m = pos.expect("error").await;
    assert_eq!(m["error"]["code"], "invalid_json");

    let order = |o: serde_json::Value| json!({"op": "checkout", "id": "bad", "order": o});
    let cases = [
        (json!({"id": "x"}), "op"),
        (json!({"op": 5}), "op"),
        (json!({"op": "ping", "id": 7}), "id"),
        (json!({"op": "ping", "verbose": true}), "verbose"),
        (json!({"op": "status"}), "out_trade_no"),
        (
            json!({"op": "status", "out_trade_no": "abc"}),
            "out_trade_no",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": 0}}),
            ),
            "order.amount.total",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": -1}}),
            ),
            "order.amount.total",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": 1.5}}),
            ),
            "order.amount.total",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": "100"}}),
            ),
            "order.amount.total",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": 10_000_000_001i64}}),
            ),
            "order.amount.total",
        ),
        (
            order(json!({"out_trade_no": "T1", "description": "x", "amount": {"total": 1}})),
            "order.out_trade_no",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011/../x", "description": "x", "amount": {"total": 1}}),
            ),
            "order.out_trade_no",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x".repeat(128), "amount": {"total": 1}}),
            ),
            "order.description",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "Latte 😀", "amount": {"total": 1}}),
            ),
            "order.description",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": 1, "currency": "USD"}}),
            ),
            "order.amount.currency",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": 1}, "tip": 1}),
            ),
            "order.tip",
        ),
        (
            order(
                json!({"out_trade_no": "T0000000011", "description": "x", "amount": {"total": 1}, "time_expire": "soon"}),
            ),
            "order.time_expire",
        ),
    ];
    for (request, field) in cases {
        let (code, m) = pos.call_error(request.clone()).await;
        assert_eq!(code, "invalid_request", "{request} → {m}");
        assert_eq!(m["error"]["field"], field, "{request} → {m}");
        assert!(
            m["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field.rsplit('.').next().unwrap()),
            "{m}"
        );
    }
    let (code, m) = pos.call_error(json!({"op": "refund", "id": "u"})).await;
    assert_eq!(code, "unknown_op");
    assert_eq!(m["id"], "u");
    let (code, m) = pos
        .call_error(json!({"op": "status", "out_trade_no": "T9999999999"}))
        .await;
    assert_eq!(code, "order_not_found");
    assert_eq!(m["out_trade_no"], "T9999999999");
    assert_eq!(
        pos.call_error(json!({"op": "cancel", "out_trade_no": "T9999999999"}))
            .await
            .0,
        "order_not_found"
    );
    assert_eq!(
        pos.call_error(json!({"op": "sandbox_pay", "out_trade_no": "T9999999999"}))
            .await
            .0,
        "order_not_found"
    );
    assert_eq!(
        pos.call_error(json!({"op": "reprint", "out_trade_no": "T9999999999"}))
            .await
            .0,
        "order_not_found"
    );
    // Nothing was stored for the refused checkouts.
    assert_eq!(
        pos.call_error(json!({"op": "status", "out_trade_no": "T0000000011"}))
            .await
            .0,
        "order_not_found"
    );

    // Still usable, and the other job is untouched.
    assert_eq!(pos.call(json!({"op": "ping"})).await["event"], "pong");
    pos.send(json!({"op": "sandbox_pay", "out_trade_no": "T0000000010"}))
        .await;
    pos.expect("paid").await;
    busy.expect("paid").await;

    // A line over 64 KiB: line_too_long, then the connection may close.
    let mut huge = vec![b'x'; 70_000];
    huge.push(b'\n');
    pos.send_raw(&huge).await;
    let m = pos.expect("error").await;
    assert_eq!(m["error"]["code"], "line_too_long");
    assert!(pos.recv_or_eof().await.is_none());
    // A line of exactly 64 KiB with its newline is accepted (as far as framing goes).
    let mut pos = daemon.connect().await;
    let mut max = b"{\"op\":\"ping\",\"id\":\"m\"}".to_vec();
    max.resize(65_535, b' ');
    max.push(b'\n');
    pos.send_raw(&max).await;
    assert_eq!(pos.expect("pong").await["id"], "m");
    daemon.shutdown().await;
}

/// A backend that refuses every order the way WeChat Pay refuses a misconfigured
/// merchant, and is not the sandbox.
struct RefusingBackend;

impl PaymentBackend for RefusingBackend {
    fn name(&self) -> &'static str {
        "refusing"
    }
    fn place<'a>(&'a self, _: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        Box::pin(async {
            Err(PaymentError::Rejected {
                code: "MCH_NOT_EXISTS".into(),
                message: "商户号不存在".into(),
                request_id: Some("08F8B1C2-0001".into()),
            })
        })
    }
    fn query<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        Box::pin(async move { Err(PaymentError::OrderNotFound(no.into())) })
    }
    fn close<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        Box::pin(async { Ok(()) })
    }
}

/// WeChat Pay refusing the order fails the job with its own code; `sandbox_pay` is refused
/// on a real backend.
#[tokio::test]
async fn refused_order_fails_with_wechatpay_code() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        backend: Some(Arc::new(RefusingBackend)),
        ..Options::default()
    };
    let daemon = Daemon::start_with(dir.path(), options).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000012", 100)).await;
    pos.expect("accepted").await;
    let failed = pos.expect("failed").await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error"]["code"], "wechatpay");
    assert_eq!(failed["error"]["wechatpay_code"], "MCH_NOT_EXISTS");
    assert_eq!(failed["error"]["request_id"], "08F8B1C2-0001");
    assert!(daemon.receipts().is_empty(), "no QR without an order");
    let (code, _) = pos
        .call_error(json!({"op": "sandbox_pay", "out_trade_no": "T0000000012"}))
        .await;
    assert_eq!(code, "sandbox_only");
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000012"}))
        .await;
    assert_eq!(status["error"]["wechatpay_code"], "MCH_NOT_EXISTS");
    daemon.shutdown().await;
}

/// A loopback order (technician test) goes through the journal and the printer but is placed
/// on the daemon's built-in sandbox, never on the real backend.
#[tokio::test]
async fn loopback_orders_never_reach_the_real_backend() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        backend: Some(Arc::new(RefusingBackend)),
        ..Options::default()
    };
    let daemon = Daemon::start_with(dir.path(), options).await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("LOOP000001", 1);
    request["loopback"] = json!(true);
    pos.send(request).await;
    pos.expect("accepted").await;
    let code_url = pos.expect("code_url").await["code_url"].clone();
    pos.expect("printed").await;
    let receipt = std::fs::read(&daemon.receipts()[0]).unwrap();
    assert_eq!(
        decode_qr(&receipt, 576),
        vec![code_url.as_str().unwrap().to_owned()]
    );
    assert!(
        receipt.windows(7).any(|w| w == b"SANDBOX"),
        "the receipt says it is not a payment"
    );
    let mut pay = daemon.connect().await;
    pay.send(json!({"op": "sandbox_pay", "out_trade_no": "LOOP000001"}))
        .await;
    pay.expect("paid").await;
    pos.expect("paid").await;
    daemon.shutdown().await;
}

/// A printer that fails every write.
struct BrokenPrinter;

impl Printer for BrokenPrinter {
    fn describe(&self) -> String {
        "broken".into()
    }
    fn write_job(&mut self, _: &str, _: &[u8]) -> Result<Option<String>, PrinterError> {
        Err(PrinterError::Io {
            target: "/dev/wxprint-printer".into(),
            message: "No such device".into(),
        })
    }
    fn status(&mut self) -> PrinterStatus {
        PrinterStatus {
            online: Some(false),
            paper: "unknown".into(),
            cover_open: None,
            error: Some("No such device".into()),
            transport: None,
        }
    }
}

/// A printer fault is reported with code `printer` and does not lose the payable order.
#[tokio::test]
async fn printer_fault_keeps_the_order_payable() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        printer: Some(Box::new(BrokenPrinter)),
        ..Options::default()
    };
    let daemon = Daemon::start_with(dir.path(), options).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000013", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    // First the POS hears the receipt is waiting for the printer…
    let waiting = pos.expect("printer").await;
    assert_eq!(waiting["print"], "pending");
    assert_eq!(waiting["online"], false);
    assert!(
        waiting["error"]
            .as_str()
            .unwrap()
            .contains("No such device"),
        "{waiting}"
    );
    // …then, after print_timeout, that it failed; the order stays payable.
    let fault = pos.expect("error").await;
    assert_eq!(fault["error"]["code"], "printer");
    assert_eq!(fault["print"], "failed");
    assert_eq!(fault["state"], "awaiting_payment");
    assert_eq!(
        pos.call_error(json!({"op": "test_print"})).await.0,
        "printer"
    );
    // The stream goes on: the order is still paid and reported.
    let mut pay = daemon.connect().await;
    pay.send(json!({"op": "sandbox_pay", "out_trade_no": "T0000000013"}))
        .await;
    pay.expect("paid").await;
    pos.expect("paid").await;
    daemon.shutdown().await;
}

/// A printer that holds each write until the test lets it go.
struct SlowPrinter {
    started: mpsc::Sender<()>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    written: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Printer for SlowPrinter {
    fn describe(&self) -> String {
        "slow".into()
    }
    fn write_job(&mut self, _: &str, bytes: &[u8]) -> Result<Option<String>, PrinterError> {
        let _ = self.started.send(());
        let _ = self.release.lock().unwrap().recv();
        self.written.lock().unwrap().push(bytes.to_vec());
        Ok(None)
    }
    fn status(&mut self) -> PrinterStatus {
        PrinterStatus {
            online: Some(true),
            paper: "ok".into(),
            cover_open: Some(false),
            error: None,
            transport: None,
        }
    }
}

/// SIGTERM while a receipt is being written: new requests get `shutting_down`, the
/// receipt is finished and journaled, and the socket file is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_receipt_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let written = Arc::new(Mutex::new(Vec::new()));
    let printer = SlowPrinter {
        started: started_tx,
        release: Arc::new(Mutex::new(release_rx)),
        written: written.clone(),
    };
    let options = Options {
        printer: Some(Box::new(printer)),
        ..Options::default()
    };
    let mut daemon = Daemon::start_with(dir.path(), options).await;
    let mut pos = daemon.connect().await;
    let mut other = daemon.connect().await;
    pos.send(checkout("T0000000014", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    tokio::task::spawn_blocking(move || started.recv_timeout(support::TIMEOUT).unwrap())
        .await
        .unwrap();

    daemon.begin_shutdown();
    // Wait until the daemon has stopped accepting, then speak on an open connection.
    let socket = daemon.socket.clone();
    for _ in 0..200 {
        if std::os::unix::net::UnixStream::connect(&socket).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (code, _) = other.call_error(json!({"op": "ping"})).await;
    assert_eq!(code, "shutting_down");
    assert_eq!(
        other.call_error(checkout("T0000000015", 100)).await.0,
        "shutting_down"
    );

    release.send(()).unwrap();
    assert_eq!(pos.expect("printed").await["print"], "printed");
    daemon.stopped().await;
    assert_eq!(written.lock().unwrap().len(), 1);
    assert!(!socket.exists(), "socket removed");

    // The journal knows the receipt was printed: a restart does not print it again.
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000014"}))
        .await;
    assert_eq!(status["print"], "printed");
    assert_eq!(status["state"], "awaiting_payment");
    assert!(daemon.receipts().is_empty());
    daemon.shutdown().await;
}

/// The socket is 0660, a live daemon's socket is never taken over, a stale one is.
#[tokio::test]
async fn socket_file_rules() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);
    let e = wxprint::server::bind(&daemon.socket).unwrap_err();
    assert!(matches!(e, wxprint::server::ServerError::InUse(_)), "{e}");
    assert!(e.to_string().contains("already listening"));
    let socket = daemon.socket.clone();
    daemon.shutdown().await;

    // A stale socket file (daemon killed) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    drop(stale);
    assert!(socket.exists());
    let listener = wxprint::server::bind(&socket).unwrap();
    drop(listener);

    // A regular file in the way is never deleted.
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let e = wxprint::server::bind(&file).unwrap_err();
    assert!(
        matches!(e, wxprint::server::ServerError::NotASocket(_)),
        "{e}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
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
            pos.send(checkout(&no, 100 + i)).await;
            pos.expect("accepted").await;
            pos.expect("code_url").await;
            pos.expect("printed").await;
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

/// A retry of a paid order learns the payment, even after its time_expire.
#[tokio::test]
async fn retry_after_time_expire_still_reports_the_payment() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let expire = wxprint::clock::rfc3339(wxprint::clock::now_ms() + 2_000);
    let mut request = checkout("T0000000016", 100);
    request["order"]["time_expire"] = json!(expire);
    let mut pos = daemon.connect().await;
    pos.send(request.clone()).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;
    daemon.sandbox.as_ref().unwrap().pay("T0000000016").unwrap();
    pos.expect("paid").await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let mut retry = daemon.connect().await;
    retry.send(request).await;
    let accepted = retry.expect("accepted").await;
    assert_eq!(accepted["resumed"], true);
    assert_eq!(accepted["state"], "paid");
    retry.expect("code_url").await;
    retry.expect("printed").await;
    retry.expect("paid").await;
    daemon.shutdown().await;
}

/// Records when orders were placed and closed, around the sandbox.
struct Recording {
    sandbox: Arc<wxprint::payment::sandbox::Sandbox>,
    /// Placements wait for a permit, so a test can hold one in flight.
    gate: Arc<tokio::sync::Semaphore>,
    log: Arc<Mutex<Vec<(&'static str, std::time::Instant)>>>,
}

impl Recording {
    fn new(dir: &std::path::Path, permits: usize) -> Recording {
        Recording {
            sandbox: Arc::new(
                wxprint::payment::sandbox::Sandbox::open(&dir.join("state")).unwrap(),
            ),
            gate: Arc::new(tokio::sync::Semaphore::new(permits)),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }
}

impl PaymentBackend for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn place<'a>(&'a self, o: &'a PlaceOrder) -> BoxFuture<'a, Result<Placed, PaymentError>> {
        Box::pin(async move {
            self.gate.acquire().await.unwrap().forget();
            let placed = self.sandbox.place(o).await;
            self.log
                .lock()
                .unwrap()
                .push(("place", std::time::Instant::now()));
            placed
        })
    }
    fn query<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<TradeState, PaymentError>> {
        self.sandbox.query(no)
    }
    fn close<'a>(&'a self, no: &'a str) -> BoxFuture<'a, Result<(), PaymentError>> {
        self.log
            .lock()
            .unwrap()
            .push(("close", std::time::Instant::now()));
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
    pos.send(checkout("T0000000017", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    pos.expect("printed").await;
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
    let options = Options {
        backend: Some(Arc::new(backend)),
        ..Options::default()
    };
    let daemon = Daemon::start_with(dir.path(), options).await;
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

/// A client that sends without ever reading cannot hold up a shutdown.
#[tokio::test]
async fn shutdown_does_not_wait_for_a_client_that_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut rude = daemon.connect().await;
    let pings = "{\"op\":\"ping\"}\n".repeat(20_000);
    // Write from another task: the daemon stops reading once its queue to us is full.
    let writer = tokio::spawn(async move {
        rude.send_raw(pings.as_bytes()).await;
        rude
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    daemon.shutdown().await;
    writer.abort();
}

/// A `watch` goes on after the client closes its sending side.
#[tokio::test]
async fn watch_survives_a_half_close() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut watcher = daemon.connect().await;
    watcher.send(json!({"op": "watch"})).await;
    watcher.close_write().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000019", 100)).await;
    watcher.expect("accepted").await;
    watcher.expect("code_url").await;
    daemon.shutdown().await;
}
