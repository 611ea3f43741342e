//! WeChat Pay's documentation samples: the `appid`, `mchid`, certificate serial and
//! `PUB_KEY_ID_…` values of WeChat Pay's API documents (and of `config/wxprint.toml`, which
//! shows them as examples) are not any merchant's. Left in a config, every call fails with an
//! answer that hides why; `check-config` names them instead ([`documentation_samples`]).
//!
//! Knows the sample values and where the real ones are found; not used against a test
//! simulator (a loopback `api_base`), whose merchant is the documentation's.

use super::settings::{Backend, WechatPaySettings};
use super::url::{is_loopback, parse_url};

/// `(key, sample values, where the real value is found)`.
const SAMPLES: &[(&str, &[&str], &str)] = &[
    (
        "appid",
        &["wxd678efh567hg6787", "wx8888888888888888"],
        "the AppID bound to your merchant account (merchant platform pay.weixin.qq.com → \
         产品中心 → AppID账号管理)",
    ),
    (
        "mchid",
        &["1230000109", "1900000109", "1900000100"],
        "your merchant ID, 商户号 (merchant platform → 账户中心 → 商户信息)",
    ),
    (
        "sub_mchid",
        &["1230000109", "1900000109", "1900000100"],
        "the shop's own merchant ID (the service provider's platform → 服务商功能 → 特约商户管理)",
    ),
    (
        "sub_appid",
        &[
            "wxd678efh567hg6999",
            "wxd678efh567hg6787",
            "wx8888888888888888",
        ],
        "the shop's own AppID, or \"\"",
    ),
    (
        "merchant_serial_no",
        &["5157F09EFDC096DE15EBE81A47057A7232F1B8E1"],
        "your merchant API certificate's serial number (merchant platform → 账户中心 → \
         API安全 → 管理证书, or `openssl x509 -noout -serial -in apiclient_cert.pem`)",
    ),
    (
        "public_key_id",
        &["PUB_KEY_ID_0112340000000000000000000000000000"],
        "your WeChat Pay public key ID (merchant platform → 账户中心 → API安全 → 微信支付公钥)",
    ),
];

/// One line for each `[wechatpay]` value that is one of WeChat Pay's documentation samples,
/// naming the key, the value and where the real value is found. Empty with the sandbox
/// backend and with a loopback `api_base` (a test simulator).
pub fn documentation_samples(w: &WechatPaySettings) -> Vec<String> {
    let simulator = parse_url(&w.api_base).is_ok_and(|url| is_loopback(url.host));
    if w.backend == Backend::Sandbox || simulator {
        return Vec::new();
    }
    SAMPLES
        .iter()
        .filter_map(|&(key, samples, source)| {
            let value = value_of(w, key);
            samples
                .iter()
                .any(|s| s.eq_ignore_ascii_case(value))
                .then(|| {
                    format!(
                        "wechatpay.{key}: {value:?} is a sample from WeChat Pay's documentation, \
                     not a real merchant's; set {source}"
                    )
                })
        })
        .collect()
}

/// The value of one of [`SAMPLES`]' keys.
fn value_of<'a>(w: &'a WechatPaySettings, key: &str) -> &'a str {
    match key {
        "appid" => &w.appid,
        "mchid" => &w.mchid,
        "sub_mchid" => &w.sub_mchid,
        "sub_appid" => &w.sub_appid,
        "merchant_serial_no" => &w.merchant_serial_no,
        "public_key_id" => &w.public_key_id,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn samples_are_named_except_for_a_simulator() {
        let mut s = Settings::production_defaults().wechatpay;
        s.appid = "wxd678efh567hg6787".into();
        s.mchid = "1230000109".into();
        s.merchant_serial_no = "5157f09efdc096de15ebe81a47057a7232f1b8e1".into();
        s.public_key_id = "PUB_KEY_ID_0112340000000000000000000000000000".into();
        s.api_base = "https://api.mch.weixin.qq.com".into();
        let lines = documentation_samples(&s);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[0].starts_with("wechatpay.appid: \"wxd678efh567hg6787\" is a sample"));
        assert!(lines[1].contains("商户信息"), "{}", lines[1]);

        s.api_base = "http://127.0.0.1:8080".into();
        assert!(documentation_samples(&s).is_empty());
        s.api_base = "https://api.mch.weixin.qq.com".into();
        s.appid = "wx1234567890abcdef".into();
        s.mchid = "1600123456".into();
        assert_eq!(documentation_samples(&s).len(), 2);
    }
}
