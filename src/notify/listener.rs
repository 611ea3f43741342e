//! The notification listener, on the daemon's HTTP side door (`server/http.rs`: `host:port`
//! or a Unix socket, one task per connection, at most [`MAX_CONNECTIONS`] at once), one
//! request per connection (WeChat Pay opens one per notification). Only `POST` to the
//! configured path; bodies up to 64 KiB, read within 5 s.

use std::sync::Arc;
use std::time::Duration;

use crate::server::{HttpOptions, bind_http, serve_until};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode, header};
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::request::{Refusal, believe};
use super::{Notifications, NotifyError, dispatch};
use crate::config::NotifyListen;

/// Largest notification body taken (WeChat Pay's are about 1 KiB).
const MAX_BODY: usize = 64 * 1024;
/// Headers and body must have arrived within this (WeChat Pay waits 5 s for the answer).
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Notifications served at once (a shop's come a few a minute, each on its own connection);
/// more wait to be accepted, so that a flood cannot take the daemon's file descriptors.
const MAX_CONNECTIONS: usize = 64;

/// The notification listener: the daemon's shared HTTP side door.
pub use crate::server::HttpListener as Listener;

/// Bind `listen`; `None` when notifications are off.
pub async fn bind(listen: &NotifyListen) -> Result<Option<Listener>, NotifyError> {
    bind_http(listen).await.map_err(|source| NotifyError::Bind {
        listen: listen.to_string(),
        source,
    })
}

/// Serve notifications on `listener` until `stop` is cancelled.
pub async fn run(listener: Listener, notifications: Arc<Notifications>, stop: CancellationToken) {
    info!(listen = %listener.address(), path = %notifications.path, "listening for payment notifications");
    let options = HttpOptions {
        what: "payment notification",
        read_timeout: READ_TIMEOUT,
        // WeChat Pay opens one connection per notification.
        keep_alive: false,
        max_connections: MAX_CONNECTIONS,
    };
    serve_until(listener, options, stop, move |req| {
        let n = notifications.clone();
        async move { handle(&n, req).await }
    })
    .await;
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
