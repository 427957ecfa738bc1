//! Two traces side by side: which call paths were added or removed, which ran more or
//! fewer times, and how the latency of each path changed.
//!
//! Both traces are merged into call paths as the aggregated flame graph does (service +
//! operation at each level from the root), and paths are matched by that key, so a
//! request that made 12 queries before and 15 after shows as one path, "12 → 15".

use std::sync::Arc;

use serde::Serialize;

use super::aggregate::{Allocations, Example, Order, Paths, Weight, entry_spans};
use crate::model::{Trace, TraceId, change_ns};

/// A change is worth colouring when the path's time moved by at least this share of
/// its own time and of the longer trace (smaller moves are noise between runs).
pub const NOTABLE_SHARE: f64 = 0.10;
pub const NOTABLE_OF_TRACE: f64 = 0.01;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub before: Side,
    pub after: Side,
    /// Node 0 is the root; parents come before their children.
    pub nodes: Vec<DiffNode>,
}

/// One of the two traces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Side {
    pub trace_id: TraceId,
    pub root: String,
    pub duration_ns: u64,
    pub span_count: usize,
}

/// What happened to a call path from the first trace to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Added,
    Removed,
    More,
    Fewer,
    Same,
}

/// A call path's spans in one trace.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PathStats {
    pub count: usize,
    pub duration_ns: u64,
    pub self_ns: u64,
    /// Self time of the path and everything below it.
    pub total_ns: u64,
    pub example: Option<Example>,
}

