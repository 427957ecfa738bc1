//! Keeping the write-ahead log small, as SQLite's guidance for WAL mode says.
//!
//! A WAL file never shrinks by itself: it is rewound, not cut, after a checkpoint, and it
//! only restarts from its beginning once every frame is copied into the database. So:
//! - while batches arrive, SQLite's automatic checkpoint (PASSIVE, after the commit that
//!   passes [`AUTOCHECKPOINT_PAGES`]) runs on the writer itself, under the writer's lock,
//!   so no other commit slips in between and the log restarts at the next transaction;
//! - `journal_size_limit` cuts the file back to [`JOURNAL_SIZE_LIMIT`] when it restarts
//!   after a burst made it larger;
//! - once no batch has arrived for [`IDLE`], and at least every [`BUSY_INTERVAL`] under
//!   steady traffic, a background thread checkpoints with `TRUNCATE`, leaving an empty
//!   log: what stays on disk is the database alone.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::turns::Turns;
use super::{Writer, lock};

/// SQLite's default: about 4 MB of log between automatic checkpoints.
pub const AUTOCHECKPOINT_PAGES: u32 = 1000;
/// What the log is cut back to when it restarts (a little above the pages above).
pub const JOURNAL_SIZE_LIMIT: u64 = 4 << 20;
/// How long without a batch counts as idle.
pub const IDLE: Duration = Duration::from_secs(1);
/// The longest the log goes without being emptied while batches keep arriving.
pub const BUSY_INTERVAL: Duration = Duration::from_secs(10);
/// How long a `TRUNCATE` checkpoint waits for another process's readers before giving
/// up until next time: the writer's lock is held meanwhile, and batches wait for it.
const READER_WAIT: Duration = Duration::from_millis(100);

/// The pragmas of the connection that writes.
pub fn configure_writer(connection: &Connection) -> rusqlite::Result<()> {
    connection.pragma_update(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES)?;
    connection.pragma_update(None, "journal_size_limit", JOURNAL_SIZE_LIMIT as i64)?;
    Ok(())
}

struct Activity {
    /// The first commit since the log was last emptied, if any.
    dirty_since: Option<Instant>,
    last_commit: Instant,
    /// After an attempt that readers held up: when to try again.
    not_before: Instant,
    stop: bool,
}

/// The thread that empties the log; stopped and joined when dropped.
pub struct Checkpointer {
    activity: Arc<(Mutex<Activity>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn start(writer: Arc<Turns<Writer>>) -> Checkpointer {
        let now = Instant::now();
        let activity = Activity { dirty_since: None, last_commit: now, not_before: now, stop: false };
        let activity = Arc::new((Mutex::new(activity), Condvar::new()));
        let shared = Arc::clone(&activity);
        let thread = std::thread::Builder::new()
            .name("vitals-checkpoint".into())
            .spawn(move || run(&shared, &writer))
            .map_err(|e| tracing::warn!("no checkpoint thread, the write-ahead log is emptied on close only: {e}"))
            .ok();
        Checkpointer { activity, thread }
    }

    /// A batch was committed.
    pub fn committed(&self) {
        let (state, wake) = &*self.activity;
        let now = Instant::now();
        let mut activity = lock(state);
        activity.dirty_since.get_or_insert(now);
        activity.last_commit = now;
        wake.notify_one();
    }
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

fn run(activity: &(Mutex<Activity>, Condvar), writer: &Turns<Writer>) {
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
