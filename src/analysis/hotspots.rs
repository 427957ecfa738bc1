//! Code hotspots: what the spans that carry a code location cost, per location, across
//! traces, so that the editor can put the numbers on the lines of code that cost them.

use std::collections::HashMap;

use serde::Serialize;

use super::calls::CodeLocation;
use super::findings::{Finding, percent};
use super::memory::allocated_bytes;
use super::stats::percentile;
use crate::model::{SmolStr, Trace};

/// Traces kept per location for "which traces went through here", slowest first.
const TRACES_PER_LOCATION: usize = 20;

/// One span of one trace at a location (or of a finding there).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceRef {
    pub trace_id: SmolStr,
    pub span_id: SmolStr,
    /// The span's duration; for a finding, what the finding cost this trace.
    pub duration_ns: u64,
    /// The trace's root, `service: operation`.
    pub root: SmolStr,
    /// Spans to mark when this trace opens (the calls of an N+1 in this trace).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub marks: Vec<SmolStr>,
}

impl TraceRef {
    /// A whole trace, at its root span (none for an empty trace).
    pub fn of_trace(trace: &Trace) -> TraceRef {
        let root = trace.root();
        TraceRef {
            trace_id: trace.id.to_smol(),
            span_id: root.map(|r| r.display_id()).unwrap_or_default(),
            duration_ns: trace.duration_ns(),
            root: root.map(|r| format!("{}: {}", r.service(), r.operation).into()).unwrap_or_default(),
            marks: Vec::new(),
        }
    }

