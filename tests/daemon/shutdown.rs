//! Stopping and the socket file: a shutdown finishes the receipt being written and journals
//! it, a client that never reads cannot hold it up; the socket is 0660 and never stolen.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::json;
use wxprint::printer::{Printer, PrinterError, Printout};
use wxprint::protocol::{Paper, PrinterStatus};

use crate::start_with_printer;
use crate::support::{self, Daemon, checkout};

/// A printer that holds each write until the test lets it go.
struct SlowPrinter {
    started: mpsc::Sender<()>,
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    written: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Printer for SlowPrinter {
    fn describe(&self) -> String {
        "slow".into()
    }
    fn write_job(&mut self, _: &str, bytes: &[u8]) -> Result<Printout, PrinterError> {
        let _ = self.started.send(());
        let _ = self.release.lock().unwrap().recv();
        self.written.lock().unwrap().push(bytes.to_vec());
        Ok(Printout::default())
    }
    fn status(&mut self) -> PrinterStatus {
        PrinterStatus {
            online: Some(true),
            paper: Paper::Ok,
            cover_open: Some(false),
            error: None,
            transport: None,
            drawer: wxprint::protocol::DrawerState::Unknown,
        }
    }
}

/// SIGTERM while a receipt is being written: new requests get `shutting_down`, the
/// receipt is finished and journaled, and the socket file is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_receipt_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let written = Arc::new(Mutex::new(Vec::new()));
    let printer = SlowPrinter {
        started: started_tx,
        release: Arc::new(Mutex::new(release_rx)),
        written: written.clone(),
    };
    let mut daemon = start_with_printer(dir.path(), printer).await;
    let mut pos = daemon.connect().await;
    let mut other = daemon.connect().await;
    pos.send(checkout("T0000000014", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    tokio::task::spawn_blocking(move || started.recv_timeout(support::TIMEOUT).unwrap())
        .await
        .unwrap();

    daemon.begin_shutdown();
    // Wait until the daemon has stopped accepting, then speak on an open connection.
    let socket = daemon.socket.clone();
    for _ in 0..200 {
        if std::os::unix::net::UnixStream::connect(&socket).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (code, _) = other.call_error(json!({"op": "ping"})).await;
    assert_eq!(code, "shutting_down");
    assert_eq!(
        other.call_error(checkout("T0000000015", 100)).await.0,
        "shutting_down"
    );

    release.send(()).unwrap();
    assert_eq!(pos.expect("printed").await["print"], "printed");
    daemon.stopped().await;
    assert_eq!(written.lock().unwrap().len(), 1);
    assert!(!socket.exists(), "socket removed");

    // The journal knows the receipt was printed: a restart does not print it again.
    let daemon = Daemon::start(dir.path()).await;
    let mut pos = daemon.connect().await;
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T0000000014"}))
        .await;
    assert_eq!(status["print"], "printed");
    assert_eq!(status["state"], "awaiting_payment");
    assert!(daemon.receipts().is_empty());
    daemon.shutdown().await;
}

/// The socket is 0660, a live daemon's socket is never taken over, a stale one is.
#[tokio::test]
async fn socket_file_rules() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);
    let e = wxprint::server::bind(&daemon.socket).unwrap_err();
    assert!(matches!(e, wxprint::server::ServerError::InUse(_)), "{e}");
    assert!(e.to_string().contains("already listening"));
    let socket = daemon.socket.clone();
    daemon.shutdown().await;

    // A stale socket file (daemon killed) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    drop(stale);
    assert!(socket.exists());
    let listener = wxprint::server::bind(&socket).unwrap();
    drop(listener);

    // A regular file in the way is never deleted.
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"keep me").unwrap();
    let e = wxprint::server::bind(&file).unwrap_err();
    assert!(
        matches!(e, wxprint::server::ServerError::NotASocket(_)),
        "{e}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

/// A client that sends without ever reading cannot hold up a shutdown.
#[tokio::test]
async fn shutdown_does_not_wait_for_a_client_that_does_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let mut rude = daemon.connect().await;
    let pings = "{\"op\":\"ping\"}\n".repeat(20_000);
    // Write from another task: the daemon stops reading once its queue to us is full.
    let writer = tokio::spawn(async move {
        rude.send_raw(pings.as_bytes()).await;
        rude
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    daemon.shutdown().await;
    writer.abort();
}
