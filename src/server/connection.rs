//! One POS connection: a reader that answers one request per line, a writer task that owns
//! the socket's write half, and a small forwarding task per request that follows a job
//! (`checkout`, `cancel`, `sandbox_pay`, `watch`), so the connection keeps taking requests
//! while events stream.
//!
//! Every wait here gives way when the daemon starts closing (`closing`). This file turns
//! requests into [`Jobs`] calls and events into lines; it does not know the job rules, the
//! JSON shapes (that is `protocol`) or how lines are cut (that is `framing`).

use std::os::fd::{AsRawFd, RawFd};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

use super::framing::{LineError, read_line};
use crate::jobs::{Follow, Jobs, Refused};
use crate::protocol::{
    self, Checkout, ErrorBody, ErrorCode, Event, MAX_LINE, Message, Op, PROTOCOL_VERSION,
    PrintState,
};

/// Messages queued for one client before the reader stops taking requests (back-pressure
/// on a client that sends without reading).
const CONNECTION_QUEUE: usize = 256;

/// How long a closing connection may take to flush its last messages on shutdown.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a client that has closed its sending side, while events still stream to it,
/// is checked for having gone altogether (only then: an idle daemon never wakes for it).
const HANGUP_CHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// When a forwarded event stream ends.
#[derive(Clone)]
enum Until {
    /// `paid`, `closed` or `failed`.
    Final,
    /// Also after `printed` (or a print failure): a checkout with `follow=false`.
    Printed,
    /// Never (`watch`).
    Forever,
    /// At `refunded` or `refund_failed` of this refund; only its events are forwarded.
    Refund(String),
}

impl Until {
    /// Whether `event` belongs on this stream (a refund's stream carries only its own).
    fn carries(&self, event: &Event) -> bool {
        match self {
            Until::Refund(no) => event.out_refund_no() == Some(no),
            _ => true,
        }
    }

