//! `wxprint check-config` tells the truth: the real binary on configs with the mistakes a
//! technician makes at a register (a missing printer device node, a mistyped `WXPRINT_*`
//! variable, WeChat Pay's documentation samples left in, key files that are not private).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/bin.rs"]
mod bin;

use bin::{WXPRINT, sandbox_config};

/// `wxprint check-config --config FILE` with the given extra environment.
fn check_config(config: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(WXPRINT)
        .args(["check-config", "--config", config.to_str().unwrap()])
        .env_remove("WXPRINT_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run wxprint")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_printer_device_is_named() {
    let dir = tempfile::tempdir().unwrap();
    for transport in ["serial", "usb"] {
        let config = sandbox_config(
            dir.path(),
            &format!("transport = \"{transport}\"\ndevice = \"/dev/wxprint-no-such-printer\""),
        );
        let out = check_config(&config, &[]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{transport}: {out:?}");
        assert!(
            err.contains("/dev/wxprint-no-such-printer") && err.contains("does not exist"),
            "{transport}: {err}"
        );
        assert!(
            err.contains("wxprint printers") && err.contains("udev"),
            "{err}"
        );
    }

    // An existing node is fine (as root) or named as not accessible (as anyone else).
    let config = sandbox_config(dir.path(), "transport = \"serial\"\ndevice = \"/dev/null\"");
    let out = check_config(&config, &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("printer device /dev/null: exists"));

    // Not a device node's business with tcp or file printers.
    let config = sandbox_config(
        dir.path(),
        "transport = \"tcp\"\naddress = \"printer.local:9100\"",
    );
    assert!(check_config(&config, &[]).status.success());
}

#[test]
fn unknown_wxprint_variables_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let config = sandbox_config(dir.path(), "transport = \"file\"\ndevice = \"receipts\"");
    let out = check_config(
        &config,
        &[
            ("WXPRINT_PRINTER_BAUD_RATE", "9600"),
            ("WXPRINT_CONFIG", "/elsewhere.toml"),
        ],
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        err.contains("WXPRINT_PRINTER_BAUD_RATE is not a wxprint variable")
            && err.contains("did you mean WXPRINT_PRINTER__BAUD_RATE?"),
        "{err}"
    );
    assert!(!err.contains("WXPRINT_CONFIG is"), "{err}");
    assert!(
        check_config(&config, &[("WXPRINT_CONFIG", "/x.toml")])
            .status
            .success()
    );

    // The daemon warns at start too (in its log).
    let mut daemon = Command::new(WXPRINT)
        .args(["serve", "--sandbox"])
        .current_dir(dir.path())
        .env_remove("WXPRINT_CONFIG")
        .env("WXPRINT_PRINTER_BAUD_RATE", "9600")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !dir.path().join("wxprint.sock").exists() && start.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    daemon.kill().unwrap();
    let out = daemon.wait_with_output().unwrap();
    let log = stderr(&out);
    assert!(
        log.contains("WXPRINT_PRINTER_BAUD_RATE") && log.contains("WXPRINT_PRINTER__BAUD_RATE"),
        "{log}"
    );
}

#[test]
fn documentation_samples_are_named() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = check_config(&root.join("config/wxprint.toml"), &[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{out:?}");
    for (key, value) in [
        ("appid", "wxd678efh567hg6787"),
        ("mchid", "1230000109"),
        (
            "merchant_serial_no",
            "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        ),
        (
            "public_key_id",
            "PUB_KEY_ID_0112340000000000000000000000000000",
        ),
    ] {
        let line =
            format!("wechatpay.{key}: \"{value}\" is a sample from WeChat Pay's documentation");
        assert!(err.contains(&line), "{key}: {err}");
    }
}

/// A WeChat Pay config in `dir` (not the documentation's ids), file printer, with the
/// given `[wechatpay]` key-file lines.
fn merchant_config(dir: &Path, key_lines: &str) -> PathBuf {
    let path = dir.join("merchant.toml");
    let text = format!(
        "[daemon]\nsocket = \"{0}/wxprint.sock\"\nstate_dir = \"{0}/state\"\n\
         [wechatpay]\nbackend = \"wechatpay\"\napi_base = \"https://api.mch.weixin.qq.com\"\n\
         appid = \"wx1234567890abcdef\"\nmchid = \"1600123456\"\n\
         merchant_serial_no = \"7D3A1F0E5C2B4A6978E1D0C3B2A1F0E9D8C7B6A5\"\n\
         notify_url = \"https://shop.test/notify\"\n{key_lines}\n\
         [printer]\ntransport = \"file\"\ndevice = \"{0}/receipts\"\n",
        dir.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// A fixture key copied to `dir/name` with `mode`.
fn key_file(dir: &Path, fixture: &str, name: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/wechatpay")
        .join(fixture);
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
    to
}

#[test]
fn key_file_problems_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    let apiv3 = dir.path().join("apiv3.key");
    std::fs::write(&apiv3, "too short").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&apiv3, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let lines = format!(
        "private_key_file = \"{0}/no-such-key.pem\"\n\
         public_key_id = \"PUB_KEY_ID_0116123456789012345678901234567890\"\n\
         public_key_file = \"{0}/no-such-pub.pem\"\napiv3_key_file = \"{1}\"",
        dir.path().display(),
        apiv3.display()
    );
    let out = check_config(&merchant_config(dir.path(), &lines), &[]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{out:?}");
    for part in [
        "no-such-key.pem",
        "no-such-pub.pem",
        "exactly 32 bytes, found 9",
    ] {
        assert!(err.contains(part), "{part}: {err}");
    }

    // All good: the fixture keys, private.
    let lines = format!(
        "private_key_file = \"{}\"\n\
         public_key_id = \"PUB_KEY_ID_0116123456789012345678901234567890\"\n\
         public_key_file = \"{}\"",
        key_file(dir.path(), "merchant_key.pem", "key.pem", 0o600).display(),
        key_file(dir.path(), "platform_pub.pem", "pub.pem", 0o644).display(),
    );
    let out = check_config(&merchant_config(dir.path(), &lines), &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("# key files: ok"));
}

/// 0600, or 0640 with the daemon's own group: accepted; others, or another group: refused,
/// saying which.
#[test]
fn key_file_modes_have_one_story() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let public = key_file(dir.path(), "platform_pub.pem", "pub.pem", 0o644);
    let run = |mode: u32, gid: Option<u32>| {
        let key = key_file(dir.path(), "merchant_key.pem", "key.pem", mode);
        if let Some(gid) = gid {
            std::os::unix::fs::chown(&key, None, Some(gid)).unwrap();
        }
        let lines = format!(
            "private_key_file = \"{}\"\n\
             public_key_id = \"PUB_KEY_ID_0116123456789012345678901234567890\"\n\
             public_key_file = \"{}\"",
            key.display(),
            public.display()
        );
        check_config(&merchant_config(dir.path(), &lines), &[])
    };
    // A new file gets this process's (the daemon's, when it runs) effective group.
    let own_gid = std::fs::metadata(dir.path()).unwrap().gid();
    for mode in [0o600, 0o640] {
        let out = run(mode, Some(own_gid));
        assert!(out.status.success(), "{mode:o}: {out:?}");
    }
    let err = stderr(&run(0o644, None));
    assert!(
        err.contains("open to others") && err.contains("chmod 600"),
        "{err}"
    );
    // Another group: only root may give the file one it is not in.
    let other = own_gid + 4242;
    let key = key_file(dir.path(), "merchant_key.pem", "probe.pem", 0o600);
    if std::os::unix::fs::chown(&key, None, Some(other)).is_ok() {
        let out = run(0o640, Some(other));
        let err = stderr(&out);
        assert!(!out.status.success());
        assert!(
            err.contains(&format!(
                "readable by group {other}, which is not the daemon's group"
            )),
            "{err}"
        );
    }
}
