//! The user steps of the README, with the real `wxprint` binary: `serve --sandbox` in an
//! empty directory, `checkout`, `sandbox-pay`, `render`, then SIGTERM.

#[path = "support/bin.rs"]
mod bin;
#[path = "support/qr.rs"]
mod qr;
#[allow(
    unused_imports,
    reason = "the virtual printer's API is shared; this binary uses a part"
)]
#[path = "support/virtual_printer/mod.rs"]
mod virtual_printer;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use bin::{Daemon, WXPRINT, wait_listening, wxprint};

/// Every QR code in a PNG (as `wxprint render` writes it).
fn decode_png_qr(png_bytes: &[u8]) -> Vec<String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    qr::decode_greyscale(w, h, |x, y| buf[y * info.line_size + x])
}

/// `wxprint serve --sandbox` in `dir`, its log on a pipe.
fn serve_sandbox(dir: &Path) -> Daemon {
    Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--sandbox"])
            .current_dir(dir)
            .env_remove("WXPRINT_CONFIG")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Step 2: a checkout prints its events as they arrive. Returns the running command, its
/// output after `printed`, and the code_url it announced.
fn checkout_until_printed(dir: &Path) -> (Child, BufReader<ChildStdout>, String) {
    let mut checkout = Command::new(WXPRINT)
        .args([
            "checkout",
            "--out-trade-no",
            "T20261126001",
            "--total",
            "3200",
        ])
        .args(["--description", "Latte x2"])
        .current_dir(dir)
        .env_remove("WXPRINT_CONFIG")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(checkout.stdout.take().unwrap());
    let mut seen = Vec::new();
    while !seen
        .last()
        .is_some_and(|l: &String| l.starts_with("printed"))
    {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "checkout ended early: {seen:?}"
        );
        seen.push(line.trim_end().to_owned());
    }
    assert!(
        seen[0].starts_with("accepted") && seen[0].contains("T20261126001"),
        "{seen:?}"
    );
    let code_url = seen[1].strip_prefix("code_url").unwrap().trim().to_owned();
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{seen:?}"
    );
    (checkout, out, code_url)
}

/// Step 3: sandbox-pay; the waiting checkout prints `paid` and exits 0.
fn sandbox_pay_ends_the_checkout(dir: &Path, mut checkout: Child, mut out: impl Read) {
    let pay = wxprint(dir, &["sandbox-pay", "T20261126001"]);
    assert!(pay.status.success(), "{pay:?}");
    assert!(String::from_utf8_lossy(&pay.stdout).starts_with("paid"));
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert!(
        rest.starts_with("paid       ￥32.00 transaction 42000"),
        "{rest}"
    );
    assert!(checkout.wait().unwrap().success());
}

