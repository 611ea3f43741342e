//! `check-config --online [--order]`: what the signed calls proved, in words, and the exit
//! code that says it (0 every configured trust key proven, 1 a failure, 3 reachable and
//! accepted but the WeChat Pay public key not proven).
//!
//! Only reports: the calls are the library's (`WechatPay::probe`, `WechatPay::probe_order`);
//! the hints name the config keys and their values. Never shows a test order's `code_url`
//! (the library does not even hand it out).

use std::process::ExitCode;

use anyhow::Result;

use wxprint::config::{Backend, Region, Settings, WechatPaySettings};
use wxprint::payment::PaymentError;
use wxprint::wechatpay::{OrderProbeError, OrderProbeReport, ProbeClose, ProbeReport, WechatPay};

use crate::cli::runtime;

/// The exit code when WeChat Pay accepted the signed request but a trust key is unproven.
const NOT_PROVEN: u8 = 3;

/// `check-config --online [--order]`.
pub(super) fn check(settings: &Settings, order: bool) -> Result<ExitCode> {
    let w = &settings.wechatpay;
    if w.backend == Backend::Sandbox {
        println!("# online check: sandbox backend, nothing to check");
        return Ok(ExitCode::SUCCESS);
    }
    let backend = match WechatPay::from_settings(w) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("online check FAILED: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let runtime = runtime()?;
    let report = match runtime.block_on(backend.probe()) {
        Ok(report) => report,
        Err(e) => {
            eprintln!(
                "online check FAILED: {}; {}",
                with_request_id(&e),
                hint_for(w, &e)
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    print_probe(w, &report);
    let mut public_key_proven = proves_public_key(w, report.signed_by.as_deref());
    if order {
        match runtime.block_on(backend.probe_order()) {
            Ok(placed) => {
                print_order(w, &placed);
                public_key_proven |= proves_public_key(w, Some(&placed.signed_by));
            }
            Err(e) => {
                report_order_failure(w, &e);
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    if !public_key_proven {
        eprintln!("{}", unproven(w, order));
        return Ok(ExitCode::from(NOT_PROVEN));
    }
    println!(
        "# online check OK: every configured trust key was proven by a verified, signed answer"
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether an answer signed by `serial` (and verified) proves the configured WeChat Pay
/// public key; trivially so when none is configured (certificate mode).
fn proves_public_key(w: &WechatPaySettings, serial: Option<&str>) -> bool {
    w.public_key_id.is_empty() || serial == Some(w.public_key_id.as_str())
}

/// What the probe proved: the merchant, the certificates and the clock.
fn print_probe(w: &WechatPaySettings, report: &ProbeReport) {
    println!(
        "# online check: {} accepted our signed request for {} (Request-ID {})",
        api_name(w),
        merchant_name(w),
        report.request_id.as_deref().unwrap_or("none")
    );
    if let Some(n) = report.certificates {
        println!(
            "# certificate mode: {n} platform certificate(s) downloaded, decrypted with the APIv3 key and verified"
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

/// What the test order proved, and what became of it.
fn print_order(w: &WechatPaySettings, placed: &OrderProbeReport) {
    println!(
        "# test order {} ({}) placed; WeChat Pay's answer was signed by {} and verified with {} \
         (Request-ID {})",
        placed.out_trade_no,
        placed.amount,
        placed.signed_by,
        trust_name(w),
        placed.request_id.as_deref().unwrap_or("none")
    );
    match close_words(&placed.close) {
        (line, false) => println!("# {line}"),
        (line, true) => eprintln!("WARNING: {line}"),
    }
}

/// The test order's failure, with what to check, and what became of the order.
fn report_order_failure(w: &WechatPaySettings, e: &OrderProbeError) {
    let close = match e {
        OrderProbeError::Unverified {
            out_trade_no,
            error,
            request_id,
            close,
        } => {
            eprintln!(
                "online check FAILED: WeChat Pay accepted the test order {out_trade_no}, but its \
                 answer does not verify with {}: {error} (Request-ID {}); {}",
                trust_name(w),
                request_id.as_deref().unwrap_or("none"),
                trust_hint(w)
            );
            close
        }
        OrderProbeError::Failed {
            out_trade_no,
            error,
            close,
        } => {
            eprintln!(
                "online check FAILED: the test order {out_trade_no} failed: {}; {}",
                with_request_id(error),
                hint_for(w, error)
            );
            close
        }
    };
    if *close != ProbeClose::NotCreated {
        eprintln!("{}", close_words(close).0);
    }
}

/// What became of the test order, and whether that is a warning.
fn close_words(close: &ProbeClose) -> (String, bool) {
    match close {
        ProbeClose::Closed => (
            "test order closed at WeChat Pay (its code_url was never shown)".into(),
            false,
        ),
        ProbeClose::NotAllowed { expires_at } => (
            format!(
                "test order not closed: WeChat Pay Global closes no order younger than 5 \
                 minutes; it expires unpaid at {expires_at} (China time), and its code_url was \
                 never shown, so nobody can pay it"
            ),
            false,
        ),
        ProbeClose::Failed { error, expires_at } => (
            format!(
                "the test order could not be closed ({error}); it expires unpaid at \
                 {expires_at} (China time), and its code_url was never shown"
            ),
            true,
        ),
        ProbeClose::NotCreated => ("the test order was not created".into(), false),
    }
}

/// Exit 3's message: which part of the trust is unproven, with its values, and how to prove it.
fn unproven(w: &WechatPaySettings, order_tried: bool) -> String {
    let why = if order_tried {
        "the test order's answer was not signed with it"
    } else {
        "WeChat Pay does not sign its answer to this check (an order that does not exist)"
    };
    format!(
        "online check NOT PROVEN (exit {NOT_PROVEN}): WeChat Pay accepted our signed request, \
         but the WeChat Pay public key is unproven — public_key_file {} with public_key_id {} — \
         because {why}. A wrong key or ID there makes every order's answer unverifiable and \
         every checkout hang. Prove it with `wxprint check-config --online --order` (places a \
         test order of the smallest amount that expires in one minute and closes it; no QR is \
         shown) or `wxprint loopback --live`",
        w.public_key_file.display(),
        w.public_key_id
    )
}

/// The configured trust, named with its values.
fn trust_name(w: &WechatPaySettings) -> String {
    if w.public_key_id.is_empty() {
        let apiv3 = w
            .apiv3_key_file
            .as_deref()
            .unwrap_or(std::path::Path::new(""));
        format!(
            "the platform certificates (downloaded with apiv3_key_file {})",
            apiv3.display()
        )
    } else {
        format!(
            "public_key_file {} (public_key_id {})",
            w.public_key_file.display(),
            w.public_key_id
        )
    }
}

/// What to check when a signed answer does not verify.
fn trust_hint(w: &WechatPaySettings) -> String {
    if w.public_key_id.is_empty() {
        return "check apiv3_key_file (the APIv3 key of this merchant) and that no proxy \
                alters WeChat Pay's answers"
            .into();
    }
    format!(
        "check that public_key_file is the 微信支付公钥 (WeChat Pay public key, pub_key.pem) of \
         merchant {} and public_key_id its ID, both from the merchant platform: 账户中心 → \
         API安全 → 微信支付公钥",
        w.mchid
    )
}

/// The error with WeChat Pay's `Request-ID`, when it gave one.
fn with_request_id(error: &PaymentError) -> String {
    match error {
        PaymentError::Rejected {
            request_id: Some(id),
            ..
        }
        | PaymentError::Transient {
            request_id: Some(id),
            ..
        } => format!("{error} (Request-ID {id})"),
        _ => error.to_string(),
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

/// What to check when a signed call failed. WeChat Pay's own message (shown before the
/// hint) wins: a `SIGN_ERROR` whose message names the merchant id, the serial or the time
/// gets the hint for that, and only an unexplained one the keys-and-clock hint.
fn hint_for(w: &WechatPaySettings, error: &PaymentError) -> String {
    match error {
        PaymentError::Rejected { code, message, .. } if code == "SIGN_ERROR" => {
            sign_error_hint(w, message)
        }
        PaymentError::Transient { .. } => {
            "check the network, DNS and api_base (and ca_file for a private CA)".into()
        }
        PaymentError::Unverified { .. } => format!(
            "the answer came from WeChat Pay's address but its signature did not verify: check \
             public_key_file {:?} and public_key_id {:?} (public-key mode) or the APIv3 key \
             (certificate mode), and the register's clock",
            w.public_key_file.display(),
            w.public_key_id
        ),
        _ => "check appid, mchid, sub_mchid and the trust mode keys, and that region \
              (\"mainland\" or \"global\") is where the merchant signed up: a WeChat Pay \
              Global merchant needs region = \"global\", a service provider's shop sub_mchid"
            .into(),
    }
}

/// The hint for a `SIGN_ERROR`, by what WeChat Pay's message names.
fn sign_error_hint(w: &WechatPaySettings, message: &str) -> String {
    let names = |words: &[&str]| {
        let lower = message.to_lowercase();
        words.iter().any(|word| lower.contains(word))
    };
    if names(&["商户号", "mchid", "merchant id", "merchant no"]) {
        format!(
            "WeChat Pay says the merchant id is wrong: check mchid {:?} (账户中心 → 商户信息 → \
             商户号; a service provider's own, with the shop's in sub_mchid), and that \
             merchant_serial_no and private_key_file are that merchant's",
            w.mchid
        )
    } else if names(&["序列号", "serial"]) {
        format!(
            "check merchant_serial_no {:?}: it must be the serial of the API certificate whose \
             key is private_key_file {} (账户中心 → API安全 → API证书)",
            w.merchant_serial_no,
            w.private_key_file.display()
        )
    } else if names(&["timestamp", "时间"]) {
        "check the register's clock: enable NTP (`timedatectl set-ntp true`)".into()
    } else {
        format!(
            "check merchant_serial_no {:?}, private_key_file {} and the register's clock",
            w.merchant_serial_no,
            w.private_key_file.display()
        )
    }
}
