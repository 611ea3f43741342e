//! The orders as the simulated WeChat Pay keeps them, and what happens to them from the
//! outside: the payer pays (or gives up), WeChat closes or refunds. The API calls that act
//! on orders live in `place.rs` and `trade.rs`; this file knows no HTTP.

use std::time::SystemTime;

use super::Simulator;
use super::ids::{digits, random_alnum};
use super::kind::cny_payer_total;
use super::time::{rfc3339_beijing, secs_between, unix};

/// How long a `code_url` can be paid after it was issued.
const CODE_URL_LIFETIME: i64 = 2 * 3600;

/// `trade_state` of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeState {
    NotPay,
    UserPaying,
    Success,
    Refund,
    Closed,
    Revoked,
    PayError,
}

impl TradeState {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::UserPaying => "USERPAYING",
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::Closed => "CLOSED",
            TradeState::Revoked => "REVOKED",
            TradeState::PayError => "PAYERROR",
        }
    }

    pub(super) fn desc(self) -> &'static str {
        match self {
            TradeState::NotPay => "订单未支付",
            TradeState::UserPaying => "用户支付中",
            TradeState::Success => "支付成功",
            TradeState::Refund => "订单发生过退款",
            TradeState::Closed => "订单已关闭",
            TradeState::Revoked => "订单已撤销",
            TradeState::PayError => "支付失败，请重新下单支付",
        }
    }

    /// NOTPAY or USERPAYING: can still be paid, closed or re-entered.
    pub(super) fn is_open(self) -> bool {
        matches!(self, TradeState::NotPay | TradeState::UserPaying)
    }

    pub(super) fn was_paid(self) -> bool {
        matches!(self, TradeState::Success | TradeState::Refund)
    }
}

/// How a simulated order was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimPayment {
    /// 28 digits.
    pub transaction_id: String,
    /// RFC 3339, `+08:00`.
    pub success_time: String,
    /// The payer's openid under the (provider's) app: `payer.openid`, or `payer.sp_openid`
    /// for a sub-merchant kind.
    pub openid: String,
    /// The payer's openid under the sub-merchant's app (`payer.sub_openid`, when it has one).
    pub sub_openid: String,
    /// What the payer paid, in fen: the total, or on Global the total at the exchange rate.
    pub payer_total: i64,
    /// Global: the rate the payer was charged at (CNY per major unit ×10^8).
    pub exchange_rate: Option<i64>,
    /// A coupon the payer used, in the order's minor unit (0: none): listed in
    /// `promotion_detail`, and the payer paid that much less.
    pub coupon: i64,
}

/// One order as the simulated WeChat Pay keeps it.
#[derive(Debug, Clone)]
pub struct SimOrder {
    pub out_trade_no: String,
    pub state: TradeState,
    /// The only `code_url` that can still be paid.
    pub code_url: String,
    /// Earlier `code_url`s, killed by re-entries, oldest first.
    pub dead_code_urls: Vec<String>,
    /// The raw body of the first placement.
    pub body: String,
    /// Successful placements (the first one and identical re-entries).
    pub placed: usize,
    pub description: String,
    /// In the minor unit of `currency`.
    pub total: i64,
    /// The order's currency (ISO 4217): CNY on the mainland, the merchant's on Global.
    pub currency: String,
    /// Global: the merchant's exchange rate when the order was placed; `None` on the
    /// mainland (the payer pays the total in CNY).
    pub exchange_rate: Option<i64>,
    pub attach: Option<String>,
    /// `time_expire` as sent, if any.
    pub time_expire: Option<String>,
    /// When the order stops being payable (after raising/clamping `time_expire`; 7 days
    /// when none was sent). Simulator clock.
    pub expires_at: SystemTime,
    /// Simulator clock.
    pub created_at: SystemTime,
    /// When the current `code_url` was issued. Simulator clock.
    pub code_url_issued_at: SystemTime,
    /// First successful close. Simulator clock.
    pub closed_at: Option<SystemTime>,
    pub payment: Option<SimPayment>,
}

impl Simulator {
    /// From now on, query answers spoiled by a signature fault claim the order is paid
    /// (SUCCESS) even when it is not: a forgery the client must not believe.
    pub fn forge_spoiled_answers_as_paid(&self, on: bool) {
        self.inner.lock().forge_paid = on;
    }

    /// The payer pays the order: NOTPAY/USERPAYING → SUCCESS. False if the order is unknown,
    /// not open, or past its `time_expire`.
    pub fn pay(&self, out_trade_no: &str) -> bool {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        match state.orders.get_mut(out_trade_no) {
            Some(order) => pay_order(order, now),
            None => false,
        }
    }

