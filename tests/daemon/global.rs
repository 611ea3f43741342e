//! A Hong Kong or Tokyo POS developer without credentials: the sandbox standing in for
//! WeChat Pay Global. Its currency is the only one taken, receipts print it in its own
//! format, and `paid` and `status` report what the customer paid in CNY and at what rate —
//! also after a restart, from the journal.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};
use wxprint::money::Currency;
use wxprint::payment::sandbox::{Sandbox, SandboxMarket};

use crate::support::{Daemon, Options};

/// A daemon in `dir` whose sandbox stands in for WeChat Pay Global in `currency`.
async fn start_global(dir: &Path, currency: &str) -> Daemon {
    let market = SandboxMarket {
        currency: Currency::new(currency),
        global: true,
    };
    let sandbox = Sandbox::open(&dir.join("state"))
        .unwrap()
        .with_market(market);
    let options = Options {
        backend: Some(Arc::new(sandbox)),
        ..Options::default()
    };
    Daemon::start_with(dir, options).await
}

fn checkout(no: &str, total: i64, currency: &str) -> Value {
    json!({
        "op": "checkout",
        "id": format!("co-{no}"),
        "order": {"out_trade_no": no, "description": "Milk tea",
                  "amount": {"total": total, "currency": currency}},
        "receipt": {"lines": [{"name": "Milk tea", "quantity": 1, "amount": total}]}
    })
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[tokio::test]
async fn a_global_sandbox_in_hkd_reports_the_cny_paid_and_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_global(dir.path(), "HKD").await;
    let mut pos = daemon.connect().await;

    let (code, refused) = pos.call_error(checkout("T20261126101", 1234, "CNY")).await;
    assert_eq!(code, "invalid_request");
    assert_eq!(refused["error"]["field"], "order.amount.currency");
    assert!(daemon.receipts().is_empty(), "no order, no receipt");

    pos.checkout_printed(checkout("T20261126102", 1234, "HKD"))
        .await;
    let receipt = std::fs::read(&daemon.receipts()[0]).unwrap();
    assert_eq!(
        count(&receipt, b"HKD 12.34"),
        2,
        "the item line and the total"
    );

    let mut cashier = daemon.connect().await;
    cashier
        .send(json!({"op": "sandbox_pay", "id": "pay", "out_trade_no": "T20261126102"}))
        .await;
    let rate = json!({"type": "SETTLEMENT_RATE", "rate": 92_000_000});
    let amount = json!({"total": 1234, "payer_total": 1135, "currency": "HKD",
                        "payer_currency": "CNY", "exchange_rate": rate});
    assert_eq!(cashier.expect("paid").await["amount"], amount);
    assert_eq!(pos.expect("paid").await["amount"], amount);

    let status_request = json!({"op": "status", "id": "s", "out_trade_no": "T20261126102"});
    let status = pos.call(status_request.clone()).await;
    let status_amount =
        json!({"total": 1234, "currency": "HKD", "payer_currency": "CNY", "exchange_rate": rate});
    assert_eq!(status["amount"], status_amount);
    assert_eq!(status["payer_total"], 1135);
    daemon.shutdown().await;

    // After a restart the journal still knows the currency paid in and the rate.
    let daemon = start_global(dir.path(), "HKD").await;
    let mut pos = daemon.connect().await;
    let status = pos.call(status_request).await;
    assert_eq!(status["amount"], status_amount);
    pos.send(checkout("T20261126102", 1234, "HKD")).await;
    assert_eq!(pos.expect("accepted").await["resumed"], true);
    let replayed = loop {
        let message = pos.recv().await;
        if message["event"] == "paid" {
            break message;
        }
    };
    assert_eq!(replayed["amount"], amount, "replayed from the journal");
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_global_sandbox_in_jpy_prints_and_converts_whole_yen() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_global(dir.path(), "JPY").await;
    let mut pos = daemon.connect().await;
    pos.checkout_printed(checkout("T20261126103", 1200, "JPY"))
        .await;
    let receipt = std::fs::read(&daemon.receipts()[0]).unwrap();
    assert_eq!(count(&receipt, b"JPY 1,200"), 2, "no decimals for yen");
    pos.send(json!({"op": "sandbox_pay", "id": "pay", "out_trade_no": "T20261126103"}))
        .await;
    let paid = pos.expect("paid").await;
    // JPY 1,200 at 0.048 CNY a yen: ￥57.60.
    assert_eq!(
        (
            &paid["amount"]["payer_total"],
            &paid["amount"]["payer_currency"]
        ),
        (&json!(5760), &json!("CNY"))
    );
    daemon.shutdown().await;
}
