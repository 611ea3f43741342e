//! Printing a job's receipt: the receipt built from the record and the `[receipt]`
//! defaults, the attempts, and what the POS hears while the printer is not ready.
//!
//! A receipt is printed only while the order is payable and only once its `code_url` is
//! in the journal. Before its bytes first go to the printer, the journal notes that the
//! print started (`print_started_ms`: in the `code_url`'s own commit when the receipt was
//! queued right after the placement, else grouped); a job resumed with that note and the
//! receipt still pending had its print cut off by a crash, so its receipt is printed again
//! (the customer needs a payable QR) marked as a reprint (the cashier must not hand out
//! two). A note that turns out early (the printer was not ready: nothing sent) is taken
//! back. Knows the printer handle and the receipt layout; knows no backend.

use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, warn};

use super::record::receipt_spec;
use super::refusals::err;
use super::state::Shared;
use super::transitions::{self, payable};
use crate::clock;
use crate::journal::JobRecord;
use crate::printer::{Gate, GateKey, JobBytes, PrinterError, Printout, Queued};
use crate::protocol::{ErrorCode, Event, PrintState, PrinterStatus};
use crate::receipt;

/// Where printing a job's receipt stands (in memory: after a restart the print timeout
/// starts again).
#[derive(Default)]
pub(crate) struct Printing {
    first_attempt: Option<Instant>,
    next_attempt: Option<Instant>,
    /// The last printer state told to the POS, so it hears of each change once.
    reported: Option<PrinterStatus>,
    /// The print started before this run of the daemon (a crash cut it off): the receipt
    /// says it is a reprint. Decided at this run's first attempt.
    reprint: bool,
    /// The journal's note that the print started was written by this run, with the
    /// `code_url` (the receipt was queued early): not a sign of a crash.
    noted_here: bool,
}

impl Printing {
    /// How long until the next attempt, if the receipt is still to be printed.
    pub(crate) fn wait(&self, record: &JobRecord) -> Option<Duration> {
        (record.print == PrintState::Pending && payable(record, clock::now_ms())).then(|| {
            self.next_attempt
                .map(|at| at.saturating_duration_since(Instant::now()))
                .unwrap_or_default()
        })
    }
}

/// A receipt queued at the printer right after its order was placed, before its
/// `code_url` is durable: the printer opens its link and asks its status while the journal
/// writes, and sends nothing until [`print_attempt`] releases it (the `code_url` durable,
/// the print noted). Dropped unreleased, nothing is sent.
pub(crate) struct Early {
    code_url: String,
    key: GateKey,
    queued: Queued,
}

/// Queue the receipt of `record` (as placed, with `code_url`) behind a shut gate. Only
/// for a receipt not yet started (never a reprint).
pub(crate) fn queue_early(shared: &Shared, record: &JobRecord, code_url: &str) -> Option<Early> {
    if record.print != PrintState::Pending || record.print_started_ms.is_some() {
        return None;
    }
    let record = JobRecord {
        code_url: Some(code_url.to_owned()),
        ..record.clone()
    };
    // Rendered on the printer thread (the QR symbol is the costly part) while this thread
    // writes the code_url to disk.
    let (receipt, layout) = (receipt_of(shared, &record, false), shared.config.layout);
    let bytes = JobBytes::Render(Box::new(move || receipt::encode(&receipt, &layout)));
    let (key, gate) = Gate::shut();
    let queued = shared.printer.queue(&record.out_trade_no, bytes, gate);
    Some(Early {
        code_url: code_url.to_owned(),
        key,
        queued,
    })
}

/// Build the receipt of `record` and write it to the printer.
pub(crate) async fn print_receipt(
    shared: &Shared,
    record: &JobRecord,
) -> Result<Printout, PrinterError> {
    print_copy(shared, record, false).await
}

/// Build the receipt of `record`, marked as a reprint when `reprint`, and write it to the
/// printer.
async fn print_copy(
    shared: &Shared,
    record: &JobRecord,
    reprint: bool,
) -> Result<Printout, PrinterError> {
    let bytes = receipt_bytes(shared, record, reprint);
    shared.printer.print(&record.out_trade_no, bytes).await
}

/// The ESC/POS bytes of `record`'s receipt, marked as a reprint when `reprint`.
fn receipt_bytes(shared: &Shared, record: &JobRecord, reprint: bool) -> Vec<u8> {
    receipt::encode(&receipt_of(shared, record, reprint), &shared.config.layout)
}

/// `record`'s receipt, marked as a reprint when `reprint`.
fn receipt_of(shared: &Shared, record: &JobRecord, reprint: bool) -> receipt::Receipt {
    let spec = receipt_spec(record);
    let config = &shared.config;
    let lines = match spec.lines {
        Some(lines) => lines
            .into_iter()
            .map(|l| receipt::Line {
                name: l.name,
                quantity: l.quantity,
                amount: l.amount,
            })
            .collect(),
        // No item lines: the order's description stands for the whole purchase.
        None => vec![receipt::Line {
            name: record.description.clone(),
            quantity: 1,
            amount: record.amount.minor(),
        }],
    };
    receipt::Receipt {
        title: spec.title.unwrap_or_else(|| config.receipt_title.clone()),
        lines,
        total: record.amount.clone(),
        code_url: record.code_url.clone().unwrap_or_default(),
        footer: spec.footer.unwrap_or_else(|| config.receipt_footer.clone()),
        out_trade_no: record.out_trade_no.clone(),
        time: clock::receipt_time(record.created_ms),
        sandbox: shared.backend_of(record).as_sandbox().is_some(),
        reprint,
    }
}

