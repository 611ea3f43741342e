//! Receipt model → ESC/POS bytes (our own small encoder; see `reference/escpos.md`).

/// One item line: `name × quantity`, and its line total in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub name: String,
    pub quantity: u32,
    pub amount: i64,
}

/// Everything printed on one checkout receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub title: String,
    pub lines: Vec<Line>,
    /// Order total in fen.
    pub total: i64,
    /// The WeChat Pay `code_url` to print as a QR code.
    pub code_url: String,
    pub footer: String,
    pub out_trade_no: String,
    /// Already formatted, e.g. "2026-11-26 12:00:05".
    pub time: String,
    /// Sandbox receipts say clearly that they are not a real payment.
    pub sandbox: bool,
}

/// How the QR is sent to the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrStyle {
    /// `GS v 0` bitmap rendered by us.
    Raster,
    /// `GS ( k` model 2, rendered by the printer.
    Native,
}

/// Printer geometry and choices that shape the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Printable width in dots (576 for 80 mm, 384 for 58 mm).
    pub width_dots: u16,
    /// Dots per inch of the head (203 for most).
    pub dpi: u16,
    /// Text columns in font A (48 for 80 mm, 32 for 58 mm).
    pub columns: u16,
    pub qr: QrStyle,
}

impl Layout {
    pub const MM80: Layout = Layout { width_dots: 576, dpi: 203, columns: 48, qr: QrStyle::Raster };
    pub const MM58: Layout = Layout { width_dots: 384, dpi: 203, columns: 32, qr: QrStyle::Raster };
}

/// The whole receipt as ESC/POS bytes.
pub fn encode(_receipt: &Receipt, _layout: &Layout) -> Vec<u8> {
    todo!("receipt helper")
}

/// A test page: title, a character line, a sample QR, a cut. `info` lines are printed as is.
pub fn test_page(_info: &[String], _layout: &Layout) -> Vec<u8> {
    todo!("receipt helper")
}
