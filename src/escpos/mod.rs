//! ESC/POS encoding: bytes in and out, no receipt knowledge (see `docs/escpos.md`).
//!
//! This module owns the named command bytes (below), the printer geometry a profile decides
//! ([`Layout`]), the byte builder [`EscPos`], whose every method appends exactly the bytes
//! documented in `docs/escpos.md` §1–§3, how text is encoded for the printer ([`TextMode`]:
//! GB18030 or a code page, and print widths), and QR codes: the symbol
//! ([`qr_matrix`](fn@qr_matrix), its mask chosen on bit lines in `qr_lines`) and the centred
//! QR blocks (`EscPos::qr_block`, [`qr_raster`], [`qr_native_block`]), and the cash drawer's
//! pulse ([`DrawerPulse`], which keeps the solenoids' duty rule).
//!
//! It must not know what a receipt says (`receipt` composes the paper from these parts), how
//! the bytes reach a printer (`printer`), or how they look on paper (`preview` reads them back
//! with its own, deliberately independent, command table).

mod builder;
mod charset;
mod drawer;
mod layout;
mod qr;
mod qr_lines;
mod qr_matrix;
#[cfg(test)]
pub(crate) mod testing;

pub use builder::{Align, EscPos, RasterScale};
pub(crate) use charset::char_width;
pub use charset::{TextMode, code_page_encoding, text_width, text_width_in, truncate_to_width};
pub use drawer::{DUTY_FACTOR, DrawerPin, DrawerPulse, PULSE_MAX_MS, PULSE_STEP_MS, PulseError};
pub use layout::{Cut, Layout, QrStyle};
pub use qr::{
    MAX_QR_BYTES, MAX_RASTER_ROWS, MIN_LINE_DOTS, MIN_MODULE_UM10, NATIVE_QR_MODULE_DOTS,
    native_module_dots, qr_module_dots, qr_native_block, qr_raster, qr_raster_scaled,
};
pub use qr_matrix::qr_matrix;

/// `ESC` (0x1B).
pub const ESC: u8 = 0x1B;
/// `GS` (0x1D).
pub const GS: u8 = 0x1D;
/// `FS` (0x1C).
pub const FS: u8 = 0x1C;
/// `LF` (0x0A).
pub const LF: u8 = 0x0A;
/// `DLE` (0x10): starts the real-time commands (`DLE EOT`, `DLE DC4`).
pub const DLE: u8 = 0x10;

/// `GS ( D` fn 20: disable the real-time commands `DLE DC4` fn 1 (drawer pulse) and fn 2
/// (power off), Epson's guard before image data (`docs/escpos.md` §2). Lost on `ESC @`.
pub const REALTIME_DISABLE: [u8; 10] = [GS, b'(', b'D', 5, 0, 20, 1, 0, 2, 0];
