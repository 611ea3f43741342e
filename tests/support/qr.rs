//! The one QR reader of the tests (rqrr): every QR code in a greyscale image, and every QR
//! code in an ESC/POS byte stream as wxprint's renderer draws it. The tests use it to check
//! that the QR printed is the `code_url` announced.
//!
//! rqrr finds a symbol by its three finder patterns, and a glyph of the text printed above
//! a QR (a CJK character, an emoji) can look like one to it: it then groups that glyph with
//! the symbol's own finders into one grid that reads nothing, and the QR is not read at
//! all (1 receipt in about 3,000 of the property tests' random titles). A phone reads one
//! symbol at a time, inside its quiet zone, so this reader does too when the whole image
//! gives nothing: it reads the image again in bands cut at blank runs of rows. The quiet
//! zone above and below a QR (4 modules) is such a run, and inside a symbol no blank run is
//! longer than one module (its timing pattern); each blank-run length in the image is tried
//! as the cut, so a band holds one whole QR for some cut whatever the module size.

use std::collections::BTreeSet;

/// Decode every QR code in a `width` × `height` greyscale image (`pixel(x, y)`, 0 = black).
/// A grid that does not decode is no QR code read.
pub fn decode_greyscale(
    width: usize,
    height: usize,
    mut pixel: impl FnMut(usize, usize) -> u8,
) -> Vec<String> {
    let image: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .map(|(x, y)| pixel(x, y))
        .collect();
    let rows = |from: usize, to: usize| &image[from * width..to * width];
    let whole = read(width, rows(0, height));
    if !whole.is_empty() {
        return whole;
    }
    let mut found = BTreeSet::new();
    for cut in blank_run_lengths(&image, width) {
        for (from, to) in bands(&image, width, cut) {
            found.extend(read(width, rows(from, to)));
        }
    }
    found.into_iter().collect()
}

/// Every QR code rqrr finds and decodes in `image`, rows of `width` pixels.
fn read(width: usize, image: &[u8]) -> Vec<String> {
    let height = image.len() / width;
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| image[y * width + x]);
    prepared
        .detect_grids()
        .into_iter()
        .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
        .collect()
}

/// Whether row `y` of `image` is blank (no dark pixel).
fn blank(image: &[u8], width: usize, y: usize) -> bool {
    image[y * width..(y + 1) * width].iter().all(|&p| p > 127)
}

/// The lengths of the runs of blank rows in `image`, longest first.
fn blank_run_lengths(image: &[u8], width: usize) -> Vec<usize> {
    let mut lengths = BTreeSet::new();
    let mut run = 0;
    for y in 0..image.len() / width {
        if blank(image, width, y) {
            run += 1;
        } else if run > 0 {
            lengths.insert(run);
            run = 0;
        }
    }
    lengths.into_iter().rev().collect()
}

/// `image` cut into row ranges in the middle of each run of at least `cut` blank rows (each
/// range keeps half of the blank run on either side, its quiet zone).
fn bands(image: &[u8], width: usize, cut: usize) -> Vec<(usize, usize)> {
    let height = image.len() / width;
    let mut cuts = vec![0];
    let mut run = 0;
    for y in 0..height {
        if blank(image, width, y) {
            run += 1;
            continue;
        }
        if run >= cut {
            cuts.push(y - run / 2);
        }
        run = 0;
    }
    cuts.push(height);
    cuts.windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|(a, b)| a < b)
        .collect()
}

/// Decode every QR code in an ESC/POS byte stream, through our renderer.
#[allow(dead_code, reason = "tests/cli reads PNGs and never ESC/POS")]
pub fn decode_qr(bytes: &[u8], width: usize) -> Vec<String> {
    let bitmap = wxprint::preview::render(bytes, width).expect("renderable");
    decode_greyscale(bitmap.width, bitmap.height, |x, y| {
        if bitmap.dots[y * bitmap.width + x] {
            0
        } else {
            255
        }
    })
}
