//! `wxprint render` of a Chinese receipt, as a POS developer runs it: the real receipt encoder
//! lays out a receipt with a Chinese title, item line and footer (GB18030 behind `FS &`), the
//! real binary renders it, and the PNG must hold each character's own GNU Unifont bitmap at
//! the printer's cell size — found dot for dot, in order, where the layout puts it — with the
//! Latin text around it rendered the same way. A box or any other stand-in fails.

#[path = "support/bin.rs"]
mod bin;

use wxprint::escpos::Layout;
use wxprint::money::Money;
use wxprint::receipt::{self, Line, Receipt};

use bin::wxprint;

/// A rendered page: `true` = black dot.
struct Picture {
    width: usize,
    height: usize,
    dots: Vec<bool>,
}

impl Picture {
    fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dots[y * self.width + x]
    }
}

/// What one character must look like on paper: its Unifont glyph scaled nearest-neighbour
/// into its cell (font A: 12 × 24 per halfwidth glyph, 24 × 24 per fullwidth one, times the
/// character size); bold adds a copy one dot to the right.
struct Cell {
    w: usize,
    h: usize,
    dots: Vec<bool>,
    /// Bold: column 0 is not compared (the previous character's bold copy may reach it).
    first_col: usize,
}

impl Cell {
    fn of(c: char, size: usize, bold: bool) -> Cell {
        let glyph = unifont::get_glyph(c).unwrap_or_else(|| panic!("Unifont has no {c:?}"));
        let gw = glyph.get_width();
        let (w, h) = (gw * 3 / 2 * size, 24 * size);
        let pixel = |dx: usize, dy: usize| glyph.get_pixel(dx * gw / w, dy * 16 / h);
        let mut dots = Vec::with_capacity(w * h);
        for dy in 0..h {
            for dx in 0..w {
                dots.push(pixel(dx, dy) || (bold && dx > 0 && pixel(dx - 1, dy)));
            }
        }
        Cell {
            w,
            h,
            dots,
            first_col: usize::from(bold),
        }
    }

    fn is_at(&self, p: &Picture, x: usize, y: usize) -> bool {
        (0..self.h).all(|dy| {
            (self.first_col..self.w).all(|dx| p.get(x + dx, y + dy) == self.dots[dy * self.w + dx])
        })
    }
}

/// Every top-left corner where `text` (one line, one size) is drawn dot for dot.
fn find(p: &Picture, text: &str, size: usize, bold: bool) -> Vec<(usize, usize)> {
    let cells: Vec<Cell> = text.chars().map(|c| Cell::of(c, size, bold)).collect();
    let first = &cells[0];
    let mut found = Vec::new();
    for y in 0..p.height.saturating_sub(first.h - 1) {
        for x in 0..p.width.saturating_sub(first.w - 1) {
            let mut cx = x;
            let all = cells.iter().all(|cell| {
                let here = cell.is_at(p, cx, y);
                cx += cell.w;
                here
            });
            if all {
                found.push((x, y));
            }
        }
    }
    found
}

/// `receipt` encoded for `layout` by the library, written to a file and rendered by the
/// `wxprint render` binary at the layout's width; the PNG decoded.
fn rendered(receipt: &Receipt, layout: &Layout) -> Picture {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("receipt.bin"),
        receipt::encode(receipt, layout),
    )
    .unwrap();
    let width = layout.width_dots.to_string();
    let args = [
        "render",
        "receipt.bin",
        "-o",
        "receipt.png",
        "--width",
        &width,
    ];
    let out = wxprint(dir.path(), &args);
    assert!(out.status.success(), "{out:?}");
    let png_bytes = std::fs::read(dir.path().join("receipt.png")).unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (width, height) = (info.width as usize, info.height as usize);
    let dots = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| buf[y * info.line_size + x] < 128)
        .collect();
    Picture {
        width,
        height,
        dots,
    }
}

fn chinese_receipt() -> Receipt {
    Receipt {
        title: "小店 Corner Shop".into(),
        lines: vec![
            Line {
                name: "Americano".into(),
                quantity: 2,
                amount: 2400,
            },
            Line {
                name: "牛角包 croissant".into(),
                quantity: 1,
                amount: 800,
            },
        ],
        total: Money::cny(3200),
        code_url: "weixin://wxpay/bizpayurl?pr=Ab3dE9x".into(),
        footer: "谢谢 Thank you".into(),
        out_trade_no: "T20261126120005".into(),
        time: "2026-11-26 12:00:05".into(),
        sandbox: false,
        reprint: false,
    }
}

/// The one place `text` is drawn; fails with what was looked for.
fn only(p: &Picture, text: &str, size: usize, bold: bool) -> (usize, usize) {
    let found = find(p, text, size, bold);
    assert_eq!(
        found.len(),
        1,
        "{text:?} (size {size}, bold {bold}): {found:?}"
    );
    found[0]
}

#[test]
fn a_gb18030_receipt_shows_the_fonts_own_glyphs() {
    for layout in [Layout::MM80, Layout::MM58] {
        let width = usize::from(layout.width_dots);
        let p = rendered(&chinese_receipt(), &layout);
        assert_eq!(p.width, width);

        // The title: bold, double size (48 dots a hanzi), centred; 16 columns of 24 dots.
        let (x, title_y) = only(&p, "小店 Corner Shop", 2, true);
        assert_eq!(x, (width - 16 * 24) / 2, "{layout:?}");
        // Item lines, flush left: a Latin one, then hanzi and Latin on one line.
        let (x, americano_y) = only(&p, "Americano x 2", 1, false);
        assert_eq!(x, 0);
        let (x, croissant_y) = only(&p, "牛角包 croissant x 1", 1, false);
        assert_eq!(x, 0);
        assert!(title_y < americano_y && americano_y < croissant_y);
        // The full-width yuan sign of the amounts, and the Chinese payment hint, centred.
        assert!(!find(&p, "￥8.00", 1, false).is_empty());
        let (x, hint_y) = only(&p, "微信扫码支付", 1, false);
        assert_eq!(x, (width - 6 * 24) / 2);
        // The footer, centred: 谢谢 + " Thank you" is 4 + 10 columns.
        let (x, footer_y) = only(&p, "谢谢 Thank you", 1, false);
        assert_eq!(x, (width - 14 * 12) / 2);
        assert!(croissant_y < hint_y && hint_y < footer_y);

        // The matcher is not vacuous: characters that are not on the receipt are not found.
        assert!(find(&p, "大", 1, false).is_empty());
        assert!(
            find(&p, "Shop", 1, true).is_empty(),
            "the title is double size"
        );
    }
}
