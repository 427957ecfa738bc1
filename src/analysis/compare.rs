//! Two traces side by side: which call paths were added or removed, which ran more or
//! fewer times, and how the latency of each path changed.
//!
//! Both traces are merged into call paths as the aggregated flame graph does (service +
//! operation at each level from the root), and paths are matched by that key, so a
//! request that made 12 queries before and 15 after shows as one path, "12 → 15".

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

use super::aggregate::{Allocations, Example, Order, Paths, Weight, entry_spans};
use crate::model::{Trace, TraceId, change_ns};

/// A change is worth colouring when the path's time moved by at least this share of
/// its own time and of the longer trace (smaller moves are noise between runs).
pub const NOTABLE_SHARE: f64 = 0.10;
pub const NOTABLE_OF_TRACE: f64 = 0.01;

/// The two traces and their call paths. The paths stay as merging left them (both sides'
/// sums on shared nodes, names once each) and a [`DiffNode`] is read off them when asked
/// for: on big traces of distinct paths, copying every path out with its names and both
/// sides' figures was most of a comparison's time and memory.
pub struct Comparison {
    pub before: Side,
    pub after: Side,
    paths: Paths<2>,
    /// Each side's drawing order and totals.
    orders: [Order; 2],
    /// The comparison's nodes: node 0 is the root, parents come before their children.
    nodes: Vec<Placed>,
    /// The longer of the two traces' durations, what a notable change is measured against.
    longer_ns: u64,
}

/// A comparison's node: the merged path and its parent's position in the comparison.
#[derive(Clone, Copy)]
struct Placed {
    node: u32,
    parent: Option<u32>,
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

/// One call path of a comparison, as [`Comparison::node`] reads it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DiffNode<'a> {
    pub parent: Option<usize>,
    pub service: &'a str,
    pub operation: &'a str,
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
        // Room for a second trace as big as this one: two traces compared are mostly
        // alike, and growing the merged paths for the second would copy them all.
        paths.reserve(2 * before.spans.len());
        let duration_ns = paths.add(BEFORE, before, &entry_spans(before, None));
        Before { paths, side: Side::of(before, duration_ns) }
    }

    /// The comparison of the first trace with `after`.
    pub fn compare(self, after: &Trace) -> Comparison {
        let Before { mut paths, side: before } = self;
        let duration_ns = paths.add(AFTER, after, &entry_spans(after, None));
        let after = Side::of(after, duration_ns);
        let orders = paths.orders();
        let nodes = placed(&paths, &orders);
        let longer_ns = before.duration_ns.max(after.duration_ns);
        Comparison { before, after, paths, orders, nodes, longer_ns }
    }
}

const BEFORE: usize = 0;
const AFTER: usize = 1;

/// The paths of the first trace in its drawing order, then those only the second has in
/// its own, each parent before its children.
fn placed(paths: &Paths<2>, [before, after]: &[Order; 2]) -> Vec<Placed> {
    let only_after = after.nodes.iter().filter(|&&node| before.position(node).is_none()).count();
    let mut nodes = Vec::with_capacity(before.nodes.len() + only_after);
    nodes.extend(before.nodes.iter().map(|&node| Placed { node, parent: paths.parent(before, node) }));
    // Where each of the second trace's nodes stands in the comparison, by its position
    // in `after`: those the first trace has come first, already placed.
    let mut at: Vec<u32> = Vec::with_capacity(after.nodes.len());
    for &node in &after.nodes {
        let here = match before.position(node) {
            Some(here) => here as u32,
            None => {
                let parent = paths.parent(after, node).map(|p| at[p as usize]);
                nodes.push(Placed { node, parent });
                nodes.len() as u32 - 1
            }
        };
        at.push(here);
    }
    nodes
}

