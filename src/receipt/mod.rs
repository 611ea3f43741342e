//! What is on the paper: a checkout [`Receipt`], the payment and refund slips and the
//! technician's test page, laid out in text lines, wrapped to the layout's columns, with the
//! QR where it belongs.
//!
//! [`encode`](fn@encode) lays out a receipt (`encode.rs`: header, items, QR block, trailer),
//! [`encode_paid`] and [`encode_refund`] the slips confirming a payment or a refund
//! (`slip.rs`), [`test_page`](fn@test_page) the test page (`test_page.rs`); `text.rs` wraps
//! text and sets item lines; amounts print as [`Money`] says. The byte codes (commands, text
//! encoding, QR rasters) are `escpos`'s business: nothing here spells an ESC/POS command, and
//! nothing here knows printers or transports.

mod encode;
mod slip;
mod test_page;
mod text;

pub use encode::encode;
pub use slip::{PaidSlip, RefundSlip, encode_paid, encode_refund, rate_text};
pub use test_page::{
    TEST_CHINESE_LINE, TEST_LATIN_LINE, TEST_QR_DATA, qr_description, test_info, test_page,
};
pub use text::{ITEM_INDENT, wrap};

use crate::money::Money;

/// One item line: `name × quantity`, and its line total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// What was bought, as the POS names it.
    pub name: String,
    /// How many.
    pub quantity: u32,
    /// Line total, in the minor unit of the receipt's [`total`](Receipt::total) (fen).
    pub amount: i64,
}

/// Everything printed on one checkout receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The shop's name, printed large at the top.
    pub title: String,
    /// The item lines.
    pub lines: Vec<Line>,
    /// The order's total.
    pub total: Money,
    /// The WeChat Pay `code_url` to print as a QR code.
    pub code_url: String,
    /// Printed centred at the bottom.
    pub footer: String,
    /// The order number, printed as "No. …".
    pub out_trade_no: String,
    /// Already formatted, e.g. "2026-11-26 12:00:05".
    pub time: String,
    /// Sandbox receipts say clearly that they are not a real payment.
    pub sandbox: bool,
    /// A second copy of a receipt whose first print a crash cut off: it says so at the top
    /// ([`REPRINT_NOTICE`]), so that the cashier does not hand out two.
    pub reprint: bool,
}

/// The reprint notice at the top of a [`Receipt::reprint`] copy, on a printer in Chinese
/// mode; in a code page (no hanzi) it is [`REPRINT_NOTICE_LATIN`].
pub const REPRINT_NOTICE: &str = "*** 重印 REPRINT ***";
/// The reprint notice on a printer without Chinese characters.
pub const REPRINT_NOTICE_LATIN: &str = "*** REPRINT ***";
