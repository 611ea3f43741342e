//! `cargo run --example wechatpay_sim`: the WeChat Pay API v3 simulator of the tests, on
//! loopback, for running `wxprint serve` with the real backend without a merchant account.
//!
//! It prints a config to use (test keys from `tests/fixtures/wechatpay/`, copied to a
//! private temporary directory), then reads commands on standard input:
//! `pay N` (the customer pays order N), `paying N` (USERPAYING), `orders`, `quit`.

#[path = "../tests/support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

use std::os::unix::fs::PermissionsExt;

use tokio::io::{AsyncBufReadExt, BufReader};
use wechatpay_sim::{SimConfig, Simulator, Trust};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::PublicKey)).await;
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
                        "{} {:?} {} fen {}",
                        o.out_trade_no, o.state, o.total, o.code_url
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
