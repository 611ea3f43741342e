//! The socket protocol parser (`protocol::parse_request`) under arbitrary input: it never
//! panics, whatever it accepts survives its own serde form, a non-object where the protocol
//! has an object is refused, and text over its documented limit is refused (the limits of
//! `docs/protocol.md`, "3. Values", counted in characters).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Value, json};
use wxprint::protocol::{Checkout, MAX_AMOUNT, OPS, Op, RequestError, parse_request};

use crate::config;

/// Every field name of the protocol: random objects use them, so they get past the shape
/// check into the deeper code now and then.
const NAMES: [&str; 19] = [
    "op",
    "id",
    "order",
    "out_trade_no",
    "description",
    "amount",
    "total",
    "currency",
    "attach",
    "time_expire",
    "goods_tag",
    "receipt",
    "title",
    "lines",
    "name",
    "quantity",
    "footer",
    "follow",
    "loopback",
];

/// Characters a POS may send, and many it should not (controls, emoji, any scalar value).
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => proptest::char::range('\u{4e00}', '\u{9fa5}'),
        1 => proptest::char::range('\u{a0}', '\u{17f}'),
        1 => proptest::char::range('\u{1f300}', '\u{1f64f}'),
        1 => proptest::char::range('\0', '\u{1f}'),
        1 => proptest::char::range('\u{7f}', '\u{9f}'),
        1 => any::<char>(),
    ]
}

/// Characters the protocol takes in text: no control character, none of 4 bytes in UTF-8.
fn clean_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => proptest::char::range(' ', '~'),
        2 => proptest::char::range('\u{4e00}', '\u{9fa5}'),
        1 => proptest::char::range('\u{a0}', '\u{17f}'),
        1 => proptest::char::range('\u{3000}', '\u{303f}'),
    ]
}

fn text(max: usize) -> impl Strategy<Value = String> {
    vec(any_char(), 0..=max).prop_map(String::from_iter)
}

/// Clean text of `min` (0 or 1) to `max` characters; starting with a letter when `min` is 1.
fn clean_text(min: usize, max: usize) -> BoxedStrategy<String> {
    let rest = vec(clean_char(), 0..=max - min).prop_map(String::from_iter);
    match min {
        0 => rest.boxed(),
        _ => ("[a-z]", rest)
            .prop_map(|(first, rest)| first + &rest)
            .boxed(),
    }
}

/// Any JSON value: scalars (huge and negative numbers, floats, odd strings), arrays and
/// objects whose keys are often protocol field names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text(12).prop_map(Value::from),
        select(&OPS[..]).prop_map(Value::from),
    ];
    let key = prop_oneof![select(&NAMES[..]).prop_map(String::from), text(6)];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A request with a known `op` and arbitrary other members.
fn request_like() -> impl Strategy<Value = Value> {
    (select(&OPS[..]), json_value()).prop_map(|(op, rest)| {
        let mut map = match rest {
            Value::Object(map) => map,
            other => Map::from_iter([("out_trade_no".to_owned(), other)]),
        };
        map.insert("op".into(), op.into());
        Value::Object(map)
    })
}

/// One receipt line: name, quantity.
fn line_head() -> impl Strategy<Value = (String, u32)> {
    (clean_text(1, 64), 1..=u32::MAX)
}

/// A receipt whose lines (when given) add up to `total`.
fn receipt(total: i64) -> impl Strategy<Value = Value> {
    let others = vec((line_head(), -1_000_000i64..=1_000_000), 0..3);
    let lines = proptest::option::of((others, line_head())).prop_map(move |lines| {
        lines.map(|(others, (name, quantity))| {
            let last = total - others.iter().map(|(_, a)| a).sum::<i64>();
            let mut lines: Vec<Value> = others
                .into_iter()
                .map(|((n, q), a)| json!({"name": n, "quantity": q, "amount": a}))
                .collect();
            lines.push(json!({"name": name, "quantity": quantity, "amount": last}));
            lines
        })
    });
    (
        proptest::option::of(clean_text(0, 64)),
        lines,
        proptest::option::of(clean_text(0, 256)),
    )
        .prop_map(
            |(title, lines, footer)| json!({"title": title, "lines": lines, "footer": footer}),
        )
}

/// A valid `checkout` request, optional members present, `null` or absent at random.
fn valid_checkout() -> impl Strategy<Value = Value> {
    let order = (
        "[0-9A-Za-z_|*-]{6,32}",
        clean_text(1, 127),
        1..=MAX_AMOUNT,
        proptest::option::of(clean_text(0, 128)),
        proptest::option::of(clean_text(0, 32)),
        proptest::option::of(Just("2026-11-26T12:10:00+08:00")),
    );
    let extras = (
        proptest::option::of(clean_text(0, 64)),
        any::<Option<bool>>(),
        any::<bool>(),
    );
    (order, extras, any::<bool>()).prop_flat_map(|(order, extras, with_receipt)| {
        let (no, description, total, attach, goods_tag, time_expire) = order;
        let (id, follow, loopback) = extras;
        let base = json!({
            "op": "checkout", "id": id, "loopback": loopback,
            "order": {"out_trade_no": no, "description": description, "amount": {"total": total},
                      "attach": attach, "goods_tag": goods_tag, "time_expire": time_expire},
        });
        let receipt = receipt(total).prop_map(Some);
        let receipt = if with_receipt {
            receipt.boxed()
        } else {
            Just(None).boxed()
        };
        receipt.prop_map(move |receipt| {
            let mut request = base.clone();
            if let Some(receipt) = receipt {
                request["receipt"] = receipt;
            }
            if let Some(follow) = follow {
                request["follow"] = follow.into();
            }
            request
        })
    })
}

