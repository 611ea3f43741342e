//! Tests of the key table: the defaults it gives, a file setting every key, the effective
//! TOML printed back, and the example configs of the repository held to the table.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{KEYS, SECRET_KEYS, Shown, toml_string};
use crate::config::region_defaults::region_default;
use crate::config::testing::{MERCHANT, assert_invalid, load_text};
use crate::config::{
    Backend, DaemonSettings, DrawerLevel, FlowControl, MetricsSettings, NotifyListen,
    NotifySettings, PollSchedule, PrinterSettings, QrMode, ReceiptSettings, Region, Settings,
    TextEncoding, Transport, WechatPaySettings,
};
use crate::escpos::{DrawerPin, DrawerPulse};
use crate::money::Currency;

/// Every key's production default, in its typed form.
#[test]
fn production_defaults_of_every_key() {
    let s = Settings::default();
    assert_eq!(s, Settings::production_defaults());
    assert_eq!(s.daemon.socket, Path::new("/run/wxprint/wxprint.sock"));
    assert_eq!(s.daemon.state_dir, Path::new("/var/lib/wxprint"));
    let w = &s.wechatpay;
    assert_eq!(w.backend, Backend::WechatPay);
    assert_eq!(w.region, Region::Mainland);
    assert_eq!(w.currency, Currency::CNY);
    assert!(w.merchant_category_code.is_empty());
    assert!(w.sub_mchid.is_empty() && w.sub_appid.is_empty() && !w.is_sub_merchant());
    assert_eq!(w.api_base, "https://api.mch.weixin.qq.com");
    assert_eq!(w.backup_api_base, "https://api2.mch.weixin.qq.com");
    assert_eq!(w.ca_file, None);
    assert_eq!(w.apiv3_key_file, None);
    assert!(w.appid.is_empty() && w.mchid.is_empty() && w.merchant_serial_no.is_empty());
    assert!(w.public_key_id.is_empty() && w.notify_url.is_empty());
    assert_eq!(
        w.private_key_file,
        Path::new("/etc/wxprint/apiclient_key.pem")
    );
    assert_eq!(
        w.public_key_file,
        Path::new("/etc/wxprint/wechatpay_pub.pem")
    );
    assert_eq!(w.order_ttl, Duration::from_secs(600));
    assert_eq!(w.close_min_age, Duration::from_secs(300));
    assert_eq!(w.request_timeout, Duration::from_secs(10));
    assert_eq!(w.place_timeout, Duration::from_secs(30));
    assert_eq!(
        w.poll,
        PollSchedule {
            fast: Duration::from_secs(1),
            fast_window: Duration::from_secs(60),
            paying: Duration::from_secs(1),
            slow: Duration::from_secs(10),
        }
    );
    let p = &s.printer;
    assert_eq!(p.transport, Transport::Serial);
    assert_eq!(p.device, Path::new("/dev/wxprint-printer"));
    assert_eq!(p.address, "");
    assert_eq!(p.baud_rate, 115200);
    assert_eq!(p.flow_control, FlowControl::Hardware);
    assert_eq!(p.profile, "80mm");
    assert_eq!(p.qr, QrMode::Auto);
    assert_eq!(p.encoding, TextEncoding::Auto);
    assert_eq!(p.print_timeout, Duration::from_secs(600));
    assert_eq!(p.drawer_pulse, DrawerPulse::default(), "ESC p 0 25 250");
    assert_eq!(p.drawer_open_level, DrawerLevel::Low);
    assert_eq!(s.receipt, ReceiptSettings::default());
    // Metrics are off: nothing served, nothing written.
    let m = &s.metrics;
    assert_eq!((&m.listen, &m.textfile), (&NotifyListen::Off, &None));
    assert_eq!(m.interval, Duration::from_secs(15));
    assert!(!m.is_on());
}

#[test]
fn production_defaults_need_the_merchant_keys() {
    let err = Settings::load_with_env(None, false, &[]).unwrap_err();
    for key in [
        "wechatpay.appid",
        "wechatpay.mchid",
        "wechatpay.merchant_serial_no",
        "wechatpay.public_key_id",
        "wechatpay.notify_url",
    ] {
        assert_invalid(&err, key, "required with backend \"wechatpay\"");
    }
    assert_eq!(err.errors().len(), 5, "{err}");

    // With them, the defaults load unchanged otherwise.
    let s = load_text(MERCHANT, false).unwrap();
    let mut expected = Settings::production_defaults();
    expected.wechatpay.appid = "wxd678efh567hg6787".into();
    expected.wechatpay.mchid = "1230000109".into();
    expected.wechatpay.merchant_serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into();
    expected.wechatpay.public_key_id = "PUB_KEY_ID_0112340000000000000000000000000000".into();
    expected.wechatpay.notify_url = "https://merchant.example/wechatpay/notify".into();
    assert_eq!(s, expected);
}

