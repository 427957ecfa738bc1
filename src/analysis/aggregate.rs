//! The aggregated flame graph: many traces of a service merged into one tree of call
//! paths, so it reads like a CPU profile of where the service spends its time.
//!
//! A node is a call path (service+operation at each level, from an entry span of the
//! service down). Spans on the same path in different traces, or repeated under one
//! parent, merge into one node. A node is weighted by the *self time* of its spans (a CPU
//! profile), or by the bytes they allocated (a memory profile, see [`super::memory`]), and
//! its total is its own plus its children's, so widths add up like a profiler's.

use std::sync::Arc;

use serde::Serialize;

use super::memory::allocated_bytes;
use super::parallel;
use super::self_time::uncovered;
use crate::model::{IdMap, Span, SpanId, SpanIndex, Trace, TraceId};

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
    let mut paths = Paths::<1>::new(weight, Allocations::Read);
    for trace in traces {
        paths.add(0, trace, &entry_spans(trace, service));
    }
    let [order] = paths.orders();
    let nodes = order.nodes.iter().map(|&node| paths.path_node(0, &order, node)).collect();
    AggregateFlame { traces: paths.sides[0].trace_ids.len(), weight, nodes }
}

/// Where call paths of `trace` start: the service's entry spans, or the trace's roots.
pub(super) fn entry_spans(trace: &Trace, service: Option<&str>) -> Vec<SpanIndex> {
    let Some(service) = service else { return trace.tree.roots().collect() };
    (0..trace.spans.len()).filter(|&i| trace.spans[i].service() == service && trace.is_service_entry(i)).collect()
}

/// Whether merging reads what each span allocated: the flame graph shows it, a comparison
/// does not, and it is a scan of every span's attributes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Allocations {
    Read,
    Skipped,
}

/// The call paths of the traces of `SIDES` sides merged into one tree (one side for a
/// flame graph; two for a comparison, so both traces' spans land on the same nodes and
/// matching paths costs nothing more). A node is keyed by (parent node, interned
/// service+operation): a span finds its node among a few of its parent's children, or with
/// one lookup of a pair of integers, names are kept once per distinct name, and nothing is
/// allocated per span. Nothing of a trace is kept once it is added (its examples are
/// copied), so a comparison can let the first trace go before it reads the second.
pub(super) struct Paths<const SIDES: usize> {
    weight: Weight,
    allocations: Allocations,
    names: Names,
    /// A child always comes after its parent. Node 0 is the root.
    nodes: Vec<Node>,
    /// (parent node, name) packed into one integer, to the node, for the children that are
    /// not in their parent's [`Node::group`].
    child_of: IdMap<u64, u32>,
    sides: [Side; SIDES],
}

const NONE: u32 = u32::MAX;

/// A call path in the tree.
#[derive(Clone, Copy)]
struct Node {
    /// `NONE` for the root.
    parent: u32,
    name: u32,
    /// The first children made under the node, made in a row (the children of the first
    /// span on its path, up to [`GROUP`] names): `group` nodes from `first`. A span finds
    /// its node by reading these few names next to each other, where a hash lookup was a
    /// cache miss per span; any other child is in [`Paths::child_of`].
    first: u32,
    group: u32,
    /// Whether some of the node's children are in [`Paths::child_of`].
    hashed: bool,
}

/// The most children a node's group holds: enough for the distinct names under most
/// spans, and few enough that reading them all costs less than a hash lookup (a node with
/// thousands of children still finds each with one lookup).
const GROUP: u32 = 8;

/// What one side's spans add up to on every node.
struct Side {
    /// Traces with at least one entry span, in the order they were added (examples name
    /// theirs by position here).
    trace_ids: Vec<TraceId>,
    merged: Vec<Merged>,
    /// Per node, what its spans allocated; empty when merging skips allocations.
    allocated: Vec<Allocated>,
    /// Per name, when this side first met it: siblings that weigh the same are ordered by
    /// it (a stable order that does not depend on the other side).
    rank: Vec<u32>,
    /// Names met so far.
    ranked: u32,
}

