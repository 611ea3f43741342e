//! `cargo run --example wechatpay_sim`: the WeChat Pay API v3 simulator of the tests, on
//! loopback, for running `wxprint serve` with the real backend without a merchant account.
//!
//! `cargo run --example wechatpay_sim -- global-common` (or `mainland-partner`,
//! `global-institutional`; default `mainland-direct`) simulates that kind of merchant (Global:
//! HKD, MCC 5812). It prints a config to use (test keys from `tests/fixtures/wechatpay/`,
//! copied to a private temporary directory), then reads commands on standard input:
//! `pay N` (the customer pays order N), `paying N` (USERPAYING), `orders`, `quit`.

#[path = "../tests/support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::os::unix::fs::PermissionsExt;

use tokio::io::{AsyncBufReadExt, BufReader};
use wechatpay_sim::{Kind, Region, SimConfig, Simulator, Trust};

/// The merchant kind named on the command line.
fn kind_arg() -> Kind {
    match std::env::args().nth(1).as_deref() {
        None | Some("mainland-direct") => Kind::MainlandDirect,
        Some("mainland-partner") => Kind::MainlandPartner,
        Some("global-common") => Kind::GlobalCommon,
        Some("global-institutional") => Kind::GlobalInstitutional,
        Some(other) => {
            eprintln!(
                "unknown kind {other:?}: use mainland-direct, mainland-partner, global-common or global-institutional"
            );
            std::process::exit(2);
        }
    }
}

/// The `[wechatpay]` keys that say which kind of merchant wxprint is.
fn kind_keys(config: &SimConfig) -> String {
    let mut keys = String::new();
    if config.region == Region::Global {
        keys += &format!(
            "region = \"global\"\ncurrency = \"{}\"\nmerchant_category_code = \"{}\"\n",
            config.currency, config.merchant_category_code
        );
    }
    if !config.sub_mchid.is_empty() {
        keys += &format!(
            "sub_mchid = \"{}\"\nsub_appid = \"{}\"\n",
            config.sub_mchid, config.sub_appid
        );
    }
    keys
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let config = SimConfig::from_fixtures(Trust::PublicKey).with_kind(kind_arg());
    let sim = Simulator::start(config).await;
    let keys = std::env::temp_dir().join(format!("wxprint-sim-keys-{}", std::process::id()));
    std::fs::create_dir_all(&keys).expect("key directory");
    for file in ["merchant_key.pem", "platform_pub.pem"] {
        let to = keys.join(file);
        std::fs::copy(wechatpay_sim::default_fixture_dir().join(file), &to).expect("copy key");
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    println!(
        "# WeChat Pay simulator at {} — a wxprint config for it:",
        sim.base_url
    );
    println!(
        r#"[daemon]
socket = "./wxprint.sock"
state_dir = "./state-sim"

[wechatpay]
backend = "wechatpay"
api_base = "{base}"
backup_api_base = ""
appid = "{appid}"
mchid = "{mchid}"
merchant_serial_no = "{serial}"
private_key_file = "{keys}/merchant_key.pem"
public_key_id = "{pkid}"
public_key_file = "{keys}/platform_pub.pem"
notify_url = "https://merchant.example/wechatpay/notify"
{kind}
[printer]
transport = "file"
device = "./receipts"
"#,
        base = sim.base_url,
        appid = wechatpay_sim::APPID,
        mchid = wechatpay_sim::MCHID,
        serial = wechatpay_sim::MERCHANT_SERIAL,
        pkid = wechatpay_sim::PUBLIC_KEY_ID,
        keys = keys.display(),
        kind = kind_keys(sim.config()),
    );
    println!("# commands: pay N | paying N | orders | quit");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["pay", no] => println!("{}", if sim.pay(no) { "paid" } else { "not payable" }),
            ["paying", no] => {
                sim.set_user_paying(no);
                println!("USERPAYING");
            }
            ["orders"] => {
                for o in sim.orders() {
                    println!(
                        "{} {:?} {} {} (minor unit) {}",
                        o.out_trade_no, o.state, o.total, o.currency, o.code_url
                    );
                }
            }
            ["quit"] => break,
            [] => {}
            _ => println!("? pay N | paying N | orders | quit"),
        }
    }
    let _ = std::fs::remove_dir_all(&keys);
}
