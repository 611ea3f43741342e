//! What a power cut would leave of SQLite's files: a VFS over SQLite's own (`unix`) that,
//! each time a file is synced, keeps a copy of it as it then was — its durable image. Data
//! written but not yet synced sits only in the page cache and is not in the image; that is
//! what a power cut may lose. A cut may lose all of it ([`Cut::Synced`]) or only some: a
//! disk writes the sectors queued in its cache in any order, so the power may go when some
//! have reached the platter and others not ([`Cut::Torn`]: some of the 512-byte sectors
//! where the file now differs from its image — never half a sector, which disks write
//! whole). [`Cut::Commits`] is what an atomic commit allows such a cut to leave: the WAL's
//! commits since its image, a whole number of them.
//!
//! [`install`] makes it this process's default VFS, so every journal opened afterwards goes
//! through it; [`snapshot`] reads one directory's images and live bytes at one instant, and
//! [`Snapshot::cut`] writes what a cut leaves of them into a new directory: as the register
//! would find it after the power came back ([`power_cut`] does both). [`before_sync`] runs a
//! check at the moment a cut tears most: a commit written, its sync asked. Writes synced
//! outside SQLite (the journal's group commit syncs the WAL with its own descriptor) are not
//! seen, so the image is mostly older than the disk: a fact found in it was synced — unless
//! another connection's sync of the same file caught it too, as the disk itself might.
//! The `-shm` index is never synced, and SQLite rebuilds it from the WAL.
//!
//! Knows SQLite's VFS interface (`sqlite3_vfs`, `sqlite3_io_methods`), nothing of wxprint.

