//! Hostile input over the real socket: ≥10⁵ mutated requests (wrong types, huge numbers,
//! NUL bytes, invalid UTF-8, truncations), a 64 MB line, a line without newline, 500
//! connections at once and a client sending one byte at a time. The daemon keeps answering
//! `ping`, answers every line with one JSON message (an error, or the op's answer), and no
//! invalid request places an order (the sandbox's orders are counted).
//!
//! `WXPRINT_HOSTILE_SCALE=10` (say) multiplies the number of mutated requests for a longer
//! run; the default keeps it to seconds on 2 cores.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::support::Daemon;

/// A small deterministic generator (xorshift64*), so a failure can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Well-formed requests the mutations start from; their order numbers all start with `H`.
fn seeds(i: usize) -> Vec<String> {
    let no = format!("H{:09}", i % 64);
    vec![
        json!({"op": "checkout", "follow": false, "order": {"out_trade_no": no, "description": "Latte", "amount": {"total": 3200}},
               "receipt": {"lines": [{"name": "Latte", "quantity": 2, "amount": 3200}]}}).to_string(),
        json!({"op": "status", "id": "s", "out_trade_no": no}).to_string(),
        json!({"op": "ping", "id": "p"}).to_string(),
    ]
}

/// Pieces a hostile client splices in.
const TOKENS: [&[u8]; 14] = [
    b"[]",
    b"{}",
    b"null",
    b"true",
    b"\"x\"",
    b"1e400",
    b"-1",
    b"99999999999999999999",
    b"\0",
    b"\xff\xfe",
    b"[\"A\",[1]]",
    b"\"\\u0000\"",
    b"{\"a\":",
    b"\"\xf0\x9f\x98\x80\"",
];

/// One mutation of a seed: a byte changed, a token spliced in, a range cut, or a truncation.
fn mutate(rng: &mut Rng, i: usize) -> Vec<u8> {
    let seeds = seeds(i);
    let mut line = seeds[rng.below(seeds.len())].clone().into_bytes();
    for _ in 0..1 + rng.below(3) {
        if line.is_empty() {
            line.push(b'{');
        }
        let at = rng.below(line.len());
        match rng.below(4) {
            0 => line[at] = rng.next() as u8,
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let end = (at + rng.below(8)).min(line.len());
                line.splice(at..end, token.iter().copied());
            }
            2 => {
                let end = (at + rng.below(16)).min(line.len());
                line.drain(at..end);
            }
            _ => line.truncate(at.max(1)),
        }
    }
    line.retain(|&b| b != b'\n');
    line
}

/// Send `count` mutated lines on one connection, then a `ping` marker, reading all the
/// while; every answer is JSON. Returns the order numbers the daemon accepted.
async fn throw(daemon: &Daemon, seed: u64, count: usize) -> HashSet<String> {
    let stream = UnixStream::connect(&daemon.socket).await.unwrap();
    let (read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let mut rng = Rng(seed);
        let mut batch = Vec::new();
        for i in 0..count {
            batch.extend(mutate(&mut rng, i));
            batch.push(b'\n');
            if batch.len() > 32 * 1024 {
                write.write_all(&batch).await.unwrap();
                batch.clear();
            }
        }
        batch.extend_from_slice(b"{\"op\":\"ping\",\"id\":\"end-of-batch\"}\n");
        write.write_all(&batch).await.unwrap();
        write
    });
    let mut lines = BufReader::new(read).lines();
    let mut accepted = HashSet::new();
    while let Some(line) = lines
        .next_line()
        .await
        .expect("the daemon's answers are UTF-8")
    {
        let m: Value = serde_json::from_str(&line).expect("every answer is JSON");
        if m["event"] == "accepted" {
            accepted.insert(m["out_trade_no"].as_str().unwrap().to_owned());
        }
        if m["event"] == "error" {
            let message = m["error"]["message"].as_str().unwrap();
            let rust = [
                "invalid type",
                "invalid value",
                "expected i64",
                "expected u32",
                "struct ",
                "Some(",
            ];
            assert!(!rust.iter().any(|w| message.contains(w)), "{m}");
        }
        if m["id"] == "end-of-batch" && m["event"] == "pong" {
            break;
        }
    }
    drop(writer.await.unwrap());
    accepted
}

