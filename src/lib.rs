//! wxprint: WeChat Pay Native QR receipts on ESC/POS printers, for shop registers.
//!
//! See `DESIGN.md` (module map and contracts) and the README.

pub mod config;
pub mod receipt;
pub mod render;
