//! The aggregated flame graph: many traces of a service merged into one tree of call
//! paths, so it reads like a CPU profile of where the service spends its time.
//!
//! A node is a call path (service+operation at each level, from an entry span of the
//! service down). Spans on the same path in different traces, or repeated under one
//! parent, merge into one node. A node is weighted by the *self time* of its spans (a CPU
//! profile), or by the bytes they allocated (a memory profile, see [`super::memory`]), and
//! its total is its own plus its children's, so widths add up like a profiler's.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::memory::allocated_bytes;
use super::self_times;
use crate::model::{SpanId, SpanIndex, Trace, TraceId};

/// What a call path's width stands for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weight {
    /// Time spent in the spans themselves, their children's left out.
    #[default]
    SelfTime,
    /// Bytes the spans allocated (`memory.allocated`).
    Allocated,
}

/// One call path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PathNode {
    /// Index of the parent node in [`AggregateFlame::nodes`]; `None` for the root.
    pub parent: Option<usize>,
    pub service: Arc<str>,
    pub operation: Arc<str>,
    /// Spans merged into this node.
    pub count: usize,
    /// The spans' durations added up (what a comparison calls the path's latency).
    pub duration_ns: u64,
    pub self_ns: u64,
    /// Self time of this node and everything below it.
    pub total_ns: u64,
    /// Bytes the spans allocated themselves.
    pub allocated_bytes: u64,
    /// Bytes allocated on this node and everything below it.
    pub total_allocated_bytes: u64,
    /// The longest span on this path: where to look at an example (none for the root).
    pub example: Option<Example>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Example {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub duration_ns: u64,
}

impl PathNode {
    /// The node's own share of `weight` (self time in ns, or bytes).
    pub fn own(&self, weight: Weight) -> u64 {
        match weight {
            Weight::SelfTime => self.self_ns,
            Weight::Allocated => self.allocated_bytes,
        }
    }

    /// The node's and its descendants' `weight`.
    pub fn total(&self, weight: Weight) -> u64 {
        match weight {
            Weight::SelfTime => self.total_ns,
            Weight::Allocated => self.total_allocated_bytes,
        }
    }
}

/// Call paths of many traces; node 0 is the root (all entry spans under it), and each
/// node's children come after it, heaviest first.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AggregateFlame {
    pub traces: usize,
    /// What the nodes are ordered (and drawn) by.
    pub weight: Weight,
    pub nodes: Vec<PathNode>,
}

/// Merges the traces' call paths, heaviest by `weight` first. With a service, paths start
/// at that service's entry spans (those whose caller is another service, or none);
/// without, at the roots. The example of a path is its longest span, or with
/// [`Weight::Allocated`] the one that allocated most.
pub fn aggregate<'t>(
    traces: impl IntoIterator<Item = &'t Trace>,
    service: Option<&str>,
    weight: Weight,
) -> AggregateFlame {
    let mut builder = Builder { weight, ..Builder::default() };
    let mut count = 0;
    for trace in traces {
        let entries = entry_spans(trace, service);
        if entries.is_empty() {
            continue;
        }
        count += 1;
        builder.add(trace, &entries);
    }
    builder.finish(count)
}

/// Where call paths of `trace` start: the service's entry spans, or the trace's roots.
fn entry_spans(trace: &Trace, service: Option<&str>) -> Vec<SpanIndex> {
    let Some(service) = service else { return trace.tree.roots().collect() };
    (0..trace.spans.len()).filter(|&i| trace.spans[i].service() == service && trace.is_service_entry(i)).collect()
}

/// Nodes keyed by (parent node, interned service+operation), so a span finds its node
/// with one hash lookup instead of comparing strings along the path. Fx hashing: the keys
/// are our own, and SipHash was a fifth of the time.
struct Builder {
    weight: Weight,
    /// service → operation → name id; looked up by `&str`, so known names cost no allocation.
    ids: FxHashMap<String, FxHashMap<String, u32>>,
    names: Vec<(Arc<str>, Arc<str>)>,
    nodes: Vec<Node>,
    child_of: FxHashMap<(u32, u32), u32>,
}

struct Node {
    parent: Option<u32>,
    name: u32,
    count: usize,
    duration_ns: u64,
    self_ns: u64,
    allocated_bytes: u64,
    /// The example span with what it weighs (duration or bytes).
    example: Option<(u64, TraceId, SpanId, u64)>,
}

