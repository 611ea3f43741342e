//! The metrics listener (hyper, HTTP/1.1): `host:port` or a Unix socket, one task per
//! connection; `GET /metrics` answers the metrics in the Prometheus text format, other
//! paths 404, other methods 405. No body is read; headers must arrive within 5 s.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::MetricsError;
use super::exporter::Render;
use crate::config::NotifyListen;

/// The one path served.
pub(crate) const PATH: &str = "/metrics";
/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A request's headers must have arrived within this.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound listener.
pub(super) enum Listener {
    Tcp(TcpListener),
    /// The socket file is removed when the listener stops.
    Unix(UnixListener, PathBuf),
}

impl Listener {
    fn address(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|e| e.to_string(), |a| a.to_string()),
            Listener::Unix(_, path) => format!("unix:{}", path.display()),
        }
    }
}

/// Bind `listen`; `None` when it is off.
pub(super) async fn bind(listen: &NotifyListen) -> Result<Option<Listener>, MetricsError> {
    let failed = |source| MetricsError::Bind {
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

/// Serve the metrics on `listener` until `stop` is cancelled.
pub(super) async fn run(listener: Listener, render: Arc<Render>, stop: CancellationToken) {
    info!(listen = %listener.address(), path = PATH, "serving metrics");
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = accept(&listener, render.clone()) => {
                if let Err(e) = accepted {
                    warn!(error = %e, "metrics connection not accepted");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    if let Listener::Unix(_, path) = &listener {
        let _ = std::fs::remove_file(path);
    }
}

async fn accept(listener: &Listener, render: Arc<Render>) -> std::io::Result<()> {
    match listener {
        Listener::Tcp(l) => {
            let (stream, _) = l.accept().await?;
            tokio::spawn(serve(stream, render));
        }
        Listener::Unix(l, _) => {
            let (stream, _) = l.accept().await?;
            tokio::spawn(serve(stream, render));
        }
    }
    Ok(())
}

async fn serve<S>(io: S, render: Arc<Render>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let render = render.clone();
        async move { Ok::<_, Infallible>(answer(&render, &req)) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    let _ = connection.await;
}

fn answer(render: &Render, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let (status, body) = if req.uri().path() != PATH {
        let message = format!("no such path: the metrics are at {PATH}\n");
        (StatusCode::NOT_FOUND, message)
    } else if req.method() != Method::GET && req.method() != Method::HEAD {
        let message = format!("method {} is not allowed: use GET\n", req.method());
        (StatusCode::METHOD_NOT_ALLOWED, message)
    } else {
        (StatusCode::OK, render.text())
    };
    let content_type = if status == StatusCode::OK {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_default()
}
