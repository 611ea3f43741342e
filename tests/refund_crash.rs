//! A `kill -9` of the real daemon in the middle of a refund neither loses it nor doubles
//! it: the refund is journaled (with its pinned request) before the first call, resumed on
//! the next start with the same request, and ends `refunded` once — at the payment
//! service too (the sandbox's own store holds one refund).

#[path = "support/bin.rs"]
mod bin;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use bin::{sandbox_config, serve, wxprint};
use serde_json::{Value, json};

/// Send `request` and read answers until one whose `event` is `until`.
fn ask(dir: &Path, request: &Value, until: &str) -> Value {
    let mut socket = UnixStream::connect(dir.join("wxprint.sock")).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    socket.write_all(format!("{request}\n").as_bytes()).unwrap();
    let mut lines = BufReader::new(socket).lines();
    loop {
        let line = lines.next().expect("an answer").expect("read the socket");
        let message: Value = serde_json::from_str(&line).unwrap();
        if message["event"] == until || message["event"] == "error" {
            return message;
        }
    }
}

#[test]
fn a_refund_survives_kill_9_once() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = dir.path().join("receipts");
    let printer = format!("transport = \"file\"\ndevice = \"{}\"", receipts.display());
    let config = sandbox_config(dir.path(), &printer);
    let mut daemon = serve(dir.path(), &config);
    let no = "T20261126501";
    let checkout = json!({"op": "checkout", "follow": false, "order": {"out_trade_no": no,
        "description": "Latte x2", "amount": {"total": 3200}}});
    assert_eq!(ask(dir.path(), &checkout, "printed")["print"], "printed");
    let pay = json!({"op": "sandbox_pay", "out_trade_no": no});
    assert_eq!(ask(dir.path(), &pay, "paid")["event"], "paid");

    let refund = json!({"op": "refund", "out_trade_no": no, "refund": {"amount": 1200}});
    let accepted = ask(dir.path(), &refund, "refund_accepted");
    assert_eq!(accepted["state"], "processing", "{accepted}");
    // Killed while the refund is processing (the sandbox finishes it when first queried,
    // a second after it was asked for).
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    std::fs::remove_file(dir.path().join("wxprint.sock")).ok();

    let _daemon = serve(dir.path(), &config);
    // The POS retries the same refund: the same number, resumed, refunded.
    let args = [
        "--socket",
        "./wxprint.sock",
        "refund",
        no,
        "--amount",
        "1200",
    ];
    let retry = wxprint(dir.path(), &args);
    let out = String::from_utf8_lossy(&retry.stdout);
    assert_eq!(retry.status.code(), Some(0), "{out}");
    assert!(
        out.contains("T20261126501-R1 ￥12.00 accepted") && out.contains("resumed"),
        "{out}"
    );
    assert!(out.contains("refunded   T20261126501-R1 ￥12.00"), "{out}");

    let status = ask(
        dir.path(),
        &json!({"op": "status", "out_trade_no": no}),
        "status",
    );
    let refunds = status["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{status}");
    assert_eq!(refunds[0]["state"], "refunded");
    let store = rusqlite::Connection::open(dir.path().join("state/sandbox.sqlite")).unwrap();
    let (count, sum): (i64, i64) = store
        .query_row(
            "SELECT COUNT(*), SUM(refund) FROM sandbox_refunds WHERE out_trade_no = ?1",
            [no],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, sum), (1, 1200), "one refund at the payment service");
}
