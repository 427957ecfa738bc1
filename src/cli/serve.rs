//! `vitals serve`: the receivers (OTLP/HTTP, OTLP/gRPC, Zipkin) and the trace store as a
//! process of their own, for always-on collection and for CI.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::args::{Listen, ServeFlags};
use super::on_alert;
use crate::collector::budget::{self, MemoryBudget};
use crate::collector::server::{self, ConnectionLimits};
use crate::collector::{self, Counters, Counts, Intake, Limits, Protocol, supervisor};
use crate::error::{Error, Result};
use crate::logging::say;
use crate::query::{now_ns, parse_duration};
use crate::query_api::{self, AllowedHosts};
use crate::render::status::{counts_line, per_span, store_size};
use crate::store::{Retention, Store};

/// A receiver of this process, for what it prints.
struct Running {
    protocol: Protocol,
    address: SocketAddr,
    counters: Arc<Counters>,
}

pub async fn serve(flags: ServeFlags) -> Result<()> {
    let retention =
        Retention { max_age: parse_duration(&flags.retention_age)?, max_bytes: parse_size(&flags.retention_size)? };
    let limits = Limits {
        max_body: bytes(parse_size(&flags.max_body)?),
        memory: MemoryBudget::new(bytes(parse_size(&flags.max_memory)?)),
        ..Limits::default()
    };
    let status_interval = match flags.status_interval.trim() {
        "off" => None,
        text => Some(timeout(text, "--status-interval")?),
    };
    let alert_rules = on_alert::read(flags.alerts.as_deref())?;
    budget::return_large_blocks_to_the_system();
    let files = server::raise_file_limit();
    let defaults = ConnectionLimits::default();
    let connections = ConnectionLimits {
        header_timeout: timeout(&flags.header_timeout, "--header-timeout")?,
        body_timeout: timeout(&flags.body_timeout, "--body-timeout")?,
        idle_timeout: timeout(&flags.idle_timeout, "--idle-timeout")?,
        max_connections: flags.max_connections.unwrap_or(defaults.max_connections).max(1),
    };
    tracing::info!("open-file limit {files}; up to {} connections per listener", connections.max_connections);
    let path = match flags.db {
        Some(path) => path,
        None => {
            Store::default_path().ok_or_else(|| Error::invalid("no data directory for the trace store; pass --db"))?
        }
    };
    let rollup_retention = timeout(&flags.rollup_retention, "--rollup-retention")?;
    let store = Arc::new(Store::open(&path, retention)?);
    store.keep_rollups_for(rollup_retention);
    say(format_args!("vitals: storing traces in {} ({})", path.display(), holding(&store)));
    let intake = Intake::new(Arc::clone(&store), limits);
    let mut running = Vec::new();
    let mut receivers = JoinSet::new();
    for (protocol, listen) in
        [(Protocol::OtlpHttp, flags.otlp_http), (Protocol::OtlpGrpc, flags.otlp_grpc), (Protocol::Zipkin, flags.zipkin)]
    {
        let Listen::At(addr) = listen else { continue };
        let listener = collector::bind(addr).await.map_err(|e| {
            let flag = protocol.key().replace('_', "-");
            Error::invalid(format!(
                "cannot receive {} on {addr}: {e} (pass --{flag} off or another address)",
                protocol.name()
            ))
        })?;
        let address = listener.local_addr().unwrap_or(addr);
        say(format_args!("vitals: receiving {} on {}", protocol.name(), protocol.url(address)));
        let counters = Arc::new(Counters::default());
        let (intake, serving) = (intake.clone(), Arc::clone(&counters));
        receivers.spawn(async move { (protocol, intake.serve(protocol, listener, serving, connections).await) });
        running.push(Running { protocol, address, counters });
    }
    if running.is_empty() {
        say(format_args!("vitals: every receiver is off; the store is only read"));
    }
    let query_api = match flags.query {
        Listen::At(addr) => {
            let listener = collector::bind(addr).await.map_err(|e| {
                Error::invalid(format!(
                    "cannot answer the query API on {addr}: {e} (pass --query off or another address)"
                ))
            })?;
            let bound = listener.local_addr().unwrap_or(addr);
            say(format_args!("vitals: answering Jaeger's query API on http://{bound}"));
            // A trace past the limit is never assembled whole, only its first spans.
            store.limit_spans(flags.query_max_spans.max(1), "vitals serve --query-max-spans");
            let options = query_api::Options {
                allowed_hosts: AllowedHosts::for_listener(bound, &flags.query_allowed_hosts),
                max_spans: flags.query_max_spans.max(1),
            };
            let router = query_api::router(Arc::clone(&store), options);
            Some(tokio::spawn(server::serve(listener, router, connections)))
        }
        Listen::Off => None,
    };
    let alerts = alert_rules.map(|rules| on_alert::start(Arc::clone(&store), rules, flags.on_alert.clone()));
    let retention = tokio::spawn(supervisor::enforce_retention(Arc::clone(&store)));
    let reports = status_interval.map(|every| tokio::spawn(report_every(every, receivers_counters(&running))));
    let outcome = tokio::select! {
        Some(Ok((protocol, served))) = receivers.join_next() => Err(Error::invalid(format!(
            "the {} receiver stopped: {}",
            protocol.name(),
            served.err().map_or("no reason given".to_string(), |e| e.to_string())
        ))),
        _ = shutdown_signal() => Ok(()),
    };
    receivers.abort_all();
    if let Some(task) = query_api {
        task.abort();
    }
    if let Some(task) = reports {
        task.abort();
    }
    retention.abort();
    if let Some(task) = alerts {
        task.abort();
    }
    for receiver in &running {
        say(format_args!(
            "vitals: {} on {} took {}",
            receiver.protocol.name(),
            receiver.address,
            counts_line(&receiver.counters.counts(), now_ns())
        ));
    }
    say(format_args!("vitals: stopped; the store holds {}", holding(&store)));
    outcome
}

