//! `wxprint refund N --amount … [--reason …] [--out-refund-no …]` with the real binary
//! against `wxprint serve` on the sandbox: a line per event, exit 0 once refunded, 2 for a
//! refused request (more than is left, an unknown order).

#[path = "support/bin.rs"]
mod bin;

use std::process::Output;

use bin::{sandbox_config, serve, wxprint};

fn text(out: &Output) -> String {
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    format!("{o}{e}")
}

#[test]
fn refund_waits_for_the_money_to_go_back_and_says_why_when_refused() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = dir.path().join("receipts");
    let printer = format!("transport = \"file\"\ndevice = \"{}\"", receipts.display());
    let _daemon = serve(dir.path(), &sandbox_config(dir.path(), &printer));
    let cli = |args: &[&str]| {
        let mut all = vec!["--socket", "./wxprint.sock"];
        all.extend_from_slice(args);
        wxprint(dir.path(), &all)
    };
    let no = "T20261126401";
    let checkout = cli(&["checkout", "--out-trade-no", no, "--total", "3200"]
        .into_iter()
        .chain(["--description", "Latte x2", "--no-follow"])
        .collect::<Vec<_>>());
    assert!(checkout.status.success(), "{}", text(&checkout));
    assert!(cli(&["sandbox-pay", no]).status.success());

    let refund = cli(&[
        "refund",
        no,
        "--amount",
        "1000",
        "--reason",
        "one cup returned",
    ]);
    assert_eq!(refund.status.code(), Some(0), "{}", text(&refund));
    let out = String::from_utf8_lossy(&refund.stdout);
    assert!(
        out.starts_with("refund     T20261126401-R1 ￥10.00 accepted (processing)\n"),
        "{out}"
    );
    assert!(
        out.contains("refunded   T20261126401-R1 ￥10.00 refund 50"),
        "{out}"
    );

    let too_much = cli(&["refund", no, "--amount", "2201", "--out-refund-no", "RF-9"]);
    assert_eq!(too_much.status.code(), Some(2), "{}", text(&too_much));
    let out = String::from_utf8_lossy(&too_much.stdout);
    assert!(
        out.contains("refund_too_large") && out.contains("at most ￥22.00"),
        "{out}"
    );

    let unknown = cli(&["refund", "T20261126499", "--amount", "1"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("order_not_found"));

    let json = cli(&["--json", "status", no]);
    let status: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(status["refunds"][0]["state"], "refunded", "{status}");
}
