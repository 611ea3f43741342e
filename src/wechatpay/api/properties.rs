//! Property tests (proptest) of the WeChat Pay answer parser under arbitrary answers: status,
//! body and `Wechatpay-*` headers. Nothing panics; an answer whose signature is not WeChat
//! Pay's over exactly these bytes (forged, tampered, stale, another key) never verifies; a
//! placement answer gives only a `weixin://` `code_url`; a query answer about another order
//! or another merchant is never taken as paid. The public parts (protocol, receipts) are in
//! `tests/properties/`; the default run is small and seeded (see there for `PROPTEST_*`).
//!
//! Test-only; it reads the models (`native.rs`), the answer (`http/answer.rs`) and the
//! verifier (`auth/`), and knows no HTTP.

use std::sync::OnceLock;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Map, Value, json};

use super::native::{read_placed, read_query};
use crate::config::Region;
use crate::money::Currency;
use crate::payment::{PaymentError, TradeState};
use crate::wechatpay::auth::{ResponseSignature, Verifier, VerifyError};
use crate::wechatpay::http::{ApiError, Reply};
use crate::wechatpay::region::{Api, test_api};
use crate::wechatpay::testkit::{
    CERT_SERIAL, NOW, PUB_KEY_ID, certificate_verifier, public_key_verifier, signed,
};

/// `cases` per property and a fixed seed, unless `PROPTEST_CASES` / `PROPTEST_RNG_SEED` say
/// otherwise; no regression files.
fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(0x5752_5052_494e_5421);
    }
    config.failure_persistence = None;
    config
}

/// The order every query asks about.
const NO: &str = "T20261126001";

/// The signature headers, as WeChat Pay names them.
const HEADERS: [&str; 5] = [
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
];

/// The four kinds of merchant.
fn apis() -> [Api; 4] {
    [
        test_api(Region::Mainland, false),
        test_api(Region::Mainland, true),
        test_api(Region::Global, false),
        test_api(Region::Global, true),
    ]
}

fn verifiers() -> &'static [Verifier; 2] {
    static VERIFIERS: OnceLock<[Verifier; 2]> = OnceLock::new();
    VERIFIERS.get_or_init(|| [public_key_verifier(), certificate_verifier()])
}

/// A reply as the HTTP client hands it over.
fn reply(status: u16, body: Vec<u8>, signature: Result<ResponseSignature, VerifyError>) -> Reply {
    Reply {
        status,
        body,
        request_id: Some("rid".into()),
        signature,
        clock_offset: None,
        received_at: NOW,
    }
}

/// Header values: the real ones of a signed answer now and then, else anything.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(NOW.to_string()),
        Just(PUB_KEY_ID.to_owned()),
        Just(CERT_SERIAL.to_owned()),
        Just("WECHATPAY2-SHA256-RSA2048".to_owned()),
        Just("WECHATPAY/SIGNTEST/AAAA".to_owned()),
        "[A-Za-z0-9+/=]{0,400}",
        any::<String>(),
    ]
}

/// Scalars and small objects with the query answer's member names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(&[NO, "1900000109", "1900000209", "SUCCESS", "weixin://x"][..])
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    let key = select(
        &[
            "code_url",
            "out_trade_no",
            "trade_state",
            "mchid",
            "sp_mchid",
            "sub_mchid",
            "amount",
            "total",
            "payer_total",
            "currency",
            "exchange_rate",
            "rate",
            "type",
            "code",
            "message",
        ][..],
    );
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(key.clone().prop_map(String::from), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// Three answers WeChat Pay really signed (public-key serial, certificate serial), once.
fn genuine() -> &'static [(Vec<u8>, ResponseSignature); 3] {
    static GENUINE: OnceLock<[(Vec<u8>, ResponseSignature); 3]> = OnceLock::new();
    GENUINE.get_or_init(|| {
        let placed = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=NwY5Mz9"}"#.to_vec();
        let paid = json!({"mchid": "1900000109", "appid": "wxsp", "out_trade_no": NO,
            "transaction_id": "4200", "trade_state": "SUCCESS", "amount": {"total": 3200}});
        let paid = paid.to_string().into_bytes();
        [
            (placed.clone(), signed(PUB_KEY_ID, NOW, &placed)),
            (paid.clone(), signed(CERT_SERIAL, NOW, &paid)),
            (Vec::new(), signed(PUB_KEY_ID, NOW, b"")),
        ]
    })
}