/// The spans of one side merged into one node: 40 bytes (a node per span on big traces of
/// distinct paths, so its size is most of the memory merging touches; what the spans
/// allocated is kept apart, in [`Allocated`], as a comparison does not read it).
#[derive(Clone, Copy)]
struct Merged {
    /// Saturates at `u32::MAX` spans on one path, far past any store this merges from.
    count: u32,
    /// The example span's trace, as its position in [`Side::trace_ids`] (`NONE` while
    /// the node has no example), and its id and duration.
    trace: u32,
    span_id: SpanId,
    example_ns: u64,
    duration_ns: u64,
    self_ns: u64,
}

impl Merged {
    const EMPTY: Merged =
        Merged { count: 0, trace: NONE, span_id: SpanId(0), example_ns: 0, duration_ns: 0, self_ns: 0 };
}

/// What one side's spans on a node allocated, and what its example span did (the example
/// is the one that allocated most under [`Weight::Allocated`]).
#[derive(Clone, Copy)]
struct Allocated {
    bytes: u64,
    example_bytes: u64,
}

impl Allocated {
    const EMPTY: Allocated = Allocated { bytes: 0, example_bytes: 0 };
}

/// What merging needs of one span, gathered in one pass over the spans in their order
/// (the walk down the tree then jumps between these small rows, not between whole spans:
/// the example's span id read from its span in tree order was a cache miss per span).
#[derive(Clone, Copy)]
struct Row {
    name: u32,
    span_id: SpanId,
    duration_ns: u64,
    self_ns: u64,
    allocated_bytes: u64,
}

/// Every span's [`Row`] but its name, and the trace's duration: the spans are read once
/// (each pass over big spans is a cache miss per span), their start and end kept aside
/// for their parents' self time.
fn timed_rows(trace: &Trace, allocations: Allocations) -> (Vec<Row>, u64) {
    let mut rows = Vec::with_capacity(trace.spans.len());
    let mut bounds = Vec::with_capacity(trace.spans.len());
    let (mut start_ns, mut end_ns) = (None::<u64>, 0);
    for span in &trace.spans {
        let end = span.end_ns();
        bounds.push((span.start_ns, end));
        if span.start_ns > 0 {
            start_ns = Some(start_ns.map_or(span.start_ns, |start| start.min(span.start_ns)));
        }
        end_ns = end_ns.max(end);
        rows.push(Row {
            name: 0,
            span_id: span.span_id,
            duration_ns: span.duration_ns,
            self_ns: 0,
            allocated_bytes: match allocations {
                Allocations::Read => allocated_bytes(span).unwrap_or(0),
                Allocations::Skipped => 0,
            },
        });
    }
    for (span, row) in rows.iter_mut().enumerate() {
        row.self_ns = uncovered(&trace.tree, span, row.duration_ns, |child| bounds[child]);
    }
    (rows, end_ns.saturating_sub(start_ns.unwrap_or(0)))
}

/// service → operation → name id, and the names by id; looked up by `&str`, so known
/// names cost no allocation. Names are untrusted, hence the keyed hash of [`IdMap`].
struct Names {
    /// Service → its number.
    services: IdMap<Box<str>, u32>,
    /// Per service number: its name, and operation → name id.
    operations: Vec<(Arc<str>, Operations)>,
    names: Vec<(Arc<str>, Arc<str>)>,
    /// The last resource seen in the trace being added and its service's number: a
    /// trace's spans share a handful of resources, so most spans skip hashing their
    /// service's name. Forgotten after each trace, whose resources may be freed and their
    /// addresses reused. (An address, not a pointer, so that names are made on a thread of
    /// their own: see [`Paths::rows`].)
    last: Option<(usize, u32)>,
}

