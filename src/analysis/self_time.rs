//! Self time: the part of a span's duration not covered by any of its children.
//!
//! Children are clipped to the parent first, and overlapping children count once, so a
//! parent that fans out to ten concurrent calls is not charged ten times, and a child that
//! outlives its parent (clock skew, async work) never drives self time below zero.

use crate::model::{SpanIndex, SpanTree, Trace};

/// Self time of every span, indexed like `trace.spans`. Each span's start and end are
/// gathered first, so a child's are read from one small table instead of from its whole
/// span (on big traces, reaching into spans in tree order is mostly cache misses).
pub fn self_times(trace: &Trace) -> Vec<u64> {
    let bounds: Vec<(u64, u64)> = trace.spans.iter().map(|s| (s.start_ns, s.end_ns())).collect();
    trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| uncovered(&trace.tree, i, s.duration_ns, |child| bounds[child]))
        .collect()
}

pub fn self_time(trace: &Trace, span: SpanIndex) -> u64 {
    let bounds = |child: SpanIndex| (trace.spans[child].start_ns, trace.spans[child].end_ns());
    uncovered(&trace.tree, span, trace.spans[span].duration_ns, bounds)
}

/// `duration_ns` of `span` less what its children, clipped to it, cover; `bounds` gives a
/// span's start and end. A caller that gathers the bounds while it reads the spans for
/// something else saves a pass over them (see [`super::aggregate`]).
pub(super) fn uncovered(
    tree: &SpanTree,
    span: SpanIndex,
    duration_ns: u64,
    bounds: impl Fn(SpanIndex) -> (u64, u64),
) -> u64 {
    let (lo, hi) = bounds(span);
    // Children are sorted by start, and clipping keeps that order.
    let clipped = tree.children(span).map(|child| {
        let (start, end) = bounds(child);
        (start.clamp(lo, hi), end.clamp(lo, hi))
    });
    duration_ns.saturating_sub(covered_ns(clipped))
}

/// Wall-clock time during which at least one of the intervals `(start, end)` is open;
/// they must come in start order, so one pass merges the overlapping ones.
pub fn covered_ns(intervals: impl IntoIterator<Item = (u64, u64)>) -> u64 {
    let mut covered = 0u64;
    let mut run: Option<(u64, u64)> = None;
    for (start, end) in intervals.into_iter().filter(|(start, end)| start < end) {
        run = match run {
            Some((run_start, run_end)) if start <= run_end => Some((run_start, run_end.max(end))),
            Some((run_start, run_end)) => {
                covered += run_end - run_start;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    covered + run.map_or(0, |(run_start, run_end)| run_end - run_start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;

    fn trace(spans: &[(&str, Option<&str>, u64, u64)]) -> Trace {
        let spans: Vec<String> = spans
            .iter()
            .map(|(id, parent, start, duration)| {
                let refs = parent
                    .map(|p| format!(r#"[{{"refType":"CHILD_OF","spanID":"{p}"}}]"#))
                    .unwrap_or_else(|| "[]".to_string());
                format!(
                    r#"{{"traceID":"1","spanID":"{id}","references":{refs},"startTime":{start},"duration":{duration}}}"#
                )
            })
            .collect();
        formats::decode(format!("[{}]", spans.join(",")).as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn overlapping_and_overflowing_children_count_once_and_clipped() {
        // Parent 0..100; children 10..40 and 30..60 overlap (50 covered); 90..150 is clipped to 10.
        let t =
            trace(&[("a", None, 0, 100), ("b", Some("a"), 10, 30), ("c", Some("a"), 30, 30), ("d", Some("a"), 90, 60)]);
        let a = t.find_span("a").unwrap();
        assert_eq!(self_time(&t, a), 40_000);
    }

    #[test]
    fn a_child_after_the_parent_ends_takes_nothing() {
        let t = trace(&[("a", None, 0, 100), ("b", Some("a"), 200, 30)]);
        assert_eq!(self_time(&t, t.find_span("a").unwrap()), 100_000);
        assert_eq!(self_time(&t, t.find_span("b").unwrap()), 30_000);
    }
}
