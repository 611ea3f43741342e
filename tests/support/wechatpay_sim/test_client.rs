//! For the simulator's own tests (`selftest.rs`): a tiny merchant client that signs calls
//! with the fixture merchant key (aws-lc directly, never wxprint's code: `signer.rs`) and speaks
//! plain HTTP/1.1 over one connection per call. It checks nothing of the answer's signature:
//! it exists to drive the simulator's request rules.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ids::random_alnum;
use super::signer::Signer;
use super::time::unix;
use super::{MERCHANT_SERIAL, Simulator, default_fixture_dir};

/// An answer: status, JSON body (`Null` when empty), the body's `code` if an error.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Value,
}

impl Answer {
    pub(super) fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// `method target` with `body` (sent as JSON), signed as the simulator's merchant.
pub(super) async fn call(
    sim: &Simulator,
    method: &str,
    target: &str,
    body: Option<&Value>,
) -> Answer {
    let body = body.map(Value::to_string).unwrap_or_default();
    let ts = unix(sim.now());
    let nonce = random_alnum(32);
    let message = format!("{method}\n{target}\n{ts}\n{nonce}\n{body}\n");
    let pem = std::fs::read_to_string(default_fixture_dir().join("merchant_key.pem")).unwrap();
    let key = Signer::from_pem(&pem);
    let signature = BASE64.encode(key.sign(message.as_bytes()));
    let authorization = format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{ts}\",serial_no=\"{MERCHANT_SERIAL}\",signature=\"{signature}\"",
        sim.config().mchid
    );
    let content_type = if method == "POST" {
        "Content-Type: application/json\r\n"
    } else {
        ""
    };
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: sim-selftest\r\n{content_type}Authorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        sim.addr,
        body.len()
    );
    let mut stream = TcpStream::connect(sim.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Answer {
        status,
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    }
}