use std::collections::BTreeMap;
use std::ffi::{CStr, OsString, c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::ffi;

/// The durable image of each synced file, by path.
static IMAGES: Mutex<BTreeMap<PathBuf, Vec<u8>>> = Mutex::new(BTreeMap::new());

/// SQLite's default VFS, which this one wraps.
static REAL: OnceLock<usize> = OnceLock::new();

/// What to run before each sync of a file in a directory ([`before_sync`]).
type Hook = (PathBuf, Arc<dyn Fn() + Send + Sync>);
static BEFORE_SYNC: Mutex<Option<Hook>> = Mutex::new(None);

/// Our copy of each method table SQLite's VFS gave a file, by that table's address.
static METHODS: Mutex<Vec<(usize, &'static ffi::sqlite3_io_methods)>> = Mutex::new(Vec::new());

/// Kept after SQLite's own file structure, in the same allocation.
#[repr(C)]
struct Extra {
    real_methods: *const ffi::sqlite3_io_methods,
    /// Null for SQLite's nameless temporary files.
    path: *mut PathBuf,
}

/// Make the imaging VFS the default for every connection opened from now on. Idempotent.
pub fn install() {
    REAL.get_or_init(|| {
        // SAFETY: SQLite's default VFS lives for the process; the new VFS is leaked, so it
        // does too, as `sqlite3_vfs_register` requires.
        unsafe {
            let real = ffi::sqlite3_vfs_find(std::ptr::null());
            assert!(!real.is_null(), "SQLite has a default VFS");
            let mut vfs = *real;
            vfs.zName = c"durable-image".as_ptr();
            vfs.szOsFile = extra_offset(real) as c_int + size_of::<Extra>() as c_int;
            vfs.xOpen = Some(open);
            vfs.xDelete = Some(delete);
            vfs.pNext = std::ptr::null_mut();
            let rc = ffi::sqlite3_vfs_register(Box::into_raw(Box::new(vfs)), 1);
            assert_eq!(rc, ffi::SQLITE_OK, "registering the imaging VFS");
            real as usize
        }
    });
}

/// How much of what was written but not synced a power cut leaves on disk.
#[derive(Debug, Clone, Copy)]
pub enum Cut {
    /// None of it: each file is its last synced image.
    Synced,
    /// Some of it, sector by sector, chosen by this seed ([`Cut::torn`] draws a new one).
    Torn(u64),
    /// The WAL's first `n` commits written since its image, whole, and nothing else
    /// ([`Snapshot::commits`] counts them).
    Commits(usize),
    /// All of it: each synced file as it is now written (what a `kill -9` leaves of them;
    /// a file never synced is absent here too).
    Written,
}

impl Cut {
    /// A torn cut with the next seed of this process (each a different choice of sectors).
    pub fn torn() -> Self {
        static SEEDS: AtomicU64 = AtomicU64::new(1);
        Cut::Torn(SEEDS.fetch_add(1, Ordering::Relaxed))
    }
}

/// The sector a disk writes whole: what a torn cut takes or leaves.
const SECTOR: usize = 512;

/// One directory's synced files at one instant: each one's image and its bytes as now
/// written, read under the images' lock, so that every cut made of it is of one moment.
pub struct Snapshot {
    files: Vec<(OsString, Vec<u8>, Vec<u8>)>,
    /// Where each commit written to the WAL since its image ends ([`commit_ends`]).
    commit_ends: Vec<usize>,
}

/// The synced files of `dir`, as now.
pub fn snapshot(dir: &Path) -> Snapshot {
    let dir = canonical(dir);
    let images = images();
    let files: Vec<_> = images
        .iter()
        .filter(|(path, _)| path.parent() == Some(&dir))
        .map(|(path, image)| {
            let now = std::fs::read(path).unwrap_or_default();
            (path.file_name().unwrap().to_owned(), image.clone(), now)
        })
        .collect();
    let mut wals = files.iter().filter(|(name, ..)| is_wal(name));
    let commit_ends = wals
        .next()
        .map_or(Vec::new(), |(_, image, now)| commit_ends(image, now));
    Snapshot { files, commit_ends }
}

impl Snapshot {
    /// Write what `cut` leaves of these files into `into` (created), as their images there:
    /// the power is back, and that is what is on disk. Files never synced are absent.
    pub fn cut(&self, cut: Cut, into: &Path) {
        std::fs::create_dir_all(into).unwrap();
        let into = canonical(into);
        let mut seed = if let Cut::Torn(seed) = cut { seed } else { 0 };
        let mut images = images();
        for (name, image, now) in &self.files {
            let bytes = match cut {
                Cut::Synced => image.clone(),
                Cut::Torn(_) => tear(image, now, &mut seed),
                Cut::Commits(n) if is_wal(name) => match self.commit_ends[..n] {
                    [.., end] => [&now[..end], image.get(end..).unwrap_or_default()].concat(),
                    [] => image.clone(),
                },
                Cut::Commits(_) => image.clone(),
                Cut::Written => now.clone(),
            };
            let path = into.join(name);
            std::fs::write(&path, &bytes).unwrap();
            images.insert(path, bytes);
        }
    }

    /// How many commits the WAL holds that were written since its image.
    pub fn commits(&self) -> usize {
        self.commit_ends.len()
    }
}

/// The files of `dir` as `cut` would leave them now, written into `into`.
pub fn power_cut(dir: &Path, into: &Path, cut: Cut) {
    snapshot(dir).cut(cut, into);
}

fn is_wal(name: &OsString) -> bool {
    name.to_string_lossy().ends_with("-wal")
}

/// Where each commit of the WAL `now` that was written since `image` ends. SQLite's WAL
/// format (sqlite.org/fileformat2.html §4.1): a 32-byte header, the page size at offset 8
/// and the salts at 16; then frames, each a 24-byte header and a page, whose header holds
/// the database's size in pages after a commit at 4 (0 in a commit's other frames) and the
/// salts at 8 — a frame with other salts is left from an earlier run of the file.
fn commit_ends(image: &[u8], now: &[u8]) -> Vec<usize> {
    let Some(header) = now.get(..32) else {
        return Vec::new();
    };
    let page = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
    let page = if page == 1 { 65536 } else { page };
    let changed = (0..now.len()).find(|&i| image.get(i) != Some(&now[i]));
    let changed = changed.unwrap_or(now.len());
    let mut ends = Vec::new();
    let mut at = 32;
    while at + 24 + page <= now.len() && now[at + 8..at + 16] == header[16..24] {
        let end = at + 24 + page;
        if now[at + 4..at + 8] != [0; 4] && end > changed {
            ends.push(end);
        }
        at = end;
    }
    ends
}

/// `image` with some of the sectors where the file is `now` different from it (written
/// since, unsynced) taken from `now`; a sector taken past the image's end extends the file,
/// zeros before it (a file system's hole). Disks tend to write in order, but need not: the
/// first few of those sectors are taken in order — none, all, or any number, a quarter, a
/// quarter and a half of the time — and of the rest, half the time, each with even odds.
/// So commits are cut off, get through, and get through in part.
fn tear(image: &[u8], now: &[u8], seed: &mut u64) -> Vec<u8> {
    let sectors = (0..now.len())
        .step_by(SECTOR)
        .map(|start| start..(start + SECTOR).min(now.len()));
    let differing: Vec<_> = sectors
        .filter(|s| image.get(s.clone()) != Some(&now[s.clone()]))
        .collect();
    let in_order = match splitmix(seed) % 4 {
        0 => 0,
        1 => differing.len(),
        _ => splitmix(seed) as usize % (differing.len() + 1),
    };
    let scattered = splitmix(seed) & 1 == 1;
    let mut torn = image.to_vec();
    for (i, sector) in differing.into_iter().enumerate() {
        if i >= in_order && !(scattered && splitmix(seed) & 1 == 1) {
            continue;
        }
        if torn.len() < sector.end {
            torn.resize(sector.end, 0);
        }
        torn[sector.clone()].copy_from_slice(&now[sector]);
    }
    torn
}

/// SplitMix64: the next pseudo-random number of the sequence `state` is in.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Run `check` before every sync of a file of `dir` from now on, on the syncing thread,
/// outside this VFS's locks but inside SQLite's `xSync`, the writer's lock held: it may cut
/// and open journals of other directories, never `dir`'s own. Replaces the check set before.
pub fn before_sync(dir: &Path, check: impl Fn() + Send + Sync + 'static) {
    let hook = (canonical(dir), Arc::new(check) as _);
    *BEFORE_SYNC.lock().unwrap_or_else(|p| p.into_inner()) = Some(hook);
}

/// The check to run before syncing `path`, if its directory has one.
fn check_before_syncing(path: &Path) -> Option<Arc<dyn Fn() + Send + Sync>> {
    let hook = BEFORE_SYNC.lock().unwrap_or_else(|p| p.into_inner());
    let (dir, check) = hook.as_ref()?;
    let parent = std::fs::canonicalize(path).ok()?.parent()?.to_owned();
    (parent == *dir).then(|| check.clone())
}

/// Forget the images of `dir`'s files (a directory about to be removed).
pub fn forget(dir: &Path) {
    let dir = canonical(dir);
    images().retain(|path, _| path.parent() != Some(&dir));
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap()
}

fn images() -> MutexGuard<'static, BTreeMap<PathBuf, Vec<u8>>> {
    IMAGES.lock().unwrap_or_else(|p| p.into_inner())
}

fn real() -> *mut ffi::sqlite3_vfs {
    *REAL.get().expect("installed") as *mut ffi::sqlite3_vfs
}

/// Where [`Extra`] starts: after the real VFS's file structure, 8-byte aligned.
unsafe fn extra_offset(real: *const ffi::sqlite3_vfs) -> usize {
    // SAFETY: `real` is SQLite's registered default VFS.
    (unsafe { (*real).szOsFile } as usize).next_multiple_of(8)
}

unsafe fn extra(file: *mut ffi::sqlite3_file) -> *mut Extra {
    // SAFETY: every file of this VFS was allocated `szOsFile` bytes, `Extra` included.
    unsafe { file.byte_add(extra_offset(real())).cast() }
}

unsafe extern "C" fn open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite hands a file structure of our `szOsFile`; the real VFS fills in the
    // front of it, as large as its own; `Extra` follows.
    unsafe {
        let real = real();
        let rc = (*real).xOpen.unwrap()(real, name, file, flags, out_flags);
        if rc != ffi::SQLITE_OK || (*file).pMethods.is_null() {
            return rc;
        }
        let path = if name.is_null() {
            std::ptr::null_mut()
        } else {
            Box::into_raw(Box::new(path_of(name)))
        };
        let real_methods = (*file).pMethods;
        extra(file).write(Extra { real_methods, path });
        (*file).pMethods = ours(real_methods);
        rc
    }
}