    fn ends_at(&self, event: &Event) -> bool {
        match self {
            Until::Refund(_) => event.is_refund_final(),
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

/// One connection.
struct Connection {
    jobs: Jobs,
    tx: mpsc::Sender<Message>,
    /// Forwarding tasks of this connection's requests.
    follows: TaskTracker,
    /// Cancelled when the daemon stops or the client has gone: forwarding ends.
    closing: CancellationToken,
}

/// Serve one client until it closes its side, or until `closing` (daemon shutdown).
pub(super) async fn handle(stream: UnixStream, jobs: Jobs, closing: CancellationToken) {
    // DEBUG, not INFO: one line per POS request is noise in the journal (and a write on the
    // checkout's path); what a connection asks is logged where it is acted on.
    match stream.peer_cred() {
        Ok(cred) => {
            debug!(
                uid = cred.uid(),
                gid = cred.gid(),
                pid = cred
                    .pid()
                    .map_or(String::from("unknown"), |p| p.to_string()),
                "client connected"
            )
        }
        Err(e) => debug!(error = %e, "client connected (no peer credentials)"),
    }
    let fd = stream.as_raw_fd();
    let (read, write) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Message>(CONNECTION_QUEUE);
    let mut writer = tokio::spawn(write_lines(rx, write));
    let conn = Connection {
        jobs,
        tx,
        follows: TaskTracker::new(),
        closing: closing.child_token(),
    };
    closing.run_until_cancelled(conn.serve(read)).await;
    // The client closed its side (or we are stopping): let running streams finish, so a
    // client that half-closes after its request still gets its events. Streams end at the
    // job's final event, when writing to a client that has gone fails, or when the client
    // is seen to have gone altogether (an unpaid order may send nothing for minutes).
    conn.follows.close();
    tokio::select! {
        _ = conn.follows.wait() => {}
        _ = hung_up(fd) => conn.closing.cancel(),
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

/// Resolves once the client has closed both directions of the socket `fd` (`POLLHUP`; a
/// half-close, `shutdown(SHUT_WR)`, is not a hang-up), checking every [`HANGUP_CHECK`].
/// `fd` must stay open meanwhile: the writer task holds it until the connection is dropped.
async fn hung_up(fd: RawFd) {
    loop {
        tokio::time::sleep(HANGUP_CHECK).await;
        let mut poll = libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        };
        // SAFETY: one valid pollfd, a zero timeout; `fd` is open (see above).
        let n = unsafe { libc::poll(&mut poll, 1, 0) };
        if n > 0 && poll.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            debug!("client hung up while events were streaming; stopping them");
            return;
        }
    }
}

/// The refund a `refund` request's answer is about (its first event names it).
fn follow_refund_no(follow: &Follow) -> String {
    let first = follow.initial.first().and_then(Event::out_refund_no);
    first.unwrap_or_default().to_owned()
}

/// The writer task: each queued message as one line, until every sender is gone or the
/// client stops taking them; then shut the write half.
async fn write_lines(mut rx: mpsc::Receiver<Message>, mut write: OwnedWriteHalf) {
    while let Some(message) = rx.recv().await {
        if write.write_all(message.to_line().as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = write.shutdown().await;
}

impl Connection {
    /// Answer requests, one a line, until end of stream, a read error or a line too long.
    async fn serve(&self, read: OwnedReadHalf) {
        let mut reader = BufReader::new(read);
        let mut line = Vec::with_capacity(1024);
        loop {
            match read_line(&mut reader, &mut line).await {
                Ok(false) => return,
                Ok(true) if line.trim_ascii().is_empty() => continue,
                Ok(true) => self.dispatch(&line).await,
                Err(LineError::TooLong) => {
                    let error = ErrorBody::new(
                        ErrorCode::LineTooLong,
                        format!(
                            "a request line may be at most {MAX_LINE} bytes including the newline; closing the connection"
                        ),
                    );
                    return self.send(None, Event::error(error)).await;
                }
                Err(LineError::Io(e)) => {
                    debug!(error = %e, "read failed");
                    return;
                }
            }
        }
    }

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

    /// Parse one request line and answer it.
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
        self.apply(id, request.op).await
    }

    /// Carry out one op for the request `id`.
    async fn apply(&self, id: Option<String>, op: Op) {
        match op {
            Op::Ping => {
                let pong = Event::Pong {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    protocol: PROTOCOL_VERSION,
                };
                self.send(id, pong).await
            }
            Op::Checkout(checkout) => self.checkout(id, &checkout).await,
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
            Op::Refund {
                out_trade_no,
                refund,
            } => match self.jobs.refund(&out_trade_no, &refund) {
                Ok(follow) => {
                    let until = Until::Refund(follow_refund_no(&follow));
                    self.forward(id, follow, until).await
                }
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
            Op::Drawer { pin } => match self.jobs.drawer(pin).await {
                Ok(event) => self.send(id, event).await,
                Err(e) => self.send_error(id, None, e).await,
            },
        }
    }

    /// `checkout`: start (or resume) the job, then answer `accepted` and follow it until it is
    /// printed (`follow` false) or final.
    async fn checkout(&self, id: Option<String>, checkout: &Checkout) {
        let until = if checkout.follow {
            Until::Final
        } else {
            Until::Printed
        };
        match self.jobs.checkout(checkout) {
            Ok(follow) => {
                // When a new job's task has just been started, let it send its placement
                // before this task writes `accepted`, whose wake-up of the POS costs this
                // thread more than the placement should wait (issue 12: the daemon's own
                // time; measured on the real-path bench, twelve alternating runs: p50 1.37 →
                // 1.28 ms, p99 3.6 → 2.9 ms).
                tokio::task::yield_now().await;
                self.forward(id, follow, until).await
            }
            Err(e) => {
                let no = &checkout.order.out_trade_no;
                self.send_error(id, Some(no), e).await
            }
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
            let stream = async move {
                while let Some(event) = subscription.recv().await {
                    if !until.carries(&event) {
                        continue;
                    }
                    let end = until.ends_at(&event);
                    let sent = tx.send(Message::new(id.clone(), event)).await;
                    if sent.is_err() || end {
                        break;
                    }
                }
            };
            closing.run_until_cancelled(stream).await;
        });
    }
}
