//! The label values and the rendering: outcomes, printer states and call outcomes from
//! what the daemon knows; every label set present at zero from the start; the histograms
//! rendered as histograms with their explicit buckets.

use std::time::Duration;

use super::*;
use crate::protocol::{CloseReason, JobState, Paper, PrinterStatus};

#[test]
fn a_final_state_is_an_outcome_and_an_open_one_is_not() {
    assert_eq!(Outcome::of(JobState::Paid, None), Some(Outcome::Paid));
    assert_eq!(Outcome::of(JobState::Failed, None), Some(Outcome::Failed));
    let closed = |r| Outcome::of(JobState::Closed, Some(r));
    assert_eq!(closed(CloseReason::Cancelled), Some(Outcome::Cancelled));
    assert_eq!(closed(CloseReason::Expired), Some(Outcome::Expired));
    assert_eq!(closed(CloseReason::Remote), Some(Outcome::Closed));
    for open in [
        JobState::Ordering,
        JobState::AwaitingPayment,
        JobState::UserPaying,
        JobState::Cancelling,
    ] {
        assert_eq!(Outcome::of(open, None), None, "{open:?}");
    }
}

#[test]
fn http_statuses_become_call_outcomes() {
    assert_eq!(CallOutcome::of_status(200), CallOutcome::Ok);
    assert_eq!(CallOutcome::of_status(204), CallOutcome::Ok);
    assert_eq!(CallOutcome::of_status(202), CallOutcome::NotProcessed);
    assert_eq!(CallOutcome::of_status(429), CallOutcome::RateLimited);
    assert_eq!(CallOutcome::of_status(404), CallOutcome::Http4xx);
    assert_eq!(CallOutcome::of_status(502), CallOutcome::Http5xx);
}

#[test]
fn a_printer_status_is_its_worst_state() {
    let ready = PrinterStatus {
        online: Some(true),
        paper: Paper::Ok,
        cover_open: Some(false),
        error: None,
        transport: None,
        drawer: crate::protocol::DrawerState::Unknown,
    };
    let with = |f: fn(&mut PrinterStatus)| {
        let mut s = ready.clone();
        f(&mut s);
        PrinterState::of(&s)
    };
    assert_eq!(PrinterState::of(&ready), PrinterState::Ready);
    assert_eq!(
        with(|s| s.online = None),
        PrinterState::Ready,
        "file printer"
    );
    assert_eq!(
        with(|s| s.paper = Paper::NearEnd),
        PrinterState::PaperNearEnd
    );
    assert_eq!(
        with(|s| {
            s.online = Some(false);
            s.paper = Paper::Out;
        }),
        PrinterState::PaperOut
    );
    assert_eq!(
        with(|s| {
            s.online = Some(false);
            s.cover_open = Some(true);
        }),
        PrinterState::CoverOpen
    );
    assert_eq!(with(|s| s.online = Some(false)), PrinterState::Offline);
    assert_eq!(
        with(|s| {
            s.online = Some(false);
            s.paper = Paper::Unknown;
            s.cover_open = None;
        }),
        PrinterState::Unreachable
    );
    assert_eq!(
        PrinterState::PaperNearEnd.after_printing(),
        PrinterState::PaperNearEnd
    );
    assert_eq!(
        PrinterState::Unreachable.after_printing(),
        PrinterState::Ready
    );
    assert_eq!(PrinterState::Unknown.after_printing(), PrinterState::Ready);
}

/// What a fresh recorder renders after `record`, with every label set initialised first.
fn rendered(record: impl FnOnce()) -> String {
    let recorder = exporter::builder().unwrap().build_recorder();
    let handle = recorder.handle();
    metrics::with_local_recorder(&recorder, || {
        initialise();
        record();
    });
    handle.render()
}

#[test]
fn every_label_set_is_there_at_zero_from_the_start() {
    let text = rendered(|| {});
    for outcome in Outcome::ALL {
        let line = format!("{CHECKOUTS}{{outcome=\"{}\"}} 0\n", outcome.as_str());
        assert!(text.contains(&line), "{line} in\n{text}");
    }
    for endpoint in Endpoint::ALL {
        for outcome in CallOutcome::ALL {
            let labels = format!(
                "endpoint=\"{}\",outcome=\"{}\"",
                endpoint.as_str(),
                outcome.as_str()
            );
            assert!(
                text.contains(&format!("{WECHATPAY_CALLS}{{{labels}}} 0\n")),
                "{labels}"
            );
        }
    }
    for reason in [
        "wechatpay_unreachable",
        "unverified_answer",
        "rate_limited",
        "printer",
    ] {
        assert!(
            text.contains(&format!("{RETRIES}{{reason=\"{reason}\"}} 0\n")),
            "{reason}"
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    assert!(text.contains(&format!("{BUILD_INFO}{{version=\"{version}\"}} 1\n")));
    assert!(text.contains(&format!("# HELP {CHECKOUTS} ")), "{text}");
}

#[test]
fn the_histograms_have_their_explicit_buckets() {
    let text = rendered(|| {
        time_to_paid(Duration::from_secs(5));
        time_to_paid(Duration::from_secs(700));
        time_to_printed(Duration::from_millis(800));
        checkout_finished(Outcome::Paid);
        wechatpay_call(Endpoint::Place, CallOutcome::Ok);
    });
    assert!(
        text.contains(&format!("# TYPE {TIME_TO_PAID} histogram\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("# TYPE {TIME_TO_PRINTED} histogram\n")),
        "{text}"
    );
    // 5 s is in the 6 s bucket and above, not in the 4 s one; 700 s only in +Inf.
    assert!(
        text.contains(&format!("{TIME_TO_PAID}_bucket{{le=\"4\"}} 0\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{TIME_TO_PAID}_bucket{{le=\"6\"}} 1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{TIME_TO_PAID}_bucket{{le=\"600\"}} 1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{TIME_TO_PAID}_bucket{{le=\"+Inf\"}} 2\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{TIME_TO_PAID}_count 2\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{TIME_TO_PRINTED}_bucket{{le=\"1\"}} 1\n")),
        "{text}"
    );
    let buckets = text
        .lines()
        .filter(|l| l.starts_with(&format!("{TIME_TO_PAID}_bucket")))
        .count();
    assert_eq!(buckets, PAID_BUCKETS.len() + 1, "{text}");
    assert!(text.contains(&format!("{CHECKOUTS}{{outcome=\"paid\"}} 1\n")));
    let ok = "endpoint=\"place\",outcome=\"ok\"";
    assert!(
        text.contains(&format!("{WECHATPAY_CALLS}{{{ok}}} 1\n")),
        "{text}"
    );
}
