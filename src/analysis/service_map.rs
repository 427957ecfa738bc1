//! The service dependency map: which service calls which, how much, how healthy each is,
//! and which one holds the request up the most.
//!
//! Built from traces (a span calling into another service is one call; a client span
//! naming a `peer.service`/`service.peer.name`, or a database span, calls a *virtual*
//! node for the uninstrumented dependency; a message goes from its producer to a queue
//! node, `kafka orders`, and from there to each consumer) or from a backend's dependency list (calls,
//! and their errors where it counts them), into a petgraph graph. Cycles are kept as they
//! are: the drawing shows each once.

use std::collections::{BTreeMap, HashMap};

use petgraph::Direction;
use petgraph::algo::{condensation, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use super::calls::text;
use super::dependencies::ServiceCall;
use super::self_times;
use super::stats::percentile;
use super::transaction::Queue;
use crate::model::{SpanKind, Trace};

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    /// Error rates (0–1) from which a service is degraded, or critical.
    pub degraded_error_rate: f64,
    pub critical_error_rate: f64,
    /// P95 latencies from which a service is degraded, or critical.
    pub degraded_p95_ns: u64,
    pub critical_p95_ns: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            degraded_error_rate: 0.01,
            critical_error_rate: 0.05,
            degraded_p95_ns: 500_000_000,
            critical_p95_ns: 2_000_000_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Degraded,
    Critical,
    /// Known only from calls to it (a dependency list, a virtual node).
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceNode {
    pub name: String,
    /// `database` or `peer` for an uninstrumented dependency seen only from its callers;
    /// `queue` for a messaging destination between producers and consumers.
    pub virtual_kind: Option<&'static str>,
    /// Requests it served (its entry spans); 0 when known only from calls.
    pub requests: usize,
    pub errors: usize,
    pub p95_ns: u64,
    /// Its spans' self time added up: what it spent itself.
    pub self_ns: u64,
    pub health: Health,
    /// Its requests by operation, the most frequent first.
    pub operations: Vec<OperationStats>,
}

/// The requests a service served for one operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OperationStats {
    pub name: String,
    pub requests: usize,
    pub errors: usize,
    pub p50_ns: u64,
    pub p95_ns: u64,
    pub p99_ns: u64,
}

/// A call between two services, by their index in the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceEdge {
    pub from: usize,
    pub to: usize,
    pub calls: u64,
    /// Calls that failed: the callee's span failed (or, to an uninstrumented dependency,
    /// the client's), or as the backend's dependency list counts them.
    #[serde(skip_serializing_if = "is_zero")]
    pub errors: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The calls along an edge of the map, and how many of them failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Calls {
    pub calls: u64,
    pub errors: u64,
}

impl std::ops::AddAssign for Calls {
    fn add_assign(&mut self, other: Calls) {
        // Saturates: counts from a backend's dependency list are untrusted.
        self.calls = self.calls.saturating_add(other.calls);
        self.errors = self.errors.saturating_add(other.errors);
    }
}

/// Where a map's numbers come from, so that a sample is never shown as the whole.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Basis {
    /// The traces the map was built from.
    pub traces: usize,
    /// When those are a sample: the search limit that some service's traces reached.
    pub per_service_limit: Option<usize>,
    /// Whether calls were counted by the backend (its dependency list), not from the traces.
    pub calls_from_backend: bool,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ServiceMap {
    /// Sorted by name; service `i` is node `i` of `calls`.
    pub services: Vec<ServiceNode>,
    /// Who calls whom, each edge weighted by its number of calls.
    #[serde(rename = "edges", serialize_with = "edges_in_order")]
    pub calls: DiGraph<(), Calls>,
    /// The service that spent the most time itself.
    pub bottleneck: Option<usize>,
    /// How long the calls were counted over, for call rates: the span of the traces, or
    /// the lookback of a backend's dependency list (0 when unknown).
    pub window_ns: u64,
    pub basis: Basis,
}

/// The edges as `[{from, to, calls}]`, sorted by caller then callee.
fn edges_in_order<S: serde::Serializer>(calls: &DiGraph<(), Calls>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(edges(calls))
}

fn edges(calls: &DiGraph<(), Calls>) -> Vec<ServiceEdge> {
    let mut edges: Vec<ServiceEdge> = calls
        .edge_references()
        .map(|e| {
            let Calls { calls, errors } = *e.weight();
            ServiceEdge { from: e.source().index(), to: e.target().index(), calls, errors }
        })
        .collect();
    edges.sort_by_key(|e| (e.from, e.to));
    edges
}