#[test]
fn sandbox_defaults() {
    let s = Settings::sandbox_defaults();
    assert_eq!(s.daemon.socket, Path::new("./wxprint.sock"));
    assert_eq!(s.daemon.state_dir, Path::new("./state"));
    assert_eq!(s.wechatpay.backend, Backend::Sandbox);
    assert_eq!(s.wechatpay.order_ttl, Duration::from_secs(600));
    assert_eq!(s.wechatpay.close_min_age, Duration::from_secs(10));
    assert_eq!(s.wechatpay.api_base, "https://api.mch.weixin.qq.com");
    assert_eq!(
        s.wechatpay.private_key_file,
        Path::new("/etc/wxprint/apiclient_key.pem")
    );
    assert_eq!(s.wechatpay.poll, PollSchedule::default());
    assert_eq!(s.printer.transport, Transport::File);
    assert_eq!(s.printer.device, Path::new("./receipts"));
    assert_eq!(s.printer.profile, "80mm");
    assert_eq!(s.printer.qr, QrMode::Raster);
    assert_eq!(s.receipt.title, "wxprint sandbox");
    assert_eq!(s.receipt.footer, "Thank you!");
    // They are valid as they are: `serve --sandbox` needs no file.
    assert_eq!(Settings::load_with_env(None, true, &[]).unwrap(), s);
}

const FULL: &str = r#"
    [daemon]
    socket = "/tmp/x/pos.sock"
    state_dir = "/tmp/x/state"
    keep_finished = "90days"

    [wechatpay]
    backend = "wechatpay"
    region = "Global"
    api_base = "http://127.0.0.1:18080/"
    backup_api_base = "http://[::1]:18081"
    ca_file = "/tmp/x/ca.pem"
    appid = "wx0000000000000001"
    mchid = "1900000109"
    sub_mchid = "1900000209"
    sub_appid = "wx0000000000000002"
    merchant_serial_no = "ABCDEF"
    private_key_file = "/tmp/x/key.pem"
    public_key_id = "PUB_KEY_ID_42"
    public_key_file = "/tmp/x/pub.pem"
    apiv3_key_file = "/tmp/x/apiv3.key"
    notify_url = "https://shop.example/notify"
    currency = "hkd"
    merchant_category_code = "5812"
    order_ttl = "1h 30m"
    close_min_age = "5m"
    refund_spacing = "1m 30s"
    request_timeout = "3s"
    place_timeout = "45s"
    poll_interval = "500ms"
    poll_fast_window = "2m"
    poll_interval_paying = "250ms"
    poll_interval_slow = "30s"
    query_rate = 25

    [printer]
    transport = "tcp"
    device = ""
    address = "printer.local:9100"
    baud_rate = 9600
    flow_control = "software"
    profile = "58mm"
    qr = "native"
    encoding = "GB18030"
    print_timeout = "1m"
    drawer_on_ms = 20
    drawer_off_ms = 100
    drawer_open_level = "high"

    [receipt]
    title = "Shop \"Ming\""
    footer = "谢谢惠顾"
    paid_slip = true

    [notify]
    listen = "unix:/run/wxprint/notify.sock"
    path = "/pay/notify"

    [metrics]
    listen = "127.0.0.1:9464"
    textfile = "/var/lib/node_exporter/textfile_collector/wxprint.prom"
    interval = "1m"
"#;