impl Comparison {
    /// How many call paths the comparison has (the root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never: the root is always there.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The call path at `index` (0 is the root), judged.
    pub fn node(&self, index: usize) -> DiffNode<'_> {
        let Placed { node, parent } = self.nodes[index];
        let (service, operation) = self.paths.name(node);
        let stats = |side: usize| {
            self.paths.has(side, node).then(|| PathStats::of(&self.paths, side, &self.orders[side], node))
        };
        DiffNode::judged(parent.map(|p| p as usize), service, operation, stats(BEFORE), stats(AFTER), self.longer_ns)
    }

    /// Every call path, the root first and parents before their children.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = DiffNode<'_>> + '_ {
        (0..self.nodes.len()).map(|index| self.node(index))
    }
}

/// As the comparison was when it held its nodes in a list: `before`, `after`, `nodes`.
impl Serialize for Comparison {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Nodes<'a>(&'a Comparison);
        impl Serialize for Nodes<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.nodes())
            }
        }
        let mut out = serializer.serialize_struct("Comparison", 3)?;
        out.serialize_field("before", &self.before)?;
        out.serialize_field("after", &self.after)?;
        out.serialize_field("nodes", &Nodes(self))?;
        out.end()
    }
}

impl<'a> DiffNode<'a> {
    /// The path with its change judged, `longer_ns` being the longer trace's duration.
    fn judged(
        parent: Option<usize>,
        service: &'a str,
        operation: &'a str,
        before: Option<PathStats>,
        after: Option<PathStats>,
        longer_ns: u64,
    ) -> Self {
        let count = |s: Option<PathStats>| s.map_or(0, |s| s.count);
        let time = |s: Option<PathStats>| s.map_or(0, |s| s.duration_ns);
        let (was_count, now_count) = (count(before), count(after));
        let change = match (before.is_some(), after.is_some()) {
            (false, true) => Change::Added,
            (true, false) => Change::Removed,
            _ if now_count > was_count => Change::More,
            _ if now_count < was_count => Change::Fewer,
            _ => Change::Same,
        };
        let (was, now) = (time(before), time(after));
        let delta_ns = change_ns(was, now);
        let moved = delta_ns.unsigned_abs() as f64;
        DiffNode {
            parent,
            service,
            operation,
            before,
            after,
            change,
            delta_ns,
            delta_percent: (was > 0).then(|| delta_ns as f64 * 100.0 / was as f64),
            notable: moved >= NOTABLE_OF_TRACE * longer_ns as f64 && moved >= NOTABLE_SHARE * was as f64,
        }
    }
}

impl Side {
    /// `trace`, whose duration merging its paths gave (`None` when it had none to merge).
    fn of(trace: &Trace, duration_ns: Option<u64>) -> Side {
        Side {
            trace_id: trace.id,
            root: trace.root().map_or_else(String::new, |r| format!("{}: {}", r.service(), r.operation)),
            duration_ns: duration_ns.unwrap_or_else(|| trace.duration_ns()),
            span_count: trace.spans.len(),
        }
    }
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
        let find = |op: &str| diff.nodes().find(|n| n.operation == op).unwrap();
        let items = find("SELECT items");
        assert_eq!((items.change, items.delta_ns, items.notable), (Change::Fewer, -80 * MS as i64, true));
        assert_eq!(items.delta_percent.map(|p| p.round()), Some(-67.0));
        assert_eq!(find("GET").change, Change::Removed);
        assert_eq!(find("PlaceOrder").change, Change::Same);
        assert!(!find("GET /checkout").notable, "same duration");
        let reverse = compare(&after, &before);
        let cache = reverse.nodes().find(|n| n.operation == "GET").unwrap();
        assert_eq!((cache.change, cache.delta_percent), (Change::Added, None));
        assert_eq!(diff.node(items.parent.unwrap()).operation, "PlaceOrder");
    }

    #[test]
    fn a_trace_compared_with_itself_has_no_changes() {
        let t = checkout(5, 10, true);
        let diff = compare(&t, &t);
        assert!(diff.nodes().all(|n| n.change == Change::Same && n.delta_ns == 0 && !n.notable));
    }
}
