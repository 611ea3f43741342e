//! The config file of a real `wxprint serve` pointed at the in-repo simulator: socket and
//! state in a test's directory, the real WeChat Pay backend at the simulator as its
//! mainland direct merchant, answers verified with a public key, the fixture keys copied
//! beside (mode 0600: wxprint refuses keys others can read). One place says how the binary
//! is pointed at the simulator; each test or bench adds only its own lines (a poll
//! schedule, a printer, notifications, metrics).
//!
//! Writes text, as an installer would, and never uses wxprint's own types (`merchant.rs`
//! does, for the tests that build `Settings` in-process). Declare it next to
//! `wechatpay_sim` at the crate root.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::wechatpay_sim::{
    APPID, MCHID, MERCHANT_SERIAL, PUBLIC_KEY_ID, Simulator, default_fixture_dir,
};

/// The fixture file `fixture` copied to `dir/keys/name`, readable by its owner only.
pub fn key(dir: &Path, fixture: &str, name: &str) -> PathBuf {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let to = keys.join(name);
    std::fs::copy(default_fixture_dir().join(fixture), &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    to
}

/// The `[wechatpay]` lines for `sim`'s merchant, verifying its answers with the fixture
/// `public_key`; no backup host. The keys are copied to `dir/keys`.
fn wechatpay_lines(dir: &Path, sim: &Simulator, public_key: &str) -> String {
    assert_eq!(sim.config().mchid, MCHID, "the fixtures' merchant");
    let private = key(dir, "merchant_key.pem", "merchant_key.pem");
    let public = key(dir, public_key, "pub.pem");
    format!(
        "backend = \"wechatpay\"\napi_base = \"{base}\"\nbackup_api_base = \"\"\n\
         appid = \"{APPID}\"\nmchid = \"{MCHID}\"\nmerchant_serial_no = \"{MERCHANT_SERIAL}\"\n\
         private_key_file = \"{private}\"\npublic_key_id = \"{PUBLIC_KEY_ID}\"\n\
         public_key_file = \"{public}\"\n\
         notify_url = \"https://merchant.example/wechatpay/notify\"\n",
        base = sim.base_url,
        private = private.display(),
        public = public.display(),
    )
}

/// Write `dir/wxprint.toml`: `[daemon]` with its socket and state in `dir`, `[wechatpay]`
/// for `sim`, its answers verified with the right key, and then `wechatpay`, more lines of
/// that section; then `sections` (`[printer]` and whatever else the caller needs).
pub fn write(dir: &Path, sim: &Simulator, wechatpay: &str, sections: &str) -> PathBuf {
    write_verifying(dir, sim, "platform_pub.pem", wechatpay, sections)
}

/// [`write`], verifying WeChat Pay's answers with the fixture `public_key` instead (a wrong
/// one: every answer fails verification).
pub fn write_verifying(
    dir: &Path,
    sim: &Simulator,
    public_key: &str,
    wechatpay: &str,
    sections: &str,
) -> PathBuf {
    let text = format!(
        "[daemon]\nsocket = \"{d}/wxprint.sock\"\nstate_dir = \"{d}/state\"\n\
         [wechatpay]\n{lines}{wechatpay}{sections}",
        d = dir.display(),
        lines = wechatpay_lines(dir, sim, public_key),
    );
    let path = dir.join("wxprint.toml");
    std::fs::write(&path, text).unwrap();
    path
}
