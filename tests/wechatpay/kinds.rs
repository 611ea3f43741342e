//! The four merchant kinds over the socket: for each kind (mainland direct, mainland
//! partner, Global common, Global institutional), in each currency its region allows (CNY on
//! the mainland; HKD, JPY and CNY on Global) and in both trust modes, one daemon configured
//! as that merchant takes three checkouts like a POS: one is paid, one cancelled, one
//! expires. Checked: the wire WeChat expects (`kinds_wire.rs`), the QR printed is the verified
//! `code_url` (the first answer for one order is spoiled, and its QR never printed), the amount on the receipt in the currency's format, `paid` with WeChat's order
//! number and, on Global, the CNY paid and the rate, and closes no younger than 5 minutes.
//!
//! The five minutes on Global: wxprint's `close_min_age` is shrunk to [`CLOSE_MIN_AGE`] and
//! the simulator's clock is moved so that, for the simulator, the order is already
//! [`CLOCK_SHIFT`] old when wxprint's own minimum has passed: a close sent before wxprint's
//! `close_min_age` would reach the simulator before five minutes and be refused. The shift is
//! split in two steps (before placing, after printing) so that neither step takes a clock
//! beyond the ±300 s both sides allow between request and answer timestamps.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kinds_wire::{assert_all_accepted, assert_closes, assert_native, assert_queries};
use crate::support::{Client, checkout, fast_config};
use crate::wechatpay_sim::{
    Endpoint, Fault, GLOBAL_CLOSE_MIN_AGE, HKD_RATE, JPY_RATE, Kind, Region, SimConfig, Trust,
    cny_payer_total,
};
use crate::{Setup, checkout_printed_with, start_account};

/// wxprint's `close_min_age` in these tests (WeChat's 5 minutes, shrunk).
const CLOSE_MIN_AGE: Duration = Duration::from_millis(1200);
/// How far the simulator's clock is moved ahead between placing and closing, in seconds:
/// with [`CLOSE_MIN_AGE`] the order is 5 minutes and 0.2 s old for WeChat at the earliest
/// close wxprint may send, and 4 minutes 59 s old at any earlier one.
const CLOCK_SHIFT: i64 = 299;
/// The first step of the shift: the simulator's clock is this far behind while placing.
const CLOCK_BEHIND: i64 = 150;
/// The orders' lifetime: long enough to pay one, short enough to wait for one to expire.
const ORDER_TTL: Duration = Duration::from_secs(3);

/// One merchant in one currency and one trust mode.
#[derive(Debug, Clone, Copy)]
struct Case {
    kind: Kind,
    currency: &'static str,
    trust: Trust,
}

/// A test amount in `currency`: its minor units, how the receipt prints it (the bytes sent to
/// the printer: `￥32.00` is `FS &`, GB18030 `A3 A4`, `FS .`, then ASCII, on the Chinese-mode
/// printer of the 80 mm layout) and the simulator's rate to CNY (×10^8).
fn amount(currency: &str) -> (i64, &'static [u8], i64) {
    match currency {
        "HKD" => (1234, b"HKD 12.34", HKD_RATE),
        "JPY" => (1200, b"JPY 1,200", JPY_RATE),
        "CNY" => (3200, b"\x1C&\xA3\xA4\x1C.32.00", 100_000_000),
        other => panic!("no test amount in {other}"),
    }
}

/// Every currency and trust mode for `kind`: mainland settles in CNY only.
fn cases(kind: Kind) -> Vec<Case> {
    let currencies: &[&'static str] = match kind.region() {
        Region::Mainland => &["CNY"],
        Region::Global => &["HKD", "JPY", "CNY"],
    };
    let mut cases = Vec::new();
    for &currency in currencies {
        for trust in [Trust::PublicKey, Trust::Certificate] {
            cases.push(Case {
                kind,
                currency,
                trust,
            });
        }
    }
    cases
}

#[tokio::test]
async fn mainland_direct_merchant() {
    run_kind(Kind::MainlandDirect, "T2026112710").await;
}

#[tokio::test]
async fn mainland_partner_sub_merchant() {
    run_kind(Kind::MainlandPartner, "T2026112720").await;
}

#[tokio::test]
async fn global_common_merchant() {
    run_kind(Kind::GlobalCommon, "T2026112730").await;
}

#[tokio::test]
async fn global_institutional_sub_merchant() {
    run_kind(Kind::GlobalInstitutional, "T2026112740").await;
}

