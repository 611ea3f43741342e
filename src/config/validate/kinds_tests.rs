//! Known answers of validation for the kinds of merchant: the region's hosts and currencies,
//! the merchant category code, sub-merchant ids, Global's close age, the refund spacing, and
//! the payment notification listener.

use crate::config::testing::{
    MERCHANT, assert_invalid, env, error_of, file, load_text, merchant_with,
};
use crate::config::{Region, Settings};
use crate::money::Currency;

/// A Global common merchant in HKD: [`MERCHANT`] with region, currency and MCC.
fn global(extra: &str) -> String {
    global_in("HKD", extra)
}

/// A Global common merchant in `currency`, with the `extra` lines.
fn global_in(currency: &str, extra: &str) -> String {
    format!(
        "{MERCHANT}\nregion = \"global\"\ncurrency = \"{currency}\"\n\
         merchant_category_code = \"5812\"\n{extra}"
    )
}

#[test]
fn region_picks_the_default_hosts_and_explicit_values_win() {
    let s = load_text(&global(""), false).unwrap();
    let w = &s.wechatpay;
    assert_eq!(w.region, Region::Global);
    assert_eq!(w.api_base, "https://apihk.mch.weixin.qq.com");
    assert_eq!(w.backup_api_base, "https://api.mch.weixin.qq.com");
    assert_eq!(w.currency, Currency::new("HKD"));
    assert_eq!(w.merchant_category_code, "5812");

    // The mainland keeps today's hosts.
    let s = load_text(MERCHANT, false).unwrap();
    assert_eq!(s.wechatpay.region, Region::Mainland);
    assert_eq!(s.wechatpay.api_base, "https://api.mch.weixin.qq.com");
    assert_eq!(
        s.wechatpay.backup_api_base,
        "https://api2.mch.weixin.qq.com"
    );

    // A value in the file wins; an explicit empty backup turns the fail-over off.
    let text = global("api_base = \"https://proxy.example/\"\nbackup_api_base = \"\"");
    let s = load_text(&text, false).unwrap();
    assert_eq!(s.wechatpay.api_base, "https://proxy.example");
    assert_eq!(s.wechatpay.backup_api_base, "");

    // So does the environment, over the file.
    let file = file(&global(""));
    let vars = env(&[
        ("WXPRINT_WECHATPAY__API_BASE", "http://127.0.0.1:9"),
        ("WXPRINT_WECHATPAY__BACKUP_API_BASE", ""),
    ]);
    let s = Settings::load_with_env(Some(file.path()), false, &vars).unwrap();
    assert_eq!(s.wechatpay.api_base, "http://127.0.0.1:9");
    assert_eq!(s.wechatpay.backup_api_base, "");

    // An explicit bad host is still checked.
    let err = error_of(&global("api_base = \"http://apihk.example\""), false);
    assert_invalid(&err, "wechatpay.api_base", "only allowed for loopback");

    // The effective settings name the hosts and load back the same.
    let s = load_text(&global(""), false).unwrap();
    let text = s.effective_toml();
    assert!(text.contains("api_base = \"https://apihk.mch.weixin.qq.com\"\n"));
    assert!(text.contains("region = \"global\"\n"), "{text}");
    assert_eq!(load_text(&text, false).unwrap(), s);
}

#[test]
fn currency_follows_the_region() {
    let err = error_of(&merchant_with("currency = \"HKD\""), false);
    assert_invalid(
        &err,
        "wechatpay.currency",
        "mainland WeChat Pay takes only CNY (got \"HKD\"); expected \"CNY\" (or region = \"global\"",
    );
    assert_eq!(err.errors().len(), 1, "{err}");

    let err = error_of(&global_in("XYZ", ""), false);
    assert_invalid(
        &err,
        "wechatpay.currency",
        "not a currency of WeChat Pay Global (got \"XYZ\"); expected the merchant's settlement \
         currency, one of CNY, HKD, GBP, USD, JPY,",
    );
    assert!(err.to_string().contains("KHR, ISK"), "{err}");

    let s = load_text(&global_in("jpy", ""), false).unwrap();
    assert_eq!(s.wechatpay.currency, Currency::new("JPY"));
    let s = load_text(&global_in("CNY", ""), false).unwrap();
    assert_eq!(s.wechatpay.currency, Currency::CNY);
    let s = load_text(&merchant_with("currency = \"cny\""), false).unwrap();
    assert_eq!(s.wechatpay.currency, Currency::CNY);
}

#[test]
fn merchant_category_code_is_four_digits_and_global_only() {
    let no_mcc = format!("{MERCHANT}\nregion = \"global\"\ncurrency = \"HKD\"\n");
    let err = error_of(&no_mcc, false);
    assert_invalid(
        &err,
        "wechatpay.merchant_category_code",
        "required with region \"global\" (got \"\"); expected the 4-digit merchant category code",
    );
    assert_eq!(err.errors().len(), 1, "{err}");
    // Required with the sandbox too: it answers as Global does.
    let err = error_of("[wechatpay]\nregion = \"global\"\n", true);
    assert_invalid(&err, "wechatpay.merchant_category_code", "required");

    for bad in ["581", "58120", "58a2", "５８１２"] {
        let err = error_of(
            &no_mcc.replace(
                "\nregion",
                &format!("\nmerchant_category_code = \"{bad}\"\nregion"),
            ),
            false,
        );
        assert_invalid(&err, "wechatpay.merchant_category_code", "not 4 digits");
    }

    let err = error_of(&merchant_with("merchant_category_code = \"5812\""), false);
    assert_invalid(
        &err,
        "wechatpay.merchant_category_code",
        "only used with region \"global\" (got \"5812\"); expected \"\" on the mainland",
    );
}

