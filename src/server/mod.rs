//! The Unix socket: accepting POS connections, framing lines, dispatching requests to
//! [`Jobs`] and streaming events back.
//!
//! [`run`] takes an already-bound listener and a shutdown future (the mini-redis shape):
//! `main` binds the configured path and passes SIGTERM/SIGINT, tests bind a temporary path
//! and pass a channel. Each connection gets two tasks: a reader that parses one request per
//! line and a writer that owns the socket's write half. Requests that follow a job
//! (`checkout`, `cancel`, `sandbox_pay`, `watch`) spawn a small forwarding task per request,
//! so the connection keeps accepting requests while events stream.

use std::future::Future;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedReadHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::jobs::{Follow, Jobs, Refused};
use crate::protocol::{
    self, ErrorBody, ErrorCode, Event, MAX_LINE, Message, Op, PROTOCOL_VERSION, PrintState,
};

/// Mode of the socket file: owner and group (the POS software's group) only.
pub const SOCKET_MODE: u32 = 0o660;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(
        "another wxprint is already listening on {0}; stop it first (systemctl stop wxprint) or choose another daemon.socket"
    )]
    InUse(PathBuf),
    #[error(
        "{0} exists and is not a socket; refusing to replace it — move it away or choose another daemon.socket"
    )]
    NotASocket(PathBuf),
    #[error("cannot listen on {path}: {source}; check that its directory exists and is writable")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Bind the POS socket at `path`, mode 0660. A stale socket file (nobody answers) is
/// replaced; a live one means another daemon runs, and we refuse to start.
pub fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    let bind_err = |source| ServerError::Bind {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(bind_err)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(ServerError::NotASocket(path.to_owned()));
        }
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => return Err(ServerError::InUse(path.to_owned())),
            // Nobody listens: a daemon died without removing its socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                info!(socket = %path.display(), "replacing stale socket file");
                std::fs::remove_file(path).map_err(bind_err)?;
            }
            // Anything else (a full backlog, no permission) may be a live daemon.
            Err(e) => return Err(bind_err(e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(bind_err(e)),
    }
    let listener = UnixListener::bind(path).map_err(bind_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))
        .map_err(bind_err)?;
    Ok(listener)
}

/// Serve POS connections until `shutdown` completes, then shut down gracefully: stop
/// accepting, let the jobs reach a safe point (a receipt being written is finished, the
/// journal is flushed), close the connections and remove the socket file.
pub async fn run(listener: UnixListener, jobs: Jobs, shutdown: impl Future<Output = ()>) {
    run_with(listener, jobs, shutdown, true).await
}

/// [`run`], choosing whether the socket file is removed at the end (not when systemd owns
/// it: socket activation keeps it across restarts).
pub async fn run_with(
    listener: UnixListener,
    jobs: Jobs,
    shutdown: impl Future<Output = ()>,
    remove_socket: bool,
) {
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_owned))
        .filter(|_| remove_socket);
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(handle(stream, jobs.clone(), closing.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    }
    info!("shutting down: no new connections; finishing work in progress");
    drop(listener);
    jobs.shutdown().await;
    closing.cancel();
    connections.close();
    connections.wait().await;
    if let Some(path) = path {
        let _ = std::fs::remove_file(&path);
    }
    info!("stopped");
}

/// Why a line could not be read.
enum LineError {
    TooLong,
    Io(std::io::Error),
}

/// Read one `\n`-terminated line into `buf` (without the newline), refusing lines longer
/// than [`MAX_LINE`] bytes including the newline. `Ok(false)` at end of stream.
async fn read_line(
    reader: &mut BufReader<OwnedReadHalf>,
    buf: &mut Vec<u8>,
) -> Result<bool, LineError> {
    buf.clear();
    loop {
        let available = reader.fill_buf().await.map_err(LineError::Io)?;
        if available.is_empty() {
            // End of stream; a last line without its newline still counts.
            return Ok(!buf.is_empty());
        }
        if let Some(pos) = available.iter().position(|&b| b == b'\n') {
            if buf.len() + pos + 1 > MAX_LINE {
                return Err(LineError::TooLong);
            }
            buf.extend_from_slice(&available[..pos]);
            reader.consume(pos + 1);
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(true);
        }
        let n = available.len();
        if buf.len() + n + 1 > MAX_LINE {
            return Err(LineError::TooLong);
        }
        buf.extend_from_slice(available);
        reader.consume(n);
    }
}

