//! The tools that need no daemon: `render` (an ESC/POS stream as a PNG), `printers` (the
//! candidate devices) and `test-print`, which asks the daemon when one runs and otherwise
//! prints the test page itself, with the settings the daemon would use.
//!
//! Knows the library's printer, receipt and preview parts; nothing of the protocol beyond
//! the one `test_print` op.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use wxprint::config;
use wxprint::protocol::Op;
use wxprint::{preview, receipt};

use super::{check_profile, client, load_settings};

/// `wxprint test-print`: through the daemon when it runs, else straight to the printer.
pub(crate) fn test_print(
    socket: &Path,
    json: bool,
    config_path: Option<&Path>,
) -> Result<ExitCode> {
    client::ask_or(Op::TestPrint, socket, json, |e| {
        println!(
            "daemon not reachable at {} ({e}); printing straight to the printer",
            socket.display()
        );
        print_test_page(config_path)
    })
}

/// The test page, printed here with the daemon's settings (or the sandbox's without any).
fn print_test_page(config_path: Option<&Path>) -> Result<ExitCode> {
    let sandbox = config_path.is_none() && !config::default_config_path().exists();
    let settings = load_settings(config_path, sandbox)?;
    check_profile(&settings)?;
    let mut printer = wxprint::printer::open(&settings.printer);
    let layout = wxprint::jobs::layout_for(&settings.printer);
    let status = printer.status();
    println!("{}", serde_json::to_string(&status).unwrap_or_default());
    let profile = &settings.printer.profile;
    let info = receipt::test_info(profile, &printer.describe(), &status, &layout);
    let printout = printer.write_job("test-page", &receipt::test_page(&info, &layout))?;
    println!(
        "printed{}",
        printout
            .location
            .map(|l| format!(" {l}"))
            .unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// `wxprint render`: an ESC/POS byte stream as a PNG, `width` dots wide (default: the
/// configured profile's). Refuses input that is not ESC/POS at all.
pub(crate) fn render(
    input: &Path,
    output: &Path,
    width: Option<usize>,
    config_path: Option<&Path>,
) -> Result<ExitCode> {
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    if let Err(e) = preview::check_escpos(&bytes) {
        bail!(
            "{}: {e}; render takes a receipt as the printer gets it (e.g. a file under ./receipts/ of `serve --sandbox`)",
            input.display()
        );
    }
    let width = match width {
        Some(w) => w,
        None => profile_width(config_path)?,
    };
    // Render what is there even if the stream is cut short, and say so.
    let (bitmap, problem) = preview::render_lossy(&bytes, width);
    if let Some(problem) = problem {
        eprintln!("warning: {}: {problem}", input.display());
    }
    std::fs::write(output, bitmap.to_png())
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "{} → {} ({}×{} dots)",
        input.display(),
        output.display(),
        bitmap.width,
        bitmap.height
    );
    Ok(ExitCode::SUCCESS)
}

/// The paper width of the configured printer profile: the given config file, else the
/// system one if present; 576 dots (80 mm) without any.
fn profile_width(config_path: Option<&Path>) -> Result<usize> {
    let default = config::default_config_path();
    let path = match config_path {
        Some(p) => p.to_owned(),
        None if default.exists() => default,
        None => return Ok(DEFAULT_WIDTH),
    };
    let settings = config::Settings::load(Some(&path), false).with_context(|| {
        format!(
            "render: no --width given and {} does not load",
            path.display()
        )
    })?;
    check_profile(&settings)?;
    let profile = wxprint::printer::profile::find(&settings.printer.profile)
        .context("printer.profile: checked above")?;
    Ok(usize::from(profile.width_dots))
}

/// `render`'s width without `--width` or a config file: 80 mm paper.
const DEFAULT_WIDTH: usize = 576;

/// `wxprint printers`: candidate printer devices.
pub(crate) fn printers() -> Result<ExitCode> {
    let found = wxprint::printer::discover::scan(Path::new("/sys"));
    if found.is_empty() {
        println!(
            "no serial (ttyUSB/ttyACM/ttyS) or usblp printer devices found; check the cable and `dmesg`"
        );
    }
    for candidate in &found {
        println!("{candidate}");
    }
    let link = Path::new("/dev/wxprint-printer");
    if let Ok(target) = std::fs::read_link(link) {
        println!(
            "{} -> {} (the udev rule's stable name)",
            link.display(),
            target.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
