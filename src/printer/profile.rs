//! Built-in printer profiles: paper geometry and which ESC/POS features a printer family
//! really handles, turned into a receipt [`Layout`] by [`Profile::layout`].
//!
//! # Where the data comes from
//!
//! Paper widths in dots, font A columns, dpi, the `qrCode` (`GS ( k`) flags of the Zjiang
//! printers and the code page numbering (`ESC t 16` = WPC1252) are taken from
//! **escpos-printer-db** (receipt-print-hq/escpos-printer-db, profiles `TM-T88IV`, `TM-T88V`,
//! `TM-T20II`, `POS-5890`, `ZJ-5870`, `default`), © its contributors, licensed under
//! [Creative Commons Attribution 4.0](https://creativecommons.org/licenses/by/4.0/).
//!
//! Our own overrides and additions (the db is wrong or silent on these; see
//! `docs/escpos.md` §1–§3):
//! - `native_qr`: only where Epson's `GS ( k` fn 167 reference lists the model (TM-T88IV–VII,
//!   TM-T20 family). The db marks many printers `qrCode: true` merely by inheriting
//!   `default`; Xprinter firmwares are mixed (XP-80C prints the command as text), Zjiang has
//!   none. The generic profiles say no: `qr = "auto"` then prints a raster everywhere
//!   unverified.
//! - `raster_scaling` (`GS v 0` m = 1..3): not in the db's schema. Documented by Epson and by
//!   Chinese-market manuals (HPRT TP80K, SPRT) for `GS v 0`; assumed for the Zjiang / Xprinter
//!   58 mm firmwares (**unverified on hardware**: a firmware that ignores `m` prints the QR
//!   at half size, 0.375 mm modules, and needs a profile with `raster_scaling: false`).
//! - `realtime_disable` (`GS ( D`): Epson models only; whether clones accept it is unknown,
//!   so they do not get it.
//! - `text`: Chinese mode (`FS &` / `FS .`, GB18030 2-byte) for every Chinese-market printer
//!   (the db does not model multi-byte text at all); WPC1252 for the Epson global models.
//! - `cut`: partial cut (`GS V 66 0`) everywhere — the one cut Epson, Citizen, Zjiang and SPRT
//!   all accept. (The db says ZJ-5870 has no cutter; `GS V 66` is still documented for the
//!   ZJ-58 and harmless.)
//! - `epson-tm-t88`: TM-T88IV/V geometry, 512 dots at 180 dpi (db). TM-T88VI/VII print 576
//!   dots at 203 dpi when set to it; we keep 512 @ 180 for all: the layout then fits every
//!   TM-T88IV–VII, and the 6-dot QR modules computed for 180 dpi are 0.85 mm there and still
//!   0.75 mm on a 203 dpi head.
//! - `printer_ids`: the `GS I 66` maker ("EPSON") and the
//!   `GS I 67` model names of the models each Epson profile is for. The Chinese-market
//!   printers have none: what they answer to `GS I` is undocumented, so a probe reports
//!   them as unknown rather than guess.
//! - `usb_ids`: from `docs/escpos.md` §5 (python-escpos, node-escpos, escpos-rs, Linux
//!   usblp sources), not from the db. `1fc9:2016` is the NXP vendor id Xprinter uses (seen on
//!   an 80 mm XP-T80A); `04b8:0e15` is often quoted for the TM-T20II but unverified.

pub use crate::escpos::{Cut, TextMode};
use crate::escpos::{Layout, QrStyle};

/// One printer family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// The name used in the configuration (`[printer] profile = "…"`).
    pub name: &'static str,
    /// What printers it is for, in one line.
    pub description: &'static str,
    /// Printable width in dots.
    pub width_dots: u16,
    /// Print head resolution in dots per inch (180 or 203), for sizing QR modules.
    pub dpi: u16,
    /// Text columns in font A.
    pub columns: u16,
    /// `GS ( k` QR codes verified to work.
    pub native_qr: bool,
    /// `GS v 0` with m = 1..3 (double width / height) works.
    pub raster_scaling: bool,
    /// Accepts `GS ( D` (`1D 28 44 05 00 14 01 00 02 00`), disabling real-time commands.
    pub realtime_disable: bool,
    /// How text is encoded unless `printer.encoding` overrides it: Chinese mode (GB18030)
    /// or a single-byte code page.
    pub text: TextMode,
    /// How the receipt is cut off at its end (or fed to the tear bar, without a cutter).
    pub cut: Cut,
    /// USB vendor:product ids this profile likely matches (for `wxprint printers`).
    pub usb_ids: &'static [(u16, u16)],
    /// What the printer answers to `GS I 66` (maker) and `GS I 67` (model name), for
    /// `wxprint printers --probe`: only names seen in a vendor's documentation.
    pub printer_ids: &'static [(&'static str, &'static str)],
}

