//! The technician's test page: what the printer does with text, the character set and a QR,
//! and a line saying how the QR goes out on this layout ([`qr_description`]).
//!
//! Lays out the page and words its info lines about the printer ([`test_info`], the same
//! for the daemon's `test_print` and `wxprint test-print` without a daemon); the printer's
//! status comes from the caller, the bytes from `escpos`.

use super::text::wrapped_lines;
use crate::escpos::{
    Align, EscPos, Layout, QrStyle, TextMode, native_module_dots, qr_matrix, qr_module_dots,
};
use crate::protocol::PrinterStatus;

/// Data of the sample QR on the test page.
pub const TEST_QR_DATA: &str = "weixin://wxpay/bizpayurl?pr=TestQR1";
/// The Chinese sample line of the test page (Chinese mode).
pub const TEST_CHINESE_LINE: &str = "中文 微信扫码支付 ￥12.34";
/// The Latin sample line of the test page (code-page mode).
pub const TEST_LATIN_LINE: &str = "Latin: àáâäçèéêëìíîïñòóôöùúûüß ÀÉÖÜ €£¥";

/// A test page for the technician: title, `info` lines (wrapped), the full ASCII set
/// (0x20–0x7E, wrapped at the columns), a Chinese line (in code-page mode a Latin line and
/// the Chinese line as it comes out — `?` — with a note that Chinese is not available on
/// this profile), the QR style in use, a sample QR in the layout's style and the layout's
/// cut.
pub fn test_page(info: &[String], layout: &Layout) -> Vec<u8> {
    let columns = usize::from(layout.columns.max(1));
    let mut out = EscPos::start(
        layout,
        2048 + info.iter().map(|s| s.len() + 8).sum::<usize>(),
    );
    out.align(Align::Center)
        .bold(true)
        .line("wxprint test page")
        .bold(false)
        .align(Align::Left)
        .lf();
    for line in info {
        wrapped_lines(&mut out, line, columns);
    }
    out.lf();
    let printable: Vec<u8> = (0x20..=0x7E).collect();
    for chunk in printable.chunks(columns) {
        out.raw(chunk).lf();
    }
    match layout.text {
        TextMode::Chinese => wrapped_lines(&mut out, TEST_CHINESE_LINE, columns),
        TextMode::CodePage(n) => {
            let note = format!("ESC t {n}: {TEST_LATIN_LINE}");
            wrapped_lines(&mut out, &note, columns);
            let note = format!("{TEST_CHINESE_LINE} (Chinese is not available on this profile)");
            wrapped_lines(&mut out, &note, columns);
        }
    }
    out.lf();
    wrapped_lines(&mut out, &qr_description(TEST_QR_DATA, layout), columns);
    out.qr_block(TEST_QR_DATA, layout);
    out.align(Align::Center);
    wrapped_lines(&mut out, TEST_QR_DATA, columns);
    out.align(Align::Left);
    out.finish(layout.cut);
    out.into_bytes()
}

/// The test page's lines about this printer, whoever prints it: wxprint's version, the
/// `profile`, the `printer` transport, its live `status` in words and the paper geometry
/// of `layout`. The daemon adds its payment backend and the time.
pub fn test_info(
    profile: &str,
    printer: &str,
    status: &PrinterStatus,
    layout: &Layout,
) -> Vec<String> {
    let online = status
        .online
        .map_or("unknown", |o| if o { "yes" } else { "no" });
    let cover = status
        .cover_open
        .map_or("unknown", |o| if o { "open" } else { "closed" });
    let error = status
        .error
        .as_ref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    vec![
        format!("wxprint {}", env!("CARGO_PKG_VERSION")),
        format!("profile: {profile}"),
        format!("printer: {printer}"),
        format!(
            "status: online {online}, paper {}, cover {cover}{error}",
            status.paper.as_str()
        ),
        format!(
            "paper: {} dots, {} columns, QR {}",
            layout.width_dots,
            layout.columns,
            layout.qr.as_str()
        ),
    ]
}

