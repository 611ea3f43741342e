//! The daemon driven over its socket like a POS: checkout → events → the printed QR is the
//! code_url → payment; idempotency, cancel, expiry, restart, shutdown, and every error code.
//!
//! One test binary (`cargo test --test daemon`), a module per topic; the in-process daemon
//! and the POS client are in `tests/support/`.

#[path = "../support/merchant.rs"]
mod merchant;
#[path = "../support/mod.rs"]
mod support;
#[path = "../support/virtual_printer/mod.rs"]
mod virtual_printer;
#[path = "../support/wechatpay_sim/mod.rs"]
mod wechatpay_sim;

mod backends;
mod cancel;
mod checkout;
mod delayed;
mod drawer;
mod errors;
mod expiry;
mod global;
mod hangup;
mod hostile;
mod printing;
mod refund;
mod requests;
mod restart;
mod scale;
mod shutdown;
mod slip;
mod watch;

use std::path::Path;
use std::sync::Arc;

use support::{Daemon, Options};
use wxprint::jobs::JobsConfig;
use wxprint::payment::PaymentBackend;
use wxprint::printer::Printer;

/// A daemon in `dir` with these timings, on the sandbox and the file printer.
async fn start_with_config(dir: &Path, config: JobsConfig) -> Daemon {
    let options = Options {
        config,
        ..Options::default()
    };
    Daemon::start_with(dir, options).await
}

/// A daemon in `dir` on this payment backend.
async fn start_with_backend(dir: &Path, backend: impl PaymentBackend + 'static) -> Daemon {
    let options = Options {
        backend: Some(Arc::new(backend)),
        ..Options::default()
    };
    Daemon::start_with(dir, options).await
}

/// A daemon in `dir` printing to this printer.
async fn start_with_printer(dir: &Path, printer: impl Printer + 'static) -> Daemon {
    let options = Options {
        printer: Some(Box::new(printer)),
        ..Options::default()
    };
    Daemon::start_with(dir, options).await
}
