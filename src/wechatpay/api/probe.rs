//! `check-config --online`: what a technician's online check can prove, on the configured
//! region's and mode's path (a Global or sub-merchant is probed as it will query).
//!
//! - [`probe`]: one signed query of an order that does not exist. WeChat Pay's expected
//!   answer is `404 ORDER_NOT_EXIST`: it proves the merchant id, the request signing key,
//!   its serial and the clock, and (certificate mode) the certificate download proves the
//!   APIv3 key. The 404 is usually unsigned, so it cannot prove a WeChat Pay public key:
//!   [`ProbeReport::signed_by`] says which key (if any) signed a verified answer.
//! - [`probe_order`] (`--order`): a real order of one minor unit with the shortest
//!   `time_expire` (1 minute, both regions), placed with the backend's own placement (its
//!   body and path), whose signed 2xx is verified with the configured trust; then closed
//!   at once where WeChat allows it (mainland), else left to expire unpaid (Global refuses
//!   closes of orders younger than five minutes). Its `code_url` is dropped unseen.
//!
//! Both make one placement or query attempt (no retries, no backup host): `check-config`
//! reports, it does not insist. Neither knows the CLI or the config file.

use super::codes::{self, code_is};
use super::native;
use crate::clock;
use crate::config::Region;
use crate::money::Money;
use crate::payment::{PaymentError, PlaceOrder};
use crate::wechatpay::WechatPay;
use crate::wechatpay::auth::VerifyError;
use crate::wechatpay::http::{ApiError, CallError, NoAnswer, Reply, Request};

/// The shortest `time_expire` WeChat Pay takes (mainland and Global): one minute.
const SHORTEST_EXPIRY_MS: i64 = 60_000;

/// What `check-config --online` learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// WeChat Pay's `Request-ID` of the answer, to quote to its support; `None` when the
    /// answer carried none.
    pub request_id: Option<String>,
    /// WeChat Pay's clock minus ours, in seconds, when the answer said: its
    /// `Wechatpay-Timestamp`, else (unsigned answers) its HTTP `Date`.
    pub clock_offset: Option<i64>,
    /// Certificate mode: how many platform certificates were downloaded, decrypted with
    /// the APIv3 key and verified.
    pub certificates: Option<usize>,
    /// Whether the answer was signed and verified (WeChat Pay's error answers usually are
    /// not, so a WeChat Pay public key is proven only by a signed answer such as an order's).
    pub verified: bool,
    /// The `Wechatpay-Serial` (a `PUB_KEY_ID_…` or a platform certificate serial) of the
    /// key that signed the answer, when it verified; `None` when it was not signed or did
    /// not verify.
    pub signed_by: Option<String>,
}

/// What became of the test order of [`probe_order`] after its placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeClose {
    /// Closed at WeChat Pay (its answer verified): it can never be paid.
    Closed,
    /// Not closed because WeChat Pay refuses to close an order younger than five minutes
    /// (WeChat Pay Global); unpaid, it stops being payable at `expires_at`.
    NotAllowed {
        /// `time_expire` as `HH:MM` (China Standard Time).
        expires_at: String,
    },
    /// The close failed (`error`); unpaid, the order stops being payable at `expires_at`.
    Failed {
        /// Why the close failed, in words.
        error: String,
        /// `time_expire` as `HH:MM` (China Standard Time).
        expires_at: String,
    },
    /// The order was not created (the placement was refused): nothing to close.
    NotCreated,
}

/// What `check-config --online --order` learned from a verified placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderProbeReport {
    /// The test order's number (`WXPRINTCHECK…`).
    pub out_trade_no: String,
    /// Its amount: one minor unit of the configured currency.
    pub amount: Money,
    /// WeChat Pay's `Request-ID` of the placement's answer.
    pub request_id: Option<String>,
    /// WeChat Pay's clock minus ours, in seconds (its `Wechatpay-Timestamp`).
    pub clock_offset: Option<i64>,
    /// The `Wechatpay-Serial` of the key that signed the verified answer.
    pub signed_by: String,
    /// Whether the order was closed.
    pub close: ProbeClose,
}

