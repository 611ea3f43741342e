//! `wxprint loopback`: the technician's check of the whole path. One checkout goes through
//! the running daemon's socket exactly as a POS sends it (on the daemon's built-in sandbox,
//! or with `--live` a real WeChat Pay order that someone must scan and pay), every stage is
//! timed, and the verdict is PASS (exit 0); WARN (exit 2) when everything worked but the
//! printer did not confirm the receipt, which is what a wrong baud rate or a broken RX wire
//! looks like (a one-way `file` printer cannot confirm and is no warning); or FAIL (exit 1)
//! with what to check. A failed or timed-out test cancels its order, so it does not stay
//! payable and its pending receipt never prints. With `--json` the daemon's messages are
//! printed raw, one a line, and the verdict goes to stderr.
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
/// How long the daemon may take to take a failed test's cancel.
const CANCEL: Duration = Duration::from_secs(5);
/// The exit code of WARN: distinct from FAIL's 1.
const WARN: u8 = 2;

/// PASS, or FAIL with why and what to check.
type Verdict = Result<(), String>;

/// What the command line asked for.
struct Test {
    live: bool,
    /// Fen, for `--live` (a sandbox test pays 1 fen).
    total: i64,
    /// How long `--live` waits for someone to pay.
    wait: Duration,
    /// Print the daemon's messages raw (`--json`).
    json: bool,
}

/// The stages reached so far, each with the time since the command started.
struct Stages {
    start: Instant,
    reached: Vec<(String, Duration)>,
    /// What worked but is not right: the printer did not confirm the receipt.
    warning: Option<String>,
}