/// Every JSON pointer in `value` ("" for the value itself).
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    out.push(at.to_owned());
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| pointers(v, &format!("{at}/{k}"), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| pointers(v, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// `request` with the member at one of its pointers replaced, removed, or given a sibling.
fn mutated(request: Value, at: Index, with: Value, how: u8) -> Value {
    let mut all = Vec::new();
    pointers(&request, "", &mut all);
    let mut request = request;
    let pointer = all[at.index(all.len())].clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", ""));
    match (how % 3, request.pointer_mut(parent)) {
        (0, _) | (_, None) => match request.pointer_mut(&pointer) {
            Some(slot) => *slot = with,
            None => request = with,
        },
        (1, Some(Value::Object(map))) => drop(map.remove(key)),
        (_, Some(Value::Object(map))) => drop(map.insert(format!("{key}_"), with)),
        (_, Some(slot)) => *slot = with,
    }
    request
}

/// Whatever the parser accepts, it accepts again from its own serde form, unchanged.
fn assert_round_trip(line: &[u8]) -> Result<(), TestCaseError> {
    let Ok(request) = parse_request(line) else {
        return Ok(());
    };
    let again = parse_request(request.to_json().as_bytes());
    prop_assert_eq!(again.as_ref(), Ok(&request), "{}", request.to_json());
    if let Op::Checkout(checkout) = &request.op {
        let value = serde_json::to_value(checkout.as_ref()).expect("plain data");
        let back: Checkout = serde_json::from_value(value).expect("its own serde form");
        prop_assert_eq!(&back, checkout.as_ref());
    }
    Ok(())
}

/// The field an `invalid_request` names.
fn refused_field(line: &str) -> Result<String, TestCaseError> {
    match parse_request(line.as_bytes()) {
        Err((_, RequestError::InvalidRequest { field, .. })) => Ok(field),
        other => Err(TestCaseError::fail(format!(
            "{line}: expected invalid_request, got {other:?}"
        ))),
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        assert_round_trip(&bytes)?;
    }

    #[test]
    fn arbitrary_json_never_panics(value in prop_oneof![json_value(), request_like()]) {
        assert_round_trip(value.to_string().as_bytes())?;
    }

    #[test]
    fn mutated_checkouts_never_panic(
        request in valid_checkout(),
        at in any::<Index>(),
        with in json_value(),
        how in any::<u8>(),
    ) {
        let line = mutated(request, at, with, how).to_string();
        assert_round_trip(line.as_bytes())?;
        // Cut anywhere, or with a byte flipped: still no panic.
        let cut = at.index(line.len() + 1);
        assert_round_trip(&line.as_bytes()[..cut])?;
        let mut flipped = line.into_bytes();
        if let Some(b) = flipped.get_mut(cut) {
            *b ^= how | 1;
        }
        assert_round_trip(&flipped)?;
    }

    #[test]
    fn valid_checkouts_are_accepted_and_round_trip(request in valid_checkout()) {
        let line = request.to_string();
        let parsed = parse_request(line.as_bytes());
        prop_assert!(matches!(&parsed, Ok(r) if r.op.name() == "checkout"), "{line}: {parsed:?}");
        assert_round_trip(line.as_bytes())?;
    }
}

/// The objects of a checkout request: its JSON pointer, the field an error names, and
/// whether `null` may stand for it (an optional member).
fn objects(request: &Value) -> Vec<(String, String, bool)> {
    let mut out = vec![
        ("/order".to_owned(), "order".to_owned(), false),
        ("/order/amount".to_owned(), "order.amount".to_owned(), false),
    ];
    if request["receipt"].is_object() {
        out.push(("/receipt".to_owned(), "receipt".to_owned(), true));
        let lines = request["receipt"]["lines"].as_array().map_or(0, Vec::len);
        out.extend((0..lines).map(|i| {
            let field = format!("receipt.lines[{i}]");
            (format!("/receipt/lines/{i}"), field, false)
        }));
    }
    out
}

/// The members of each protocol object in the order of its Rust struct, the order in which
/// serde's derived deserialisers read an array positionally.
const STRUCT_ORDERS: [&[&str]; 4] = [
    &[
        "out_trade_no",
        "description",
        "amount",
        "attach",
        "time_expire",
        "goods_tag",
    ],
    &["total", "currency"],
    &["title", "lines", "footer"],
    &["name", "quantity", "amount"],
];

/// `value` with every object turned into the array serde would read as that object: its
/// members in struct order (`null` for an absent one), as the POS sent
/// `"order":["ARRAY00002","Latte",[3200]]`.
fn positional(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let order = STRUCT_ORDERS
                .iter()
                .find(|names| names.iter().any(|n| map.contains_key(*n)))
                .map_or(&[][..], |names| *names);
            let mut items: Vec<Value> = order
                .iter()
                .map(|n| map.get(*n).map_or(Value::Null, positional))
                .collect();
            while items.last().is_some_and(Value::is_null) {
                items.pop();
            }
            Value::Array(items)
        }
        Value::Array(items) => Value::Array(items.iter().map(positional).collect()),
        other => other.clone(),
    }
}

