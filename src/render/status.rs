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
        lines.push(field("Store size", &store_size(store), None));
        if let Some(per_span) = per_span(store) {
            lines.push(field("Per span", &format!("{per_span} on disk"), Some(Group::Dim)));
        }
        lines.push(field("Span data", &span_data(store), Some(Group::Dim)));
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

/// `1.2 MB (database 1.1 MB + write-ahead log 96 KB)`: the size on disk, and what it is
/// made of, so that neither file hides behind the other.
pub fn store_size(store: &StoreStats) -> String {
    format!(
        "{} (database {} + write-ahead log {})",
        bytes(store.database_bytes + store.wal_bytes),
        bytes(store.database_bytes),
        bytes(store.wal_bytes)
    )
}

/// `412 B`: the disk a stored span takes, when there are any.
pub fn per_span(store: &StoreStats) -> Option<String> {
    (store.database_bytes + store.wal_bytes).checked_div(store.spans).map(bytes)
}

/// `412 KB of 1.1 GB kept, 30 traces evicted`: what the size limit counts, against it.
pub fn span_data(store: &StoreStats) -> String {
    let mut text = format!("{} of {} kept", bytes(store.span_bytes), bytes(store.max_span_bytes));
    if store.evicted_traces > 0 {
        text.push_str(&format!(", {} traces evicted", store.evicted_traces));
    }
    text
}

/// `512 B`, `1.5 KB`, `96 KB`, `1.1 MB`, `2.4 GB` (decimal units, as file managers show them).
fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..10_000 => format!("{:.1} KB", n as f64 / 1e3),
        10_000..1_000_000 => format!("{} KB", n / 1_000),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_size_names_the_database_and_its_write_ahead_log() {
        let stats = StoreStats { spans: 3_000, database_bytes: 1_140_000, wal_bytes: 96_500, ..StoreStats::default() };
        assert_eq!(store_size(&stats), "1.2 MB (database 1.1 MB + write-ahead log 96 KB)");
        assert_eq!(per_span(&stats).as_deref(), Some("412 B"));
        let empty = StoreStats { database_bytes: 4_096, ..StoreStats::default() };
        assert_eq!(store_size(&empty), "4.1 KB (database 4.1 KB + write-ahead log 0 B)");
        assert_eq!(per_span(&empty), None);
    }

    #[test]
    fn the_span_data_is_shown_against_the_size_limit() {
        let stats = StoreStats { span_bytes: 412_300, max_span_bytes: 1 << 30, ..StoreStats::default() };
        assert_eq!(span_data(&stats), "412 KB of 1.1 GB kept");
        let evicting = StoreStats { evicted_traces: 30, ..stats };
        assert_eq!(span_data(&evicting), "412 KB of 1.1 GB kept, 30 traces evicted");
    }
}
