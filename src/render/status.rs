//! The status view (`:VitalsStatus`, `:checkhealth vitals`): which backend, and for the
//! embedded default, each receiver (where it listens, what it took and refused) and the
//! store. `vitals serve` prints the same counts.

use super::style::{Group, Rendered, StyledLine};
use super::units::{age, duration};
use crate::collector::Counts;
use crate::collector::supervisor::{ReceiverStatus, Role};
use crate::store::StoreStats;

/// What the host knows about where its traces come from.
pub struct StatusReport {
    pub provider: String,
    /// Every receiver, those turned off included (none when the provider is not the
    /// embedded store).
    pub receivers: Vec<ReceiverStatus>,
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
    for receiver in &report.receivers {
        let protocol = receiver.protocol;
        let (text, group) = match &receiver.role {
            Role::Off => ("off".to_string(), Some(Group::Dim)),
            Role::Starting => ("starting".to_string(), Some(Group::Dim)),
            Role::Receiving { address } => (format!("receiving on {}", protocol.url(*address)), None),
            Role::Waiting { address, reason } => (
                format!(
                    "{address} is taken ({reason}); another editor or `vitals serve` receives, this one reads the store"
                ),
                Some(Group::Warning),
            ),
        };
        lines.push(field(protocol.name(), &text, group));
        if receiver.role == Role::Off {
            continue;
        }
        lines.push(field("", &batches_text(&receiver.counts, now_ns), None));
        if let Some(refused) = refused_text(&receiver.counts) {
            lines.push(field("", &refused, Some(Group::Warning)));
        }
    }
    if let Some(store) = &report.store {
        let mut stored = format!("{} spans in {} traces", store.spans, store.traces);
        if store.logs > 0 {
            stored.push_str(&format!(", {} log records", store.logs));
        }
        lines.push(field("Stored", &stored, None));
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

/// `3 batches (1536 spans, 40 log records), last 2s ago`, or `no batches yet`; spans the
/// store refused (invalid ids) are named.
pub fn batches_text(counts: &Counts, now_ns: u64) -> String {
    if counts.batches == 0 {
        return "no batches yet".to_string();
    }
    let plural = if counts.batches == 1 { "" } else { "es" };
    let mut text = format!("{} batch{plural} ({} spans", counts.batches, counts.spans);
    if counts.logs > 0 {
        text.push_str(&format!(", {} log records", counts.logs));
    }
    if counts.rejected_spans > 0 {
        text.push_str(&format!(", {} refused for invalid ids", counts.rejected_spans));
    }
    text.push_str(&format!("), last {}", age(counts.last_batch_ns, now_ns)));
    text
}

/// `2 refused (1 too large, 1 memory full), last: 413: the body is larger than 16 MiB`.
pub fn refused_text(counts: &Counts) -> Option<String> {
    let total = counts.refused_batches();
    if total == 0 {
        return None;
    }
    let reasons: Vec<String> = counts.refused.iter().map(|(reason, n)| format!("{n} {}", reason.label())).collect();
    let mut text = format!("{total} refused ({})", reasons.join(", "));
    if let Some(last) = &counts.last_refusal {
        text.push_str(&format!(", last: {last}"));
    }
    Some(text)
}

/// One receiver as `:checkhealth vitals` judges it.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct ReceiverCheck {
    /// `ok`, `warn` or `info`.
    pub level: &'static str,
    /// `otlp_grpc`: the receiver's key, for advice naming its option.
    pub key: &'static str,
    pub text: String,
}

/// A verdict on each receiver: receiving and refusing nothing is well; a port another
/// process holds, or refused batches, deserve a look; off is said.
pub fn checks(receivers: &[ReceiverStatus], now_ns: u64) -> Vec<ReceiverCheck> {
    receivers
        .iter()
        .map(|receiver| {
            let name = receiver.protocol.name();
            let (level, text) = match &receiver.role {
                Role::Off => ("info", format!("{name}: off")),
                Role::Starting => ("info", format!("{name}: starting")),
                Role::Waiting { address, reason } => (
                    "warn",
                    format!("{name}: {address} is taken ({reason}); another editor or `vitals serve` receives there"),
                ),
                Role::Receiving { address } => {
                    let counts = &receiver.counts;
                    let level = if counts.refused_batches() > 0 { "warn" } else { "ok" };
                    (
                        level,
                        format!(
                            "{name}: receiving on {}; {}",
                            receiver.protocol.url(*address),
                            counts_line(counts, now_ns)
                        ),
                    )
                }
            };
            ReceiverCheck { level, key: receiver.protocol.key(), text }
        })
        .collect()
}

/// Both, on one line, as `vitals serve` prints them.
pub fn counts_line(counts: &Counts, now_ns: u64) -> String {
    let batches = batches_text(counts, now_ns);
    match refused_text(counts) {
        Some(refused) => format!("{batches}; {refused}"),
        None => format!("{batches}; none refused"),
    }
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
    use crate::collector::{Protocol, Reason};

    #[test]
    fn each_receiver_shows_where_it_listens_what_it_took_and_what_it_refused() {
        let now = 100_000_000_000;
        let receiving = |protocol: Protocol, port: u16, counts: Counts| ReceiverStatus {
            protocol,
            role: Role::Receiving { address: ([127, 0, 0, 1], port).into() },
            counts,
        };
        let took = Counts { batches: 3, spans: 1536, last_batch_ns: now - 20_000_000_000, ..Counts::default() };
        let refused = Counts {
            refused: vec![(Reason::TooLarge, 1), (Reason::MemoryFull, 2)],
            last_refusal: Some("RESOURCE_EXHAUSTED: the receiver is at its memory limit".into()),
            ..Counts::default()
        };
        let report = StatusReport {
            provider: "otlp".into(),
            receivers: vec![
                receiving(Protocol::OtlpHttp, 4318, took),
                receiving(Protocol::OtlpGrpc, 4317, refused),
                ReceiverStatus { protocol: Protocol::Zipkin, role: Role::Off, counts: Counts::default() },
            ],
            store: None,
        };
        let checks = checks(&report.receivers, now);
        assert_eq!(
            checks.iter().map(|c| c.level).collect::<Vec<_>>(),
            ["ok", "warn", "info"],
            "refusals deserve a look: {checks:?}"
        );
        let text: Vec<String> = render(&report, now).lines.iter().map(|l| l.text.trim_end().to_string()).collect();
        assert_eq!(
            text[1..],
            [
                "OTLP/HTTP       receiving on http://127.0.0.1:4318/v1/traces",
                "                3 batches (1536 spans), last 20s ago",
                "OTLP/gRPC       receiving on http://127.0.0.1:4317",
                "                no batches yet",
                "                3 refused (1 too large, 2 memory full), last: RESOURCE_EXHAUSTED: the receiver is at its memory limit",
                "Zipkin          off",
            ]
        );
    }

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