impl ServiceMap {
    pub fn index(&self, name: &str) -> Option<usize> {
        self.services.binary_search_by(|s| s.name.as_str().cmp(name)).ok()
    }

    /// Every call between services, sorted by caller, then callee.
    pub fn edges(&self) -> Vec<ServiceEdge> {
        edges(&self.calls)
    }

    /// The edge from one service to another, if it calls it.
    pub fn edge(&self, from: usize, to: usize) -> Option<ServiceEdge> {
        let found = self.calls.find_edge(NodeIndex::new(from), NodeIndex::new(to))?;
        let Calls { calls, errors } = self.calls[found];
        Some(ServiceEdge { from, to, calls, errors })
    }

    /// Callees of each service, by index, in name order.
    pub fn callees(&self) -> Vec<Vec<usize>> {
        self.neighbours(Direction::Outgoing)
    }

    /// Callers of each service, by index, in name order.
    pub fn callers(&self) -> Vec<Vec<usize>> {
        self.neighbours(Direction::Incoming)
    }

    fn neighbours(&self, direction: Direction) -> Vec<Vec<usize>> {
        self.calls
            .node_indices()
            .map(|n| {
                let mut next: Vec<usize> = self.calls.neighbors_directed(n, direction).map(|m| m.index()).collect();
                next.sort_unstable();
                next
            })
            .collect()
    }

    /// Calls per minute along an edge, when the map came from traces.
    pub fn rate_per_minute(&self, edge: ServiceEdge) -> Option<f64> {
        (self.window_ns > 0).then(|| edge.calls as f64 * 60e9 / self.window_ns as f64)
    }

    /// From a backend's dependency list (Jaeger's `/api/dependencies`, Zipkin's
    /// `/api/v2/dependencies`).
    pub fn from_dependencies(calls: &[ServiceCall]) -> ServiceMap {
        MapBuilder::default().finish(calls, &Thresholds::default())
    }

    /// From traces: calls, virtual dependencies, and each service's health.
    pub fn from_traces<'t>(traces: impl IntoIterator<Item = &'t Trace>, thresholds: &Thresholds) -> ServiceMap {
        ServiceMap::from_traces_and_dependencies(traces, &[], thresholds)
    }

    /// From traces, with the calls of a backend's dependency list (see [`MapBuilder::finish`]).
    pub fn from_traces_and_dependencies<'t>(
        traces: impl IntoIterator<Item = &'t Trace>,
        dependencies: &[ServiceCall],
        thresholds: &Thresholds,
    ) -> ServiceMap {
        let mut builder = MapBuilder::default();
        for trace in traces {
            builder.add(trace);
        }
        builder.finish(dependencies, thresholds)
    }
}

/// The uninstrumented dependency a span calls, if it names one.
fn virtual_callee(span: &crate::model::Span) -> Option<(String, &'static str)> {
    if let Some(system) = text(span, &["db.system.name", "db.system"]) {
        return Some((system.to_string(), "database"));
    }
    let client = matches!(span.kind, crate::model::SpanKind::Client | crate::model::SpanKind::Producer);
    text(span, &["service.peer.name", "peer.service"]).filter(|_| client).map(|peer| (peer.to_string(), "peer"))
}

#[derive(Default)]
struct Stats {
    /// Durations and errors of its requests, by operation.
    operations: HashMap<String, (Vec<u64>, usize)>,
    self_ns: u64,
}

/// A map built one trace at a time, so that every trace of a large store can count
/// without all of them in memory at once.
#[derive(Default)]
pub struct MapBuilder {
    names: BTreeMap<String, Option<&'static str>>,
    calls: HashMap<(String, String), Calls>,
    stats: HashMap<String, Stats>,
    traces: usize,
    first_ns: u64,
    last_ns: u64,
}

