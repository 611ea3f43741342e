//! `refund` (extension): only a paid order, never more than was paid, one `out_refund_no`
//! one refund (a retry resumes it, other content is refused), `status` lists the refunds —
//! over the socket, on the sandbox backend, and after a restart from the journal.

use serde_json::{Value, json};

use crate::support::{Client, Daemon, checkout};

/// Check out order `no` for `total` and pay it at the sandbox (from another connection,
/// as a customer would); `pos` reads its checkout to `paid`.
async fn paid(daemon: &Daemon, pos: &mut Client, no: &str, total: i64) {
    pos.checkout_printed(checkout(no, total)).await;
    pay(daemon, pos, no).await;
}

async fn pay(daemon: &Daemon, pos: &mut Client, no: &str) {
    let mut customer = daemon.connect().await;
    customer
        .send(json!({"op": "sandbox_pay", "out_trade_no": no}))
        .await;
    customer.expect("paid").await;
    pos.expect("paid").await;
}

fn refund(no: &str, amount: i64, out_refund_no: Option<&str>) -> Value {
    let mut refund = json!({"amount": amount, "reason": "returned goods"});
    if let Some(r) = out_refund_no {
        refund["out_refund_no"] = r.into();
    }
    json!({"op": "refund", "id": "rf", "out_trade_no": no, "refund": refund})
}

/// Send a refund and read its events to the end: (refund_accepted, the final event).
async fn refunded(pos: &mut Client, request: Value) -> (Value, Value) {
    pos.send(request).await;
    let accepted = pos.expect("refund_accepted").await;
    let done = pos.recv().await;
    (accepted, done)
}

