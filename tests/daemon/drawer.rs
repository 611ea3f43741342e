//! The cash drawer over the socket, against the virtual printer: the `drawer` op sends
//! exactly `ESC p` with a duty-compliant pulse (off ≥ 4 × on) on the pin asked for, and
//! answers `drawer`; a printer that cannot take it gets nothing and the POS hears `printer`;
//! a payment never kicks the drawer; `printer` reports the drawer sensor through the
//! configured polarity.

use std::time::Duration;

use serde_json::json;
use wxprint::config::DrawerLevel;
use wxprint::escpos::{DrawerPin, DrawerPulse};
use wxprint::printer::Printer;
use wxprint::printer::link::{LinkPrinter, Serial, Tcp};

use crate::support::{Daemon, Options, checkout, fast_config};
use crate::virtual_printer::{Link, Paper, VirtualPrinter};

const WAIT: Duration = Duration::from_secs(10);

fn tcp(vp: &VirtualPrinter, open_level: DrawerLevel) -> Box<dyn Printer> {
    let link = LinkPrinter::new(Tcp {
        address: vp.address(),
        timeout: Duration::from_secs(2),
    });
    Box::new(link.drawer_open_level(open_level))
}

async fn daemon(dir: &std::path::Path, printer: Box<dyn Printer>, pulse: DrawerPulse) -> Daemon {
    let mut config = fast_config();
    config.drawer = pulse;
    let options = Options {
        config,
        backend: None,
        printer: Some(printer),
    };
    Daemon::start_with(dir, options).await
}

/// `ESC p m t1 t2` with OFF (t2 × 2 ms) at least 4 × ON (t1 × 2 ms).
fn duty_compliant(kick: &[u8]) -> bool {
    matches!(kick, [0x1B, 0x70, 0 | 1, t1, t2] if *t1 > 0 && u32::from(*t2) >= 4 * u32::from(*t1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drawer_op_sends_exactly_a_duty_compliant_esc_p() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Tcp);
    let daemon = daemon(
        dir.path(),
        tcp(&vp, DrawerLevel::Low),
        DrawerPulse::default(),
    )
    .await;
    let mut pos = daemon.connect().await;

    let kicked = pos.call(json!({"op": "drawer", "id": "d1"})).await;
    assert_eq!(kicked["event"], "drawer", "{kicked}");
    assert_eq!(kicked["id"], "d1");
    assert_eq!(
        (&kicked["pin"], &kicked["on_ms"], &kicked["off_ms"]),
        (&json!(2), &json!(50), &json!(500))
    );
    assert_eq!(kicked["sent"], "1B 70 00 19 FA");
    assert_eq!(
        kicked["confirmed"], true,
        "GS r answered after it: {kicked}"
    );
    assert_eq!(vp.drawer_kicks(), [vec![0x1B, 0x70, 0x00, 0x19, 0xFA]]);

    let pin5 = pos.call(json!({"op": "drawer", "pin": 5})).await;
    assert_eq!(
        (&pin5["event"], &pin5["pin"]),
        (&json!("drawer"), &json!(5))
    );
    assert_eq!(pin5["sent"], "1B 70 01 19 FA");
    let kicks = vp.drawer_kicks();
    assert_eq!(kicks[1], [0x1B, 0x70, 0x01, 0x19, 0xFA]);
    assert!(kicks.iter().all(|k| duty_compliant(k)), "{kicks:02X?}");
    // Nothing but the kicks: no ESC @, no receipt, no cut.
    assert_eq!(vp.bytes(), kicks.concat());

    for bad in [json!(3), json!("5"), json!(0)] {
        let (code, error) = pos.call_error(json!({"op": "drawer", "pin": bad})).await;
        assert_eq!(code, "invalid_request", "{error}");
        assert_eq!(error["error"]["field"], "pin", "{error}");
    }
    assert_eq!(
        vp.drawer_kicks().len(),
        2,
        "a refused request kicks nothing"
    );
    daemon.shutdown().await;
}

/// A configured pulse is sent as configured (and kept to the duty rule by construction).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_pulse_is_sent_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Tcp);
    let pulse = DrawerPulse::new(DrawerPin::Pin2, 10, 100).unwrap();
    let daemon = daemon(dir.path(), tcp(&vp, DrawerLevel::Low), pulse).await;
    let mut pos = daemon.connect().await;
    let kicked = pos.call(json!({"op": "drawer"})).await;
    assert_eq!(
        (&kicked["on_ms"], &kicked["off_ms"]),
        (&json!(10), &json!(100))
    );
    assert_eq!(vp.drawer_kicks(), [vec![0x1B, 0x70, 0x00, 0x05, 0x32]]);
    daemon.shutdown().await;
}

