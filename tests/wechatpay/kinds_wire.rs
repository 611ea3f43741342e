//! What WeChat Pay expects on the wire from each merchant kind, written out independently of
//! wxprint and of the simulator's own tables, and checked against the simulator's call log:
//! the paths, the identity fields of the Native body, the query string and the close body,
//! `trade_type` and `merchant_category_code` only on Global, `amount{total, currency}` in the
//! currency's minor unit. It knows nothing of the daemon or the socket.

use serde_json::{Map, Value, json};

use crate::wechatpay_sim::{
    APPID, Endpoint, GLOBAL_CLOSE_MIN_AGE, GLOBAL_MCC, Kind, MCHID, Region, RequestLog, SUB_APPID,
    SUB_MCHID, Simulator, Trust,
};

/// Every field that names a merchant in some kind's bodies.
const IDENTITY_FIELDS: [&str; 6] = [
    "appid",
    "mchid",
    "sp_appid",
    "sp_mchid",
    "sub_appid",
    "sub_mchid",
];

/// The prefix of the kind's order paths.
pub(crate) fn transactions(kind: Kind) -> &'static str {
    match kind {
        Kind::MainlandDirect => "/v3/pay/transactions",
        Kind::MainlandPartner => "/v3/pay/partner/transactions",
        Kind::GlobalCommon | Kind::GlobalInstitutional => "/v3/global/transactions",
    }
}

/// The platform-certificate download path of the kind's region.
fn certificates(kind: Kind) -> &'static str {
    match kind.region() {
        Region::Mainland => "/v3/certificates",
        Region::Global => "/v3/global/certificates",
    }
}

/// The identity fields of a Native body: `appid`+`mchid`, or the provider's
/// `sp_appid`+`sp_mchid` and the sub-merchant's `sub_mchid`+`sub_appid` (wxprint is
/// configured with a `sub_appid`, so it must send it).
fn place_identity(kind: Kind) -> Value {
    if kind.has_sub_merchant() {
        json!({"sp_appid": APPID, "sp_mchid": MCHID, "sub_appid": SUB_APPID, "sub_mchid": SUB_MCHID})
    } else {
        json!({"appid": APPID, "mchid": MCHID})
    }
}

/// The merchant fields of a query string or close body.
fn trade_identity(kind: Kind) -> Value {
    if kind.has_sub_merchant() {
        json!({"sp_mchid": MCHID, "sub_mchid": SUB_MCHID})
    } else {
        json!({"mchid": MCHID})
    }
}

/// The Native calls placing `no`: path, identity, Global-only fields and the amount, every
/// retry byte-identical to the first. Returns how many there were.
pub(crate) fn assert_native(
    sim: &Simulator,
    kind: Kind,
    no: &str,
    total: i64,
    currency: &str,
) -> usize {
    let calls: Vec<RequestLog> = sim
        .requests_to(Endpoint::Native)
        .into_iter()
        .filter(|r| r.json()["out_trade_no"] == no)
        .collect();
    assert!(!calls.is_empty(), "{kind:?} {no}: placed");
    let call = &calls[0];
    for retry in &calls[1..] {
        assert_eq!(
            retry.body, call.body,
            "{kind:?} {no}: the stored body resent"
        );
    }
    let body = call.json();
    let what = format!("{kind:?} {no}: {}", call.body);
    assert_eq!(call.method, "POST", "{what}");
    assert_eq!(
        call.path,
        format!("{}/native", transactions(kind)),
        "{what}"
    );
    let identity = place_identity(kind);
    for field in IDENTITY_FIELDS {
        assert_eq!(body.get(field), identity.get(field), "{field} in {what}");
    }
    assert_eq!(
        body["amount"],
        json!({"total": total, "currency": currency}),
        "{what}"
    );
    assert_eq!(body["description"], "Latte x2", "{what}");
    assert_eq!(
        body["notify_url"], "https://merchant.example/wechatpay/notify",
        "{what}"
    );
    assert!(body["time_expire"].is_string(), "{what}");
    let (trade_type, mcc) = match kind.region() {
        Region::Mainland => (None, None),
        Region::Global => (Some(json!("NATIVE")), Some(json!(GLOBAL_MCC))),
    };
    assert_eq!(body.get("trade_type").cloned(), trade_type, "{what}");
    assert_eq!(body.get("merchant_category_code").cloned(), mcc, "{what}");
    calls.len()
}

/// Every query about `no`: `GET {prefix}/out-trade-no/{no}` with exactly the kind's
/// merchant parameters; returns how many there were.
pub(crate) fn assert_queries(sim: &Simulator, kind: Kind, no: &str) -> usize {
    let path = format!("{}/out-trade-no/{no}", transactions(kind));
    let calls: Vec<RequestLog> = sim
        .requests_to(Endpoint::Query)
        .into_iter()
        .filter(|r| r.path_only() == path)
        .collect();
    let mut expected: Vec<(String, String)> = as_pairs(&trade_identity(kind));
    expected.sort();
    for call in &calls {
        assert_eq!(call.method, "GET", "{kind:?}: {}", call.path);
        let mut params = call.query_params();
        params.sort();
        assert_eq!(params, expected, "{kind:?}: {}", call.path);
    }
    assert!(!calls.is_empty(), "{kind:?} {no}: polled at {path}");
    calls.len()
}

/// Every close of `no`: the kind's path and body, answered 204, and on Global never before
/// the order was five minutes old (simulator clock). Returns how many there were.
pub(crate) fn assert_closes(sim: &Simulator, kind: Kind, no: &str) -> usize {
    let path = format!("{}/out-trade-no/{no}/close", transactions(kind));
    let calls: Vec<RequestLog> = sim
        .requests_to(Endpoint::Close)
        .into_iter()
        .filter(|r| r.path_only() == path)
        .collect();
    let created = sim.order(no).expect("the order exists").created_at;
    for call in &calls {
        let what = format!("{kind:?} close of {no}: {}", call.body);
        assert_eq!(call.method, "POST", "{what}");
        assert_eq!(call.path, path, "no query string: {what}");
        assert_eq!(call.json(), trade_identity(kind), "{what}");
        assert_eq!(call.status, Some(204), "{what}: {:?}", call.error_code);
        if kind.region() == Region::Global {
            let age = call.at.duration_since(created).unwrap_or_default();
            assert!(age >= GLOBAL_CLOSE_MIN_AGE, "{what}: sent at age {age:?}");
        }
    }
    assert!(!calls.is_empty(), "{kind:?} {no}: closed at {path}");
    calls.len()
}

/// Every call the daemon made was answered with a 2xx (a path, identity or body of another
/// kind is refused), and certificates were fetched from the region's path only.
pub(crate) fn assert_all_accepted(sim: &Simulator, kind: Kind, trust: Trust) {
    let calls = sim.requests();
    for call in &calls {
        assert!(
            call.succeeded(),
            "{kind:?} {trust:?}: {} {} → {:?} {:?} {}",
            call.method,
            call.path,
            call.status,
            call.error_code,
            call.response_body
        );
    }
    let downloads: Vec<&RequestLog> = calls
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::Certificates))
        .collect();
    for call in &downloads {
        assert_eq!(call.path_only(), certificates(kind), "{kind:?}");
    }
    if trust == Trust::Certificate {
        assert!(!downloads.is_empty(), "{kind:?}: certificates downloaded");
    }
}

fn as_pairs(object: &Value) -> Vec<(String, String)> {
    let empty = Map::new();
    object
        .as_object()
        .unwrap_or(&empty)
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect()
}
