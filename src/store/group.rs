//! Group commit: the chunks of batches that wait for the writer together are written in
//! one transaction, by whichever of them gets the writer first.
//!
//! Every commit writes each page it changed to the log once more, and the pages of the
//! indexes every batch touches (traces, parts, operations, rollups, totals) are the same
//! for batches arriving together; it also looks at the retention limits. With several
//! senders, batches queue for the one writer anyway, and one commit for all of those
//! waiting costs little more than one for each. A batch is still acknowledged only once
//! the transaction holding its last chunk is committed, so kill -9 loses nothing
//! acknowledged.
//!
//! Each caller queues its chunk, then waits for its turn at the writer (see
//! [`super::turns`], first come first served): by then an earlier turn may have written
//! it; if not, it writes every chunk queued, its own included, in the order they were
//! queued. The queue holds at most one chunk per caller (a caller queues its next chunk
//! only once the last one is written), so a group is bounded by the batches in flight,
//! which the receivers bound. When a group fails, the chunks of others go back to the
//! front of the queue for their own turns and the caller's own is tried alone: a chunk
//! that cannot be written fails its own batch only.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::ingest::{Chunk, PreparedBatch};
use super::lock;

/// A chunk of a batch waiting to be written.
pub(super) struct Job {
    pub batch: Arc<PreparedBatch>,
    pub chunk: Chunk,
    pub received_ns: u64,
    /// Set once a committed transaction holds the chunk.
    committed: AtomicBool,
}

impl Job {
    pub fn new(batch: Arc<PreparedBatch>, chunk: Chunk, received_ns: u64) -> Arc<Job> {
        Arc::new(Job { batch, chunk, received_ns, committed: AtomicBool::new(false) })
    }

    pub fn is_committed(&self) -> bool {
        self.committed.load(Ordering::Acquire)
    }

    pub fn mark_committed(&self) {
        self.committed.store(true, Ordering::Release);
    }
}

/// The chunks waiting for the writer, in the order they were queued.
#[derive(Default)]
pub(super) struct Queue {
    jobs: Mutex<VecDeque<Arc<Job>>>,
}

impl Queue {
    pub fn push(&self, job: &Arc<Job>) {
        lock(&self.jobs).push_back(Arc::clone(job));
    }

    /// Every chunk queued, for the caller holding the writer; `own` is among them (queued
    /// last when an earlier turn took it out and did not put it back).
    pub fn take_all(&self, own: &Arc<Job>) -> Vec<Arc<Job>> {
        let mut group: Vec<Arc<Job>> = lock(&self.jobs).drain(..).collect();
        if !group.iter().any(|job| Arc::ptr_eq(job, own)) {
            group.push(Arc::clone(own));
        }
        group
    }

    /// Chunks of a group that failed, back at the front in their order, but `own`.
    pub fn put_back(&self, group: Vec<Arc<Job>>, own: &Arc<Job>) {
        let mut jobs = lock(&self.jobs);
        for job in group.into_iter().rev().filter(|job| !Arc::ptr_eq(job, own)) {
            jobs.push_front(job);
        }
    }
}
