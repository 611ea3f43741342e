//! What can go wrong on the way, and the queue of injected faults. How each fault acts on
//! a call is decided in `routes.rs` (transport and status faults) and `signing.rs` (the
//! signature faults, which spoil a genuine answer).

use std::time::Duration;

use super::State;

/// How far back [`Fault::StaleTimestamp`] dates the answer, seconds.
pub(super) const STALE_BY: i64 = 600;

/// The API a call went to (faults are injected per endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Native,
    Query,
    Close,
    Certificates,
    /// `POST` a refund (mainland or Global path).
    Refund,
    /// `GET` a refund by `out_refund_no`.
    RefundQuery,
    /// Any call, including to unknown paths.
    Any,
}

/// Something going wrong on the way, injected with [`Simulator::inject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then handle the call normally.
    Delay(Duration),
    /// Never answer; the connection stays open until the simulator is dropped.
    Timeout,
    /// Close the TCP connection (RST) without an answer; the call is not handled.
    Reset,
    /// Handle the call for real (a place creates the order), then reset the connection.
    LoseAnswer,
    /// Handle the call for real, then never answer.
    HangAfterHandling,
    /// 500 `SYSTEM_ERROR`.
    Status500,
    /// 502 from the gateway, with an HTML body.
    Status502,
    /// 202 "accepted, not processed: repeat the same request", empty signed body.
    Status202,
    /// 429 `FREQUENCY_LIMITED`.
    Status429,
    /// A genuine answer whose signature does not match it.
    BadSignature,
    /// A genuine answer, validly signed, dated [`STALE_BY`] seconds ago.
    StaleTimestamp,
    /// A genuine answer, validly signed, naming a serial the merchant does not know.
    WrongSerial,
    /// 200 with a validly signed body that is not JSON.
    MalformedJson,
    /// WeChat's probe: the signature starts with `WECHATPAY/SIGNTEST/`.
    SignTest,
    /// Handle the call for real, then answer, validly signed, the genuine JSON answer with
    /// these members set: an answer about another order, refund or merchant (`out_trade_no`,
    /// `mchid`, `sub_mchid`…) as something in the middle could replay in its place.
    Rewrite(Vec<(String, serde_json::Value)>),
    /// Any error answer, e.g. `400 PARAM_ERROR`, `403 NO_AUTH`, `404 ORDER_NOT_EXIST`
    /// (signed only if `status` is 2xx).
    Error {
        status: u16,
        code: String,
        message: String,
    },
}

impl Fault {
    /// `Fault::Rewrite` shorthand: the answer with `members` (`name`, value) set.
    pub fn rewrite(members: &[(&str, serde_json::Value)]) -> Fault {
        Fault::Rewrite(
            members
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone()))
                .collect(),
        )
    }

    /// `Fault::Error` shorthand.
    pub fn error(status: u16, code: &str, message: &str) -> Fault {
        Fault::Error {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// Faults that spoil the signature layer of a genuine answer computed on a scratch copy.
    pub(super) fn spoils_signature(&self) -> bool {
        matches!(
            self,
            Fault::BadSignature
                | Fault::StaleTimestamp
                | Fault::WrongSerial
                | Fault::MalformedJson
                | Fault::SignTest
        )
    }
}

/// A fault waiting for its calls.
pub(super) struct Injected {
    pub(super) endpoint: Endpoint,
    pub(super) fault: Fault,
    pub(super) remaining: usize,
}

impl State {
    /// Take the fault for a call to `endpoint`, if one is queued (oldest first).
    pub(super) fn take_fault(&mut self, endpoint: Option<Endpoint>) -> Option<Fault> {
        let fault = self
            .faults
            .iter_mut()
            .find(|f| f.endpoint == Endpoint::Any || Some(f.endpoint) == endpoint)
            .map(|f| {
                f.remaining -= 1;
                f.fault.clone()
            });
        self.faults.retain(|f| f.remaining > 0);
        fault
    }
}
