//! `check-config --online`: one signed query of an order that does not exist, which proves
//! the keys, the certificate serial, the clock and the trust mode end to end, on the
//! configured region's and mode's path (a Global or sub-merchant is probed as it will
//! query), and what it learned ([`ProbeReport`]).
//!
//! WeChat Pay's expected answer is `404 ORDER_NOT_EXIST`, which is a success here. The probe
//! makes one attempt (no retries, no backup host): `check-config` reports, it does not insist.

use super::codes::{self, code_is};
use crate::clock;
use crate::payment::PaymentError;
use crate::wechatpay::WechatPay;
use crate::wechatpay::http::{ApiError, CallError, Request};

/// What `check-config --online` learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// WeChat Pay's `Request-ID` of the answer, to quote to its support; `None` when the
    /// answer carried none.
    pub request_id: Option<String>,
    /// WeChat Pay's clock minus ours, in seconds, when the answer said.
    pub clock_offset: Option<i64>,
    /// Certificate mode: how many platform certificates were downloaded, decrypted with
    /// the APIv3 key and verified.
    pub certificates: Option<usize>,
    /// Whether the answer was signed and verified (WeChat Pay's error answers usually are
    /// not, so public-key mode is proven by the first real order).
    pub verified: bool,
}

/// The probe, for [`WechatPay::probe`].
pub(crate) async fn probe(pay: &WechatPay) -> Result<ProbeReport, PaymentError> {
    let certificates = if pay.certificates.is_some() {
        Some(pay.refresh_certificates().await?)
    } else {
        None
    };
    let no = format!("WXPRINTPROBE{}", clock::now_ms());
    // The configured region's and mode's query path, with its merchant fields.
    let path = pay.api.order_query(&no);
    let request = Request::get(&path);
    match pay.http.exchange(pay.http.api_base(), &request, pay).await {
        Ok(answer) => Ok(ProbeReport {
            request_id: answer.request_id,
            clock_offset: answer.clock_offset,
            certificates,
            verified: true,
        }),
        Err(CallError::Status(reply)) => {
            let error = ApiError::read(&reply);
            if reply.status != 404 || !code_is(&error.code, codes::ORDER_NOT_EXIST) {
                return Err(error.into());
            }
            // Error answers are rarely signed; when this one is, say whether it verified.
            let verified = reply.verify(&pay.verifier, reply.received_at).is_ok();
            Ok(ProbeReport {
                request_id: reply.request_id,
                clock_offset: reply.clock_offset,
                certificates,
                verified,
            })
        }
        Err(CallError::Unverified { error, request_id }) => Err(PaymentError::Rejected {
            code: "VERIFY".into(),
            message: format!("WeChat Pay's answer did not verify: {error}"),
            request_id,
        }),
        Err(CallError::NoAnswer(e)) => Err(e.into()),
    }
}
