//! What makes two placements at the sandbox "the same order": the order's pinned request,
//! as WeChat Pay compares the body of a re-placement with the first one.
//!
//! The sandbox pins a canonical JSON of the order's fields ([`request`], handed out by
//! `prepare` and stored with the job), and compares an order's identity ([`of`]) with the
//! one it stored when the order was first placed. Stores written by wxprint before this
//! pinning hold the `Debug` text of the order instead; [`legacy`] spells that text again, so
//! those orders are still recognised after an upgrade.

use serde::Serialize;

use crate::payment::PlaceOrder;

/// The canonical request: the order's fields in a fixed order, absent ones left out.
#[derive(Serialize)]
struct Request<'a> {
    out_trade_no: &'a str,
    description: &'a str,
    amount: Amount<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    goods_tag: Option<&'a str>,
    time_expire: &'a str,
}

#[derive(Serialize)]
struct Amount<'a> {
    total: i64,
    currency: &'a str,
}

/// The canonical JSON of `order`'s fields: what the sandbox pins at checkout.
pub(super) fn request(order: &PlaceOrder) -> Option<String> {
    let request = Request {
        out_trade_no: &order.out_trade_no,
        description: &order.description,
        amount: Amount {
            total: order.amount.minor(),
            currency: order.amount.currency().code(),
        },
        attach: order.attach.as_deref(),
        goods_tag: order.goods_tag.as_deref(),
        time_expire: &order.time_expire,
    };
    serde_json::to_string(&request).ok()
}

/// The identity the sandbox stores for `order`: the request pinned with the job, else (a
/// job journaled before the sandbox pinned anything) the canonical request made now.
pub(super) fn of(order: &PlaceOrder) -> String {
    order
        .request
        .clone()
        .or_else(|| request(order))
        .unwrap_or_else(|| legacy(order))
}

/// Whether `stored`, the identity kept when the order was first placed, names `order`:
/// its identity, or the `Debug` text an older wxprint stored.
pub(super) fn matches(stored: &str, order: &PlaceOrder) -> bool {
    stored == of(order) || stored == legacy(order)
}

/// The identity stored before the sandbox pinned requests: `format!("{order:?}")` of the
/// `PlaceOrder` of its day, whose amount was `total` (fen) and `currency`. Spelled field by
/// field with `{:?}`, exactly as `#[derive(Debug)]` wrote it.
pub(super) fn legacy(order: &PlaceOrder) -> String {
    format!(
        "PlaceOrder {{ out_trade_no: {:?}, description: {:?}, total: {:?}, currency: {:?}, \
         attach: {:?}, goods_tag: {:?}, time_expire: {:?}, request: {:?} }}",
        order.out_trade_no,
        order.description,
        order.amount.minor(),
        order.amount.currency().code(),
        order.attach,
        order.goods_tag,
        order.time_expire,
        order.request,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;

    /// `PlaceOrder` as it was declared before `Money`: its `Debug` text is in old stores.
    #[derive(Debug)]
    #[allow(dead_code)] // read only by `Debug`
    struct PlaceOrder {
        out_trade_no: String,
        description: String,
        total: i64,
        currency: String,
        attach: Option<String>,
        goods_tag: Option<String>,
        time_expire: String,
        request: Option<String>,
    }

    fn order(description: &str, attach: Option<&str>, request: Option<&str>) -> super::PlaceOrder {
        super::PlaceOrder {
            out_trade_no: "T1000001".into(),
            description: description.into(),
            amount: Money::cny(3200),
            attach: attach.map(Into::into),
            goods_tag: None,
            time_expire: "2026-11-26T12:10:00+08:00".into(),
            request: request.map(Into::into),
        }
    }

    #[test]
    fn the_legacy_identity_is_the_old_debug_text() {
        let cases = [
            order("Latte x2", None, None),
            order("拿铁 \"double\"\n", Some("table\t4"), None),
            order("Tea", None, Some(r#"{"appid":"wx"}"#)),
        ];
        for new in cases {
            let old = PlaceOrder {
                out_trade_no: new.out_trade_no.clone(),
                description: new.description.clone(),
                total: 3200,
                currency: "CNY".into(),
                attach: new.attach.clone(),
                goods_tag: new.goods_tag.clone(),
                time_expire: new.time_expire.clone(),
                request: new.request.clone(),
            };
            assert_eq!(legacy(&new), format!("{old:?}"));
            assert!(matches(&format!("{old:?}"), &new));
        }
    }

    #[test]
    fn the_identity_is_the_pinned_request() {
        let plain = order("Latte x2", None, None);
        let canonical = r#"{"out_trade_no":"T1000001","description":"Latte x2","amount":{"total":3200,"currency":"CNY"},"time_expire":"2026-11-26T12:10:00+08:00"}"#;
        assert_eq!(request(&plain).as_deref(), Some(canonical));
        assert_eq!(
            of(&plain),
            canonical,
            "nothing pinned: the canonical request"
        );
        let pinned = order("Latte x2", None, Some(canonical));
        assert_eq!(of(&pinned), canonical);
        let other = order("Latte x3", None, None);
        assert!(!matches(canonical, &other));
        assert!(!matches(&legacy(&plain), &other));
    }
}
