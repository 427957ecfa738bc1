//! The live tail: traces listed as they arrive, newest first, for `:VitalsTail` and
//! `vitals tail`.
//!
//! Where traces come from ([`Source`]): with the embedded store, the receivers tell the
//! tail which traces each committed batch touched ([`crate::store::Store::subscribe`]),
//! and the tail reads just those; with a remote backend (or a store another process
//! writes) it polls, searching what started since its last poll. When a trace counts as
//! arrived, and how a late span updates it in place, is [`feed`]'s business; which traces
//! are listed, [`filter`]'s (the words of `:VitalsSearch`). The front doors draw the list
//! with [`crate::render::tail`], at most one drawing per [`FRAME`].

pub mod feed;
pub mod filter;
mod source;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use feed::{Feed, Row};
pub use filter::Filter;
use source::Start;
pub use source::{OthersWrite, Source};

use crate::error::Result;
use crate::query::now_ns;
use crate::render::Rendered;
use crate::render::tail::{State, render};

/// Traces listed by default.
pub const DEFAULT_ROWS: usize = 100;
/// How long a trace whose root has not come waits without a new span before it is listed.
pub const QUIET: Duration = Duration::from_secs(1);
/// The shortest time between two drawings of a changing list (20 a second): at 1,000
/// traces a second, one drawing shows many of them.
pub const FRAME: Duration = Duration::from_millis(50);

#[derive(Clone, Debug)]
pub struct Options {
    /// The most traces listed (a filter's `limit=` wins).
    pub max_rows: usize,
    /// Database calls at least this long are marked slow queries.
    pub slow_query_ns: u64,
    pub quiet: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_rows: DEFAULT_ROWS,
            slow_query_ns: crate::analysis::slow_queries::DEFAULT_THRESHOLD_NS,
            quiet: QUIET,
        }
    }
}

/// What the follower task and the front door share.
struct Shared {
    feed: Mutex<Feed>,
    changed: Notify,
}

/// A running tail; dropping it stops following.
pub struct Tail {
    shared: Arc<Shared>,
    source: Arc<Source>,
    options: Options,
    opened_ns: u64,
    /// The filter, and the task following the source with it.
    following: Mutex<(Filter, JoinHandle<()>)>,
}

/// A drawn list, and what each listed line stands for.
pub struct Drawn {
    pub rendered: Rendered,
    /// `(line, row)`: 0-based line of each listed trace.
    pub rows: Vec<(usize, Row)>,
}

impl Tail {
    /// Starts following `source` (inside the Tokio runtime).
    pub fn start(source: Source, filter: Filter, options: Options) -> Result<Tail> {
        source.check(&filter)?;
        let rows = filter.rows.unwrap_or(options.max_rows);
        let feed = Feed::new(rows, options.quiet.as_nanos().min(u64::MAX as u128) as u64);
        let shared = Arc::new(Shared { feed: Mutex::new(feed), changed: Notify::new() });
        let source = Arc::new(source);
        let opened_ns = now_ns();
        let start = Start::Opened { at_ns: opened_ns };
        let task = source::follow(Arc::clone(&shared), Arc::clone(&source), filter.clone(), options.clone(), start);
        Ok(Tail { shared, source, options, opened_ns, following: Mutex::new((filter, task)) })
    }

    /// Lists with a new filter: the traces since the tail opened that match it, then
    /// those that arrive.
    pub fn set_filter(&self, filter: Filter) -> Result<()> {
        self.source.check(&filter)?;
        let mut following = self.following();
        following.1.abort();
        self.feed().restart(filter.rows.unwrap_or(self.options.max_rows));
        let (shared, source) = (Arc::clone(&self.shared), Arc::clone(&self.source));
        let start = Start::Refiltered { since_ns: self.opened_ns };
        let task = source::follow(shared, source, filter.clone(), self.options.clone(), start);
        *following = (filter, task);
        drop(following);
        self.shared.changed.notify_one();
        Ok(())
    }

    pub fn filter(&self) -> Filter {
        self.following().0.clone()
    }

    fn following(&self) -> MutexGuard<'_, (Filter, JoinHandle<()>)> {
        self.following.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The list, to pause, resume, clear or read it.
    pub fn feed(&self) -> MutexGuard<'_, Feed> {
        self.shared.feed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until what is shown may have changed since the last wait returned.
    pub async fn changed(&self) {
        self.shared.changed.notified().await
    }

    /// The list drawn in `width` columns, times in the user's zone (`utc_offset_s` east of
    /// UTC). The rows are copied out under the lock and drawn outside it.
    pub fn draw(&self, width: usize, utc_offset_s: i64) -> Drawn {
        let (rows, paused, missed, problem) = {
            let feed = self.feed();
            let rows: Vec<Row> = feed.shown().into_iter().cloned().collect();
            (rows, feed.arrived_while_paused(), feed.missed, feed.problem.clone())
        };
        let words = self.filter().words().join(" ");
        let state = State {
            filter: &words,
            source: self.source.describe(),
            listed: rows.len(),
            paused,
            missed,
            problem: problem.as_deref(),
        };
        let glances: Vec<_> = rows.iter().map(|row| &row.glance).collect();
        let rendered = render(&glances, &state, width, utc_offset_s);
        let first = crate::render::tail::FIRST_ROW;
        Drawn { rendered, rows: rows.into_iter().enumerate().map(|(i, row)| (first + i, row)).collect() }
    }

    /// Calls `show` whenever what is shown changed, at most once per [`FRAME`], until
    /// `show` says to stop (the editor closed the float).
    pub async fn show_changes<F: Future<Output = bool>>(&self, mut show: impl FnMut() -> F) {
        loop {
            self.changed().await;
            if !show().await {
                return;
            }
            tokio::time::sleep(FRAME).await;
        }
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        self.following().1.abort();
    }
}
