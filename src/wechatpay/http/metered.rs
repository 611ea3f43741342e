//! What one exchange with WeChat Pay tells the fleet metrics (`crate::metrics`): which API
//! (read from the request's method and path: this module knows WeChat Pay's paths, the
//! metrics do not) and how it ended. Never the path itself: it carries order numbers.

use reqwest::Method;

use super::{NoAnswer, Reply, Request};
use crate::metrics::{self, CallOutcome, Endpoint};

/// The API `req` calls, for every region and mode (`region.rs` has the paths).
pub(super) fn endpoint(req: &Request<'_>) -> Endpoint {
    let path = req.path_with_query.split('?').next().unwrap_or_default();
    let get = req.method == Method::GET;
    if path.ends_with("/certificates") {
        Endpoint::Certificates
    } else if path.ends_with("/native") {
        Endpoint::Place
    } else if path.contains("/out-trade-no/") && path.ends_with("/close") {
        Endpoint::Close
    } else if path.contains("/out-trade-no/") && get {
        Endpoint::Query
    } else if path.contains("/refunds") {
        if get {
            Endpoint::RefundQuery
        } else {
            Endpoint::Refund
        }
    } else {
        Endpoint::Other
    }
}

/// An exchange that ended without an answer, or with an answer that is not 2xx (a 2xx is
/// told by whoever decides whether to believe it: [`believed`]).
pub(super) fn sent(req: &Request<'_>, result: &Result<Reply, NoAnswer>) {
    let outcome = match result {
        Ok(reply) if reply.is_success() => return,
        Ok(reply) => CallOutcome::of_status(reply.status),
        Err(NoAnswer::Sign(_)) => CallOutcome::NotSigned,
        Err(NoAnswer::Connect(_)) => CallOutcome::Unreachable,
        Err(NoAnswer::Timeout(_)) => CallOutcome::Timeout,
        Err(NoAnswer::Transport(_)) => CallOutcome::NoAnswer,
    };
    metrics::wechatpay_call(endpoint(req), outcome);
}

/// A 2xx answer was believed (`verified`) or not.
pub(crate) fn believed(req: &Request<'_>, reply: &Reply, verified: bool) {
    let outcome = if verified {
        CallOutcome::of_status(reply.status)
    } else {
        CallOutcome::Unverified
    };
    metrics::wechatpay_call(endpoint(req), outcome);
}

/// `req` is sent again within one call.
pub(super) fn retried(req: &Request<'_>) {
    metrics::wechatpay_retry(endpoint(req));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_of_every_kind_of_merchant_names_its_endpoint() {
        let cases = [
            ("POST", "/v3/pay/transactions/native", Endpoint::Place),
            (
                "POST",
                "/v3/pay/partner/transactions/native",
                Endpoint::Place,
            ),
            ("POST", "/v3/global/transactions/native", Endpoint::Place),
            (
                "GET",
                "/v3/pay/transactions/out-trade-no/T1?mchid=1",
                Endpoint::Query,
            ),
            (
                "GET",
                "/v3/global/transactions/out-trade-no/T1?sub_mchid=2&sp_mchid=1",
                Endpoint::Query,
            ),
            (
                "POST",
                "/v3/pay/transactions/out-trade-no/T1/close",
                Endpoint::Close,
            ),
            (
                "POST",
                "/v3/global/transactions/out-trade-no/T1/close",
                Endpoint::Close,
            ),
            ("POST", "/v3/refund/domestic/refunds", Endpoint::Refund),
            ("POST", "/v3/global/refunds", Endpoint::Refund),
            (
                "GET",
                "/v3/refund/domestic/refunds/R1",
                Endpoint::RefundQuery,
            ),
            (
                "GET",
                "/v3/global/refunds/out-refund-no/R1?mchid=1",
                Endpoint::RefundQuery,
            ),
            ("GET", "/v3/certificates", Endpoint::Certificates),
            ("GET", "/v3/global/certificates", Endpoint::Certificates),
            ("GET", "/v3/merchant/media", Endpoint::Other),
        ];
        for (method, path, expected) in cases {
            let req = if method == "GET" {
                Request::get(path)
            } else {
                Request::post(path, "{}")
            };
            assert_eq!(endpoint(&req), expected, "{method} {path}");
        }
    }
}
