//! Every analysis over a set of traces, as one report: what the CLI prints, the editor's
//! report float shows and annotations are made from.

use serde::Serialize;

use super::critical_path::{Section, critical_path};
use super::findings::Finding;
use super::hot::{HotFunction, bottlenecks, dominant_self_time, hot_functions};
use super::index::TraceIndex;
use super::parallel;
use super::problems::group;
use super::repeated::{n_plus_one, repeated_calls};
use super::root_cause::error_root_causes;
use super::self_times;
use super::sequential::sequential_calls;
use super::slow_queries::{DEFAULT_THRESHOLD_NS, slow_queries};
use super::transaction::{handoffs, queue_wait};
use crate::model::{SmolStr, Trace};

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Database calls at least this long are slow queries.
    pub slow_query_ns: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { slow_query_ns: DEFAULT_THRESHOLD_NS }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathSection {
    pub span_id: SmolStr,
    pub start_us: u64,
    pub end_us: u64,
    /// For people; the JSON contract has only the three fields above.
    #[serde(skip)]
    pub service: String,
    #[serde(skip)]
    pub operation: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceAnalysis {
    pub trace_id: String,
    pub root_service: String,
    pub root_operation: String,
    pub duration_us: u64,
    pub span_count: usize,
    /// Latest section first, as Jaeger UI lists them.
    pub critical_path: Vec<PathSection>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub traces: Vec<TraceAnalysis>,
    /// One per problem, the costliest first (see [`group`]).
    pub findings: Vec<Finding>,
    /// Hottest first.
    pub hot_functions: Vec<HotFunction>,
}

/// Analyzes `traces` together. What the analyses share of a trace (its calls, code
/// locations, self times, critical path) is worked out once per trace. Large traces use
/// two cores: the shared parts, the detectors and the last steps each run in two halves
/// at once ([`parallel::both`]), and findings keep the order one pass gives them.
pub fn analyze<T: AsRef<Trace>>(traces: &[T], options: &Options) -> Report {
    let traces: Vec<&Trace> = traces.iter().map(AsRef::as_ref).collect();
    let spans = traces.iter().map(|t| t.spans.len()).sum();
    let (indexes, (self_time, paths)) = parallel::both(
        spans,
        || traces.iter().map(|t| TraceIndex::new(t)).collect::<Vec<_>>(),
        || {
            let self_time: Vec<Vec<u64>> = traces.iter().map(|t| self_times(t)).collect();
            let paths: Vec<Vec<Section>> = traces.iter().map(|t| critical_path(t)).collect();
            (self_time, paths)
        },
    );
    // Per trace, errors' origins, the detectors of calls, then those of time. Errors'
    // origins are looked for beside the detectors of time, which have less to do.
    let (of_calls, of_time) = parallel::both(
        spans,
        || indexes.iter().map(|index| call_findings(index, options)).collect::<Vec<_>>(),
        || {
            let with_self = indexes.iter().zip(&self_time);
            with_self.map(|(index, own)| (error_root_causes(index), time_findings(index, own))).collect::<Vec<_>>()
        },
    );
    let mut findings: Vec<Finding> = of_calls
        .into_iter()
        .zip(of_time)
        .flat_map(|(calls, (causes, time))| causes.into_iter().chain(calls).chain(time))
        .collect();
    let with_paths: Vec<(&TraceIndex, &[Section])> = indexes.iter().zip(paths.iter().map(Vec::as_slice)).collect();
    findings.extend(bottlenecks(&with_paths));
    let with_self: Vec<(&TraceIndex, &[u64])> = indexes.iter().zip(self_time.iter().map(Vec::as_slice)).collect();
    let (findings, (hot_functions, traces)) = parallel::both(
        spans,
        || group(findings, &traces),
        || {
            (
                hot_functions(&with_self),
                traces.iter().zip(&paths).map(|(trace, path)| trace_analysis(trace, path)).collect(),
            )
        },
    );
    Report { traces, findings, hot_functions }
}

/// What the detectors of calls find in one trace: N+1s, slow queries, repeated calls.
fn call_findings(index: &TraceIndex, options: &Options) -> Vec<Finding> {
    let mut findings = n_plus_one(index);
    findings.extend(slow_queries(index, options.slow_query_ns));
    findings.extend(repeated_calls(index));
    findings
}

/// What the detectors of time find in one trace: calls that could run together, a
/// dominant self time, waits in queues.
fn time_findings(index: &TraceIndex, own: &[u64]) -> Vec<Finding> {
    let mut findings = sequential_calls(index);
    findings.extend(dominant_self_time(index, own));
    findings.extend(queue_wait(index.trace, &handoffs(index.trace)));
    findings
}

fn trace_analysis(trace: &Trace, path: &[Section]) -> TraceAnalysis {
    let (root_service, root_operation) =
        trace.root().map(|r| (r.service().to_string(), r.operation.to_string())).unwrap_or_default();
    TraceAnalysis {
        trace_id: trace.id.to_string(),
        root_service,
        root_operation,
        duration_us: trace.duration_ns() / 1000,
        span_count: trace.spans.len(),
        critical_path: path
            .iter()
            .map(|s| PathSection {
                span_id: trace.spans[s.span].display_id(),
                start_us: s.start_ns / 1000,
                end_us: s.end_ns / 1000,
                service: trace.spans[s.span].service().to_string(),
                operation: trace.spans[s.span].operation.to_string(),
            })
            .collect(),
    }
}
