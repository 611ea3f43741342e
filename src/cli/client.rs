//! The client commands: one request to the running daemon, its answers printed as they
//! come (a line each for people, or the raw JSON lines with `--json`), and the exit code
//! read from the answer that ends the command. For `checkout`: 0 paid (or printed with
//! `--no-follow`), 2 refused request, 3 closed, 4 failed, 5 with `--no-follow`: placed but
//! not printed yet (the receipt waits for the printer); for `printer`: 0 ready, 5 not
//! ready (offline, out of paper, cover open or unreachable) (a contract, in the README).
//!
//! Knows the protocol's types and which ops stream, nothing of how the daemon works.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedReadHalf;

use wxprint::money::{Currency, Money};
use wxprint::protocol::{
    Checkout, Event, Message, Op, Order, OrderAmount, PaidAmount, Paper, PrinterStatus, Refund,
    RefundAmount, Request,
};

use super::{DaemonOp, connect_error, runtime};

impl From<DaemonOp> for Op {
    fn from(op: DaemonOp) -> Op {
        match op {
            DaemonOp::Checkout {
                out_trade_no,
                total,
                description,
                currency,
                no_follow,
                slip,
            } => Op::Checkout(Box::new(Checkout {
                order: Order {
                    out_trade_no,
                    description,
                    amount: OrderAmount { total, currency },
                    attach: None,
                    time_expire: None,
                    goods_tag: None,
                },
                receipt: None,
                follow: !no_follow,
                loopback: false,
                slip,
            })),
            DaemonOp::Status { out_trade_no } => Op::Status { out_trade_no },
            DaemonOp::Cancel { out_trade_no } => Op::Cancel { out_trade_no },
            DaemonOp::Reprint { out_trade_no } => Op::Reprint { out_trade_no },
            DaemonOp::SandboxPay { out_trade_no } => Op::SandboxPay { out_trade_no },
            DaemonOp::Refund {
                out_trade_no,
                amount,
                reason,
                out_refund_no,
                slip,
            } => Op::Refund {
                out_trade_no,
                refund: Refund {
                    out_refund_no,
                    amount,
                    reason,
                    slip,
                },
            },
            DaemonOp::Watch => Op::Watch,
            DaemonOp::Printer => Op::Printer,
            DaemonOp::Drawer { pin } => Op::Drawer { pin: Some(pin) },
        }
    }
}

/// Sends `op` to the daemon at `socket` and prints its answers until the op is done.
pub(crate) fn ask(op: Op, socket: &Path, json: bool) -> Result<ExitCode> {
    ask_or(op, socket, json, |e| Err(connect_error(socket, e)))
}

/// [`ask`], but when no daemon can be reached at `socket`, the answer of `no_daemon`.
pub(crate) fn ask_or(
    op: Op,
    socket: &Path,
    json: bool,
    no_daemon: impl FnOnce(std::io::Error) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let request = Request {
        id: Some(format!("cli-{}", std::process::id())),
        op,
    };
    runtime()?.block_on(async {
        match UnixStream::connect(socket).await {
            Ok(stream) => converse(stream, &request, socket, json).await,
            Err(e) => no_daemon(e),
        }
    })
}

/// Sends the request and prints each answer until [`finished`] gives the exit code.
async fn converse(
    stream: UnixStream,
    request: &Request,
    socket: &Path,
    json: bool,
) -> Result<ExitCode> {
    let (read, mut write) = stream.into_split();
    write
        .write_all(format!("{}\n", request.to_json()).as_bytes())
        .await?;
    let mut lines = BufReader::new(read).lines();
    // One-answer ops get an answer within a minute or something is wrong; streams
    // (checkout, cancel, sandbox-pay, watch) wait as long as the order takes.
    let streams = matches!(
        request.op,
        Op::Checkout(_) | Op::Cancel { .. } | Op::SandboxPay { .. } | Op::Watch
    );
    while let Some(line) = next_answer(&mut lines, streams, socket).await? {
        let message: Message = serde_json::from_str(&line)
            .with_context(|| format!("unexpected message from the daemon: {line}"))?;
        if json {
            println!("{line}");
        } else if matches!(request.op, Op::Watch) {
            println!(
                "{}",
                with_order_no(describe(&message.event), &message.event)
            );
        } else {
            println!("{}", describe(&message.event));
        }
        if let Some(code) = finished(&request.op, &message.event) {
            if let Event::Printer { status, .. } = &message.event {
                match &request.op {
                    Op::Printer if printer_not_ready(status) => {
                        eprintln!("{}", not_ready_hint(status));
                    }
                    Op::Checkout(_) => eprintln!("{}", NOT_PRINTED_YET),
                    _ => {}
                }
            }
            return Ok(code);
        }
    }
    bail!("the daemon closed the connection before answering (is it shutting down?)")
}

