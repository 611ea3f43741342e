//! `wxprint check-config --online [--order]` proves what it says: the real binary against
//! the WeChat Pay simulator. A WeChat Pay public key is proven only by a verified, signed
//! answer: the plain check (whose 404 answer is unsigned) exits 3 naming the key, `--order`
//! places a test order whose signed answer proves it (exit 0, the order closed) or refutes
//! it (exit 1, naming the key). The clock offset comes from the HTTP `Date` when the answer
//! is unsigned; a wrong `mchid` shows WeChat's own message and a hint about the merchant id.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bin::WXPRINT;
use wechatpay_sim::{
    Kind, MERCHANT_SERIAL, PUBLIC_KEY_ID, SimConfig, Simulator, TradeState, Trust,
    default_fixture_dir,
};

/// A merchant id and app that are not WeChat's documentation samples (check-config refuses
/// those before going online).
const MCHID: &str = "1600123456";
const APPID: &str = "wx1234567890abcdef";

/// A simulator of the test merchant (renamed, see [`MCHID`]) of `kind`, on a runtime of its
/// own that serves it while the test waits for the binary.
struct Sim {
    sim: Simulator,
    _runtime: tokio::runtime::Runtime,
}

fn start(trust: Trust, kind: Kind) -> Sim {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut config = SimConfig::from_fixtures(trust).with_kind(kind);
    config.mchid = MCHID.into();
    config.appid = APPID.into();
    let sim = runtime.block_on(Simulator::start(config));
    Sim {
        sim,
        _runtime: runtime,
    }
}

/// A fixture key copied to `dir/name`, private.
fn key(dir: &Path, fixture: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(default_fixture_dir().join(fixture), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    to
}

/// The config an installer would write for the simulated merchant, with `trust_lines`
/// (public key or APIv3 key) and the merchant id `mchid`.
fn config(dir: &Path, sim: &Simulator, mchid: &str, trust_lines: &str) -> PathBuf {
    let account = sim.config();
    let region = match account.region {
        wechatpay_sim::Region::Mainland => "mainland",
        wechatpay_sim::Region::Global => "global",
    };
    let text = format!(
        "[daemon]\nsocket = \"{d}/wxprint.sock\"\nstate_dir = \"{d}/state\"\n\
         [wechatpay]\nbackend = \"wechatpay\"\nregion = \"{region}\"\napi_base = \"{base}\"\n\
         backup_api_base = \"\"\nappid = \"{APPID}\"\nmchid = \"{mchid}\"\n\
         sub_mchid = \"{sub}\"\ncurrency = \"{currency}\"\nmerchant_category_code = \"{mcc}\"\n\
         merchant_serial_no = \"{MERCHANT_SERIAL}\"\nprivate_key_file = \"{private}\"\n\
         notify_url = \"https://shop.test/notify\"\n{trust_lines}\n\
         [printer]\ntransport = \"file\"\ndevice = \"{d}/receipts\"\n",
        d = dir.display(),
        base = sim.base_url,
        sub = account.sub_mchid,
        currency = account.currency,
        mcc = account.merchant_category_code,
        private = key(dir, "merchant_key.pem", "merchant_key.pem").display(),
    );
    let path = dir.join("wxprint.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Public-key mode with the key in fixture `public_key` (the right one: `platform_pub.pem`).
fn public_key_lines(dir: &Path, public_key: &str) -> String {
    format!(
        "public_key_id = \"{PUBLIC_KEY_ID}\"\npublic_key_file = \"{}\"",
        key(dir, public_key, "pub_key.pem").display()
    )
}

/// `wxprint check-config --config CONFIG ARGS`.
fn check(config: &Path, args: &[&str]) -> Output {
    Command::new(WXPRINT)
        .args(["check-config", "--config", config.to_str().unwrap()])
        .args(args)
        .env_remove("WXPRINT_CONFIG")
        .output()
        .expect("run wxprint")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The test orders the check placed.
fn test_orders(sim: &Simulator) -> Vec<wechatpay_sim::SimOrder> {
    let orders = sim.orders();
    assert!(
        orders
            .iter()
            .all(|o| o.out_trade_no.starts_with("WXPRINTCHECK") && o.total == 1),
        "only 1-unit test orders: {orders:?}"
    );
    orders
}

#[test]
fn a_wrong_public_key_is_not_proven_by_the_plain_check_and_refuted_by_an_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Trust::PublicKey, Kind::MainlandDirect);
    // The merchant's own public key is a valid key, but not WeChat Pay's.
    let config = config(
        dir.path(),
        &s.sim,
        MCHID,
        &public_key_lines(dir.path(), "merchant_pub.pem"),
    );
    let key_file = dir.path().join("pub_key.pem");
    let key_file = key_file.to_str().unwrap();

    let out = check(&config, &["--online"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(!stdout.contains("online check OK"), "{stdout}");
    for part in [
        "public key is unproven",
        key_file,
        PUBLIC_KEY_ID,
        "wxprint check-config --online --order",
        "wxprint loopback --live",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert!(s.sim.orders().is_empty(), "the plain check places nothing");

    let out = check(&config, &["--online", "--order"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for part in [
        "does not verify",
        key_file,
        PUBLIC_KEY_ID,
        "API安全",
        "微信支付公钥",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    // Placed once, then closed (the close is real even if its answer cannot be verified).
    let orders = test_orders(&s.sim);
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].state, TradeState::Closed);
    assert!(!stdout.contains("weixin://") && !stderr.contains("weixin://"));
}

#[test]
fn the_right_public_key_is_proven_by_a_closed_test_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Trust::PublicKey, Kind::MainlandDirect);
    let config = config(
        dir.path(),
        &s.sim,
        MCHID,
        &public_key_lines(dir.path(), "platform_pub.pem"),
    );
    // Even the right key is not proven by the unsigned 404.
    assert_eq!(check(&config, &["--online"]).status.code(), Some(3));

    let out = check(&config, &["--online", "--order"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("online check OK"), "{stdout}");
    assert!(
        stdout.contains(&format!("signed by {PUBLIC_KEY_ID}")) && stdout.contains("￥0.01"),
        "{stdout}"
    );
    assert!(stdout.contains("test order closed"), "{stdout}");
    let orders = test_orders(&s.sim);
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].state, TradeState::Closed);
    // One minute: the shortest time_expire WeChat Pay takes.
    let body: serde_json::Value = serde_json::from_str(&orders[0].body).unwrap();
    assert!(body["time_expire"].as_str().unwrap().ends_with("+08:00"));
    // The QR is never shown: nobody can pay a check's order.
    assert!(!stdout.contains("weixin://") && !stderr.contains("weixin://"));
    assert!(!stdout.contains(&orders[0].code_url));
}

#[test]
fn a_global_test_order_is_left_to_expire_and_said_so() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Trust::PublicKey, Kind::GlobalCommon);
    let config = config(
        dir.path(),
        &s.sim,
        MCHID,
        &public_key_lines(dir.path(), "platform_pub.pem"),
    );
    let out = check(&config, &["--online", "--order"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("closes no order younger than 5 minutes")
            && stdout.contains("expires unpaid at")
            && stdout.contains("code_url was never shown"),
        "{stdout}"
    );
    assert!(stdout.contains("HKD 0.01"), "{stdout}");
    let orders = test_orders(&s.sim);
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].state, TradeState::NotPay, "not closed early");
}