fn receivers_counters(running: &[Running]) -> Vec<(Protocol, Arc<Counters>)> {
    running.iter().map(|r| (r.protocol, Arc::clone(&r.counters))).collect()
}

/// Prints what each receiver took and refused every `every`, for those whose counts
/// changed: the log of a long-running collector.
async fn report_every(every: Duration, receivers: Vec<(Protocol, Arc<Counters>)>) {
    let mut shown: Vec<Counts> = vec![Counts::default(); receivers.len()];
    loop {
        tokio::time::sleep(every).await;
        for ((protocol, counters), shown) in receivers.iter().zip(&mut shown) {
            let counts = counters.counts();
            let changed = (counts.batches, counts.refused_batches()) != (shown.batches, shown.refused_batches());
            if changed {
                say(format_args!("vitals: {} took {}", protocol.name(), counts_line(&counts, now_ns())));
                *shown = counts;
            }
        }
    }
}

/// `1202 spans in 82 traces, 1.2 MB on disk (database … + write-ahead log …), 412 B a span`.
fn holding(store: &Store) -> String {
    match store.stats() {
        Ok(stats) => {
            let mut text = format!("{} spans in {} traces, {} on disk", stats.spans, stats.traces, store_size(&stats));
            if let Some(per_span) = per_span(&stats) {
                text.push_str(&format!(", {per_span} a span"));
            }
            text
        }
        Err(e) => format!("size unknown: {e}"),
    }
}

fn bytes(size: u64) -> usize {
    usize::try_from(size).unwrap_or(usize::MAX)
}

fn timeout(text: &str, flag: &str) -> Result<Duration> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(Error::invalid(format!("{flag} must be longer than 0")));
    }
    Ok(duration)
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// `1GiB`, `512MiB`, `64MB`, `1000000`: a size in bytes.
pub fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(Error::invalid(format!("{text:?} is not a size like 512MiB or 1GiB"))),
    };
    let value: f64 =
        number.parse().map_err(|_| Error::invalid(format!("{text:?} is not a size like 512MiB or 1GiB")))?;
    Ok((value * factor as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_the_forms_people_write() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1.5 MB").unwrap(), 1_500_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
    }
}
