//! Behind a real (non-sandbox) backend: WeChat Pay's refusal fails the job with its own
//! code, `sandbox_pay` is refused, and loopback orders stay on the built-in sandbox.

use serde_json::json;
use wxprint::money::Money;
use wxprint::payment::{BoxFuture, PaymentBackend, PaymentError, PlaceOrder, Placed, TradeState};

use crate::start_with_backend;
use crate::support::{checkout, decode_qr};

/// A backend that refuses every order the way WeChat Pay refuses a misconfigured
/// merchant, and is not the sandbox.
struct RefusingBackend;

impl PaymentBackend for RefusingBackend {
    fn name(&self) -> &'static str {
        "refusing"
    }
    fn accepts(&self, amount: &Money) -> Result<(), String> {
        wxprint::payment::cny_only(amount)
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
    let daemon = start_with_backend(dir.path(), RefusingBackend).await;
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
    let daemon = start_with_backend(dir.path(), RefusingBackend).await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("LOOP000001", 1);
    request["loopback"] = json!(true);
    let code_url = pos.checkout_printed(request).await.code_url;
    let receipt = std::fs::read(&daemon.receipts()[0]).unwrap();
    assert_eq!(decode_qr(&receipt, 576), vec![code_url]);
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
