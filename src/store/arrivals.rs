//! Which traces each stored batch touched, told to whoever listens (the live tail) once
//! the batch is committed, so that it learns of new spans without polling the store.
//!
//! Telling never holds a batch up: the channel is a bounded broadcast, and a listener that
//! falls more than [`ANNOUNCED_BATCHES`] batches behind loses the oldest and is told how
//! many it lost. With nobody listening, nothing is collected.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::ingest::PreparedBatch;
use crate::model::TraceId;

/// Batches a listener may be behind before it loses the oldest.
pub const ANNOUNCED_BATCHES: usize = 1024;

/// The traces of one committed batch, each once, in the order their spans came.
pub type Touched = Arc<[TraceId]>;

pub struct Arrivals {
    sender: broadcast::Sender<Touched>,
}

impl Default for Arrivals {
    fn default() -> Self {
        Arrivals { sender: broadcast::Sender::new(ANNOUNCED_BATCHES) }
    }
}

impl Arrivals {
    /// Hears of every batch committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Touched> {
        self.sender.subscribe()
    }

    /// The traces a prepared batch touches, when someone listens (else `None`, at no
    /// cost). Spans the store refused are not in it.
    pub(super) fn touched_by(&self, batch: &PreparedBatch) -> Option<Vec<TraceId>> {
        if self.sender.receiver_count() == 0 {
            return None;
        }
        let mut seen = HashSet::new();
        Some(batch.trace_ids().filter(|id| seen.insert(*id)).collect())
    }

    /// Tells the listeners a batch that touched `traces` is committed.
    pub(super) fn announce(&self, traces: Vec<TraceId>) {
        if !traces.is_empty() {
            // An error only means the last listener left meanwhile.
            let _ = self.sender.send(traces.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use tokio::sync::broadcast::error::TryRecvError;

    use super::*;
    use crate::store::{Retention, Store};

    /// Spans of traces `traces` (0 is an id the store refuses), each a root.
    fn batch(traces: &[u128]) -> Vec<ResourceSpans> {
        let spans = traces
            .iter()
            .enumerate()
            .map(|(i, &trace)| Span {
                trace_id: trace.to_be_bytes().to_vec(),
                span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                name: "GET /".into(),
                start_time_unix_nano: 1_000,
                end_time_unix_nano: 2_000,
                ..Default::default()
            })
            .collect();
        vec![ResourceSpans { scope_spans: vec![ScopeSpans { spans, ..Default::default() }], ..Default::default() }]
    }

    #[test]
    fn nothing_is_collected_for_nobody_and_a_listener_that_fell_behind_is_told_how_far() {
        let arrivals = Arrivals::default();
        assert_eq!(arrivals.touched_by(&PreparedBatch::new(batch(&[1, 2]))), None, "nobody listens");
        let mut listener = arrivals.subscribe();
        let touched = arrivals.touched_by(&PreparedBatch::new(batch(&[1, 1, 0, 2]))).unwrap();
        assert_eq!(touched, [TraceId(1), TraceId(2)], "each trace once, in order, the refused id left out");
        for _ in 0..ANNOUNCED_BATCHES + 3 {
            arrivals.announce(touched.clone());
        }
        assert_eq!(listener.try_recv().unwrap_err(), TryRecvError::Lagged(3), "bounded: the oldest lost, counted");
        assert_eq!(&*listener.try_recv().unwrap(), [TraceId(1), TraceId(2)]);
    }

    #[test]
    fn a_batch_is_announced_once_committed_so_its_traces_can_be_read() {
        let path = std::env::temp_dir().join(format!("vitals-arrivals-{}.db", std::process::id()));
        let store = Store::open(&path, Retention::default()).unwrap();
        let mut listener = store.subscribe();
        store.ingest(batch(&[7]), 5_000).unwrap();
        let announced = listener.try_recv().expect("announced by the time ingest returns");
        assert_eq!(&*announced, [TraceId(7)]);
        assert_eq!(store.trace(TraceId(7)).unwrap().map(|t| t.spans.len()), Some(1));
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