    /// The payer pays the order with a coupon worth `coupon` (in the order's minor unit,
    /// less than its total): as [`Simulator::pay`], and answers list it in
    /// `promotion_detail` with a `payer_total` that much smaller.
    pub fn pay_with_coupon(&self, out_trade_no: &str, coupon: i64) -> bool {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        let Some(order) = state.orders.get_mut(out_trade_no) else {
            return false;
        };
        let (total, currency) = (order.total, order.currency.clone());
        if !(0..total).contains(&coupon) || !pay_order(order, now) {
            return false;
        }
        let payment = order.payment.as_mut().expect("just paid");
        payment.coupon = coupon;
        payment.payer_total = match payment.exchange_rate {
            Some(rate) => cny_payer_total(total - coupon, &currency, rate),
            None => total - coupon,
        };
        true
    }

    /// The payer scans this QR content and pays: only an order's current `code_url`, less
    /// than 2 hours old, works. Returns the order number paid.
    pub fn pay_code_url(&self, code_url: &str) -> Option<String> {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        let order = state.orders.values_mut().find(|o| o.code_url == code_url)?;
        let age = secs_between(order.code_url_issued_at, now);
        if age > CODE_URL_LIFETIME || !pay_order(order, now) {
            return None;
        }
        Some(order.out_trade_no.clone())
    }

    /// NOTPAY → USERPAYING (the payer is confirming). A later [`Simulator::pay`] → SUCCESS.
    pub fn set_user_paying(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, _| {
            if o.state != TradeState::NotPay {
                return false;
            }
            o.state = TradeState::UserPaying;
            true
        })
    }

    /// The payer gave up or the payment failed: USERPAYING → NOTPAY (WeChat keeps a failed
    /// attempt NOTPAY).
    pub fn fail_payment(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, _| {
            if !o.state.is_open() {
                return false;
            }
            o.state = TradeState::NotPay;
            true
        })
    }

    /// WeChat closes the order by itself (e.g. its 7-day auto-close).
    pub fn close_remotely(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, now| {
            if !o.state.is_open() {
                return false;
            }
            o.state = TradeState::Closed;
            o.closed_at.get_or_insert(now);
            true
        })
    }

    /// A refund is initiated: SUCCESS → REFUND.
    pub fn refund(&self, out_trade_no: &str) -> bool {
        self.transition(out_trade_no, |o, _| {
            if o.state != TradeState::Success {
                return false;
            }
            o.state = TradeState::Refund;
            true
        })
    }

    /// Force any state (e.g. PAYERROR, REVOKED). False if the order is unknown.
    pub fn set_trade_state(&self, out_trade_no: &str, state: TradeState) -> bool {
        self.transition(out_trade_no, |o, _| {
            o.state = state;
            true
        })
    }

    pub fn order(&self, out_trade_no: &str) -> Option<SimOrder> {
        self.inner.lock().orders.get(out_trade_no).cloned()
    }

    /// All orders, oldest first.
    pub fn orders(&self) -> Vec<SimOrder> {
        let mut orders: Vec<SimOrder> = self.inner.lock().orders.values().cloned().collect();
        orders.sort_by_key(|o| o.created_at);
        orders
    }

    fn transition(&self, no: &str, f: impl FnOnce(&mut SimOrder, SystemTime) -> bool) -> bool {
        let now = self.inner.now();
        let mut state = self.inner.lock();
        state.orders.get_mut(no).is_some_and(|o| f(o, now))
    }
}

/// NOTPAY/USERPAYING → SUCCESS, with a fresh transaction id; false if not payable now.
pub(super) fn pay_order(order: &mut SimOrder, now: SystemTime) -> bool {
    if !order.state.is_open() || now >= order.expires_at {
        return false;
    }
    let secs = unix(now);
    order.state = TradeState::Success;
    order.payment = Some(SimPayment {
        transaction_id: format!(
            "42000{}{}{}",
            digits(5),
            &rfc3339_beijing(secs)[..10].replace('-', ""),
            digits(10)
        ),
        success_time: rfc3339_beijing(secs),
        openid: format!("oUpF8u{}", random_alnum(22)),
        sub_openid: format!("oSub8u{}", random_alnum(22)),
        payer_total: match order.exchange_rate {
            Some(rate) => cny_payer_total(order.total, &order.currency, rate),
            None => order.total,
        },
        exchange_rate: order.exchange_rate,
        coupon: 0,
    });
    true
}
