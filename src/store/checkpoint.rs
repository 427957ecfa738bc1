//! Keeping the write-ahead log small, as SQLite's guidance for WAL mode says, without
//! making the writer pay for it.
//!
//! A WAL file never shrinks by itself: it is rewound, not cut, after a checkpoint, and it
//! only restarts from its beginning once every frame is copied into the database. So:
//! - while batches arrive, a thread of its own copies the log into the database (a
//!   PASSIVE checkpoint, on a connection of its own) whenever a commit leaves more than
//!   [`COPY_PAGES`] in it; the writer's next transaction then restarts the log. SQLite's
//!   automatic checkpoint would do that copying on the writer, inside the commit of the
//!   batch that crossed the mark: a fifth of the writer's time when collecting fast,
//!   while the other core waits. Only if the thread falls behind, and a commit leaves
//!   [`WRITER_COPIES_PAGES`] in the log, does the writer copy it itself, as SQLite would;
//! - `journal_size_limit` cuts the file back to [`JOURNAL_SIZE_LIMIT`] when it restarts
//!   after a burst made it larger;
//! - once no batch has arrived for [`IDLE`], and at least every [`BUSY_INTERVAL`] under
//!   steady traffic, the thread checkpoints with `TRUNCATE` on the writer's turn, leaving
//!   an empty log: what stays on disk is the database alone.

use std::ffi::c_int;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, MAIN_DB};

use super::turns::Turns;
use super::{Writer, lock};

/// Pages in the log (about 2 MB) past which the thread copies them into the database.
pub const COPY_PAGES: c_int = 500;
/// Pages past which the writer copies them itself: SQLite's default automatic
/// checkpoint, the bound on the log when the thread falls behind.
pub const WRITER_COPIES_PAGES: c_int = 1000;
/// What the log is cut back to when it restarts (a little above the pages above).
pub const JOURNAL_SIZE_LIMIT: u64 = 4 << 20;
/// How long without a batch counts as idle.
pub const IDLE: Duration = Duration::from_secs(1);
/// The longest the log goes without being emptied while batches keep arriving.
pub const BUSY_INTERVAL: Duration = Duration::from_secs(10);
/// How long a `TRUNCATE` checkpoint waits for another process's readers before giving
/// up until next time: the writer's lock is held meanwhile, and batches wait for it.
const READER_WAIT: Duration = Duration::from_millis(100);

struct Activity {
    /// The first commit since the log was last emptied, if any.
    dirty_since: Option<Instant>,
    last_commit: Instant,
    /// After an attempt that readers held up: when to try again.
    not_before: Instant,
    /// The last commit left more than [`COPY_PAGES`] in the log.
    copy: bool,
    stop: bool,
}

type Shared = Arc<(Mutex<Activity>, Condvar)>;

/// The thread's own connection, when it could be opened. Copies are made one at a time,
/// under this lock: a PASSIVE checkpoint gives up when another is running, and the
/// writer's, which keeps the log within its bound, must not.
type Copier = Arc<Mutex<Option<Connection>>>;

/// The thread that keeps the log small; stopped and joined when dropped.
pub struct Checkpointer {
    activity: Shared,
    copier: Copier,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Takes over from SQLite's automatic checkpoint on the writer's connection to the
    /// file at `path`: every commit on it is seen here (SQLite's write-ahead log hook).
    /// [`Checkpointer::start`] starts the thread once the writer is shared.
    pub fn watching(path: &Path, writer: &mut Connection) -> rusqlite::Result<Checkpointer> {
        let now = Instant::now();
        let activity = Activity { dirty_since: None, last_commit: now, not_before: now, copy: false, stop: false };
        let activity: Shared = Arc::new((Mutex::new(activity), Condvar::new()));
        let copier = open_copier(path)
            .map_err(|e| tracing::warn!("no connection to copy the write-ahead log, the writer does: {e}"))
            .ok();
        let copier: Copier = Arc::new(Mutex::new(copier));
        writer.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT as i64)?;
        let (seen, copying) = (Arc::clone(&activity), Arc::clone(&copier));
        writer.wal_hook(Some(move |log: &mut rusqlite::hooks::Wal, pages: c_int| {
            if pages >= WRITER_COPIES_PAGES {
                // After the thread's copy, if one is running: little is left to copy.
                let _one_at_a_time = lock(&copying);
                if let Err(e) = log.checkpoint_v2(CheckpointMode::PASSIVE) {
                    tracing::debug!("the writer's checkpoint did not run: {e}");
                }
            }
            committed(&seen, pages >= COPY_PAGES);
            // An error here would fail the statement that committed, not undo the commit.
            Ok(())
        }))?;
        Ok(Checkpointer { activity, copier, thread: None })
    }

    /// Starts the thread.
    pub fn start(&mut self, writer: Arc<Turns<Writer>>) {
        let (activity, copier) = (Arc::clone(&self.activity), Arc::clone(&self.copier));
        self.thread = std::thread::Builder::new()
            .name("vitals-checkpoint".into())
            .spawn(move || run(&activity, &copier, &writer))
            .map_err(|e| tracing::warn!("no checkpoint thread, the write-ahead log is emptied on close only: {e}"))
            .ok();
    }
}

