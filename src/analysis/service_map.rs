//! The service dependency map: which service calls which, how much, how healthy each is,
//! and which one holds the request up the most.
//!
//! Built from traces (a span calling into another service is one call; a client span
//! naming a `peer.service`/`service.peer.name`, or a database span, calls a *virtual*
//! node for the uninstrumented dependency) or from a backend's dependency list (calls
//! only). Cycles are kept as they are: the drawing shows each once.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::calls::text;
use super::dependencies::ServiceCall;
use super::self_times;
use super::stats::percentile;
use crate::model::Trace;

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
    /// `database` or `peer` for an uninstrumented dependency seen only from its callers.
    pub virtual_kind: Option<&'static str>,
    /// Requests it served (its entry spans); 0 when known only from calls.
    pub requests: usize,
    pub errors: usize,
    pub p95_ns: u64,
    /// Its spans' self time added up: what it spent itself.
    pub self_ns: u64,
    pub health: Health,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceEdge {
    pub from: usize,
    pub to: usize,
    pub calls: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServiceMap {
    /// Sorted by name.
    pub services: Vec<ServiceNode>,
    /// Sorted by caller, then callee.
    pub edges: Vec<ServiceEdge>,
    /// The service that spent the most time itself.
    pub bottleneck: Option<usize>,
    /// How long the traces span, for call rates (0 for a dependency list).
    pub window_ns: u64,
}

impl ServiceMap {
    pub fn index(&self, name: &str) -> Option<usize> {
        self.services.binary_search_by(|s| s.name.as_str().cmp(name)).ok()
    }

    /// The edge from one service to another, if it calls it.
    pub fn edge(&self, from: usize, to: usize) -> Option<&ServiceEdge> {
        self.edges.binary_search_by_key(&(from, to), |e| (e.from, e.to)).ok().map(|i| &self.edges[i])
    }

    /// Callees of each service, by index, in name order.
    pub fn callees(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.services.len()];
        for edge in &self.edges {
            out[edge.from].push(edge.to);
        }
        out
    }

    /// Callers of each service, by index, in name order (edges are sorted by caller).
    pub fn callers(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.services.len()];
        for edge in &self.edges {
            out[edge.to].push(edge.from);
        }
        out
    }

    /// Calls per minute along an edge, when the map came from traces.
    pub fn rate_per_minute(&self, edge: &ServiceEdge) -> Option<f64> {
        (self.window_ns > 0).then(|| edge.calls as f64 * 60e9 / self.window_ns as f64)
    }

    /// From a backend's dependency list (Jaeger's `/api/dependencies`).
    pub fn from_dependencies(calls: &[ServiceCall]) -> ServiceMap {
        let mut builder = Builder::default();
        for call in calls {
            builder.call(&call.parent, &call.child, None, call.call_count);
        }
        builder.finish(HashMap::new(), 0, &Thresholds::default())
    }

    /// From traces: calls, virtual dependencies, and each service's health.
    pub fn from_traces<'t>(traces: impl IntoIterator<Item = &'t Trace>, thresholds: &Thresholds) -> ServiceMap {
        ServiceMap::from_traces_and_dependencies(traces, &[], thresholds)
    }

    /// From traces, plus the calls a backend's dependency list knows that the traces at
    /// hand do not show (their counts are the backend's).
    pub fn from_traces_and_dependencies<'t>(
        traces: impl IntoIterator<Item = &'t Trace>,
        dependencies: &[ServiceCall],
        thresholds: &Thresholds,
    ) -> ServiceMap {
        let mut builder = Builder::default();
        let mut stats: HashMap<String, Stats> = HashMap::new();
        let (mut first, mut last) = (u64::MAX, 0u64);
        for trace in traces {
            first = first.min(trace.start_ns());
            last = last.max(trace.end_ns());
            let own = self_times(trace);
            for (i, span) in trace.spans.iter().enumerate() {
                let service = span.service();
                builder.service(service);
                let entry = stats.entry(service.to_string()).or_default();
                entry.self_ns += own[i];
                let parent = trace.tree.parent(i).map(|p| trace.spans[p].service());
                if trace.is_service_entry(i) {
                    entry.durations.push(span.duration_ns);
                    entry.errors += usize::from(span.is_error());
                }
                if let Some(parent) = parent.filter(|p| *p != service) {
                    builder.call(parent, service, None, 1);
                }
                // A span that is itself the entry into another service (a database
                // instrumented as its own service) is not a call out of it.
                let inside = parent.is_none_or(|p| p == service);
                let calls_out = trace.tree.children(i).any(|c| trace.spans[c].service() != service);
                if inside
                    && !calls_out
                    && let Some((name, kind)) = virtual_callee(span).filter(|(name, _)| name != service)
                {
                    builder.call(service, &name, Some(kind), 1);
                }
            }
        }
        for call in dependencies {
            if !builder.calls.contains_key(&(call.parent.clone(), call.child.clone())) {
                builder.call(&call.parent, &call.child, None, call.call_count);
            }
        }
        let window = last.saturating_sub(first);
        builder.finish(stats, window, thresholds)
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
    durations: Vec<u64>,
    errors: usize,
    self_ns: u64,
}