/// Try to print the receipt, if the order is payable and it is not printed yet. A printer
/// that is not ready (paper out, cover open, offline, unplugged) leaves it pending, tells
/// the POS, and it is tried again; after `print_timeout` it is `failed` — the order stays
/// payable either way. Never interrupted by shutdown: a receipt being written is finished.
pub(crate) async fn print_attempt(shared: &Shared, no: &str, printing: &mut Printing) {
    print_attempt_with(shared, no, printing, None).await;
}

/// [`print_attempt`], with `early`: this receipt, already queued behind its gate
/// ([`queue_early`]); released once the `code_url` is durable and the print noted, else
/// dropped (nothing sent).
pub(crate) async fn print_attempt_with(
    shared: &Shared,
    no: &str,
    printing: &mut Printing,
    early: Option<Early>,
) {
    if early.is_some() && printing.first_attempt.is_none() {
        printing.noted_here = true;
    }
    let Some(record) = shared.record(no) else {
        return;
    };
    // Never print a QR the customer cannot pay any more (e.g. resumed after time_expire).
    if record.print != PrintState::Pending || !payable(&record, clock::now_ms()) {
        return;
    }
    let timeout = shared.config.print_timeout;
    let retry = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(2));
    if !shared.ensure_durable(no) {
        // The code_url is not in the journal yet: a crash now would re-place the order
        // and kill a printed QR. Wait for the disk.
        printing.next_attempt = Some(Instant::now() + retry);
        return;
    }
    note_start(shared, &record, printing);
    let first = *printing.first_attempt.get_or_insert_with(Instant::now);
    let result = match early {
        // The very bytes of this receipt, queued with this code_url: let them out.
        Some(e) if !printing.reprint && record.code_url.as_deref() == Some(&e.code_url) => {
            e.key.release(true);
            e.queued.written().await
        }
        other => {
            // Shut the early gate first: the printer thread waits on it, and this copy is
            // queued behind it.
            if let Some(e) = other {
                e.key.release(false);
            }
            print_copy(shared, &record, printing.reprint).await
        }
    };
    match result {
        Ok(printout) => {
            let (location, confirmed) = (&printout.location, printout.confirmed);
            debug!(
                out_trade_no = no,
                location = location.as_deref().unwrap_or(""),
                confirmed,
                "receipt printed"
            );
            // Grouped: a power cut right now prints the receipt again after the restart,
            // which is all it can cost (the code_url was durable before printing).
            shared.transition_grouped(no, |r| transitions::printed(r, printout));
        }
        Err(e) if first.elapsed() >= timeout || matches!(e, PrinterError::Stopped) => {
            warn!(out_trade_no = no, error = %e, "printing failed; the order stays payable");
            let error = err(
                ErrorCode::Printer,
                format!(
                    "the receipt could not be printed within {}: {e}",
                    humantime::format_duration(timeout)
                ),
            );
            shared.transition_grouped(no, |r| transitions::print_failed(r, error));
        }
        Err(e) => {
            printing.next_attempt = Some(Instant::now() + retry);
            if matches!(e, PrinterError::NotReady(_)) && !printing.reprint {
                // Nothing was sent: a crash now must not make the only copy a "reprint".
                shared.transition_grouped(no, |r| {
                    r.print_started_ms = None;
                    None
                });
            }
            not_ready(shared, &record, printing, e);
        }
    }
}

/// Before the receipt's bytes go out: at this run's first attempt, whether an earlier run
/// started printing it (then this copy is a reprint); otherwise note in the journal that
/// printing starts, unless this run noted it with the `code_url`. Grouped: committed before
/// the bytes go out, so it survives the daemon being killed; a power cut may lose it, and
/// then the second copy is unmarked.
fn note_start(shared: &Shared, record: &JobRecord, printing: &mut Printing) {
    let no = record.out_trade_no.as_str();
    if printing.first_attempt.is_none() {
        printing.reprint = record.print_started_ms.is_some() && !printing.noted_here;
        if printing.reprint {
            warn!(
                out_trade_no = no,
                "a crash cut off this receipt's print; printing it again, marked as a reprint"
            );
        }
    }
    if !printing.reprint && record.print_started_ms.is_none() {
        let now = clock::now_ms();
        shared.transition_grouped(no, |r| {
            r.print_started_ms = Some(now);
            None
        });
    }
}

/// The printer cannot take the receipt yet: tell the POS, once per printer state.
fn not_ready(shared: &Shared, record: &JobRecord, printing: &mut Printing, e: PrinterError) {
    let no = record.out_trade_no.as_str();
    crate::metrics::retry(crate::protocol::DelayReason::Printer);
    let status = e.into_status(shared.printer.describe());
    if printing.reported.as_ref() != Some(&status) {
        warn!(
            out_trade_no = no,
            error = status.error.as_deref().unwrap_or("not ready"),
            "printer not ready; the receipt waits"
        );
        printing.reported = Some(status.clone());
        shared.notify(Event::Printer {
            out_trade_no: Some(no.to_owned()),
            state: Some(record.state),
            print: Some(PrintState::Pending),
            status,
        });
    }
}
