//! A job's record, made and read: the record a checkout creates, the canonical request
//! that makes a retry "identical", the order it places, and the events and status it
//! reads as (for a resumed checkout, `status`, a `cancel` of a finished job).
//!
//! Pure functions of a [`JobRecord`]; no lock, no task, no backend.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::refusals::{err, expired_time_expire};
use crate::clock;
use crate::journal::JobRecord;
use crate::money::{Currency, Money};
use crate::payment::PlaceOrder;
use crate::protocol::{
    Checkout, CloseReason, ErrorBody, ErrorCode, Event, ExchangeRate, JobState, JobStatus, Order,
    OrderAmount, PaidAmount, PrintState, ReceiptSpec, StatusAmount,
};

/// The checkout content that makes a retry "identical": `order`, `receipt` and whether it
/// is a `loopback` order, canonical.
#[derive(Serialize, Deserialize)]
struct StoredRequest {
    order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receipt: Option<ReceiptSpec>,
    /// Written only when true: a real checkout's canonical form is what it always was, so
    /// the journals of real jobs still resume.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    loopback: bool,
    /// A payment slip asked for with the checkout; written only when true, like `loopback`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    slip: bool,
}

/// The checkout content that makes a retry "identical", as canonical JSON. An empty
/// `receipt` object is the same as none. A loopback (sandbox) checkout and a real one are
/// never identical: neither resumes the other's job (a customer must never get a sandbox
/// QR), the second is a `duplicate_order`.
pub(crate) fn canonical_request(checkout: &Checkout) -> String {
    let receipt = checkout
        .receipt
        .clone()
        .filter(|r| r != &ReceiptSpec::default());
    let stored = StoredRequest {
        order: checkout.order.clone(),
        receipt,
        loopback: checkout.loopback,
        slip: checkout.slip,
    };
    serde_json::to_string(&stored).expect("plain data")
}

/// The checkout's `receipt` part, read back from the stored request (none: the defaults).
pub(crate) fn receipt_spec(record: &JobRecord) -> ReceiptSpec {
    serde_json::from_str::<StoredRequest>(&record.request)
        .ok()
        .and_then(|s| s.receipt)
        .unwrap_or_default()
}

/// Whether the checkout of `record` asked for a payment slip (`"slip": true`).
pub(crate) fn slip_asked(record: &JobRecord) -> bool {
    serde_json::from_str::<StoredRequest>(&record.request).is_ok_and(|s| s.slip)
}

/// The furthest ahead a POS's `time_expire` may be: WeChat Pay's `code_url` lives 2 hours,
/// so a QR printed for a later expiry would stop working while the order still looked
/// payable (`order_ttl` has the same bound).
pub(crate) const MAX_TIME_EXPIRE_AHEAD: Duration = Duration::from_secs(2 * 60 * 60);

/// How much nearer than the minimum a POS's `time_expire` may be and still be taken (raised
/// to the minimum): RFC 3339 has whole seconds and the POS's clock is not ours, so a POS
/// sending "now + 1 minute" may arrive a second or two short of it.
pub(crate) const TIME_EXPIRE_GRACE: Duration = Duration::from_secs(5);

/// When a new order stops being payable, fixed at checkout (`now_ms`) so that every
/// placement is identical: the POS's `time_expire`, or `now + order_ttl`. One nearer than
/// `min_ahead` (WeChat Pay's one minute, [`super::JobsConfig::time_expire_min`]) by more
/// than [`TIME_EXPIRE_GRACE`], already past, or more than [`MAX_TIME_EXPIRE_AHEAD`] ahead,
/// is refused; one within the grace is raised to `min_ahead`, as WeChat Pay would. Only new
/// orders come here: an identical retry of an accepted order resumes it whatever its
/// `time_expire` has become.
pub(crate) fn expire_ms(
    time_expire: Option<&str>,
    now_ms: i64,
    order_ttl: Duration,
    min_ahead: Duration,
) -> Result<i64, ErrorBody> {
    let latest = now_ms + clock::ms(MAX_TIME_EXPIRE_AHEAD);
    let earliest = now_ms + clock::ms(min_ahead);
    let forgiven = earliest - clock::ms(TIME_EXPIRE_GRACE.min(min_ahead));
    match time_expire {
        Some(t) => match clock::parse_rfc3339(t) {
            Some(ms) if ms > latest => Err(too_far_ahead(t, ms - now_ms)),
            Some(ms) if ms >= forgiven => Ok(ms.max(earliest)),
            Some(ms) if ms > now_ms => Err(too_near(t, ms - now_ms, min_ahead)),
            _ => Err(expired_time_expire(t)),
        },
        None => Ok(now_ms + clock::ms(order_ttl)),
    }
}

