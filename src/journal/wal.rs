//! The WAL file's life across runs: kept at its size, written over in place.
//!
//! Every durable write ends in an `fdatasync` of the WAL, on the checkout's path twice
//! (issue 12). A commit that *appends* to the file changes its size and block map, and the
//! file system must then write that metadata too (ext4: its journal, or the inode when it
//! runs without one) before `fdatasync` returns; a commit that writes over frames already
//! in the file syncs its data only. Measured on the bench's VM (ext4 without its own
//! journal, on virtio): the job's insert commit 0.35 → 0.25 ms at p50, the `code_url`'s 0.36–0.41 →
//! 0.34–0.35 ms. SQLite writes over its WAL by itself once a checkpoint has folded all of it
//! in (the next writer starts it over from the top), but by default the file is emptied or
//! removed when the journal closes, so after every restart of the daemon the WAL grows
//! again by appends. Here it is kept ([`keep`]) and left started over ([`fold_and_restart`])
//! — the file stays as large as it once grew (up to `group::FORCE_PAGES`, 16 MiB).
//!
//! Knows SQLite's WAL, not records.

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

/// Keep the WAL file when this connection closes (`SQLITE_FCNTL_PERSIST_WAL`). Without
/// it, SQLite removes the WAL when the last connection closes cleanly.
pub(super) fn keep(conn: &Connection) -> rusqlite::Result<()> {
    let mut on: std::ffi::c_int = 1;
    // SAFETY: the handle is this open connection's; the argument is the `int` the opcode
    // takes, alive for the call.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&raw mut on).cast(),
        )
    };
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rc),
            Some("keeping the journal's WAL file (SQLITE_FCNTL_PERSIST_WAL)".into()),
        ))
    }
}

/// Fold the whole WAL into the main file, then start it over with one small commit (the
/// schema version written again), so the next open reads one frame, not the folded ones,
/// and the next writes go over the file from its start. The file keeps its size. Fails
/// (busy) when another process reads the journal meanwhile; the WAL is then kept whole,
/// and replayed at the next open.
pub(super) fn fold_and_restart(conn: &Connection) -> rusqlite::Result<()> {
    conn.wal_checkpoint_v2(Some(rusqlite::MAIN_DB), CheckpointMode::RESTART)?;
    let version = super::schema::version(conn)?;
    conn.execute_batch(&format!("PRAGMA user_version = {version};"))
}
