//! `wxprint check-config [--online]`: the technician's check before starting the daemon.
//! Loads the config file as `serve` would, prints the effective settings, checks the printer
//! profile, the printer's device node (exists, readable and writable), the key files, and with `--online` makes one signed call to WeChat Pay, on
//! the configured region's and mode's API (a query of an order that does not exist).
//! Problems go to stderr, one a line, and the exit code is 1.
//!
//! Only reports: the checks themselves live in the library (`config`, `wechatpay`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use wxprint::config::{self, Backend, Region, Settings, Transport, WechatPaySettings};
use wxprint::payment::PaymentError;
use wxprint::wechatpay::{ProbeReport, WechatPay};

use super::{check_profile, runtime};

/// `wxprint check-config [--online]`: 0 when the settings (and the call) are good.
pub(crate) fn run(path: Option<&Path>, online: bool) -> Result<ExitCode> {
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
        return check_online(&settings);
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

/// `check-config --online`: one signed call that proves keys, serial, clock and trust mode.
fn check_online(settings: &Settings) -> Result<ExitCode> {
    if settings.wechatpay.backend == Backend::Sandbox {
        println!("# online check: sandbox backend, nothing to check");
        return Ok(ExitCode::SUCCESS);
    }
    let backend = match WechatPay::from_settings(&settings.wechatpay) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("online check FAILED: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    match runtime()?.block_on(backend.probe()) {
        Ok(report) => {
            print_report(settings, &report);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let hint = hint_for(&e);
            eprintln!("online check FAILED: {e}; {hint}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What the signed call proved: the merchant, the trust mode and the clock.
fn print_report(settings: &Settings, report: &ProbeReport) {
    println!(
        "# online check OK: {} accepted our signed request for {} (Request-ID {})",
        api_name(&settings.wechatpay),
        merchant_name(&settings.wechatpay),
        report.request_id.as_deref().unwrap_or("none")
    );
    if let Some(n) = report.certificates {
        println!(
            "# certificate mode: {n} platform certificate(s) downloaded, decrypted with the APIv3 key and verified"
        );
    }
    if !report.verified && report.certificates.is_none() {
        println!(
            "# public-key mode: not proven by this call (WeChat Pay does not sign its error answers); the first order's answer is verified with public_key_file"
        );
    }
    if let Some(offset) = report.clock_offset {
        let verdict = if offset.abs() > 60 {
            "WARNING: fix the clock (NTP)"
        } else {
            "ok"
        };
        println!("# clock offset to WeChat Pay: {offset} s ({verdict})");
    }
}

/// Which API was probed: the region and the mode.
fn api_name(w: &WechatPaySettings) -> &'static str {
    match (w.region, w.is_sub_merchant()) {
        (Region::Mainland, false) => "WeChat Pay (mainland, direct merchant)",
        (Region::Mainland, true) => "WeChat Pay (mainland, service provider)",
        (Region::Global, false) => "WeChat Pay Global (common mode)",
        (Region::Global, true) => "WeChat Pay Global (institutional mode)",
    }
}

/// Who was probed: `mchid X`, or `sp_mchid X, sub_mchid Y`.
fn merchant_name(w: &WechatPaySettings) -> String {
    if w.is_sub_merchant() {
        format!("sp_mchid {}, sub_mchid {}", w.mchid, w.sub_mchid)
    } else {
        format!("mchid {}", w.mchid)
    }
}

/// What to check when the signed call failed.
fn hint_for(error: &PaymentError) -> &'static str {
    match error {
        PaymentError::Rejected { code, .. } if code == "SIGN_ERROR" => {
            "check merchant_serial_no, private_key_file and the register's clock"
        }
        PaymentError::Transient { .. } | PaymentError::Unverified { .. } => {
            "check the network, DNS and api_base (and ca_file for a private CA)"
        }
        _ => {
            "check appid, mchid, sub_mchid and the trust mode keys, and that region \
             (\"mainland\" or \"global\") is where the merchant signed up: a WeChat Pay \
             Global merchant needs region = \"global\", a service provider's shop sub_mchid"
        }
    }
}
