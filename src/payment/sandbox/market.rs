//! Which WeChat Pay the sandbox stands in for: a [`SandboxMarket`] — the one currency it
//! takes and whether it answers like WeChat Pay Global (the customer pays in CNY, converted
//! at a settlement rate) or like the mainland (CNY, nothing converted).
//!
//! The caller says which (the daemon from its `[wechatpay]` settings); the sandbox reads no
//! configuration. The rates are fixed, plausible figures so that a POS developer sees
//! Global-shaped payments offline — a stand-in, never a source of exchange rates.

use crate::money::{Currency, Money};
use crate::payment::{CurrencyRule, ExchangeRate, Payment};

/// The kind of rate WeChat Pay Global reports with a payment (its only value).
pub const SETTLEMENT_RATE: &str = "SETTLEMENT_RATE";

/// One rate: 10^8 times the CNY one unit of a currency buys (WeChat's integer convention).
const UNIT: i64 = 100_000_000;

/// The sandbox's fixed settlement rates, CNY per unit × 10^8; a currency not listed is
/// converted 1:1.
const RATES: [(&str, i64); 16] = [
    ("CNY", UNIT),
    ("HKD", 92_000_000),
    ("MOP", 89_000_000),
    ("USD", 720_000_000),
    ("EUR", 780_000_000),
    ("GBP", 910_000_000),
    ("JPY", 4_800_000),
    ("KRW", 520_000),
    ("SGD", 530_000_000),
    ("AUD", 470_000_000),
    ("CAD", 520_000_000),
    ("NZD", 430_000_000),
    ("CHF", 810_000_000),
    ("THB", 20_000_000),
    ("MYR", 155_000_000),
    ("TWD", 22_000_000),
];

/// What the sandbox stands in for. The default is today's: mainland WeChat Pay, CNY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxMarket {
    /// The one currency orders may be placed in (the merchant's `wechatpay.currency`).
    pub currency: Currency,
    /// WeChat Pay Global (`wechatpay.region = "global"`): payments are reported in CNY with
    /// the rate they were converted at.
    pub global: bool,
}

impl From<&CurrencyRule> for SandboxMarket {
    /// The sandbox standing in for a merchant with this rule (the loopback sandbox follows
    /// the configured backend).
    fn from(rule: &CurrencyRule) -> Self {
        SandboxMarket {
            currency: rule.currency().clone(),
            global: rule.is_global(),
        }
    }
}

impl Default for SandboxMarket {
    fn default() -> Self {
        SandboxMarket {
            currency: Currency::CNY,
            global: false,
        }
    }
}

impl SandboxMarket {
    /// The market's currency rule: the one a WeChat Pay merchant of this market has.
    pub(crate) fn rule(&self) -> CurrencyRule {
        CurrencyRule::new(self.currency.clone(), self.global)
    }

    /// Whether an order of `amount` can be placed: as at WeChat Pay ([`CurrencyRule`]).
    pub(crate) fn accepts(&self, amount: &Money) -> Result<(), String> {
        self.rule().accepts(amount)
    }

    /// A payment of `total` as this market's WeChat Pay reports it: on the mainland the
    /// customer pays `total` itself; on Global, its value in CNY at the sandbox's rate.
    pub(crate) fn payment(
        &self,
        transaction_id: String,
        success_time: String,
        total: Money,
    ) -> Payment {
        let (payer_total, exchange_rate) = if self.global {
            let rate = rate_of(total.currency());
            let rate_info = ExchangeRate {
                kind: SETTLEMENT_RATE.to_owned(),
                rate,
            };
            (to_cny(&total, rate), Some(rate_info))
        } else {
            (total.clone(), None)
        };
        Payment {
            transaction_id,
            success_time,
            total,
            payer_total,
            exchange_rate,
            discount: None,
        }
    }
}

/// The sandbox's settlement rate for `currency` (× 10^8).
fn rate_of(currency: &Currency) -> i64 {
    RATES
        .iter()
        .find(|(code, _)| *code == currency.code())
        .map_or(UNIT, |(_, rate)| *rate)
}

/// `amount` in CNY fen at `rate` (× 10^8), rounded half up; minor units on both sides (a
/// JPY amount has none, a CNY one two digits).
fn to_cny(amount: &Money, rate: i64) -> Money {
    let from = amount.currency().minor_digits();
    let to = Currency::CNY.minor_digits();
    let numerator = i128::from(amount.minor()) * i128::from(rate) * 10i128.pow(to);
    let denominator = i128::from(UNIT) * 10i128.pow(from);
    let fen = (2 * numerator + denominator).div_euclid(2 * denominator);
    Money::cny(i64::try_from(fen).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(minor: i64, code: &str) -> Money {
        Money::new(minor, Currency::new(code))
    }

    fn pay(market: &SandboxMarket, total: Money) -> Payment {
        market.payment("4200".into(), "2026-11-26T12:01:00+08:00".into(), total)
    }

    #[test]
    fn the_default_is_the_mainland_in_cny() {
        let market = SandboxMarket::default();
        assert_eq!(market.accepts(&Money::cny(3200)), Ok(()));
        assert_eq!(
            market.accepts(&money(100, "USD")),
            crate::payment::cny_only(&money(100, "USD")),
            "the same refusal as before"
        );
        let paid = pay(&market, Money::cny(3200));
        assert_eq!(
            (paid.total, paid.payer_total, paid.exchange_rate),
            (Money::cny(3200), Money::cny(3200), None)
        );
    }

    #[test]
    fn a_global_market_takes_exactly_its_currency() {
        let hk = SandboxMarket {
            currency: Currency::new("HKD"),
            global: true,
        };
        assert_eq!(hk.accepts(&money(1234, "HKD")), Ok(()));
        let refusal = hk.accepts(&Money::cny(1234)).unwrap_err();
        assert_eq!(
            refusal,
            CurrencyRule::new(Currency::new("HKD"), true)
                .accepts(&Money::cny(1234))
                .unwrap_err(),
            "the same refusal as WeChat Pay's backend"
        );
    }

    #[test]
    fn global_payments_are_converted_to_cny_in_minor_units() {
        let market = |code: &str| SandboxMarket {
            currency: Currency::new(code),
            global: true,
        };
        // HKD 12.34 at 0.92 = ￥11.3528 → ￥11.35.
        let paid = pay(&market("HKD"), money(1234, "HKD"));
        assert_eq!(paid.payer_total, Money::cny(1135));
        assert_eq!(
            paid.exchange_rate,
            Some(ExchangeRate {
                kind: "SETTLEMENT_RATE".into(),
                rate: 92_000_000
            })
        );
        // JPY 1,200 (no minor unit) at 0.048 = ￥57.60.
        assert_eq!(
            pay(&market("JPY"), money(1200, "JPY")).payer_total,
            Money::cny(5760)
        );
        // KWD has three digits; unlisted: 1:1. KWD 1.235 → ￥1.24 (half up).
        assert_eq!(
            pay(&market("KWD"), money(1235, "KWD")).payer_total,
            Money::cny(124)
        );
        // CNY on Global: paid as priced, still with the (unit) rate.
        let cny = pay(&market("CNY"), Money::cny(3200));
        assert_eq!(cny.payer_total, Money::cny(3200));
        assert_eq!(cny.exchange_rate.map(|r| r.rate), Some(100_000_000));
    }
}