#[derive(Default)]
struct Builder {
    names: BTreeMap<String, Option<&'static str>>,
    calls: HashMap<(String, String), u64>,
}

impl Builder {
    /// A service seen with spans of its own: not virtual, whatever called it before.
    fn service(&mut self, name: &str) {
        match self.names.get_mut(name) {
            Some(kind) => *kind = None,
            None => {
                self.names.insert(name.to_string(), None);
            }
        }
    }

    fn call(&mut self, from: &str, to: &str, virtual_kind: Option<&'static str>, count: u64) {
        if !self.names.contains_key(from) {
            self.names.insert(from.to_string(), None);
        }
        if !self.names.contains_key(to) {
            self.names.insert(to.to_string(), virtual_kind);
        }
        *self.calls.entry((from.to_string(), to.to_string())).or_default() += count;
    }

    fn finish(self, mut stats: HashMap<String, Stats>, window_ns: u64, thresholds: &Thresholds) -> ServiceMap {
        let index: HashMap<&str, usize> = self.names.keys().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
        let mut edges: Vec<ServiceEdge> = self
            .calls
            .iter()
            .map(|((from, to), calls)| ServiceEdge {
                from: index[from.as_str()],
                to: index[to.as_str()],
                calls: *calls,
            })
            .collect();
        edges.sort_by_key(|e| (e.from, e.to));
        let services: Vec<ServiceNode> = self
            .names
            .iter()
            .map(|(name, virtual_kind)| node(name, *virtual_kind, stats.remove(name), thresholds))
            .collect();
        let bottleneck =
            services.iter().enumerate().filter(|(_, s)| s.self_ns > 0).max_by_key(|(_, s)| s.self_ns).map(|(i, _)| i);
        ServiceMap { services, edges, bottleneck, window_ns }
    }
}

fn node(name: &str, virtual_kind: Option<&'static str>, stats: Option<Stats>, thresholds: &Thresholds) -> ServiceNode {
    let Some(mut stats) = stats else {
        return ServiceNode {
            name: name.to_string(),
            virtual_kind,
            requests: 0,
            errors: 0,
            p95_ns: 0,
            self_ns: 0,
            health: Health::Unknown,
        };
    };
    stats.durations.sort_unstable();
    let requests = stats.durations.len();
    let p95_ns = percentile(&stats.durations, 95.0);
    let error_rate = if requests == 0 { 0.0 } else { stats.errors as f64 / requests as f64 };
    let health = if requests == 0 {
        Health::Unknown
    } else if error_rate >= thresholds.critical_error_rate || p95_ns >= thresholds.critical_p95_ns {
        Health::Critical
    } else if error_rate >= thresholds.degraded_error_rate || p95_ns >= thresholds.degraded_p95_ns {
        Health::Degraded
    } else {
        Health::Healthy
    };
    ServiceNode {
        name: name.to_string(),
        virtual_kind,
        requests,
        errors: stats.errors,
        p95_ns,
        self_ns: stats.self_ns,
        health,
    }
}

/// A migration order: services whose callees are all done come first (leaves first);
/// services in a cycle come together, as one step, and the cycles are returned.
pub fn migration_order(map: &ServiceMap) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    // Tarjan's algorithm yields components callees-first: already a leaves-first order.
    let steps = strongly_connected(map);
    let cycles = steps.iter().filter(|c| c.len() > 1).cloned().collect();
    (steps, cycles)
}

/// Strongly connected components (Tarjan, iterative), each sorted, in reverse
/// topological order: a component comes after every component it calls into.
fn strongly_connected(map: &ServiceMap) -> Vec<Vec<usize>> {
    let callees = map.callees();
    let n = map.services.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for start in 0..n {
        if index[start] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(top) = work.len().checked_sub(1) {
            let (v, child) = work[top];
            if child == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = callees[v].get(child) {
                work[top].1 += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                component.sort_unstable();
                out.push(component);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;
    use crate::model::SpanKind;

    fn call(parent: &str, child: &str, count: u64) -> ServiceCall {
        ServiceCall { parent: parent.into(), child: child.into(), call_count: count }
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
        let edges: Vec<(&str, &str)> = map.edges.iter().map(|e| (names[e.from], names[e.to])).collect();
        assert_eq!(edges, [("api", "postgresql"), ("web", "api"), ("web", "stripe")]);
        let node = |n: &str| &map.services[map.index(n).unwrap()];
        assert_eq!(node("postgresql").virtual_kind, Some("database"));
        assert_eq!((node("api").requests, node("api").errors, node("api").health), (1, 1, Health::Critical));
        assert_eq!(node("web").health, Health::Healthy);
        assert_eq!(map.bottleneck, map.index("api"), "api spends 30 ms itself plus its query's 40 ms in api");
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