/// A service's operations → name id.
type Operations = IdMap<Box<str>, u32>;

impl Names {
    /// The name id of each span of `trace`, in the spans' order.
    fn ids(&mut self, trace: &Trace) -> Vec<u32> {
        self.last = None;
        trace.spans.iter().map(|span| self.id(span)).collect()
    }

    fn id(&mut self, span: &Span) -> u32 {
        let resource = Arc::as_ptr(&span.resource) as usize;
        let service = match self.last {
            Some((last, service)) if last == resource => service,
            _ => {
                let service = self.service(span.service());
                self.last = Some((resource, service));
                service
            }
        };
        let (service, operations) = &mut self.operations[service as usize];
        if let Some(&id) = operations.get(span.operation.as_str()) {
            return id;
        }
        let id = self.names.len() as u32;
        operations.insert(span.operation.as_str().into(), id);
        self.names.push((Arc::clone(service), Arc::from(span.operation.as_str())));
        id
    }

    /// The number of `service`, given on first sight.
    fn service(&mut self, service: &str) -> u32 {
        if let Some(&number) = self.services.get(service) {
            return number;
        }
        let number = self.operations.len() as u32;
        self.services.insert(service.into(), number);
        self.operations.push((Arc::from(service), IdMap::default()));
        number
    }
}

/// One side's nodes in drawing order (depth-first, heaviest child first) with their
/// totals, indexed by node.
pub(super) struct Order {
    pub nodes: Vec<u32>,
    /// Where each node stands in `nodes` (`NONE` when absent from the side).
    position: Vec<u32>,
    total_ns: Vec<u64>,
    total_allocated_bytes: Vec<u64>,
}

impl Order {
    /// Where `node` stands in the side's drawing order, if the side has it.
    pub fn position(&self, node: u32) -> Option<usize> {
        let at = self.position[node as usize];
        (at != NONE).then_some(at as usize)
    }
}

impl<const SIDES: usize> Paths<SIDES> {
    pub fn new(weight: Weight, allocations: Allocations) -> Self {
        // The root's name is not looked up: no span is named after it.
        let names = Names {
            services: IdMap::default(),
            operations: Vec::new(),
            names: vec![(Arc::from(""), Arc::from("all"))],
            last: None,
        };
        assert!(
            matches!((weight, allocations), (Weight::SelfTime, _) | (_, Allocations::Read)),
            "weighing by allocations needs them read"
        );
        let sides = std::array::from_fn(|_| Side {
            merged: vec![Merged::EMPTY],
            allocated: match allocations {
                Allocations::Read => vec![Allocated::EMPTY],
                Allocations::Skipped => Vec::new(),
            },
            rank: vec![0],
            ranked: 1,
            trace_ids: Vec::new(),
        });
        let nodes = vec![Node { parent: NONE, name: 0, first: 0, group: 0, hashed: false }];
        Paths { weight, allocations, names, nodes, child_of: IdMap::default(), sides }
    }

    /// Merges the call paths from `entries` of `trace` into `side` and gives the trace's
    /// duration (as [`Trace::duration_ns`], read in the same pass over the spans); a trace
    /// without entries is not counted (and not read: `None`).
    pub fn add(&mut self, side: usize, trace: &Trace, entries: &[SpanIndex]) -> Option<u64> {
        if entries.is_empty() {
            return None;
        }
        // A span makes at most one node: sized once, nothing grows (and is copied) while
        // merging.
        self.reserve(trace.spans.len());
        let trace_at = self.sides[side].trace_ids.len() as u32;
        let (rows, duration_ns) = self.rows(trace);
        let mut seen = vec![false; trace.spans.len()];
        let mut stack: Vec<(SpanIndex, u32)> = Vec::new();
        // Each entry's tree depth-first; a span's children find their nodes when it is
        // merged, under its node, so that they are looked up side by side.
        for &entry in entries {
            if !seen[entry] {
                stack.push((entry, self.child(0, rows[entry].name)));
            }
            while let Some((span, node)) = stack.pop() {
                if !std::mem::replace(&mut seen[span], true) {
                    self.merge(side, trace_at, rows[span], node);
                    for child in trace.tree.children(span).filter(|&child| !seen[child]) {
                        stack.push((child, self.child(node, rows[child].name)));
                    }
                }
            }
        }
        let here = &mut self.sides[side];
        here.trace_ids.push(trace.id);
        here.merged[0].count = here.merged[0].count.saturating_add(1);
        Some(duration_ns)
    }