impl MapBuilder {
    pub fn add(&mut self, trace: &Trace) {
        self.first_ns = if self.traces == 0 { trace.start_ns() } else { self.first_ns.min(trace.start_ns()) };
        self.last_ns = self.last_ns.max(trace.end_ns());
        self.traces += 1;
        let own = self_times(trace);
        for (i, span) in trace.spans.iter().enumerate() {
            let service = span.service();
            self.service(service);
            let entry = self.stats.entry(service.to_string()).or_default();
            entry.self_ns = entry.self_ns.saturating_add(own[i]);
            let parent = trace.tree.parent(i).map(|p| trace.spans[p].service());
            if trace.is_service_entry(i) {
                let (durations, errors) = entry.operations.entry(span.operation.to_string()).or_default();
                durations.push(span.duration_ns);
                *errors += usize::from(span.is_error());
            }
            let one = Calls { calls: 1, errors: u64::from(span.is_error()) };
            // A message goes producer → queue → consumer, whether the consumer's span is
            // a child of the producer's (propagated context) or only links to it.
            let queue = Queue::of(span).filter(|_| matches!(span.kind, SpanKind::Producer | SpanKind::Consumer));
            if let Some(queue) = &queue {
                match span.kind {
                    SpanKind::Producer => self.call(service, &queue.label(), Some("queue"), one),
                    _ if trace.is_service_entry(i) => self.call(&queue.label(), service, Some("queue"), one),
                    _ => {}
                }
            }
            if let Some(parent) = parent.filter(|p| *p != service)
                && !(queue.is_some() && span.kind == SpanKind::Consumer)
            {
                self.call(parent, service, None, one);
            }
            // A span that is itself the entry into another service (a database
            // instrumented as its own service) is not a call out of it.
            let inside = parent.is_none_or(|p| p == service);
            let calls_out = trace.tree.children(i).any(|c| trace.spans[c].service() != service);
            if inside
                && !calls_out
                && queue.is_none()
                && let Some((name, kind)) = virtual_callee(span).filter(|(name, _)| name != service)
            {
                self.call(service, &name, Some(kind), one);
            }
        }
    }

    /// A service seen with spans of its own: not virtual, whatever called it before.
    fn service(&mut self, name: &str) {
        match self.names.get_mut(name) {
            Some(kind) => *kind = None,
            None => {
                self.names.insert(name.to_string(), None);
            }
        }
    }

    fn call(&mut self, from: &str, to: &str, virtual_kind: Option<&'static str>, count: Calls) {
        if !self.names.contains_key(from) {
            self.names.insert(from.to_string(), None);
        }
        if !self.names.contains_key(to) {
            self.names.insert(to.to_string(), virtual_kind);
        }
        let calls = self.calls.entry((from.to_string(), to.to_string())).or_default();
        *calls += count;
    }

    /// The map. A backend's dependency list counts every call it saw, not just those of
    /// the traces at hand: its counts (of calls and errors) replace those of the traces,
    /// and its calls join them.
    pub fn finish(mut self, dependencies: &[ServiceCall], thresholds: &Thresholds) -> ServiceMap {
        for call in dependencies {
            self.calls.remove(&(call.parent.clone(), call.child.clone()));
            let counted = Calls { calls: call.call_count, errors: call.error_count };
            self.call(&call.parent, &call.child, None, counted);
        }
        let index: HashMap<&str, usize> = self.names.keys().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let mut calls = DiGraph::with_capacity(self.names.len(), self.calls.len());
        for _ in 0..self.names.len() {
            calls.add_node(());
        }
        let mut edges: Vec<(usize, usize, Calls)> =
            self.calls.iter().map(|((from, to), n)| (index[from.as_str()], index[to.as_str()], *n)).collect();
        edges.sort_unstable();
        for (from, to, n) in edges {
            calls.add_edge(NodeIndex::new(from), NodeIndex::new(to), n);
        }
        let services: Vec<ServiceNode> = self
            .names
            .iter()
            .map(|(name, virtual_kind)| node(name, *virtual_kind, self.stats.remove(name), thresholds))
            .collect();
        let bottleneck =
            services.iter().enumerate().filter(|(_, s)| s.self_ns > 0).max_by_key(|(_, s)| s.self_ns).map(|(i, _)| i);
        ServiceMap {
            services,
            calls,
            bottleneck,
            window_ns: self.last_ns.saturating_sub(self.first_ns),
            basis: Basis { traces: self.traces, per_service_limit: None, calls_from_backend: !dependencies.is_empty() },
        }
    }
}

