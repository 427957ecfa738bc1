//! The critical path: the chain of work that decided how long a request took, with Jaeger
//! UI's semantics so that both draw the same path.
//!
//! From the end of each root, walk back in time: a span's critical section runs from the
//! end of its last-finishing child (that ends before the current cut-off) to the cut-off;
//! then the walk descends into that child, and when a span has no such child left, it
//! covers the rest down to the span's start and climbs back to the parent, with the span's
//! start as the new cut-off. Before walking, children are clipped to their parent and
//! those entirely outside it dropped; asynchronous hand-offs (FOLLOWS_FROM, a consumer
//! under a producer) are dropped with their descendants, since the parent did not wait.

use serde::Serialize;

use crate::model::{SpanIndex, SpanKind, Trace};

/// A stretch of time, `[start_ns, end_ns)`, during which `span` was on the critical path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Section {
    pub span: SpanIndex,
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Section {
    pub fn len_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// Sections of the critical path, latest first (the order Jaeger UI lists them), root by
/// root in start order.
pub fn critical_path(trace: &Trace) -> Vec<Section> {
    let Some(clipped) = clip_to_parents(trace) else { return Vec::new() };
    let children = Blocking::of(trace, &clipped);
    let mut passed = vec![0; trace.spans.len()];
    let mut sections = Vec::new();
    for root in trace.tree.roots() {
        walk_back(trace, &clipped, &children, &mut passed, root, &mut sections);
    }
    sections
}

/// Total time each span spends on the critical path, indexed like `trace.spans`.
pub fn time_on_path(trace: &Trace, sections: &[Section]) -> Vec<u64> {
    let mut total = vec![0; trace.spans.len()];
    for section in sections {
        total[section.span] = section.len_ns().saturating_add(total[section.span]);
    }
    total
}

/// Whether the parent of `span` handed it off without waiting for it.
fn is_async(trace: &Trace, span: SpanIndex) -> bool {
    let child = &trace.spans[span];
    let producer_parent = trace.tree.parent(span).is_some_and(|p| trace.spans[p].kind == SpanKind::Producer);
    child.follows_from_parent() || (child.kind == SpanKind::Consumer && producer_parent)
}

/// Every span's interval clipped to its (clipped) parent, or `None` for spans off the
/// path: outside their parent, asynchronous, or below such a span.
fn clip_to_parents(trace: &Trace) -> Option<Vec<Option<(u64, u64)>>> {
    if trace.spans.is_empty() {
        return None;
    }
    let mut clipped: Vec<Option<(u64, u64)>> = vec![None; trace.spans.len()];
    for span in trace.tree.preorder() {
        let (start, end) = (trace.spans[span].start_ns, trace.spans[span].end_ns());
        clipped[span] = match trace.tree.parent(span) {
            None => Some((start, end)),
            Some(_) if is_async(trace, span) => None,
            Some(parent) => clipped[parent].and_then(|(parent_start, parent_end)| {
                if start >= parent_start && end <= parent_end {
                    Some((start, end))
                } else if start >= parent_end || end <= parent_start {
                    None
                } else {
                    Some((start.max(parent_start), end.min(parent_end)))
                }
            }),
        };
    }
    Some(clipped)
}

/// Each span's children that are on the path, last-finishing first (by their own end;
/// ties keep start order), as one list for the whole trace: `children[offsets[s]..offsets[s + 1]]`.
struct Blocking {
    offsets: Vec<usize>,
    children: Vec<SpanIndex>,
}

impl Blocking {
    fn of(trace: &Trace, clipped: &[Option<(u64, u64)>]) -> Blocking {
        let mut offsets = Vec::with_capacity(trace.spans.len() + 1);
        let mut children = Vec::new();
        offsets.push(0);
        for span in 0..trace.spans.len() {
            let first = children.len();
            children.extend(trace.tree.children(span).filter(|&c| clipped[c].is_some()));
            children[first..].sort_by_key(|&c| std::cmp::Reverse(trace.spans[c].end_ns()));
            offsets.push(children.len());
        }
        Blocking { offsets, children }
    }

    fn of_span(&self, span: SpanIndex) -> &[SpanIndex] {
        &self.children[self.offsets[span]..self.offsets[span + 1]]
    }
}

fn walk_back(
    trace: &Trace,
    clipped: &[Option<(u64, u64)>],
    children: &Blocking,
    passed: &mut [usize],
    root: SpanIndex,
    sections: &mut Vec<Section>,
) {
    let interval = |span: SpanIndex| clipped[span].unwrap_or((0, 0));
    let mut push = |span: SpanIndex, start_ns: u64, end_ns: u64| {
        if start_ns != end_ns {
            sections.push(Section { span, start_ns, end_ns });
        }
    };
    // `passed`: how many of each span's blocking children the walk is past. A span's
    // cut-off only moves back in time (it becomes the start of the child the walk returns
    // from), so a child that finished too late for it once stays too late: each list is
    // read once, which keeps a parent of many children linear, not quadratic.
    let mut current = root;
    let mut cut_off: Option<u64> = None;
    // Each step either descends or moves the cut-off back, so the walk ends; the bound is
    // a guard against a tree this reasoning did not foresee.
    for _ in 0..4 * trace.spans.len() + 4 {
        let (start, end) = interval(current);
        let candidates = &children.of_span(current)[passed[current]..];
        let last_finishing = match cut_off {
            Some(cut) => candidates.iter().position(|&c| interval(c).1 < cut),
            None => (!candidates.is_empty()).then_some(0),
        };
        let section_end = cut_off.unwrap_or(end);
        match last_finishing {
            Some(at) => {
                let child = candidates[at];
                passed[current] += at + 1;
                push(current, interval(child).1, section_end);
                current = child;
                cut_off = None;
            }
            None => {
                passed[current] += candidates.len();
                push(current, start, section_end);
                match trace.tree.parent(current) {
                    Some(parent) => {
                        cut_off = Some(start);
                        current = parent;
                    }
                    None => return,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;
    use crate::model::SmolStr;

    #[test]
    fn a_consumer_under_a_producer_does_not_hold_its_parent_up() {
        let json = r#"[
          {"traceID":"1","spanID":"a","startTime":0,"duration":100,"references":[]},
          {"traceID":"1","spanID":"b","startTime":10,"duration":20,"references":[{"refType":"CHILD_OF","spanID":"a"}],
           "tags":[{"key":"span.kind","type":"string","value":"producer"}]},
          {"traceID":"1","spanID":"c","startTime":40,"duration":50,"references":[{"refType":"CHILD_OF","spanID":"b"}],
           "tags":[{"key":"span.kind","type":"string","value":"consumer"}]}
        ]"#;
        let trace = formats::decode(json.as_bytes()).unwrap().remove(0);
        let path: Vec<(SmolStr, u64, u64)> = critical_path(&trace)
            .iter()
            .map(|s| (trace.spans[s.span].display_id(), s.start_ns / 1000, s.end_ns / 1000))
            .collect();
        let expected = [("a", 30, 100), ("b", 10, 30), ("a", 0, 10)].map(|(id, s, e)| (SmolStr::from(id), s, e));
        assert_eq!(path, expected);
    }
}
