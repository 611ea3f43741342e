//! Bad input: every malformed request gets an error naming what is wrong (code, field,
//! message), the connection stays usable, and nothing is stored for a refused checkout.

use serde_json::{Value, json};

use crate::support::{Client, Daemon, checkout};

/// A checkout request around `order`.
fn order(o: Value) -> Value {
    json!({"op": "checkout", "id": "bad", "order": o})
}

/// Requests refused before any order is looked at, each with the field its error names.
fn malformed_requests() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"id": "x"}), "op"),
        (json!({"op": 5}), "op"),
        (json!({"op": "ping", "id": 7}), "id"),
        (json!({"op": "ping", "verbose": true}), "verbose"),
        (json!({"op": "status"}), "out_trade_no"),
        (
            json!({"op": "status", "out_trade_no": "abc"}),
            "out_trade_no",
        ),
    ]
}

/// Checkouts whose amount is refused.
fn refused_totals() -> Vec<(Value, &'static str)> {
    vec![
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
    ]
}

/// Checkouts refused for another order field.
fn refused_order_fields() -> Vec<(Value, &'static str)> {
    vec![
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
    ]
}

/// Operations on an order nobody placed answer `order_not_found`, naming it.
async fn unknown_orders_are_not_found(pos: &mut Client) {
    let (code, m) = pos
        .call_error(json!({"op": "status", "out_trade_no": "T9999999999"}))
        .await;
    assert_eq!(code, "order_not_found");
    assert_eq!(m["out_trade_no"], "T9999999999");
    for op in ["cancel", "sandbox_pay", "reprint"] {
        assert_eq!(
            pos.call_error(json!({"op": op, "out_trade_no": "T9999999999"}))
                .await
                .0,
            "order_not_found",
            "{op}"
        );
    }
    // Nothing was stored for the refused checkouts.
    assert_eq!(
        pos.call_error(json!({"op": "status", "out_trade_no": "T0000000011"}))
            .await
            .0,
        "order_not_found"
    );
}

/// A line over 64 KiB: line_too_long, then the connection may close; a line of exactly
/// 64 KiB with its newline is accepted (as far as framing goes).
async fn line_limit(daemon: &Daemon, mut pos: Client) {
    let mut huge = vec![b'x'; 70_000];
    huge.push(b'\n');
    pos.send_raw(&huge).await;
    let m = pos.expect("error").await;
    assert_eq!(m["error"]["code"], "line_too_long");
    assert!(pos.recv_or_eof().await.is_none());
    let mut pos = daemon.connect().await;
    let mut max = b"{\"op\":\"ping\",\"id\":\"m\"}".to_vec();
    max.resize(65_535, b' ');
    max.push(b'\n');
    pos.send_raw(&max).await;
    assert_eq!(pos.expect("pong").await["id"], "m");
}

/// Every malformed request gets an error naming what is wrong, the connection stays
/// usable, and a checkout running on another connection is not disturbed.
#[tokio::test]
async fn bad_input_gets_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut busy = daemon.connect().await;
    busy.checkout_printed(checkout("T0000000010", 100)).await;

    let mut pos = daemon.connect().await;
    pos.send_raw(b"{\"op\": \"ping\", \n").await;
    let m = pos.expect("error").await;
    assert_eq!(m["error"]["code"], "invalid_json");

    let cases = [
        malformed_requests(),
        refused_totals(),
        refused_order_fields(),
    ];
    for (request, field) in cases.into_iter().flatten() {
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
    let (code, m) = pos.call_error(json!({"op": "frob", "id": "u"})).await;
    assert_eq!(code, "unknown_op");
    assert_eq!(m["id"], "u");
    unknown_orders_are_not_found(&mut pos).await;

    // Still usable, and the other job is untouched.
    assert_eq!(pos.call(json!({"op": "ping"})).await["event"], "pong");
    pos.send(json!({"op": "sandbox_pay", "out_trade_no": "T0000000010"}))
        .await;
    pos.expect("paid").await;
    busy.expect("paid").await;

    line_limit(&daemon, pos).await;
    daemon.shutdown().await;
}
