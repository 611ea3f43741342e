//! `wxprint loopback`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use wxprint::protocol::{Checkout, Event, Message, Op, Order, OrderAmount, Request};

use super::{connect_error, runtime};

/// `wxprint loopback`: a checkout through the socket exactly as a POS sends it, timed.
pub(crate) fn run(
    socket: &Path,
    live: bool,
    total: i64,
    wait: std::time::Duration,
) -> Result<ExitCode> {
    use std::time::{Duration, Instant};
    let start = Instant::now();
    let mut stages: Vec<(String, Duration)> = Vec::new();
    let verdict = runtime()?.block_on(async {
        let stream = match UnixStream::connect(socket).await {
            Ok(s) => s,
            Err(e) => return Err(format!("{}", connect_error(socket, e))),
        };
        stages.push(("socket accepted".into(), start.elapsed()));
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let no = format!("LOOP{}", wxprint::clock::now_ms());
        let checkout = Request {
            id: Some("loopback".into()),
            op: Op::Checkout(Box::new(Checkout {
                order: Order {
                    out_trade_no: no.clone(),
                    description: "wxprint loopback test".into(),
                    amount: OrderAmount { total: if live { total } else { 1 }, currency: "CNY".into() },
                    attach: None,
                    time_expire: None,
                    goods_tag: None,
                },
                receipt: Some(wxprint::protocol::ReceiptSpec {
                    title: Some("wxprint loopback".into()),
                    lines: None,
                    footer: Some(if live { "Scan and pay to finish the test".into() } else { "Test receipt - not a payment".into() }),
                }),
                follow: true,
                loopback: !live,
            })),
        };
        let send = |request: Request| format!("{}\n", request.to_json());
        write.write_all(send(checkout).as_bytes()).await.map_err(|e| e.to_string())?;
        let step = Duration::from_secs(30);
        let mut paid_deadline = None;
        loop {
            let timeout = paid_deadline.map_or(step, |d: Instant| d.saturating_duration_since(Instant::now()));
            let line = match tokio::time::timeout(timeout, lines.next_line()).await {
                Ok(Ok(Some(line))) => line,
                Ok(_) => return Err("the daemon closed the connection (is it stopping?)".into()),
                Err(_) if paid_deadline.is_some() => {
                    let cancel = Request { id: Some("loopback".into()), op: Op::Cancel { out_trade_no: no.clone() } };
                    let _ = write.write_all(send(cancel).as_bytes()).await;
                    return Err(format!("not paid within {}s; the order is being closed", wait.as_secs()));
                }
                Err(_) => {
                    let last = stages.last().map_or("nothing", |s| s.0.as_str()).to_owned();
                    return Err(format!("no progress for {}s after {last}", step.as_secs()));
                }
            };
            let message: Message = serde_json::from_str(&line).map_err(|e| e.to_string())?;
            let at = start.elapsed();
            match message.event {
                Event::Accepted { .. } => stages.push(("checkout journaled".into(), at)),
                Event::CodeUrl { .. } => stages.push(("order placed (code_url)".into(), at)),
                Event::Printer { status, .. } => {
                    return Err(format!(
                        "the printer is not ready ({}); check power, cable, baud rate and flow control, paper and cover",
                        status.error.unwrap_or_else(|| "unknown".into())
                    ));
                }
                Event::Printed { location, .. } => {
                    let location = location.unwrap_or_default();
                    stages.push(("receipt written".into(), at));
                    if location.contains("confirmed by the printer") {
                        stages.push(("printer confirmed (GS r)".into(), at));
                    } else if location.contains("did not confirm") {
                        stages.push(("printer confirmed: NO (no status answer; check the cable, or a unidirectional printer)".into(), at));
                    }
                    if live {
                        println!("scan the QR on the receipt with WeChat and pay within {}s…", wait.as_secs());
                        paid_deadline = Some(Instant::now() + wait);
                    } else {
                        let pay = Request { id: Some("loopback".into()), op: Op::SandboxPay { out_trade_no: no.clone() } };
                        write.write_all(send(pay).as_bytes()).await.map_err(|e| e.to_string())?;
                    }
                }
                Event::Paid { amount, .. } => {
                    stages.push((format!("paid ({})", if live { format!("{} fen", amount.total) } else { "sandbox".into() }), at));
                    return Ok(());
                }
                Event::Failed { error, .. } | Event::Error { error, .. } => {
                    let hint = match error.wechatpay_code.as_deref() {
                        Some("SIGN_ERROR") => "; check the register's clock (NTP), merchant_serial_no and private_key_file",
                        Some(_) => "; check appid, mchid and the merchant account",
                        None if error.code == wxprint::protocol::ErrorCode::Printer => "; check the printer cable, baud rate and paper",
                        None => "",
                    };
                    return Err(format!("{}{hint}", error.message));
                }
                Event::Closed { reason, .. } => return Err(format!("the order was closed ({})", reason.as_str())),
                _ => {}
            }
        }
    });
    println!("{:<70} {:>9}", "stage", "ms");
    for (stage, at) in &stages {
        println!("{stage:<70} {:>9.1}", at.as_secs_f64() * 1000.0);
    }
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
