//! The HTTP/1.1 listener (hyper): `host:port` or a Unix socket, one task per connection,
//! one request per connection (WeChat Pay opens one per notification). Only `POST` to the
//! configured path; bodies up to 64 KiB, read within 5 s.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::request::{Refusal, believe};
use super::{Notifications, NotifyError, dispatch};
use crate::config::NotifyListen;

/// Largest notification body taken (WeChat Pay's are about 1 KiB).
const MAX_BODY: usize = 64 * 1024;
/// Headers and body must have arrived within this (WeChat Pay waits 5 s for the answer).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound listener.
pub enum Listener {
    /// `host:port`.
    Tcp(TcpListener),
    /// `unix:PATH`; the socket file is removed when the listener stops.
    Unix(UnixListener, PathBuf),
}

impl Listener {
    /// Where it listens, as `notify.listen` would write it (the port resolved).
    pub fn address(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string()),
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }
}

/// Bind `listen`; `None` when notifications are off.
pub async fn bind(listen: &NotifyListen) -> Result<Option<Listener>, NotifyError> {
    let failed = |source| NotifyError::Bind {
        listen: listen.to_string(),
        source,
    };
    Ok(Some(match listen {
        NotifyListen::Off => return Ok(None),
        NotifyListen::Tcp(address) => {
            Listener::Tcp(TcpListener::bind(address.as_str()).await.map_err(failed)?)
        }
        NotifyListen::Unix(path) => {
            // A socket file left by an earlier run that did not stop cleanly.
            if std::fs::symlink_metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
            {
                let _ = std::fs::remove_file(path);
            }
            Listener::Unix(UnixListener::bind(path).map_err(failed)?, path.clone())
        }
    }))
}

/// Serve notifications on `listener` until `stop` is cancelled.
pub async fn run(listener: Listener, notifications: Arc<Notifications>, stop: CancellationToken) {
    info!(listen = %listener.address(), path = %notifications.path, "listening for payment notifications");
    loop {
        let n = notifications.clone();
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = accept(&listener, n) => {
                if let Err(e) = accepted {
                    warn!(error = %e, "payment notification connection not accepted");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
}

/// Accept one connection and serve it on its own task.
async fn accept(listener: &Listener, n: Arc<Notifications>) -> std::io::Result<()> {
    match listener {
        Listener::Tcp(l) => {
            let (stream, _) = l.accept().await?;
            tokio::spawn(serve(stream, n));
        }
        Listener::Unix(l, _) => {
            let (stream, _) = l.accept().await?;
            tokio::spawn(serve(stream, n));
        }
    }
    Ok(())
}

async fn serve<S>(io: S, n: Arc<Notifications>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let n = n.clone();
        async move { Ok::<_, Infallible>(handle(&n, req).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .keep_alive(false)
        .serve_connection(TokioIo::new(io), service);
    let _ = connection.await;
}

/// One request: `204` once taken, else the refusal's status and a JSON body
/// `{"code":"FAIL","message":…}` (WeChat Pay's shape).
async fn handle(n: &Notifications, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() != n.path {
        let message = format!("no such path: notifications are POSTed to {}", n.path);
        return answer(&Refusal::new(404, message));
    }
    if req.method() != Method::POST {
        let message = format!(
            "method {} is not allowed: notifications are POSTed",
            req.method()
        );
        return answer(&Refusal::new(405, message));
    }
    let (parts, body) = req.into_parts();
    let body =
        match tokio::time::timeout(READ_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) => {
                return answer(&Refusal::new(
                    413,
                    format!("body not read: {e} (at most 64 KiB)"),
                ));
            }
            Err(_) => return answer(&Refusal::new(408, "the body did not arrive within 5 s")),
        };
    let header = |name: &'static str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let taken = match believe(&n.backend, header, &body).await {
        Ok(event) => dispatch::dispatch(n, &event),
        Err(refusal) => Err(refusal),
    };
    match taken {
        Ok(()) => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .body(Full::default())
            .unwrap_or_default(),
        Err(refusal) => answer(&refusal),
    }
}

fn answer(refusal: &Refusal) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "code": "FAIL", "message": refusal.message }).to_string();
    Response::builder()
        .status(StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
