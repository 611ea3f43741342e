//! Payment and refund slips (issue 14): asked for with `"slip": true`, printed after `paid`
//! / `refunded` on the virtual printer (TCP 9100), read back as text (GB18030): every field
//! in its currency's format, WeChat Pay Global's CNY amount and rate, never the payer's
//! openid. A printer that is offline never delays `paid`; the slip waits, survives a
//! restart, and prints once the printer is back. The real WeChat Pay backend against the
//! simulator.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wxprint::printer::link::{LinkPrinter, Tcp};
use wxprint::wechatpay::WechatPay;

use crate::merchant;
use crate::support::{Client, Daemon, Options, fast_config};
use crate::virtual_printer::{Link, Paper, VirtualPrinter};
use crate::wechatpay_sim::{Kind, SimConfig, Simulator, Trust};

const WAIT: Duration = Duration::from_secs(10);

/// A daemon on the real backend for `sim`, printing to `vp` over TCP, slips held for at
/// most `print_timeout`.
async fn start(
    dir: &Path,
    sim: &Simulator,
    vp: &VirtualPrinter,
    print_timeout: Duration,
) -> Daemon {
    let mut s = merchant::settings(dir, sim, Trust::PublicKey);
    s.wechatpay.refund_spacing = Duration::ZERO;
    let backend = WechatPay::from_settings(&s.wechatpay).unwrap();
    let printer = LinkPrinter::new(Tcp {
        address: vp.address(),
        timeout: Duration::from_secs(2),
    });
    let mut config = fast_config();
    config.print_timeout = print_timeout;
    let options = Options {
        config,
        backend: Some(Arc::new(backend)),
        printer: Some(Box::new(printer)),
    };
    Daemon::start_with(dir, options).await
}

/// A checkout asking for a slip, under the shop's own title.
fn checkout(no: &str, total: i64) -> Value {
    json!({
        "op": "checkout", "id": format!("co-{no}"), "slip": true,
        "order": {"out_trade_no": no, "description": "Latte x2", "amount": {"total": total}},
        "receipt": {"title": "咖啡小站", "lines": [{"name": "Latte", "quantity": 2, "amount": total}]}
    })
}

/// The text of what the printer printed: the slips' ESC/POS commands dropped, GB18030
/// decoded (as the printer's Chinese mode reads it).
fn text_of(bytes: &[u8]) -> String {
    let mut text = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let next = bytes.get(i + 1).copied();
        i += match bytes[i] {
            // ESC @ | ESC a n, ESC E n, ESC d n, ESC t n, ESC ! n.
            0x1B => 2 + usize::from(matches!(next, Some(b'a' | b'E' | b'd' | b't' | b'!'))),
            // GS ! n | GS V m (n for m ≥ 65).
            0x1D if next == Some(b'V') => 3 + usize::from(bytes.get(i + 2) >= Some(&65)),
            0x1D => 3,
            // FS & / FS . (Chinese mode on and off).
            0x1C => 2,
            b => {
                text.push(b);
                1
            }
        };
    }
    let (decoded, _, malformed) = encoding_rs::GB18030.decode(&text);
    assert!(!malformed, "the slip is GB18030 text: {decoded}");
    decoded.into_owned()
}

/// The line of `text` holding `label`, which must also hold `value` (beside it, or on the
/// line after it when it does not fit).
fn field(text: &str, label: &str, value: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} on the slip:\n{text}"));
    let shown = format!("{} {}", lines[at], lines.get(at + 1).unwrap_or(&""));
    assert!(shown.contains(value), "{label}: {value} expected:\n{text}");
}

/// `2026-11-27 10:15:09` for WeChat Pay's `2026-11-27T10:15:09+08:00`.
fn local(success_time: &str) -> String {
    assert!(success_time.ends_with("+08:00"), "{success_time}");
    format!("{} {}", &success_time[..10], &success_time[11..19])
}

/// Check out `no` with a slip, wait for its receipt; `watcher` follows everything.
async fn checked_out(
    daemon: &Daemon,
    vp: &VirtualPrinter,
    no: &str,
    total: i64,
) -> (Client, Client) {
    let mut watcher = daemon.connect().await;
    watcher.send(json!({"op": "watch"})).await;
    let mut pos = daemon.connect().await;
    pos.checkout_printed(checkout(no, total)).await;
    vp.wait_receipts(1, WAIT).await;
    (pos, watcher)
}

