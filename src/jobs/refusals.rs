//! [`Refused`] and the error bodies the job manager answers with: one function per
//! refusal, so that each message is written once.
//!
//! Knows the wire's [`ErrorBody`] and a job's record; knows nothing of the lock, the tasks
//! or the backends (a backend is named by the caller, see [`sandbox_only`]).

use super::JobsError;
use crate::journal::{JobRecord, JournalError};
use crate::payment::PaymentBackend;
use crate::protocol::{ErrorBody, ErrorCode, JobState};

/// A refused request: the error, and the state of the order it concerns, if it exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// The error as answered on the wire: code, message, and the field at fault if any.
    pub error: ErrorBody,
    /// The order's state when the refusal concerns an existing order; `None` otherwise
    /// (an unknown order, a malformed request, …).
    pub state: Option<JobState>,
}

impl From<ErrorBody> for Refused {
    fn from(error: ErrorBody) -> Self {
        Refused { error, state: None }
    }
}

impl Refused {
    /// A refusal about an existing order, with its state.
    pub(crate) fn about(record: &JobRecord, error: ErrorBody) -> Self {
        Refused {
            error,
            state: Some(record.state),
        }
    }
}

pub(crate) fn err(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(code, message)
}

pub(crate) fn shutting_down() -> ErrorBody {
    err(
        ErrorCode::ShuttingDown,
        "wxprint is shutting down; retry once it is back (systemd restarts it)",
    )
}

pub(crate) fn not_found(no: &str) -> ErrorBody {
    err(
        ErrorCode::OrderNotFound,
        format!("no order {no:?} is known to this wxprint"),
    )
}

/// `sandbox_pay` on a daemon whose payment backend, named `backend`, is not the sandbox.
pub(crate) fn sandbox_only(backend: &str) -> ErrorBody {
    err(
        ErrorCode::SandboxOnly,
        format!(
            "sandbox_pay works only with the sandbox backend (or a loopback order); this daemon uses {backend:?}"
        ),
    )
}

pub(crate) fn not_payable(record: &JobRecord) -> ErrorBody {
    let why = if record.state.is_final() || record.state == JobState::Cancelling {
        record.state.as_str()
    } else if record.code_url.is_none() {
        "not placed yet"
    } else {
        "past its time_expire"
    };
    err(
        ErrorCode::NotPayable,
        format!(
            "order {:?} is {why}; only an order awaiting payment can be paid or reprinted",
            record.out_trade_no
        ),
    )
}

/// A checkout repeating a known `out_trade_no` with other content.
pub(crate) fn duplicate_order(no: &str) -> ErrorBody {
    err(
        ErrorCode::DuplicateOrder,
        format!(
            "order {no:?} was already checked out with different content; \
             use a new out_trade_no for a different order"
        ),
    )
}

/// An `order.amount.currency` the payment backend does not take (`why`: its words), with
/// the spelling of a refused field (`field: message`).
pub(crate) fn unsupported_currency(why: &str) -> ErrorBody {
    let field = "order.amount.currency";
    let mut error = err(ErrorCode::InvalidRequest, format!("{field}: {why}"));
    error.field = Some(field.into());
    error
}

/// A `time_expire` from the POS that has already passed.
pub(crate) fn expired_time_expire(time_expire: &str) -> ErrorBody {
    let mut error = err(
        ErrorCode::InvalidRequest,
        format!("order.time_expire: {time_expire:?} is already past"),
    );
    error.field = Some("order.time_expire".into());
    error
}

pub(crate) fn journal_failed(e: &JournalError) -> ErrorBody {
    err(
        ErrorCode::Internal,
        format!("the journal could not store the order, so nothing was placed: {e}"),
    )
}

/// WeChat Pay refused the order for good: its code and message, passed on.
pub(crate) fn wechatpay_refused(
    code: String,
    message: String,
    request_id: Option<String>,
) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Wechatpay,
        message,
        wechatpay_code: Some(code),
        request_id,
        field: None,
    }
}

/// Refuse to start when an unfinished order's pinned request belongs to another merchant
/// than the configured backend's (test orders live on the built-in sandbox: skipped).
pub(crate) fn foreign_orders(
    unfinished: &[JobRecord],
    backend: &dyn PaymentBackend,
) -> Result<(), JobsError> {
    let foreign: Vec<String> = unfinished
        .iter()
        .filter(|r| !r.loopback)
        .filter_map(|r| {
            let body = r.place_body.as_deref()?;
            let why = backend.owns(body).err()?;
            Some(format!("{} ({why})", r.out_trade_no))
        })
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(JobsError::ForeignOrders {
        orders: foreign.join("; "),
    })
}
