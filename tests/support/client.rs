//! A POS-side connection: send request lines, read event lines, with a timeout on every
//! read so a test fails instead of hanging. It speaks only the socket protocol (JSON lines)
//! and knows nothing of wxprint's types. [`Client::checkout_printed`] is the common opening
//! of a checkout: `accepted`, `code_url`, `printed`.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::TIMEOUT;

/// The first three events of a checkout whose receipt was printed.
#[allow(dead_code, reason = "tests/power_cut follows a watcher instead")]
pub struct Printed {
    #[allow(dead_code, reason = "tests/printers does not read it")]
    pub accepted: Value,
    /// The `code_url` event.
    #[allow(dead_code, reason = "only tests/daemon reads it")]
    pub code: Value,
    /// The QR content it announced.
    pub code_url: String,
    #[allow(dead_code, reason = "tests/wechatpay does not read it")]
    pub printed: Value,
}

/// A POS-side connection.
pub struct Client {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: OwnedWriteHalf,
}

impl Client {
    pub async fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket)
            .await
            .expect("connect to the daemon");
        let (read, write) = stream.into_split();
        Client {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    /// Send raw bytes (the test adds the newline where it wants one).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).await.unwrap();
    }

    /// Close our sending side (as `socat` does at the end of its input); replies still come.
    #[allow(dead_code, reason = "only tests/daemon half-closes")]
    pub async fn close_write(&mut self) {
        self.write.shutdown().await.unwrap();
    }

    /// Send one request line.
    pub async fn send(&mut self, request: Value) {
        let mut line = request.to_string();
        line.push('\n');
        self.send_raw(line.as_bytes()).await;
    }

    /// The next message, as JSON. Panics after [`TIMEOUT`] or when the daemon hangs up.
    pub async fn recv(&mut self) -> Value {
        let line = tokio::time::timeout(TIMEOUT, self.lines.next_line())
            .await
            .expect("a message within the timeout")
            .expect("read from the socket")
            .expect("the daemon closed the connection");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The next message, which must be event `name`. `delayed` events (wxprint still
    /// trying after a failed attempt) are skipped unless `name` is `delayed`.
    pub async fn expect(&mut self, name: &str) -> Value {
        let mut m = self.recv().await;
        while name != "delayed" && m["event"] == "delayed" {
            m = self.recv().await;
        }
        assert_eq!(m["event"], name, "expected {name}, got {m}");
        m
    }

    /// `None` if the daemon closed the connection.
    #[allow(dead_code, reason = "only tests/daemon waits for the end of a stream")]
    pub async fn recv_or_eof(&mut self) -> Option<Value> {
        let line = tokio::time::timeout(TIMEOUT, self.lines.next_line())
            .await
            .expect("a message or end of stream within the timeout")
            .ok()??;
        Some(serde_json::from_str(&line).unwrap())
    }

    /// Nothing arrives within `d` but `delayed` events (wxprint still trying after a
    /// failed attempt: news, not a change of the job).
    #[allow(dead_code, reason = "tests/printers never waits for silence")]
    pub async fn silent_for(&mut self, d: Duration) {
        let until = tokio::time::Instant::now() + d;
        while let Ok(Ok(Some(line))) = tokio::time::timeout_at(until, self.lines.next_line()).await
        {
            assert!(
                line.contains(r#""event":"delayed""#),
                "unexpected message: {line}"
            );
        }
    }

    /// Send a request and return the first reply.
    #[allow(dead_code, reason = "not every test binary asks for one reply")]
    pub async fn call(&mut self, request: Value) -> Value {
        self.send(request).await;
        self.recv().await
    }

    /// An error reply's code.
    #[allow(dead_code, reason = "only tests/daemon sends requests that fail")]
    pub async fn call_error(&mut self, request: Value) -> (String, Value) {
        let m = self.call(request).await;
        assert_eq!(m["event"], "error", "expected an error, got {m}");
        (m["error"]["code"].as_str().unwrap().to_owned(), m)
    }

    /// Send a checkout `request` and read its first three events, `accepted`, `code_url` and
    /// `printed` (which must say `"print": "printed"`).
    #[allow(dead_code, reason = "tests/power_cut follows a watcher instead")]
    pub async fn checkout_printed(&mut self, request: Value) -> Printed {
        self.send(request).await;
        let accepted = self.expect("accepted").await;
        let code = self.expect("code_url").await;
        let code_url = code["code_url"].as_str().expect("a code_url").to_owned();
        let printed = self.expect("printed").await;
        assert_eq!(printed["print"], "printed", "{printed}");
        Printed {
            accepted,
            code,
            code_url,
            printed,
        }
    }
}
