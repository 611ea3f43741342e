//! A POS that goes away while it follows an unpaid order: the daemon lets go of the
//! connection (its socket, its forwarding task) instead of holding it until the order ends,
//! while a POS that only closed its sending side still hears everything.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{Daemon, checkout};

/// How many accepted connections of the daemon listening on `socket` are open: the lines of
/// `/proc/net/unix` that carry its path, less the listener.
fn daemon_connections(socket: &Path) -> usize {
    let table = std::fs::read_to_string("/proc/net/unix").unwrap();
    let path = socket.to_str().unwrap();
    let lines = table
        .lines()
        .filter(|l| l.split_whitespace().last() == Some(path))
        .count();
    lines.saturating_sub(1)
}

/// Wait (up to a generous deadline) until the daemon holds at most `n` connections.
async fn until_at_most(socket: &Path, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let open = daemon_connections(socket);
        if open <= n || Instant::now() > deadline {
            return open;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_pos_that_hangs_up_while_following_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    // One POS closes only its sending side: it must still hear its payment.
    let mut half = daemon.connect().await;
    half.checkout_printed(checkout("T0000000081", 100)).await;
    half.close_write().await;
    // Twenty POS connections follow unpaid orders, then go away altogether.
    let mut gone = Vec::new();
    for i in 0..20 {
        let mut pos = daemon.connect().await;
        pos.checkout_printed(checkout(&format!("T00000001{i:02}"), 100))
            .await;
        gone.push(pos);
    }
    assert_eq!(daemon_connections(&daemon.socket), 21);
    drop(gone);

    let open = until_at_most(&daemon.socket, 1).await;
    assert_eq!(
        open, 1,
        "the daemon still holds connections of POS that hung up"
    );
    daemon.sandbox.as_ref().unwrap().pay("T0000000081").unwrap();
    let paid = half.expect("paid").await;
    assert_eq!(paid["out_trade_no"], "T0000000081");
    // The orders themselves go on: still payable, still reported to whoever asks.
    let mut asker = daemon.connect().await;
    let status = asker
        .call(json!({"op": "status", "out_trade_no": "T0000000100"}))
        .await;
    assert_eq!(status["state"], "awaiting_payment", "{status}");
    daemon.shutdown().await;
}
