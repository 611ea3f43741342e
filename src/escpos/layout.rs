//! Printer geometry and the choices that shape the bytes: paper width, dpi, columns, how the
//! QR is sent, raster scaling, `GS ( D`, text mode and cut.
//!
//! A [`Layout`] is plain data: built from a printer profile (`printer::profile::Profile::layout`)
//! or taken from [`Layout::MM80`] / [`Layout::MM58`]. It knows nothing of receipts or
//! transports.

use super::TextMode;

/// How the QR is sent to the printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrStyle {
    /// `GS v 0` bitmap rendered by us.
    Raster,
    /// `GS ( k` model 2, rendered by the printer.
    Native,
}

impl QrStyle {
    /// The config spelling (`printer.qr`): `raster` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            QrStyle::Raster => "raster",
            QrStyle::Native => "native",
        }
    }
}

/// How the receipt ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cut {
    /// `ESC d 3` + `GS V 66 0` (`1D 56 42 00`): feed to the cutter, partial cut. Accepted by
    /// Epson, Citizen, Zjiang, SPRT: the safe default.
    #[default]
    FeedPartial,
    /// `ESC d 3` + `GS V 65 0` (`1D 56 41 00`): feed to the cutter, full cut.
    FeedFull,
    /// No cutter: `ESC d 4` only, so the last line clears the tear bar.
    None,
}

/// Printer geometry and choices that shape the bytes; built from a printer profile
/// (`printer::profile::Profile::layout`) or taken from [`Layout::MM80`] / [`Layout::MM58`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Printable width in dots (576 for 80 mm, 384 for 58 mm).
    pub width_dots: u16,
    /// Dots per inch of the head (203 for most).
    pub dpi: u16,
    /// Text columns in font A (48 for 80 mm, 32 for 58 mm).
    pub columns: u16,
    /// How the QR is sent: our bitmap or the printer's own QR command.
    pub qr: QrStyle,
    /// `GS v 0` double width/height (m = 1..3) works: raster QR codes go at half resolution
    /// with m = 3 (a quarter of the bytes).
    pub raster_scaling: bool,
    /// The printer accepts `GS ( D` ([`REALTIME_DISABLE`](super::REALTIME_DISABLE)); sent
    /// before raster data.
    pub realtime_disable: bool,
    /// How text other than ASCII is encoded.
    pub text: TextMode,
    /// How a job ends.
    pub cut: Cut,
}

impl Layout {
    /// The generic 80 mm profile (`80mm`): 576 dots at 203 dpi, 48 columns, raster QR with
    /// printer scaling, Chinese text mode, partial cut.
    pub const MM80: Layout = Layout {
        width_dots: 576,
        dpi: 203,
        columns: 48,
        qr: QrStyle::Raster,
        raster_scaling: true,
        realtime_disable: false,
        text: TextMode::Chinese,
        cut: Cut::FeedPartial,
    };
    /// The generic 58 mm profile (`58mm`): as [`Layout::MM80`] on 384 dots, 32 columns.
    pub const MM58: Layout = Layout {
        width_dots: 384,
        dpi: 203,
        columns: 32,
        qr: QrStyle::Raster,
        raster_scaling: true,
        realtime_disable: false,
        text: TextMode::Chinese,
        cut: Cut::FeedPartial,
    };
}
