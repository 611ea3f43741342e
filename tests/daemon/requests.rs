//! Requests judged at the door, over the real socket: every refusal is in wxprint's words
//! (the field, the kind of value received, what is expected — never serde's or Rust's
//! spelling), and every protocol object must be a JSON object (an array read positionally
//! would place a real order).

use serde_json::{Value, json};

use crate::support::{Client, Daemon, checkout};

/// Words that only Rust or serde would write.
const RUST_WORDS: [&str; 9] = [
    "invalid type",
    "expected i64",
    "expected u32",
    "expected a",
    "struct ",
    "Some(",
    "None",
    "sequence",
    "`",
];

/// Send `request`, expect `invalid_request` naming `field`, and check the message is ours.
async fn refused(pos: &mut Client, request: Value, field: &str, received: &str) -> String {
    let (code, m) = pos.call_error(request.clone()).await;
    assert_eq!(code, "invalid_request", "{request} → {m}");
    assert_eq!(m["error"]["field"], field, "{request} → {m}");
    let message = m["error"]["message"].as_str().unwrap().to_owned();
    for word in RUST_WORDS {
        assert!(!message.contains(word), "{word:?} in {message:?}");
    }
    assert!(message.contains(field), "names {field}: {message:?}");
    assert!(message.contains(received), "says {received:?}: {message:?}");
    message
}

fn with_order(order: Value) -> Value {
    json!({"op": "checkout", "follow": false, "order": order})
}

fn order(amount: Value) -> Value {
    json!({"out_trade_no": "T0000000031", "description": "Latte", "amount": amount})
}

/// Requests with a value of the wrong kind: the field named and what its error says came.
fn wrong_types() -> Vec<(Value, &'static str, &'static str)> {
    vec![
        (
            with_order(order(json!({"total": "3200"}))),
            "order.amount.total",
            "the string \"3200\"",
        ),
        (
            with_order(order(json!({"total": 32.5}))),
            "order.amount.total",
            "the number 32.5",
        ),
        (
            with_order(order(json!({"total": {"fen": 1}}))),
            "order.amount.total",
            "a JSON object",
        ),
        (
            with_order(order(json!({"total": null}))),
            "order.amount.total",
            "null",
        ),
        (
            with_order(order(json!({"total": 1, "currency": 156}))),
            "order.amount.currency",
            "the number 156",
        ),
        (
            with_order(json!("T0000000031")),
            "order",
            "the string \"T0000000031\"",
        ),
        (
            json!({"op": "checkout", "order": order(json!({"total": 1})), "follow": "no"}),
            "follow",
            "the string \"no\"",
        ),
        (
            json!({"op": "checkout", "order": order(json!({"total": 1})), "receipt": {"lines": {"name": "x"}}}),
            "receipt.lines",
            "a JSON object",
        ),
        (
            json!({"op": "checkout", "order": order(json!({"total": 1})), "receipt": {"lines": [{"name": "x", "quantity": -2, "amount": 1}]}}),
            "receipt.lines[0].quantity",
            "the number -2",
        ),
        (
            json!({"op": "status", "out_trade_no": 12345678}),
            "out_trade_no",
            "the number 12345678",
        ),
        (
            json!({"op": "ping", "id": ["a"]}),
            "id",
            "an array of 1 items",
        ),
        (json!({"op": true}), "op", "true"),
        (
            json!({"op": "ping", "verbose": true}),
            "verbose",
            "takes no fields",
        ),
        (
            with_order(json!({"description": "x", "amount": {"total": 1}})),
            "order.out_trade_no",
            "missing",
        ),
    ]
}

/// Wrong kinds of value, each refused naming the field, what came and what is expected.
#[tokio::test]
async fn wrong_types_are_refused_in_wxprints_words() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    for (request, field, received) in wrong_types() {
        refused(&mut pos, request, field, received).await;
    }
    let m = refused(
        &mut pos,
        with_order(order(json!({"total": 1, "tip": 5}))),
        "order.amount.tip",
        "tip",
    )
    .await;
    assert!(m.contains("total, currency"), "says what is known: {m}");
    assert_eq!(pos.call(json!({"op": "ping"})).await["event"], "pong");
    daemon.shutdown().await;
}

