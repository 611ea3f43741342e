//! `wxprint loopback`: the technician's check of the whole path. One checkout goes through
//! the running daemon's socket exactly as a POS sends it (on the daemon's built-in sandbox,
//! or with `--live` a real WeChat Pay order that someone must scan and pay), every stage is
//! timed, and the verdict is PASS, or FAIL with what to check.
//!
//! Knows the protocol's requests and events and what a technician should check for each
//! failure; nothing of the daemon's insides.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;

use wxprint::protocol::{
    Checkout, ErrorBody, ErrorCode, Event, Message, Op, Order, OrderAmount, ReceiptSpec, Request,
};

use super::{connect_error, runtime};

/// How long the daemon may take for the next stage before the test calls it stuck.
const STEP: Duration = Duration::from_secs(30);

/// PASS, or FAIL with why and what to check.
type Verdict = Result<(), String>;

/// What the command line asked for.
struct Test {
    live: bool,
    /// Fen, for `--live` (a sandbox test pays 1 fen).
    total: i64,
    /// How long `--live` waits for someone to pay.
    wait: Duration,
}

/// The stages reached so far, each with the time since the command started.
struct Stages {
    start: Instant,
    reached: Vec<(String, Duration)>,
}

impl Stages {
    fn new() -> Stages {
        Stages {
            start: Instant::now(),
            reached: Vec::new(),
        }
    }

    /// The time since the command started.
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn reach(&mut self, stage: impl Into<String>, at: Duration) {
        self.reached.push((stage.into(), at));
    }

    /// The last stage reached, to say where the daemon got stuck.
    fn last(&self) -> &str {
        self.reached.last().map_or("nothing", |s| s.0.as_str())
    }

    /// The table of stages and milliseconds.
    fn print(&self) {
        println!("{:<70} {:>9}", "stage", "ms");
        for (stage, at) in &self.reached {
            println!("{stage:<70} {:>9.1}", at.as_secs_f64() * 1000.0);
        }
    }
}

/// What the test does after an event.
enum Next {
    /// Wait for the next event.
    Read,
    /// The receipt is out: pay the sandbox order, as a customer scanning it would.
    PaySandbox,
    /// The receipt is out: wait up to `--wait` for someone to pay the live order.
    AwaitPayment,
    Done(Verdict),
}

