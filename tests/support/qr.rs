//! The one QR reader of the tests (rqrr): every QR code in a greyscale image, and every QR
//! code in an ESC/POS byte stream as wxprint's renderer draws it. The tests use it to check
//! that the QR printed is the `code_url` announced.

/// Decode every QR code in a `width` × `height` greyscale image (`pixel(x, y)`, 0 = black).
pub fn decode_greyscale(
    width: usize,
    height: usize,
    pixel: impl FnMut(usize, usize) -> u8,
) -> Vec<String> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    img.detect_grids()
        .into_iter()
        .map(|g| g.decode().expect("a decodable QR").1)
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
