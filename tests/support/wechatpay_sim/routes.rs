//! One call from arrival to answer: its route (and whether the merchant's kind may call that
//! family of paths), the fault waiting for it, the header and signature checks, and the
//! handler of its endpoint (`place.rs`, `trade.rs`, `certificates.rs`, `refunds.rs`,
//! `refund_answers.rs`) run on the real orders and refunds or, for signature faults, a
//! scratch copy.

use super::Inner;
use super::faults::{Endpoint, Fault};
use super::http::{Answer, HttpRequest, header, percent_decode};
use super::ids::request_id;
use super::kind::{Api, Kind, Region};
use super::orders::pay_order;
use super::reply::Reply;

/// Where each region applies for refunds (`POST`) and queries them (`GET …/{no}`).
const REFUNDS: [(Region, &str, &str); 2] = [
    (
        Region::Mainland,
        "/v3/refund/domestic/refunds",
        "/v3/refund/domestic/refunds/",
    ),
    (
        Region::Global,
        "/v3/global/refunds",
        "/v3/global/refunds/out-refund-no/",
    ),
];

/// The route of a request, with the family of paths it used.
enum Route {
    Native(Api),
    Query {
        api: Api,
        no: String,
        query: String,
    },
    Close {
        api: Api,
        no: String,
    },
    Certificates(Region),
    RefundApply(Region),
    RefundQuery {
        region: Region,
        no: String,
        query: String,
    },
    MethodNotAllowed,
    NotFound,
}

impl Route {
    fn of(method: &str, target: &str) -> Route {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let expect = |m: &str, route: Route| {
            if method == m {
                route
            } else {
                Route::MethodNotAllowed
            }
        };
        if path == "/v3/certificates" {
            return expect("GET", Route::Certificates(Region::Mainland));
        }
        if path == "/v3/global/certificates" {
            return expect("GET", Route::Certificates(Region::Global));
        }
        for (region, apply, query_prefix) in REFUNDS {
            if path == apply {
                return expect("POST", Route::RefundApply(region));
            }
            if let Some(no) = path.strip_prefix(query_prefix) {
                if no.is_empty() || no.contains('/') {
                    return Route::NotFound;
                }
                return expect(
                    "GET",
                    Route::RefundQuery {
                        region,
                        no: percent_decode(no),
                        query: query.to_owned(),
                    },
                );
            }
        }
        for api in Api::ALL {
            let Some(rest) = path.strip_prefix(api.transactions()) else {
                continue;
            };
            if rest == "/native" {
                return expect("POST", Route::Native(api));
            }
            let Some(rest) = rest.strip_prefix("/out-trade-no/") else {
                continue;
            };
            return match rest.strip_suffix("/close") {
                Some(no) if !no.is_empty() && !no.contains('/') => expect(
                    "POST",
                    Route::Close {
                        api,
                        no: percent_decode(no),
                    },
                ),
                None if !rest.is_empty() && !rest.contains('/') => expect(
                    "GET",
                    Route::Query {
                        api,
                        no: percent_decode(rest),
                        query: query.to_owned(),
                    },
                ),
                _ => Route::NotFound,
            };
        }
        Route::NotFound
    }

    fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Route::Native(_) => Some(Endpoint::Native),
            Route::Query { .. } => Some(Endpoint::Query),
            Route::Close { .. } => Some(Endpoint::Close),
            Route::Certificates(_) => Some(Endpoint::Certificates),
            Route::RefundApply(_) => Some(Endpoint::Refund),
            Route::RefundQuery { .. } => Some(Endpoint::RefundQuery),
            Route::MethodNotAllowed | Route::NotFound => None,
        }
    }

    /// Why this merchant may not call this route, if it may not (400 `INVALID_REQUEST`).
    fn refusal(&self, kind: Kind) -> Option<&'static str> {
        match self {
            Route::Native(api) | Route::Query { api, .. } | Route::Close { api, .. } => {
                api.refusal(kind)
            }
            Route::Certificates(region) if *region != kind.region() => Some(match region {
                Region::Mainland => "境外商户请调用/v3/global/certificates",
                Region::Global => "境内商户请调用/v3/certificates",
            }),
            Route::RefundApply(region) | Route::RefundQuery { region, .. }
                if *region != kind.region() =>
            {
                Some(match region {
                    Region::Mainland => "境外商户请调用/v3/global/refunds接口",
                    Region::Global => "境内商户请调用/v3/refund/domestic/refunds接口",
                })
            }
            _ => None,
        }
    }
}