/// Step 4: render the receipt; the QR in the PNG is the code_url.
fn rendered_receipt_shows(dir: &Path, code_url: &str) {
    let receipts: Vec<_> = std::fs::read_dir(dir.join("receipts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(receipts.len(), 1);
    let bin = receipts[0].to_str().unwrap();
    let render = wxprint(dir, &["render", bin, "-o", "receipt.png"]);
    assert!(render.status.success(), "{render:?}");
    let png = std::fs::read(dir.join("receipt.png")).unwrap();
    assert_eq!(decode_png_qr(&png), vec![code_url.to_owned()]);
}

/// The other shell commands speak the same protocol.
fn status_commands_report(dir: &Path, code_url: &str) {
    let status = wxprint(dir, &["--json", "status", "T20261126001"]);
    assert!(status.status.success());
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["state"], "paid");
    assert_eq!(status["code_url"], code_url);
    let unknown = wxprint(dir, &["status", "T20261126999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stdout).contains("order_not_found"));
}

/// SIGTERM: a clean stop that removes the socket; the log says where everything is.
fn sigterm_stops_cleanly(dir: &Path, daemon: &mut Daemon) {
    let stopped = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!dir.join("wxprint.sock").exists());
    let mut log = String::new();
    daemon
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    for needle in [
        "wxprint.sock",
        "state/journal.sqlite",
        "file ./receipts",
        "sandbox",
    ] {
        assert!(
            log.contains(needle),
            "the log says where {needle} is:\n{log}"
        );
    }
}

#[test]
fn readme_sandbox_walkthrough() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut daemon = serve_sandbox(dir);
    wait_listening(&dir.join("wxprint.sock"));
    assert!(
        dir.join("state/journal.sqlite").exists(),
        "journal under ./state"
    );
    let (checkout, out, code_url) = checkout_until_printed(dir);
    sandbox_pay_ends_the_checkout(dir, checkout, out);
    rendered_receipt_shows(dir, &code_url);
    status_commands_report(dir, &code_url);
    sigterm_stops_cleanly(dir, &mut daemon);
}

#[test]
fn check_config_reports_effective_settings_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for example in ["config/wxprint.toml", "config/sandbox.toml"] {
        let out = wxprint(
            dir.path(),
            &[
                "check-config",
                "--config",
                root.join(example).to_str().unwrap(),
            ],
        );
        if example.ends_with("sandbox.toml") {
            assert!(out.status.success(), "{example}: {out:?}");
        } else {
            // The production example names key files this machine does not have: the
            // settings are fine, the keys are checked and reported missing.
            assert!(!out.status.success());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("/etc/wxprint/apiclient_key.pem"), "{err}");
        }
        let text = String::from_utf8_lossy(&out.stdout);
        for key in [
            "[daemon]",
            "socket =",
            "order_ttl =",
            "[printer]",
            "baud_rate =",
            "[receipt]",
        ] {
            assert!(text.contains(key), "{example} lacks {key}:\n{text}");
        }
    }
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[printer]\nbaud_rate = 12345\n[wechatpay]\nbackend = \"sandbox\"\n",
    )
    .unwrap();
    let out = wxprint(
        dir.path(),
        &["check-config", "--config", bad.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("printer.baud_rate") && err.contains("12345"),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_second_daemon_on_the_same_socket() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--sandbox"])
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(&dir.path().join("wxprint.sock"));
    let second = wxprint(dir.path(), &["serve", "--sandbox"]);
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already listening"),
        "{second:?}"
    );
}

/// Under systemd (`Type=notify`): READY=1 once the socket listens and the journal is open,
/// then WATCHDOG=1 while the daemon is alive.
#[test]
fn notifies_systemd_ready_then_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _daemon = Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--sandbox"])
            .current_dir(dir.path())
            .env_remove("WXPRINT_CONFIG")
            .env("NOTIFY_SOCKET", &notify_path)
            .env("WATCHDOG_USEC", "200000")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut buf = [0u8; 4096];
    let n = notify.recv(&mut buf).expect("a READY notification");
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(first.lines().any(|l| l == "READY=1"), "{first}");
    assert!(first.contains("STATUS=ready"), "{first}");
    // By then the socket is there and answers.
    assert!(dir.path().join("wxprint.sock").exists());
    assert!(dir.path().join("state/journal.sqlite").exists());
    let n = notify.recv(&mut buf).expect("a WATCHDOG notification");
    let second = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(second.lines().any(|l| l == "WATCHDOG=1"), "{second}");
}

/// Socket activation (wxprint.socket): the daemon serves the socket systemd passes as fd 3
/// and leaves it in place when it stops, so POS clients never see it vanish.
#[test]
fn serves_a_socket_passed_by_systemd() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let fd = listener.as_raw_fd();
    // systemd sets LISTEN_PID to the service's pid: a shell that execs keeps its pid.
    let mut command = Command::new("sh");
    command
        .args(["-c", "LISTEN_PID=$$ exec \"$0\" serve --sandbox", WXPRINT])
        .current_dir(dir.path())
        .env_remove("WXPRINT_CONFIG")
        .env("LISTEN_FDS", "1")
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2).
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                // Already in place: just let it survive exec.
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut daemon = Daemon(command.spawn().unwrap());
    drop(listener); // the daemon has its own copy now
    let pay = || wxprint(dir.path(), &["--socket", path.to_str().unwrap(), "printer"]);
    let start = Instant::now();
    let mut out = pay();
    while !out.status.success() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        out = pay();
    }
    if !out.status.success() {
        let _ = daemon.0.kill();
        let mut log = String::new();
        std::io::Read::read_to_string(&mut daemon.0.stderr.take().unwrap(), &mut log).unwrap();
        panic!("{out:?}\n{log}");
    }
    assert!(
        !dir.path().join("wxprint.sock").exists(),
        "did not bind its own socket"
    );
    let stopped = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    assert!(daemon.0.wait().unwrap().success());
    assert!(path.exists(), "the activated socket stays");
}

