//! `time_expire`: an unpaid order is closed when it passes, and a paid one still reports its
//! payment to a retry after it.

use std::time::Duration;

use serde_json::json;

use crate::start_with_config;
use crate::support::{Daemon, checkout, fast_config};

/// An order nobody pays is closed at time_expire. (Long enough to be printed first on a
/// loaded machine: a receipt is not printed for an order past its expiry.)
#[tokio::test]
async fn unpaid_order_is_closed_at_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config();
    config.order_ttl = Duration::from_secs(2);
    let daemon = start_with_config(dir.path(), config).await;
    let mut pos = daemon.connect().await;
    pos.checkout_printed(checkout("T0000000005", 100)).await;
    let closed = pos.expect("closed").await;
    assert_eq!(closed["reason"], "expired");
    assert!(
        daemon.sandbox.as_ref().unwrap().pay("T0000000005").is_err(),
        "closed at WeChat Pay too"
    );
    daemon.shutdown().await;
}

/// A retry of a paid order learns the payment, even after its time_expire: the range
/// check of `time_expire` is for new orders only. The POS asked for 2 s (raised to one
/// minute for the order, as WeChat Pay does); once those 2 s are past, a new order with that
/// time_expire is refused, and the identical retry is still resumed.
#[tokio::test]
async fn retry_after_time_expire_still_reports_the_payment() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let expire = wxprint::clock::rfc3339(wxprint::clock::now_ms() + 2_000);
    let mut request = checkout("T0000000016", 100);
    request["order"]["time_expire"] = json!(expire);
    let mut pos = daemon.connect().await;
    pos.checkout_printed(request.clone()).await;
    daemon.sandbox.as_ref().unwrap().pay("T0000000016").unwrap();
    pos.expect("paid").await;
    // Wall-clock time must pass the POS's time_expire (not a wait for the daemon).
    tokio::time::sleep(Duration::from_millis(2_100)).await;

    let mut new_order = request.clone();
    new_order["order"]["out_trade_no"] = json!("T0000000017");
    let (code, refused) = pos.call_error(new_order).await;
    assert_eq!(
        (code.as_str(), &refused["error"]["field"]),
        ("invalid_request", &json!("order.time_expire"))
    );
    let mut retry = daemon.connect().await;
    let replayed = retry.checkout_printed(request).await;
    assert_eq!(replayed.accepted["resumed"], true);
    assert_eq!(replayed.accepted["state"], "paid");
    retry.expect("paid").await;
    daemon.shutdown().await;
}