/// When a forwarded event stream ends.
#[derive(Clone, Copy)]
enum Until {
    /// `paid`, `closed` or `failed`.
    Final,
    /// Also after `printed` (or a print failure): a checkout with `follow=false`.
    Printed,
    /// Never (`watch`).
    Forever,
}

impl Until {
    fn ends_at(self, event: &Event) -> bool {
        match self {
            Until::Final => event.is_final(),
            Until::Printed => {
                event.is_final()
                    || matches!(event, Event::Printed { .. })
                    || matches!(
                        event,
                        Event::Error {
                            print: Some(PrintState::Failed),
                            ..
                        }
                    )
            }
            Until::Forever => false,
        }
    }
}

/// Messages queued for one client before the reader stops taking requests (back-pressure
/// on a client that sends without reading).
const CONNECTION_QUEUE: usize = 256;

/// How long a closing connection may take to flush its last messages on shutdown.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// One connection.
struct Connection {
    jobs: Jobs,
    tx: mpsc::Sender<Message>,
    /// Forwarding tasks of this connection's requests.
    follows: TaskTracker,
    closing: CancellationToken,
}

async fn handle(stream: UnixStream, jobs: Jobs, closing: CancellationToken) {
    match stream.peer_cred() {
        Ok(cred) => {
            info!(uid = cred.uid(), gid = cred.gid(), pid = ?cred.pid(), "client connected")
        }
        Err(e) => info!(error = %e, "client connected (no peer credentials)"),
    }
    let (read, mut write) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Message>(CONNECTION_QUEUE);
    let mut writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            if write.write_all(message.to_line().as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = write.shutdown().await;
    });
    let conn = Connection {
        jobs,
        tx,
        follows: TaskTracker::new(),
        closing: closing.clone(),
    };

    let mut reader = BufReader::new(read);
    let mut line = Vec::with_capacity(1024);
    loop {
        let read = tokio::select! {
            _ = closing.cancelled() => break,
            read = read_line(&mut reader, &mut line) => read,
        };
        match read {
            Ok(false) => break,
            Ok(true) if line.trim_ascii().is_empty() => continue,
            Ok(true) => {
                tokio::select! {
                    _ = closing.cancelled() => break,
                    _ = conn.dispatch(&line) => {}
                }
            }
            Err(LineError::TooLong) => {
                let error = ErrorBody::new(
                    ErrorCode::LineTooLong,
                    format!(
                        "a request line may be at most {MAX_LINE} bytes including the newline; closing the connection"
                    ),
                );
                tokio::select! {
                    _ = closing.cancelled() => {}
                    _ = conn.send(None, Event::error(error)) => {}
                }
                break;
            }
            Err(LineError::Io(e)) => {
                debug!(error = %e, "read failed");
                break;
            }
        }
    }
    // The client closed its side (or we are stopping): let running streams finish, so a
    // client that half-closes after its request still gets its events. Streams end at the
    // job's final event, or when writing to a client that has gone fails.
    conn.follows.close();
    tokio::select! {
        _ = conn.follows.wait() => {}
        _ = closing.cancelled() => {}
    }
    drop(conn);
    // Flush what is queued; on shutdown, give a client that does not read a moment only.
    tokio::select! {
        _ = &mut writer => {}
        _ = async {
            closing.cancelled().await;
            tokio::time::sleep(CLOSE_GRACE).await;
        } => writer.abort(),
    }
    debug!("client disconnected");
}

