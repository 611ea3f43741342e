//! Hand-written HTTP/1.1 over loopback: keep-alive, `Content-Length` or chunked bodies.
//! Owning the socket is what lets faults reset a connection or hold it open. This file
//! frames requests and answers; what an answer says is decided in `routes.rs`.

use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::Inner;
use super::ids::request_id;
use super::reply::Reply;
use super::time::{http_date, unix};

/// A parsed HTTP/1.1 request.
pub(super) struct HttpRequest {
    pub(super) method: String,
    /// Path and query, exactly as sent.
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// The client asked to close the connection after this exchange.
    pub(super) close: bool,
    /// When its first bytes reached the simulator's socket (the kernel's time), if known.
    pub(super) received: Option<Instant>,
}

/// What the connection does with a call.
pub(super) enum Answer {
    Respond(Reply),
    Reset,
    Hang,
}

/// Serve connections until this task is aborted (the `Simulator` is dropped).
pub(super) async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    // Connections live in the set, so they are all dropped when this task is aborted.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(serve_connection(stream, inner.clone()));
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One keep-alive connection: requests in, answers (or a reset, or silence) out.
async fn serve_connection(stream: TcpStream, inner: Arc<Inner>) {
    let _ = stream.set_nodelay(true);
    let mut conn = BufReader::new(stream);
    loop {
        // The kernel's time of the next request's first bytes, unless they were read
        // already (with the end of the one before).
        let received = if conn.buffer().is_empty() {
            super::arrival::next(conn.get_ref()).await
        } else {
            None
        };
        let req = match read_request(&mut conn).await {
            Ok(Some(req)) => HttpRequest { received, ..req },
            Ok(None) => return,
            Err(e) => {
                let reply = Reply::error(400, "INVALID_REQUEST", &format!("HTTP请求格式错误: {e}"));
                let date = http_date(unix(inner.now()));
                let _ = write_reply(&mut conn, &reply, &request_id(), &date, true).await;
                return;
            }
        };
        let (answer, request_id) = inner.dispatch(&req).await;
        match answer {
            Answer::Respond(reply) => {
                // Like every real server, WeChat Pay's included: its clock, on every answer.
                let date = http_date(unix(inner.now()));
                if write_reply(&mut conn, &reply, &request_id, &date, req.close)
                    .await
                    .is_err()
                {
                    return;
                }
                inner.answer_written(&request_id);
                if req.close {
                    return;
                }
            }
            Answer::Reset => {
                // SO_LINGER 0: closing sends RST instead of FIN.
                let _ = conn.get_ref().set_zero_linger();
                return;
            }
            Answer::Hang => std::future::pending::<()>().await,
        }
    }
}

type Conn = BufReader<TcpStream>;

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

fn bad(message: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.into())
}

/// One CRLF- (or LF-) terminated line, without its terminator.
async fn read_line(conn: &mut Conn, budget: &mut usize) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = (&mut *conn)
        .take(*budget as u64 + 1)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if n > *budget || line.last() != Some(&b'\n') {
        return Err(bad("header too long or truncated"));
    }
    *budget -= n;
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| bad("non-UTF-8 header"))
}

/// Read one request; `None` on a clean end of the connection.
async fn read_request(conn: &mut Conn) -> std::io::Result<Option<HttpRequest>> {
    let mut budget = MAX_HEAD;
    let request_line = loop {
        match read_line(conn, &mut budget).await? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue, // tolerated before a request
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(format!("bad request line {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return Err(bad(format!("bad request line {request_line:?}")));
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn, &mut budget)
            .await?
            .ok_or_else(|| bad("connection closed in headers"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(conn, &mut budget).await?
    } else {
        let length = match header(&headers, "content-length") {
            Some(len) => len.parse().map_err(|_| bad("bad Content-Length"))?,
            None => 0,
        };
        if length > MAX_BODY {
            return Err(bad("body too large"));
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).await?;
        body
    };
    let connection = header(&headers, "connection").map(str::to_ascii_lowercase);
    let close = match version {
        "HTTP/1.0" => connection.as_deref() != Some("keep-alive"),
        _ => connection.as_deref() == Some("close"),
    };
    Ok(Some(HttpRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers,
        body,
        close,
        received: None,
    }))
}

async fn read_chunked(conn: &mut Conn, budget: &mut usize) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(conn, budget)
            .await?
            .ok_or_else(|| bad("connection closed in body"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| bad("bad chunk size"))?;
        if size == 0 {
            // Trailer section, up to the empty line.
            while !read_line(conn, budget)
                .await?
                .ok_or_else(|| bad("connection closed in trailer"))?
                .is_empty()
            {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(bad("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..]).await?;
        let mut crlf = [0; 2];
        conn.read_exact(&mut crlf).await?;
        if &crlf != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
    }
}

/// Frame `reply` with the headers every answer carries (`date`: the HTTP `Date`).
async fn write_reply(
    conn: &mut Conn,
    reply: &Reply,
    request_id: &str,
    date: &str,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nServer: nginx\r\nDate: {date}\r\nRequest-ID: {request_id}\r\nConnection: {}\r\n",
        reply.status,
        reason(reply.status),
        if close { "close" } else { "keep-alive" }
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.status != 204 {
        if !reply.content_type.is_empty() {
            head.push_str(&format!("Content-Type: {}\r\n", reply.content_type));
        }
        head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    }
    head.push_str("\r\n");
    // One write, as WeChat Pay's front servers send a small answer: in one TCP segment, so
    // the daemon reads it whole (the real-path bench times the daemon from this answer's
    // first byte; a body sent separately would charge the simulator's gap to the daemon).
    let mut answer = head.into_bytes();
    if reply.status != 204 {
        answer.extend_from_slice(&reply.body);
    }
    let stream = conn.get_mut();
    stream.write_all(&answer).await?;
    stream.flush().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// The first header of that name (case-insensitive).
pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `%XX` escapes decoded (others kept as they are), as lossy UTF-8.
pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