impl Node {
    fn new(parent: Option<u32>, name: u32) -> Self {
        Node { parent, name, count: 0, duration_ns: 0, self_ns: 0, allocated_bytes: 0, example: None }
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            weight: Weight::default(),
            ids: FxHashMap::default(),
            names: vec![(Arc::from(""), Arc::from("all"))],
            nodes: vec![Node::new(None, 0)],
            child_of: FxHashMap::default(),
        }
    }
}

impl Builder {
    fn add(&mut self, trace: &Trace, entries: &[SpanIndex]) {
        let own = self_times(trace);
        let mut node_of: Vec<u32> = vec![u32::MAX; trace.spans.len()];
        let mut stack: Vec<(SpanIndex, u32)> = entries.iter().rev().map(|&e| (e, 0)).collect();
        while let Some((span, parent_node)) = stack.pop() {
            if node_of[span] != u32::MAX {
                continue;
            }
            let node = self.node(parent_node, trace, span);
            node_of[span] = node;
            let merged = &mut self.nodes[node as usize];
            let s = &trace.spans[span];
            merged.count += 1;
            merged.duration_ns = merged.duration_ns.saturating_add(s.duration_ns);
            merged.self_ns = merged.self_ns.saturating_add(own[span]);
            let allocated = allocated_bytes(s).unwrap_or(0);
            merged.allocated_bytes = merged.allocated_bytes.saturating_add(allocated);
            let weighs = match self.weight {
                Weight::SelfTime => s.duration_ns,
                Weight::Allocated => allocated,
            };
            if merged.example.is_none_or(|(heaviest, ..)| weighs > heaviest) {
                merged.example = Some((weighs, trace.id, s.span_id, s.duration_ns));
            }
            stack.extend(trace.tree.children(span).map(|child| (child, node)));
        }
        self.nodes[0].count += 1;
    }

    fn node(&mut self, parent: u32, trace: &Trace, span: SpanIndex) -> u32 {
        let s = &trace.spans[span];
        let known = self.ids.get(s.service()).and_then(|ops| ops.get(s.operation.as_str())).copied();
        let name = known.unwrap_or_else(|| {
            let id = self.names.len() as u32;
            self.names.push((Arc::from(s.service()), Arc::from(s.operation.as_str())));
            self.ids.entry(s.service().to_string()).or_default().insert(s.operation.to_string(), id);
            id
        });
        let next_node = self.nodes.len() as u32;
        let node = *self.child_of.entry((parent, name)).or_insert(next_node);
        if node == next_node {
            self.nodes.push(Node::new(Some(parent), name));
        }
        node
    }

