//! The daemon printing through the real transports — serial (a pseudo-terminal), the usblp
//! device (the same pty standing in for `/dev/usb/lp0`) and TCP 9100 — to the virtual
//! printer of `tests/support/virtual_printer/`, which answers `DLE EOT` and `GS r` like
//! hardware. The QR is decoded from the bytes the printer received. `printers/probe.rs`:
//! `wxprint printers --probe` against the same printer; `printers/drawer_cli.rs`:
//! `wxprint drawer` through a running daemon.

#[path = "support/bin.rs"]
mod bin;
#[path = "printers/drawer_cli.rs"]
mod drawer_cli;
#[path = "printers/probe.rs"]
mod probe;
mod support;
#[path = "support/virtual_printer/mod.rs"]
mod virtual_printer;

use std::time::Duration;

use serde_json::json;
use support::{Client, Daemon, Options, checkout, decode_qr, fast_config};
use virtual_printer::{Link, Paper, PrinterState, VirtualPrinter};
use wxprint::config::FlowControl;
use wxprint::jobs::JobsConfig;
use wxprint::printer::Printer;
use wxprint::printer::link::{LinkPrinter, Serial, Tcp, Usb};

const WAIT: Duration = Duration::from_secs(10);

fn serial(vp: &VirtualPrinter, baud_rate: u32, flow_control: FlowControl) -> Box<dyn Printer> {
    Box::new(LinkPrinter::new(Serial {
        device: vp.device_path(),
        baud_rate,
        flow_control,
    }))
}

fn usb(vp: &VirtualPrinter) -> Box<dyn Printer> {
    Box::new(LinkPrinter::new(Usb {
        device: vp.device_path(),
        write_timeout: Duration::from_secs(5),
    }))
}

fn tcp(vp: &VirtualPrinter) -> Box<dyn Printer> {
    Box::new(LinkPrinter::new(Tcp {
        address: vp.address(),
        timeout: Duration::from_secs(2),
    }))
}

async fn daemon(dir: &std::path::Path, printer: Box<dyn Printer>, config: JobsConfig) -> Daemon {
    Daemon::start_with(
        dir,
        Options {
            config,
            backend: None,
            printer: Some(printer),
        },
    )
    .await
}

/// Checkout until printed; the receipt the printer got decodes to the code_url.
async fn checkout_and_print(pos: &mut Client, vp: &VirtualPrinter, no: &str, nth: usize) -> String {
    let opening = pos.checkout_printed(checkout(no, 1200)).await;
    let (code_url, printed) = (opening.code_url, opening.printed);
    assert!(
        printed["location"]
            .as_str()
            .unwrap()
            .contains("confirmed by the printer"),
        "{printed}"
    );
    assert_eq!(printed["confirmed"], true, "GS r answered: {printed}");
    let receipts = vp.wait_receipts(nth, WAIT).await;
    assert_eq!(decode_qr(&receipts[nth - 1], 576), vec![code_url.clone()]);
    code_url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prints_through_every_transport() {
    for (name, link) in [
        ("serial", Link::Pty),
        ("usb", Link::Pty),
        ("tcp", Link::Tcp),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let vp = VirtualPrinter::start(link);
        let printer = match name {
            "serial" => serial(&vp, 115_200, FlowControl::Hardware),
            "usb" => usb(&vp),
            _ => tcp(&vp),
        };
        let daemon = daemon(dir.path(), printer, fast_config()).await;
        let mut pos = daemon.connect().await;
        checkout_and_print(&mut pos, &vp, "T3000000001", 1).await;
        assert!(
            vp.status_queries() >= 4,
            "{name}: DLE EOT before, GS r after"
        );
        // The status reaches the POS.
        let status = pos.call(json!({"op": "printer"})).await;
        assert_eq!(status["online"], true, "{name}: {status}");
        assert_eq!(status["paper"], "ok");
        assert_eq!(status["cover_open"], false);
        vp.set_state(|s| s.paper = Paper::NearEnd);
        let status = pos.call(json!({"op": "printer"})).await;
        assert_eq!(status["paper"], "near_end", "{name}: {status}");
        daemon.shutdown().await;
    }
}

/// Paper out: the receipt waits (the POS hears why), the payment side goes on, and the
/// receipt prints once paper is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paper_out_holds_the_receipt_until_paper_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start_with(
        Link::Tcp,
        PrinterState {
            paper: Paper::Out,
            ..PrinterState::default()
        },
    );
    let mut config = fast_config();
    config.print_timeout = Duration::from_secs(60);
    let daemon = daemon(dir.path(), tcp(&vp), config).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T3000000002", 100)).await;
    pos.expect("accepted").await;
    let code_url = pos.expect("code_url").await["code_url"].clone();
    let waiting = pos.expect("printer").await;
    assert_eq!(waiting["print"], "pending");
    assert_eq!(waiting["paper"], "out");
    assert_eq!(waiting["out_trade_no"], "T3000000002");
    assert!(vp.receipts().is_empty());
    let status = pos
        .call(json!({"op": "status", "out_trade_no": "T3000000002"}))
        .await;
    assert_eq!(status["print"], "pending");
    assert_eq!(status["state"], "awaiting_payment");

    vp.set_state(|s| s.paper = Paper::Ok);
    assert_eq!(pos.expect("printed").await["print"], "printed");
    let receipts = vp.wait_receipts(1, WAIT).await;
    assert_eq!(
        decode_qr(&receipts[0], 576),
        vec![code_url.as_str().unwrap().to_owned()]
    );
    daemon.shutdown().await;
}

