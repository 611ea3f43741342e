//! The journal's own tests: records written, read back, reopened, grouped and checkpointed.

use super::*;
use crate::money::{Currency, Money};
use crate::payment::ExchangeRate;
use crate::protocol::{CloseReason, ErrorBody, ErrorCode};

fn record(no: &str) -> JobRecord {
    JobRecord {
        goods_tag: Some("tag".into()),
        ..JobRecord::new(
            no,
            r#"{"order":{}}"#,
            "Latte x2",
            Money::cny(3200),
            1_795_666_200_000,
            1_795_665_600_000,
        )
    }
}

#[test]
fn the_page_cache_is_small() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(dir.path()).unwrap();
    let pages: i64 = j
        .conn
        .query_row("PRAGMA cache_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pages, -CACHE_KIB, "a 256 KiB cache, not SQLite's 2 MiB");
}

#[test]
fn records_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = record("T0000001");
    let mut b = record("T0000002");
    {
        let mut j = Journal::open(dir.path()).unwrap();
        j.insert(&a).unwrap();
        j.insert(&b).unwrap();
        assert!(j.insert(&a).is_err(), "a number is stored once");
        a.state = JobState::Paid;
        a.transaction_id = Some("4200".into());
        a.close_reason = None;
        j.update(&a).unwrap();
        b.state = JobState::Closed;
        b.close_reason = Some(CloseReason::Cancelled);
        b.error = Some(ErrorBody::new(ErrorCode::Printer, "paper out"));
        j.update(&b).unwrap();
        // Dropped without checkpoint: like a crash, the WAL must carry the commits.
    }
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.get("T0000001").unwrap().unwrap(), a);
    assert_eq!(j.get("T0000002").unwrap().unwrap(), b);
    assert_eq!(j.get("T0000003").unwrap(), None);
}

#[test]
fn a_durable_write_carries_the_grouped_ones_and_the_group_does_not_sync_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    let (mut a, b) = (record("T0000001"), record("T0000002"));
    j.insert(&a).unwrap();
    a.state = JobState::Closed;
    a.close_reason = Some(CloseReason::Cancelled);
    j.update_grouped(&a).unwrap();
    // The next checkout's insert syncs the WAL, grouped write included.
    j.insert(&b).unwrap();
    std::thread::sleep(GROUP_WINDOW * 4);
    assert_eq!(
        j.group.syncs(),
        0,
        "a second sync for what was already synced"
    );
    // A grouped write with no durable write after it is still synced by the group.
    j.update_grouped(&a).unwrap();
    let start = std::time::Instant::now();
    while j.group.syncs() == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "no sync"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn grouped_updates_share_one_sync_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut records: Vec<_> = (0..20).map(|i| record(&format!("T{i:07}"))).collect();
    {
        let mut j = Journal::open(dir.path()).unwrap();
        for r in &records {
            j.insert(r).unwrap();
        }
        assert_eq!(
            j.group.syncs(),
            0,
            "durable writes sync inline, not in the group"
        );
        for r in &mut records {
            r.state = JobState::Closed;
            r.close_reason = Some(CloseReason::Cancelled);
            j.update_grouped(r).unwrap();
            // Readable at once, before any sync.
            assert_eq!(j.get(&r.out_trade_no).unwrap().as_ref(), Some(&*r));
        }
        let start = std::time::Instant::now();
        while j.group.syncs() == 0 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "no sync"
            );
            std::thread::yield_now();
        }
        let syncs = j.group.syncs();
        assert!(syncs < 5, "20 grouped writes, {syncs} syncs: not grouped");
        // Back to FULL: a plain update is durable again when it returns.
        let mode: i64 = j
            .conn
            .query_row("PRAGMA synchronous", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, 2, "synchronous=FULL after a grouped write");
    }
    let j = Journal::open(dir.path()).unwrap();
    for r in &records {
        assert_eq!(j.get(&r.out_trade_no).unwrap().as_ref(), Some(r));
    }
}

#[test]
fn lists_unfinished_jobs_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    let mut first = record("T0000001");
    first.created_ms -= 10;
    let mut done = record("T0000002");
    done.state = JobState::Failed;
    let mut second = record("T0000003");
    second.state = JobState::Cancelling;
    for r in [&second, &done, &first] {
        j.insert(r).unwrap();
    }
    let nos: Vec<_> = j
        .unfinished()
        .unwrap()
        .into_iter()
        .map(|r| r.out_trade_no)
        .collect();
    assert_eq!(nos, ["T0000001", "T0000003"]);
}