#[test]
fn certificate_mode_is_proven_by_the_download() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Trust::Certificate, Kind::MainlandDirect);
    let lines = format!(
        "public_key_id = \"\"\napiv3_key_file = \"{}\"",
        key(dir.path(), "apiv3_key.txt", "apiv3.key").display()
    );
    let out = check(&config(dir.path(), &s.sim, MCHID, &lines), &["--online"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("certificate mode: 1 platform certificate(s)")
            && stdout.contains("online check OK"),
        "{stdout}"
    );
}

/// An unsigned answer has no `Wechatpay-Timestamp`: the offset comes from its `Date`.
#[test]
fn the_clock_offset_is_reported_from_the_http_date() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Trust::PublicKey, Kind::MainlandDirect);
    let config = config(
        dir.path(),
        &s.sim,
        MCHID,
        &public_key_lines(dir.path(), "platform_pub.pem"),
    );
    s.sim.set_clock_offset(200);
    let (stdout, _) = text(&check(&config, &["--online"]));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("# clock offset to WeChat Pay: "))
        .unwrap_or_else(|| panic!("no clock line: {stdout}"));
    let seconds: i64 = line["# clock offset to WeChat Pay: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((198..=202).contains(&seconds), "{line}");
    assert!(line.contains("WARNING: fix the clock"), "{line}");
}

/// WeChat Pay says the merchant id is wrong: its message is shown, with its Request-ID,
/// and the hint is about the merchant id, not keys and clocks.
#[test]
fn a_wrong_mchid_shows_wechats_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Trust::PublicKey, Kind::MainlandDirect);
    let lines = public_key_lines(dir.path(), "platform_pub.pem");
    let out = check(
        &config(dir.path(), &s.sim, "1600999999", &lines),
        &["--online"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    for part in [
        "SIGN_ERROR",
        "商户号不存在或与证书不匹配",
        "Request-ID 08",
        "the merchant id is wrong",
        "mchid \"1600999999\"",
    ] {
        assert!(stderr.contains(part), "{part}: {stderr}");
    }
    assert!(!stderr.contains("register's clock"), "{stderr}");
}
