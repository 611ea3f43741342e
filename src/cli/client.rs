//! Client commands: one request to the running daemon, its answers printed as they come.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use wxprint::protocol::{Checkout, Event, Message, Op, Order, OrderAmount, Request};

use super::{Command, connect_error, runtime, tools};

fn finished(op: &Op, event: &Event) -> Option<ExitCode> {
    let code = |c: u8| Some(ExitCode::from(c));
    match (op, event) {
        (Op::Watch, _) => None,
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
        (Op::Checkout(c), Event::Printed { .. }) if !c.follow => code(0),
        (Op::Checkout(_) | Op::Cancel { .. } | Op::SandboxPay { .. }, _) => None,
        _ => code(0),
    }
}

pub(crate) fn client(
    command: Command,
    socket: &Path,
    json: bool,
    config_path: Option<&Path>,
) -> Result<ExitCode> {
    let op = match command {
        Command::Checkout {
            out_trade_no,
            total,
            description,
            no_follow,
        } => Op::Checkout(Box::new(Checkout {
            order: Order {
                out_trade_no,
                description,
                amount: OrderAmount {
                    total,
                    currency: "CNY".into(),
                },
                attach: None,
                time_expire: None,
                goods_tag: None,
            },
            receipt: None,
            follow: !no_follow,
            loopback: false,
        })),
        Command::Status { out_trade_no } => Op::Status { out_trade_no },
        Command::Cancel { out_trade_no } => Op::Cancel { out_trade_no },
        Command::Reprint { out_trade_no } => Op::Reprint { out_trade_no },
        Command::SandboxPay { out_trade_no } => Op::SandboxPay { out_trade_no },
        Command::Watch => Op::Watch,
        Command::Printer => Op::Printer,
        Command::TestPrint => Op::TestPrint,
        Command::Serve { .. }
        | Command::Render { .. }
        | Command::CheckConfig { .. }
        | Command::Loopback { .. }
        | Command::Printers => {
            unreachable!("handled before")
        }
    };
    let request = Request {
        id: Some(format!("cli-{}", std::process::id())),
        op,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let stream = match UnixStream::connect(socket).await {
            Ok(s) => s,
            Err(e) if matches!(request.op, Op::TestPrint) => {
                println!(
                    "daemon not reachable at {} ({e}); printing straight to the printer",
                    socket.display()
                );
                return tools::test_print_direct(config_path);
            }
            Err(e) => return Err(connect_error(socket, e)),
        };
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
        loop {
            let next = lines.next_line();
            let line = if streams {
                next.await?
            } else {
                tokio::time::timeout(std::time::Duration::from_secs(60), next)
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "no answer from the daemon at {} within 60 s; check `systemctl status wxprint`",
                            socket.display()
                        )
                    })??
            };
            let Some(line) = line else { break };
            let message: Message = serde_json::from_str(&line)
                .with_context(|| format!("unexpected message from the daemon: {line}"))?;
            if json {
                println!("{line}");
            } else {
                println!("{}", describe(&message.event));
            }
            if let Some(code) = finished(&request.op, &message.event) {
                return Ok(code);
            }
        }
        bail!("the daemon closed the connection before answering (is it shutting down?)")
    })
}

/// One line of human-readable output per event.
fn describe(event: &Event) -> String {
    let yuan = |fen: i64| format!("￥{}.{:02}", fen / 100, fen % 100);
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
            "paid       {} transaction {transaction_id} at {success_time}",
            yuan(amount.total)
        ),
        Event::Closed { reason, .. } => format!("closed     {}", reason.as_str()),
        Event::Failed { error, .. } => format!(
            "failed     {}{}: {}",
            serde_json::to_value(error.code)
                .unwrap_or_default()
                .as_str()
                .unwrap_or(""),
            error
                .wechatpay_code
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default(),
            error.message
        ),
        Event::Error { error, .. } => format!(
            "error      {}: {}",
            serde_json::to_value(error.code)
                .unwrap_or_default()
                .as_str()
                .unwrap_or(""),
            error.message
        ),
        Event::Status(status) => serde_json::to_string_pretty(status).unwrap_or_default(),
        Event::Printer {
            out_trade_no: Some(no),
            status,
            ..
        } => format!(
            "printer    {no}: receipt waiting for the printer ({})",
            status.error.as_deref().unwrap_or("not ready")
        ),
        Event::Printer { status, .. } => serde_json::to_string_pretty(status).unwrap_or_default(),
        Event::Pong { version, protocol } => {
            format!("pong       wxprint {version}, protocol {protocol}")
        }
    }
}