impl Stages {
    fn new() -> Stages {
        Stages {
            start: Instant::now(),
            reached: Vec::new(),
            warning: None,
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
pub(crate) fn run(
    socket: &Path,
    live: bool,
    total: i64,
    wait: Duration,
    json: bool,
) -> Result<ExitCode> {
    let test = Test {
        live,
        total,
        wait,
        json,
    };
    let mut stages = Stages::new();
    let verdict = runtime()?.block_on(converse(socket, &test, &mut stages));
    // With --json, stdout carries the daemon's messages only.
    let say = |line: String| {
        if json {
            eprintln!("{line}")
        } else {
            println!("{line}")
        }
    };
    if !json {
        stages.print();
    }
    match (verdict, stages.warning) {
        (Ok(()), None) => {
            say("PASS: socket → payment → printer works".into());
            Ok(ExitCode::SUCCESS)
        }
        (Ok(()), Some(warning)) => {
            say(format!("WARN: socket → payment works, but {warning}"));
            Ok(ExitCode::from(WARN))
        }
        (Err(why), _) => {
            say(format!("FAIL: {why}"));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The checkout and the requests that follow it, until the verdict; a failed test's order
/// is cancelled.
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
    let Err(why) = follow(&mut lines, &mut write, &no, test, stages).await else {
        return Ok(());
    };
    let cancelled = cancel(&mut lines, &mut write, &no, test.json).await;
    Err(format!("{why}; {cancelled}"))
}

/// The daemon's messages, one a line.
type Lines = tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>;

/// The next message within `timeout`: `Ok(None)` when none came; printed raw with `--json`.
async fn next(lines: &mut Lines, timeout: Duration, json: bool) -> Result<Option<Message>, String> {
    let line = match tokio::time::timeout(timeout, lines.next_line()).await {
        Ok(Ok(Some(line))) => line,
        Ok(_) => return Err("the daemon closed the connection (is it stopping?)".into()),
        Err(_) => return Ok(None),
    };
    if json {
        println!("{line}");
    }
    let message = serde_json::from_str(&line)
        .map_err(|e| format!("the daemon sent a message this wxprint cannot read ({e}): {line}"))?;
    Ok(Some(message))
}

/// The test order's events and the requests they call for, until the verdict.
async fn follow(
    lines: &mut Lines,
    write: &mut OwnedWriteHalf,
    no: &str,
    test: &Test,
    stages: &mut Stages,
) -> Verdict {
    let mut paid_deadline = None;
    loop {
        let timeout = paid_deadline.map_or(STEP, |d: Instant| {
            d.saturating_duration_since(Instant::now())
        });
        let Some(message) = next(lines, timeout, test.json).await? else {
            if paid_deadline.is_some() {
                let waited = test.wait.as_secs();
                return Err(format!("not paid within {waited}s"));
            }
            let (step, last) = (STEP.as_secs(), stages.last().to_owned());
            let why = last_error(lines, write, no, test.json).await;
            return Err(format!("no progress for {step}s after {last}{why}"));
        };
        match on_event(message.event, test.live, stages.now(), stages) {
            Next::Read => {}
            Next::PaySandbox => {
                let pay = request(Op::SandboxPay {
                    out_trade_no: no.to_owned(),
                });
                send(write, pay).await.map_err(|e| e.to_string())?;
            }
            Next::AwaitPayment => {
                let wait = test.wait.as_secs();
                if !test.json {
                    println!("scan the QR on the receipt with WeChat and pay within {wait}s…");
                }
                paid_deadline = Some(Instant::now() + test.wait);
            }
            Next::Done(verdict) => return verdict,
        }
    }
}

/// `; last error: …` from the order's `status` (what the daemon's latest attempt ran
/// into), or nothing when it has none or does not say.
async fn last_error(lines: &mut Lines, write: &mut OwnedWriteHalf, no: &str, json: bool) -> String {
    let status = request(Op::Status {
        out_trade_no: no.to_owned(),
    });
    if send(write, status).await.is_err() {
        return String::new();
    }
    let deadline = Instant::now() + CANCEL;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next(lines, left, json).await {
            Ok(Some(Message {
                event: Event::Status(status),
                ..
            })) => {
                return status.last_error.map_or_else(String::new, |e| {
                    format!(
                        "; last error ({}, at {}): {}",
                        e.reason.as_str(),
                        e.at,
                        e.error.message
                    )
                });
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    String::new()
}

/// Cancel the failed test's order, so that it does not stay payable and its pending
/// receipt is dropped; says how that went.
async fn cancel(lines: &mut Lines, write: &mut OwnedWriteHalf, no: &str, json: bool) -> String {
    let unsure = "check `wxprint status` for it and cancel it with `wxprint cancel`";
    let cancel = request(Op::Cancel {
        out_trade_no: no.to_owned(),
    });
    if let Err(e) = send(write, cancel).await {
        return format!("the test order {no} could not be cancelled ({e}); {unsure}");
    }
    let deadline = Instant::now() + CANCEL;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next(lines, left, json).await {
            Ok(Some(Message {
                event: Event::Cancelling { .. } | Event::Closed { .. },
                ..
            })) => return format!("the test order {no} is cancelled; its receipt will not print"),
            Ok(Some(Message {
                event: Event::Paid { .. } | Event::Failed { .. },
                ..
            })) => return format!("the test order {no} is over"),
            Ok(Some(Message {
                event: Event::Error { error, .. },
                ..
            })) => {
                return format!(
                    "cancelling the test order {no}: {}; {unsure}",
                    error.message
                );
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => return format!("cancelling the test order {no}: {e}; {unsure}"),
        }
    }
    format!("the daemon did not take the cancel of the test order {no}; {unsure}")
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
            if confirmed == Some(false) {
                stages.warning = Some(UNCONFIRMED.into());
            }
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
        Event::Delayed {
            reason,
            attempt,
            error,
            ..
        } => {
            let why = error.map_or_else(String::new, |e| format!(": {}", e.message));
            stages.reach(
                format!("delayed: {} (attempt {attempt}){why}", reason.as_str()),
                at,
            );
        }
        _ => {}
    }
    Next::Read
}

/// The WARN of a printer that did not confirm the receipt.
const UNCONFIRMED: &str = "the printer did not confirm the receipt (no valid answer to its \
     status request): check that printer.baud_rate and printer.flow_control match the \
     printer's own settings, and the cable (its return wire); a one-way printer cannot \
     confirm";

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
        slip: false,
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