/// Why `check-config --online --order` failed.
#[derive(Debug, thiserror::Error)]
pub enum OrderProbeError {
    /// WeChat Pay answered 2xx, but the signature did not verify with the configured trust.
    #[error(
        "WeChat Pay accepted the test order {out_trade_no}, but its answer did not verify: {error}"
    )]
    Unverified {
        /// The test order's number.
        out_trade_no: String,
        /// Why the signature did not verify.
        error: VerifyError,
        /// WeChat Pay's `Request-ID` of the answer.
        request_id: Option<String>,
        /// What became of the order.
        close: ProbeClose,
    },
    /// The placement failed (refused, unreachable, unreadable answer).
    #[error("the test order {out_trade_no} failed: {error}")]
    Failed {
        /// The test order's number.
        out_trade_no: String,
        /// What WeChat Pay (or the network) said.
        error: PaymentError,
        /// What became of the order (it may exist when the outcome is unknown).
        close: ProbeClose,
    },
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
            signed_by: serial(&answer),
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
                signed_by: serial(&reply).filter(|_| verified),
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

/// The test order, for [`WechatPay::probe_order`].
pub(crate) async fn probe_order(pay: &WechatPay) -> Result<OrderProbeReport, OrderProbeError> {
    // Certificate mode: the validator downloads the certificates when it needs them.
    let now = clock::now_ms();
    let order = PlaceOrder {
        out_trade_no: format!("WXPRINTCHECK{now}"),
        description: "wxprint check-config".into(),
        amount: Money::new(1, pay.currency.currency().clone()),
        attach: None,
        goods_tag: None,
        time_expire: clock::rfc3339(now + SHORTEST_EXPIRY_MS),
        request: None,
    };
    let expires_at = hh_mm(now + SHORTEST_EXPIRY_MS);
    let no = order.out_trade_no.clone();
    // The backend's own placement: the body it would pin at checkout, on its path.
    let (path, body) = pay.placement(&order);
    let request = Request::post(&path, &body);
    match pay.http.exchange(pay.http.api_base(), &request, pay).await {
        Ok(answer) => {
            let close = close(pay, &no, &expires_at).await;
            // Read (so a malformed answer is reported), never shown: no QR from a check.
            if let Err(error) = native::read_placed(&answer) {
                return Err(OrderProbeError::Failed {
                    out_trade_no: no,
                    error,
                    close,
                });
            }
            Ok(OrderProbeReport {
                out_trade_no: no,
                amount: order.amount,
                signed_by: serial(&answer).unwrap_or_default(),
                request_id: answer.request_id,
                clock_offset: answer.clock_offset,
                close,
            })
        }
        Err(CallError::Unverified { error, request_id }) => Err(OrderProbeError::Unverified {
            close: close(pay, &no, &expires_at).await,
            out_trade_no: no,
            error,
            request_id,
        }),
        Err(CallError::Status(reply)) => {
            let error = PaymentError::from(ApiError::read(&reply));
            // A 5xx may have created the order; a refusal did not.
            let close = if reply.status >= 500 {
                close(pay, &no, &expires_at).await
            } else {
                ProbeClose::NotCreated
            };
            Err(OrderProbeError::Failed {
                out_trade_no: no,
                error,
                close,
            })
        }
        Err(CallError::NoAnswer(e)) => {
            // Sent without an answer: the order may exist.
            let close = match e {
                NoAnswer::Transport(_) | NoAnswer::Timeout(_) => close(pay, &no, &expires_at).await,
                NoAnswer::Sign(_) | NoAnswer::Connect(_) => ProbeClose::NotCreated,
            };
            Err(OrderProbeError::Failed {
                out_trade_no: no,
                error: e.into(),
                close,
            })
        }
    }
}

/// Close the test order with the backend's own close, where WeChat Pay allows it now.
async fn close(pay: &WechatPay, no: &str, expires_at: &str) -> ProbeClose {
    if pay.api.region() == Region::Global {
        return ProbeClose::NotAllowed {
            expires_at: expires_at.to_owned(),
        };
    }
    match pay.close_order(no).await {
        Ok(()) => ProbeClose::Closed,
        Err(e) => ProbeClose::Failed {
            error: e.to_string(),
            expires_at: expires_at.to_owned(),
        },
    }
}

/// The `Wechatpay-Serial` of a signed answer.
fn serial(reply: &Reply) -> Option<String> {
    reply.signature.as_ref().ok().map(|s| s.serial.clone())
}

/// `ms` as `HH:MM` in China Standard Time (WeChat Pay's `time_expire` zone).
fn hh_mm(ms: i64) -> String {
    // `2026-11-26T12:00:05+08:00` → `12:00`.
    clock::rfc3339(ms)
        .get(11..16)
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_reads_as_china_time() {
        // 2026-11-26T04:00:05Z is 12:00 in Beijing.
        assert_eq!(hh_mm(1_795_665_605_000), "12:00");
    }
}
