//! Which traces each stored batch touched, told to whoever listens (the live tail) once
//! the batch is committed, so that it learns of new spans without polling the store.
//!
//! Telling never holds a batch up: the channel is a bounded broadcast, and a listener that
//! falls more than [`ANNOUNCED_BATCHES`] batches behind loses the oldest and is told how
//! many it lost. With nobody listening, nothing is collected.

use std::collections::HashSet;
use std::sync::Arc;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use tokio::sync::broadcast;

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

    /// The traces a batch touches, when someone listens (else `None`, at no cost). Spans
    /// whose trace id the store will refuse are left out.
    pub(super) fn touched_by(&self, batch: &[ResourceSpans]) -> Option<Vec<TraceId>> {
        if self.sender.receiver_count() == 0 {
            return None;
        }
        let mut seen = HashSet::new();
        let spans = batch.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans);
        let ids = spans
            .filter_map(|span| TraceId::from_bytes(&span.trace_id).filter(|id| !id.is_zero()))
            .filter(|id| seen.insert(*id))
            .collect();
        Some(ids)
    }

    /// Tells the listeners a batch that touched `traces` is committed.
    pub(super) fn announce(&self, traces: Vec<TraceId>) {
        if !traces.is_empty() {
            // An error only means the last listener left meanwhile.
            let _ = self.sender.send(traces.into());
        }
    }
}