/// JSON arrays where the protocol has objects are refused and place nothing; the same
/// order as objects is accepted.
#[tokio::test]
async fn arrays_in_place_of_objects_place_no_order() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let no = "ARRAY00002";
    let cases = [
        (
            json!({"op": "checkout", "follow": false, "order": [no, "Latte", [3200]]}),
            "order",
        ),
        (
            with_order(json!({"out_trade_no": no, "description": "Latte", "amount": [3200]})),
            "order.amount",
        ),
        (
            json!({"op": "checkout", "order": order(json!({"total": 1})), "receipt": ["Café", [], "bye"]}),
            "receipt",
        ),
        (
            json!({"op": "checkout", "order": order(json!({"total": 3200})), "receipt": {"lines": [["Latte", 2, 3200]]}}),
            "receipt.lines[0]",
        ),
    ];
    for (request, field) in cases {
        refused(&mut pos, request, field, "an array of").await;
    }
    let sandbox = daemon.sandbox.as_ref().unwrap();
    for no in [no, "T0000000031"] {
        assert_eq!(sandbox.current_code_url(no), None, "{no} was never placed");
        let (code, _) = pos
            .call_error(json!({"op": "status", "out_trade_no": no}))
            .await;
        assert_eq!(code, "order_not_found", "{no} was never stored");
    }
    let mut good = checkout(no, 3200);
    good["follow"] = json!(false);
    pos.checkout_printed(good).await;
    assert!(
        sandbox.current_code_url(no).is_some(),
        "the object form is placed"
    );
    daemon.shutdown().await;
}

/// A new order's `time_expire` is at most two hours ahead (a code_url lives 2 hours) and at
/// least WeChat Pay's minute (a few seconds short is raised to the minute); past is refused.
#[tokio::test]
async fn time_expire_is_between_one_minute_and_two_hours_ahead() {
    use wxprint::clock::{now_ms, parse_rfc3339, rfc3339};
    use wxprint::jobs::{JobsConfig, TIME_EXPIRE_MIN};
    let dir = tempfile::tempdir().unwrap();
    let config = JobsConfig {
        time_expire_min: TIME_EXPIRE_MIN,
        ..crate::support::fast_config()
    };
    let options = crate::support::Options {
        config,
        ..Default::default()
    };
    let daemon = Daemon::start_with(dir.path(), options).await;
    let mut pos = daemon.connect().await;
    let at = |no: &str, ms: i64| {
        let mut request = checkout(no, 100);
        request["follow"] = json!(false);
        request["order"]["time_expire"] = json!(rfc3339(ms));
        request
    };
    let now = now_ms();
    for (no, ms, says) in [
        ("T0000000041", now + 3 * 3_600_000, "at most 2 hours ahead"),
        (
            "T0000000042",
            now + 2 * 3_600_000 + 60_000,
            "at most 2 hours ahead",
        ),
        ("T0000000043", now - 60_000, "already past"),
        ("T0000000046", now + 30_000, "at least 60 s"),
    ] {
        let (code, m) = pos.call_error(at(no, ms)).await;
        assert_eq!(code, "invalid_request", "{m}");
        assert_eq!(m["error"]["field"], "order.time_expire", "{m}");
        assert!(
            m["error"]["message"].as_str().unwrap().contains(says),
            "{m}"
        );
        assert_eq!(daemon.sandbox.as_ref().unwrap().current_code_url(no), None);
    }
    pos.checkout_printed(at("T0000000044", now + 58_000)).await;
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000044"}))
        .await;
    let expire = parse_rfc3339(status["time_expire"].as_str().unwrap()).unwrap();
    assert!(
        expire >= now + 59_000,
        "58 s is raised to a minute: {status}"
    );
    pos.checkout_printed(at("T0000000045", now + 110 * 60_000))
        .await;
    daemon.shutdown().await;
}

