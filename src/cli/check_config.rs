//! `wxprint check-config [--online]`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;

use wxprint::config::{self, Backend, Settings};

use super::{check_profile, runtime};

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
    println!("# effective settings from {}", path.display());
    print!("{settings}");
    if let Err(e) = check_profile(&settings) {
        eprintln!("{e}");
        return Ok(ExitCode::FAILURE);
    }
    if settings.wechatpay.backend == Backend::WechatPay {
        // The key files: present, private, parseable (no network needed).
        if let Err(e) = wxprint::wechatpay::WechatPay::from_settings(&settings.wechatpay) {
            eprintln!("{e}");
            return Ok(ExitCode::FAILURE);
        }
        println!("# key files: ok");
    }
    if online {
        return check_online(&settings);
    }
    Ok(ExitCode::SUCCESS)
}

/// `check-config --online`: one signed call that proves keys, serial, clock and trust mode.
fn check_online(settings: &Settings) -> Result<ExitCode> {
    if settings.wechatpay.backend == Backend::Sandbox {
        println!("# online check: sandbox backend, nothing to check");
        return Ok(ExitCode::SUCCESS);
    }
    let backend =
        match wxprint::wechatpay::WechatPay::from_settings(&settings.wechatpay).map(Arc::new) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("online check FAILED: {e}");
                return Ok(ExitCode::FAILURE);
            }
        };
    let report = runtime()?.block_on(backend.probe());
    match report {
        Ok(report) => {
            println!(
                "# online check OK: WeChat Pay accepted our signed request for mchid {} (Request-ID {})",
                settings.wechatpay.mchid,
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
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let hint = match &e {
                wxprint::payment::PaymentError::Rejected { code, .. } if code == "SIGN_ERROR" => {
                    "check merchant_serial_no, private_key_file and the register's clock"
                }
                wxprint::payment::PaymentError::Transient { .. } => {
                    "check the network, DNS and api_base (and ca_file for a private CA)"
                }
                _ => "check appid, mchid and the trust mode keys",
            };
            eprintln!("online check FAILED: {e}; {hint}");
            Ok(ExitCode::FAILURE)
        }
    }
}
