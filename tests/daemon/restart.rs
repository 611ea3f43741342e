//! A restart resumes from the journal: payments made while down are reported, orders that
//! expired while down are closed, and nothing is placed or printed twice.

use std::time::Duration;

use serde_json::json;

use crate::start_with_config;
use crate::support::{Daemon, checkout, fast_config};

/// The daemon restarts mid-payment: the job is resumed from the journal, the payment is
/// still reported, and nothing is placed or printed twice.
#[tokio::test]
async fn restart_mid_payment_still_reports_paid() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let code_url = pos
        .checkout_printed(checkout("T0000000006", 880))
        .await
        .code_url;
    daemon.shutdown().await;
    assert!(
        !dir.path().join("wxprint.sock").exists(),
        "socket removed on shutdown"
    );
    assert!(
        pos.recv_or_eof().await.is_none(),
        "connections closed on shutdown"
    );

    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let resumed = pos.checkout_printed(checkout("T0000000006", 880)).await;
    assert_eq!(resumed.accepted["resumed"], true);
    assert_eq!(resumed.code_url, code_url);
    daemon.sandbox.as_ref().unwrap().pay("T0000000006").unwrap();
    let paid = pos.expect("paid").await;
    assert_eq!(paid["amount"]["total"], 880);
    assert_eq!(
        daemon.receipts().len(),
        1,
        "printed once across the restart"
    );
    assert_eq!(
        daemon
            .sandbox
            .as_ref()
            .unwrap()
            .current_code_url("T0000000006")
            .unwrap(),
        code_url,
        "not placed again: the printed QR stayed the live one"
    );
    daemon.shutdown().await;
}

/// A job whose time_expire passed while the daemon was down is closed on start.
#[tokio::test]
async fn order_expired_while_down_is_closed_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = fast_config();
    // Long enough to be printed first on a loaded machine, and past once the daemon is down.
    const TTL: Duration = Duration::from_secs(2);
    config.order_ttl = TTL;
    config.poll.fast = Duration::from_secs(60);
    let daemon = start_with_config(dir.path(), config).await;
    let mut pos = daemon.connect().await;
    let mut request = checkout("T0000000007", 100);
    request["follow"] = json!(false);
    pos.checkout_printed(request).await;
    daemon.shutdown().await;
    tokio::time::sleep(TTL + Duration::from_millis(100)).await;

    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let resumed = pos.checkout_printed(checkout("T0000000007", 100)).await;
    assert_eq!(resumed.accepted["resumed"], true);
    assert_eq!(pos.expect("closed").await["reason"], "expired");
    daemon.shutdown().await;
}
