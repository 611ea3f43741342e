//! Known answers of validation: each bad value names its key, the value and the expected
//! form; what backend `wechatpay` requires; and what `printer.encoding` does to the bytes.

use crate::config::testing::{MERCHANT, assert_invalid, error_of, load_text, merchant_with};
use crate::config::{Backend, Settings, TextEncoding};

/// Each bad value, loaded over the sandbox defaults: `(file, key, part of the message)`.
const BAD_VALUES: &[(&str, &str, &str)] = &[
    // Durations.
    (
        "[wechatpay]\norder_ttl = \"10\"",
        "wechatpay.order_ttl",
        "not a duration (got \"10\"); expected a duration such as",
    ),
    (
        "[wechatpay]\norder_ttl = \"30s\"",
        "wechatpay.order_ttl",
        "too short (got \"30s\"); expected from 1m to 2h",
    ),
    (
        "[wechatpay]\norder_ttl = \"2h 1s\"",
        "wechatpay.order_ttl",
        "too long",
    ),
    (
        "[wechatpay]\nrequest_timeout = \"0s\"",
        "wechatpay.request_timeout",
        "zero",
    ),
    (
        "[wechatpay]\nclose_min_age = \"soon\"",
        "wechatpay.close_min_age",
        "not a duration",
    ),
    (
        "[wechatpay]\npoll_interval = \"0s\"",
        "wechatpay.poll_interval",
        "zero",
    ),
    (
        "[wechatpay]\npoll_fast_window = \"0s\"",
        "wechatpay.poll_fast_window",
        "zero",
    ),
    (
        "[wechatpay]\npoll_interval_paying = \"0ms\"",
        "wechatpay.poll_interval_paying",
        "zero",
    ),
    (
        "[wechatpay]\npoll_interval_slow = \"x\"",
        "wechatpay.poll_interval_slow",
        "not a duration",
    ),
    (
        "[printer]\nprint_timeout = \"0s\"",
        "printer.print_timeout",
        "zero",
    ),
    // Booleans.
    (
        "[receipt]\npaid_slip = \"yes\"",
        "receipt.paid_slip",
        "not a boolean (got \"yes\"); expected true or false",
    ),
    // Choices.
    (
        "[wechatpay]\nbackend = \"alipay\"",
        "wechatpay.backend",
        "unknown value (got \"alipay\"); expected one of wechatpay, sandbox",
    ),
    (
        "[printer]\ntransport = \"bluetooth\"",
        "printer.transport",
        "expected one of serial, usb, tcp, file",
    ),
    (
        "[printer]\nflow_control = \"rts\"",
        "printer.flow_control",
        "expected one of hardware, software, none",
    ),
    (
        "[printer]\nqr = \"ascii\"",
        "printer.qr",
        "expected one of auto, native, raster",
    ),
    ("[printer]\nprofile = \" \"", "printer.profile", "empty"),
    (
        "[printer]\nencoding = \"utf-8\"",
        "printer.encoding",
        "unsupported encoding (got \"utf-8\"); expected \"gb18030\"",
    ),
    (
        "[printer]\nbaud_rate = 9601",
        "printer.baud_rate",
        "not a standard baud rate (got \"9601\"); expected one of 1200, 2400",
    ),
    (
        "[printer]\nbaud_rate = \"fast\"",
        "printer.baud_rate",
        "not an integer",
    ),
    // The cash drawer: a pulse over 20 % duty (python-escpos's 100/100), times the printer
    // cannot count, and the sensor's polarity.
    (
        "[printer]\ndrawer_on_ms = 100\ndrawer_off_ms = 100",
        "printer.drawer_off_ms",
        "less than 4 × drawer_on_ms (100 ms): the solenoid would run over the 20 % duty \
         drawers are rated for (got \"100\"); expected at least 400 ms (off ≥ 4 × on), \
         or a shorter drawer_on_ms (at most 24 ms for this off time)",
    ),
    (
        "[printer]\ndrawer_on_ms = 25",
        "printer.drawer_on_ms",
        "an odd number of milliseconds (got \"25\"); expected an even number",
    ),
    (
        "[printer]\ndrawer_off_ms = 600",
        "printer.drawer_off_ms",
        "out of range (got \"600\"); expected a whole number of milliseconds from 1 to 510",
    ),
    (
        "[printer]\ndrawer_open_level = \"open\"",
        "printer.drawer_open_level",
        "expected one of high, low",
    ),
    // URLs.
    (
        "[wechatpay]\napi_base = \"http://api.mch.weixin.qq.com\"",
        "wechatpay.api_base",
        "plain http:// is only allowed for loopback hosts",
    ),
    (
        "[wechatpay]\nbackup_api_base = \"http://10.0.0.1:8080\"",
        "wechatpay.backup_api_base",
        "only allowed for loopback hosts",
    ),
    (
        "[wechatpay]\napi_base = \"ftp://x.example\"",
        "wechatpay.api_base",
        "not an http(s) URL",
    ),
    (
        "[wechatpay]\napi_base = \"api.mch.weixin.qq.com\"",
        "wechatpay.api_base",
        "not an absolute URL",
    ),
    (
        "[wechatpay]\napi_base = \"https://x.example/?a=1\"",
        "wechatpay.api_base",
        "no query",
    ),
    (
        "[wechatpay]\napi_base = \"https://\"",
        "wechatpay.api_base",
        "no valid host",
    ),
    (
        "[wechatpay]\napi_base = \"https://x.example:99999\"",
        "wechatpay.api_base",
        "no valid host",
    ),
    (
        "[wechatpay]\nnotify_url = \"http://m.example/n\"",
        "wechatpay.notify_url",
        "only notifies https://",
    ),
    (
        "[wechatpay]\nnotify_url = \"https://m.example/n?shop=1\"",
        "wechatpay.notify_url",
        "forbids a query string",
    ),
    // Printer transports.
    (
        "[printer]\ntransport = \"tcp\"\naddress = \"printer.local\"",
        "printer.address",
        "transport \"tcp\" needs host:port (got \"printer.local\")",
    ),
    (
        "[printer]\ntransport = \"tcp\"",
        "printer.address",
        "needs host:port (got \"\")",
    ),
    (
        "[printer]\ntransport = \"usb\"\ndevice = \"\"",
        "printer.device",
        "required with transport \"usb\"",
    ),
    (
        "[printer]\ntransport = \"serial\"\ndevice = \"\"",
        "printer.device",
        "required with transport \"serial\"",
    ),
    (
        "[printer]\ntransport = \"file\"\ndevice = \"\"",
        "printer.device",
        "a directory",
    ),
    // Paths.
    ("[daemon]\nsocket = \"\"", "daemon.socket", "empty"),
    ("[daemon]\nstate_dir = \"\"", "daemon.state_dir", "empty"),
    // Public key ID (checked whenever set).
    (
        "[wechatpay]\npublic_key_id = \"0112340000\"",
        "wechatpay.public_key_id",
        "does not start with \"PUB_KEY_ID_\"",
    ),
];

