//! Where the time goes across many traces: the functions with the most self time, and
//! the operations that own the most of the critical path.

use std::collections::HashMap;

use serde::Serialize;

use super::calls::{CallKind, CodeLocation};
use super::critical_path::Section;
use super::findings::{Evidence, Finding, FindingKind, Severity, Waiting, percent};
use super::index::TraceIndex;
use crate::model::{IdHasher, SpanIndex};

/// How many hot functions a report lists.
pub const HOT_FUNCTIONS: usize = 10;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HotFunction {
    /// `code.function.name` (with `code.namespace`), or `service operation` without them.
    pub name: String,
    pub service: String,
    pub self_us: u64,
    /// Share of all self time in the analyzed traces.
    pub percent: f64,
    pub calls: usize,
    pub code: Option<CodeLocation>,
}

/// The hottest functions by self time over `traces` (with each trace's self times),
/// hottest first. Calls to other processes are not functions of this code (their self
/// time is the network's), but their time counts in the whole the shares are of.
pub fn hot_functions(traces: &[(&TraceIndex, &[u64])]) -> Vec<HotFunction> {
    /// Self time, calls and the first code location of one (service, name).
    type Heat<'a> = (u64, usize, Option<&'a CodeLocation>);
    // Keyed by strings the traces hold: no string is built for a span.
    let mut by_name: HashMap<(&str, &str), Heat, IdHasher> = HashMap::default();
    let mut total = 0u64;
    for (index, self_times) in traces {
        for (i, span) in index.trace.spans.iter().enumerate() {
            total = total.saturating_add(self_times[i]);
            if index.calls.is_call(i) {
                continue;
            }
            let code = index.code(i);
            let name = code.and_then(|c| c.function.as_deref()).unwrap_or(&span.operation);
            let (self_ns, calls, first_code) = by_name.entry((span.service(), name)).or_default();
            *self_ns = self_ns.saturating_add(self_times[i]);
            *calls += 1;
            if first_code.is_none() {
                *first_code = code;
            }
        }
    }
    let mut hot: Vec<HotFunction> = by_name
        .into_iter()
        .filter(|(_, (self_ns, ..))| *self_ns > 0)
        .map(|((service, name), (self_ns, calls, code))| HotFunction {
            name: name.to_string(),
            service: service.to_string(),
            self_us: self_ns,
            percent: 0.0,
            calls,
            code: code.cloned(),
        })
        .collect();
    hot.sort_by(|a, b| b.self_us.cmp(&a.self_us).then_with(|| a.name.cmp(&b.name)));
    hot.truncate(HOT_FUNCTIONS);
    for h in &mut hot {
        h.percent = percent(h.self_us, total);
        h.self_us /= 1000;
    }
    hot
}

/// Operations holding at least this share of all critical-path time are bottlenecks.
const BOTTLENECK_SHARE: f64 = 20.0;

/// The service operations that own the most critical-path time across traces (at least
/// [`BOTTLENECK_SHARE`] %): one finding per trace it held the path in, with the share it
/// holds across all of them, for [`super::problems::group`] to merge.
pub fn bottlenecks(traces: &[(&TraceIndex, &[Section])]) -> Vec<Finding> {
    type Owner<'t> = (&'t str, &'t str);
    let mut per_trace: Vec<HashMap<Owner, u64>> = Vec::with_capacity(traces.len());
    let mut owners: HashMap<Owner, (u64, usize)> = HashMap::new();
    let mut total = 0u64;
    for (index, sections) in traces {
        let mut here: HashMap<Owner, u64> = HashMap::new();
        for section in sections.iter() {
            let span = &index.trace.spans[section.span];
            let owned = here.entry((span.service(), &*span.operation)).or_default();
            *owned = owned.saturating_add(section.len_ns());
        }
        for (&owner, &ns) in &here {
            total = total.saturating_add(ns);
            let (owner_ns, owner_traces) = owners.entry(owner).or_default();
            *owner_ns = owner_ns.saturating_add(ns);
            *owner_traces += 1;
        }
        per_trace.push(here);
    }
    let mut findings = Vec::new();
    for (t, (index, sections)) in traces.iter().enumerate() {
        let trace = index.trace;
        for (&owner, &ns) in &per_trace[t] {
            let (owner_ns, owner_traces) = owners[&owner];
            let share = percent(owner_ns, total);
            if share < BOTTLENECK_SHARE {
                continue;
            }
            let mut spans: Vec<SpanIndex> = sections
                .iter()
                .map(|s| s.span)
                .filter(|&i| trace.spans[i].service() == owner.0 && &*trace.spans[i].operation == owner.1)
                .collect();
            spans.sort_unstable();
            spans.dedup();
            let mut finding = index.finding(FindingKind::Bottleneck, &spans);
            finding.total_us = ns / 1000;
            finding.impact_us = finding.total_us;
            finding.percent = share;
            finding.severity = if share >= 50.0 { Severity::Warn } else { Severity::Info };
            let waits_on = spans.first().and_then(|&s| waiting_on(index, s));
            finding.evidence = Evidence::Bottleneck { traces: owner_traces, waits_on };
            findings.push(finding);
        }
    }
    findings.sort_by(|a, b| {
        b.total_us.cmp(&a.total_us).then_with(|| (&a.service, &a.operation).cmp(&(&b.service, &b.operation)))
    });
    findings
}

