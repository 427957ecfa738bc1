//! A whole trace: its spans and the tree that connects them.
//!
//! Real traces are messy: spans arrive without their parents, ids repeat, clocks disagree,
//! and a buggy tracer can even write a parent cycle. Building the tree accepts all of it,
//! never panics, never loops, and says what it repaired in [`Trace::warnings`].

use super::ids::{IdMap, SpanId, TraceId};
use super::span::Span;
use super::times::TimeRepair;
use super::warnings::{WarningKind, WarningLog};

/// Index of a span inside [`Trace::spans`].
pub type SpanIndex = usize;

#[derive(Debug)]
pub struct Trace {
    pub id: TraceId,
    pub spans: Vec<Span>,
    pub tree: SpanTree,
    pub warnings: Vec<String>,
}

/// Parent/child structure over span indices, children ordered by start time.
#[derive(Debug, Default)]
pub struct SpanTree {
    parent: Vec<Option<u32>>,
    child_offsets: Vec<u32>,
    children: Vec<u32>,
    roots: Vec<u32>,
    depth: Vec<u32>,
    preorder: Vec<u32>,
}

impl SpanTree {
    pub fn parent(&self, span: SpanIndex) -> Option<SpanIndex> {
        self.parent[span].map(|p| p as usize)
    }

    pub fn children(&self, span: SpanIndex) -> impl ExactSizeIterator<Item = SpanIndex> + '_ {
        let range = self.child_offsets[span] as usize..self.child_offsets[span + 1] as usize;
        self.children[range].iter().map(|&c| c as usize)
    }

    pub fn roots(&self) -> impl ExactSizeIterator<Item = SpanIndex> + '_ {
        self.roots.iter().map(|&r| r as usize)
    }

    pub fn depth(&self, span: SpanIndex) -> usize {
        self.depth[span] as usize
    }

    /// Every span once, parents before children, siblings by start time.
    pub fn preorder(&self) -> impl ExactSizeIterator<Item = SpanIndex> + '_ {
        self.preorder.iter().map(|&s| s as usize)
    }
}

impl Trace {
    /// Assembles a trace from spans that all share one trace id.
    pub fn from_spans(id: TraceId, spans: Vec<Span>) -> Trace {
        let mut log = WarningLog::default();
        let mut index = index_by_id(&spans);
        // Ids are usually unique, and then no span is moved.
        let spans = if index.len() == spans.len() {
            spans
        } else {
            let kept = drop_exact_duplicates(spans, &mut log);
            index = index_by_id(&kept);
            kept
        };
        let mut parent = link_parents(&spans, &index, &mut log);
        let tree = build_tree(&spans, &mut parent, &mut log);
        note_time_problems(&spans, &tree, &mut log);
        Trace { id, spans, tree, warnings: log.into_messages() }
    }

    /// Earliest start among spans that have a start time, or 0 for an empty trace.
    pub fn start_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.start_ns).filter(|&t| t > 0).min().unwrap_or(0)
    }

    pub fn end_ns(&self) -> u64 {
        self.spans.iter().map(Span::end_ns).max().unwrap_or(0)
    }

    pub fn duration_ns(&self) -> u64 {
        self.end_ns().saturating_sub(self.start_ns())
    }

    /// The earliest root: the span a user thinks of as "the request".
    pub fn root(&self) -> Option<&Span> {
        self.tree.roots().next().map(|r| &self.spans[r])
    }

    /// Services in the order they first appear walking the tree from the root.
    pub fn services(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for span in self.tree.preorder() {
            let service = self.spans[span].service();
            if !seen.contains(&service) {
                seen.push(service);
            }
        }
        seen
    }

    /// Whether `span` is where a request entered its service: it has no parent, or its
    /// parent belongs to another service.
    pub fn is_service_entry(&self, span: SpanIndex) -> bool {
        let service = self.spans[span].service();
        self.tree.parent(span).is_none_or(|p| self.spans[p].service() != service)
    }

    /// The traces its spans came from, in id order: one, or several for a transaction
    /// stitched from linked traces.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        let mut ids: Vec<TraceId> = self.spans.iter().map(|s| s.trace_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    pub fn error_count(&self) -> usize {
        self.spans.iter().filter(|s| s.is_error()).count()
    }

    /// Finds a span by the id a user typed or saw: hex, or the source's own text.
    pub fn find_span(&self, id: &str) -> Option<SpanIndex> {
        let (wanted, _) = SpanId::from_text(id);
        self.spans.iter().position(|s| s.span_id == wanted)
    }
}