/// Our table for files whose real table is `real`: the same methods, but sync and close.
fn ours(real: *const ffi::sqlite3_io_methods) -> *const ffi::sqlite3_io_methods {
    let mut tables = METHODS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, table)) = tables.iter().find(|(r, _)| *r == real as usize) {
        return *table;
    }
    // SAFETY: SQLite's method tables are static.
    let mut table = unsafe { *real };
    table.xSync = Some(sync);
    table.xClose = Some(close);
    let table: &'static ffi::sqlite3_io_methods = Box::leak(Box::new(table));
    tables.push((real as usize, table));
    table
}

unsafe extern "C" fn sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    // SAFETY: `file` was opened by [`open`], so its `Extra` is set.
    unsafe {
        let extra = &*extra(file);
        if !extra.path.is_null()
            && let Some(check) = check_before_syncing(&*extra.path)
        {
            check();
        }
        // Held across the sync and the copy: two connections syncing one file (a writer and
        // a checkpointer) store their images in the order they synced.
        let mut images = images();
        let rc = (*extra.real_methods).xSync.unwrap()(file, flags);
        if rc != ffi::SQLITE_OK || extra.path.is_null() {
            return rc;
        }
        let path = &*extra.path;
        match std::fs::read(path) {
            Ok(bytes) => {
                images.insert(std::fs::canonicalize(path).unwrap_or(path.clone()), bytes);
                rc
            }
            Err(e) => {
                eprintln!("durable_vfs: {} synced but unreadable: {e}", path.display());
                ffi::SQLITE_IOERR_FSYNC
            }
        }
    }
}

