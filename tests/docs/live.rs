//! The documented messages against a running `wxprint serve`: the binary on a sandbox
//! config in a temporary directory, driven through every kind of message it can send
//! offline; each message must match a documented example's shape, and the other way round.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Examples, examples};

const WXPRINT: &str = env!("CARGO_BIN_EXE_wxprint");
/// Key paths that only a real WeChat Pay answer produces (or, for `amount.exchange_rate`, a
/// sandbox standing in for WeChat Pay Global, which this mainland daemon is not; for
/// `retry_in_ms` and `last_error`, a WeChat Pay that fails — `delayed` and the status of a
/// job stuck on it, tested in tests/daemon/delayed.rs): a documented example holding one
/// needs no counterpart from the offline daemon.
const WECHATPAY_ONLY: [&str; 4] = [
    "error.request_id",
    "amount.exchange_rate",
    "retry_in_ms",
    "last_error",
];
/// Key paths that only a printer on a byte link produces (the offline daemon prints to
/// files, which cannot confirm a receipt): likewise.
const PRINTER_ONLY: [&str; 1] = ["confirmed"];
/// How long one expected message may take.
const TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------------------

/// A message's shape: the same keys with each leaf replaced by its JSON type, without the
/// request `id` (echoed as given).
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "id")
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().take(1).map(shape).collect()),
        Value::Null => json!("null"),
        Value::Bool(_) => json!("bool"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
    }
}

/// Whether two shapes agree; `null` agrees with any type (a field that may be unknown).
fn fits(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| fits(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => x.iter().zip(y).all(|(v, w)| fits(v, w)),
        (a, b) => a == b || a == "null" || b == "null",
    }
}

fn has_path(value: &Value, path: &str) -> bool {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .is_some()
}

/// Every live message has a documented shape and every documented one a live shape.
fn compare_shapes(documented: &Examples, live: &[Value]) {
    let event = |v: &Value| v["event"].as_str().unwrap_or_default().to_owned();
    for message in live {
        let found = documented
            .iter()
            .any(|(_, d)| event(d) == event(message) && fits(&shape(d), &shape(message)));
        assert!(
            found,
            "the daemon sent a message no example shows:\n{message}"
        );
    }
    for (at, doc) in documented {
        if WECHATPAY_ONLY
            .iter()
            .chain(&PRINTER_ONLY)
            .any(|p| has_path(doc, p))
        {
            continue;
        }
        let found = live
            .iter()
            .any(|m| event(m) == event(doc) && fits(&shape(doc), &shape(m)));
        assert!(found, "{at}: the daemon never sent a message of this shape");
    }
}

// ---------------------------------------------------------------------------------------
// A real daemon, and POS connections to it
// ---------------------------------------------------------------------------------------

/// `wxprint serve` on a config in `dir`; stopped with SIGTERM when dropped.
struct Daemon(Child);

