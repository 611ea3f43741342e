//! The torn cut: the power goes while a commit is being synced. Its frames are written, and
//! so is whatever was written since the last sync (grouped commits among them); some of
//! those sectors reach the disk — the first few in order, the rest in any order — and the
//! others do not. The journal must open and hold every job and refund exactly as some whole
//! number of those commits left them: SQLite's atomic commit, over this journal's own
//! settings (a WAL kept and written over in place, `journal/wal.rs`; the test folds it in
//! midway, so that later commits write over the kept file). And a job or refund once in a
//! synced cut is in every later one.
//!
//! Knows the journal's reading side and the imaging VFS; nothing of the daemon.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use wxprint::journal::{JobRecord, Journal, RefundRecord};

use super::durable_vfs::{self, Cut, Snapshot};

/// The test's jobs with their refunds, as one journal holds them.
type Held = BTreeMap<String, (Option<JobRecord>, Vec<RefundRecord>)>;

/// What one torn cut found.
pub struct Verdict {
    /// How the cut ended, when the sync had anything to tear: `cut off` (as the last sync
    /// left it), `through` (as now written) or `partly` (some commits through, not all).
    pub kind: Option<&'static str>,
    /// What was wrong.
    pub wrong: Vec<String>,
}

/// The jobs and refunds seen in a synced cut so far: once there, always there.
#[derive(Default)]
pub struct Seen(BTreeSet<String>);

impl Seen {
    /// Note what `synced` holds; say what was seen before and is gone from it.
    fn note(&mut self, synced: &Held) -> Vec<String> {
        let mut now = BTreeSet::new();
        for (no, (job, refunds)) in synced {
            if job.is_some() {
                now.insert(no.clone());
            }
            now.extend(refunds.iter().map(|r| r.out_refund_no.clone()));
        }
        let lost = self
            .0
            .difference(&now)
            .map(|no| format!("{no} was synced, then lost"));
        let lost = lost.collect();
        self.0.extend(now);
        lost
    }
}

/// What `cut` of `snapshot` leaves, read by `read` (`None`: no journal). Panics when the
/// journal does not open.
pub fn after<T>(snapshot: &Snapshot, cut: Cut, read: impl FnOnce(&Journal) -> T) -> Option<T> {
    let dir = tempfile::tempdir().unwrap();
    snapshot.cut(cut, dir.path());
    let found = dir.path().join("journal.sqlite").exists().then(|| {
        let journal = Journal::open(dir.path())
            .unwrap_or_else(|e| panic!("the journal opens after a power cut ({cut:?}): {e}"));
        read(&journal)
    });
    durable_vfs::forget(dir.path());
    found
}

/// Tear the power in the journal of `state` now, for the jobs `numbers`.
pub fn check(state: &Path, numbers: &[String], seen: &mut Seen) -> Verdict {
    let snapshot = durable_vfs::snapshot(state);
    let held = |journal: &Journal| -> Held {
        let of = |no: &String| (journal.get(no).unwrap(), journal.refunds_of(no).unwrap());
        numbers.iter().map(|no| (no.clone(), of(no))).collect()
    };
    let (cut, commits) = (Cut::torn(), snapshot.commits());
    let Some(synced) = after(&snapshot, Cut::Synced, held) else {
        // Nothing synced yet: the torn cut has no journal either.
        return Verdict {
            kind: None,
            wrong: Vec::new(),
        };
    };
    let mut wrong = seen.note(&synced);
    let torn = after(&snapshot, cut, held);
    let whole: Vec<_> = (1..=commits)
        .map(|n| after(&snapshot, Cut::Commits(n), held))
        .collect();
    let written = after(&snapshot, Cut::Written, held);
    let kind = match torn {
        None => {
            wrong.push(format!("{cut:?} left no journal"));
            None
        }
        // Counted only when there was something to tear.
        Some(t) if t == synced => (written.as_ref() != Some(&synced)).then_some("cut off"),
        Some(t) if Some(&t) == written.as_ref() => Some("through"),
        Some(t) if whole.contains(&Some(t.clone())) => Some("partly"),
        Some(t) => {
            wrong.extend(half_changed(cut, &t, &synced, written.as_ref()));
            None
        }
    };
    Verdict { kind, wrong }
}

/// The jobs `torn` holds as neither the last sync nor the writes since left them.
fn half_changed(cut: Cut, torn: &Held, synced: &Held, written: Option<&Held>) -> Vec<String> {
    let differs =
        |no: &String, t| synced.get(no) != Some(t) && written.is_none_or(|w| w.get(no) != Some(t));
    let half = torn.iter().filter(|&(no, t)| differs(no, t));
    let described = half.map(|(no, t)| format!("{cut:?} left {no} as {t:?}"));
    let described: Vec<_> = described.collect();
    if described.is_empty() {
        // Each job as one commit or another left it, but not all as one number of commits.
        vec![format!(
            "{cut:?} left the jobs as no whole number of commits did"
        )]
    } else {
        described
    }
}