fn too_near(time_expire: &str, ahead_ms: i64, min_ahead: Duration) -> ErrorBody {
    let mut error = err(
        ErrorCode::InvalidRequest,
        format!(
            "order.time_expire: {time_expire:?} is only {} s ahead; WeChat Pay keeps an order payable for at least {} s, so send a time_expire at least that far ahead (at most 2 hours), or none for order_ttl",
            ahead_ms / 1000,
            min_ahead.as_secs()
        ),
    );
    error.field = Some("order.time_expire".into());
    error
}

fn too_far_ahead(time_expire: &str, ahead_ms: i64) -> ErrorBody {
    let minutes = ahead_ms / 60_000;
    let mut error = err(
        ErrorCode::InvalidRequest,
        format!(
            "order.time_expire: {time_expire:?} is {}h{:02} ahead; wxprint takes a time_expire at most 2 hours ahead (a WeChat Pay QR stops working after 2 hours); send a nearer one, or none for order_ttl",
            minutes / 60,
            minutes % 60
        ),
    );
    error.field = Some("order.time_expire".into());
    error
}

/// The record of a new job for `checkout`, as accepted at `now_ms`.
pub(crate) fn new_record(
    checkout: &Checkout,
    request: String,
    expire_ms: i64,
    now_ms: i64,
) -> JobRecord {
    let order = &checkout.order;
    JobRecord {
        attach: order.attach.clone(),
        goods_tag: order.goods_tag.clone(),
        loopback: checkout.loopback,
        ..JobRecord::new(
            &order.out_trade_no,
            request,
            &order.description,
            order_amount(&order.amount),
            expire_ms,
            now_ms,
        )
    }
}

/// The order a record places: always the same for one record.
pub(crate) fn place_order(r: &JobRecord) -> PlaceOrder {
    PlaceOrder {
        out_trade_no: r.out_trade_no.clone(),
        description: r.description.clone(),
        amount: r.amount.clone(),
        attach: r.attach.clone(),
        goods_tag: r.goods_tag.clone(),
        time_expire: r.time_expire.clone(),
        request: r.place_body.clone(),
    }
}

/// The events a job has already reached, for a resumed checkout.
pub(crate) fn replay(record: &JobRecord) -> Vec<Event> {
    let no = || record.out_trade_no.clone();
    let mut events = Vec::new();
    // A code_url is announced when the job goes to awaiting_payment; one that arrived after
    // a cancel was never announced (nor printed) and must not be now.
    let announced = record.print != PrintState::Pending
        || matches!(
            record.state,
            JobState::AwaitingPayment | JobState::UserPaying
        );
    if let Some(code_url) = record.code_url.as_ref().filter(|_| announced) {
        events.push(Event::CodeUrl {
            out_trade_no: no(),
            state: record.state,
            code_url: code_url.clone(),
        });
    }
    events.extend(replay_print(record));
    events.extend(replay_outcome(record));
    events
}

/// The print result a job has reached, if any.
fn replay_print(record: &JobRecord) -> Option<Event> {
    match record.print {
        PrintState::Printed => Some(Event::Printed {
            out_trade_no: Some(record.out_trade_no.clone()),
            state: Some(record.state),
            print: PrintState::Printed,
            location: None,
            confirmed: None,
        }),
        PrintState::Failed => Some(Event::Error {
            out_trade_no: Some(record.out_trade_no.clone()),
            state: Some(record.state),
            print: Some(PrintState::Failed),
            error: record
                .error
                .clone()
                .unwrap_or_else(|| err(ErrorCode::Printer, "the receipt could not be printed")),
        }),
        PrintState::Pending => None,
    }
}

