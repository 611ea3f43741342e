//! The Unix socket: accepting POS connections, framing lines, dispatching requests to
//! [`Jobs`] and streaming events back.
//!
//! [`run`] takes an already-bound [`Listener`] and a shutdown future (the mini-redis
//! shape): `main` binds the configured path (or takes the socket systemd passed) and passes
//! SIGTERM/SIGINT, tests bind a temporary path and pass a channel.
//!
//! # Layout
//!
//! - `mod.rs`: [`bind`], [`Listener`], and [`run`]: the accept loop (at most
//!   [`MAX_CONNECTIONS`] connections at once) and graceful shutdown;
//! - `framing.rs`: one request a line, at most `MAX_LINE` bytes;
//! - `connection.rs`: one connection — a reader that parses one request per line, a writer
//!   that owns the socket's write half, and a forwarding task per request that follows a job.
//! - `http.rs`: the HTTP/1.1 side doors beside the socket (payment notifications, metrics):
//!   binding, the accept loop, one task per connection; what a request means is the caller's;
//! - `places.rs`: the cap on connections at once, the same rule for the socket and the doors.
//!
//! The server knows the protocol and the [`Jobs`] handle only: not payments, printers or
//! the journal.

use std::future::Future;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::jobs::Jobs;
use places::Places;

mod connection;
mod framing;
mod http;
mod places;

pub use http::HttpListener;
pub(crate) use http::{HttpOptions, bind_http, serve_until};

/// Mode of the socket file: owner and group (the POS software's group) only.
pub const SOCKET_MODE: u32 = 0o660;

/// POS connections served at once; past it a new connection waits to be accepted. A POS
/// that leaks connections (one per request, never closed) would otherwise take the file
/// descriptors and memory that placing, polling and printing need: with the cap its own new
/// connections wait, and the orders already taken still end paid or closed.
pub const MAX_CONNECTIONS: usize = 1024;

/// Why the socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A daemon answers on the socket already.
    #[error(
        "another wxprint is already listening on {0}; stop it first (systemctl stop wxprint) or choose another daemon.socket"
    )]
    InUse(PathBuf),
    /// Something other than a socket is at the path; it is never deleted.
    #[error(
        "{0} exists and is not a socket; refusing to replace it — move it away or choose another daemon.socket"
    )]
    NotASocket(PathBuf),
    /// Creating the directory, replacing a stale socket, binding or setting the mode failed.
    #[error("cannot listen on {path}: {source}; check that its directory exists and is writable")]
    Bind {
        /// The socket path, `daemon.socket`.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// The listening POS socket, and whether its file is ours to remove when [`run`] ends.
#[derive(Debug)]
pub struct Listener {
    inner: UnixListener,
    /// `true` when [`bind`] created the file; a socket systemd passed keeps its file.
    remove_file: bool,
    /// Connections served at once ([`MAX_CONNECTIONS`]).
    max_connections: usize,
}

impl Listener {
    /// A socket systemd passed us (socket activation): its file stays when we stop, since
    /// systemd owns it and keeps it across restarts.
    pub fn activated(listener: UnixListener) -> Listener {
        Listener {
            inner: listener,
            remove_file: false,
            max_connections: MAX_CONNECTIONS,
        }
    }

    /// The same listener serving at most `n` connections at once instead of
    /// [`MAX_CONNECTIONS`] (tests show the cap with a few).
    pub fn max_connections(self, n: usize) -> Listener {
        Listener {
            max_connections: n,
            ..self
        }
    }
}

/// Bind the POS socket at `path`, mode 0660. A stale socket file (nobody answers) is
/// replaced; a live one means another daemon runs, and we refuse to start. [`run`] removes
/// the file when it ends.
pub fn bind(path: &Path) -> Result<Listener, ServerError> {
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
    Ok(Listener {
        inner: listener,
        remove_file: true,
        max_connections: MAX_CONNECTIONS,
    })
}

/// Serve POS connections until `shutdown` completes, then shut down gracefully: stop
/// accepting, let the jobs reach a safe point (a receipt being written is finished, the
/// journal is flushed), close the connections and remove the socket file if [`bind`]
/// created it.
pub async fn run(listener: Listener, jobs: Jobs, shutdown: impl Future<Output = ()>) {
    let Listener {
        inner: listener,
        remove_file,
        max_connections,
    } = listener;
    let path = listener
        .local_addr()
        .ok()
        .and_then(|a| a.as_pathname().map(Path::to_owned))
        .filter(|_| remove_file);
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    let places = Places::new(max_connections);
    tokio::pin!(shutdown);
    loop {
        // A free place first, then the next connection: past the cap they wait in the
        // socket's backlog.
        let Some(place) = places.take(&mut shutdown).await else {
            break;
        };
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (jobs, closing) = (jobs.clone(), closing.clone());
                    connections.spawn(async move {
                        connection::handle(stream, jobs, closing).await;
                        drop(place);
                    });
                }
                Err(e) => places::accept_failed("POS", &e).await,
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