#[test]
fn validation_errors_name_the_key() {
    for (text, key, part) in BAD_VALUES {
        let err = error_of(text, true);
        assert_invalid(&err, key, part);
        assert_eq!(err.errors().len(), 1, "{text}: {err}");
        assert!(err.to_string().starts_with(&format!("{key}: ")), "{err}");
    }
    let long = format!(
        "[wechatpay]\nnotify_url = \"https://m.example/{}\"",
        "n".repeat(250)
    );
    assert_invalid(&error_of(&long, true), "wechatpay.notify_url", "256");
}

#[test]
fn backend_wechatpay_requirements() {
    // Each merchant key set to an empty value in an otherwise valid file.
    for (key, line, part) in [
        (
            "wechatpay.appid",
            "appid = \"\"",
            "required with backend \"wechatpay\"",
        ),
        ("wechatpay.mchid", "mchid = \" \"", "required"),
        (
            "wechatpay.merchant_serial_no",
            "merchant_serial_no = \"\"",
            "required",
        ),
        ("wechatpay.notify_url", "notify_url = \"\"", "required"),
        (
            "wechatpay.public_key_id",
            "public_key_id = \"\"",
            "unless apiv3_key_file is set",
        ),
        (
            "wechatpay.public_key_file",
            "public_key_file = \"\"",
            "empty",
        ),
        (
            "wechatpay.private_key_file",
            "private_key_file = \"\"",
            "empty",
        ),
    ] {
        let err = error_of(&merchant_with(line), false);
        assert_invalid(&err, key, part);
        assert_eq!(err.errors().len(), 1, "{line}: {err}");
    }

    // Certificate mode needs no public key.
    let cert = format!(
        "{}\npublic_key_file = \"\"\napiv3_key_file = \"/etc/wxprint/apiv3.key\"\n",
        MERCHANT.replace("public_key_id", "# public_key_id")
    );
    let s = load_text(&cert, false).unwrap();
    assert_eq!(s.wechatpay.public_key_id, "");

    // The sandbox needs none of it.
    let s = load_text("[wechatpay]\nbackend = \"sandbox\"\nappid = \"\"\n", false).unwrap();
    assert_eq!(s.wechatpay.backend, Backend::Sandbox);
    assert_eq!(s.wechatpay.notify_url, "");
}

