//! The receipt side: `reprint`, `test_print` and `printer`, and a printer fault that must not
//! cost the payable order.

use serde_json::json;
use wxprint::printer::{Printer, PrinterError, Printout};
use wxprint::protocol::{Paper, PrinterStatus};

use crate::start_with_printer;
use crate::support::{Daemon, checkout, decode_qr};

/// `reprint` prints the same QR again; `test_print` and `printer` work without an order.
#[tokio::test]
async fn reprint_test_print_and_printer_status() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("T0000000009", 100);
    request["follow"] = json!(false);
    let code_url = pos.checkout_printed(request).await.code_url;

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
    assert!(
        test.get("confirmed").is_none(),
        "the file transport cannot tell: {test}"
    );
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

/// A printer that fails every write.
struct BrokenPrinter;

impl Printer for BrokenPrinter {
    fn describe(&self) -> String {
        "broken".into()
    }
    fn write_job(&mut self, _: &str, _: &[u8]) -> Result<Printout, PrinterError> {
        Err(PrinterError::Io {
            target: "/dev/wxprint-printer".into(),
            message: "No such device".into(),
        })
    }
    fn status(&mut self) -> PrinterStatus {
        PrinterStatus {
            online: Some(false),
            paper: Paper::Unknown,
            cover_open: None,
            error: Some("No such device".into()),
            transport: None,
            drawer: wxprint::protocol::DrawerState::Unknown,
        }
    }
}

/// A printer fault is reported with code `printer` and does not lose the payable order.
#[tokio::test]
async fn printer_fault_keeps_the_order_payable() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_with_printer(dir.path(), BrokenPrinter).await;
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