fn full_settings() -> Settings {
    Settings {
        daemon: DaemonSettings {
            socket: "/tmp/x/pos.sock".into(),
            state_dir: "/tmp/x/state".into(),
            keep_finished: Duration::from_secs(90 * 24 * 3600),
        },
        wechatpay: WechatPaySettings {
            backend: Backend::WechatPay,
            region: Region::Global,
            api_base: "http://127.0.0.1:18080".into(),
            backup_api_base: "http://[::1]:18081".into(),
            ca_file: Some("/tmp/x/ca.pem".into()),
            appid: "wx0000000000000001".into(),
            mchid: "1900000109".into(),
            sub_mchid: "1900000209".into(),
            sub_appid: "wx0000000000000002".into(),
            merchant_serial_no: "ABCDEF".into(),
            private_key_file: "/tmp/x/key.pem".into(),
            public_key_id: "PUB_KEY_ID_42".into(),
            public_key_file: "/tmp/x/pub.pem".into(),
            apiv3_key_file: Some("/tmp/x/apiv3.key".into()),
            notify_url: "https://shop.example/notify".into(),
            currency: Currency::new("HKD"),
            merchant_category_code: "5812".into(),
            order_ttl: Duration::from_secs(90 * 60),
            close_min_age: Duration::from_secs(300),
            refund_spacing: Duration::from_secs(90),
            request_timeout: Duration::from_secs(3),
            place_timeout: Duration::from_secs(45),
            poll: PollSchedule {
                fast: Duration::from_millis(500),
                fast_window: Duration::from_secs(120),
                paying: Duration::from_millis(250),
                slow: Duration::from_secs(30),
            },
            query_rate: 25,
        },
        printer: PrinterSettings {
            transport: Transport::Tcp,
            device: PathBuf::new(),
            address: "printer.local:9100".into(),
            baud_rate: 9600,
            flow_control: FlowControl::Software,
            profile: "58mm".into(),
            qr: QrMode::Native,
            encoding: TextEncoding::Gb18030,
            print_timeout: Duration::from_secs(60),
            drawer_pulse: DrawerPulse::new(DrawerPin::Pin2, 20, 100).unwrap(),
            drawer_open_level: DrawerLevel::High,
        },
        receipt: ReceiptSettings {
            title: "Shop \"Ming\"".into(),
            footer: "谢谢惠顾".into(),
            paid_slip: true,
        },
        notify: NotifySettings {
            listen: NotifyListen::Unix("/run/wxprint/notify.sock".into()),
            path: "/pay/notify".into(),
        },
        metrics: MetricsSettings {
            listen: NotifyListen::Tcp("127.0.0.1:9464".into()),
            textfile: Some("/var/lib/node_exporter/textfile_collector/wxprint.prom".into()),
            interval: Duration::from_secs(60),
        },
    }
}

#[test]
fn a_file_overrides_every_key() {
    let expected = full_settings();
    assert_eq!(load_text(FULL, false).unwrap(), expected);
    // The defaults under it do not matter when the file sets every key.
    assert_eq!(load_text(FULL, true).unwrap(), expected);
    // FULL really sets every key.
    let keys = KEYS.len();
    let set = FULL.lines().filter(|l| l.contains(" = ")).count();
    assert_eq!(set, keys);
}

#[test]
fn effective_toml_has_every_key_and_loads_back() {
    let settings = full_settings();
    let text = settings.effective_toml();
    assert_eq!(text, settings.to_string());
    for key in KEYS {
        assert!(
            text.contains(&format!("\n{} = ", key.name))
                || text.starts_with(&format!("{} = ", key.name)),
            "{} missing:\n{text}",
            key.name
        );
    }
    assert!(text.contains("[printer]\n"));
    assert!(text.contains("order_ttl = \"1h 30m\"\n"));
    assert!(text.contains("baud_rate = 9600\n"));
    assert!(text.contains("title = \"Shop \\\"Ming\\\"\"\n"));
    assert!(text.contains("private_key_file = \"/tmp/x/key.pem\"\n"));
    assert_eq!(load_text(&text, false).unwrap(), settings);

    let defaults = Settings::sandbox_defaults();
    assert!(
        defaults
            .effective_toml()
            .contains("close_min_age = \"10s\"\n")
    );
    assert!(defaults.effective_toml().contains("ca_file = \"\"\n"));
    assert_eq!(
        load_text(&defaults.effective_toml(), true).unwrap(),
        defaults
    );
}

#[test]
fn secrets_are_redacted() {
    let text = full_settings().render_toml(|key| key == "wechatpay.mchid");
    assert!(text.contains("mchid = \"<redacted>\"\n"), "{text}");
    assert!(!text.contains("1900000109"));
    // No key is secret so far.
    assert!(SECRET_KEYS.is_empty());
    assert!(full_settings().effective_toml().contains("1900000109"));
}