/// `wxprint loopback` through a running daemon: every stage timed, PASS, exit 0.
#[test]
fn loopback_passes_through_a_running_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let _daemon = Daemon(
        Command::new(WXPRINT)
            .args(["serve", "--sandbox"])
            .current_dir(dir.path())
            .env_remove("WXPRINT_CONFIG")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(&dir.path().join("wxprint.sock"));
    let out = wxprint(dir.path(), &["loopback"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for stage in [
        "socket accepted",
        "checkout journaled",
        "order placed (code_url)",
        "receipt written",
        "paid (sandbox)",
        "PASS",
    ] {
        assert!(text.contains(stage), "{stage} missing:\n{text}");
    }
    // Without a daemon: FAIL with what to check.
    let idle = tempfile::tempdir().unwrap();
    let sock = idle.path().join("none.sock");
    let out = wxprint(
        idle.path(),
        &["--socket", sock.to_str().unwrap(), "loopback"],
    );
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL") && text.contains("is the daemon running"),
        "{text}"
    );
}

/// `checkout --no-follow` with the printer offline returns as soon as the order is placed
/// and the printer problem known — exit 5, not after `print_timeout` — and the receipt
/// prints once the printer is back.
#[test]
fn checkout_no_follow_returns_when_the_printer_is_down() {
    use virtual_printer::{Link, PrinterState, VirtualPrinter};
    let dir = tempfile::tempdir().unwrap();
    let offline = PrinterState {
        online: false,
        ..PrinterState::default()
    };
    let vp = VirtualPrinter::start_with(Link::Tcp, offline);
    let printer = format!("transport = \"tcp\"\naddress = \"{}\"", vp.address());
    let _daemon = bin::serve(dir.path(), &bin::sandbox_config(dir.path(), &printer));
    let args = [
        "--socket",
        "./wxprint.sock",
        "checkout",
        "--out-trade-no",
        "T20261126301",
        "--total",
        "1200",
        "--description",
        "Tea",
        "--no-follow",
    ];
    let out = wxprint(dir.path(), &args);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(stdout.contains("code_url"), "placed: {stdout}");
    assert!(
        stdout.contains("receipt waiting for the printer"),
        "{stdout}"
    );
    assert!(stderr.contains("placed and payable"), "{stderr}");
    assert!(vp.receipts().is_empty());

    vp.set_state(|s| s.online = true);
    let start = Instant::now();
    while vp.receipts().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(20), "never printed");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Started with systemd's soft limit of 1,024 open files, `serve` raises its own to 4,096
/// (within the hard limit): room for `server::MAX_CONNECTIONS` POS connections, the side
/// doors', WeChat Pay's and the printer's.
#[test]
fn serve_raises_its_open_files_limit() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    let printer = format!(
        "transport = \"file\"\ndevice = \"{}/receipts\"",
        dir.path().display()
    );
    let config = bin::sandbox_config(dir.path(), &printer);
    let mut command = Command::new(WXPRINT);
    command
        .args(["serve", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .env_remove("WXPRINT_CONFIG")
        .stderr(Stdio::null());
    // SAFETY: between fork and exec, two system calls on a local struct.
    unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
            limit.rlim_cur = limit.rlim_max.min(1024);
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            Ok(())
        });
    }
    let daemon = Daemon(command.spawn().unwrap());
    wait_listening(&dir.path().join("wxprint.sock"));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.0.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let hard = fields[4].parse::<u64>().unwrap_or(u64::MAX);
    if hard <= 1024 {
        eprintln!("skipped: the hard limit ({hard}) leaves nothing to raise");
        return;
    }
    assert_eq!(fields[3], hard.min(4096).to_string(), "{line}");
}
