//! The metrics listener, on the daemon's HTTP side door (`server/http.rs`: `host:port` or a
//! Unix socket, one task per connection); `GET /metrics` answers the metrics in the Prometheus text format, other
//! paths 404, other methods 405. No body is read; headers must arrive within 5 s.

use std::sync::Arc;
use std::time::Duration;

use crate::server::{HttpOptions, bind_http, serve_until};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::MetricsError;
use super::exporter::Render;
use crate::config::NotifyListen;

/// The one path served.
pub(crate) const PATH: &str = "/metrics";
/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A request's headers must have arrived within this.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The metrics listener: the daemon's shared HTTP side door.
pub(super) use crate::server::HttpListener as Listener;

/// Bind `listen`; `None` when it is off.
pub(super) async fn bind(listen: &NotifyListen) -> Result<Option<Listener>, MetricsError> {
    bind_http(listen)
        .await
        .map_err(|source| MetricsError::Bind {
            listen: listen.to_string(),
            source,
        })
}

/// Serve the metrics on `listener` until `stop` is cancelled.
pub(super) async fn run(listener: Listener, render: Arc<Render>, stop: CancellationToken) {
    info!(listen = %listener.address(), path = PATH, "serving metrics");
    let options = HttpOptions {
        what: "metrics",
        read_timeout: READ_TIMEOUT,
        keep_alive: true,
        // A scraper or two.
        max_connections: 8,
    };
    serve_until(listener, options, stop, move |req| {
        let render = render.clone();
        async move { answer(&render, &req) }
    })
    .await;
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