/// So that analyses take owned and shared traces alike.
impl AsRef<Trace> for Trace {
    fn as_ref(&self) -> &Trace {
        self
    }
}

/// Backends sometimes send the very same span twice (Jaeger does when a span is stored by
/// two collectors); identical copies carry no information, so one is kept.
fn drop_exact_duplicates(spans: Vec<Span>, log: &mut WarningLog) -> Vec<Span> {
    let mut first_by_id: IdMap<SpanId, usize> = IdMap::with_capacity_and_hasher(spans.len(), Default::default());
    let mut kept: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        if let Some(&earlier) = first_by_id.get(&span.span_id) {
            if kept[earlier] == span {
                continue;
            }
            log.add(WarningKind::DuplicateId, || span.display_id().to_string());
        } else {
            first_by_id.insert(span.span_id, kept.len());
        }
        kept.push(span);
    }
    kept
}

/// Maps each id to its first span; later spans with the same id stay in the trace but
/// cannot be addressed as a parent.
fn index_by_id(spans: &[Span]) -> IdMap<SpanId, u32> {
    let mut index = IdMap::with_capacity_and_hasher(spans.len(), Default::default());
    for (i, span) in spans.iter().enumerate() {
        index.entry(span.span_id).or_insert(i as u32);
    }
    index
}

fn link_parents(spans: &[Span], index: &IdMap<SpanId, u32>, log: &mut WarningLog) -> Vec<Option<u32>> {
    spans
        .iter()
        .enumerate()
        .map(|(i, span)| {
            let wanted = span.parent_id.filter(|p| !p.is_zero())?;
            match index.get(&wanted) {
                Some(&p) if p as usize != i => Some(p),
                Some(_) => {
                    log.add(WarningKind::Cycle, || format!("{} is its own parent", span.display_id()));
                    None
                }
                None => {
                    log.add(WarningKind::MissingParent, || format!("{} → {}", span.display_id(), wanted));
                    None
                }
            }
        })
        .collect()
}

fn build_tree(spans: &[Span], parent: &mut [Option<u32>], log: &mut WarningLog) -> SpanTree {
    let n = spans.len();
    break_cycles(spans, parent, log);

    // Children as compressed rows: offsets[i]..offsets[i+1] index into `children`.
    let mut child_offsets = vec![0u32; n + 1];
    for p in parent.iter().flatten() {
        child_offsets[*p as usize + 1] += 1;
    }
    for i in 0..n {
        child_offsets[i + 1] += child_offsets[i];
    }
    let mut fill = child_offsets.clone();
    let mut children = vec![0u32; n - count_roots(parent)];
    let mut roots = Vec::new();
    for (i, p) in parent.iter().enumerate() {
        match p {
            Some(p) => {
                children[fill[*p as usize] as usize] = i as u32;
                fill[*p as usize] += 1;
            }
            None => roots.push(i as u32),
        }
    }
    let by_start = |&a: &u32, &b: &u32| (spans[a as usize].start_ns, a).cmp(&(spans[b as usize].start_ns, b));
    for i in 0..n {
        children[child_offsets[i] as usize..child_offsets[i + 1] as usize].sort_unstable_by(by_start);
    }
    roots.sort_unstable_by(by_start);
    // A transaction stitched from linked traces has a root for each of its traces.
    let mut root_traces: Vec<TraceId> = roots.iter().map(|&r| spans[r as usize].trace_id).collect();
    root_traces.sort_unstable();
    root_traces.dedup();
    if roots.len() > root_traces.len() {
        log.add(WarningKind::SeveralRoots, || roots.len().to_string());
    }

    let mut tree = SpanTree {
        parent: parent.to_vec(),
        child_offsets,
        children,
        roots,
        depth: vec![0; n],
        preorder: Vec::with_capacity(n),
    };
    walk_preorder(&mut tree);
    tree
}