impl Connection {
    async fn send(&self, id: Option<String>, event: Event) {
        let _ = self.tx.send(Message::new(id, event)).await;
    }

    async fn send_error(&self, id: Option<String>, no: Option<&str>, refused: Refused) {
        self.send(
            id,
            Event::Error {
                out_trade_no: no.map(str::to_owned),
                state: refused.state,
                print: None,
                error: refused.error,
            },
        )
        .await;
    }

    async fn dispatch(&self, line: &[u8]) {
        let request = match protocol::parse_request(line) {
            Ok(request) => request,
            Err((id, e)) => {
                debug!(error = %e, "bad request");
                return self.send(id, Event::error(e.into())).await;
            }
        };
        let id = request.id;
        if self.jobs.is_shutting_down() {
            let error = ErrorBody::new(
                ErrorCode::ShuttingDown,
                "wxprint is shutting down; retry once it is back",
            );
            return self.send(id, Event::error(error)).await;
        }
        match request.op {
            Op::Ping => {
                let pong = Event::Pong {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    protocol: PROTOCOL_VERSION,
                };
                self.send(id, pong).await
            }
            Op::Checkout(checkout) => {
                let no = checkout.order.out_trade_no.clone();
                let until = if checkout.follow {
                    Until::Final
                } else {
                    Until::Printed
                };
                match self.jobs.checkout(&checkout) {
                    Ok(follow) => self.forward(id, follow, until).await,
                    Err(e) => self.send_error(id, Some(&no), e).await,
                }
            }
            Op::Status { out_trade_no } => match self.jobs.status(&out_trade_no) {
                Ok(event) => self.send(id, event).await,
                Err(e) => self.send_error(id, Some(&out_trade_no), e).await,
            },
            Op::Cancel { out_trade_no } => match self.jobs.cancel(&out_trade_no) {
                Ok(follow) => self.forward(id, follow, Until::Final).await,
                Err(e) => self.send_error(id, Some(&out_trade_no), e).await,
            },
            Op::SandboxPay { out_trade_no } => match self.jobs.sandbox_pay(&out_trade_no) {
                Ok(follow) => self.forward(id, follow, Until::Final).await,
                Err(e) => self.send_error(id, Some(&out_trade_no), e).await,
            },
            Op::Reprint { out_trade_no } => match self.jobs.reprint(&out_trade_no).await {
                Ok(event) => self.send(id, event).await,
                Err(e) => self.send_error(id, Some(&out_trade_no), e).await,
            },
            Op::Watch => {
                let follow = Follow {
                    initial: Vec::new(),
                    subscription: Some(self.jobs.watch()),
                };
                self.forward(id, follow, Until::Forever).await
            }
            Op::Printer => {
                let status = self.jobs.printer_status().await;
                let event = Event::Printer {
                    out_trade_no: None,
                    state: None,
                    print: None,
                    status,
                };
                self.send(id, event).await
            }
            Op::TestPrint => match self.jobs.test_print().await {
                Ok(event) => self.send(id, event).await,
                Err(e) => self.send_error(id, None, e).await,
            },
        }
    }

    /// Send what already happened, then stream the job's events until `until`.
    async fn forward(&self, id: Option<String>, follow: Follow, until: Until) {
        for event in follow.initial {
            let end = until.ends_at(&event);
            self.send(id.clone(), event).await;
            if end {
                return;
            }
        }
        let Some(mut subscription) = follow.subscription else {
            return;
        };
        let tx = self.tx.clone();
        let closing = self.closing.clone();
        self.follows.spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = closing.cancelled() => break,
                    event = subscription.recv() => event,
                };
                let Some(event) = event else { break };
                let end = until.ends_at(&event);
                let sent = tokio::select! {
                    _ = closing.cancelled() => break,
                    sent = tx.send(Message::new(id.clone(), event)) => sent,
                };
                if sent.is_err() || end {
                    break;
                }
            }
        });
    }
}