    /// Merges the span of `row` into `node` on `side`, its trace being `trace_at` there.
    fn merge(&mut self, side: usize, trace_at: u32, row: Row, node: u32) {
        let name = row.name;
        let here = &mut self.sides[side];
        if here.rank.len() <= name as usize {
            here.rank.resize(name as usize + 1, NONE);
        }
        if here.rank[name as usize] == NONE {
            here.rank[name as usize] = here.ranked;
            here.ranked += 1;
        }
        let node = node as usize;
        // What the span weighs, and what the node's example does.
        let (weighs, example_weighs) = match self.weight {
            Weight::SelfTime => (row.duration_ns, here.merged[node].example_ns),
            Weight::Allocated => (row.allocated_bytes, here.allocated[node].example_bytes),
        };
        let merged = &mut here.merged[node];
        merged.count = merged.count.saturating_add(1);
        merged.duration_ns = merged.duration_ns.saturating_add(row.duration_ns);
        merged.self_ns = merged.self_ns.saturating_add(row.self_ns);
        let example = merged.trace == NONE || weighs > example_weighs;
        if example {
            merged.span_id = row.span_id;
            merged.example_ns = row.duration_ns;
            merged.trace = trace_at;
        }
        if self.allocations == Allocations::Read {
            let allocated = &mut here.allocated[node];
            allocated.bytes = allocated.bytes.saturating_add(row.allocated_bytes);
            if example {
                allocated.example_bytes = row.allocated_bytes;
            }
        }
    }

    /// Room for `spans` more nodes. A caller that knows more traces are coming can make
    /// room for them at once: growing after a big trace copies all of it. (The few
    /// children outside their parent's group grow [`Paths::child_of`] as they come.)
    pub fn reserve(&mut self, spans: usize) {
        self.nodes.reserve(spans);
        for side in &mut self.sides {
            side.merged.reserve(spans);
            if self.allocations == Allocations::Read {
                side.allocated.reserve(spans);
            }
        }
    }

    /// Every span's [`Row`], in the spans' order, and the trace's duration. Naming the
    /// spans (interning service and operation) and timing them are two independent
    /// passes over the spans: on a big trace they run at once, one per core.
    fn rows(&mut self, trace: &Trace) -> (Vec<Row>, u64) {
        let (names, allocations) = (&mut self.names, self.allocations);
        let (ids, (mut rows, duration_ns)) =
            parallel::both(trace.spans.len(), || names.ids(trace), || timed_rows(trace, allocations));
        for (row, name) in rows.iter_mut().zip(ids) {
            row.name = name;
        }
        (rows, duration_ns)
    }

    /// The node for `name` under `parent`, made on first use: into the parent's group
    /// while the group is still being made and has room, else into [`Paths::child_of`].
    fn child(&mut self, parent: u32, name: u32) -> u32 {
        let Node { first, group, hashed, .. } = self.nodes[parent as usize];
        if let Some(node) = (first..first + group).find(|&node| self.nodes[node as usize].name == name) {
            return node;
        }
        let next = self.nodes.len() as u32;
        // The group is still being made when the last node made is its last.
        let grows = group == 0 || (group < GROUP && first + group == next);
        let node = if hashed || !grows {
            let node = *self.child_of.entry(u64::from(parent) << 32 | u64::from(name)).or_insert(next);
            self.nodes[parent as usize].hashed = true;
            node
        } else {
            let at = &mut self.nodes[parent as usize];
            if group == 0 {
                at.first = next;
            }
            at.group += 1;
            next
        };
        if node == next {
            self.nodes.push(Node { parent, name, first: 0, group: 0, hashed: false });
            for side in &mut self.sides {
                side.merged.push(Merged::EMPTY);
                if self.allocations == Allocations::Read {
                    side.allocated.push(Allocated::EMPTY);
                }
            }
        }
        node
    }