/// One change to a genuine answer: its body or one of its signature headers.
#[derive(Debug, Clone)]
enum Tamper {
    /// Byte `at` of the body xor `with` (not 0).
    Flip(Index, u8),
    /// Bytes appended to the body.
    Append(Vec<u8>),
    /// The body cut at `at` (shorter).
    Cut(Index),
    /// Another timestamp text (even the same second spelled otherwise).
    Timestamp(String),
    Nonce(String),
    /// A character of the Base64 signature changed.
    Signature(Index, char),
    Serial(String),
    SignatureType(String),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (any::<Index>(), 1..=u8::MAX).prop_map(|(i, x)| Tamper::Flip(i, x)),
        vec(any::<u8>(), 1..16).prop_map(Tamper::Append),
        any::<Index>().prop_map(Tamper::Cut),
        prop_oneof![
            (-10_000i64..10_000).prop_map(|d| (NOW + d).to_string()),
            Just(format!("0{NOW}")),
            Just(format!("{NOW} ")),
            Just(format!("+{NOW}")),
        ]
        .prop_map(Tamper::Timestamp),
        "[A-Za-z0-9]{0,40}".prop_map(Tamper::Nonce),
        (any::<Index>(), proptest::char::range('+', 'z'))
            .prop_map(|(i, c)| Tamper::Signature(i, c)),
        prop_oneof![
            Just(CERT_SERIAL.to_owned()),
            Just(PUB_KEY_ID.to_owned()),
            "[A-Z0-9_]{1,40}"
        ]
        .prop_map(Tamper::Serial),
        "[A-Za-z0-9-]{0,30}".prop_map(Tamper::SignatureType),
    ]
}

/// `body` and `sig` changed as `tamper` says; `None` where the change changes nothing.
fn tampered(
    body: &[u8],
    sig: &ResponseSignature,
    tamper: &Tamper,
) -> Option<(Vec<u8>, ResponseSignature)> {
    let (mut body, mut sig) = (body.to_vec(), sig.clone());
    match tamper.clone() {
        Tamper::Flip(_, _) | Tamper::Cut(_) if body.is_empty() => return None,
        Tamper::Flip(at, with) => {
            let at = at.index(body.len());
            body[at] ^= with;
        }
        Tamper::Append(more) => body.extend(more),
        Tamper::Cut(at) => {
            let at = at.index(body.len());
            body.truncate(at);
        }
        Tamper::Timestamp(t) if t == sig.timestamp => return None,
        Tamper::Timestamp(t) => sig.timestamp = t,
        Tamper::Nonce(n) if n == sig.nonce => return None,
        Tamper::Nonce(n) => sig.nonce = n,
        Tamper::Signature(at, c) => {
            let mut chars: Vec<char> = sig.signature.chars().collect();
            let at = at.index(chars.len());
            if chars[at] == c {
                return None;
            }
            chars[at] = c;
            sig.signature = chars.into_iter().collect();
        }
        // Both fixture serials name the same key (WeChat Pay's): still its signature.
        Tamper::Serial(s) if [PUB_KEY_ID, CERT_SERIAL].contains(&s.as_str()) => return None,
        Tamper::Serial(s) => sig.serial = s,
        Tamper::SignatureType(t) if sig.signature_type.as_ref() == Some(&t) => return None,
        Tamper::SignatureType(t) => sig.signature_type = Some(t),
    }
    Some((body, sig))
}

/// A member of a query answer naming who it is about: absent, ours, another's or no string.
fn identity(ours: &'static str) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::from(ours))),
        Just(Some(Value::from("1900000209"))),
        Just(Some(Value::from("1900000109"))),
        "[0-9]{0,12}".prop_map(|s| Some(Value::from(s))),
        Just(Some(json!(1900000109))),
        Just(Some(Value::Null)),
    ]
}