/// `printer.encoding` reaches the bytes, through `jobs::layout_for` as the daemon and
/// `test-print` use it: "auto" (the default) keeps each profile's own text mode, "gb18030"
/// and "cp1252" override it.
#[test]
fn printer_encoding_changes_the_receipt_bytes() {
    use crate::printer::profile::PROFILES;
    let layout = |profile: &str, encoding: &str| {
        let text = format!(
            "[printer]\nprofile = \"{profile}\"\nqr = \"auto\"\nencoding = \"{encoding}\"\n"
        );
        crate::jobs::layout_for(&load_text(&text, true).unwrap().printer)
    };
    assert_eq!(
        Settings::production_defaults().printer.encoding,
        TextEncoding::Auto
    );
    for profile in PROFILES {
        let own = profile.layout(profile.auto_qr());
        assert_eq!(layout(profile.name, "auto"), own, "{}", profile.name);
    }

    let page = |profile: &str, encoding: &str| {
        let info = ["微信支付 Café".to_string()];
        crate::receipt::test_page(&info, &layout(profile, encoding))
    };
    let has = |bytes: &[u8], part: &[u8]| bytes.windows(part.len()).any(|w| w == part);
    // FS & and 微信支付 in 2-byte GB18030; ESC t 16 (code page 1252) and é as 0xE9.
    let hanzi: &[u8] = &[0x1C, b'&', 0xCE, 0xA2, 0xD0, 0xC5, 0xD6, 0xA7, 0xB8, 0xB6];
    let code_page: &[u8] = &[0x1B, b't', 16];
    let latin: &[u8] = b"Caf\xE9";

    let epson = page("epson-tm-t88", "auto");
    assert!(has(&epson, code_page) && has(&epson, latin) && !has(&epson, hanzi));
    let epson_chinese = page("epson-tm-t88", "GB18030");
    assert!(has(&epson_chinese, hanzi) && !has(&epson_chinese, code_page));

    let generic = page("80mm", "auto");
    assert!(has(&generic, hanzi) && !has(&generic, code_page));
    assert_eq!(page("80mm", "gb18030"), generic);
    let generic_latin = page("80mm", "cp1252");
    assert!(has(&generic_latin, code_page) && has(&generic_latin, latin));
    assert!(!has(&generic_latin, hanzi));
}

/// `[notify] listen` with the WeChat Pay backend needs the APIv3 key that decrypts the
/// notifications; the message names both keys. The sandbox gets no notifications.
#[test]
fn notify_listen_needs_the_apiv3_key() {
    let listen = format!("{MERCHANT}\n[notify]\nlisten = \"127.0.0.1:8088\"\n");
    let err = error_of(&listen, false);
    assert_invalid(&err, "notify.listen", "wechatpay.apiv3_key_file is not");
    assert_eq!(err.errors().len(), 1, "{err}");
    let with_key = listen.replace(
        "[notify]",
        "apiv3_key_file = \"/etc/wxprint/apiv3.key\"\n[notify]",
    );
    load_text(&with_key, false).unwrap();
    load_text("[notify]\nlisten = \"127.0.0.1:8088\"\n", true).unwrap();
}

/// `[metrics]`: `listen` takes the forms of `notify.listen`; `textfile` must be a `.prom`
/// file by an absolute path (node_exporter reads nothing else); each bad value names its
/// key, the value and the expected form.
#[test]
fn metrics_keys_are_checked() {
    let s = load_text(
        "[metrics]\nlisten = \"unix:/run/wxprint/metrics.sock\"\n\
         textfile = \"/var/lib/node_exporter/textfile_collector/wxprint.prom\"\n\
         interval = \"30s\"",
        true,
    )
    .unwrap();
    let m = &s.metrics;
    assert!(m.is_on());
    assert_eq!(m.listen.to_string(), "unix:/run/wxprint/metrics.sock");
    assert_eq!(m.interval, std::time::Duration::from_secs(30));
    for (file, key, message) in [
        (
            "listen = \"9464\"",
            "metrics.listen",
            "not host:port or unix:PATH (got \"9464\")",
        ),
        (
            "listen = \"unix:metrics.sock\"",
            "metrics.listen",
            "absolute path",
        ),
        (
            "textfile = \"wxprint.prom\"",
            "metrics.textfile",
            "absolute path ending in .prom",
        ),
        (
            "textfile = \"/tmp/wxprint.txt\"",
            "metrics.textfile",
            "only *.prom files",
        ),
        (
            "interval = \"0s\"",
            "metrics.interval",
            "too short (got \"0s\"); expected from 1s to 1h",
        ),
        ("interval = \"2h\"", "metrics.interval", "too long"),
    ] {
        let err = error_of(&format!("[metrics]\n{file}"), true);
        assert_invalid(&err, key, message);
    }
}
