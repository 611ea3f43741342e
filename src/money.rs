//! [`Money`]: an amount in its currency's minor unit (fen for CNY), with the [`Currency`]
//! (ISO 4217 code), and how it reads for people (`￥32.00`, on receipts and in the CLI).
//!
//! This is what an amount *is* inside wxprint: the order's total, a payment, a receipt's
//! total. The wire shapes — the POS's `amount` objects (`protocol`), WeChat Pay's JSON
//! (`wechatpay::api`) — stay as the wire spells them and convert to and from `Money` where
//! they are read or written; the journal stores the minor amount and the code in their own
//! columns. This file knows none of them, nor which currencies a payment backend takes
//! (`PaymentBackend::accepts`).
//!
//! How many digits the minor unit has is [`Currency::minor_digits`], the one place to teach
//! a zero-decimal currency (JPY, KRW) or a three-decimal one.

use std::borrow::Cow;
use std::fmt;

/// A currency, by its ISO 4217 code (`CNY`). Any code can be held (an order states its
/// own); whether it can be paid in is for the payment backend to say.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(Cow<'static, str>);

impl Currency {
    /// Renminbi: minor unit the fen (1/100 yuan), printed with the full-width sign `￥`.
    pub const CNY: Currency = Currency(Cow::Borrowed("CNY"));

    /// The currency whose ISO 4217 code is `code`, as given.
    pub fn new(code: impl Into<String>) -> Currency {
        Currency(Cow::Owned(code.into()))
    }

    /// The ISO 4217 code, e.g. `CNY`.
    pub fn code(&self) -> &str {
        &self.0
    }

    /// How many decimal digits the minor unit has: amounts are counted in
    /// 1/10^`minor_digits` of the major unit. 2 for every currency wxprint knows today (CNY:
    /// fen); a zero-decimal currency (JPY) is taught here, and printing follows.
    pub fn minor_digits(&self) -> u32 {
        2
    }

    /// The sign printed before an amount, when the currency has one wxprint uses: `￥`
    /// (U+FFE5, full width) for CNY. (In a code-page receipt layout the `escpos` text
    /// encoder prints it as the page's `¥` or `RMB `.) Others print their code instead.
    fn sign(&self) -> Option<&'static str> {
        match self.code() {
            "CNY" => Some("\u{FFE5}"),
            _ => None,
        }
    }
}

/// The currencies WeChat Pay Global settles in (ISO 4217), as its documentation lists them
/// (`docs/wechatpay.md` §7). The mainland takes only CNY. Whether a merchant may use one is
/// the payment backend's rule; `config` checks `wechatpay.currency` against this list.
pub const GLOBAL_CURRENCIES: [&str; 30] = [
    "CNY", "HKD", "GBP", "USD", "JPY", "CAD", "AUD", "EUR", "NZD", "KRW", "THB", "SGD", "RUB",
    "CHF", "SEK", "DKK", "NOK", "AED", "TRY", "MOP", "TWD", "CZK", "MYR", "PHP", "IDR", "MNT",
    "QAR", "HUF", "KHR", "ISK",
];

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money: a whole number of the currency's minor unit (3200 fen = ￥32.00),
/// never a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// `minor` units of `currency` (fen for CNY).
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// An amount in fen: `Money::cny(3200)` is ￥32.00.
    pub fn cny(fen: i64) -> Money {
        Money::new(fen, Currency::CNY)
    }

    /// The amount in the currency's minor unit (fen for CNY), as the wire carries it.
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    /// Another amount in the same currency (e.g. an item line of a receipt whose total
    /// this is).
    pub fn with_minor(&self, minor: i64) -> Money {
        Money::new(minor, self.currency.clone())
    }
}

/// For people: the sign (or the code and a space), then the major unit and the minor
/// digits — 3200 fen → `￥32.00`, 5 → `￥0.05`, −150 → `-￥1.50`; 150 USD cents →
/// `USD 1.50`. Written with `write!` into a reused `String`, it allocates nothing.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor < 0 {
            f.write_str("-")?;
        }
        match self.currency.sign() {
            Some(sign) => f.write_str(sign)?,
            None => write!(f, "{} ", self.currency.code())?,
        }
        let abs = self.minor.unsigned_abs();
        let digits = self.currency.minor_digits();
        if digits == 0 {
            return write!(f, "{abs}");
        }
        let scale = 10u64.pow(digits);
        let width = digits as usize;
        write!(f, "{}.{:0width$}", abs / scale, abs % scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_amount(fen: i64) -> String {
        Money::cny(fen).to_string()
    }

    #[test]
    fn amounts() {
        assert_eq!(format_amount(3200), "￥32.00");
        assert_eq!(format_amount(5), "￥0.05");
        assert_eq!(format_amount(0), "￥0.00");
        assert_eq!(format_amount(123_456_789), "￥1234567.89");
        assert_eq!(format_amount(-150), "-￥1.50");
        assert!(!format_amount(1).contains('\u{a5}'));
    }

    #[test]
    fn the_minor_unit_and_the_currency_travel_together() {
        let total = Money::new(3200, Currency::new("CNY"));
        assert_eq!(total, Money::cny(3200), "a CNY read from the wire is CNY");
        assert_eq!((total.minor(), total.currency().code()), (3200, "CNY"));
        assert_eq!(Currency::CNY.minor_digits(), 2);
        assert_eq!(total.with_minor(150), Money::cny(150));
        assert_ne!(Money::new(3200, Currency::new("HKD")), total);
    }

    #[test]
    fn a_currency_without_a_sign_prints_its_code() {
        assert_eq!(
            Money::new(150, Currency::new("USD")).to_string(),
            "USD 1.50"
        );
        assert_eq!(
            Money::new(-7, Currency::new("USD")).to_string(),
            "-USD 0.07"
        );
        assert_eq!(Currency::new("HKD").to_string(), "HKD");
    }
}