/// A connection only learns that the file is in WAL mode when it first reads it: until
/// then a checkpoint on it does nothing.
fn open_copier(path: &Path) -> rusqlite::Result<Connection> {
    let copier = Connection::open(path)?;
    copier.pragma_update(None, "journal_mode", "WAL")?;
    Ok(copier)
}

/// A commit on the writer's connection; `copy` when it left enough to copy in the log.
fn committed(activity: &(Mutex<Activity>, Condvar), copy: bool) {
    let (state, wake) = activity;
    let now = Instant::now();
    let mut activity = lock(state);
    activity.dirty_since.get_or_insert(now);
    activity.last_commit = now;
    activity.copy |= copy;
    wake.notify_one();
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (state, wake) = &*self.activity;
        lock(state).stop = true;
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(activity: &(Mutex<Activity>, Condvar), copier: &Mutex<Option<Connection>>, writer: &Turns<Writer>) {
    let (state, wake) = activity;
    let wait = |guard, timeout: Option<Duration>| match timeout {
        Some(t) => wake.wait_timeout(guard, t).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0),
        None => wake.wait(guard).unwrap_or_else(|p| p.into_inner()),
    };
    let mut current = lock(state);
    loop {
        if current.stop {
            return;
        }
        if current.copy {
            current.copy = false;
            drop(current);
            copy(copier);
            current = lock(state);
            continue;
        }
        let Some(dirty_since) = current.dirty_since else {
            current = wait(current, None);
            continue;
        };
        let due = (current.last_commit + IDLE).min(dirty_since + BUSY_INTERVAL).max(current.not_before);
        let now = Instant::now();
        if now < due {
            current = wait(current, Some(due - now));
            continue;
        }
        let attempted_after = current.last_commit;
        drop(current);
        let emptied = truncate(&writer.take().connection);
        current = lock(state);
        let now = Instant::now();
        current.not_before = now + IDLE;
        // Commits after the attempt waited for the writer's lock: they are in the new log.
        current.dirty_since = match emptied && current.last_commit == attempted_after {
            true => None,
            false => Some(now),
        };
    }
}

/// A PASSIVE checkpoint: copies what it can of the log without waiting for the writer,
/// which goes on appending meanwhile.
fn copy(copier: &Mutex<Option<Connection>>) {
    if let Some(copier) = &*lock(copier)
        && let Err(e) = copier.wal_checkpoint_v2(Some(MAIN_DB), CheckpointMode::PASSIVE)
    {
        tracing::debug!("the log was not copied: {e}");
    }
}

/// `PRAGMA wal_checkpoint(TRUNCATE)`: whether every frame was copied and the log emptied
/// (not when another process was still reading an older snapshot).
fn truncate(connection: &Connection) -> bool {
    let outcome = (|| {
        connection.busy_timeout(READER_WAIT)?;
        let busy: i64 = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        connection.busy_timeout(super::schema::BUSY_TIMEOUT)?;
        Ok::<_, rusqlite::Error>(busy == 0)
    })();
    match outcome {
        Ok(emptied) => emptied,
        Err(e) => {
            let _ = connection.busy_timeout(super::schema::BUSY_TIMEOUT);
            tracing::debug!("checkpoint postponed: {e}");
            false
        }
    }
}