    /// Every trace a finding occurred in, worst first, each with its own spans to mark.
    pub fn of_finding(finding: &Finding) -> Vec<TraceRef> {
        finding
            .traces
            .iter()
            .map(|o| TraceRef {
                trace_id: o.trace_id.clone(),
                span_id: o.span_ids.first().cloned().unwrap_or_default(),
                duration_ns: o.total_us.saturating_mul(1000),
                root: o.root.clone(),
                marks: o.span_ids.clone(),
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hotspot {
    pub code: CodeLocation,
    pub service: String,
    pub operation: String,
    /// Spans at this location.
    pub calls: usize,
    pub p95_ns: u64,
    /// Time at this location as a share of the requests it took part in, in percent.
    pub percent: f64,
    /// The operation of the requests that most often went through here (`GET /checkout`).
    pub root_operation: String,
    pub traces: Vec<TraceRef>,
    /// What the spans here allocated per request that went through here, on average and
    /// at the 95th percentile (bytes; both 0 when the spans say nothing of memory).
    pub allocated_per_request: u64,
    pub allocated_p95: u64,
}

/// Hotspots of every location that spans name, highest share first.
pub fn hotspots<'t>(traces: impl IntoIterator<Item = &'t Trace>) -> Vec<Hotspot> {
    #[derive(Default)]
    struct Acc {
        service: String,
        operation: String,
        durations: Vec<u64>,
        time_here: u64,
        request_time: u64,
        roots: HashMap<String, usize>,
        traces: Vec<TraceRef>,
        /// Bytes allocated here, per request whose spans here said.
        allocated: Vec<u64>,
    }
    let mut by_location: HashMap<CodeLocation, Acc> = HashMap::new();
    for trace in traces {
        let Some(root) = trace.root() else { continue };
        let root_name = SmolStr::from(format!("{}: {}", root.service(), root.operation));
        let trace_id = trace.id.to_smol();
        let mut here: HashMap<CodeLocation, u64> = HashMap::new();
        let mut allocated_here: HashMap<CodeLocation, u64> = HashMap::new();
        for span in &trace.spans {
            let Some(code) = CodeLocation::of(span) else { continue };
            let acc = by_location.entry(code.clone()).or_default();
            if acc.durations.is_empty() {
                acc.service = span.service().to_string();
                acc.operation = span.operation.to_string();
            }
            acc.durations.push(span.duration_ns);
            acc.traces.push(TraceRef {
                trace_id: trace_id.clone(),
                span_id: span.display_id(),
                duration_ns: span.duration_ns,
                root: root_name.clone(),
                marks: Vec::new(),
            });
            if let Some(bytes) = allocated_bytes(span) {
                let sum = allocated_here.entry(code.clone()).or_default();
                *sum = sum.saturating_add(bytes);
            }
            let time_here = here.entry(code).or_default();
            *time_here = time_here.saturating_add(span.duration_ns);
        }
        for (code, bytes) in allocated_here {
            by_location.get_mut(&code).expect("added above").allocated.push(bytes);
        }
        let request = trace.duration_ns();
        for (code, time) in here {
            let acc = by_location.get_mut(&code).expect("added above");
            // Nested or concurrent spans at one location may add up past the request.
            acc.time_here = acc.time_here.saturating_add(time.min(request));
            acc.request_time = acc.request_time.saturating_add(request);
            *acc.roots.entry(root.operation.to_string()).or_default() += 1;
        }
    }
    let mut spots: Vec<Hotspot> = by_location
        .into_iter()
        .map(|(code, mut acc)| {
            acc.durations.sort_unstable();
            let p95_ns = percentile(&acc.durations, 95.0);
            acc.traces.sort_by(|a, b| b.duration_ns.cmp(&a.duration_ns).then_with(|| a.trace_id.cmp(&b.trace_id)));
            acc.traces.truncate(TRACES_PER_LOCATION);
            acc.allocated.sort_unstable();
            let allocated_sum: u128 = acc.allocated.iter().map(|&b| b as u128).sum();
            let allocated_per_request = (allocated_sum / acc.allocated.len().max(1) as u128) as u64;
            let root_operation = acc
                .roots
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(op, _)| op)
                .unwrap_or_default();
            Hotspot {
                code,
                service: acc.service,
                operation: acc.operation,
                calls: acc.durations.len(),
                p95_ns,
                percent: percent(acc.time_here, acc.request_time),
                root_operation,
                traces: acc.traces,
                allocated_per_request,
                allocated_p95: percentile(&acc.allocated, 95.0),
            }
        })
        .collect();
    spots.sort_by(|a, b| b.percent.total_cmp(&a.percent).then_with(|| a.code.describe().cmp(&b.code.describe())));
    spots
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{MS, trace};

    #[test]
    fn each_location_gets_its_calls_p95_and_share_of_the_requests() {
        let t = trace(&[
            (1, 0, "web", "GET /checkout", 0, 100),
            (2, 1, "web", "load_cart", 0, 40),
            (3, 1, "web", "load_cart", 50, 10),
            (4, 2, "db", "SELECT", 5, 5),
        ])
        .attr(2, "code.file.path", "shop/cart.py")
        .attr(2, "code.line.number", "12")
        .attr(3, "code.file.path", "shop/cart.py")
        .attr(3, "code.line.number", "12")
        .attr(1, "code.filepath", "shop/views.py")
        .attr(1, "code.lineno", "3")
        .done();
        let spots = hotspots([&t]);
        assert_eq!(spots.len(), 2, "the query has no location of its own");
        let cart = spots.iter().find(|s| s.code.filepath.as_deref() == Some("shop/cart.py")).unwrap();
        assert_eq!((cart.calls, cart.p95_ns, cart.percent), (2, 40 * MS, 50.0));
        assert_eq!(cart.root_operation, "GET /checkout");
        assert_eq!(cart.traces[0].duration_ns, 40 * MS, "slowest first");
        assert_eq!(spots[0].code.lineno, Some(3), "the handler holds 100% of its requests");
        assert_eq!((cart.allocated_per_request, cart.allocated_p95), (0, 0), "no memory said, none counted");
    }

    #[test]
    fn allocations_add_up_per_request_then_average_and_p95_across_requests() {
        let request = |id: u128, first: &str, second: &str| {
            let mut t = trace(&[
                (1, 0, "web", "GET /report", 0, 100),
                (2, 1, "web", "render", 0, 40),
                (3, 1, "web", "render", 50, 10),
            ])
            .attr(2, "code.filepath", "shop/report.py")
            .attr(2, "code.lineno", "7")
            .attr(3, "code.filepath", "shop/report.py")
            .attr(3, "code.lineno", "7")
            .attr(2, "memory.allocated", first)
            .attr(3, "memory.allocated", second)
            .done();
            t.id = crate::model::TraceId(id);
            t
        };
        let traces = [request(1, "1000000", "1000000"), request(2, "3000000", "1000000")];
        let spot = &hotspots(traces.iter())[0];
        assert_eq!(spot.allocated_per_request, 3_000_000, "2 MB and 4 MB requests");
        assert_eq!(spot.allocated_p95, 4_000_000);
    }
}
