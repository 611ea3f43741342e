//! `wxprint printers --probe [--baud-probe]`: ask the configured printer who it is and
//! suggest settings; and the same question asked at daemon start-up, logged.
//!
//! The probe itself is the library's (`printer::Printer::identify`, `printer::link`'s baud
//! probe); this file decides what is tried, and prints or logs the answers.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use tracing::{info, warn};

use wxprint::config::{Settings, Transport};
use wxprint::printer::link::{self, BAUD_CANDIDATES};
use wxprint::printer::{Identity, PrinterHandle};

use super::{check_profile, load_settings};

/// Probe the configured printer (after the baud probe, on request); exit 0 when the
/// printer answered its status request, 5 when it could not be reached or did not answer.
pub(crate) fn run(config_path: Option<&Path>, baud_probe: bool) -> Result<ExitCode> {
    let mut settings = load_settings(config_path, false)?;
    check_profile(&settings)?;
    println!();
    if baud_probe {
        probe_baud(&mut settings)?;
    }
    let identity = wxprint::printer::open(&settings.printer).identify();
    println!("{identity}");
    if let Some(note) = profile_note(&identity, &settings) {
        println!("{note}");
    }
    Ok(ExitCode::from(if identity.answered { 0 } else { 5 }))
}

/// `--baud-probe`: find the serial line's rate; the probe that follows uses it.
fn probe_baud(settings: &mut Settings) -> Result<()> {
    let printer = &mut settings.printer;
    if printer.transport != Transport::Serial {
        bail!(
            "--baud-probe: only a serial printer has a baud rate (printer.transport is {:?}); run `wxprint printers --probe` alone",
            printer.transport.as_str()
        );
    }
    let rates: Vec<String> = BAUD_CANDIDATES.iter().map(u32::to_string).collect();
    println!(
        "warning    the baud probe sends status requests to {} at {} bit/s in turn: at the wrong rates the printer may print a few junk characters",
        printer.device.display(),
        rates.join(", ")
    );
    let tried = link::probe_baud(&printer.device, &BAUD_CANDIDATES);
    for (rate, verdict) in &tried {
        println!("baud       {rate:<7} {}", verdict.as_str());
    }
    match link::accepted(&tried) {
        Some(rate) => {
            println!(
                "suggest    baud_rate = {rate} (configured: {})",
                printer.baud_rate
            );
            printer.baud_rate = rate;
        }
        None => println!(
            "suggest    none: no rate gave {} consistent status replies; check the cable (a null-modem one for RS-232), the printer's power and its settings page (it prints its rate), then set printer.baud_rate by hand",
            link::ROUNDS
        ),
    }
    println!();
    Ok(())
}

/// A note when the printer identifies as a model whose profile is not the configured one.
fn profile_note(identity: &Identity, settings: &Settings) -> Option<String> {
    let suits = identity.profile()?;
    (!suits
        .name
        .eq_ignore_ascii_case(settings.printer.profile.trim()))
    .then(|| {
        format!(
            "note       printer.profile is {:?}; {:?} is the profile for this printer",
            settings.printer.profile, suits.name
        )
    })
}

/// At start-up: ask the printer who it is (queued on the printer thread like a job) and
/// log it, with a warning when it suits another profile than the configured one.
pub(crate) async fn log_identity(printer: PrinterHandle, settings: Settings) {
    let Some(identity) = printer.identify().await else {
        return;
    };
    let name = identity.name().unwrap_or_else(|| "unknown".to_owned());
    info!(
        target: super::serve::LOG_TARGET,
        printer = %identity.transport,
        identified = %name,
        not_asked = identity.not_asked.as_deref().unwrap_or(""),
        suggest = %identity.suggestion(),
        "printer identification"
    );
    if let Some(note) = profile_note(&identity, &settings) {
        warn!(target: super::serve::LOG_TARGET, "{}", note.trim_start_matches("note").trim_start());
    }
}