fn node(name: &str, virtual_kind: Option<&'static str>, stats: Option<Stats>, thresholds: &Thresholds) -> ServiceNode {
    let Stats { operations: by_operation, self_ns } = stats.unwrap_or_default();
    let mut all = Vec::new();
    let mut errors = 0;
    let mut operations: Vec<OperationStats> = by_operation
        .into_iter()
        .map(|(name, (mut durations, op_errors))| {
            durations.sort_unstable();
            all.extend_from_slice(&durations);
            errors += op_errors;
            OperationStats {
                name,
                requests: durations.len(),
                errors: op_errors,
                p50_ns: percentile(&durations, 50.0),
                p95_ns: percentile(&durations, 95.0),
                p99_ns: percentile(&durations, 99.0),
            }
        })
        .collect();
    operations.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.name.cmp(&b.name)));
    all.sort_unstable();
    let requests = all.len();
    let p95_ns = percentile(&all, 95.0);
    let error_rate = if requests == 0 { 0.0 } else { errors as f64 / requests as f64 };
    let health = if requests == 0 {
        Health::Unknown
    } else if error_rate >= thresholds.critical_error_rate || p95_ns >= thresholds.critical_p95_ns {
        Health::Critical
    } else if error_rate >= thresholds.degraded_error_rate || p95_ns >= thresholds.degraded_p95_ns {
        Health::Degraded
    } else {
        Health::Healthy
    };
    ServiceNode { name: name.to_string(), virtual_kind, requests, errors, p95_ns, self_ns, health, operations }
}

