//! The CLI's verdicts, with the real `wxprint` binary against a sandbox daemon and the
//! virtual printer: `printer` exits non-zero when receipts cannot print, `watch` names the
//! order on every line, `render` refuses what is not ESC/POS and takes the configured
//! profile's width, and an out-of-range `time_expire` is refused.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/virtual_printer/mod.rs"]
mod virtual_printer;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use virtual_printer::{Link, Paper, PrinterState, VirtualPrinter};

use bin::{Daemon, WXPRINT, sandbox_config as config, serve, wxprint};

fn printer_verdict(printer: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), printer);
    let _daemon = serve(dir.path(), &config);
    wxprint(
        dir.path(),
        &["--config", config.to_str().unwrap(), "printer"],
    )
}

#[test]
fn printer_exits_5_when_receipts_cannot_print() {
    let ready = VirtualPrinter::start(Link::Tcp);
    let tcp = |vp: &VirtualPrinter| format!("transport = \"tcp\"\naddress = \"{}\"", vp.address());
    let out = printer_verdict(&tcp(&ready));
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let paper_out = VirtualPrinter::start_with(
        Link::Tcp,
        PrinterState {
            paper: Paper::Out,
            ..PrinterState::default()
        },
    );
    let out = printer_verdict(&tcp(&paper_out));
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("out of paper"), "{err}");

    // Nothing listens on port 1: unreachable.
    let out = printer_verdict("transport = \"tcp\"\naddress = \"127.0.0.1:1\"");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn watch_lines_name_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let receipts = dir.path().join("receipts");
    let printer = format!("transport = \"file\"\ndevice = \"{}\"", receipts.display());
    let config = config(dir.path(), &printer);
    let config = config.to_str().unwrap();
    let _daemon = serve(dir.path(), Path::new(config));
    let mut watch = Daemon(
        Command::new(WXPRINT)
            .args(["--config", config, "watch"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = watch_lines(watch.0.stdout.take().unwrap());
    let checkout = |no: &str| {
        let args = ["--config", config, "checkout", "--out-trade-no", no];
        let rest = ["--total", "100", "--description", "Tea", "--no-follow"];
        let out = wxprint(dir.path(), &[&args[..], &rest[..]].concat());
        assert!(out.status.success(), "{out:?}");
    };
    // The watch says nothing until an event: warm-up orders until it has seen one.
    const WARM_UP: &str = "W2026112607";
    let mut seen = Vec::new();
    let start = std::time::Instant::now();
    for n in 1.. {
        assert!(start.elapsed() < Duration::from_secs(20), "no watch line");
        checkout(&format!("{WARM_UP}{n}"));
        match lines.recv_timeout(Duration::from_secs(2)) {
            Ok(line) => {
                seen.push(line);
                break;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("the watch exited"),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
    let no = "T20261126077";
    checkout(no);
    while !seen
        .iter()
        .any(|l| l.starts_with("printed") && l.contains(no))
    {
        let line = lines.recv_timeout(Duration::from_secs(20));
        seen.push(line.expect("a watch line within 20 s"));
    }
    // Every line names its order: the warm-up's or this one.
    for line in &seen {
        assert!(
            line.contains(no) || line.contains(WARM_UP),
            "{line}\n{seen:?}"
        );
    }
    let code_url = seen
        .iter()
        .find(|l| l.starts_with("code_url") && l.contains(no))
        .unwrap();
    assert!(
        code_url.starts_with(&format!("code_url   {no} weixin://")),
        "{code_url}"
    );
}

#[test]
fn render_refuses_text_and_takes_the_profiles_width() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cargo_toml = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let out = wxprint(d, &["render", cargo_toml.to_str().unwrap(), "-o", "x.png"]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Cargo.toml") && err.contains("not an ESC/POS byte stream"),
        "{err}"
    );
    assert!(!d.join("x.png").exists());

    let receipt = d.join("r.bin");
    std::fs::write(&receipt, b"\x1b@Hello\n\x1dV\x00").unwrap();
    let receipt = receipt.to_str().unwrap();
    let config = config(
        d,
        "transport = \"file\"\ndevice = \"./receipts\"\nprofile = \"58mm\"",
    );
    let config = config.to_str().unwrap();
    let rendered = |args: &[&str]| {
        let out = wxprint(d, &[&["render", receipt, "-o", "r.png"], args].concat());
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(rendered(&["--config", config]).contains("(384×"));
    let flag = rendered(&["--config", config, "--width", "512"]);
    assert!(flag.contains("(512×"), "{flag}");
}

/// The lines `wxprint watch` prints, read on a thread so that a test can wait for one with
/// a deadline (a missing line fails the test instead of hanging it).
fn watch_lines(stdout: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    lines
}