/// Paper out: `ESC p` would wait in the printer's buffer and open the drawer later, so
/// nothing is sent and the POS hears `printer`; nor does anything open once paper is back.
/// A printer that cannot be reached likewise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_that_cannot_take_the_kick_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Tcp);
    let daemon = daemon(
        dir.path(),
        tcp(&vp, DrawerLevel::Low),
        DrawerPulse::default(),
    )
    .await;
    let mut pos = daemon.connect().await;
    vp.set_state(|s| s.paper = Paper::Out);
    let (code, error) = pos.call_error(json!({"op": "drawer", "id": "d"})).await;
    assert_eq!(code, "printer", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("paper out") && message.contains("not kicked"),
        "{message}"
    );
    vp.set_state(|s| s.paper = Paper::Ok);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(vp.drawer_kicks().len(), 0);
    assert_eq!(vp.held_bytes(), 0, "nothing waits in the buffer either");
    vp.unplug();
    let (code, error) = pos.call_error(json!({"op": "drawer"})).await;
    assert_eq!(code, "printer", "{error}");
    daemon.shutdown().await;
}

/// A paid WeChat order prints its receipt and nothing else: the drawer stays shut.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_never_kicks_the_drawer() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Tcp);
    let daemon = daemon(
        dir.path(),
        tcp(&vp, DrawerLevel::Low),
        DrawerPulse::default(),
    )
    .await;
    let mut pos = daemon.connect().await;
    pos.checkout_printed(checkout("T5000000001", 1200)).await;
    let mut payer = daemon.connect().await;
    payer
        .send(json!({"op": "sandbox_pay", "out_trade_no": "T5000000001"}))
        .await;
    pos.expect("paid").await;
    vp.wait_receipts(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(vp.drawer_pulses(), 0, "no ESC p, no DLE DC4");
    daemon.shutdown().await;
}

/// `printer` says open / closed from `DLE EOT 1` bit 2 (pin 3 high) through
/// `printer.drawer_open_level`, on TCP and on a serial line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_status_reports_the_drawer_through_its_polarity() {
    for (link, level) in [
        (Link::Tcp, DrawerLevel::Low),
        (Link::Tcp, DrawerLevel::High),
        (Link::Pty, DrawerLevel::Low),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let vp = VirtualPrinter::start(link);
        let printer: Box<dyn Printer> = match link {
            Link::Tcp => tcp(&vp, level),
            Link::Pty => Box::new(
                LinkPrinter::new(Serial {
                    device: vp.device_path(),
                    baud_rate: 115_200,
                    flow_control: wxprint::config::FlowControl::Hardware,
                })
                .drawer_open_level(level),
            ),
        };
        let daemon = daemon(dir.path(), printer, DrawerPulse::default()).await;
        let mut pos = daemon.connect().await;
        let (high, low) = match level {
            DrawerLevel::High => ("open", "closed"),
            DrawerLevel::Low => ("closed", "open"),
        };
        vp.set_state(|s| s.drawer_high = true);
        let status = pos.call(json!({"op": "printer"})).await;
        assert_eq!(status["drawer"], high, "{link:?} {level:?}: {status}");
        assert_eq!(status["online"], true, "an open drawer is no fault");
        vp.set_state(|s| s.drawer_high = false);
        let status = pos.call(json!({"op": "printer"})).await;
        assert_eq!(status["drawer"], low, "{link:?} {level:?}: {status}");
        vp.set_state(|s| s.silent = true);
        let status = pos.call(json!({"op": "printer"})).await;
        assert_eq!(status["drawer"], "unknown", "{status}");
        daemon.shutdown().await;
    }
}
