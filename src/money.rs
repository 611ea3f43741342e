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
//! How many digits the minor unit has is [`Currency::minor_digits`], read from ISO 4217's
//! table of exponents (the few currencies whose exponent is not 2 are listed here; every
//! other code has 2): JPY 1200 is `JPY 1,200`, KWD 1500 is `KWD 1.500`.

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

    /// How many decimal digits the minor unit has (ISO 4217's exponent): amounts are counted
    /// in 1/10^`minor_digits` of the major unit — 2 for CNY (fen), HKD, USD…; 0 for JPY,
    /// KRW, ISK…; 3 for KWD, BHD…. A code ISO 4217 does not list as otherwise has 2.
    pub fn minor_digits(&self) -> u32 {
        let code = self.code();
        if ZERO_DECIMAL.contains(&code) {
            0
        } else if THREE_DECIMAL.contains(&code) {
            3
        } else if FOUR_DECIMAL.contains(&code) {
            4
        } else {
            2
        }
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

/// ISO 4217 currencies without a minor unit (exponent 0): amounts are whole units.
const ZERO_DECIMAL: [&str; 17] = [
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
    "VUV", "XAF", "XOF", "XPF",
];

/// ISO 4217 currencies whose minor unit is a thousandth (exponent 3).
const THREE_DECIMAL: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];

/// ISO 4217 units of account with exponent 4.
const FOUR_DECIMAL: [&str; 2] = ["CLF", "UYW"];

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

/// For people, the one way wxprint writes an amount (receipts, item lines, the CLI): the
/// sign (or the code and a space), then the major unit and as many minor digits as the
/// currency has ([`Currency::minor_digits`]).
///
/// - CNY, with its sign, as it always printed: 3200 fen → `￥32.00`, 5 → `￥0.05`, −150 →
///   `-￥1.50`, no digit grouping (`￥1234567.89`).
/// - Every other currency: its code, a space, and the major unit grouped by thousands with
///   `,` — HKD 1234 → `HKD 12.34`, USD 123456789 → `USD 1,234,567.89`, JPY 1200 →
///   `JPY 1,200` (no decimals), KWD 1500 → `KWD 1.500`.
///
/// Written with `write!` into a reused `String`, it allocates nothing.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor < 0 {
            f.write_str("-")?;
        }
        let grouped = match self.currency.sign() {
            Some(sign) => {
                f.write_str(sign)?;
                false
            }
            None => {
                write!(f, "{} ", self.currency.code())?;
                true
            }
        };
        let abs = self.minor.unsigned_abs();
        let digits = self.currency.minor_digits();
        let scale = 10u64.pow(digits);
        write_major(f, abs / scale, grouped)?;
        if digits == 0 {
            return Ok(());
        }
        let width = digits as usize;
        write!(f, ".{:0width$}", abs % scale)
    }
}

/// `major`, with `,` between groups of three digits when `grouped`.
fn write_major(f: &mut fmt::Formatter<'_>, major: u64, grouped: bool) -> fmt::Result {
    if !grouped || major < 1000 {
        return write!(f, "{major}");
    }
    write_major(f, major / 1000, true)?;
    write!(f, ",{:03}", major % 1000)
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

    #[test]
    fn minor_digits_follow_iso_4217() {
        for (code, digits) in [
            ("CNY", 2),
            ("HKD", 2),
            ("USD", 2),
            ("EUR", 2),
            ("MOP", 2),
            ("JPY", 0),
            ("KRW", 0),
            ("ISK", 0),
            ("VND", 0),
            ("KWD", 3),
            ("BHD", 3),
            ("OMR", 3),
            ("CLF", 4),
            ("XYZ", 2),
        ] {
            assert_eq!(Currency::new(code).minor_digits(), digits, "{code}");
        }
    }

    #[test]
    fn every_global_currency_has_an_exponent_of_0_or_2() {
        let zero: Vec<&str> = GLOBAL_CURRENCIES
            .into_iter()
            .filter(|c| Currency::new(*c).minor_digits() == 0)
            .collect();
        assert_eq!(zero, ["JPY", "KRW", "ISK"]);
        assert!(
            GLOBAL_CURRENCIES
                .iter()
                .all(|c| matches!(Currency::new(*c).minor_digits(), 0 | 2))
        );
    }

    #[test]
    fn other_currencies_print_their_code_and_group_thousands() {
        let money = |minor, code: &str| Money::new(minor, Currency::new(code)).to_string();
        assert_eq!(money(1234, "HKD"), "HKD 12.34");
        assert_eq!(money(99_999, "HKD"), "HKD 999.99");
        assert_eq!(money(100_000, "HKD"), "HKD 1,000.00");
        assert_eq!(money(123_456_789, "USD"), "USD 1,234,567.89");
        assert_eq!(money(-100_005, "EUR"), "-EUR 1,000.05");
        assert_eq!(money(1200, "JPY"), "JPY 1,200");
        assert_eq!(money(999, "JPY"), "JPY 999");
        assert_eq!(money(0, "KRW"), "KRW 0");
        assert_eq!(money(1_000_000, "KRW"), "KRW 1,000,000");
        assert_eq!(money(1500, "KWD"), "KWD 1.500");
        assert_eq!(money(1_234_567, "BHD"), "BHD 1,234.567");
    }

    #[test]
    fn cny_is_never_grouped() {
        assert_eq!(format_amount(100_000), "￥1000.00");
        assert_eq!(format_amount(10_000_000_000), "￥100000000.00");
        assert_eq!(format_amount(i64::MIN), "-￥92233720368547758.08");
    }
}