/// What a span that is a call waits on, or `None` for a span that runs code.
fn waiting_on(index: &TraceIndex, span: SpanIndex) -> Option<Waiting> {
    let trace = index.trace;
    let call = index.calls.get(span)?;
    let described = index.calls.describe(call, &trace.spans[span]);
    if call.kind == CallKind::Database {
        return Some(Waiting::Database { call: described });
    }
    let peer = trace.tree.children(span).map(|c| trace.spans[c].service()).find(|s| *s != trace.spans[span].service());
    Some(match peer {
        Some(peer) => Waiting::TracedPeer { call: described, peer: peer.to_string() },
        None => Waiting::UntracedPeer { call: described },
    })
}

/// A span whose own code (not its calls) takes at least this share of its trace…
const DOMINANT_SHARE: f64 = 40.0;
/// …and at least this long.
const DOMINANT_MIN_NS: u64 = 1_000_000;

/// The span whose self time dominates its trace, if one does. Only spans that run code
/// count: the self time of a call to another process (an HTTP client, a query) is the
/// network and the peer's queueing, which no profiler of this code would find.
pub fn dominant_self_time(index: &TraceIndex, self_times: &[u64]) -> Option<Finding> {
    let (span, &self_ns) =
        self_times.iter().enumerate().filter(|&(i, _)| !index.calls.is_call(i)).max_by_key(|(_, ns)| **ns)?;
    let trace_ns = index.duration_ns();
    if self_ns < DOMINANT_MIN_NS || percent(self_ns, trace_ns) < DOMINANT_SHARE || index.trace.spans.len() < 2 {
        return None;
    }
    let mut finding = index.finding(FindingKind::DominantSelfTime, &[span]);
    finding.total_us = self_ns / 1000;
    finding.impact_us = finding.total_us;
    finding.percent = percent(self_ns, trace_ns);
    finding.severity = Severity::Info;
    finding.evidence = Evidence::DominantSelfTime { self_ns, trace_ns };
    Some(finding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::critical_path::critical_path;
    use crate::analysis::self_times;
    use crate::analysis::testing::trace;

    #[test]
    fn hot_functions_group_by_code_function_else_operation_with_their_share() {
        let t = trace(&[
            (1, 0, "web", "GET /", 0, 100),
            (2, 1, "web", "render", 10, 60),
            (3, 1, "web", "render again", 75, 20),
        ])
        .attr(2, "code.function.name", "render_page")
        .attr(2, "code.file.path", "web/views.py")
        .attr(3, "code.function", "render_page")
        .done();
        let own = self_times(&t);
        let hot = hot_functions(&[(&TraceIndex::new(&t), &own)]);
        assert_eq!(hot[0].name, "render_page");
        assert_eq!((hot[0].self_us, hot[0].calls, hot[0].percent), (80_000, 2, 80.0));
        assert_eq!(hot[0].code.as_ref().unwrap().filepath.as_deref(), Some("web/views.py"));
        assert_eq!((hot[1].name.as_str(), hot[1].percent), ("GET /", 20.0));
    }

    #[test]
    fn the_operation_owning_most_of_the_critical_path_is_the_bottleneck() {
        let t = trace(&[(1, 0, "web", "GET /", 0, 100), (2, 1, "db", "query", 10, 80)]).done();
        let path = critical_path(&t);
        let index = TraceIndex::new(&t);
        let found = bottlenecks(&[(&index, &path)]);
        assert_eq!(found.len(), 2, "web keeps 20%, db 80%");
        assert_eq!((found[0].service.as_str(), found[0].percent), ("db", 80.0));
        assert_eq!(dominant_self_time(&index, &self_times(&t)).unwrap().service, "db");
    }

    #[test]
    fn the_self_time_of_a_call_to_another_process_is_not_code_to_profile() {
        // The client span waits 80 of 100 ms on a peer that is not traced.
        let t = trace(&[(1, 0, "web", "GET /", 0, 100), (2, 1, "web", "GET", 10, 80), (3, 1, "web", "render", 92, 6)])
            .kind(1, crate::model::SpanKind::Server)
            .kind(2, crate::model::SpanKind::Client)
            .done();
        let own = self_times(&t);
        let index = TraceIndex::new(&t);
        assert!(dominant_self_time(&index, &own).is_none(), "{:?}", dominant_self_time(&index, &own));
        let hot = hot_functions(&[(&index, &own)]);
        assert!(hot.iter().all(|h| h.name != "GET"), "{hot:?}");
        assert_eq!(hot[0].percent, 14.0, "shares stay shares of all the time: the handler's 14 of 100 ms");
    }
}