/// One line saying how a QR of `data` goes out on `layout`, e.g. "QR: raster 29 modules x
/// 6 dots (0.75 mm), sent at 3 dots, printer doubles (GS v 0 m=3)".
pub fn qr_description(data: &str, layout: &Layout) -> String {
    let mm = |dots: usize| {
        let um10 = dots * 2540 / usize::from(layout.dpi.max(1));
        format!("{}.{:02} mm", um10 / 100, um10 % 100)
    };
    match layout.qr {
        QrStyle::Native => {
            let n = native_module_dots(data, layout);
            format!(
                "QR: native GS ( k, {n} dots/module ({})",
                mm(usize::from(n))
            )
        }
        QrStyle::Raster => {
            let Some((modules, _)) = qr_matrix(data.as_bytes()) else {
                return "QR: raster (data too long)".into();
            };
            let n = qr_module_dots(modules, layout);
            if layout.raster_scaling && n.is_multiple_of(2) {
                format!(
                    "QR: raster {modules} modules x {n} dots ({}), sent at {} dots, printer doubles (GS v 0 m=3)",
                    mm(n),
                    n / 2
                )
            } else {
                format!("QR: raster {modules} modules x {n} dots ({})", mm(n))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escpos::testing::{find, hex};
    use crate::protocol::Paper;

    #[test]
    fn test_info_words_the_printer_state() {
        let status = PrinterStatus {
            online: Some(true),
            paper: Paper::NearEnd,
            cover_open: Some(false),
            error: None,
            transport: None,
            drawer: crate::protocol::DrawerState::Unknown,
        };
        let info = test_info("80mm", "serial /dev/ttyUSB0", &status, &Layout::MM80);
        assert_eq!(
            info,
            [
                format!("wxprint {}", env!("CARGO_PKG_VERSION")),
                "profile: 80mm".into(),
                "printer: serial /dev/ttyUSB0".into(),
                "status: online yes, paper near_end, cover closed".into(),
                "paper: 576 dots, 48 columns, QR raster".into(),
            ]
        );
        let unknown = PrinterStatus {
            online: None,
            paper: Paper::Unknown,
            cover_open: None,
            error: Some("no answer".into()),
            transport: None,
            drawer: crate::protocol::DrawerState::Unknown,
        };
        let info = test_info("58mm", "usb /dev/usb/lp0", &unknown, &Layout::MM58);
        let status_line = "status: online unknown, paper unknown, cover unknown (no answer)";
        assert_eq!(info[3], status_line);
        let offline = PrinterStatus {
            online: Some(false),
            cover_open: Some(true),
            ..unknown
        };
        let info = test_info("58mm", "usb /dev/usb/lp0", &offline, &Layout::MM58);
        assert!(info[3].starts_with("status: online no, paper unknown, cover open ("));
    }

    #[test]
    fn test_page_contents() {
        let info = vec!["profile: 80mm".to_string(), "status: ok".to_string()];
        for layout in [
            Layout::MM80,
            Layout::MM58,
            Layout {
                qr: QrStyle::Native,
                ..Layout::MM58
            },
        ] {
            let b = test_page(&info, &layout);
            assert_eq!(&b[..2], &[0x1B, 0x40]);
            assert!(find(&b, b"wxprint test page\n").is_some());
            assert!(find(&b, b"profile: 80mm\n").is_some());
            let cols = usize::from(layout.columns);
            let printable: Vec<u8> = (0x20..=0x7E).collect();
            assert!(find(&b, &[&printable[..cols], b"\n"].concat()).is_some());
            assert_eq!(&b[2..4], &[0x1C, 0x2E]);
            let mut zh = EscPos::new();
            zh.line("中文 ￥12.34");
            assert_eq!(
                hex(zh.as_bytes()),
                "1C 26 D6 D0 CE C4 1C 2E 20 1C 26 A3 A4 1C 2E 31 32 2E 33 34 0A"
            );
            let mut line = EscPos::new();
            line.line(TEST_CHINESE_LINE);
            assert!(find(&b, line.as_bytes()).is_some());
            assert!(find(&b, b"QR: ").is_some());
            match layout.qr {
                QrStyle::Raster => assert!(find(&b, &[0x1D, 0x76, 0x30]).is_some()),
                QrStyle::Native => assert!(find(&b, &[0x1D, 0x28, 0x6B]).is_some()),
            }
            assert_eq!(&b[b.len() - 7..], &[0x1B, 0x64, 3, 0x1D, 0x56, 0x42, 0x00]);
        }
    }
}