/// The cancel or the outcome a job has reached, if any.
fn replay_outcome(record: &JobRecord) -> Option<Event> {
    let no = || record.out_trade_no.clone();
    match record.state {
        // A checkout that failed while its order may exist: closed in the background.
        JobState::Cancelling if record.error.is_some() => Some(Event::Failed {
            out_trade_no: no(),
            state: record.state,
            error: record
                .error
                .clone()
                .unwrap_or_else(|| err(ErrorCode::Internal, "failed")),
        }),
        JobState::Cancelling => Some(Event::Cancelling {
            out_trade_no: no(),
            state: record.state,
        }),
        JobState::Paid => Some(paid_event(record)),
        JobState::Closed => Some(Event::Closed {
            out_trade_no: no(),
            state: record.state,
            reason: record.close_reason.unwrap_or(CloseReason::Remote),
        }),
        JobState::Failed => Some(Event::Failed {
            out_trade_no: no(),
            state: record.state,
            error: record
                .error
                .clone()
                .unwrap_or_else(|| err(ErrorCode::Internal, "failed")),
        }),
        JobState::Ordering | JobState::AwaitingPayment | JobState::UserPaying => None,
    }
}

/// The `paid` event of a paid record: the amounts WeChat Pay reported.
pub(crate) fn paid_event(record: &JobRecord) -> Event {
    Event::Paid {
        out_trade_no: record.out_trade_no.clone(),
        state: JobState::Paid,
        transaction_id: record.transaction_id.clone().unwrap_or_default(),
        success_time: record.success_time.clone().unwrap_or_default(),
        amount: paid_amount(record),
    }
}

/// A record as `status` shows it.
pub(crate) fn status_of(r: &JobRecord) -> JobStatus {
    JobStatus {
        out_trade_no: r.out_trade_no.clone(),
        state: r.state,
        print: r.print,
        code_url: r.code_url.clone(),
        description: r.description.clone(),
        amount: status_amount(r),
        created_at: clock::rfc3339(r.created_ms),
        updated_at: clock::rfc3339(r.updated_ms),
        time_expire: r.time_expire.clone(),
        transaction_id: r.transaction_id.clone(),
        success_time: r.success_time.clone(),
        payer_total: r.payer_total,
        close_reason: r.close_reason,
        error: r.error.clone(),
        last_error: None,
        refunds: Vec::new(),
    }
}

/// The checkout with its currency filled in: a POS that names none means the merchant's
/// `currency` (what the backend takes). Done before anything is checked or stored, so the
/// stored request of a mainland order reads `"currency":"CNY"` whether or not the POS
/// wrote it, as it always has.
pub(crate) fn in_currency(checkout: &Checkout, currency: &Currency) -> Checkout {
    let mut filled = checkout.clone();
    let named = &mut filled.order.amount.currency;
    named.get_or_insert_with(|| currency.code().to_owned());
    filled
}

/// The POS's `order.amount` as [`Money`], its currency filled in ([`in_currency`]; CNY
/// if it was not).
pub(crate) fn order_amount(amount: &OrderAmount) -> Money {
    let code = amount.currency.as_deref().unwrap_or(Currency::CNY.code());
    Money::new(amount.total, Currency::new(code))
}

/// A payment as the `paid` event spells it: `total` in the order's currency, `payer_total`
/// in the payer's, and the rate when WeChat Pay converted.
fn paid_amount(record: &JobRecord) -> PaidAmount {
    let (total, payer_total) = (record.paid_amount(), record.payer_amount());
    PaidAmount {
        total: total.minor(),
        payer_total: payer_total.minor(),
        currency: total.currency().code().to_owned(),
        payer_currency: payer_total.currency().code().to_owned(),
        exchange_rate: exchange_rate(record),
    }
}

/// The order's amount as `status` spells it; once paid, with the payer's currency and the
/// rate.
fn status_amount(record: &JobRecord) -> StatusAmount {
    let paid = record.payer_total.is_some();
    StatusAmount {
        total: record.amount.minor(),
        currency: record.amount.currency().code().to_owned(),
        payer_currency: paid.then(|| record.payer_amount().currency().code().to_owned()),
        exchange_rate: exchange_rate(record),
    }
}

/// The record's conversion rate as the wire spells it.
fn exchange_rate(record: &JobRecord) -> Option<ExchangeRate> {
    record.exchange_rate.as_ref().map(|r| ExchangeRate {
        kind: r.kind.clone(),
        rate: r.rate,
    })
}

#[cfg(test)]
mod tests;