/// A migration order: services whose callees are all done come first (leaves first);
/// services in a cycle come together, as one step, and the cycles are returned. Steps as
/// far from the leaves come in name order.
pub fn migration_order(map: &ServiceMap) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    // Each cycle becomes one node of an acyclic graph of steps.
    let steps = condensation(map.calls.map(|n, _| n.index(), |_, calls| *calls), true);
    // Callers come before their callees in topological order: backwards, each step's
    // distance from the leaves is known once its callees' are.
    let order = toposort(&steps, None).unwrap_or_else(|_| steps.node_indices().collect());
    let mut height = vec![0usize; steps.node_count()];
    for &step in order.iter().rev() {
        height[step.index()] = steps.neighbors(step).map(|callee| height[callee.index()] + 1).max().unwrap_or(0);
    }
    let mut ordered: Vec<(usize, Vec<usize>)> = steps
        .node_indices()
        .map(|step| {
            let mut services = steps[step].clone();
            services.sort_unstable();
            (height[step.index()], services)
        })
        .collect();
    ordered.sort();
    let steps: Vec<Vec<usize>> = ordered.into_iter().map(|(_, services)| services).collect();
    let cycles = steps.iter().filter(|c| c.len() > 1).cloned().collect();
    (steps, cycles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{MS, trace};
    use crate::model::SpanKind;

    fn call(parent: &str, child: &str, count: u64) -> ServiceCall {
        ServiceCall { parent: parent.into(), child: child.into(), call_count: count, error_count: 0 }
    }

    #[test]
    fn a_message_goes_from_its_producer_to_the_queue_and_from_there_to_its_consumer() {
        // The consumer's span a child of the producer's (propagated context) in one trace,
        // and a consumer of the old attribute names in a trace of its own (a link).
        let propagated = trace(&[
            (1, 0, "shop", "POST /orders", 0, 100),
            (2, 1, "shop", "orders publish", 5, 10),
            (3, 2, "billing", "orders process", 50, 20),
        ])
        .kind(2, SpanKind::Producer)
        .attr(2, "messaging.system", "kafka")
        .attr(2, "messaging.destination.name", "orders")
        .kind(3, SpanKind::Consumer)
        .attr(3, "messaging.system", "kafka")
        .attr(3, "messaging.destination.name", "orders")
        .done();
        let linked = trace(&[(1, 0, "ledger", "orders batch", 0, 10)])
            .kind(1, SpanKind::Consumer)
            .attr(1, "messaging.destination", "orders")
            .attr(1, "messaging.kafka.consumer.group", "ledger")
            .done();
        let map = ServiceMap::from_traces([&propagated, &linked], &Thresholds::default());
        let names: Vec<&str> = map.services.iter().map(|s| s.name.as_str()).collect();
        let edges: Vec<(&str, &str, u64)> = map.edges().iter().map(|e| (names[e.from], names[e.to], e.calls)).collect();
        assert_eq!(edges, [("kafka orders", "billing", 1), ("kafka orders", "ledger", 1), ("shop", "kafka orders", 1)]);
        assert_eq!(map.services[map.index("kafka orders").unwrap()].virtual_kind, Some("queue"));
    }

    #[test]
    fn traces_give_calls_virtual_dependencies_health_and_the_bottleneck() {
        let t = trace(&[
            (1, 0, "web", "GET /", 0, 100),
            (2, 1, "web", "call api", 5, 80),
            (3, 2, "api", "Get", 10, 70),
            (4, 3, "api", "SELECT", 20, 40),
            (5, 1, "web", "GET stripe", 86, 10),
        ])
        .attr(4, "db.system", "postgresql")
        .kind(5, SpanKind::Client)
        .attr(5, "peer.service", "stripe")
        .error(3, "boom")
        .done();
        let map = ServiceMap::from_traces([&t], &Thresholds::default());
        let names: Vec<&str> = map.services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["api", "postgresql", "stripe", "web"]);
        let edges: Vec<(&str, &str)> = map.edges().iter().map(|e| (names[e.from], names[e.to])).collect();
        assert_eq!(edges, [("api", "postgresql"), ("web", "api"), ("web", "stripe")]);
        let node = |n: &str| &map.services[map.index(n).unwrap()];
        assert_eq!(node("postgresql").virtual_kind, Some("database"));
        assert_eq!((node("api").requests, node("api").errors, node("api").health), (1, 1, Health::Critical));
        assert_eq!(node("web").health, Health::Healthy);
        assert_eq!(map.bottleneck, map.index("api"), "api spends 30 ms itself plus its query's 40 ms in api");
        let failed: Vec<u64> = map.edges().iter().map(|e| e.errors).collect();
        assert_eq!(failed, [0, 1, 0], "web's call to api failed");
    }

    #[test]
    fn each_service_counts_its_requests_by_operation() {
        let request =
            |operation: &str, ms: u64| trace(&[(1, 0, "web", "GET /", 0, 100), (2, 1, "api", operation, 5, ms)]).done();
        let traces = [request("Get", 10), request("Get", 30), request("List", 20), request("Get", 20)];
        let map = ServiceMap::from_traces(&traces, &Thresholds::default());
        let api = &map.services[map.index("api").unwrap()];
        let ops: Vec<(&str, usize, u64, u64)> =
            api.operations.iter().map(|o| (o.name.as_str(), o.requests, o.p50_ns, o.p99_ns)).collect();
        assert_eq!(ops, [("Get", 3, 20 * MS, 30 * MS), ("List", 1, 20 * MS, 20 * MS)], "the most frequent first");
        assert_eq!(
            (api.requests, map.edge(map.index("web").unwrap(), map.index("api").unwrap()).unwrap().calls),
            (4, 4)
        );
        assert_eq!(map.basis, Basis { traces: 4, per_service_limit: None, calls_from_backend: false });
    }

    #[test]
    fn a_dependency_list_counts_the_calls_the_traces_at_hand_only_sample() {
        let t = trace(&[(1, 0, "web", "GET /", 0, 100), (2, 1, "api", "Get", 5, 80), (3, 2, "api", "SELECT", 10, 5)])
            .attr(3, "db.system", "postgresql")
            .done();
        let map = ServiceMap::from_traces_and_dependencies(
            [&t],
            &[ServiceCall { error_count: 3, ..call("web", "api", 40) }, call("api", "auth", 7)],
            &Thresholds::default(),
        );
        let calls = |from: &str, to: &str| map.edge(map.index(from).unwrap(), map.index(to).unwrap()).map(|e| e.calls);
        assert_eq!(calls("web", "api"), Some(40), "the backend's count, not the one trace's");
        let web_api = map.edge(map.index("web").unwrap(), map.index("api").unwrap()).unwrap();
        assert_eq!(web_api.errors, 3, "and its errors (Zipkin's errorCount)");
        assert_eq!(calls("api", "auth"), Some(7), "a call no trace at hand shows");
        assert_eq!(calls("api", "postgresql"), Some(1), "the traces' own virtual calls stay");
        assert!(map.basis.calls_from_backend);
        let json = serde_json::to_value(&map).unwrap();
        assert_eq!(
            json["edges"][0],
            serde_json::json!({"from": 0, "to": 1, "calls": 7}),
            "edges as [{{from, to, calls}}]"
        );
    }

    #[test]
    fn migration_goes_leaves_first_and_reports_cycles() {
        let map = ServiceMap::from_dependencies(&[
            call("web", "api", 5),
            call("api", "auth", 3),
            call("auth", "api", 1),
            call("api", "db", 9),
        ]);
        let (steps, cycles) = migration_order(&map);
        let name = |i: &usize| map.services[*i].name.as_str();
        let steps: Vec<Vec<&str>> = steps.iter().map(|s| s.iter().map(name).collect()).collect();
        assert_eq!(steps, [vec!["db"], vec!["api", "auth"], vec!["web"]]);
        assert_eq!(cycles.len(), 1);
    }
}