#[test]
fn refuses_a_journal_from_the_future() {
    let dir = tempfile::tempdir().unwrap();
    drop(Journal::open(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
    conn.execute_batch("PRAGMA user_version = 99;").unwrap();
    drop(conn);
    let e = Journal::open(dir.path()).unwrap_err();
    assert!(matches!(e, JournalError::TooNew { found: 99, .. }), "{e}");
}

#[test]
fn a_global_payment_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let hkd = Money::new(1234, Currency::new("HKD"));
    let mut r = JobRecord::new("T0000001", "{}", "Milk tea", hkd, 0, 0);
    r.state = JobState::Paid;
    r.paid_total = Some(1234);
    r.payer_total = Some(1135);
    r.payer_currency = Some(Currency::CNY);
    r.exchange_rate = Some(ExchangeRate {
        kind: "SETTLEMENT_RATE".into(),
        rate: 92_000_000,
    });
    Journal::open(dir.path()).unwrap().insert(&r).unwrap();
    let back = Journal::open(dir.path()).unwrap().get("T0000001").unwrap();
    assert_eq!(back.as_ref(), Some(&r));
    assert_eq!(r.payer_amount(), Money::cny(1135));
}

#[test]
fn a_version_1_journal_is_migrated_to_version_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let conn = Connection::open(&path).unwrap();
        schema::create_v1(&conn).unwrap();
        conn.execute_batch(
            r#"INSERT INTO jobs VALUES ('T0000001', '{"order":{}}', 'paid', 'printed',
                'Latte x2', 3200, 'CNY', NULL, NULL, '2026-11-26T12:10:00+08:00',
                1795666200000, NULL, 0, 'weixin://wxpay/bizpayurl?pr=abc',
                1795665601000, '4200000001', '2026-11-26T12:01:00+08:00', 3000, 3200,
                NULL, NULL, 1795665600000, 1795665660000);
               INSERT INTO jobs VALUES ('T0000002', '{"order":{}}', 'awaiting_payment',
                'printed', 'Tea', 800, 'CNY', NULL, NULL, '2026-11-26T12:10:00+08:00',
                1795666200000, NULL, 0, 'weixin://wxpay/bizpayurl?pr=def', 1795665601000,
                NULL, NULL, NULL, NULL, NULL, NULL, 1795665600000, 1795665600000);"#,
        )
        .unwrap();
    }
    let mut j = Journal::open(dir.path()).unwrap();
    let version = schema::version(&j.conn).unwrap();
    assert_eq!((version, SCHEMA_VERSION), (5, 5));
    let paid = j.get("T0000001").unwrap().unwrap();
    assert_eq!(paid.state, JobState::Paid);
    assert_eq!(paid.transaction_id.as_deref(), Some("4200000001"));
    assert_eq!(
        (paid.paid_amount(), paid.payer_amount()),
        (Money::cny(3200), Money::cny(3000))
    );
    assert_eq!(
        (paid.payer_currency.clone(), paid.exchange_rate.clone()),
        (None, None)
    );
    let open: Vec<_> = j
        .unfinished()
        .unwrap()
        .into_iter()
        .map(|r| r.out_trade_no)
        .collect();
    assert_eq!(
        open,
        ["T0000002"],
        "the unfinished job resumes after the upgrade"
    );
    // The migrated file takes the new columns, and opens again without a second step.
    let mut converted = paid.clone();
    converted.payer_currency = Some(Currency::CNY);
    j.update(&converted).unwrap();
    drop(j);
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.get("T0000001").unwrap(), Some(converted));
}

