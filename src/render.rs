//! ESC/POS bytes → 1-bit bitmap → PNG: the receipt preview, and what tests decode QR codes from.

/// A 1-bit image, row-major, `true` = black dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    pub width: usize,
    pub height: usize,
    pub dots: Vec<bool>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("truncated ESC/POS command at byte {offset}: {what}")]
    Truncated { offset: usize, what: &'static str },
}

/// Interpret `bytes` on a paper `width_dots` wide.
pub fn render(_bytes: &[u8], _width_dots: usize) -> Result<Bitmap, RenderError> {
    todo!("render helper")
}

impl Bitmap {
    /// PNG encoding (1-bit greyscale).
    pub fn to_png(&self) -> Vec<u8> {
        todo!("render helper")
    }
}