fn count_roots(parent: &[Option<u32>]) -> usize {
    parent.iter().filter(|p| p.is_none()).count()
}

/// A span whose ancestry never reaches a root sits on a cycle (or under one). Walking up
/// from it finds the cycle; cutting it at the first repeated span makes that span a root.
/// Every span is walked at most twice, so this is linear.
fn break_cycles(spans: &[Span], parent: &mut [Option<u32>], log: &mut WarningLog) {
    const UNKNOWN: u8 = 0;
    const ON_PATH: u8 = 1;
    const SETTLED: u8 = 2;
    let mut state = vec![UNKNOWN; parent.len()];
    let mut path = Vec::new();
    for start in 0..parent.len() {
        let mut node = start;
        while state[node] == UNKNOWN {
            state[node] = ON_PATH;
            path.push(node);
            match parent[node] {
                Some(p) => node = p as usize,
                None => break,
            }
        }
        if state[node] == ON_PATH && parent[node].is_some() {
            // `node` was reached twice on this walk (earlier walks are all settled), so its
            // parent link closes a cycle.
            log.add(WarningKind::Cycle, || {
                format!("{} ↔ {}", spans[node].display_id(), spans[parent[node].unwrap_or(0) as usize].display_id())
            });
            parent[node] = None;
        }
        for visited in path.drain(..) {
            state[visited] = SETTLED;
        }
    }
}

fn walk_preorder(tree: &mut SpanTree) {
    let mut stack: Vec<u32> = tree.roots.iter().rev().copied().collect();
    while let Some(span) = stack.pop() {
        let s = span as usize;
        tree.preorder.push(span);
        if let Some(p) = tree.parent[s] {
            tree.depth[s] = tree.depth[p as usize] + 1;
        }
        let range = tree.child_offsets[s] as usize..tree.child_offsets[s + 1] as usize;
        stack.extend(tree.children[range].iter().rev());
    }
}