/// The next answer line (`None` when the daemon hung up); a one-answer op that waits over
/// a minute is an error.
async fn next_answer(
    lines: &mut Lines<BufReader<OwnedReadHalf>>,
    streams: bool,
    socket: &Path,
) -> Result<Option<String>> {
    let next = lines.next_line();
    if streams {
        return Ok(next.await?);
    }
    let line = tokio::time::timeout(Duration::from_secs(60), next)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no answer from the daemon at {} within 60 s; check `systemctl status wxprint`",
                socket.display()
            )
        })??;
    Ok(line)
}

/// Exit code of `wxprint printer` when the printer cannot print now, and of `wxprint
/// checkout --no-follow` when the order is placed but its receipt waits for the printer.
const PRINTER_NOT_READY: u8 = 5;

/// What `checkout --no-follow` says on stderr when it exits with [`PRINTER_NOT_READY`].
const NOT_PRINTED_YET: &str = "the order is placed and payable, but its receipt waits for the \
     printer: wxprint prints it as soon as the printer is ready (up to printer.print_timeout); \
     fix the printer, or show the code_url on a screen; `wxprint status N` tells the rest";

/// Whether a printer status means receipts cannot print now: offline, out of paper (or the
/// printer did not say), cover open, or unreachable. A low roll still prints.
fn printer_not_ready(status: &PrinterStatus) -> bool {
    status.error.is_some()
        || status.online == Some(false)
        || status.cover_open == Some(true)
        || matches!(status.paper, Paper::Out | Paper::Unknown)
}

/// What `wxprint printer` says on stderr when it exits with [`PRINTER_NOT_READY`].
fn not_ready_hint(status: &PrinterStatus) -> String {
    let why = match status {
        PrinterStatus {
            paper: Paper::Out, ..
        } => "is out of paper",
        PrinterStatus {
            cover_open: Some(true),
            ..
        } => "has its cover open",
        PrinterStatus {
            online: Some(false),
            ..
        } => "is offline",
        PrinterStatus { error: Some(_), .. } => "cannot be reached",
        _ => "did not say whether it has paper",
    };
    let why = match &status.error {
        Some(e) => format!("{why} ({e})"),
        None => why.to_owned(),
    };
    format!(
        "the printer {why}: receipts wait until it is ready; check its power, paper, cover and cable (`wxprint printers` lists the devices)"
    )
}

/// `watch` mixes every order's events: put the order number after the event's name in the
/// lines that do not name it yet.
fn with_order_no(line: String, event: &Event) -> String {
    const LABEL: usize = 11; // "printed    "
    match event.out_trade_no() {
        Some(no) if !line.contains(no) && line.is_char_boundary(LABEL) => {
            format!("{}{no} {}", &line[..LABEL], &line[LABEL..])
        }
        _ => line,
    }
}

/// When a client command is done with the daemon's answers.
fn finished(op: &Op, event: &Event) -> Option<ExitCode> {
    let code = |c: u8| Some(ExitCode::from(c));
    match (op, event) {
        (Op::Watch, _) => None,
        (Op::Printer, Event::Printer { status, .. }) if printer_not_ready(status) => {
            code(PRINTER_NOT_READY)
        }
        // `--no-follow`: the order is placed and its receipt waits for the printer; the
        // daemon keeps trying (up to print_timeout), the CLI need not wait for it.
        (
            Op::Checkout(c),
            Event::Printer {
                out_trade_no: Some(_),
                ..
            },
        ) if !c.follow => code(PRINTER_NOT_READY),
        (Op::Drawer { .. }, Event::Error { error, .. }) => code(super::drawer::exit_code(error)),
        (_, Event::Error { print: None, .. }) => code(2),
        (Op::Checkout(c), Event::Error { .. }) if !c.follow => code(2),
        (_, Event::Paid { .. }) => code(if matches!(op, Op::Cancel { .. }) {
            3
        } else {
            0
        }),
        (_, Event::Closed { .. }) => code(if matches!(op, Op::Cancel { .. }) {
            0
        } else {
            3
        }),
        (_, Event::Failed { .. }) => code(4),
        (Op::Refund { .. }, Event::Refunded { .. }) => code(0),
        (Op::Refund { .. }, Event::RefundFailed { .. }) => code(4),
        (Op::Refund { .. }, _) => None,
        (Op::Checkout(c), Event::Printed { .. }) if !c.follow => code(0),
        (Op::Checkout(_) | Op::Cancel { .. } | Op::SandboxPay { .. }, _) => None,
        _ => code(0),
    }
}