    /// Totals bottom-up, then nodes reordered depth-first with the heaviest child first.
    fn finish(self, traces: usize) -> AggregateFlame {
        let total = self.totals(|n| n.self_ns);
        let total_allocated = self.totals(|n| n.allocated_bytes);
        let weight = match self.weight {
            Weight::SelfTime => &total,
            Weight::Allocated => &total_allocated,
        };
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.nodes.len()];
        for (i, node) in self.nodes.iter().enumerate().skip(1) {
            if let Some(parent) = node.parent {
                children[parent as usize].push(i);
            }
        }
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            order.push(i);
            let kids = &mut children[i];
            kids.sort_by(|&a, &b| weight[b].cmp(&weight[a]).then(self.nodes[a].name.cmp(&self.nodes[b].name)));
            stack.extend(kids.iter().rev());
        }
        let mut new_index = vec![0usize; self.nodes.len()];
        for (new, &old) in order.iter().enumerate() {
            new_index[old] = new;
        }
        let nodes = order
            .into_iter()
            .map(|old| {
                let node = &self.nodes[old];
                let (service, operation) = self.names[node.name as usize].clone();
                let example =
                    node.example.map(|(_, trace_id, span_id, duration_ns)| Example { trace_id, span_id, duration_ns });
                PathNode {
                    parent: node.parent.map(|p| new_index[p as usize]),
                    service,
                    operation,
                    count: node.count,
                    duration_ns: node.duration_ns,
                    self_ns: node.self_ns,
                    total_ns: total[old],
                    allocated_bytes: node.allocated_bytes,
                    total_allocated_bytes: total_allocated[old],
                    example,
                }
            })
            .collect();
        AggregateFlame { traces, weight: self.weight, nodes }
    }

    /// Each node's `own` amount plus everything below it.
    fn totals(&self, own: impl Fn(&Node) -> u64) -> Vec<u64> {
        let mut total: Vec<u64> = self.nodes.iter().map(own).collect();
        // Children are always created after their parent, so one backward pass sums up.
        for i in (1..self.nodes.len()).rev() {
            if let Some(parent) = self.nodes[i].parent {
                total[parent as usize] = total[parent as usize].saturating_add(total[i]);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{MS, trace};

    fn checkout(id_offset: u64, db_ms: u64) -> Trace {
        let mut t = trace(&[
            (1, 0, "web", "GET /checkout", 0, 100),
            (2, 1, "api", "PlaceOrder", 10, 80),
            (3, 2, "db", "SELECT", 20, db_ms),
            (4, 2, "db", "SELECT", 40, db_ms),
        ])
        .done();
        t.id = TraceId(id_offset as u128);
        t
    }

    #[test]
    fn merges_call_paths_across_traces_weighted_by_self_time() {
        let traces = [checkout(1, 10), checkout(2, 20)];
        let flame = aggregate(&traces, None, Weight::SelfTime);
        assert_eq!(flame.traces, 2);
        let names: Vec<String> = flame.nodes.iter().map(|n| format!("{} {}", n.service, n.operation)).collect();
        assert_eq!(names, [" all", "web GET /checkout", "api PlaceOrder", "db SELECT"]);
        let select = &flame.nodes[3];
        assert_eq!((select.count, select.self_ns, select.total_ns), (4, 60 * MS, 60 * MS));
        let api = &flame.nodes[2];
        // 80 ms each, less the selects: 60 + 40 ms of self time.
        assert_eq!((api.self_ns, api.total_ns), (100 * MS, 160 * MS));
        assert_eq!(flame.nodes[0].total_ns, 200 * MS, "the root holds both traces' time");
        assert_eq!(select.example.map(|e| e.trace_id), Some(TraceId(2)), "the longest select is the example");
        assert_eq!(select.parent, Some(2));
    }

    #[test]
    fn with_a_service_paths_start_at_its_entry_spans_and_children_are_heaviest_first() {
        let t = trace(&[
            (1, 0, "web", "GET /", 0, 100),
            (2, 1, "api", "Light", 0, 10),
            (3, 1, "api", "Heavy", 20, 70),
            (4, 3, "api", "inner", 30, 10),
        ])
        .done();
        let flame = aggregate([&t], Some("api"), Weight::SelfTime);
        let top: Vec<&str> = flame.nodes.iter().filter(|n| n.parent == Some(0)).map(|n| &*n.operation).collect();
        assert_eq!(top, ["Heavy", "Light"], "web is not part of api's profile; heavy first");
        assert_eq!(flame.nodes[0].total_ns, 80 * MS);
        assert!(aggregate([&t], Some("nobody"), Weight::SelfTime).nodes.len() == 1);
    }

    #[test]
    fn weighted_by_allocated_bytes_the_heaviest_allocator_comes_first_whatever_its_time() {
        let request = |id: u128, big: &str| {
            let mut t = trace(&[
                (1, 0, "api", "GET /report", 0, 100),
                (2, 1, "api", "render", 0, 80),
                (3, 1, "api", "load", 80, 10),
            ])
            .attr(1, "memory.allocated", "1000")
            .attr(2, "memory.allocated", "2000")
            .attr(3, "memory.allocated", big)
            .done();
            t.id = TraceId(id);
            t
        };
        let traces = [request(1, "5000000"), request(2, "7000000")];
        let by_time = aggregate(&traces, Some("api"), Weight::SelfTime);
        let by_memory = aggregate(&traces, Some("api"), Weight::Allocated);
        let order = |f: &AggregateFlame| f.nodes.iter().skip(2).map(|n| n.operation.to_string()).collect::<Vec<_>>();
        assert_eq!(order(&by_time), ["render", "load"], "render takes the time");
        assert_eq!(order(&by_memory), ["load", "render"], "load allocates the bytes");
        let load = &by_memory.nodes[2];
        assert_eq!((load.own(Weight::Allocated), load.total(Weight::Allocated)), (12_000_000, 12_000_000));
        assert_eq!(by_memory.nodes[0].total(Weight::Allocated), 12_006_000, "the root holds every byte");
        assert_eq!(load.example.map(|e| e.trace_id), Some(TraceId(2)), "the example allocated most");
        assert_eq!(by_memory.weight, Weight::Allocated);
    }
}