#[tokio::test]
async fn full_and_partial_refunds_end_refunded_and_are_listed_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    paid(&daemon, &mut pos, "T0000000101", 3200).await;

    let (accepted, done) = refunded(&mut pos, refund("T0000000101", 1000, None)).await;
    assert_eq!(accepted["out_refund_no"], "T0000000101-R1", "{accepted}");
    assert_eq!(
        (&accepted["state"], &accepted["resumed"], &accepted["id"]),
        (&json!("processing"), &json!(false), &json!("rf"))
    );
    assert_eq!(done["event"], "refunded", "{done}");
    assert_eq!(done["out_refund_no"], "T0000000101-R1");
    assert_eq!(
        done["amount"],
        json!({"refund": 1000, "payer_refund": 1000, "currency": "CNY"})
    );
    assert!(
        done["refund_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("50"))
    );

    // The rest, under the POS's own number.
    let (_, done) = refunded(&mut pos, refund("T0000000101", 2200, Some("RF-2"))).await;
    assert_eq!(
        (&done["event"], &done["out_refund_no"]),
        (&json!("refunded"), &json!("RF-2"))
    );

    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000101"}))
        .await;
    assert_eq!(status["state"], "paid", "a refunded order stays paid");
    let refunds = status["refunds"].as_array().expect("refunds listed");
    let listed: Vec<_> = refunds
        .iter()
        .map(|r| {
            (
                r["out_refund_no"].clone(),
                r["state"].clone(),
                r["amount"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (json!("T0000000101-R1"), json!("refunded"), json!(1000)),
            (json!("RF-2"), json!("refunded"), json!(2200))
        ]
    );
    assert_eq!(refunds[0]["reason"], "returned goods");
    daemon.shutdown().await;

    // From the journal after a restart.
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000101"}))
        .await;
    assert_eq!(status["refunds"].as_array().map(Vec::len), Some(2));
    let (code, refused) = pos.call_error(refund("T0000000101", 1, None)).await;
    assert_eq!(code, "refund_too_large", "nothing is left: {refused}");
}

#[tokio::test]
async fn refunds_that_break_the_rules_are_refused_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;

    let (code, refused) = pos.call_error(refund("T0000000199", 100, None)).await;
    assert_eq!(code, "order_not_found", "{refused}");

    pos.checkout_printed(checkout("T0000000102", 800)).await;
    let (code, refused) = pos.call_error(refund("T0000000102", 100, None)).await;
    assert_eq!(code, "not_refundable", "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("only a paid order"), "{message}");
    assert_eq!(refused["state"], "awaiting_payment");

    pay(&daemon, &mut pos, "T0000000102").await;
    let (code, refused) = pos.call_error(refund("T0000000102", 801, None)).await;
    assert_eq!(code, "refund_too_large", "{refused}");
    assert_eq!(refused["error"]["field"], "refund.amount");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("￥8.01") && message.contains("at most ￥8.00"),
        "{message}"
    );

    let (_, done) = refunded(&mut pos, refund("T0000000102", 500, Some("RF-102"))).await;
    assert_eq!(done["event"], "refunded");
    // The same number with other content is another refund's number: refused.
    let (code, refused) = pos
        .call_error(refund("T0000000102", 300, Some("RF-102")))
        .await;
    assert_eq!(code, "duplicate_refund", "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("new out_refund_no")
    );
    // Only 300 is left.
    let (code, _) = pos.call_error(refund("T0000000102", 301, None)).await;
    assert_eq!(code, "refund_too_large");
    let (code, refused) = pos
        .call_error(json!({"op": "refund", "out_trade_no": "T0000000102",
                           "refund": {"amount": "3"}}))
        .await;
    assert_eq!(
        (code.as_str(), &refused["error"]["field"]),
        ("invalid_request", &json!("refund.amount"))
    );
}

#[tokio::test]
async fn a_repeated_refund_resumes_and_never_refunds_twice() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    paid(&daemon, &mut pos, "T0000000103", 1000).await;

    let (first, done) = refunded(&mut pos, refund("T0000000103", 600, None)).await;
    assert_eq!(done["event"], "refunded");
    // A POS retry (it lost the answer): the same refund, answered as it ended.
    let (again, replay) = refunded(&mut pos, refund("T0000000103", 600, None)).await;
    assert_eq!(again["out_refund_no"], first["out_refund_no"]);
    assert_eq!(
        (&again["resumed"], &again["state"]),
        (&json!(true), &json!("refunded"))
    );
    assert_eq!(replay, done);
    // Named, the same.
    let no = first["out_refund_no"].as_str().unwrap();
    let (named, _) = refunded(&mut pos, refund("T0000000103", 600, Some(no))).await;
    assert_eq!(named["resumed"], true);

    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000103"}))
        .await;
    assert_eq!(
        status["refunds"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    // A different refund gets the next number.
    let (next, done) = refunded(&mut pos, refund("T0000000103", 400, None)).await;
    assert_eq!(next["out_refund_no"], "T0000000103-R2");
    assert_eq!(done["event"], "refunded");
}

#[tokio::test]
async fn a_retry_maps_to_its_own_refund_after_another_was_made_since() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    paid(&daemon, &mut pos, "T0000000104", 3200).await;

    let (first, done) = refunded(&mut pos, refund("T0000000104", 1000, None)).await;
    assert_eq!(first["out_refund_no"], "T0000000104-R1");
    // Another refund of the order, unnamed and named, before the POS retries the first.
    let (second, _) = refunded(&mut pos, refund("T0000000104", 500, None)).await;
    assert_eq!(second["out_refund_no"], "T0000000104-R2");
    refunded(&mut pos, refund("T0000000104", 200, Some("RF-104"))).await;

    // The retry of the first (it lost the answer) is the first, not a third refund.
    let (again, replay) = refunded(&mut pos, refund("T0000000104", 1000, None)).await;
    assert_eq!(
        (&again["out_refund_no"], &again["resumed"]),
        (&json!("T0000000104-R1"), &json!(true)),
        "{again}"
    );
    assert_eq!(replay, done);
    // So is a retry of the second.
    let (again, _) = refunded(&mut pos, refund("T0000000104", 500, None)).await;
    assert_eq!(again["out_refund_no"], "T0000000104-R2");

    // The same amount for another reason is another refund (the order's fourth).
    let mut other_reason = refund("T0000000104", 1000, None);
    other_reason["refund"]["reason"] = json!("second cup returned");
    let (fourth, done) = refunded(&mut pos, other_reason).await;
    assert_eq!(
        (&fourth["out_refund_no"], &fourth["resumed"]),
        (&json!("T0000000104-R4"), &json!(false))
    );
    assert_eq!(done["event"], "refunded");
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000104"}))
        .await;
    let amounts: Vec<_> = status["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].clone())
        .collect();
    assert_eq!(amounts, [json!(1000), json!(500), json!(200), json!(1000)]);
}