#[test]
fn the_wal_is_checkpointed_by_the_group_thread_not_in_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    let wal_pages = |j: &Journal| -> i64 {
        j.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap()
    };
    // Turned off on the journal's connection: a commit never checkpoints by itself.
    let mut r = record("T0000000");
    j.insert(&r).unwrap();
    let mut written = 0;
    while j.group.checkpoints() == 0 {
        assert!(written < 20_000, "no checkpoint after {written} writes");
        r.updated_ms += 1;
        j.update(&r).unwrap();
        written += 1;
    }
    assert!(
        written >= i64::from(group::CHECKPOINT_PAGES) / 4,
        "checkpointed after {written} writes, before the WAL reached its mark"
    );
    // The folded-in WAL starts over at the next write, instead of growing.
    let start = std::time::Instant::now();
    loop {
        r.updated_ms += 1;
        j.update(&r).unwrap();
        if wal_pages(&j) < i64::from(group::CHECKPOINT_PAGES) / 2 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the WAL never restarted"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(j);
    let j = Journal::open(dir.path()).unwrap();
    assert_eq!(j.get("T0000000").unwrap(), Some(r));
}

/// Writes that never pause (thousands in a row, as the bench's fill or a burst of polled
/// orders) leave the group thread no moment to fold the WAL in whole: the commit past
/// `FORCE_PAGES` folds it in itself, so it starts over instead of growing without end; and
/// the shutdown's checkpoint folds it in and starts it over even with the thread at work:
/// the file keeps its size (the next run writes over it, `wal.rs`) and the next open
/// finds one frame in it, not thousands to read again.
#[test]
fn a_wal_written_without_pause_stays_bounded_and_the_shutdown_starts_it_over() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    let wal = dir.path().join("journal.sqlite-wal");
    // FORCE_PAGES of 4 KiB (16 MiB) and the commit that crossed the mark.
    let bound = 17 << 20;
    // New rows of a kilobyte (a real checkout's size; each its own pages, unlike an
    // update in place), unsynced to be quick.
    j.conn.execute_batch("PRAGMA synchronous = OFF;").unwrap();
    let mut largest = 0;
    for i in 0..12_000 {
        let mut r = record(&format!("T{i:09}"));
        r.place_body = Some(format!("{{\"description\":\"{}\"}}", "x".repeat(1000)));
        j.insert(&r).unwrap();
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert!(
        largest <= bound,
        "the WAL grew to {largest} bytes (bound {bound})"
    );
    j.checkpoint().unwrap();
    let kept = std::fs::metadata(&wal).unwrap().len();
    drop(j);
    assert_eq!(
        std::fs::metadata(&wal).unwrap().len(),
        kept,
        "the WAL file is kept"
    );
    assert!(kept > 1 << 20, "the WAL file shrank to {kept} bytes");
    let j = Journal::open(dir.path()).unwrap();
    assert!(j.get("T000011999").unwrap().is_some());
    let frames: i64 = j
        .conn
        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
        .unwrap();
    assert!(
        frames <= 1,
        "{frames} frames left in the WAL after the shutdown"
    );
}

/// A daemon stopped before its WAL ever needed a checkpoint closes the journal's only
/// connection: SQLite would remove the WAL then, and the next run would grow it again by
/// appends; it is kept (`wal.rs`).
#[test]
fn the_wal_file_outlives_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("journal.sqlite-wal");
    let mut j = Journal::open(dir.path()).unwrap();
    j.insert(&record("T0000001")).unwrap();
    let grown = std::fs::metadata(&wal).unwrap().len();
    j.checkpoint().unwrap();
    drop(j);
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).ok(), Some(grown));
    let j = Journal::open(dir.path()).unwrap();
    assert!(j.get("T0000001").unwrap().is_some());
}

#[test]
fn an_update_rewrites_its_row_and_state_in_place_not_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path()).unwrap();
    let wal = dir.path().join("journal.sqlite-wal");
    let frames = || std::fs::metadata(&wal).unwrap().len() / (24 + 4096);
    let mut a = record("T0000001");
    j.insert(&a).unwrap();
    let before = frames();
    // The code_url's commit: a new state, the row's columns.
    a.state = JobState::AwaitingPayment;
    a.code_url = Some("weixin://wxpay/bizpayurl?pr=abc".into());
    j.update(&a).unwrap();
    assert!(
        frames() - before <= 2,
        "{} pages for one update (the row's and the state index's are all it needs)",
        frames() - before
    );
    assert_eq!(j.get("T0000001").unwrap(), Some(a.clone()));
    // A record not stored yet is inserted.
    let b = record("T0000002");
    j.update(&b).unwrap();
    assert_eq!(j.get("T0000002").unwrap(), Some(b));
}