/// The text fields with a limit (`docs/protocol.md`, "3. Values"): pointer, field, most characters.
const LIMITS: [(&str, &str, usize); 7] = [
    ("/order/description", "order.description", 127),
    ("/order/attach", "order.attach", 128),
    ("/order/goods_tag", "order.goods_tag", 32),
    ("/receipt/title", "receipt.title", 64),
    ("/receipt/lines/0/name", "receipt.lines[0].name", 64),
    ("/receipt/footer", "receipt.footer", 256),
    ("/id", "id", 64),
];

/// `n` characters cycled from `chars`, starting with a letter (so never blank).
fn chars_long(chars: &[char], n: usize) -> String {
    std::iter::once('a')
        .chain(chars.iter().copied().cycle())
        .take(n)
        .collect()
}

/// Sets the member at `pointer` (its parent object exists) to `text`.
fn set(request: &mut Value, pointer: &str, text: String) {
    let (parent, key) = pointer.rsplit_once('/').expect("a member's pointer");
    let parent = request.pointer_mut(parent).and_then(Value::as_object_mut);
    parent
        .expect("an object")
        .insert(key.to_owned(), text.into());
}

proptest! {
    #![proptest_config(config(256))]

    /// The case: `"order":["ARRAY00002","Latte",[3200]]` was placed. Any
    /// non-object (an array of the object's own values above all) is refused, naming it.
    #[test]
    fn non_objects_where_objects_belong_are_refused(
        request in valid_checkout(),
        at in any::<Index>(),
        other in json_value().prop_filter("a non-object", |v| !v.is_object()),
        as_array in any::<bool>(),
    ) {
        let positions = objects(&request);
        let (pointer, field, optional) = &positions[at.index(positions.len())];
        let mut bad = request.clone();
        let slot = bad.pointer_mut(pointer).expect("an object of the request");
        let replacement = if as_array { positional(slot) } else { other };
        prop_assume!(!(*optional && replacement.is_null()));
        *slot = replacement;
        prop_assert_eq!(&refused_field(&bad.to_string())?, field);
        // The request itself as an array of its values.
        let values = request.as_object().expect("an object").values().cloned().collect();
        prop_assert_eq!(refused_field(&Value::Array(values).to_string())?, "op");
    }

    /// Text one or more characters over its limit is refused, naming the field; text of
    /// exactly the limit is taken (characters are counted, not bytes: CJK is 3 bytes each).
    #[test]
    fn text_over_its_limit_is_refused(
        request in valid_checkout(),
        which in select(&LIMITS[..]),
        chars in vec(clean_char(), 1..64),
        over in prop_oneof![Just(1usize), 1usize..=40],
    ) {
        let (pointer, field, max) = which;
        let mut request = request;
        let total = request["order"]["amount"]["total"].clone();
        request["receipt"] = json!({"lines": [{"name": "x", "quantity": 1, "amount": total}]});
        set(&mut request, pointer, chars_long(&chars, max + over));
        prop_assert_eq!(refused_field(&request.to_string())?, field);
        set(&mut request, pointer, chars_long(&chars, max));
        let line = request.to_string();
        prop_assert!(parse_request(line.as_bytes()).is_ok(), "{line}");
    }

    /// An `out_trade_no` outside 6–32 characters of `0-9 A-Z a-z _ - | *` is refused, in a
    /// checkout and in every op that names a job.
    #[test]
    fn bad_order_numbers_are_refused(
        request in valid_checkout(),
        no in prop_oneof![
            "[0-9A-Za-z_|*-]{0,5}",
            "[0-9A-Za-z_|*-]{33,48}",
            "[0-9A-Za-z]{3,10}[^0-9A-Za-z_|*-][0-9A-Za-z]{0,10}",
        ],
        op in select(&["status", "cancel", "reprint", "sandbox_pay"][..]),
    ) {
        let mut request = request;
        request["order"]["out_trade_no"] = no.clone().into();
        prop_assert_eq!(refused_field(&request.to_string())?, "order.out_trade_no");
        let line = json!({"op": op, "out_trade_no": no}).to_string();
        prop_assert_eq!(refused_field(&line)?, "out_trade_no");
    }
}
