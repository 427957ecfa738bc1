//! What a list of traces as they arrive (the live tail) shows of each one: its summary,
//! whether its root has come in, and the N+1s and slow queries found in it. Cheap enough
//! to run on every trace as it arrives: only the two detectors of one trace.

use serde::Serialize;

use super::TraceSummary;
use super::findings::{Finding, FindingKind};
use super::index::TraceIndex;
use super::repeated::n_plus_one;
use super::slow_queries::slow_queries;
use crate::model::{SmolStr, Trace};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Glance {
    #[serde(flatten)]
    pub summary: TraceSummary,
    /// N+1s and slow queries, the costliest first.
    pub marks: Vec<Mark>,
    /// Whether a span without a parent (the request's root) is in: SDKs export a span
    /// when it ends, and the root ends last, so the request is most likely complete.
    pub has_root: bool,
}

/// One problem found in the trace, with the spans to mark when it is opened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mark {
    /// `n_plus_one` or `slow_query`.
    pub kind: FindingKind,
    /// The repeated calls of an N+1, or the slow queries of one shape.
    pub count: usize,
    /// What the calls took together.
    pub total_us: u64,
    pub span_ids: Vec<SmolStr>,
}

impl From<Finding> for Mark {
    fn from(finding: Finding) -> Self {
        Mark { kind: finding.kind, count: finding.count, total_us: finding.total_us, span_ids: finding.span_ids }
    }
}

impl Glance {
    /// Database calls at least `slow_query_ns` long are slow queries.
    pub fn of(trace: &Trace, slow_query_ns: u64) -> Glance {
        let index = TraceIndex::new(trace);
        let mut marks: Vec<Mark> =
            n_plus_one(&index).into_iter().chain(slow_queries(&index, slow_query_ns)).map(Mark::from).collect();
        marks.sort_by_key(|mark| std::cmp::Reverse(mark.total_us));
        Glance {
            summary: TraceSummary::of(trace),
            marks,
            has_root: trace.spans.iter().any(|span| span.parent_id.is_none()),
        }
    }

    /// The costliest mark of `kind`, and how many of that kind there are.
    pub fn worst(&self, kind: FindingKind) -> Option<(&Mark, usize)> {
        let mut of_kind = self.marks.iter().filter(|m| m.kind == kind);
        let worst = of_kind.next()?;
        Some((worst, 1 + of_kind.count()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;

    #[test]
    fn a_glance_marks_an_n_plus_one_and_a_slow_query_and_knows_whether_the_root_is_in() {
        let mut spans = vec![(1, 0, "shop", "GET /orders", 0, 2000)];
        for i in 0..6 {
            spans.push((10 + i, 1, "shop", "SELECT", 10 + i * 20, 15));
        }
        spans.push((30, 1, "shop", "SELECT", 200, 900));
        let mut built = trace(&spans);
        for i in 0..6 {
            built = built.attr(10 + i, "db.system", "postgresql").attr(
                10 + i,
                "db.statement",
                &format!("SELECT * FROM items WHERE order_id = {i}"),
            );
        }
        let t =
            built.attr(30, "db.system", "postgresql").attr(30, "db.statement", "SELECT count(*) FROM orders").done();
        let glance = Glance::of(&t, 500_000_000);
        assert!(glance.has_root);
        let (n_plus_one, groups) = glance.worst(FindingKind::NPlusOne).expect("the N+1");
        assert_eq!((n_plus_one.count, n_plus_one.span_ids.len(), groups), (6, 6, 1));
        let (slow, _) = glance.worst(FindingKind::SlowQuery).expect("the slow query");
        assert_eq!((slow.count, slow.total_us), (1, 900_000));
        assert_eq!(glance.marks[0].kind, FindingKind::SlowQuery, "the costliest first");

        let child_only = trace(&[(1, 0, "shop", "GET", 0, 10), (2, 1, "shop", "SELECT", 1, 5)]).done();
        let orphan = Trace::from_spans(child_only.id, child_only.spans.into_iter().skip(1).collect());
        assert!(!Glance::of(&orphan, 500_000_000).has_root, "a span whose parent has not come in");
    }
}