/// The built-in profiles. `80mm` and `58mm` are [`Layout::MM80`] / [`Layout::MM58`].
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "80mm",
        description: "Generic 80 mm ESC/POS printer of the Chinese market (raster QR)",
        width_dots: Layout::MM80.width_dots,
        dpi: Layout::MM80.dpi,
        columns: Layout::MM80.columns,
        native_qr: false,
        raster_scaling: Layout::MM80.raster_scaling,
        realtime_disable: Layout::MM80.realtime_disable,
        text: Layout::MM80.text,
        cut: Layout::MM80.cut,
        usb_ids: &[(0x0FE6, 0x811E)],
        printer_ids: &[],
    },
    Profile {
        name: "58mm",
        description: "Generic 58 mm ESC/POS printer of the Chinese market (raster QR)",
        width_dots: Layout::MM58.width_dots,
        dpi: Layout::MM58.dpi,
        columns: Layout::MM58.columns,
        native_qr: false,
        raster_scaling: Layout::MM58.raster_scaling,
        realtime_disable: Layout::MM58.realtime_disable,
        text: Layout::MM58.text,
        cut: Layout::MM58.cut,
        usb_ids: &[],
        printer_ids: &[],
    },
    Profile {
        name: "epson-tm-t88",
        description: "Epson TM-T88IV/V/VI/VII, 80 mm (printed at the IV/V geometry, 512 dots @ 180 dpi)",
        width_dots: 512,
        dpi: 180,
        columns: 42,
        native_qr: true,
        raster_scaling: true,
        realtime_disable: true,
        text: TextMode::CodePage(16),
        cut: Cut::FeedPartial,
        usb_ids: &[(0x04B8, 0x0202)],
        printer_ids: &[
            ("EPSON", "TM-T88IV"),
            ("EPSON", "TM-T88V"),
            ("EPSON", "TM-T88VI"),
            ("EPSON", "TM-T88VII"),
        ],
    },
    Profile {
        name: "epson-tm-t20",
        description: "Epson TM-T20 / T20II / T20III / T20X, 80 mm",
        width_dots: 576,
        dpi: 203,
        columns: 48,
        native_qr: true,
        raster_scaling: true,
        realtime_disable: true,
        text: TextMode::CodePage(16),
        cut: Cut::FeedPartial,
        usb_ids: &[(0x04B8, 0x0E03), (0x04B8, 0x0E15)],
        printer_ids: &[
            ("EPSON", "TM-T20"),
            ("EPSON", "TM-T20II"),
            ("EPSON", "TM-T20III"),
            ("EPSON", "TM-T20X"),
        ],
    },
    Profile {
        name: "xprinter-58",
        description: "Xprinter 58 mm (XP-58 series); GS ( k differs by firmware, so raster QR",
        width_dots: 384,
        dpi: 203,
        columns: 32,
        native_qr: false,
        raster_scaling: true,
        realtime_disable: false,
        text: TextMode::Chinese,
        cut: Cut::FeedPartial,
        usb_ids: &[(0x1FC9, 0x2016)],
        printer_ids: &[],
    },
    Profile {
        name: "zjiang-58",
        description: "Zjiang POS-5890 / ZJ-5870 and POS-58 clones, 58 mm; no native QR",
        width_dots: 384,
        dpi: 203,
        columns: 32,
        native_qr: false,
        raster_scaling: true,
        realtime_disable: false,
        text: TextMode::Chinese,
        cut: Cut::FeedPartial,
        usb_ids: &[(0x0416, 0x5011), (0x6868, 0x0500)],
        printer_ids: &[],
    },
];

/// The profile called `name` (case-insensitive, surrounding spaces ignored).
pub fn find(name: &str) -> Option<&'static Profile> {
    let name = name.trim();
    PROFILES.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Profiles whose `usb_ids` contain `vendor:product`.
pub fn matching_usb(vendor: u16, product: u16) -> impl Iterator<Item = &'static Profile> {
    PROFILES
        .iter()
        .filter(move |p| p.usb_ids.contains(&(vendor, product)))
}