impl Inner {
    /// Everything the simulator does with one request.
    pub(super) async fn dispatch(&self, req: &HttpRequest) -> (Answer, String) {
        let route = Route::of(&req.method, &req.target);
        let (fault, index) = self.arrive(req, route.endpoint());
        let request_id = request_id();
        let reply = match &fault {
            Some(Fault::Timeout) => {
                self.log_answer(index, None, false, &request_id);
                return (Answer::Hang, request_id);
            }
            Some(Fault::Reset) => {
                self.log_answer(index, None, false, &request_id);
                return (Answer::Reset, request_id);
            }
            Some(Fault::Status500) => Reply::error(500, "SYSTEM_ERROR", "系统错误"),
            Some(Fault::Status502) => Reply {
                content_type: "text/html",
                ..Reply::empty(502)
            }
            .with_body(
                b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>stgw</center>\r\n</body>\r\n</html>\r\n",
            ),
            Some(Fault::Status202) => self.signed(Reply::empty(202), req, None),
            Some(Fault::Status429) => Reply::error(429, "FREQUENCY_LIMITED", "频率超限"),
            Some(Fault::Error {
                status,
                code,
                message,
            }) => {
                let reply = Reply::error(*status, code, message);
                if reply.is_2xx() {
                    self.signed(reply, req, None)
                } else {
                    reply
                }
            }
            other => {
                if let Some(Fault::Delay(d)) = other {
                    tokio::time::sleep(*d).await;
                }
                let dry_run = other.as_ref().is_some_and(Fault::spoils_signature);
                let mut reply = self.handle(req, &route, dry_run);
                if let Some(Fault::Rewrite(members)) = other
                    && reply.is_2xx()
                {
                    reply = rewrite(reply, members);
                }
                if reply.is_2xx() {
                    self.signed(reply, req, other.as_ref())
                } else {
                    reply
                }
            }
        };
        let sent = !matches!(fault, Some(Fault::LoseAnswer | Fault::HangAfterHandling));
        self.log_answer(index, Some(&reply), sent, &request_id);
        let answer = match fault {
            Some(Fault::LoseAnswer) => Answer::Reset,
            Some(Fault::HangAfterHandling) => Answer::Hang,
            _ => Answer::Respond(reply),
        };
        (answer, request_id)
    }

    /// Check the request, then serve it (on a scratch copy of the orders if `dry_run`).
    fn handle(&self, req: &HttpRequest, route: &Route, dry_run: bool) -> Reply {
        match route {
            Route::NotFound => return Reply::error(404, "NOT_FOUND", "请求的资源不存在"),
            Route::MethodNotAllowed => {
                return Reply::error(405, "METHOD_NOT_ALLOWED", "请求方法不被允许");
            }
            _ => {}
        }
        if let Err(reply) = check_headers(req) {
            return reply;
        }
        let now = self.now();
        let mut state = self.lock();
        if let Err(reply) = self.authenticate(req, &mut state.nonces, now) {
            return reply;
        }
        if let Some(message) = route.refusal(self.config.kind()) {
            return Reply::error(400, "INVALID_REQUEST", message);
        }
        let state = &mut *state;
        let mut scratch;
        let mut scratch_refunds;
        let (orders, refunds) = if dry_run {
            scratch = state.orders.clone();
            scratch_refunds = state.refunds.clone();
            if let (true, Route::Query { no, .. }) = (state.forge_paid, route)
                && let Some(order) = scratch.get_mut(no.as_str())
            {
                pay_order(order, now);
            }
            (&mut scratch, &mut scratch_refunds)
        } else {
            (&mut state.orders, &mut state.refunds)
        };
        match route {
            Route::Native(_) => self.native(req, orders, now),
            Route::Query { no, query, .. } => self.query(no, query, orders),
            Route::Close { no, .. } => self.close(no, req, orders, now),
            Route::Certificates(_) => self.certificates(),
            Route::RefundApply(_) => {
                self.refund_apply(req, orders, refunds, state.refunds_end_as, now)
            }
            Route::RefundQuery { no, query, .. } => {
                self.refund_query(no, query, orders, refunds, now)
            }
            Route::MethodNotAllowed | Route::NotFound => unreachable!("answered above"),
        }
    }
}

/// A JSON answer with `members` set (a non-JSON or empty answer is left as it is).
fn rewrite(mut reply: Reply, members: &[(String, serde_json::Value)]) -> Reply {
    let Ok(serde_json::Value::Object(mut object)) = serde_json::from_slice(&reply.body) else {
        return reply;
    };
    for (name, value) in members {
        object.insert(name.clone(), value.clone());
    }
    reply.body = serde_json::to_vec(&object).unwrap_or_default();
    reply
}

/// `Accept`, `User-Agent` and (with a body) `Content-Type`.
fn check_headers(req: &HttpRequest) -> Result<(), Reply> {
    let invalid = |message: &str| Reply::error(400, "INVALID_REQUEST", message);
    if !header(&req.headers, "accept").is_some_and(|a| a.contains("application/json")) {
        return Err(invalid("Http头Accept错误，应为application/json"));
    }
    if header(&req.headers, "user-agent").is_none_or(|ua| ua.trim().is_empty()) {
        return Err(invalid("Http头缺少User-Agent"));
    }
    let json_body = header(&req.headers, "content-type").is_some_and(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if req.method == "POST" && !json_body {
        return Err(invalid("Http头Content-Type错误，应为application/json"));
    }
    Ok(())
}