impl Daemon {
    /// Sandbox backend, fast polling, no close wait; receipts as files in `printer_dir`.
    fn start(dir: &Path, printer_dir: &Path) -> Daemon {
        let config = dir.join("wxprint.toml");
        let socket = dir.join("wxprint.sock");
        let text = format!(
            "[daemon]\nsocket = {socket:?}\nstate_dir = {state:?}\n\
             [wechatpay]\nbackend = \"sandbox\"\nclose_min_age = \"0s\"\n\
             poll_interval = \"50ms\"\npoll_interval_paying = \"50ms\"\npoll_interval_slow = \"100ms\"\n\
             [printer]\ntransport = \"file\"\ndevice = {printer_dir:?}\nprint_timeout = \"300ms\"\n",
            state = dir.join("state"),
        );
        std::fs::write(&config, text).unwrap();
        let log = dir.join("daemon.log");
        let child = Command::new(WXPRINT)
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env_remove("WXPRINT_CONFIG")
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .unwrap();
        let mut daemon = Daemon(child);
        let start = Instant::now();
        while UnixStream::connect(&socket).is_err() {
            let exited = daemon.0.try_wait().unwrap().is_some();
            if exited || start.elapsed() > TIMEOUT {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("the daemon did not start:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.0.wait();
    }
}

/// Everything any connection received, in arrival order per connection.
type Log = Rc<RefCell<Vec<Value>>>;

/// One POS connection.
struct Pos {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    log: Log,
}

impl Pos {
    fn connect(dir: &Path, log: &Log) -> Pos {
        let writer = UnixStream::connect(dir.join("wxprint.sock")).unwrap();
        writer.set_read_timeout(Some(TIMEOUT)).unwrap();
        let reader = BufReader::new(writer.try_clone().unwrap());
        Pos {
            reader,
            writer,
            log: log.clone(),
        }
    }

    fn send_raw(&mut self, line: &[u8]) {
        self.writer.write_all(line).unwrap();
    }

    fn send(&mut self, request: Value) {
        self.send_raw(format!("{request}\n").as_bytes());
    }

    /// The next message; `None` at the end of the stream or after `TIMEOUT`.
    fn recv(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => {
                let message: Value = serde_json::from_str(&line).unwrap();
                self.log.borrow_mut().push(message.clone());
                Some(message)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionReset
                ) =>
            {
                None
            }
            Err(e) => panic!("reading from the daemon: {e}"),
        }
    }

    /// Read until a message of `event` arrives (the others are logged too).
    fn until(&mut self, event: &str) -> Value {
        loop {
            let message = self
                .recv()
                .unwrap_or_else(|| panic!("no {event:?} from the daemon"));
            if message["event"] == event {
                return message;
            }
        }
    }

    fn call(&mut self, request: Value, event: &str) -> Value {
        self.send(request);
        self.until(event)
    }

    /// Read what is still coming, until the connection is quiet for a moment.
    fn drain(mut self) {
        self.writer
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        while self.recv().is_some() {}
    }
}

fn checkout(no: &str, description: &str, follow: bool) -> Value {
    json!({"op": "checkout", "id": format!("co-{no}"), "follow": follow, "order":
        {"out_trade_no": no, "description": description, "amount": {"total": 3200}},
        "receipt": {"lines": [{"name": "Latte", "quantity": 2, "amount": 3200}]}})
}

/// `request` asking for a payment slip.
fn with_slip(mut request: Value) -> Value {
    request["slip"] = true.into();
    request
}

fn op(name: &str, no: &str) -> Value {
    json!({"op": name, "id": name, "out_trade_no": no})
}

/// A checkout followed to `paid`, resumed, refused as a duplicate, reprinted; the one-shot ops.
fn pay_one(dir: &Path, log: &Log) {
    let (mut pos, mut other) = (Pos::connect(dir, log), Pos::connect(dir, log));
    pos.send(with_slip(checkout("T0000000001", "Latte x2", true)));
    assert_eq!(pos.until("accepted")["resumed"], false);
    pos.until("printed");
    other.call(op("status", "T0000000001"), "status");
    other.call(op("reprint", "T0000000001"), "printed");
    other.call(json!({"op": "ping", "id": "p"}), "pong");
    other.call(json!({"op": "printer", "id": "q"}), "printer");
    other.call(json!({"op": "test_print", "id": "t"}), "printed");
    other.call(json!({"op": "drawer", "id": "d", "pin": 5}), "drawer");
    let mut retry = Pos::connect(dir, log);
    retry.send(with_slip(checkout("T0000000001", "Latte x2", true)));
    assert_eq!(retry.until("accepted")["resumed"], true);
    retry.until("printed");
    let refused = retry.call(checkout("T0000000001", "Tea", true), "error");
    assert_eq!(refused["error"]["code"], "duplicate_order");
    other.call(op("sandbox_pay", "T0000000001"), "paid");
    pos.until("paid");
    retry.until("paid");
    other.call(op("status", "T0000000001"), "status");
    let late = other.call(op("reprint", "T0000000001"), "error");
    assert_eq!(late["error"]["code"], "not_payable");
    for pos in [pos, other, retry] {
        pos.drain();
    }
}

/// Refunds of the paid order: one refunded, repeated (resumed), and the refusals.
fn refund_one(dir: &Path, log: &Log) {
    let mut pos = Pos::connect(dir, log);
    let refund = |amount: i64, no: Option<&str>| {
        let mut refund = json!({"amount": amount, "reason": "one cup returned"});
        if let Some(no) = no {
            refund["out_refund_no"] = no.into();
            refund["slip"] = true.into();
        }
        json!({"op": "refund", "id": "rf", "out_trade_no": "T0000000001", "refund": refund})
    };
    pos.send(refund(1600, None));
    assert_eq!(pos.until("refund_accepted")["resumed"], false);
    pos.until("refunded");
    pos.send(refund(1600, None));
    assert_eq!(pos.until("refund_accepted")["resumed"], true);
    pos.until("refunded");
    let too_much = pos.call(refund(1601, None), "error");
    assert_eq!(too_much["error"]["code"], "refund_too_large");
    pos.send(refund(800, Some("RF-1")));
    pos.until("refunded");
    let other = pos.call(refund(700, Some("RF-1")), "error");
    assert_eq!(other["error"]["code"], "duplicate_refund");
    pos.call(op("status", "T0000000001"), "status");
    pos.drain();
}

/// A cancel, an order left open, and every kind of bad request.
fn cancel_and_refuse(dir: &Path, log: &Log) {
    let mut pos = Pos::connect(dir, log);
    pos.call(checkout("T0000000002", "Latte x2", false), "printed");
    pos.send(op("cancel", "T0000000002"));
    assert_eq!(pos.until("closed")["reason"], "cancelled");
    pos.call(op("cancel", "T0000000002"), "closed");
    pos.call(op("status", "T0000000002"), "status");
    pos.call(checkout("T0000000003", "Latte x2", false), "printed");
    for (line, code) in [
        (op("status", "T0000009999").to_string(), "order_not_found"),
        (op("sandbox_pay", "T0000000002").to_string(), "not_payable"),
        ("{not json".to_owned(), "invalid_json"),
        (json!({"op": "frob", "id": "y"}).to_string(), "unknown_op"),
        (
            json!({"op": "status", "id": "z", "out_trade_no": 7}).to_string(),
            "invalid_request",
        ),
    ] {
        pos.send_raw(format!("{line}\n").as_bytes());
        assert_eq!(pos.until("error")["error"]["code"], code, "{line}");
    }
    pos.drain();
    let mut long = Pos::connect(dir, log);
    // The daemon may hang up before the last bytes are written: not an error here.
    let _ = long.writer.write_all(&[b' '; 70_000]);
    assert_eq!(long.until("error")["error"]["code"], "line_too_long");
    assert_eq!(long.recv(), None, "the connection is closed");
}

/// A restarted daemon whose journal was lost: the sandbox, like WeChat Pay, refuses a
/// different order under a known number. And a printer that cannot print.
fn fail_and_misprint(dir: &Path, log: &Log) {
    let (mut pos, mut other) = (Pos::connect(dir, log), Pos::connect(dir, log));
    pos.call(checkout("T0000000003", "Green tea", true), "failed");
    other.call(op("status", "T0000000003"), "status");
    let mut watch = Pos::connect(dir, log);
    watch.send(json!({"op": "watch", "id": "w"}));
    watch.call(json!({"op": "ping", "id": "w"}), "pong");
    pos.send(with_slip(checkout("T0000000004", "Latte x2", true)));
    pos.until("printer");
    assert_eq!(pos.until("error")["print"], "failed");
    // Paid all the same; its slip waits for the printer, then is given up.
    other.call(op("sandbox_pay", "T0000000004"), "paid");
    assert_eq!(watch.until("slip")["print"], "pending");
    assert_eq!(watch.until("slip")["print"], "failed");
    watch.drain();
    other.call(json!({"op": "printer", "id": "q"}), "printer");
    other.call(json!({"op": "test_print", "id": "t"}), "error");
    pos.drain();
    other.drain();
}

#[test]
fn message_examples_match_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let log = Log::default();
    {
        let _daemon = Daemon::start(dir, &dir.join("receipts"));
        let mut watch = Pos::connect(dir, &log);
        watch.send(json!({"op": "watch", "id": "w"}));
        watch.call(json!({"op": "ping", "id": "w"}), "pong");
        pay_one(dir, &log);
        refund_one(dir, &log);
        cancel_and_refuse(dir, &log);
        watch.drain();
    }
    for name in ["journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join("state").join(name));
    }
    let not_a_directory = dir.join("printer-is-a-file");
    std::fs::write(&not_a_directory, b"").unwrap();
    {
        let _daemon = Daemon::start(dir, &not_a_directory);
        fail_and_misprint(dir, &log);
    }
    let (_, documented) = examples();
    compare_shapes(&documented, &log.borrow());
}
