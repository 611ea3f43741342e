//! `wxprint printers --probe` (the binary, as a technician runs it) against the virtual
//! printer over TCP and a pty: a printer answering `GS I 66` / `67` is named and its profile
//! suggested; one that answers only `DLE EOT`, or nothing, is reported unknown; the serial
//! baud probe accepts a rate only after consistent status replies.

use std::path::Path;
use std::process::Output;

use crate::bin::{sandbox_config, wxprint};
use crate::virtual_printer::{Link, PrinterState, VirtualPrinter};

/// The `[printer]` section that reaches `vp`.
fn printer_section(vp: &VirtualPrinter, link: Link) -> String {
    match link {
        Link::Tcp => format!("transport = \"tcp\"\naddress = \"{}\"", vp.address()),
        Link::Pty => format!(
            "transport = \"serial\"\ndevice = {:?}\nbaud_rate = 115200\nflow_control = \"none\"",
            vp.device_path()
        ),
    }
}

fn probe(dir: &Path, vp: &VirtualPrinter, link: Link, extra: &[&str]) -> (Output, String) {
    let config = sandbox_config(dir, &printer_section(vp, link));
    let mut args = vec!["--config", config.to_str().unwrap(), "printers", "--probe"];
    args.extend_from_slice(extra);
    let out = wxprint(dir, &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn epson() -> PrinterState {
    PrinterState {
        maker: Some("EPSON".into()),
        model: Some("TM-T88V".into()),
        ..PrinterState::default()
    }
}

#[test]
fn a_printer_that_names_itself_gets_its_profile_suggested() {
    for link in [Link::Tcp, Link::Pty] {
        let dir = tempfile::tempdir().unwrap();
        let vp = VirtualPrinter::start_with(link, epson());
        let (out, stdout) = probe(dir.path(), &vp, link, &[]);
        assert!(out.status.success(), "{link:?}: {out:?}");
        assert!(stdout.contains("maker      EPSON\n"), "{link:?}: {stdout}");
        assert!(stdout.contains("model      TM-T88V\n"), "{stdout}");
        assert!(
            stdout.contains("suggest    profile = \"epson-tm-t88\", qr = \"native\""),
            "{stdout}"
        );
        assert!(
            stdout.contains("note       printer.profile is \"80mm\""),
            "the configured profile differs: {stdout}"
        );
        assert!(stdout.contains("status     online, paper ok, cover closed"));
        let asked = vp.raw();
        for id in [[0x1D, 0x49, 66], [0x1D, 0x49, 67]] {
            assert!(
                asked.windows(3).any(|w| w == id),
                "{link:?}: GS I {}",
                id[2]
            );
        }
        assert!(
            vp.bytes().is_empty(),
            "nothing printed: {:02X?}",
            vp.bytes()
        );
    }
}

#[test]
fn a_printer_that_does_not_name_itself_is_unknown() {
    for link in [Link::Tcp, Link::Pty] {
        // Answers DLE EOT only (a clone): asked, no answer, unknown.
        let dir = tempfile::tempdir().unwrap();
        let vp = VirtualPrinter::start(link);
        let (out, stdout) = probe(dir.path(), &vp, link, &[]);
        assert!(out.status.success(), "{link:?}: {out:?}");
        assert!(
            stdout.contains("maker      unknown (no answer to GS I 66)"),
            "{stdout}"
        );
        assert!(
            stdout.contains("suggest    none: unknown printer"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("profile = \""),
            "nothing guessed: {stdout}"
        );
        // A model no profile lists: named, but unknown.
        let dir = tempfile::tempdir().unwrap();
        let clone = PrinterState {
            maker: Some("EPSON".into()),
            model: Some("TM-T88III".into()),
            ..PrinterState::default()
        };
        let vp = VirtualPrinter::start_with(link, clone);
        let (_, stdout) = probe(dir.path(), &vp, link, &[]);
        assert!(
            stdout.contains("\"EPSON TM-T88III\" matches no built-in profile"),
            "{stdout}"
        );
        // Silent: not even a status; exit 5.
        let dir = tempfile::tempdir().unwrap();
        let silent = PrinterState {
            silent: true,
            ..epson()
        };
        let vp = VirtualPrinter::start_with(link, silent);
        let (out, stdout) = probe(dir.path(), &vp, link, &[]);
        assert_eq!(out.status.code(), Some(5), "{link:?}: {stdout}");
        assert!(
            stdout.contains("maker      unknown (not asked)"),
            "{stdout}"
        );
        assert!(stdout.contains("it did not answer DLE EOT"), "{stdout}");
        assert!(
            stdout.contains("suggest    none: unknown printer"),
            "{stdout}"
        );
    }
}

#[test]
fn the_baud_probe_needs_consistent_status_replies() {
    // A pty has no line speed: the printer answers at the first rate tried.
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start_with(Link::Pty, epson());
    let (out, stdout) = probe(dir.path(), &vp, Link::Pty, &["--baud-probe"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("junk characters"), "warned: {stdout}");
    assert!(
        stdout.contains("baud       9600    3 consistent status replies"),
        "{stdout}"
    );
    assert!(stdout.contains("suggest    baud_rate = 9600 (configured: 115200)"));
    assert!(
        stdout.contains("model      TM-T88V"),
        "then identified: {stdout}"
    );
    // Line noise at every rate (as a wrong rate reads): no rate is accepted.
    let dir = tempfile::tempdir().unwrap();
    let noisy = PrinterState {
        noise: true,
        ..PrinterState::default()
    };
    let vp = VirtualPrinter::start_with(Link::Pty, noisy);
    let (_, stdout) = probe(dir.path(), &vp, Link::Pty, &["--baud-probe"]);
    let noise = stdout
        .lines()
        .filter(|l| l.starts_with("baud ") && l.ends_with("line noise"));
    assert_eq!(noise.count(), 6, "every rate tried: {stdout}");
    assert!(
        stdout.contains("suggest    none: no rate gave 3 consistent"),
        "{stdout}"
    );
    // Not on TCP.
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Tcp);
    let (out, _) = probe(dir.path(), &vp, Link::Tcp, &["--baud-probe"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only a serial printer"));
}

/// At start-up the daemon asks the printer who it is and logs it, with a warning when the
/// printer suits another profile than the configured one.
#[test]
fn the_daemon_logs_the_printer_at_start_up() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start_with(Link::Tcp, epson());
    let config = sandbox_config(dir.path(), &printer_section(&vp, Link::Tcp));
    let child = Command::new(crate::bin::WXPRINT)
        .args(["serve", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .env_remove("WXPRINT_CONFIG")
        .env_remove("JOURNAL_STREAM")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut daemon = crate::bin::Daemon(child);
    let stderr = daemon.0.stderr.take().unwrap();
    // Read on a thread, so a daemon that never logs fails the test instead of hanging it.
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut identified, mut warned) = (None, None);
    while let Ok(line) = lines.recv_timeout(std::time::Duration::from_secs(10)) {
        if line.contains("printer identification") {
            identified = Some(line);
        } else if line.contains("is the profile for this printer") {
            warned = Some(line);
        }
        if identified.is_some() && warned.is_some() {
            break;
        }
    }
    drop(daemon);
    let identified = identified.expect("an identification line");
    assert!(identified.contains("EPSON TM-T88V"), "{identified}");
    assert!(identified.contains("epson-tm-t88"), "{identified}");
    let warned = warned.expect("a warning");
    assert!(
        warned.contains("WARN") && warned.contains("\"80mm\""),
        "{warned}"
    );
}
