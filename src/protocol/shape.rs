//! The shape of a request's fields, checked on the JSON value before serde reads it: every
//! protocol object must be a JSON object (serde's derived deserialisers would also take an
//! array, reading it positionally), every field has its JSON kind, no field is unknown and
//! none required is missing. The errors are wxprint's own words: the field's path, the
//! kind of value received and what is expected — never serde's or Rust's spelling.
//!
//! Shape only: lengths, characters and ranges are `checkout.rs`'s; what an op means is
//! `request.rs`'s. This file knows the field names of each op and nothing else.

use serde_json::Value;

use super::error::RequestError;

/// The JSON kind a field must have.
pub(crate) enum Kind {
    /// A JSON object with these fields.
    Object(&'static [Field]),
    /// A JSON array of this kind.
    Array(&'static Kind),
    /// A string.
    Text,
    /// A whole number that fits an `i64`.
    Integer,
    /// A whole number from 1 to `u32::MAX` (a quantity).
    Count,
    /// `true` or `false`.
    Bool,
}

/// One field of a protocol object.
pub(crate) struct Field {
    name: &'static str,
    kind: Kind,
    /// Required fields may not be absent or `null`; optional ones may be `null` (absent).
    required: bool,
    /// `false` for optional fields with a default that `null` does not stand for.
    nullable: bool,
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        nullable: false,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
        nullable: true,
    }
}

const fn flag(name: &'static str) -> Field {
    Field {
        name,
        kind: Kind::Bool,
        required: false,
        nullable: false,
    }
}

const AMOUNT: &[Field] = &[req("total", Kind::Integer), opt("currency", Kind::Text)];

const ORDER: &[Field] = &[
    req("out_trade_no", Kind::Text),
    req("description", Kind::Text),
    req("amount", Kind::Object(AMOUNT)),
    opt("attach", Kind::Text),
    opt("time_expire", Kind::Text),
    opt("goods_tag", Kind::Text),
];

const LINE: &[Field] = &[
    req("name", Kind::Text),
    req("quantity", Kind::Count),
    req("amount", Kind::Integer),
];

const RECEIPT: &[Field] = &[
    opt("title", Kind::Text),
    opt("lines", Kind::Array(&Kind::Object(LINE))),
    opt("footer", Kind::Text),
];

/// The fields of a `checkout` request (besides `op` and `id`).
pub(crate) const CHECKOUT: &[Field] = &[
    req("order", Kind::Object(ORDER)),
    opt("receipt", Kind::Object(RECEIPT)),
    flag("follow"),
    flag("loopback"),
    flag("slip"),
];

/// The fields of `status`, `cancel`, `reprint` and `sandbox_pay`.
pub(crate) const TRADE_NO: &[Field] = &[req("out_trade_no", Kind::Text)];

/// The fields of the ops that take none.
const REFUND_ARGS: &[Field] = &[
    opt("out_refund_no", Kind::Text),
    req("amount", Kind::Integer),
    opt("reason", Kind::Text),
    flag("slip"),
];

pub(crate) const REFUND: &[Field] = &[
    req("out_trade_no", Kind::Text),
    req("refund", Kind::Object(REFUND_ARGS)),
];

pub(crate) const NONE: &[Field] = &[];

/// The fields of `drawer`.
pub(crate) const DRAWER: &[Field] = &[opt("pin", Kind::Integer)];

/// Check the fields of a request (an object without `op` and `id`) against `fields`.
pub(crate) fn check_request(
    rest: &Value,
    op: &str,
    fields: &'static [Field],
) -> Result<(), RequestError> {
    check_object(rest, "", &format!("a {op:?} request"), fields)
}

fn check_object(
    value: &Value,
    path: &str,
    owner: &str,
    fields: &'static [Field],
) -> Result<(), RequestError> {
    let Value::Object(map) = value else {
        return Err(wrong_kind(path, &Kind::Object(fields), value));
    };
    if let Some(unknown) = map.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        let known = match names.is_empty() {
            true => format!("{owner} takes no fields besides \"op\" and \"id\""),
            false => format!("{owner} takes only {}", names.join(", ")),
        };
        return Err(RequestError::invalid(
            join(path, unknown),
            format!("is not a known field; {known}"),
        ));
    }
    for field in fields {
        let at = join(path, field.name);
        match map.get(field.name) {
            None if field.required => {
                return Err(RequestError::invalid(at, "is missing; it is required"));
            }
            None => {}
            Some(Value::Null) if field.nullable => {}
            Some(v) => check(v, &at, field.name, &field.kind)?,
        }
    }
    Ok(())
}