    /// Every side's nodes depth-first, each node's children heaviest by the weight first,
    /// with the totals of every node (its own amount and everything below it). The sides
    /// share the tree, so its children lists are gathered once for all of them.
    pub fn orders(&self) -> [Order; SIDES] {
        // Children as compressed rows, in the order they were made.
        let mut offsets = vec![0u32; self.nodes.len() + 1];
        for &Node { parent, .. } in &self.nodes[1..] {
            offsets[parent as usize + 1] += 1;
        }
        for i in 0..self.nodes.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut children = vec![0u32; self.nodes.len().saturating_sub(1)];
        for (node, &Node { parent, .. }) in self.nodes.iter().enumerate().skip(1) {
            children[fill[parent as usize] as usize] = node as u32;
            fill[parent as usize] += 1;
        }
        let order = |side| self.order(side, &offsets, &children);
        // A comparison's two sides are ordered apart: on big traces, one per core.
        let mut ordered: [Option<Order>; SIDES] = std::array::from_fn(|_| None);
        if let [first, second] = &mut ordered[..] {
            (*first, *second) = parallel::both(self.nodes.len(), || Some(order(0)), || Some(order(1)));
        }
        std::array::from_fn(|side| ordered[side].take().unwrap_or_else(|| order(side)))
    }

    /// `side`'s nodes in drawing order; a node's children are
    /// `children[offsets[node]..offsets[node + 1]]`.
    fn order(&self, side: usize, offsets: &[u32], children: &[u32]) -> Order {
        let here = &self.sides[side];
        // Which nodes the side has, read in the same pass as their self time: the walk
        // below then reads a byte per child, where reading its merged node was a
        // cache miss.
        let (own_ns, present): (Vec<u64>, Vec<bool>) = here.merged.iter().map(|m| (m.self_ns, m.count > 0)).unzip();
        let total_ns = self.totals(own_ns);
        // Zeroes when no allocation was read: a zeroed allocation, not a pass over the nodes.
        let total_allocated_bytes = match self.allocations {
            Allocations::Read => self.totals(here.allocated.iter().map(|a| a.bytes).collect()),
            Allocations::Skipped => vec![0; self.nodes.len()],
        };
        let weight = match self.weight {
            Weight::SelfTime => &total_ns,
            Weight::Allocated => &total_allocated_bytes,
        };
        let rank = |node: u32| here.rank[self.nodes[node as usize].name as usize];
        let mut nodes = Vec::with_capacity(self.nodes.len());
        let mut position = vec![NONE; self.nodes.len()];
        let mut kids = Vec::new();
        let mut stack = vec![0u32];
        while let Some(node) = stack.pop() {
            position[node as usize] = nodes.len() as u32;
            nodes.push(node);
            let range = offsets[node as usize] as usize..offsets[node as usize + 1] as usize;
            kids.clear();
            kids.extend(children[range].iter().copied().filter(|&c| present[c as usize]));
            kids.sort_unstable_by(|&a, &b| weight[b as usize].cmp(&weight[a as usize]).then(rank(a).cmp(&rank(b))));
            stack.extend(kids.iter().rev());
        }
        Order { nodes, position, total_ns, total_allocated_bytes }
    }