/// The next `slip` event `watcher` hears; every event before it is checked by `before`.
async fn next_slip(watcher: &mut Client, mut before: impl FnMut(&Value)) -> Value {
    loop {
        let event = watcher.recv().await;
        if event["event"] == "slip" {
            return event;
        }
        before(&event);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_slip_shows_every_field_and_never_the_openid() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let vp = VirtualPrinter::start(Link::Tcp);
    let daemon = start(dir.path(), &sim, &vp, Duration::from_secs(10)).await;
    let no = "T20261127001";
    let (mut pos, mut watcher) = checked_out(&daemon, &vp, no, 3200).await;

    assert!(sim.pay_with_coupon(no, 500));
    let paid = pos.expect("paid").await;
    let mut paid_first = false;
    let slip = next_slip(&mut watcher, |e| paid_first |= e["event"] == "paid").await;
    assert!(paid_first, "paid is reported before the slip");
    assert_eq!(
        (
            &slip["out_trade_no"],
            &slip["print"],
            slip.get("out_refund_no")
        ),
        (&json!(no), &json!("printed"), None),
        "{slip}"
    );
    assert_eq!(slip["confirmed"], true, "{slip}");

    let receipts = vp.wait_receipts(2, WAIT).await;
    let text = text_of(&receipts[1]);
    assert!(text.contains("咖啡小站"), "the checkout's title:\n{text}");
    assert!(text.contains("微信支付"), "WeChat Pay as text:\n{text}");
    field(&text, "商户单号", no);
    field(&text, "交易单号", paid["transaction_id"].as_str().unwrap());
    field(
        &text,
        "支付时间",
        &local(paid["success_time"].as_str().unwrap()),
    );
    field(&text, "订单金额", "￥32.00");
    field(&text, "优惠", "-￥5.00");
    field(&text, "实付", "￥27.00");
    assert_eq!(paid["amount"]["payer_total"], 2700);
    assert!(!text.contains("汇率"), "nothing converted on the mainland");
    let openid = sim.order(no).unwrap().payment.unwrap().openid;
    assert!(openid.starts_with("oUpF8u") && openid.len() > 20);
    let everything = String::from_utf8_lossy(&vp.bytes()).into_owned();
    assert!(
        !text.contains(&openid) && !everything.contains(&openid),
        "no openid on paper"
    );
    assert_eq!(vp.receipts().len(), 2, "one receipt, one slip");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_payment_slip_shows_the_cny_paid_and_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let config = SimConfig::from_fixtures(Trust::PublicKey).with_kind(Kind::GlobalCommon);
    let sim = Simulator::start(config).await;
    let vp = VirtualPrinter::start(Link::Tcp);
    let daemon = start(dir.path(), &sim, &vp, Duration::from_secs(10)).await;
    let no = "T20261127002";
    let (mut pos, _watcher) = checked_out(&daemon, &vp, no, 1234).await;

    assert!(sim.pay(no));
    let paid = pos.expect("paid").await;
    let amount = &paid["amount"];
    assert_eq!(
        (&amount["currency"], &amount["payer_currency"]),
        (&json!("HKD"), &json!("CNY"))
    );
    let (cny, rate) = (
        amount["payer_total"].as_i64().unwrap(),
        amount["exchange_rate"]["rate"].as_i64().unwrap(),
    );
    let receipts = vp.wait_receipts(2, WAIT).await;
    let text = text_of(&receipts[1]);
    field(&text, "订单金额", "HKD 12.34");
    field(&text, "实付", &format!("￥{}.{:02}", cny / 100, cny % 100));
    let rate_text = format!(
        "{}.{}",
        rate / 100_000_000,
        format!("{:08}", rate % 100_000_000).trim_end_matches('0')
    );
    field(&text, "汇率", &format!("1 HKD = {rate_text} CNY"));
    field(&text, "交易单号", paid["transaction_id"].as_str().unwrap());
    field(
        &text,
        "支付时间",
        &format!("{} (UTC+8)", local(paid["success_time"].as_str().unwrap())),
    );
    assert!(!text.contains("优惠"), "no promotion, no line:\n{text}");
    let openid = sim.order(no).unwrap().payment.unwrap().openid;
    assert!(!String::from_utf8_lossy(&vp.bytes()).contains(&openid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_slip_prints_after_refunded_when_the_refund_asks() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let vp = VirtualPrinter::start(Link::Tcp);
    let daemon = start(dir.path(), &sim, &vp, Duration::from_secs(10)).await;
    let no = "T20261127003";
    let (mut pos, mut watcher) = checked_out(&daemon, &vp, no, 3200).await;
    assert!(sim.pay(no));
    pos.expect("paid").await;
    next_slip(&mut watcher, |_| {}).await;

    // Without "slip": no slip.
    let refund = |amount: i64, slip: bool| json!({"op": "refund", "out_trade_no": no, "refund": {"amount": amount, "slip": slip}});
    pos.send(refund(1000, false)).await;
    assert_eq!(
        pos.expect("refund_accepted").await["out_refund_no"],
        format!("{no}-R1")
    );
    pos.expect("refunded").await;
    pos.send(refund(1200, true)).await;
    pos.expect("refund_accepted").await;
    let refunded = pos.expect("refunded").await;
    let mut refunded_first = false;
    let slip = next_slip(&mut watcher, |e| {
        refunded_first |= e["event"] == "refunded" && e["out_refund_no"] == format!("{no}-R2");
    })
    .await;
    assert!(refunded_first, "refunded is reported before the slip");
    assert_eq!(
        (&slip["out_refund_no"], &slip["print"]),
        (&json!(format!("{no}-R2")), &json!("printed")),
        "{slip}"
    );
    let receipts = vp.wait_receipts(3, WAIT).await;
    let text = text_of(&receipts[2]);
    assert!(text.contains("微信支付 退款凭证"), "{text}");
    field(&text, "商户单号", no);
    field(&text, "退款单号", &format!("{no}-R2"));
    field(
        &text,
        "微信退款单号",
        refunded["refund_id"].as_str().unwrap(),
    );
    field(
        &text,
        "退款时间",
        &local(refunded["success_time"].as_str().unwrap()),
    );
    field(&text, "退款金额", "￥12.00");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        vp.receipts().len(),
        3,
        "receipt, payment slip, one refund slip"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_printer_never_delays_paid_and_the_slip_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
    let vp = VirtualPrinter::start(Link::Tcp);
    let daemon = start(dir.path(), &sim, &vp, Duration::from_secs(60)).await;
    let no = "T20261127004";
    let (mut pos, mut watcher) = checked_out(&daemon, &vp, no, 800).await;

    vp.set_state(|s| (s.online, s.paper) = (false, Paper::NearEnd));
    let paying = Instant::now();
    assert!(sim.pay(no));
    pos.expect("paid").await;
    let took = paying.elapsed();
    // Not held by the slip's printer, whose timeout is 60 s (10 s leaves a loaded machine room).
    assert!(
        took < Duration::from_secs(10),
        "paid took {took:?} with the printer offline"
    );
    let waiting = next_slip(&mut watcher, |_| {}).await;
    assert_eq!(waiting["print"], "pending", "{waiting}");
    assert_eq!(waiting["error"]["code"], "printer", "{waiting}");
    // The order is paid and stays so; nothing more was printed.
    let status = pos.call(json!({"op": "status", "out_trade_no": no})).await;
    assert_eq!(status["state"], "paid");
    daemon.shutdown().await;
    assert_eq!(vp.receipts().len(), 1, "the slip waits");

    // The next start prints it once the printer is back, once.
    vp.set_state(|s| (s.online, s.paper) = (true, Paper::Ok));
    let daemon = start(dir.path(), &sim, &vp, Duration::from_secs(60)).await;
    let receipts = vp.wait_receipts(2, WAIT).await;
    field(&text_of(&receipts[1]), "商户单号", no);
    let mut pos = daemon.connect().await;
    pos.call(json!({"op": "ping"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(vp.receipts().len(), 2, "printed once");
    daemon.shutdown().await;
}

/// `receipt.paid_slip` prints a slip after every payment, asked for or not; without it only
/// a checkout that asks gets one. On the sandbox, the slip says it is not a real payment.
#[tokio::test]
async fn paid_slip_in_the_config_prints_a_slip_for_every_payment() {
    for paid_slip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut config = fast_config();
        config.paid_slip = paid_slip;
        let options = Options {
            config,
            ..Options::default()
        };
        let daemon = Daemon::start_with(dir.path(), options).await;
        let mut watcher = daemon.connect().await;
        watcher.send(json!({"op": "watch"})).await;
        let mut pos = daemon.connect().await;
        let mut plain = checkout("T20261127005", 100);
        plain.as_object_mut().unwrap().remove("slip");
        pos.checkout_printed(plain).await;
        pos.call(json!({"op": "sandbox_pay", "out_trade_no": "T20261127005"}))
            .await;
        pos.expect("paid").await;
        if paid_slip {
            let slip = next_slip(&mut watcher, |_| {}).await;
            assert_eq!(slip["print"], "printed", "{slip}");
            let location = slip["location"].as_str().unwrap();
            assert!(location.contains("T20261127005-slip"), "{slip}");
        } else {
            // Nothing but the receipt, even after a while.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let files = daemon.receipts();
        assert_eq!(files.len(), 1 + usize::from(paid_slip), "{files:?}");
        if paid_slip {
            let text = text_of(&std::fs::read(&files[1]).unwrap());
            assert!(text.contains("微信支付 收款凭证"), "{text}");
            assert_eq!(
                text.matches("SANDBOX - NOT A REAL PAYMENT").count(),
                2,
                "{text}"
            );
        }
        daemon.shutdown().await;
    }
}