fn check(value: &Value, path: &str, name: &str, kind: &Kind) -> Result<(), RequestError> {
    let fits = match (kind, value) {
        (Kind::Object(fields), Value::Object(_)) => {
            return check_object(value, path, &format!("\"{name}\""), fields);
        }
        (Kind::Array(item), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                check(v, &format!("{path}[{i}]"), name, item)?;
            }
            return Ok(());
        }
        (Kind::Text, Value::String(_)) | (Kind::Bool, Value::Bool(_)) => true,
        (Kind::Integer, Value::Number(n)) => n.as_i64().is_some(),
        (Kind::Count, Value::Number(n)) => n
            .as_u64()
            .is_some_and(|q| (1..=u64::from(u32::MAX)).contains(&q)),
        _ => false,
    };
    match fits {
        true => Ok(()),
        false => Err(wrong_kind(path, kind, value)),
    }
}

fn wrong_kind(path: &str, kind: &Kind, value: &Value) -> RequestError {
    RequestError::invalid(
        if path.is_empty() { "request" } else { path },
        format!("must be {}, not {}", expected(kind), received(value)),
    )
}

/// What `kind` is, for people.
fn expected(kind: &Kind) -> String {
    match kind {
        Kind::Object(_) => "a JSON object {…}".into(),
        Kind::Array(item) => format!("an array of {}", plural(item)),
        Kind::Text => "a string".into(),
        Kind::Integer => {
            "a whole number (in the currency's minor unit, e.g. 3200 for ￥32.00)".into()
        }
        Kind::Count => format!("a whole number from 1 to {}", u32::MAX),
        Kind::Bool => "true or false".into(),
    }
}

fn plural(kind: &Kind) -> &'static str {
    match kind {
        Kind::Object(_) => "JSON objects",
        Kind::Array(_) => "arrays",
        Kind::Text => "strings",
        Kind::Integer | Kind::Count => "whole numbers",
        Kind::Bool => "booleans",
    }
}

/// The kind of a JSON value received, with the value when it is short, for people.
pub(crate) fn received(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => {
            format!("the string {}", Value::from(s.as_str()))
        }
        Value::String(s) => format!("a string of {} characters", s.chars().count()),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "a JSON object".into(),
    }
}

fn join(path: &str, name: &str) -> String {
    match path.is_empty() {
        true => name.to_owned(),
        false => format!("{path}.{name}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::Checkout;

    #[test]
    fn the_checkout_shape_names_every_field_serde_knows() {
        let full = json!({
            "order": {"out_trade_no": "T1234567", "description": "x", "amount": {"total": 1, "currency": "CNY"},
                      "attach": "a", "time_expire": "2026-11-26T12:10:00+08:00", "goods_tag": "g"},
            "receipt": {"title": "t", "lines": [{"name": "n", "quantity": 1, "amount": 1}], "footer": "f"},
            "follow": false, "loopback": true
        });
        assert_eq!(check_request(&full, "checkout", CHECKOUT), Ok(()));
        serde_json::from_value::<Checkout>(full).expect("serde takes what the shape takes");
    }

    #[test]
    fn arrays_are_not_objects() {
        let array_order = json!({"follow": false, "order": ["ARRAY00002", "Latte", [3200]]});
        let e = check_request(&array_order, "checkout", CHECKOUT).unwrap_err();
        let RequestError::InvalidRequest { field, message } = e else {
            panic!("invalid_request")
        };
        assert_eq!(field, "order");
        assert_eq!(
            message,
            "must be a JSON object {…}, not an array of 3 items"
        );
    }
}
