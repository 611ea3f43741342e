//! The protocol as a POS sees it: parsing, field paths, limits and event spellings.

use super::*;

fn err(line: &str) -> (Option<String>, RequestError) {
    parse_request(line.as_bytes()).unwrap_err()
}

fn field_of(line: &str) -> String {
    match err(line).1 {
        RequestError::InvalidRequest { field, .. } => field,
        other => panic!("expected invalid_request, got {other:?}"),
    }
}

const GOOD: &str = r#"{"op":"checkout","id":"r1","order":{"out_trade_no":"T20261126001","description":"Latte x2","amount":{"total":3200}},"receipt":{"lines":[{"name":"Latte","quantity":2,"amount":3200}]}}"#;

#[test]
fn parses_a_checkout_with_defaults() {
    let req = parse_request(GOOD.as_bytes()).unwrap();
    assert_eq!(req.id.as_deref(), Some("r1"));
    let Op::Checkout(c) = req.op else { panic!() };
    assert_eq!(
        c.order.amount.currency, None,
        "filled in by the daemon: the configured currency"
    );
    assert!(c.follow);
    assert_eq!(c.receipt.unwrap().lines.unwrap()[0].quantity, 2);
}

#[test]
fn request_round_trips_through_to_json() {
    let req = parse_request(GOOD.as_bytes()).unwrap();
    assert_eq!(parse_request(req.to_json().as_bytes()).unwrap(), req);
    let ping = Request {
        id: None,
        op: Op::Ping,
    };
    assert_eq!(ping.to_json(), r#"{"op":"ping"}"#);
}

#[test]
fn classifies_malformed_lines() {
    assert!(matches!(err("{not json").1, RequestError::InvalidJson(_)));
    assert_eq!(field_of("[1,2]"), "op");
    assert_eq!(field_of(r#"{"id":"x"}"#), "op");
    assert_eq!(field_of(r#"{"op":7}"#), "op");
    assert_eq!(field_of(r#"{"op":"ping","id":5}"#), "id");
    let (id, e) = err(r#"{"op":"frobnicate","id":"q"}"#);
    assert_eq!(id.as_deref(), Some("q"));
    assert_eq!(e, RequestError::UnknownOp("frobnicate".into()));
}

#[test]
fn names_the_field_at_fault() {
    let with = |order: &str| format!(r#"{{"op":"checkout","order":{order}}}"#);
    assert_eq!(
        field_of(&with(
            r#"{"out_trade_no":"T1234567","description":"x","amount":{"total":1},"colour":"red"}"#
        )),
        "order.colour"
    );
    assert_eq!(
        field_of(&with(
            r#"{"out_trade_no":"T1234567","description":"x","amount":{"total":"12"}}"#
        )),
        "order.amount.total"
    );
    assert_eq!(
        field_of(&with(
            r#"{"out_trade_no":"T1234567","description":"x","amount":{"total":12.5}}"#
        )),
        "order.amount.total"
    );
    assert_eq!(
        field_of(&with(r#"{"out_trade_no":"T1234567","description":"x"}"#)),
        "order.amount"
    );
    assert_eq!(field_of(r#"{"op":"ping","extra":1}"#), "extra");
    assert_eq!(field_of(r#"{"op":"status"}"#), "out_trade_no");
}

#[test]
fn enforces_wechat_pay_limits() {
    let with = |no: &str, desc: &str, total: &str| {
        format!(
            r#"{{"op":"checkout","order":{{"out_trade_no":"{no}","description":"{desc}","amount":{{"total":{total}}}}}}}"#
        )
    };
    for total in ["0", "-5", "10000000001", "99999999999999999999"] {
        assert_eq!(
            field_of(&with("T1234567", "x", total)),
            "order.amount.total",
            "{total}"
        );
    }
    assert!(parse_request(with("T1234567", "x", "10000000000").as_bytes()).is_ok());
    for no in [
        "T123",
        "T1234567890123456789012345678901234",
        "T12 3456",
        "T123456#",
    ] {
        assert_eq!(field_of(&with(no, "x", "1")), "order.out_trade_no", "{no}");
    }
    assert!(parse_request(with("a_b-c|d*e", "x", "1").as_bytes()).is_ok());
    assert_eq!(
        field_of(&with("T1234567", &"x".repeat(128), "1")),
        "order.description"
    );
    assert!(parse_request(with("T1234567", &"拿".repeat(127), "1").as_bytes()).is_ok());
    assert_eq!(
        field_of(&with("T1234567", "coffee ☕🍰", "1")),
        "order.description"
    );
    assert_eq!(field_of(&with("T1234567", "", "1")), "order.description");
}

#[test]
fn events_serialise_as_documented() {
    let m = Message::new(
        Some("r1".into()),
        Event::Accepted {
            out_trade_no: "T1".into(),
            state: JobState::Ordering,
            resumed: false,
        },
    );
    assert_eq!(
        m.to_line(),
        "{\"id\":\"r1\",\"event\":\"accepted\",\"out_trade_no\":\"T1\",\"state\":\"ordering\",\"resumed\":false}\n"
    );
    let e = Message::new(
        None,
        Event::error(ErrorBody::new(ErrorCode::UnknownOp, "x")),
    );
    assert_eq!(
        e.to_line(),
        "{\"event\":\"error\",\"error\":{\"code\":\"unknown_op\",\"message\":\"x\"}}\n"
    );
    let back: Message = serde_json::from_str(&m.to_line()).unwrap();
    assert_eq!(back, m);
}

#[test]
fn a_paid_event_from_an_older_daemon_still_parses() {
    // Before `payer_currency`: a newer CLI talking to a daemon not yet restarted.
    let line = r#"{"id":"r1","event":"paid","out_trade_no":"T1","state":"paid","transaction_id":"4200","success_time":"2026-11-26T12:00:05+08:00","amount":{"total":3200,"payer_total":3200,"currency":"CNY"}}"#;
    let m: Message = serde_json::from_str(line).expect("an older daemon's paid event");
    let Event::Paid { amount, .. } = m.event else {
        panic!("paid");
    };
    assert_eq!((amount.total, amount.payer_currency.as_str()), (3200, ""));
}
