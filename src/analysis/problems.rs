//! The same problem seen in many traces is one finding: twenty requests with the same
//! N+1 are one N+1 "in 20 of 20 GET /orders requests", with its worst occurrence, what it
//! costs across them, and every trace it occurred in.

use std::collections::HashSet;

use smallvec::SmallVec;

use super::findings::{Evidence, Finding, FindingKind, Occurrence, Severity};
use super::stats::percentile;
use crate::analysis::calls::CodeLocation;
use crate::model::{IdHasher, IdMap, SmolStr, Trace, saturating_sum};

/// What makes two findings the same problem: the kind, where it is (service, operation,
/// code location) and what it is about (the normalized statement or call, the parent it
/// repeats under, the calls made one after another). Values that differ from request to
/// request (ids, literals, durations) are not part of it. It borrows from the finding:
/// keys are built for every finding of every trace, thousands per analysis.
#[derive(PartialEq, Eq, Hash)]
struct ProblemKey<'f> {
    kind: FindingKind,
    service: &'f str,
    operation: &'f str,
    code: Option<&'f CodeLocation>,
    about: About<'f>,
}

/// What a problem is about, by kind of evidence.
#[derive(PartialEq, Eq, Hash)]
enum About<'f> {
    Nothing,
    Text(&'f str),
    CallUnder { call: &'f str, parent_operation: &'f str },
    Calls(&'f [String]),
    TimedOut(bool),
}

impl<'f> ProblemKey<'f> {
    fn of(finding: &'f Finding) -> ProblemKey<'f> {
        let about = match &finding.evidence {
            Evidence::NPlusOne { call, parent_operation, .. } => About::CallUnder { call, parent_operation },
            Evidence::SlowQuery { statement, .. } => About::Text(statement),
            Evidence::ErrorRootCause { timed_out, .. } => About::TimedOut(*timed_out),
            Evidence::RepeatedCall { call } => About::Text(call),
            Evidence::SequentialCalls { calls, .. } => About::Calls(calls),
            Evidence::QueueWait { queue, .. } => About::Text(queue),
            Evidence::Bottleneck { .. } | Evidence::DominantSelfTime { .. } | Evidence::None => About::Nothing,
        };
        // A bottleneck is an operation, wherever in the code it was called from.
        let code = if finding.kind == FindingKind::Bottleneck { None } else { finding.code.as_ref() };
        ProblemKey { kind: finding.kind, service: &finding.service, operation: &finding.operation, code, about }
    }
}

/// The root span of an analyzed trace, as findings name it.
struct Root {
    operation: SmolStr,
    /// `service: operation`, to tell traces apart in a list.
    label: SmolStr,
}

/// The kinds whose `count` counts calls, so that a group can say how long one call takes.
fn counts_calls(kind: FindingKind) -> bool {
    matches!(kind, FindingKind::NPlusOne | FindingKind::RepeatedCall | FindingKind::SlowQuery)
}

/// Merges the findings of `traces` (each about one trace) into one finding per problem,
/// ordered by impact: the time the problem costs across the requests, most first. Weaker
/// twins are left out first (see [`without_weaker_twins`]).
pub fn group(findings: Vec<Finding>, traces: &[&Trace]) -> Vec<Finding> {
    let findings = without_weaker_twins(findings);
    let roots: IdMap<SmolStr, Root> = traces
        .iter()
        .filter_map(|t| {
            let root = t.root()?;
            let label = SmolStr::from(format!("{}: {}", root.service(), root.operation));
            Some((t.id.to_smol(), Root { operation: root.operation.clone(), label }))
        })
        .collect();
    let mut requests_per_root: IdMap<&str, usize> = IdMap::default();
    for root in roots.values() {
        *requests_per_root.entry(root.operation.as_str()).or_default() += 1;
    }

    let groups = Groups::of(&findings);
    // Findings are large: each is moved once, the worst of its group into the merged one.
    let mut findings: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    // Grown to size once: a finding is hundreds of bytes, and a vector that doubled its
    // way up would copy them all over again at every step.
    let mut merged: Vec<Finding> = Vec::with_capacity(groups.len());
    merged.extend(groups.iter().filter_map(|members| merge(members, &mut findings, &roots, &requests_per_root)));
    // Ordered by their keys (a stable sort), then moved once each: findings are large.
    let mut order: Vec<(std::cmp::Reverse<u64>, std::cmp::Reverse<Severity>, FindingKind, usize)> = merged
        .iter()
        .enumerate()
        .map(|(i, f)| (std::cmp::Reverse(f.impact_us), std::cmp::Reverse(f.severity), f.kind, i))
        .collect();
    order.sort_unstable();
    let mut slots: Vec<Option<Finding>> = merged.into_iter().map(Some).collect();
    let mut ordered = Vec::with_capacity(slots.len());
    ordered.extend(order.into_iter().filter_map(|(.., i)| slots[i].take()));
    ordered
}

/// The findings of each problem, by their indices: groups in the order their first
/// findings came, each group's findings in their order, side by side in one list.
struct Groups {
    members: Vec<usize>,
    /// Group `g` is `members[starts[g]..starts[g + 1]]`.
    starts: Vec<usize>,
}

impl Groups {
    fn of(findings: &[Finding]) -> Groups {
        let mut numbers: IdMap<ProblemKey, usize> = IdMap::with_capacity_and_hasher(findings.len(), Default::default());
        let group_of: Vec<usize> = findings
            .iter()
            .map(|finding| {
                let next = numbers.len();
                *numbers.entry(ProblemKey::of(finding)).or_insert(next)
            })
            .collect();
        let mut starts = vec![0; numbers.len() + 1];
        for &group in &group_of {
            starts[group + 1] += 1;
        }
        for group in 1..starts.len() {
            starts[group] += starts[group - 1];
        }
        let mut next = starts.clone();
        let mut members = vec![0; findings.len()];
        for (finding, &group) in group_of.iter().enumerate() {
            members[next[group]] = finding;
            next[group] += 1;
        }
        Groups { members, starts }
    }

    fn len(&self) -> usize {
        self.starts.len() - 1
    }

    fn iter(&self) -> impl Iterator<Item = &[usize]> {
        self.starts.windows(2).map(|bounds| &self.members[bounds[0]..bounds[1]])
    }
}

/// Calls that are part of an N+1 are that N+1: "the same call 15×, cache it" and "this
/// query holds the critical path" say less about the same spans than "make them one
/// query". A repeated call or bottleneck whose spans all belong to an N+1 of the same
/// trace is dropped.
fn without_weaker_twins(findings: Vec<Finding>) -> Vec<Finding> {
    let n_plus_ones = || findings.iter().filter(|f| f.kind == FindingKind::NPlusOne);
    // Each trace's set is made as large as it will be, so that it never grows.
    let mut sizes: IdMap<&str, usize> = IdMap::default();
    for finding in n_plus_ones() {
        *sizes.entry(&finding.trace_id).or_default() += finding.span_ids.len();
    }
    let mut in_n_plus_one: IdMap<&str, HashSet<&str, IdHasher>> = sizes
        .into_iter()
        .map(|(trace, size)| (trace, HashSet::with_capacity_and_hasher(size, IdHasher::default())))
        .collect();
    for finding in n_plus_ones() {
        if let Some(spans) = in_n_plus_one.get_mut(finding.trace_id.as_str()) {
            spans.extend(finding.span_ids.iter().map(SmolStr::as_str));
        }
    }
    let twins: Vec<bool> = findings
        .iter()
        .map(|f| {
            matches!(f.kind, FindingKind::RepeatedCall | FindingKind::Bottleneck)
                && in_n_plus_one
                    .get(f.trace_id.as_str())
                    .is_some_and(|spans| f.span_ids.iter().all(|s| spans.contains(s.as_str())))
        })
        .collect();
    findings.into_iter().zip(twins).filter(|(_, twin)| !twin).map(|(f, _)| f).collect()
}

/// A problem's working lists, held inline: most problems occur once or a few times, and
/// six allocations per problem were a fifth of grouping a big trace's findings.
type Few<T> = SmallVec<[T; 4]>;

/// One finding from the occurrences of one problem (`members`, indices into `findings`):
/// the worst one's fields, taken out of `findings`, with the group's counts and the traces
/// worst first.
fn merge(
    members: &[usize],
    findings: &mut [Option<Finding>],
    roots: &IdMap<SmolStr, Root>,
    requests_per_root: &IdMap<&str, usize>,
) -> Option<Finding> {
    let (mut indices, mut group) = (Few::<usize>::new(), Few::<&Finding>::new());
    for &i in members {
        if let Some(finding) = &findings[i] {
            indices.push(i);
            group.push(finding);
        }
    }
    let occurrences = group.len();
    let impact_us = saturating_sum(group.iter().map(|f| f.impact_us));
    let calls: usize = group.iter().map(|f| f.count).sum();
    let time_us = saturating_sum(group.iter().map(|f| f.total_us));
    let severity = group.iter().map(|f| f.severity).max();
    let mut traces = occurrences_by_trace(&group, roots);
    traces.sort_by(|a, b| b.total_us.cmp(&a.total_us).then_with(|| a.trace_id.cmp(&b.trace_id)));
    let mut per_trace: Few<u64> = traces.iter().map(|o| o.total_us).collect();
    per_trace.sort_unstable();

    let mut affected_roots: Few<&SmolStr> =
        traces.iter().filter_map(|o| roots.get(o.trace_id.as_str())).map(|root| &root.operation).collect();
    affected_roots.sort_unstable();
    affected_roots.dedup();
    let requests =
        affected_roots.iter().map(|r| requests_per_root.get(r.as_str()).copied().unwrap_or(0)).sum::<usize>();

    // The first of the longest.
    let worst =
        (0..group.len()).reduce(|worst, i| if group[i].total_us > group[worst].total_us { i } else { worst })?;
    // The group borrows `findings` until dropped (a SmallVec, unlike a Vec, is not known
    // to leave its borrows alone when it is).
    drop(group);
    let mut worst = findings[indices[worst]].take()?;
    worst.severity = severity.unwrap_or(worst.severity);
    worst.occurrences = occurrences;
    worst.requests = requests.max(traces.len());
    worst.root_operation = match affected_roots.as_slice() {
        [one] => (*one).clone(),
        _ => SmolStr::default(),
    };
    worst.impact_us = impact_us;
    worst.p95_us = percentile(&per_trace, 95.0);
    worst.each_us = if counts_calls(worst.kind) && calls > 0 { time_us / calls as u64 } else { 0 };
    worst.traces = traces;
    Some(worst)
}

/// The traces a problem's findings (`group`) occurred in, in the order they first came,
/// each with all its findings' spans and time.
fn occurrences_by_trace(group: &[&Finding], roots: &IdMap<SmolStr, Root>) -> Vec<Occurrence> {
    let mut traces: Vec<Occurrence> = Vec::with_capacity(group.len());
    // Each finding's trace among `traces`; their span lists are then filled at their size.
    let mut owners = Few::<usize>::new();
    let mut sizes = Few::<usize>::new();
    for finding in group {
        let owner = match traces.iter().position(|o| o.trace_id == finding.trace_id) {
            Some(seen) => {
                traces[seen].total_us = traces[seen].total_us.saturating_add(finding.total_us);
                seen
            }
            None => {
                traces.push(Occurrence {
                    trace_id: finding.trace_id.clone(),
                    span_ids: Vec::new(),
                    total_us: finding.total_us,
                    root: roots.get(finding.trace_id.as_str()).map(|root| root.label.clone()).unwrap_or_default(),
                });
                sizes.push(0);
                traces.len() - 1
            }
        };
        sizes[owner] += finding.span_ids.len();
        owners.push(owner);
    }
    for (occurrence, size) in traces.iter_mut().zip(sizes) {
        occurrence.span_ids.reserve_exact(size);
    }
    for (finding, owner) in group.iter().zip(owners) {
        traces[owner].span_ids.extend(finding.span_ids.iter().cloned());
    }
    traces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::report::{Options, analyze};
    use crate::analysis::testing::{Run, trace};
    use crate::model::TraceId;

    /// A request to `GET /orders` that loads its 15 items one query at a time, each query
    /// `ms` long (the handler carries a code location).
    fn orders_request(id: u128, ms: u64) -> Trace {
        let mut t = trace(&[(1, 0, "frontend", "GET /orders", 0, 200)])
            .attr(1, "code.file.path", "shop/orders.py")
            .attr(1, "code.line.number", "42")
            .run(
                Run { parent: 1, first: 10, n: 15, start_ms: 1, every_ms: ms + 1, duration_ms: ms },
                "frontend",
                "SELECT",
                &[("db.system", "postgresql"), ("db.statement", "select sku from items where order_id = {i}")],
            )
            .done();
        t.id = TraceId(id);
        t
    }

    #[test]
    fn twenty_requests_with_the_same_n_plus_one_are_one_finding_with_all_its_traces() {
        let traces: Vec<Trace> = (1..=20).map(|i| orders_request(i, if i == 7 || i == 8 { 9 } else { 4 })).collect();
        let report = analyze(&traces, &Options::default());
        let n_plus_one: Vec<&Finding> = report.findings.iter().filter(|f| f.kind == FindingKind::NPlusOne).collect();
        assert_eq!(n_plus_one.len(), 1, "{:#?}", report.findings);
        let f = n_plus_one[0];
        assert_eq!((f.occurrences, f.requests, f.root_operation.as_str()), (20, 20, "GET /orders"));
        assert_eq!(f.count, 15, "calls per request");
        assert_eq!(f.traces.len(), 20);
        assert_eq!(f.trace_id, TraceId(7).to_string(), "the worst occurrence (the first of two) names the finding");
        assert_eq!(f.traces[0].trace_id, f.trace_id, "the worst trace first");
        assert!(f.traces.iter().all(|o| o.span_ids.len() == 15), "every trace has its own spans to mark");
        assert_eq!(f.impact_us, 18 * 15 * 4_000 + 2 * 15 * 9_000);
        assert_eq!(f.each_us, f.impact_us / (20 * 15));
        assert_eq!(f.p95_us, 15 * 9_000, "the 19th of 20 sorted costs (nearest rank)");
        assert_eq!(report.findings.iter().filter(|f| f.kind == FindingKind::DominantSelfTime).count(), 1);
    }

    #[test]
    fn findings_are_ordered_by_the_time_they_cost_not_by_how_often_they_occur() {
        // Ten requests with a cheap N+1, one with an expensive one of another query.
        let mut traces: Vec<Trace> = (1..=10).map(|i| orders_request(i, 1)).collect();
        let mut expensive = trace(&[(1, 0, "frontend", "GET /report", 0, 3000)])
            .run(
                Run { parent: 1, first: 10, n: 6, start_ms: 1, every_ms: 400, duration_ms: 300 },
                "frontend",
                "SELECT",
                &[("db.system", "postgresql"), ("db.statement", "select * from sales where day = {i}")],
            )
            .done();
        expensive.id = TraceId(99);
        traces.push(expensive);
        let report = analyze(&traces, &Options::default());
        let kinds: Vec<(FindingKind, usize)> = report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::NPlusOne)
            .map(|f| (f.kind, f.occurrences))
            .collect();
        assert_eq!(kinds, [(FindingKind::NPlusOne, 1), (FindingKind::NPlusOne, 10)]);
        let impacts: Vec<u64> = report.findings.iter().map(|f| f.impact_us).collect();
        assert!(impacts.windows(2).all(|w| w[0] >= w[1]), "{impacts:?}");
    }

    #[test]
    fn an_n_plus_one_is_not_also_a_repeated_call_or_a_bottleneck_of_the_same_spans() {
        // Identical statements (literals and all): the N+1 says it, no weaker twin does.
        let literal = [("db.system", "postgresql"), ("db.statement", "select * from rates where currency = 'EUR'")];
        let run = Run { parent: 1, first: 10, n: 6, start_ms: 1, every_ms: 10, duration_ms: 9 };
        let t = trace(&[(1, 0, "shop", "GET /cart", 0, 70)]).run(run, "shop", "SELECT", &literal).done();
        let found: Vec<(FindingKind, SmolStr)> =
            analyze(&[&t], &Options::default()).findings.iter().map(|f| (f.kind, f.operation.clone())).collect();
        let about_the_queries: Vec<FindingKind> =
            found.iter().filter(|(_, operation)| operation == "SELECT").map(|(kind, _)| *kind).collect();
        assert_eq!(about_the_queries, [FindingKind::NPlusOne], "{found:?}");
    }
}