impl PathStats {
    /// The spans of `side` on `node`, `order` being that side's.
    fn of(paths: &Paths<2>, side: usize, order: &Order, node: u32) -> Self {
        let (count, duration_ns, self_ns, total_ns) = paths.stats(side, order, node);
        PathStats { count, duration_ns, self_ns, total_ns, example: paths.example(side, node) }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiffNode {
    pub parent: Option<usize>,
    pub service: Arc<str>,
    pub operation: Arc<str>,
    pub before: Option<PathStats>,
    pub after: Option<PathStats>,
    pub change: Change,
    /// After minus before, of the spans' durations added up.
    pub delta_ns: i64,
    /// The same as a share of before; `None` when the path is new.
    pub delta_percent: Option<f64>,
    /// Whether the latency moved enough to call it slower or faster.
    pub notable: bool,
}

pub fn compare(before: &Trace, after: &Trace) -> Comparison {
    Before::of(before).compare(after)
}

/// The first trace of a comparison, merged into call paths: all the comparison needs of
/// it, so that a caller holding two big traces can let the first go before it reads the
/// second (`vitals diff` then holds one decoded trace at a time).
pub struct Before {
    paths: Paths<2>,
    side: Side,
}

impl Before {
    pub fn of(before: &Trace) -> Before {
        let mut paths = Paths::<2>::new(Weight::SelfTime, Allocations::Skipped);
        paths.add(BEFORE, before, &entry_spans(before, None));
        Before { paths, side: Side::of(before) }
    }

    /// The comparison of the first trace with `after`.
    pub fn compare(self, after: &Trace) -> Comparison {
        let Before { mut paths, side: before } = self;
        paths.add(AFTER, after, &entry_spans(after, None));
        let after = Side::of(after);
        let longer = before.duration_ns.max(after.duration_ns);
        let mut nodes = diff_nodes(&paths);
        for node in &mut nodes {
            judge(node, longer);
        }
        Comparison { before, after, nodes }
    }
}

const BEFORE: usize = 0;
const AFTER: usize = 1;

/// The paths of the first trace in its drawing order, then those only the second has in
/// its own, each parent before its children.
fn diff_nodes(paths: &Paths<2>) -> Vec<DiffNode> {
    let (before, after) = (paths.order(BEFORE), paths.order(AFTER));
    // Sized exactly: on big traces of distinct paths this is the biggest thing made, and
    // growing it would copy it.
    let only_after = after.nodes.iter().filter(|&&node| before.position(node).is_none()).count();
    let mut nodes: Vec<DiffNode> = Vec::with_capacity(before.nodes.len() + only_after);
    // Where each of the second trace's nodes stands in the comparison, by its position
    // in `after`: those the first trace has come first, already placed.
    let mut placed: Vec<usize> = Vec::with_capacity(after.nodes.len());
    for &node in &before.nodes {
        let (service, operation) = paths.name(node).clone();
        let stats = PathStats::of(paths, BEFORE, &before, node);
        let after_stats = paths.has(AFTER, node).then(|| PathStats::of(paths, AFTER, &after, node));
        nodes.push(DiffNode::new(paths.parent(&before, node), service, operation, Some(stats), after_stats));
    }
    for &node in &after.nodes {
        let at = match before.position(node) {
            Some(at) => at,
            None => {
                let (service, operation) = paths.name(node).clone();
                let parent = paths.parent(&after, node).map(|p| placed[p]);
                let stats = Some(PathStats::of(paths, AFTER, &after, node));
                nodes.push(DiffNode::new(parent, service, operation, None, stats));
                nodes.len() - 1
            }
        };
        placed.push(at);
    }
    nodes
}

impl DiffNode {
    /// A path not judged yet.
    fn new(
        parent: Option<usize>,
        service: Arc<str>,
        operation: Arc<str>,
        before: Option<PathStats>,
        after: Option<PathStats>,
    ) -> Self {
        DiffNode {
            parent,
            service,
            operation,
            before,
            after,
            change: Change::Same,
            delta_ns: 0,
            delta_percent: None,
            notable: false,
        }
    }
}

impl Side {
    fn of(trace: &Trace) -> Side {
        Side {
            trace_id: trace.id,
            root: trace.root().map_or_else(String::new, |r| format!("{}: {}", r.service(), r.operation)),
            duration_ns: trace.duration_ns(),
            span_count: trace.spans.len(),
        }
    }
}

fn judge(node: &mut DiffNode, longer_ns: u64) {
    let count = |s: Option<PathStats>| s.map_or(0, |s| s.count);
    let time = |s: Option<PathStats>| s.map_or(0, |s| s.duration_ns);
    let (before, after) = (count(node.before), count(node.after));
    node.change = match (node.before.is_some(), node.after.is_some()) {
        (false, true) => Change::Added,
        (true, false) => Change::Removed,
        _ if after > before => Change::More,
        _ if after < before => Change::Fewer,
        _ => Change::Same,
    };
    let (was, now) = (time(node.before), time(node.after));
    node.delta_ns = change_ns(was, now);
    node.delta_percent = (was > 0).then(|| node.delta_ns as f64 * 100.0 / was as f64);
    let moved = node.delta_ns.unsigned_abs() as f64;
    node.notable = moved >= NOTABLE_OF_TRACE * longer_ns as f64 && moved >= NOTABLE_SHARE * was as f64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{MS, Run, trace};

    fn checkout(queries: u64, query_ms: u64, with_cache: bool) -> Trace {
        let mut b = trace(&[(1, 0, "web", "GET /checkout", 0, 200), (2, 1, "api", "PlaceOrder", 0, 150)]).run(
            Run { parent: 2, first: 10, n: queries, start_ms: 1, every_ms: query_ms, duration_ms: query_ms },
            "db",
            "SELECT items",
            &[],
        );
        if with_cache {
            b = b.run(
                Run { parent: 2, first: 90, n: 1, start_ms: 140, every_ms: 1, duration_ms: 5 },
                "redis",
                "GET",
                &[],
            );
        }
        b.done()
    }

    #[test]
    fn paths_are_matched_by_name_and_changes_classified() {
        let before = checkout(12, 10, true);
        let after = checkout(4, 10, false);
        let diff = compare(&before, &after);
        let find = |op: &str| diff.nodes.iter().find(|n| &*n.operation == op).unwrap();
        let items = find("SELECT items");
        assert_eq!((items.change, items.delta_ns, items.notable), (Change::Fewer, -80 * MS as i64, true));
        assert_eq!(items.delta_percent.map(|p| p.round()), Some(-67.0));
        assert_eq!(find("GET").change, Change::Removed);
        assert_eq!(find("PlaceOrder").change, Change::Same);
        assert!(!find("GET /checkout").notable, "same duration");
        let reverse = compare(&after, &before);
        let cache = reverse.nodes.iter().find(|n| &*n.operation == "GET").unwrap();
        assert_eq!((cache.change, cache.delta_percent), (Change::Added, None));
        assert_eq!(diff.nodes[items.parent.unwrap()].operation.as_ref(), "PlaceOrder");
    }

    #[test]
    fn a_trace_compared_with_itself_has_no_changes() {
        let t = checkout(5, 10, true);
        let diff = compare(&t, &t);
        assert!(diff.nodes.iter().all(|n| n.change == Change::Same && n.delta_ns == 0 && !n.notable));
    }
}
