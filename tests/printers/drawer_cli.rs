//! `wxprint drawer` (the binary, through a running `wxprint serve`) against the virtual
//! printer: the kick it reports is the one the printer got; a printer that cannot take it
//! exits 5, and the printer's `drawer` sensor shows in `wxprint printer`.

use crate::bin::{sandbox_config, serve, wxprint};
use crate::virtual_printer::{Link, VirtualPrinter};

#[test]
fn wxprint_drawer_kicks_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let vp = VirtualPrinter::start(Link::Tcp);
    let printer = format!(
        "transport = \"tcp\"\naddress = \"{}\"\ndrawer_on_ms = 20\ndrawer_off_ms = 200\ndrawer_open_level = \"high\"",
        vp.address()
    );
    let _daemon = serve(dir.path(), &sandbox_config(dir.path(), &printer));
    let socket = ["--socket", "./wxprint.sock"];
    let run = |args: &[&str]| {
        let out = wxprint(dir.path(), &[&socket[..], args].concat());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (
            out.status.code(),
            text,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, stdout, stderr) = run(&["drawer", "--pin", "5"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "drawer     pin 5, 20 ms on / 200 ms off (1B 70 01 0A 64), confirmed by the printer"
    );
    assert_eq!(vp.drawer_kicks(), [vec![0x1B, 0x70, 0x01, 0x0A, 0x64]]);

    vp.set_state(|s| s.drawer_high = true);
    let (_, stdout, _) = run(&["--json", "printer"]);
    let status: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        status["drawer"], "open",
        "drawer_open_level = \"high\": {status}"
    );

    let (code, _, stderr) = run(&["drawer", "--pin", "3"]);
    assert_eq!(code, Some(2), "refused by the command line");
    assert!(stderr.contains("pin 2"), "{stderr}");

    vp.set_state(|s| s.cover_open = true);
    let (code, stdout, _) = run(&["drawer"]);
    assert_eq!(code, Some(5), "{stdout}");
    assert!(
        stdout.contains("error      printer: the drawer was not kicked"),
        "{stdout}"
    );
    assert_eq!(vp.drawer_kicks().len(), 1);
}