/// An example config of the repository, `config/<name>`.
fn repo_config(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

#[test]
fn repository_configs_load() {
    let example = repo_config("wxprint.toml");
    let s = Settings::load_with_env(Some(&example), false, &[]).unwrap();
    assert_eq!(s.wechatpay.backend, Backend::WechatPay);
    // The installed config edited to region "global" talks to Global's hosts.
    let env = [
        ("WXPRINT_WECHATPAY__REGION", "global"),
        ("WXPRINT_WECHATPAY__CURRENCY", "HKD"),
        ("WXPRINT_WECHATPAY__MERCHANT_CATEGORY_CODE", "5812"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let s = Settings::load_with_env(Some(&example), false, &env).unwrap();
    assert_eq!(s.wechatpay.api_base, "https://apihk.mch.weixin.qq.com");
    assert_eq!(s.wechatpay.backup_api_base, "https://api.mch.weixin.qq.com");

    let sandbox = repo_config("sandbox.toml");
    let s = Settings::load_with_env(Some(&sandbox), false, &[]).unwrap();
    assert_eq!(s.wechatpay.backend, Backend::Sandbox);
    assert_eq!(s.daemon.socket, Path::new("./wxprint.sock"));
    assert_eq!(s.daemon.state_dir, Path::new("./state"));
    assert_eq!(s.printer.transport, Transport::File);
    assert_eq!(s.printer.device, Path::new("./receipts"));
    // "`wxprint serve --sandbox` without a config file uses the same settings."
    assert_eq!(s, Settings::sandbox_defaults());
}

#[test]
fn the_example_config_of_every_merchant_kind_loads() {
    // (file, region, currency, sub-merchant): what the README's table promises.
    let kinds = [
        ("mainland-direct.toml", Region::Mainland, "CNY", false),
        ("mainland-partner.toml", Region::Mainland, "CNY", true),
        ("global-common.toml", Region::Global, "HKD", false),
        ("global-institutional.toml", Region::Global, "JPY", true),
        ("sandbox-global.toml", Region::Global, "HKD", false),
    ];
    for (file, region, currency, sub) in kinds {
        let path = repo_config(&format!("examples/{file}"));
        // The examples' placeholder ids are refused on purpose; a technician's real one:
        let env = [(
            "WXPRINT_WECHATPAY__SUB_MCHID".to_owned(),
            "1900000209".to_owned(),
        )];
        let env = if sub { &env[..] } else { &[] };
        let s = Settings::load_with_env(Some(&path), false, env)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let w = &s.wechatpay;
        assert_eq!(w.region, region, "{file}");
        assert_eq!(w.currency, Currency::new(currency), "{file}");
        assert_eq!(w.is_sub_merchant(), sub, "{file}");
    }
}

/// One `key = value` line of an example config with the comment lines right above it.
struct Documented {
    dotted: String,
    comment: String,
}

/// The keys set in `text` (a TOML file), each with the paragraph of comment lines right
/// above it joined into one line.
fn documented_keys(text: &str) -> Vec<Documented> {
    let mut found = Vec::new();
    let mut section = "";
    let mut comment: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        // A key whose default depends on the region is shown commented out (set, it would
        // pin one region's host whatever `region` says).
        let commented_key = line
            .strip_prefix("# ")
            .and_then(|l| l.split_once(" = "))
            .map(|(key, _)| format!("{section}.{key}"))
            .filter(|dotted| region_default(dotted, Region::Mainland).is_some());
        if let Some(dotted) = commented_key {
            found.push(Documented {
                dotted,
                comment: comment.join(" "),
            });
            comment.clear();
            continue;
        }
        if let Some(rest) = line.strip_prefix('#').map(str::trim) {
            // A `#` line alone ends a paragraph about several keys.
            if rest.is_empty() {
                comment.clear();
            } else {
                comment.push(rest);
            }
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name;
        } else if let Some((key, _)) = line.split_once(" = ") {
            found.push(Documented {
                dotted: format!("{section}.{key}"),
                comment: comment.join(" "),
            });
        }
        comment.clear();
    }
    found
}

/// `config/wxprint.toml` is where keys are documented: it sets every key of the table once,
/// in its section and in the table's order (no unknown keys, none missing), and each key's
/// comment starts with the table's one-line doc and gives the production default.
#[test]
fn example_config_documents_every_key() {
    let example = repo_config("wxprint.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    let documented = documented_keys(&text);
    let keys: Vec<String> = KEYS.iter().map(|key| key.dotted()).collect();
    let set: Vec<&str> = documented.iter().map(|d| d.dotted.as_str()).collect();
    assert_eq!(set, keys, "the keys of {}", example.display());

    let defaults = Settings::production_defaults();
    for (key, doc) in KEYS.iter().zip(&documented) {
        assert!(
            doc.comment.starts_with(key.doc),
            "{}: the comment should start with {:?}:\n{}",
            doc.dotted,
            key.doc,
            doc.comment
        );
        let default = match (key.show)(&defaults) {
            Shown::Integer(_) | Shown::Bool(_) => key.production.to_string(),
            Shown::Text(_) => toml_string(key.production),
        };
        assert!(
            doc.comment.contains(&format!("Default: {default}")),
            "{}: the comment should say \"Default: {default}\":\n{}",
            doc.dotted,
            doc.comment
        );
    }
    let profile = documented.iter().find(|d| d.dotted == "printer.profile");
    for name in crate::printer::profile::PROFILES.iter().map(|p| p.name) {
        let quoted = format!("{name:?}");
        assert!(
            profile.is_some_and(|d| d.comment.contains(&quoted)),
            "{name}"
        );
    }
}
