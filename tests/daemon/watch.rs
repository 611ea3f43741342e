//! `watch`: a connection that hears every job's events, whoever started the job.

use std::time::Duration;

use serde_json::json;

use crate::support::{Daemon, checkout};

/// `watch` sees every job's events, from any connection.
#[tokio::test]
async fn watchers_see_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut watcher = daemon.connect().await;
    watcher.send(json!({"op": "watch", "id": "w"})).await;
    // The watch is registered when the daemon answers a later request on the connection.
    assert_eq!(watcher.call(json!({"op": "ping"})).await["event"], "pong");

    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000008", 100)).await;
    for name in ["accepted", "code_url", "printed"] {
        let m = watcher.expect(name).await;
        assert_eq!(m["out_trade_no"], "T0000000008");
        assert_eq!(m["id"], "w");
    }
    pos.send(json!({"op": "sandbox_pay", "out_trade_no": "T0000000008"}))
        .await;
    assert_eq!(watcher.expect("paid").await["out_trade_no"], "T0000000008");
    daemon.shutdown().await;
}

/// A `watch` goes on after the client closes its sending side.
#[tokio::test]
async fn watch_survives_a_half_close() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut watcher = daemon.connect().await;
    watcher.send(json!({"op": "watch"})).await;
    // Registered once a later request is answered; then the half-close, given time to be read.
    assert_eq!(watcher.call(json!({"op": "ping"})).await["event"], "pong");
    watcher.close_write().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T0000000019", 100)).await;
    watcher.expect("accepted").await;
    watcher.expect("code_url").await;
    daemon.shutdown().await;
}