/// Every case of `kind`, each on its own daemon and simulator.
async fn run_kind(kind: Kind, prefix: &str) {
    let all = cases(kind);
    assert!(all.len() >= 2, "both trust modes");
    for (i, case) in all.into_iter().enumerate() {
        run_case(case, &format!("{prefix}{i}")).await;
    }
}

/// The simulated merchant of `case`.
fn account(case: Case) -> SimConfig {
    let account = SimConfig::from_fixtures(case.trust).with_kind(case.kind);
    match case.kind.region() {
        Region::Mainland => account,
        Region::Global => account.with_currency(case.currency, amount(case.currency).2),
    }
}

/// One daemon as `case`'s merchant: order `…P` paid, `…C` cancelled, `…E` expired.
async fn run_case(case: Case, prefix: &str) {
    let mut config = fast_config();
    config.order_ttl = ORDER_TTL;
    config.close_min_age = CLOSE_MIN_AGE;
    let setup = start_account(account(case), config, |_| {}).await;
    let (pay, cancel, expire) = (
        format!("{prefix}P"),
        format!("{prefix}C"),
        format!("{prefix}E"),
    );
    setup.sim.set_clock_offset(-CLOCK_BEHIND);
    let mut pos_pay = printed(&setup, case, &pay).await;
    // Paid as soon as printed, while WeChat's clock still has the order within its
    // time_expire, and long before wxprint's ORDER_TTL on a slow machine.
    assert!(setup.sim.pay(&pay), "{case:?}: paid at WeChat Pay");
    let mut pos_cancel = printed(&setup, case, &cancel).await;
    // The first answer placing `…E` does not verify: its code_url must never be printed.
    setup.sim.inject(Endpoint::Native, Fault::BadSignature, 1);
    let mut pos_expire = printed(&setup, case, &expire).await;
    // Shift now: `…E` may be closed as soon as it expires, and on a loaded machine the
    // steps below can take longer than that. No close is due before this point.
    setup.sim.set_clock_offset(CLOCK_SHIFT - CLOCK_BEHIND);
    // Cancel `…C` now, long before it would expire (ORDER_TTL) on a slow machine.
    let mut cashier = setup.daemon.connect().await;
    cashier
        .send(json!({"op": "cancel", "out_trade_no": cancel}))
        .await;
    cashier.expect("cancelling").await;

    let paid = pos_pay.expect("paid").await;
    assert_paid(&setup, case, &pay, &paid);
    assert_status_paid(&setup, &pay, &paid).await;

    assert_eq!(cashier.expect("closed").await["reason"], "cancelled");
    pos_cancel.expect("cancelling").await;
    assert_eq!(pos_cancel.expect("closed").await["reason"], "cancelled");
    assert_eq!(pos_expire.expect("closed").await["reason"], "expired");

    let total = amount(case.currency).0;
    for (no, placements) in [(&pay, 1), (&cancel, 1), (&expire, 2)] {
        let placed = assert_native(&setup.sim, case.kind, no, total, case.currency);
        assert_eq!(placed, placements, "{case:?} {no}: placements");
        assert_queries(&setup.sim, case.kind, no);
    }
    for no in [&cancel, &expire] {
        assert_closes(&setup.sim, case.kind, no);
        assert_closed_old_enough(&setup, case, no);
    }
    assert_all_accepted(&setup.sim, case.kind, case.trust);
    setup.daemon.shutdown().await;
}

/// Check out `no` in the case's currency on a new connection until printed: the QR on the
/// receipt is the live, verified `code_url`, and the receipt prints the amount (item line
/// and total) in the currency's format.
async fn printed(setup: &Setup, case: Case, no: &str) -> Client {
    let mut request = checkout(no, amount(case.currency).0);
    request["order"]["amount"]["currency"] = json!(case.currency);
    printed_as(setup, case, no, request).await
}

