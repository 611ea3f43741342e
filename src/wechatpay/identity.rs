//! Whose is it: the one check that something WeChat Pay sent (a query answer, a refund
//! answer, a decrypted notification) or a body wxprint pinned at checkout is about this
//! merchant's order — and refund — and nobody else's. The signature covers an answer, not
//! the question: a genuine answer about another order, refund or merchant (replayed by
//! something in the middle, or a sub-merchant of the same provider, who shares its keys and
//! may share order numbers) must never count for ours.
//!
//! [`Api::check_identity`] compares, in this order:
//!
//! | field | must be |
//! |---|---|
//! | `mchid`, or `sp_mchid` + `sub_mchid` ([`Api::merchant_fields`]) | ours |
//! | the other mode's fields ([`Api::foreign_fields`]) | absent |
//! | `appid` / `sp_appid` (the first of [`Api::order_fields`]) | ours |
//! | `out_trade_no` | the order's |
//! | `out_refund_no` | the refund's |
//!
//! Which of them an object must carry, and which are compared only when present, depends
//! on what WeChat Pay documents for it ([`Object`]; `../shared/reference/business.md` §1,
//! `docs/wechatpay.md` §12.5, §13): refund answers name no merchant, Global's refund apply
//! answer names no order, and only a transaction notification is held to its app.
//!
//! Knows the JSON members of WeChat Pay's objects and this merchant's identity
//! (`region.rs`); not HTTP, not what a caller does with a foreign object.

use serde_json::Value;

use super::region::Api;
use crate::config::Region;

/// What is being checked: it decides which identity fields must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Object {
    /// A query answer about an order (`GET …/out-trade-no/{no}`).
    OrderAnswer,
    /// The decrypted transaction of a `TRANSACTION.*` notification.
    TransactionNotice,
    /// The answer to a refund apply (`POST …/refunds`).
    RefundApplied,
    /// The answer to a refund query (`GET …/refunds/…/{out_refund_no}`).
    RefundQueried,
    /// The decrypted refund of a `REFUND.*` notification.
    RefundNotice,
    /// A Native order body pinned at checkout, maybe under another configuration.
    PinnedOrder,
}

/// Whether a field must be there, is compared only when there, or is not looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presence {
    Required,
    IfPresent,
    Unchecked,
}

/// Which identity fields an [`Object`] must carry.
struct Rules {
    merchant: Presence,
    app: Presence,
    order: Presence,
    refund: Presence,
}

impl Object {
    fn rules(self, region: Region) -> Rules {
        use Presence::{IfPresent, Required, Unchecked};
        let (merchant, app, order, refund) = match self {
            // An app may be rebound after an order was placed: an answer about our order
            // is ours whatever app it names.
            Object::OrderAnswer => (Required, Unchecked, Required, Unchecked),
            Object::TransactionNotice => (Required, Required, Required, Unchecked),
            // Refund answers name no merchant (the signature and the path do): a merchant
            // field there is compared, never required. Global's apply answer names no
            // order either.
            Object::RefundApplied if region == Region::Global => {
                (IfPresent, Unchecked, IfPresent, Required)
            }
            Object::RefundApplied | Object::RefundQueried => {
                (IfPresent, Unchecked, Required, Required)
            }
            Object::RefundNotice => (Required, Unchecked, Required, Required),
            Object::PinnedOrder => (Required, Unchecked, Unchecked, Unchecked),
        };
        Rules {
            merchant,
            app,
            order,
            refund,
        }
    }
}

/// Which order, and which refund, the object must be about (`None`: not compared).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct About<'a> {
    pub(crate) out_trade_no: Option<&'a str>,
    pub(crate) out_refund_no: Option<&'a str>,
}

impl<'a> About<'a> {
    /// Order `out_trade_no`.
    pub(crate) fn order(out_trade_no: &'a str) -> About<'a> {
        About {
            out_trade_no: Some(out_trade_no),
            out_refund_no: None,
        }
    }

    /// Refund `out_refund_no` of order `out_trade_no`.
    pub(crate) fn refund(out_trade_no: &'a str, out_refund_no: &'a str) -> About<'a> {
        About {
            out_trade_no: Some(out_trade_no),
            out_refund_no: Some(out_refund_no),
        }
    }
}

/// The first identity field that is not this merchant's order's (or refund's): its name,
/// what it held (`None`: missing) and what was expected (`None`: no such field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(self))]
pub(crate) struct Foreign {
    pub(crate) field: &'static str,
    pub(crate) found: Option<String>,
    pub(crate) expected: Option<String>,
}

fn describe(f: &Foreign) -> String {
    match (&f.found, &f.expected) {
        (Some(found), Some(expected)) => {
            format!("{} is {found}, expected {expected:?}", f.field)
        }
        (None, Some(expected)) => format!("{} is missing, expected {expected:?}", f.field),
        (Some(found), None) => format!(
            "{} is {found}, a field this merchant's mode never has (wechatpay.sub_mchid decides \
             the mode)",
            f.field
        ),
        (None, None) => format!("{} is wrong", f.field),
    }
}

impl Api {
    /// Whether `json` (an `object` of WeChat Pay's, or a pinned body) is about `about` of
    /// this merchant: every identity field the object must carry there and ours, every
    /// one it may carry ours when there, none of the other mode's. The error names the
    /// first field that is not, with what it held and what was expected.
    pub(crate) fn check_identity(
        &self,
        object: Object,
        json: &Value,
        about: About<'_>,
    ) -> Result<(), Foreign> {
        let rules = object.rules(self.region());
        for (name, ours) in self.merchant_fields() {
            compare(json, name, Some(ours), rules.merchant)?;
        }
        if let Some(name) = self
            .foreign_fields()
            .iter()
            .find(|name| json.get(**name).is_some())
        {
            return Err(Foreign {
                field: name,
                found: json.get(*name).map(Value::to_string),
                expected: None,
            });
        }
        if let Some((name, ours)) = self.order_fields().first().copied() {
            compare(json, name, Some(ours), rules.app)?;
        }
        compare(json, "out_trade_no", about.out_trade_no, rules.order)?;
        compare(json, "out_refund_no", about.out_refund_no, rules.refund)
    }
}

/// Member `name` of `json` against `expected` (`None`: nothing to compare) as `presence`
/// says.
fn compare(
    json: &Value,
    name: &'static str,
    expected: Option<&str>,
    presence: Presence,
) -> Result<(), Foreign> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let found = json.get(name);
    let ok = match (presence, found) {
        (Presence::Unchecked, _) | (Presence::IfPresent, None) => true,
        (_, Some(value)) => value.as_str() == Some(expected),
        (Presence::Required, None) => false,
    };
    if ok {
        return Ok(());
    }
    Err(Foreign {
        field: name,
        found: found.map(Value::to_string),
        expected: Some(expected.to_owned()),
    })
}

#[cfg(test)]
mod tests;