#[test]
fn sub_merchant_keys() {
    let err = error_of(&merchant_with("sub_appid = \"wx0000000000000002\""), false);
    assert_invalid(
        &err,
        "wechatpay.sub_appid",
        "set without wechatpay.sub_mchid (got \"wx0000000000000002\"); expected sub_mchid set",
    );
    assert_eq!(err.errors().len(), 1, "{err}");

    let s = load_text(&merchant_with("sub_mchid = \" 1900000209 \""), false).unwrap();
    assert_eq!(s.wechatpay.sub_mchid, "1900000209");
    assert!(s.wechatpay.is_sub_merchant());
    assert_eq!(s.wechatpay.sub_appid, "");

    let text = global("sub_mchid = \"1900000209\"\nsub_appid = \"wx0000000000000002\"");
    let s = load_text(&text, false).unwrap();
    assert!(s.wechatpay.is_sub_merchant());
    assert_eq!(s.wechatpay.sub_appid, "wx0000000000000002");
}

#[test]
fn a_sub_merchant_id_is_digits_and_not_the_providers() {
    for (line, key, what) in [
        (
            "sub_mchid = \"19000002x9\"",
            "wechatpay.sub_mchid",
            "is not a WeChat Pay merchant ID",
        ),
        (
            "sub_mchid = \"1900000209&mchid=1\"",
            "wechatpay.sub_mchid",
            "is not a WeChat Pay merchant ID",
        ),
        (
            "sub_mchid = \"1900000209\"\nsub_appid = \"wx-1\"",
            "wechatpay.sub_appid",
            "is not an AppID",
        ),
    ] {
        let err = error_of(&merchant_with(line), false);
        assert_invalid(&err, key, what);
    }
    let mchid = load_text(MERCHANT, false).unwrap().wechatpay.mchid;
    let err = error_of(&merchant_with(&format!("sub_mchid = \"{mchid}\"")), false);
    assert_invalid(
        &err,
        "wechatpay.sub_mchid",
        "is the same as wechatpay.mchid",
    );
}

#[test]
fn a_global_merchant_never_closes_younger_than_five_minutes() {
    let err = error_of(&global("close_min_age = \"10s\""), false);
    assert_invalid(&err, "wechatpay.close_min_age", "too short");
    assert!(load_text(&global("close_min_age = \"5m\""), false).is_ok());
    assert!(
        load_text(&merchant_with("close_min_age = \"10s\""), false).is_ok(),
        "mainland: as before"
    );
}

#[test]
fn a_live_merchant_never_asks_for_refunds_of_one_order_less_than_a_minute_apart() {
    let err = error_of(&merchant_with("refund_spacing = \"30s\""), false);
    assert_invalid(&err, "wechatpay.refund_spacing", "too short");
    assert!(load_text(&merchant_with("refund_spacing = \"2m\""), false).is_ok());
    let simulator = "api_base = \"http://127.0.0.1:9\"\nbackup_api_base = \"\"\n\
                     refund_spacing = \"300ms\"";
    assert!(
        load_text(&merchant_with(simulator), false).is_ok(),
        "a simulator's rule"
    );
    // WeChat Pay's backup host is still the default one: not only a simulator.
    let tunnel = "api_base = \"http://127.0.0.1:9\"\nrefund_spacing = \"300ms\"";
    let err = error_of(&merchant_with(tunnel), false);
    assert_invalid(&err, "wechatpay.refund_spacing", "too short");
    let s = load_text("[wechatpay]\nrefund_spacing = \"0s\"", true).unwrap();
    assert!(
        s.wechatpay.refund_spacing.is_zero(),
        "the sandbox spaces nothing"
    );
}

#[test]
fn the_notification_listener_is_off_an_address_or_a_unix_socket() {
    use crate::config::NotifyListen;
    let listen = |value: &str| {
        load_text(&format!("[notify]\nlisten = \"{value}\"\n"), true).map(|s| s.notify.listen)
    };
    assert_eq!(listen("").unwrap(), NotifyListen::Off);
    assert_eq!(
        listen("127.0.0.1:8088").unwrap(),
        NotifyListen::Tcp("127.0.0.1:8088".into())
    );
    assert_eq!(
        listen("unix:/run/wxprint/notify.sock").unwrap(),
        NotifyListen::Unix("/run/wxprint/notify.sock".into())
    );
    for (value, what) in [
        ("127.0.0.1", "not host:port or unix:PATH"),
        ("http://0.0.0.0:80", "not host:port or unix:PATH"),
        ("unix:notify.sock", "needs an absolute path"),
    ] {
        let err = error_of(&format!("[notify]\nlisten = \"{value}\"\n"), true);
        assert_invalid(&err, "notify.listen", what);
    }
    for path in ["notify", "/notify?x=1", "/a b"] {
        let err = error_of(&format!("[notify]\npath = \"{path}\"\n"), true);
        assert_invalid(&err, "notify.path", "not an absolute request path");
    }
    let s = load_text("[notify]\n", true).unwrap();
    assert_eq!(s.notify.path, "/wechatpay/notify");
}
