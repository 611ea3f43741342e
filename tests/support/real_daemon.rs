//! The real `wxprint serve` on the real WeChat Pay backend, pointed at the in-repo
//! simulator: a config file in a test's directory (public-key trust, the simulator's
//! merchant, a file printer) and the daemon started from it, its log in `daemon.log`. For
//! the test binaries that check a whole feature through the binary (`metrics`,
//! `notify_cli`); each includes this file with `#[path]`, beside `bin.rs` and the simulator.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::bin::{Daemon, WXPRINT};
use crate::wechatpay_sim::{self, Simulator};

/// Write `dir/wxprint.toml` for the real backend at `sim`: the simulator's fixture `keys`
/// copied to `dir/keys` (mode 0600), `wechatpay` as more lines of `[wechatpay]` (a poll
/// schedule, an APIv3 key file), and `sections` after the `[printer]` section.
pub fn config(
    dir: &Path,
    sim: &Simulator,
    keys: &[&str],
    wechatpay: &str,
    sections: &str,
) -> PathBuf {
    let key_dir = dir.join("keys");
    std::fs::create_dir_all(&key_dir).unwrap();
    for file in keys {
        let to = key_dir.join(file);
        std::fs::copy(wechatpay_sim::default_fixture_dir().join(file), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text = format!(
        "[daemon]\nsocket = \"{d}/wxprint.sock\"\nstate_dir = \"{d}/state\"\n\
         [wechatpay]\nbackend = \"wechatpay\"\napi_base = \"{base}\"\nbackup_api_base = \"\"\n\
         appid = \"{appid}\"\nmchid = \"{mchid}\"\nmerchant_serial_no = \"{serial}\"\n\
         private_key_file = \"{keys}/merchant_key.pem\"\npublic_key_id = \"{key_id}\"\n\
         public_key_file = \"{keys}/platform_pub.pem\"\n\
         notify_url = \"https://merchant.example/wechatpay/notify\"\n{wechatpay}\
         [printer]\ntransport = \"file\"\ndevice = \"{d}/receipts\"\n{sections}",
        d = dir.display(),
        base = sim.base_url,
        appid = wechatpay_sim::APPID,
        mchid = wechatpay_sim::MCHID,
        serial = wechatpay_sim::MERCHANT_SERIAL,
        key_id = wechatpay_sim::PUBLIC_KEY_ID,
        keys = key_dir.display(),
    );
    let path = dir.join("wxprint.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `wxprint serve --config CONFIG`, its log in `dir/daemon.log`, once its socket is there
/// (waiting without blocking the runtime, on which the simulator answers the daemon).
pub async fn serve(dir: &Path, config: &Path) -> Daemon {
    let log = File::create(dir.join("daemon.log")).unwrap();
    let daemon = Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--config", config.to_str().unwrap()])
            .current_dir(dir)
            .env_remove("WXPRINT_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    wait_until(dir, "the daemon's socket", || {
        dir.join("wxprint.sock").exists()
    })
    .await;
    daemon
}

/// Wait (at most 20 s) until `done`; the failure points at the daemon's log in `dir`.
pub async fn wait_until(dir: &Path, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within 20 s; see {}",
            dir.join("daemon.log").display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