/// One line of human-readable output per event.
fn describe(event: &Event) -> String {
    match event {
        Event::Accepted {
            out_trade_no,
            state,
            resumed,
        } => format!(
            "accepted   {out_trade_no} ({}){}",
            state.as_str(),
            if *resumed { ", resumed" } else { "" }
        ),
        Event::CodeUrl { code_url, .. } => format!("code_url   {code_url}"),
        Event::Printed { location, .. } => {
            format!("printed    {}", location.as_deref().unwrap_or(""))
        }
        Event::Cancelling { out_trade_no, .. } => {
            format!("cancelling {out_trade_no} (closed as soon as WeChat Pay allows)")
        }
        Event::Paid {
            transaction_id,
            success_time,
            amount,
            ..
        } => format!(
            "paid       {}{} transaction {transaction_id} at {success_time}",
            Money::new(amount.total, Currency::new(amount.currency.as_str())),
            payer_part(amount)
        ),
        Event::Closed { reason, .. } => format!("closed     {}", reason.as_str()),
        Event::Failed { error, .. } => format!(
            "failed     {}{}: {}",
            error.code.as_str(),
            error
                .wechatpay_code
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default(),
            error.message
        ),
        Event::Error { error, .. } => {
            format!("error      {}: {}", error.code.as_str(), error.message)
        }
        Event::Delayed {
            reason,
            attempt,
            retry_in_ms,
            error,
            ..
        } => format!(
            "delayed    {} (attempt {attempt}, next try in {:.1} s){}",
            reason.as_str(),
            *retry_in_ms as f64 / 1000.0,
            error
                .as_ref()
                .map(|e| format!(": {}", e.message))
                .unwrap_or_default()
        ),
        Event::Status(status) => serde_json::to_string_pretty(status).unwrap_or_default(),
        Event::Slip(s) => format!("slip       {} {}", s.subject(), s.print.as_str()),
        Event::Printer {
            out_trade_no: Some(no),
            status,
            ..
        } => format!(
            "printer    {no}: receipt waiting for the printer ({})",
            status.error.as_deref().unwrap_or("not ready")
        ),
        Event::Printer { status, .. } => serde_json::to_string_pretty(status).unwrap_or_default(),
        Event::Drawer { .. } => super::drawer::describe(event),
        Event::Pong { version, protocol } => {
            format!("pong       wxprint {version}, protocol {protocol}")
        }
        Event::RefundAccepted { .. } | Event::Refunded { .. } | Event::RefundFailed { .. } => {
            describe_refund(event)
        }
    }
}

/// The line of a refund event.
fn describe_refund(event: &Event) -> String {
    match event {
        Event::RefundAccepted {
            out_refund_no,
            state,
            amount,
            currency,
            resumed,
            ..
        } => format!(
            "refund     {out_refund_no} {} accepted ({}){}",
            Money::new(*amount, Currency::new(currency.as_str())),
            state.as_str(),
            if *resumed { ", resumed" } else { "" }
        ),
        Event::Refunded {
            out_refund_no,
            refund_id,
            success_time,
            amount,
            ..
        } => format!(
            "refunded   {out_refund_no} {}{} refund {refund_id} at {success_time}",
            Money::new(amount.refund, Currency::new(amount.currency.as_str())),
            payer_refund_part(amount)
        ),
        Event::RefundFailed {
            out_refund_no,
            state,
            error,
            ..
        } => format!(
            "refund_failed {out_refund_no} ({}): {}",
            state.as_str(),
            error.message
        ),
        other => other.name().to_owned(),
    }
}

/// ` (payer ￥11.35)` when the customer gets another currency back (WeChat Pay Global).
fn payer_refund_part(amount: &RefundAmount) -> String {
    match &amount.payer_currency {
        Some(payer) if *payer != amount.currency => {
            let money = Money::new(amount.payer_refund, Currency::new(payer.as_str()));
            format!(" (payer {money})")
        }
        _ => String::new(),
    }
}

/// ` (payer ￥11.35)` when the customer paid in another currency than the order's (WeChat
/// Pay Global), else nothing: a mainland `paid` line reads as it always did.
fn payer_part(amount: &PaidAmount) -> String {
    if amount.payer_currency.is_empty() || amount.payer_currency == amount.currency {
        return String::new();
    }
    let payer = Money::new(
        amount.payer_total,
        Currency::new(amount.payer_currency.as_str()),
    );
    format!(" (payer {payer})")
}

#[cfg(test)]
mod tests;