fn note_time_problems(spans: &[Span], tree: &SpanTree, log: &mut WarningLog) {
    for (i, span) in spans.iter().enumerate() {
        if let Some(repair) = span.time_repair {
            let kind = match repair {
                TimeRepair::StartOutOfRange => WarningKind::StartOutOfRange,
                TimeRepair::EndsBeforeStart => WarningKind::EndsBeforeStart,
                TimeRepair::TooLong => WarningKind::TooLong,
            };
            log.add(kind, || span.display_id().to_string());
        }
        if span.start_ns == 0 {
            if span.time_repair != Some(TimeRepair::StartOutOfRange) {
                log.add(WarningKind::MissingTime, || span.display_id().to_string());
            }
            continue;
        }
        if let Some(p) = tree.parent(i) {
            let parent = &spans[p];
            let outside = span.start_ns < parent.start_ns || span.end_ns() > parent.end_ns();
            if outside && parent.start_ns != 0 && !span.follows_from_parent() {
                log.add(WarningKind::ClockSkew, || format!("{} outside {}", span.display_id(), parent.display_id()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::span::{Resource, SpanKind, Status};

    fn span(id: u64, parent: Option<u64>, start: u64, duration: u64) -> Span {
        Span {
            trace_id: TraceId(1),
            span_id: SpanId(id),
            parent_id: parent.map(SpanId),
            references: Default::default(),
            resource: Arc::new(Resource { service: "svc".into(), attributes: Vec::new() }),
            operation: format!("op{id}").into(),
            kind: SpanKind::Internal,
            start_ns: start,
            duration_ns: duration,
            status: Status::default(),
            attributes: Vec::new(),
            events: Vec::new(),
            source_id: None,
            time_repair: None,
        }
    }

    fn preorder_ids(trace: &Trace) -> Vec<u64> {
        trace.tree.preorder().map(|i| trace.spans[i].span_id.0).collect()
    }

    #[test]
    fn children_are_ordered_by_start_and_depths_follow_the_tree() {
        let trace = Trace::from_spans(
            TraceId(1),
            vec![span(3, Some(1), 30, 5), span(1, None, 10, 100), span(2, Some(1), 20, 5), span(4, Some(2), 21, 1)],
        );
        assert_eq!(preorder_ids(&trace), vec![1, 2, 4, 3]);
        let depth_of_4 = trace.tree.depth(trace.find_span("4").unwrap());
        assert_eq!(depth_of_4, 2);
        assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    }

    #[test]
    fn orphans_become_roots_with_a_warning() {
        let trace = Trace::from_spans(TraceId(1), vec![span(1, None, 10, 100), span(2, Some(99), 20, 5)]);
        assert_eq!(trace.tree.roots().len(), 2);
        assert!(trace.warnings.iter().any(|w| w.contains("parent is missing")), "{:?}", trace.warnings);
    }

    #[test]
    fn a_parent_cycle_is_cut_and_every_span_is_still_shown_once() {
        let trace = Trace::from_spans(
            TraceId(1),
            vec![span(1, Some(3), 10, 100), span(2, Some(1), 20, 5), span(3, Some(2), 30, 5), span(4, Some(4), 5, 1)],
        );
        let mut ids = preorder_ids(&trace);
        ids.sort();
        assert_eq!(ids, vec![1, 2, 3, 4]);
        assert!(trace.warnings.iter().any(|w| w.contains("cycle")), "{:?}", trace.warnings);
    }

    #[test]
    fn exact_duplicates_collapse_and_conflicting_ones_are_kept_with_a_warning() {
        let trace = Trace::from_spans(TraceId(1), vec![span(1, None, 10, 100), span(1, None, 10, 100)]);
        assert_eq!(trace.spans.len(), 1);
        assert!(trace.warnings.is_empty());

        let trace = Trace::from_spans(TraceId(1), vec![span(1, None, 10, 100), span(1, None, 10, 50)]);
        assert_eq!(trace.spans.len(), 2);
        assert!(trace.warnings.iter().any(|w| w.contains("used twice")), "{:?}", trace.warnings);
    }

    #[test]
    fn skew_and_missing_times_are_reported() {
        let trace = Trace::from_spans(
            TraceId(1),
            vec![span(1, None, 10, 100), span(2, Some(1), 5, 500), span(3, Some(1), 0, 0)],
        );
        assert!(trace.warnings.iter().any(|w| w.contains("clock skew")), "{:?}", trace.warnings);
        assert!(trace.warnings.iter().any(|w| w.contains("no start time")), "{:?}", trace.warnings);
        assert_eq!(trace.start_ns(), 5);
    }

    #[test]
    fn a_deep_chain_does_not_overflow_the_stack() {
        let spans: Vec<Span> =
            (1..=200_000u64).map(|i| span(i, if i == 1 { None } else { Some(i - 1) }, i, 1_000_000 - i)).collect();
        let trace = Trace::from_spans(TraceId(1), spans);
        assert_eq!(trace.tree.depth(trace.spans.len() - 1), 199_999);
    }

    #[test]
    fn an_empty_trace_is_fine() {
        let trace = Trace::from_spans(TraceId(1), Vec::new());
        assert_eq!(trace.duration_ns(), 0);
        assert!(trace.root().is_none());
    }
}
