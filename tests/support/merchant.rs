//! wxprint's settings for the simulator's test merchant: the real WeChat Pay backend pointed
//! at a [`Simulator`], with the fixture keys copied to a private directory, configured as the
//! simulator's merchant kind (region, sub-merchant, currency, MCC). This is the client side
//! of the pair, so it uses wxprint (the simulator never does); it knows no test's
//! expectations. Declare it next to `wechatpay_sim` at the crate root, as `tests/wechatpay/`
//! and `benches/wechatpay.rs` do.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use wxprint::config::{Backend, Region, Settings};
use wxprint::money::Currency;

use crate::wechatpay_sim::{
    APPID, MCHID, MERCHANT_SERIAL, PUBLIC_KEY_ID, Region as SimRegion, Simulator, Trust,
    default_fixture_dir,
};

/// Settings for the real backend pointed at `sim`, verifying answers as `trust` says, with
/// the key files copied to `dir/keys` at 0600 (wxprint refuses keys others can read). The
/// `[wechatpay]` kind keys (`region`, `sub_mchid`, `sub_appid`, `currency`,
/// `merchant_category_code`) are the simulated merchant's, as its installer would write them.
pub fn settings(dir: &Path, sim: &Simulator, trust: Trust) -> Settings {
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    for file in ["merchant_key.pem", "platform_pub.pem", "apiv3_key.txt"] {
        let to = keys.join(file);
        std::fs::copy(default_fixture_dir().join(file), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut s = Settings::sandbox_defaults();
    let w = &mut s.wechatpay;
    w.backend = Backend::WechatPay;
    w.api_base = sim.base_url.clone();
    w.backup_api_base = String::new();
    w.appid = APPID.into();
    w.mchid = MCHID.into();
    w.merchant_serial_no = MERCHANT_SERIAL.into();
    w.private_key_file = keys.join("merchant_key.pem");
    w.notify_url = "https://merchant.example/wechatpay/notify".into();
    let account = sim.config();
    w.region = match account.region {
        SimRegion::Mainland => Region::Mainland,
        SimRegion::Global => Region::Global,
    };
    w.sub_mchid = account.sub_mchid.clone();
    w.sub_appid = account.sub_appid.clone();
    w.currency = Currency::new(account.currency.clone());
    w.merchant_category_code = account.merchant_category_code.clone();
    match trust {
        Trust::PublicKey => {
            w.public_key_id = PUBLIC_KEY_ID.into();
            w.public_key_file = keys.join("platform_pub.pem");
        }
        Trust::Certificate => {
            w.public_key_id = String::new();
            w.apiv3_key_file = Some(keys.join("apiv3_key.txt"));
        }
        Trust::Both => {
            w.public_key_id = PUBLIC_KEY_ID.into();
            w.public_key_file = keys.join("platform_pub.pem");
            w.apiv3_key_file = Some(keys.join("apiv3_key.txt"));
        }
    }
    s
}
