//! Certificate mode across a rotation of WeChat Pay's platform certificate: an answer
//! signed by a serial not yet downloaded makes wxprint download the certificates at once
//! and use the answer, while repeats of one unknown serial are downloaded for only once a
//! minute — and an answer it still cannot verify is never printed.

use crate::support::{Client, checkout};
use crate::wechatpay_sim::{Endpoint, Fault, Trust};
use crate::{Setup, checkout_printed, start};

/// How many times the platform certificates were downloaded.
fn downloads(setup: &Setup) -> usize {
    setup.sim.requests_to(Endpoint::Certificates).len()
}

/// A first order placed, printed and paid: the certificates are downloaded and no order is
/// left polling.
async fn first_order_paid(setup: &Setup, pos: &mut Client, no: &str) {
    checkout_printed(setup, pos, no).await;
    assert!(setup.sim.pay(no));
    pos.expect("paid").await;
    assert_eq!(
        downloads(setup),
        1,
        "downloaded once, before the first answer"
    );
}

/// The next message, which must be `name` (no `delayed` nor `failed` before it).
async fn next_is(pos: &mut Client, name: &str) -> serde_json::Value {
    let m = pos.recv().await;
    assert_eq!(m["event"], name, "expected {name} at once, got {m}");
    m
}

/// WeChat Pay rotates its certificate: the next checkout's answer, signed by the new serial,
/// is verified after one immediate download and its `code_url` printed, without the POS
/// hearing `delayed`; polling then goes on with the new certificate.
#[tokio::test]
async fn a_rotated_certificate_is_downloaded_at_once_and_its_answer_printed() {
    let setup = start(Trust::Certificate).await;
    let mut pos = setup.daemon.connect().await;
    first_order_paid(&setup, &mut pos, "T2026120401").await;

    setup.sim.rotate_certificate();
    pos.send(checkout("T2026120402", 1800)).await;
    next_is(&mut pos, "accepted").await;
    let code = next_is(&mut pos, "code_url").await;
    let printed = next_is(&mut pos, "printed").await;
    assert_eq!(printed["print"], "printed", "{printed}");
    let code_url = code["code_url"].as_str().unwrap();
    let order = setup.sim.order("T2026120402").unwrap();
    assert_eq!(
        order.code_url, code_url,
        "the printed QR is the live code_url"
    );
    assert_eq!(order.placed, 1, "verified on the first answer, placed once");
    assert_eq!(downloads(&setup), 2, "one download for the new serial");

    assert!(setup.sim.pay("T2026120402"));
    assert_eq!(next_is(&mut pos, "paid").await["state"], "paid");
    assert_eq!(downloads(&setup), 2, "the new certificate stays known");
    setup.daemon.shutdown().await;
}

/// Orders placed together right after a rotation share one download.
#[tokio::test]
async fn answers_waiting_for_the_same_new_serial_share_one_download() {
    let setup = start(Trust::Certificate).await;
    let mut pos = setup.daemon.connect().await;
    first_order_paid(&setup, &mut pos, "T2026120411").await;

    setup.sim.rotate_certificate();
    let mut others = Vec::new();
    for no in ["T2026120412", "T2026120413", "T2026120414"] {
        let mut pos = setup.daemon.connect().await;
        pos.send(checkout(no, 900)).await;
        others.push(pos);
    }
    for pos in &mut others {
        next_is(pos, "accepted").await;
        next_is(pos, "code_url").await;
        next_is(pos, "printed").await;
    }
    assert_eq!(downloads(&setup), 2, "one download for the three answers");
    setup.daemon.shutdown().await;
}

/// Answers naming a serial the download does not contain (a forgery or a mistake): one
/// download for that serial, not one per answer, and none of them is believed — the order
/// is placed again and the QR printed is the verified, live one.
#[tokio::test]
async fn an_unknown_serial_is_downloaded_for_once_and_its_answers_refused() {
    let setup = start(Trust::Certificate).await;
    let mut pos = setup.daemon.connect().await;
    first_order_paid(&setup, &mut pos, "T2026120421").await;

    let spoiled = 4;
    setup
        .sim
        .inject(Endpoint::Native, Fault::WrongSerial, spoiled);
    checkout_printed(&setup, &mut pos, "T2026120422").await;
    let refused = setup
        .sim
        .requests_to(Endpoint::Native)
        .iter()
        .filter(|r| r.fault == Some(Fault::WrongSerial))
        .count();
    assert_eq!(
        refused, spoiled,
        "every spoiled answer was served and refused"
    );
    assert_eq!(
        downloads(&setup),
        2,
        "one download for the unknown serial, not one per answer"
    );
    assert_eq!(setup.daemon.receipts().len(), 2, "one receipt per order");
    setup.daemon.shutdown().await;
}