/// The USB-serial adapter is pulled and plugged back: the device is opened again by path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unplugged_serial_printer_is_reopened_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Pty);
    let mut config = fast_config();
    config.print_timeout = Duration::from_secs(60);
    let daemon = daemon(
        dir.path(),
        serial(&vp, 115_200, FlowControl::Hardware),
        config,
    )
    .await;
    let mut pos = daemon.connect().await;
    checkout_and_print(&mut pos, &vp, "T3000000003", 1).await;

    vp.unplug();
    pos.send(checkout("T3000000004", 100)).await;
    pos.expect("accepted").await;
    pos.expect("code_url").await;
    let waiting = pos.expect("printer").await;
    assert_eq!(waiting["print"], "pending");
    assert_eq!(waiting["online"], false);
    vp.replug();
    assert_eq!(pos.expect("printed").await["out_trade_no"], "T3000000004");
    assert_eq!(vp.wait_receipts(2, WAIT).await.len(), 2);
    daemon.shutdown().await;
}

/// Several checkouts at once share one printer: receipts never interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkouts_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Pty);
    let daemon = daemon(
        dir.path(),
        serial(&vp, 115_200, FlowControl::Hardware),
        fast_config(),
    )
    .await;
    let mut clients = Vec::new();
    for i in 0..4 {
        let mut pos = daemon.connect().await;
        pos.send(checkout(&format!("T30000001{i:02}"), 100 + i))
            .await;
        clients.push(pos);
    }
    let mut urls = Vec::new();
    for pos in &mut clients {
        pos.expect("accepted").await;
        urls.push(
            pos.expect("code_url").await["code_url"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        pos.expect("printed").await;
    }
    let receipts = vp.wait_receipts(4, WAIT).await;
    let mut decoded: Vec<String> = receipts.iter().flat_map(|r| decode_qr(r, 576)).collect();
    decoded.sort();
    urls.sort();
    assert_eq!(decoded, urls, "each receipt whole, with its own QR");
    daemon.shutdown().await;
}

/// No flow control at 9600 baud to a printer that drops what overflows its buffer: the
/// daemon paces to the line rate, so the QR arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_flow_control_is_paced_to_the_line_rate() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start_with(
        Link::Pty,
        PrinterState {
            drop_without_flow_control: true,
            slow_reader_bytes_per_sec: Some(960),
            rx_buffer: 256,
            ..PrinterState::default()
        },
    );
    let daemon = daemon(
        dir.path(),
        serial(&vp, 9600, FlowControl::None),
        fast_config(),
    )
    .await;
    let mut pos = daemon.connect().await;
    checkout_and_print(&mut pos, &vp, "T3000000005", 1).await;
    assert_eq!(vp.dropped_bytes(), 0);
    daemon.shutdown().await;
}