/// [`printed`] for the checkout `request` as given.
async fn printed_as(setup: &Setup, case: Case, no: &str, request: Value) -> Client {
    let text = amount(case.currency).1;
    let mut pos = setup.daemon.connect().await;
    let code_url = checkout_printed_with(setup, &mut pos, no, request).await;
    let prefix = match case.kind.region() {
        Region::Mainland => "weixin://wxpay/bizpayurl?pr=",
        Region::Global => "weixin://wxpay/s/",
    };
    assert!(code_url.starts_with(prefix), "{case:?}: {code_url}");
    let receipts: Vec<_> = setup
        .daemon
        .receipts()
        .into_iter()
        .filter(|r| r.to_string_lossy().contains(no))
        .collect();
    assert_eq!(receipts.len(), 1, "{case:?} {no}: one receipt");
    let bytes = std::fs::read(&receipts[0]).unwrap();
    assert_eq!(
        count(&bytes, text),
        2,
        "{case:?} {no}: {} on the item line and the total",
        String::from_utf8_lossy(text)
    );
    pos
}

/// A Global POS may leave `currency` out: the checkout is in the configured currency
/// (protocol: an omitted `order.amount.currency` means the merchant's), placed and printed
/// in it.
#[tokio::test]
async fn a_global_checkout_without_currency_is_in_the_configured_one() {
    let case = Case {
        kind: Kind::GlobalCommon,
        currency: "HKD",
        trust: Trust::PublicKey,
    };
    let setup = start_account(account(case), fast_config(), |_| {}).await;
    let no = "T2026112750";
    let mut pos = printed_as(&setup, case, no, checkout(no, 1234)).await;
    assert_native(&setup.sim, case.kind, no, 1234, "HKD");
    assert!(setup.sim.pay(no));
    assert_eq!(pos.expect("paid").await["amount"]["currency"], "HKD");
    setup.daemon.shutdown().await;
}

/// `paid` says what WeChat Pay says: its order number (`transaction_id` on the mainland,
/// `id` on Global), the time, and the amounts; on Global the payer paid CNY at the rate.
fn assert_paid(setup: &Setup, case: Case, no: &str, paid: &Value) {
    let (total, _, rate) = amount(case.currency);
    let order = setup.sim.order(no).expect("the order exists");
    let payment = order.payment.expect("WeChat Pay has the payment");
    assert_eq!(paid["state"], "paid", "{case:?}: {paid}");
    assert_eq!(
        paid["transaction_id"],
        payment.transaction_id.as_str(),
        "{case:?}"
    );
    assert_eq!(
        paid["success_time"],
        payment.success_time.as_str(),
        "{case:?}"
    );
    let expected = match case.kind.region() {
        Region::Mainland => json!({"total": total, "payer_total": total,
                                   "currency": "CNY", "payer_currency": "CNY"}),
        Region::Global => {
            let payer_total = cny_payer_total(total, case.currency, rate);
            assert_eq!(payment.payer_total, payer_total, "{case:?}");
            assert_eq!(payment.exchange_rate, Some(rate), "{case:?}");
            json!({"total": total, "payer_total": payer_total, "currency": case.currency,
                   "payer_currency": "CNY",
                   "exchange_rate": {"type": "SETTLEMENT_RATE", "rate": rate}})
        }
    };
    assert_eq!(paid["amount"], expected, "{case:?}");
    assert_eq!(order.placed, 1, "{case:?}: one checkout, one order");
}

/// `status` of the paid order shows what `paid` said: the amount with the payer's currency
/// and rate, and `payer_total` beside it.
async fn assert_status_paid(setup: &Setup, no: &str, paid: &Value) {
    let mut pos = setup.daemon.connect().await;
    let status = pos
        .call(json!({"op": "status", "id": "s", "out_trade_no": no}))
        .await;
    assert_eq!(status["event"], "status", "{status}");
    assert_eq!(status["state"], "paid", "{status}");
    assert_eq!(status["transaction_id"], paid["transaction_id"], "{status}");
    assert_eq!(
        status["payer_total"], paid["amount"]["payer_total"],
        "{status}"
    );
    let mut amount = paid["amount"].clone();
    amount.as_object_mut().map(|a| a.remove("payer_total"));
    assert_eq!(status["amount"], amount, "{status}");
}

/// The order is closed at WeChat Pay, and on Global no younger than five minutes there.
fn assert_closed_old_enough(setup: &Setup, case: Case, no: &str) {
    let order = setup.sim.order(no).expect("the order exists");
    let closed_at = order.closed_at.expect("closed at WeChat Pay");
    let age = closed_at
        .duration_since(order.created_at)
        .unwrap_or_default();
    if case.kind.region() == Region::Global {
        assert!(
            age >= GLOBAL_CLOSE_MIN_AGE,
            "{case:?} {no}: closed at {age:?}"
        );
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}