    /// Each node's own amount (`own`, indexed by node) plus everything below it.
    fn totals(&self, own: Vec<u64>) -> Vec<u64> {
        let mut total = own;
        // Children are always made after their parent, so one backward pass sums up.
        for node in (1..self.nodes.len()).rev() {
            let parent = self.nodes[node].parent as usize;
            total[parent] = total[parent].saturating_add(total[node]);
        }
        total
    }

    /// `node` as `side` sees it, its parent given as a position in `order`.
    pub fn path_node(&self, side: usize, order: &Order, node: u32) -> PathNode {
        let (service, operation) = self.name(node).clone();
        let here = &self.sides[side];
        let merged = &here.merged[node as usize];
        PathNode {
            parent: self.parent(order, node).map(|p| p as usize),
            service,
            operation,
            count: merged.count as usize,
            duration_ns: merged.duration_ns,
            self_ns: merged.self_ns,
            total_ns: order.total_ns[node as usize],
            allocated_bytes: here.allocated.get(node as usize).map_or(0, |a| a.bytes),
            total_allocated_bytes: order.total_allocated_bytes[node as usize],
            example: self.example(side, node),
        }
    }

    /// The position in `order` of `node`'s parent; `None` for the root.
    pub fn parent(&self, order: &Order, node: u32) -> Option<u32> {
        let parent = self.nodes[node as usize].parent;
        (parent != NONE).then(|| order.position[parent as usize])
    }

    /// The service and operation of `node`.
    pub fn name(&self, node: u32) -> &(Arc<str>, Arc<str>) {
        &self.names.names[self.nodes[node as usize].name as usize]
    }

    /// The spans of `side` on `node`: how many, their durations and self time added up, and
    /// self time of the node and everything below it (`order` is the side's).
    pub fn stats(&self, side: usize, order: &Order, node: u32) -> (usize, u64, u64, u64) {
        let merged = &self.sides[side].merged[node as usize];
        (merged.count as usize, merged.duration_ns, merged.self_ns, order.total_ns[node as usize])
    }

    /// The heaviest span of `side` on `node`.
    pub fn example(&self, side: usize, node: u32) -> Option<Example> {
        let here = &self.sides[side];
        let merged = &here.merged[node as usize];
        (merged.trace != NONE).then(|| Example {
            trace_id: here.trace_ids[merged.trace as usize],
            span_id: merged.span_id,
            duration_ns: merged.example_ns,
        })
    }

    /// Whether `side` has spans on `node` (the root belongs to every side).
    pub fn has(&self, side: usize, node: u32) -> bool {
        node == 0 || self.sides[side].merged[node as usize].count > 0
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
    fn children_beyond_a_group_and_from_later_spans_merge_by_name() {
        // 30 calls under one span, on 12 names (more than a group holds), then a second
        // span on the same path whose children bring back old names and a new one.
        let ops: Vec<String> = (0..30).map(|i| format!("op{}", i % 12)).collect();
        let mut spans = vec![(1, 0, "web", "GET /", 0, 200), (2, 1, "api", "Work", 0, 90)];
        spans.extend(ops.iter().enumerate().map(|(i, op)| (10 + i as u64, 2, "api", op.as_str(), i as u64, 1)));
        spans.push((3, 1, "api", "Work", 100, 90));
        spans.extend([(50, 3, "api", "op0", 100, 1), (51, 3, "api", "op11", 101, 1), (52, 3, "api", "late", 102, 1)]);
        let flame = aggregate([&trace(&spans).done()], None, Weight::SelfTime);
        let count = |op: &str| flame.nodes.iter().filter(|n| &*n.operation == op).map(|n| n.count).collect::<Vec<_>>();
        assert_eq!(flame.nodes.len(), 3 + 12 + 1, "root, GET /, Work, op0..op11 and late, once each");
        assert_eq!(
            (count("Work"), count("op0"), count("op11"), count("op5"), count("late")),
            (vec![2], vec![4], vec![3], vec![3], vec![1])
        );
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