unsafe extern "C" fn close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: as in [`sync`]; the path was boxed by [`open`], taken out here once, before
    // the real close (which may clear the structure it owns, in front of `Extra`).
    unsafe {
        let extra = &mut *extra(file);
        let path = std::mem::replace(&mut extra.path, std::ptr::null_mut());
        let rc = (*extra.real_methods).xClose.unwrap()(file);
        if !path.is_null() {
            drop(Box::from_raw(path));
        }
        rc
    }
}

/// A file deleted is gone from the image too (as if its directory was synced after: the
/// journal's files are deleted only when a test cleans up).
unsafe extern "C" fn delete(
    _vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    // SAFETY: `name` is a path SQLite passes for the call's duration.
    unsafe {
        let path = path_of(name);
        let key = std::fs::canonicalize(&path).ok();
        let real = real();
        let rc = (*real).xDelete.unwrap()(real, name, sync_dir);
        if let (ffi::SQLITE_OK, Some(key)) = (rc, key) {
            images().remove(&key);
        }
        rc
    }
}

/// A path SQLite passes (bytes, not necessarily UTF-8).
unsafe fn path_of(name: *const c_char) -> PathBuf {
    use std::os::unix::ffi::OsStrExt as _;
    // SAFETY: the caller's `name` is a NUL-terminated string alive for the call.
    let bytes = unsafe { CStr::from_ptr(name) }.to_bytes();
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}
