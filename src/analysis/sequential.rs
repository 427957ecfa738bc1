//! Different calls made one after another by one parent: when they do not depend on
//! each other, running them concurrently saves all but the longest.

use super::findings::{Evidence, Finding, FindingKind, Severity, percent};
use super::index::TraceIndex;
use super::repeated::runs_one_after_another;
use crate::model::{SpanIndex, saturating_sum};

/// At least this many different calls…
const MIN_CALLS: usize = 3;
/// …that together take at least this share of their parent.
const MIN_SHARE: f64 = 30.0;

/// Under each parent, the first call of each distinct key, in start order. Linear in the
/// spans: which keys a parent has seen is a table indexed by key that remembers the last
/// parent that saw each.
pub fn sequential_calls(index: &TraceIndex) -> Vec<Finding> {
    let trace = index.trace;
    let mut findings = Vec::new();
    let mut seen_under: Vec<usize> = vec![usize::MAX; index.calls.key_count()];
    let mut distinct: Vec<SpanIndex> = Vec::new();
    for parent in 0..trace.spans.len() {
        distinct.clear();
        for child in trace.tree.children(parent) {
            let Some(call) = index.calls.get(child) else { continue };
            if seen_under[call.key.index()] != parent {
                seen_under[call.key.index()] = parent;
                distinct.push(child);
            }
        }
        if distinct.len() < MIN_CALLS || !runs_one_after_another(trace, &distinct) {
            continue;
        }
        let durations: Vec<u64> = distinct.iter().map(|&c| trace.spans[c].duration_ns).collect();
        let sum = saturating_sum(durations.iter().copied());
        let parent_ns = trace.spans[parent].duration_ns;
        if percent(sum, parent_ns) < MIN_SHARE {
            continue;
        }
        let saving_ns = sum.saturating_sub(durations.iter().max().copied().unwrap_or(0));
        let mut finding = index.finding(FindingKind::SequentialCalls, &distinct);
        finding.percent = percent(sum, parent_ns);
        finding.impact_us = saving_ns / 1000;
        finding.severity = Severity::Info;
        finding.evidence = Evidence::SequentialCalls {
            calls: distinct
                .iter()
                .map(|&c| {
                    index.calls.get(c).map(|call| index.calls.describe(call, &trace.spans[c])).unwrap_or_default()
                })
                .collect(),
            saving_ns,
        };
        findings.push(finding);
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{MS, trace};
    use crate::model::SpanKind;

    #[test]
    fn different_calls_one_after_another_could_run_together() {
        let mut build = trace(&[
            (1, 0, "web", "GET /", 0, 100),
            (2, 1, "web", "prices", 5, 20),
            (3, 1, "web", "stock", 30, 30),
            (4, 1, "web", "user", 65, 25),
        ]);
        for id in 2..=4 {
            build = build.kind(id, SpanKind::Client);
        }
        let t = build.done();
        let found = sequential_calls(&TraceIndex::new(&t));
        assert_eq!(found.len(), 1);
        assert!(matches!(found[0].evidence, Evidence::SequentialCalls { saving_ns, .. } if saving_ns == 45 * MS));
    }
}
