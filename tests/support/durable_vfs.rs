//! What a power cut would leave of SQLite's files: a VFS over SQLite's own (`unix`) that,
//! each time a file is synced, keeps a copy of it as it then was — its durable image. Data
//! written but not yet synced sits only in the page cache and is not in the image; that is
//! what a power cut may lose, and the image assumes it loses all of it.
//!
//! [`install`] makes it this process's default VFS, so every journal opened afterwards goes
//! through it; [`power_cut`] copies the images of one directory's files into a new one:
//! the directory as the register would find it after the power came back. Writes synced
//! outside SQLite (the journal's group commit syncs the WAL with its own descriptor) are not
//! seen, so the image is mostly older than the disk: a fact found in it was synced — unless
//! another connection's sync of the same file caught it too, as the disk itself might.
//! The `-shm` index is never synced, and SQLite rebuilds it from the WAL.
//!
//! Knows SQLite's VFS interface (`sqlite3_vfs`, `sqlite3_io_methods`), nothing of wxprint.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use rusqlite::ffi;

/// The durable image of each synced file, by path.
static IMAGES: Mutex<BTreeMap<PathBuf, Vec<u8>>> = Mutex::new(BTreeMap::new());

/// SQLite's default VFS, which this one wraps.
static REAL: OnceLock<usize> = OnceLock::new();

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

/// The files of `dir` as a power cut now would leave them, written into `into` (created):
/// the power is back, and that is what is on disk there. Files never synced are absent.
pub fn power_cut(dir: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    let (dir, into) = (canonical(dir), canonical(into));
    let mut images = images();
    let cut: Vec<_> = images
        .iter()
        .filter(|(path, _)| path.parent() == Some(&dir))
        .map(|(path, bytes)| (into.join(path.file_name().unwrap()), bytes.clone()))
        .collect();
    for (path, bytes) in cut {
        std::fs::write(&path, &bytes).unwrap();
        images.insert(path, bytes);
    }
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