/// A printer that never answers status still gets its receipt, reported unconfirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_printer_prints_unconfirmed() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start_with(
        Link::Tcp,
        PrinterState {
            silent: true,
            ..PrinterState::default()
        },
    );
    let daemon = daemon(dir.path(), tcp(&vp), fast_config()).await;
    let mut pos = daemon.connect().await;
    pos.send(checkout("T3000000006", 100)).await;
    pos.expect("accepted").await;
    let code_url = pos.expect("code_url").await["code_url"].clone();
    let printed = pos.expect("printed").await;
    assert!(
        printed["location"]
            .as_str()
            .unwrap()
            .contains("did not confirm"),
        "{printed}"
    );
    assert_eq!(printed["confirmed"], false, "no GS r answer: {printed}");
    let receipts = vp.wait_receipts(1, WAIT).await;
    assert_eq!(
        decode_qr(&receipts[0], 576),
        vec![code_url.as_str().unwrap().to_owned()]
    );
    let status = pos.call(json!({"op": "printer"})).await;
    assert_eq!(status["paper"], "unknown");
    assert_eq!(
        status["online"],
        serde_json::Value::Null,
        "unknown, never ok"
    );
    daemon.shutdown().await;
}

/// A printer whose answers are line noise (a wrong baud rate): its receipts go out but are
/// never "confirmed", and its status is unknown with a hint, never "ok".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn line_noise_is_never_a_confirmation() {
    for link in [Link::Pty, Link::Tcp] {
        let dir = tempfile::tempdir().unwrap();
        let noisy = PrinterState {
            noise: true,
            ..PrinterState::default()
        };
        let vp = VirtualPrinter::start_with(link, noisy);
        let printer = match link {
            Link::Pty => serial(&vp, 115_200, FlowControl::Hardware),
            Link::Tcp => tcp(&vp),
        };
        let daemon = daemon(dir.path(), printer, fast_config()).await;
        let mut pos = daemon.connect().await;
        for (i, no) in ["T3000000007", "T3000000008"].into_iter().enumerate() {
            let printed = pos.checkout_printed(checkout(no, 100)).await.printed;
            assert_eq!(printed["confirmed"], false, "{link:?} noise: {printed}");
            assert_eq!(vp.wait_receipts(i + 1, WAIT).await.len(), i + 1);
        }
        assert!(
            !vp.replies().is_empty(),
            "the printer did answer, with noise"
        );
        let status = pos.call(json!({"op": "printer"})).await;
        assert_eq!(status["online"], serde_json::Value::Null, "{status}");
        assert_eq!(status["paper"], "unknown", "{status}");
        let error = status["error"].as_str().unwrap();
        assert!(
            error.contains("line noise") && error.contains("baud rate"),
            "{error}"
        );
        daemon.shutdown().await;
    }
}

/// The real-path bench times a receipt to the arrival of its cut's last byte at the TCP
/// printer: the kernel's receive time, however late the printer's thread reads it (its
/// wake-up is the printer's, not the daemon's). Here the printer is held busy (its state
/// locked) from before the cut is written until a while after: the cut's time is still the
/// write's.
#[test]
fn a_tcp_printer_times_a_cut_by_its_arrival_not_its_read() {
    use std::io::Write as _;
    use std::time::Instant;
    let vp = VirtualPrinter::start(Link::Tcp);
    let held = Duration::from_secs(1);
    std::thread::scope(|s| {
        let (busy_tx, busy) = std::sync::mpsc::channel();
        let (written_tx, written_rx) = std::sync::mpsc::channel();
        let vp = &vp;
        let holder = s.spawn(move || {
            vp.set_state(|_| {
                busy_tx.send(()).unwrap();
                written_rx.recv_timeout(WAIT).expect("the cut written");
                std::thread::sleep(held);
            });
            Instant::now()
        });
        busy.recv().unwrap();
        let mut printer = std::net::TcpStream::connect(vp.address()).unwrap();
        let written = Instant::now();
        printer.write_all(b"receipt\n\x1dV\x00").unwrap();
        written_tx.send(()).unwrap();
        let released = holder.join().unwrap();
        let deadline = Instant::now() + WAIT;
        let cut = loop {
            if let Some(&cut) = vp.cut_arrivals().first() {
                break cut;
            }
            assert!(Instant::now() < deadline, "no cut arrived");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(
            // The kernel's time is the wall clock's, turned into an Instant: a hair of slack.
            written <= cut + Duration::from_millis(1)
                && cut.saturating_duration_since(written) < held / 3
                && cut < released,
            "cut timed {:?} after the write; the printer was free to read it {:?} after",
            cut.saturating_duration_since(written),
            released.saturating_duration_since(written)
        );
    });
}