/// A query answer that may be about this order of this merchant, or not.
fn query_answer() -> impl Strategy<Value = Value> {
    let ids = (
        identity("1900000109"),
        identity("1900000109"),
        identity("1900000209"),
    );
    let no = prop_oneof![
        3 => Just(Some(Value::from(NO))),
        1 => Just(None),
        1 => Just(Some(Value::from(format!("{NO} ")))),
        1 => Just(Some(Value::from(NO.to_lowercase()))),
        1 => "[A-Za-z0-9]{6,32}".prop_map(|s| Some(Value::from(s))),
    ];
    let state = select(
        &[
            "SUCCESS",
            "REFUND",
            "NOTPAY",
            "CLOSED",
            "USERPAYING",
            "success",
        ][..],
    );
    (ids, no, state, json_value()).prop_map(|((mchid, sp, sub), no, state, extra)| {
        let mut answer = Map::new();
        for (name, value) in [
            ("mchid", mchid),
            ("sp_mchid", sp),
            ("sub_mchid", sub),
            ("out_trade_no", no),
        ] {
            if let Some(value) = value {
                answer.insert(name.to_owned(), value);
            }
        }
        answer.insert("trade_state".into(), state.into());
        answer.insert("amount".into(), json!({"total": 3200}));
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                answer.entry(k).or_insert(v);
            }
        }
        Value::Object(answer)
    })
}

/// Whether `answer` names exactly this order of the merchant of `api`, and nobody else.
fn about_us(api: &Api, answer: &Value) -> bool {
    let is = |name: &str, ours: &str| answer.get(name).and_then(Value::as_str) == Some(ours);
    is("out_trade_no", NO)
        && api
            .merchant_fields()
            .iter()
            .all(|(name, ours)| is(name, ours))
        && api
            .foreign_fields()
            .iter()
            .all(|name| answer.get(*name).is_none())
}

proptest! {
    #![proptest_config(config(256))]

    /// Any status, body and headers: nothing panics, nothing verifies, and whatever the
    /// models make of the body is a `weixin://` URL or an error.
    #[test]
    fn arbitrary_answers_never_panic_and_never_verify(
        status in any::<u16>(),
        body in body(),
        headers in btree_map(select(&HEADERS[..]), header_value(), 0..=5),
    ) {
        let signature = ResponseSignature::from_headers(|name| headers.get(name).map(String::as_str));
        let reply = reply(status, body, signature);
        for verifier in verifiers() {
            prop_assert!(reply.verify(verifier, NOW).is_err());
        }
        if let Ok(placed) = read_placed(&reply) {
            prop_assert!(placed.code_url.starts_with("weixin://"));
            prop_assert!(placed.code_url.bytes().all(|b| b.is_ascii_graphic()));
        }
        for api in apis() {
            let _ = read_query(NO, &api, &Currency::CNY, &reply);
        }
        let _ = PaymentError::from(ApiError::read(&reply));
    }

    /// A genuine answer with anything changed — one body byte, its length, the timestamp,
    /// the nonce, one character of the signature, the serial, the signature type — does not
    /// verify with either trust mode.
    #[test]
    fn tampered_answers_never_verify(which in 0usize..3, tamper in tamper()) {
        let (body, sig) = &genuine()[which];
        let verifier = &verifiers()[usize::from(sig.serial == CERT_SERIAL)];
        let genuine = reply(200, body.clone(), Ok(sig.clone())).verify(verifier, NOW);
        prop_assert!(genuine.is_ok(), "the genuine answer: {:?}", genuine);
        let Some((body, sig)) = tampered(body, sig, &tamper) else {
            return Ok(());
        };
        let reply = reply(200, body, Ok(sig));
        for verifier in verifiers() {
            prop_assert!(reply.verify(verifier, NOW).is_err(), "{:?} verified", tamper);
        }
    }

    /// A (verified) query answer is read as paid — or as anything — only when it names this
    /// order and this merchant in this mode; about another it is an error, never `Paid`.
    #[test]
    fn answers_about_another_order_or_merchant_are_never_paid(answer in query_answer()) {
        let body = answer.to_string().into_bytes();
        for api in apis() {
            let read = read_query(NO, &api, &Currency::CNY, &reply(200, body.clone(), Err(VerifyError::MissingHeader("test"))));
            if !about_us(&api, &answer) {
                prop_assert!(matches!(read, Err(PaymentError::Transient { .. })), "{answer} read as {read:?}");
            } else if matches!(answer["trade_state"].as_str(), Some("SUCCESS" | "REFUND")) {
                prop_assert!(matches!(read, Ok(TradeState::Paid(_))), "{answer} read as {read:?}");
            }
        }
    }
}
