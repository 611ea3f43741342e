//! The daemon's small HTTP/1.1 side doors (hyper): the payment notification listener
//! (`notify/`) and the metrics endpoint (`metrics/`). This file owns binding `host:port` or
//! a Unix socket ([`HttpListener`]), the accept loop until a stop token ([`serve_until`]),
//! one task per connection, at most so many at once, the header timeout, and the end: at the
//! stop, the requests in progress are answered within the header timeout (a notification
//! being handled gets its answer, not a reset; a client that stops reading is cut off) and
//! idle kept-alive connections closed. What a request means is the caller's `handle`.
//! Knows no path, body or answer.
//!
//! The cap on connections is what keeps a side door from starving the rest of the daemon: a
//! flood of idle connections (each held up to the header timeout) would otherwise take the
//! file descriptors that the POS socket, the journal and each receipt's printer connection
//! need. Past the cap (`places.rs`, the POS socket's rule too), new connections wait in the
//! kernel's listen backlog, [`TCP_BACKLOG`] of them on `host:port`.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, UnixListener};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::places::{self, Place, Places};

use crate::config::NotifyListen;

/// A bound side-door listener.
pub enum HttpListener {
    /// `host:port`.
    Tcp(TcpListener),
    /// `unix:PATH`; the socket file is removed when the listener stops.
    Unix(UnixListener, PathBuf),
}

impl HttpListener {
    /// Where it listens, as configured (`127.0.0.1:8088`, `unix:/run/…`).
    pub fn address(&self) -> String {
        match self {
            HttpListener::Tcp(l) => l
                .local_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string()),
            HttpListener::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }
}

/// Bind `listen`; `None` when it is off. A socket file left by an earlier run that did not
/// stop cleanly is replaced.
pub(crate) async fn bind_http(listen: &NotifyListen) -> std::io::Result<Option<HttpListener>> {
    Ok(Some(match listen {
        NotifyListen::Off => return Ok(None),
        NotifyListen::Tcp(address) => HttpListener::Tcp(bind_tcp(address).await?),
        NotifyListen::Unix(path) => {
            if std::fs::symlink_metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            {
                let _ = std::fs::remove_file(path);
            }
            HttpListener::Unix(UnixListener::bind(path)?, path.clone())
        }
    }))
}

/// Connections a `host:port` side door keeps waiting to be accepted (its listen backlog):
/// a burst past the cap waits here rather than having its SYN dropped, to be retried only a
/// second later. `TcpListener::bind` asks for std's 128; a Unix socket gets the kernel's
/// maximum (`net.core.somaxconn`, which also caps this).
const TCP_BACKLOG: u32 = 1024;

/// Listen on the first address `address` resolves to that takes it, with [`TCP_BACKLOG`]
/// (as `TcpListener::bind` tries each in turn; the error is the last address's).
async fn bind_tcp(address: &str) -> std::io::Result<TcpListener> {
    let mut failed = None;
    for at in tokio::net::lookup_host(address).await? {
        match listen_tcp(at) {
            Ok(listener) => return Ok(listener),
            Err(e) => failed = Some(e),
        }
    }
    Err(failed.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{address} resolves to no address; give an IP:port or a resolvable name"),
        )
    }))
}

fn listen_tcp(at: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if at.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(at)?;
    socket.listen(TCP_BACKLOG)
}

/// How connections are served.
#[derive(Clone, Copy)]
pub(crate) struct HttpOptions {
    /// What the listener is, for the log (`"metrics"`).
    pub(crate) what: &'static str,
    /// A request's headers must have arrived within this.
    pub(crate) read_timeout: Duration,
    /// Whether a connection may carry more than one request.
    pub(crate) keep_alive: bool,
    /// Connections served at once; the next ones wait to be accepted.
    pub(crate) max_connections: usize,
}

/// Accept connections on `listener` and answer each request with `handle`, until `stop`;
/// then finish the requests in progress (an idle kept-alive connection is closed at once)
/// and return once every connection is closed.
pub(crate) async fn serve_until<H, F>(
    listener: HttpListener,
    options: HttpOptions,
    stop: CancellationToken,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let places = Places::new(options.max_connections);
    let connections = TaskTracker::new();
    loop {
        let Some(place) = places.take(stop.cancelled()).await else {
            break;
        };
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok(Accepted::Tcp(stream)) => {
                connections.spawn(serve(stream, options, handle.clone(), place, stop.clone()));
            }
            Ok(Accepted::Unix(stream)) => {
                connections.spawn(serve(stream, options, handle.clone(), place, stop.clone()));
            }
            Err(e) => places::accept_failed(options.what, &e).await,
        }
    }
    if let HttpListener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// A connection just accepted on a side door.
enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

impl HttpListener {
    async fn accept(&self) -> std::io::Result<Accepted> {
        Ok(match self {
            HttpListener::Tcp(l) => Accepted::Tcp(l.accept().await?.0),
            HttpListener::Unix(l, _) => Accepted::Unix(l.accept().await?.0),
        })
    }
}

/// Serve one connection, holding its `place` while it lasts. Once `stop` is cancelled the
/// request in progress is answered, within `read_timeout`, and the connection closed.
async fn serve<S, H, F>(
    io: S,
    options: HttpOptions,
    handle: H,
    place: Place,
    stop: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let service = service_fn(move |req| {
        let answer = handle(req);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(options.read_timeout)
        .keep_alive(options.keep_alive)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        () = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            // hyper has no write timeout: a client that stops reading would hold the stop.
            let _ = tokio::time::timeout(options.read_timeout, connection).await;
        }
    }
    drop(place);
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