/// `wxprint loopback`: a checkout through the socket exactly as a POS sends it, timed.
pub(crate) fn run(socket: &Path, live: bool, total: i64, wait: Duration) -> Result<ExitCode> {
    let test = Test { live, total, wait };
    let mut stages = Stages::new();
    let verdict = runtime()?.block_on(converse(socket, &test, &mut stages));
    stages.print();
    match verdict {
        Ok(()) => {
            println!("PASS: socket → payment → printer works");
            Ok(ExitCode::SUCCESS)
        }
        Err(why) => {
            println!("FAIL: {why}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The checkout and the requests that follow it, until the verdict.
async fn converse(socket: &Path, test: &Test, stages: &mut Stages) -> Verdict {
    let stream = match UnixStream::connect(socket).await {
        Ok(stream) => stream,
        Err(e) => return Err(connect_error(socket, e).to_string()),
    };
    stages.reach("socket accepted", stages.now());
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let no = format!("LOOP{}", wxprint::clock::now_ms());
    let order = checkout(&no, test);
    send(&mut write, order).await.map_err(|e| e.to_string())?;
    let mut paid_deadline = None;
    loop {
        let timeout = paid_deadline.map_or(STEP, |d: Instant| {
            d.saturating_duration_since(Instant::now())
        });
        let line = match tokio::time::timeout(timeout, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(_) => return Err("the daemon closed the connection (is it stopping?)".into()),
            Err(_) if paid_deadline.is_some() => {
                let cancel = request(Op::Cancel { out_trade_no: no });
                let _ = send(&mut write, cancel).await;
                let waited = test.wait.as_secs();
                return Err(format!(
                    "not paid within {waited}s; the order is being closed"
                ));
            }
            Err(_) => {
                let (step, last) = (STEP.as_secs(), stages.last());
                return Err(format!("no progress for {step}s after {last}"));
            }
        };
        let message: Message = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        match on_event(message.event, test.live, stages.now(), stages) {
            Next::Read => {}
            Next::PaySandbox => {
                let pay = request(Op::SandboxPay {
                    out_trade_no: no.clone(),
                });
                send(&mut write, pay).await.map_err(|e| e.to_string())?;
            }
            Next::AwaitPayment => {
                let wait = test.wait.as_secs();
                println!("scan the QR on the receipt with WeChat and pay within {wait}s…");
                paid_deadline = Some(Instant::now() + test.wait);
            }
            Next::Done(verdict) => return verdict,
        }
    }
}

/// Records the stage an event marks (`at` since the start) and says what comes next.
fn on_event(event: Event, live: bool, at: Duration, stages: &mut Stages) -> Next {
    match event {
        Event::Accepted { .. } => stages.reach("checkout journaled", at),
        Event::CodeUrl { .. } => stages.reach("order placed (code_url)", at),
        Event::Printer { status, .. } => {
            let why = status.error.unwrap_or_else(|| "unknown".into());
            return Next::Done(Err(format!(
                "the printer is not ready ({why}); \
                 check power, cable, baud rate and flow control, paper and cover"
            )));
        }
        Event::Printed { confirmed, .. } => {
            printed(confirmed, at, stages);
            return if live {
                Next::AwaitPayment
            } else {
                Next::PaySandbox
            };
        }
        Event::Paid { amount, .. } => {
            let how = if live {
                format!("{} fen", amount.total)
            } else {
                "sandbox".into()
            };
            stages.reach(format!("paid ({how})"), at);
            return Next::Done(Ok(()));
        }
        Event::Failed { error, .. } | Event::Error { error, .. } => {
            let hint = hint_for(&error);
            return Next::Done(Err(format!("{}{hint}", error.message)));
        }
        Event::Closed { reason, .. } => {
            let reason = reason.as_str();
            return Next::Done(Err(format!("the order was closed ({reason})")));
        }
        _ => {}
    }
    Next::Read
}

/// The receipt is written; the event's `confirmed` says whether the printer confirmed it
/// (answered `GS r`), when the transport can tell (not the file transport).
fn printed(confirmed: Option<bool>, at: Duration, stages: &mut Stages) {
    stages.reach("receipt written", at);
    match confirmed {
        Some(true) => stages.reach("printer confirmed (GS r)", at),
        Some(false) => stages.reach(
            "printer confirmed: NO \
             (no status answer; check the cable, or a unidirectional printer)",
            at,
        ),
        None => {}
    }
}

/// What to check when the order failed or was refused, to append to its message.
fn hint_for(error: &ErrorBody) -> &'static str {
    match error.wechatpay_code.as_deref() {
        Some("SIGN_ERROR") => {
            "; check the register's clock (NTP), merchant_serial_no and private_key_file"
        }
        Some(_) => "; check appid, mchid and the merchant account",
        None if error.code == ErrorCode::Printer => {
            "; check the printer cable, baud rate and paper"
        }
        None => "",
    }
}

/// The checkout a POS would send: 1 fen on the daemon's sandbox, or `--total` for real.
fn checkout(no: &str, test: &Test) -> Request {
    let footer = if test.live {
        "Scan and pay to finish the test"
    } else {
        "Test receipt - not a payment"
    };
    request(Op::Checkout(Box::new(Checkout {
        order: Order {
            out_trade_no: no.to_owned(),
            description: "wxprint loopback test".into(),
            amount: OrderAmount {
                total: if test.live { test.total } else { 1 },
                currency: None, // the merchant's own: the daemon fills it in
            },
            attach: None,
            time_expire: None,
            goods_tag: None,
        },
        receipt: Some(ReceiptSpec {
            title: Some("wxprint loopback".into()),
            lines: None,
            footer: Some(footer.into()),
        }),
        follow: true,
        loopback: !test.live,
    })))
}

/// Every loopback request carries the id `loopback`.
fn request(op: Op) -> Request {
    Request {
        id: Some("loopback".into()),
        op,
    }
}

async fn send(write: &mut OwnedWriteHalf, request: Request) -> std::io::Result<()> {
    let line = format!("{}\n", request.to_json());
    write.write_all(line.as_bytes()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stage names `printed` adds for what the event's `confirmed` says.
    fn stages_for(confirmed: Option<bool>) -> Vec<String> {
        let mut stages = Stages::new();
        printed(confirmed, Duration::ZERO, &mut stages);
        stages.reached.into_iter().map(|(stage, _)| stage).collect()
    }

    #[test]
    fn the_printed_event_says_whether_the_printer_confirmed() {
        let confirmed = stages_for(Some(true));
        assert_eq!(confirmed, ["receipt written", "printer confirmed (GS r)"]);
        let silent = stages_for(Some(false));
        assert_eq!(silent[0], "receipt written");
        assert!(silent[1].starts_with("printer confirmed: NO (no status answer"));
        assert_eq!(
            stages_for(None),
            ["receipt written"],
            "a file cannot confirm"
        );
    }
}