async fn ping(daemon: &Daemon) {
    let mut pos = daemon.connect().await;
    assert_eq!(pos.call(json!({"op": "ping"})).await["event"], "pong");
}

/// Oversized and unterminated lines, one-byte-at-a-time clients and 500 connections.
async fn abusive_connections(daemon: &Daemon) {
    // 64 MB without a newline: refused after 64 KiB, the connection closed (our writes
    // then fail, which is the clean close).
    let stream = UnixStream::connect(&daemon.socket).await.unwrap();
    let (read, mut write) = stream.into_split();
    let chunk = vec![b'7'; 1 << 20];
    for _ in 0..64 {
        if write.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let mut answers = BufReader::new(read).lines();
    let m: Value = serde_json::from_str(&answers.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(m["error"]["code"], "line_too_long");
    assert!(
        matches!(answers.next_line().await, Ok(None) | Err(_)),
        "closed"
    );
    // A line without a newline, then the client closes: answered, then a clean close.
    let mut unterminated = daemon.connect().await;
    unterminated
        .send_raw(b"{\"op\":\"ping\",\"id\":\"last\"}")
        .await;
    unterminated.close_write().await;
    assert_eq!(unterminated.expect("pong").await["id"], "last");
    assert!(unterminated.recv_or_eof().await.is_none());
    // One byte at a time (time compressed: a yield between bytes instead of a second).
    let mut slow = daemon.connect().await;
    for &b in b"{\"op\":\"ping\",\"id\":\"slow\"}\n" {
        slow.send_raw(&[b]).await;
        tokio::task::yield_now().await;
        ping(daemon).await;
    }
    assert_eq!(slow.expect("pong").await["id"], "slow");
    // 500 connections at once, each answered.
    let mut clients = Vec::new();
    for _ in 0..500 {
        clients.push(daemon.connect().await);
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(json!({"op": "ping", "id": i.to_string()})).await;
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.expect("pong").await["id"], i.to_string());
    }
}

/// Past its cap of connections (2 here; `server::MAX_CONNECTIONS` in service) the daemon
/// leaves a new connection waiting instead of taking another descriptor for it: its request
/// is answered once an earlier connection closes.
#[tokio::test]
async fn past_the_connection_cap_a_connection_waits_until_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_capped(dir.path(), 2).await;
    let mut first = daemon.connect().await;
    let mut second = daemon.connect().await;
    for (c, id) in [(&mut first, "1"), (&mut second, "2")] {
        c.send(json!({"op": "ping", "id": id})).await;
        assert_eq!(c.expect("pong").await["id"], id);
    }
    let mut third = daemon.connect().await;
    third.send(json!({"op": "ping", "id": "3"})).await;
    let early = tokio::time::timeout(Duration::from_millis(300), third.recv_or_eof()).await;
    assert!(early.is_err(), "answered past the cap: {early:?}");
    drop(first);
    assert_eq!(third.expect("pong").await["id"], "3");
    assert_eq!(
        second.call(json!({"op": "ping", "id": "2b"})).await["id"],
        "2b"
    );
}

/// The resident set of this process (daemon and clients), in kB.
fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_places_no_invalid_order_and_the_daemon_keeps_answering() {
    let scale: usize = std::env::var("WXPRINT_HOSTILE_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path()).await;
    let per_connection = 25_000 * scale;
    let mut accepted = HashSet::new();
    let before = rss_kb();
    for seed in 1..=4u64 {
        accepted.extend(throw(&daemon, seed * 0x9E37_79B9, per_connection).await);
        ping(&daemon).await;
    }
    abusive_connections(&daemon).await;
    ping(&daemon).await;
    let grown = rss_kb().saturating_sub(before);
    assert!(grown < 64 * 1024, "RSS grew by {grown} kB");
    // Only accepted checkouts are orders at the sandbox.
    let sandbox = daemon.sandbox.as_ref().unwrap();
    for i in 0..64 {
        let no = format!("H{i:09}");
        let placed = sandbox.current_code_url(&no).is_some();
        assert!(
            !placed || accepted.contains(&no),
            "{no} placed but never accepted"
        );
    }
    daemon.shutdown().await;
}