/// The profile of the printer that answered `GS I 66` with `maker` and `GS I 67` with
/// `model` (case and surrounding spaces ignored; the model must match exactly, so a
/// TM-T88III is not taken for a TM-T88IV). `None` for any printer not listed: it is
/// unknown, never guessed.
pub fn matching_id(maker: &str, model: &str) -> Option<&'static Profile> {
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b);
    PROFILES.iter().find(|p| {
        p.printer_ids
            .iter()
            .any(|(m, n)| same(maker, m) && same(model, n))
    })
}

/// All profile names, comma-separated (for error messages).
pub fn names() -> String {
    PROFILES
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Profile {
    /// The receipt layout for this printer with the QR sent as `qr`. The style is taken as
    /// given (an explicit `qr = "native"` is the operator's call); use [`Profile::auto_qr`]
    /// for `qr = "auto"`.
    pub const fn layout(&self, qr: QrStyle) -> Layout {
        Layout {
            width_dots: self.width_dots,
            dpi: self.dpi,
            columns: self.columns,
            qr,
            raster_scaling: self.raster_scaling,
            realtime_disable: self.realtime_disable,
            text: self.text,
            cut: self.cut,
        }
    }

    /// `qr = "auto"`: native `GS ( k` only where the profile vouches for it, else raster.
    pub const fn auto_qr(&self) -> QrStyle {
        if self.native_qr {
            QrStyle::Native
        } else {
            QrStyle::Raster
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos;
    use crate::preview;
    use crate::receipt::{self, Line, Receipt};

    const URL: &str = "weixin://wxpay/bizpayurl?pr=Ab3dE9x1";

    fn sample() -> Receipt {
        Receipt {
            title: "咖啡小站 Coffee Corner".into(),
            lines: vec![
                Line {
                    name: "拿铁 Latte".into(),
                    quantity: 2,
                    amount: 5600,
                },
                Line {
                    name: "Double shot oat milk flat white with extra foam 燕麦奶".into(),
                    quantity: 1,
                    amount: 3200,
                },
            ],
            total: crate::money::Money::cny(8800),
            code_url: URL.into(),
            footer: "谢谢惠顾 Thank you, see you again soon!".into(),
            out_trade_no: "T20261126120005".into(),
            time: "2026-11-26 12:00:05".into(),
            sandbox: false,
            reprint: false,
        }
    }

    fn decode(bytes: &[u8], width: u16) -> Vec<String> {
        preview::decode_qrs(&preview::render(bytes, usize::from(width)).expect("renderable"))
    }

    #[test]
    fn lookup() {
        assert_eq!(find("80mm").unwrap().name, "80mm");
        assert_eq!(find(" EPSON-TM-T88 ").unwrap().name, "epson-tm-t88");
        assert!(find("80").is_none());
        let names: Vec<_> = PROFILES.iter().map(|p| p.name).collect();
        for required in [
            "80mm",
            "58mm",
            "epson-tm-t88",
            "epson-tm-t20",
            "xprinter-58",
            "zjiang-58",
        ] {
            assert!(names.contains(&required), "{required}");
            assert_eq!(find(required).unwrap().name, required);
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate profile names");
        assert!(super::names().contains("zjiang-58"));
        assert_eq!(
            matching_usb(0x0416, 0x5011)
                .map(|p| p.name)
                .collect::<Vec<_>>(),
            ["zjiang-58"]
        );
        assert_eq!(
            matching_usb(0x04B8, 0x0202).next().unwrap().name,
            "epson-tm-t88"
        );
        assert!(matching_usb(0x1234, 0x5678).next().is_none());
        let named = |maker, model| matching_id(maker, model).map(|p| p.name);
        assert_eq!(named("EPSON", "TM-T88V"), Some("epson-tm-t88"));
        assert_eq!(named(" epson ", "tm-t20ii"), Some("epson-tm-t20"));
        // An older model, a clone, an unknown maker: unknown, never guessed.
        assert_eq!(named("EPSON", "TM-T88III"), None);
        assert_eq!(named("EPSON", "TM-T88"), None);
        assert_eq!(named("BIXOLON", "TM-T88V"), None);
        assert_eq!(named("", ""), None);
    }

    #[test]
    fn generic_profiles_are_the_layout_constants() {
        assert_eq!(find("80mm").unwrap().layout(QrStyle::Raster), Layout::MM80);
        assert_eq!(find("58mm").unwrap().layout(QrStyle::Raster), Layout::MM58);
        let native = find("epson-tm-t20").unwrap().layout(QrStyle::Native);
        assert_eq!(native.qr, QrStyle::Native);
        assert_eq!(find("zjiang-58").unwrap().auto_qr(), QrStyle::Raster);
        assert_eq!(find("epson-tm-t88").unwrap().auto_qr(), QrStyle::Native);
    }

    #[test]
    fn profiles_are_consistent() {
        for p in PROFILES {
            // Font A is 12 dots wide.
            assert!(
                usize::from(p.columns) * 12 <= usize::from(p.width_dots),
                "{}",
                p.name
            );
            assert!(
                usize::from(p.columns) * 12 + 12 > usize::from(p.width_dots),
                "{}",
                p.name
            );
            assert!(p.width_dots.is_multiple_of(8), "{}", p.name);
            assert!(matches!(p.dpi, 180 | 203), "{}", p.name);
            assert!(!p.description.is_empty());
        }
        let zj = find("zjiang-58").unwrap();
        assert!(!zj.native_qr && !zj.realtime_disable);
        assert_eq!(
            (zj.width_dots, zj.columns, zj.cut),
            (384, 32, Cut::FeedPartial)
        );
        assert!(!find("xprinter-58").unwrap().native_qr);
        for epson in ["epson-tm-t88", "epson-tm-t20"] {
            let p = find(epson).unwrap();
            assert!(p.native_qr && p.realtime_disable);
            assert_eq!(p.text, TextMode::CodePage(16));
        }
    }

    /// Every profile × every QR option the profile can use, through `encode`, `render` and
    /// `rqrr`: the QR decodes to exactly the code_url.
    #[test]
    fn every_profile_and_qr_option_decodes() {
        let receipt = sample();
        for p in PROFILES {
            let mut layouts = vec![
                p.layout(QrStyle::Raster),
                Layout {
                    raster_scaling: false,
                    ..p.layout(QrStyle::Raster)
                },
            ];
            if p.native_qr {
                layouts.push(p.layout(QrStyle::Native));
            }
            for layout in layouts {
                let bytes = receipt::encode(&receipt, &layout);
                assert_eq!(
                    decode(&bytes, layout.width_dots),
                    vec![URL.to_string()],
                    "{} {layout:?}",
                    p.name
                );
                let scaled = escpos::testing::find(&bytes, &[0x1D, 0x76, 0x30, 3]).is_some();
                assert_eq!(
                    scaled,
                    layout.qr == QrStyle::Raster && layout.raster_scaling,
                    "{}",
                    p.name
                );
                let guard = escpos::testing::find(&bytes, &escpos::REALTIME_DISABLE);
                if layout.qr == QrStyle::Raster && p.realtime_disable {
                    let raster = escpos::testing::find(&bytes, &[0x1D, 0x76, 0x30]).unwrap();
                    assert!(guard.unwrap() < raster);
                } else {
                    assert!(guard.is_none());
                }
                // The test page too, with its own sample QR.
                let page = receipt::test_page(&[format!("profile: {}", p.name)], &layout);
                assert_eq!(
                    decode(&page, layout.width_dots),
                    vec![receipt::TEST_QR_DATA.to_string()],
                    "{} test page",
                    p.name
                );
            }
        }
    }

    /// The QR part of every profile: ≤ 1000 bytes raster (with scaling), 41 + data native,
    /// modules ≥ 0.75 mm.
    #[test]
    fn qr_bytes_per_profile() {
        assert_eq!(URL.len(), 36);
        for p in PROFILES {
            let layout = p.layout(QrStyle::Raster);
            let raster = escpos::qr_raster(URL, &layout);
            assert!(raster.len() <= 1000, "{}: {} bytes", p.name, raster.len());
            let (modules, _) = escpos::qr_matrix(URL.as_bytes()).unwrap();
            let dots = escpos::qr_module_dots(modules, &layout);
            assert!(dots * 2540 >= 75 * usize::from(p.dpi), "{}", p.name);
            assert!((dots - 1) * 2540 < 75 * usize::from(p.dpi), "{}", p.name);
            let native_dots = escpos::native_module_dots(URL, &layout);
            assert_eq!(usize::from(native_dots), dots);
            let native = escpos::qr_native_block(URL, native_dots);
            // 41 bytes of GS ( k + data, 12 bytes of centring and feeds around.
            assert_eq!(native.len(), 41 + URL.len() + 12);
        }
    }
}
