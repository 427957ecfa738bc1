//! The status view (`:VitalsStatus`, `:checkhealth vitals`): which backend, and for the
//! embedded default, the receiver and the store.

use super::style::{Group, Rendered, StyledLine};
use super::units::{age, duration};
use crate::collector::supervisor::{ReceiverStatus, Role};
use crate::store::StoreStats;

/// What the host knows about where its traces come from.
pub struct StatusReport {
    pub provider: String,
    pub receiver: Option<ReceiverStatus>,
    pub store: Option<StoreStats>,
}

pub fn render(report: &StatusReport, now_ns: u64) -> Rendered {
    let mut lines = Vec::new();
    let field = |key: &str, value: &str, group: Option<Group>| {
        let mut line = StyledLine::default();
        line.push(&format!("{key:<16}"), Some(Group::Label));
        line.push(value, group);
        line
    };
    lines.push(field("Provider", &report.provider, None));
    if let Some(receiver) = &report.receiver {
        let (text, group) = match &receiver.role {
            Role::Starting => ("starting".to_string(), Some(Group::Dim)),
            Role::Receiving { address } => (format!("receiving OTLP/HTTP on http://{address}/v1/traces"), None),
            Role::Waiting { address, reason } => (
                format!(
                    "{address} is taken ({reason}); another editor or `vitals serve` receives, this one reads the store"
                ),
                Some(Group::Warning),
            ),
        };
        lines.push(field("Receiver", &text, group));
        let last = match receiver.last_batch_ns {
            0 => "none yet".to_string(),
            at => age(at, now_ns),
        };
        lines.push(field("Batches", &format!("{} ({} spans), last {last}", receiver.batches, receiver.spans), None));
        let rejected = match &receiver.last_rejection {
            Some(why) => format!("{}, last: {why}", receiver.rejected_batches),
            None => receiver.rejected_batches.to_string(),
        };
        let group = (receiver.rejected_batches > 0).then_some(Group::Warning);
        lines.push(field("Rejected", &rejected, group));
    }
    if let Some(store) = &report.store {
        lines.push(field("Stored", &format!("{} spans in {} traces", store.spans, store.traces), None));
        lines.push(field("Store size", &format!("{:.1} MB", store.file_bytes as f64 / 1e6), None));
        if let Some(oldest) = store.oldest_received_ns {
            lines.push(field(
                "Oldest trace",
                &format!("received {} (kept {})", age(oldest, now_ns), duration(store.retention_ns)),
                Some(Group::Dim),
            ));
        }
    }
    Rendered { lines, targets: Vec::new() }
}
