//! `wxprint check-config [--online [--order]]`: the technician's check before starting the
//! daemon. Loads the config file as `serve` would, prints the effective settings, checks the
//! printer profile, the printer's device node (exists, readable and writable) and the key
//! files. `--online` makes one signed call to WeChat Pay on the configured region's and
//! mode's API (a query of an order that does not exist; certificate mode downloads the
//! platform certificates first); `--order` adds a real test order of one minor unit, closed
//! at once where WeChat allows it, whose signed answer proves a WeChat Pay public key
//! (`check_config/online.rs`). Problems go to stderr, one a line.
//!
//! Exit codes: 0 all good (and with `--online`: every configured trust key proven by a
//! verified signed answer); 1 a problem (settings, key files, a refused or unverifiable
//! call); 3 (`--online` only) WeChat Pay was reached and accepted the signed request, but a
//! part of the trust (the WeChat Pay public key) was not proven: run with `--order`.
//!
//! Only reports: the checks themselves live in the library (`config`, `wechatpay`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use wxprint::config::{self, Backend, Settings, Transport};

use super::check_profile;

mod online;

/// `wxprint check-config [--online [--order]]`: the exit codes of the module comment.
pub(crate) fn run(path: Option<&Path>, online: bool, order: bool) -> Result<ExitCode> {
    let path = path
        .map(Path::to_owned)
        .unwrap_or_else(config::default_config_path);
    let settings = match Settings::load(Some(&path), false) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    // A mistyped variable leaves its setting at the file's value: not what was meant.
    let unknown = config::unknown_env_vars(&process_env());
    for warning in &unknown {
        eprintln!("{warning}");
    }
    let mut failed = !unknown.is_empty();
    println!("# effective settings from {}", path.display());
    print!("{settings}");
    if let Err(e) = check_profile(&settings) {
        eprintln!("{e}");
        return Ok(ExitCode::FAILURE);
    }
    if let Some(note) = wxprint::jobs::encoding_override(&settings.printer) {
        println!("# note: {note}");
    }
    for sample in config::documentation_samples(&settings.wechatpay) {
        eprintln!("{sample}");
        failed = true;
    }
    if let Some(device) = printer_device(&settings) {
        match device_problem(device) {
            Some(problem) => {
                eprintln!("{problem}");
                failed = true;
            }
            None if current_uid() == 0 => println!(
                "# printer device {}: exists (checked as root: the service user wxprint needs \
                 read and write access too, see `ls -l {}`)",
                device.display(),
                device.display()
            ),
            None => println!(
                "# printer device {}: exists, readable and writable by uid {}",
                device.display(),
                current_uid()
            ),
        }
    }
    if settings.wechatpay.backend == Backend::WechatPay {
        // The key files: present, private, parseable (no network needed), all reported.
        let problems = wxprint::wechatpay::check_key_files(&settings.wechatpay);
        for problem in &problems {
            eprintln!("{problem}");
        }
        if problems.is_empty() {
            println!("# key files: ok");
        }
        failed |= !problems.is_empty();
    }
    if failed {
        return Ok(ExitCode::FAILURE);
    }
    if online {
        return online::check(&settings, order);
    }
    Ok(ExitCode::SUCCESS)
}

/// The process environment as text pairs (names that are not UTF-8 are no `WXPRINT_*`).
fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| {
            Some((
                name.into_string().ok()?,
                value.to_string_lossy().into_owned(),
            ))
        })
        .collect()
}

/// The device node the printer is opened by (serial and usb transports).
fn printer_device(settings: &Settings) -> Option<&Path> {
    match settings.printer.transport {
        Transport::Serial | Transport::Usb => Some(&settings.printer.device),
        Transport::Tcp | Transport::File => None,
    }
}

/// Why the printer's device node cannot be used by this user, if it cannot: missing, or
/// not both readable and writable.
fn device_problem(device: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let shown = device.display();
    if let Err(e) = std::fs::metadata(device) {
        let what = if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            format!("cannot be inspected ({e})")
        };
        return Some(format!(
            "printer.device {shown} {what}; check that the printer is on and its cable plugged \
             in, that the udev rule (udev/) creates the node, or run `wxprint printers` to \
             list the candidates and set printer.device to one of them"
        ));
    }
    let c_path = std::ffi::CString::new(device.as_os_str().as_bytes()).ok()?;
    // SAFETY: `access` only reads the NUL-terminated path.
    let allowed = unsafe { libc::access(c_path.as_ptr(), libc::R_OK | libc::W_OK) } == 0;
    if allowed {
        return None;
    }
    let e = std::io::Error::last_os_error();
    Some(format!(
        "printer.device {shown} exists but is not readable and writable by uid {} ({e}); \
         the service user wxprint needs both: check the udev rule (GROUP=\"wxprint\", \
         MODE=\"0660\") and the node's owner with `ls -l {shown}`",
        current_uid()
    ))
}

/// The user this check runs as (the service runs as `wxprint`).
fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}
