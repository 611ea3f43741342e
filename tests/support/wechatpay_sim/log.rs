//! The call log: every request the simulator received, the fault it met and the answer it
//! got (also when the answer was computed but never sent), for tests to inspect.

use std::time::{Instant, SystemTime};

use super::Inner;
use super::faults::{Endpoint, Fault};
use super::http::{HttpRequest, header, percent_decode};
use super::reply::Reply;

/// One call the simulator received.
#[derive(Debug, Clone)]
pub struct RequestLog {
    pub method: String,
    /// The request target as sent: path and query.
    pub path: String,
    /// `None` for unknown paths.
    pub endpoint: Option<Endpoint>,
    /// `None` when no answer was sent (`Timeout`, `Reset`, `LoseAnswer`, `HangAfterHandling`).
    pub status: Option<u16>,
    /// The `code` of a JSON error answer (also when it was computed but not sent).
    pub error_code: Option<String>,
    pub fault: Option<Fault>,
    /// Arrival, simulator clock.
    pub at: SystemTime,
    /// Arrival, monotonic (the request read whole).
    pub instant: Instant,
    /// When its first bytes reached the simulator's socket, monotonic (the kernel's time;
    /// [`Self::instant`] when the kernel gave none).
    pub received: Instant,
    /// When the answer's last byte was written to the connection, monotonic; `None` while
    /// it is not (or never) sent. From [`Self::received`] to here the call was the
    /// simulator's: the real-path bench takes that time off its end-to-end figure.
    pub written: Option<Instant>,
    /// All request headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The answer's body (also when it was computed but not sent).
    pub response_body: String,
    pub request_id: String,
}

impl RequestLog {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    pub fn wechatpay_serial(&self) -> Option<&str> {
        self.header("wechatpay-serial")
    }

    pub fn user_agent(&self) -> Option<&str> {
        self.header("user-agent")
    }

    /// The query string's parameters, percent-decoded, in order (`mchid`, or `sp_mchid` and
    /// `sub_mchid`, on a query call).
    pub fn query_params(&self) -> Vec<(String, String)> {
        let query = self.path.split_once('?').map_or("", |(_, q)| q);
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect()
    }

    /// The first query parameter of that name, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_params()
            .into_iter()
            .find_map(|(k, v)| (k == name).then_some(v))
    }

    /// The path without its query string.
    pub fn path_only(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }

    /// The request body as JSON (`Null` when empty or not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Whether the call was answered with a 2xx.
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200..=299))
    }
}

impl Inner {
    /// Take the fault for this call, if one is queued, and log the call's arrival.
    pub(super) fn arrive(
        &self,
        req: &HttpRequest,
        endpoint: Option<Endpoint>,
    ) -> (Option<Fault>, usize) {
        let now = Instant::now();
        let mut state = self.lock();
        let fault = state.take_fault(endpoint);
        state.log.push(RequestLog {
            method: req.method.clone(),
            path: req.target.clone(),
            endpoint,
            status: None,
            error_code: None,
            fault: fault.clone(),
            at: self.now(),
            instant: now,
            received: req.received.unwrap_or(now),
            written: None,
            headers: req.headers.clone(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            response_body: String::new(),
            request_id: String::new(),
        });
        (fault, state.log.len() - 1)
    }

    /// The answer to the call `request_id` has been written to its connection.
    pub(super) fn answer_written(&self, request_id: &str) {
        let written = Instant::now();
        let mut state = self.lock();
        if let Some(call) = state
            .log
            .iter_mut()
            .rev()
            .find(|c| c.request_id == request_id)
        {
            call.written = Some(written);
        }
    }

    /// Record the answer computed for a call; `sent` is false when the client never gets it.
    pub(super) fn log_answer(
        &self,
        index: usize,
        reply: Option<&Reply>,
        sent: bool,
        request_id: &str,
    ) {
        let mut state = self.lock();
        let entry = &mut state.log[index];
        entry.request_id = request_id.to_owned();
        if let Some(reply) = reply {
            entry.status = sent.then_some(reply.status);
            entry.response_body = String::from_utf8_lossy(&reply.body).into_owned();
            entry.error_code = reply.error_code.clone();
        }
    }
}