/// A checkout with these receipt lines (`[name, quantity, amount]`) for a total of 3200.
fn with_lines(no: &str, lines: &[(&str, u32, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(name, quantity, amount)| json!({"name": name, "quantity": quantity, "amount": amount}))
        .collect();
    let mut request = checkout(no, 3200);
    request["follow"] = json!(false);
    request["receipt"] = json!({"lines": lines});
    request
}

/// Receipt lines carry line totals that add up to the order's total, a discount being a
/// negative line; the receipt's limits are wxprint's own, and say so.
#[tokio::test]
async fn receipt_lines_add_up_to_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    // Unit prices instead of line totals: 2 × 1600 sent as 1600.
    let unit_prices = with_lines("T0000000051", &[("Latte", 2, 1600)]);
    let m = refused(&mut pos, unit_prices, "receipt.lines", "add up to 1600").await;
    assert!(m.contains("3200") && m.contains("negative"), "{m}");
    let short = with_lines("T0000000052", &[("Latte", 2, 3200), ("Cake", 1, 800)]);
    refused(&mut pos, short, "receipt.lines", "add up to 4000").await;
    let mut long_title = checkout("T0000000053", 3200);
    long_title["receipt"]["title"] = json!("x".repeat(65));
    let m = refused(&mut pos, long_title, "receipt.title", "65 characters").await;
    assert!(
        m.contains("wxprint prints at most 64") && !m.contains("WeChat"),
        "{m}"
    );
    let mut emoji = checkout("T0000000054", 3200);
    emoji["receipt"]["lines"][0]["name"] = json!("Latte ☕🍰");
    let m = refused(&mut pos, emoji, "receipt.lines[0].name", "U+1F370").await;
    assert!(!m.contains("WeChat"), "a receipt limit is wxprint's: {m}");
    assert_eq!(
        daemon
            .sandbox
            .as_ref()
            .unwrap()
            .current_code_url("T0000000051"),
        None
    );

    // A discount line makes them add up.
    let discounted = with_lines(
        "T0000000055",
        &[
            ("Latte", 2, 3200),
            ("Cake", 1, 800),
            ("Member discount", 1, -800),
        ],
    );
    pos.checkout_printed(discounted).await;
    let receipt = std::fs::read(daemon.receipts().last().unwrap()).unwrap();
    assert!(
        String::from_utf8_lossy(&receipt).contains("-"),
        "the discount is printed"
    );
    daemon.shutdown().await;
}

/// WeChat Pay's text limits count characters: at the limit in Chinese is accepted and
/// placed (the sandbox refuses what WeChat Pay refuses), one more is refused at the socket.
#[tokio::test]
async fn wechat_pay_text_limits_count_characters() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let with = |no: &str, field: &str, text: String| {
        let mut request = checkout(no, 3200);
        request["follow"] = json!(false);
        request["order"][field] = json!(text);
        request
    };
    for (field, max) in [("description", 127), ("attach", 128), ("goods_tag", 32)] {
        let over = with("T0000000071", field, "拿".repeat(max + 1));
        let path = format!("order.{field}");
        let m = refused(&mut pos, over, &path, &format!("{} characters", max + 1)).await;
        assert!(
            m.contains(&format!("WeChat Pay takes at most {max}")),
            "{m}"
        );
    }
    let mut at_limits = checkout("T0000000072", 3200);
    at_limits["follow"] = json!(false);
    at_limits["order"]["description"] = json!("拿".repeat(127));
    at_limits["order"]["attach"] = json!("拿".repeat(128));
    at_limits["order"]["goods_tag"] = json!("拿".repeat(32));
    pos.checkout_printed(at_limits).await;
    let sandbox = daemon.sandbox.as_ref().unwrap();
    assert!(sandbox.current_code_url("T0000000072").is_some());
    assert_eq!(sandbox.current_code_url("T0000000071"), None);
    daemon.shutdown().await;
}
