//! A cap on the spans of one trace the host holds, whichever backend the trace came from.
//! The host caches dozens of traces; a trace of millions of spans is more than any view
//! can show and would take the memory of all of them. A larger trace is cut to the spans
//! nearest its roots, and the trace says so in a warning that its views show.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Listed, TraceProvider};
use crate::analysis::dependencies::ServiceCall;
use crate::analysis::service_map::{ServiceMap, Thresholds};
use crate::error::Result;
use crate::model::{Trace, VersionSeen};
use crate::query::SearchQuery;
use crate::render::units::grouped;

/// A provider whose traces hold at most `max_spans` spans each.
pub struct SpanCap {
    inner: Arc<dyn TraceProvider>,
    max_spans: usize,
}

impl SpanCap {
    pub fn new(inner: Arc<dyn TraceProvider>, max_spans: usize) -> Self {
        SpanCap { inner, max_spans: max_spans.max(1) }
    }
}

/// The trace with only its `max_spans` spans nearest the roots (by depth, then start
/// time), and a warning saying so. Every kept span's parent is kept (it is shallower), so
/// the cut leaves no orphans behind: the top of the tree, whole.
pub fn cut(trace: Arc<Trace>, max_spans: usize) -> Arc<Trace> {
    let total = trace.spans.len();
    if total <= max_spans {
        return trace;
    }
    let mut order: Vec<usize> = (0..total).collect();
    order.sort_by_key(|&span| (trace.tree.depth(span), trace.spans[span].start_ns));
    let mut keep = vec![false; total];
    for &span in &order[..max_spans] {
        keep[span] = true;
    }
    let id = trace.id;
    // The spans move when nobody else holds the trace, else the kept ones are copied.
    let spans = match Arc::try_unwrap(trace) {
        Ok(owned) => owned.spans.into_iter().zip(keep).filter_map(|(span, kept)| kept.then_some(span)).collect(),
        Err(shared) => shared.spans.iter().zip(keep).filter(|(_, kept)| *kept).map(|(span, _)| span.clone()).collect(),
    };
    let mut held = Trace::from_spans(id, spans);
    held.warnings.push(format!(
        "trace cut to the {} spans nearest its root, of {}: raise max_spans to see all",
        grouped(max_spans as u64),
        grouped(total as u64)
    ));
    Arc::new(held)
}

#[async_trait]
impl TraceProvider for SpanCap {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn embedded_store(&self) -> Option<Arc<crate::store::Store>> {
        self.inner.embedded_store()
    }

    async fn linking_to(&self, id: crate::model::TraceId, limit: usize) -> Result<Vec<crate::store::LinkFrom>> {
        self.inner.linking_to(id, limit).await
    }

    async fn services(&self) -> Result<Vec<String>> {
        self.inner.services().await
    }

    async fn versions(&self, service: &str) -> Result<Vec<VersionSeen>> {
        self.inner.versions(service).await
    }

    async fn operations(&self, service: &str) -> Result<Vec<String>> {
        self.inner.operations(service).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        Ok(self.inner.search(query).await?.into_iter().map(|trace| cut(trace, self.max_spans)).collect())
    }

    async fn search_list(&self, query: &SearchQuery) -> Result<Vec<Listed>> {
        let listed = self.inner.search_list(query).await?;
        Ok(listed.into_iter().map(|l| Listed { trace: l.trace.map(|t| cut(t, self.max_spans)), ..l }).collect())
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        Ok(cut(self.inner.trace(id).await?, self.max_spans))
    }

    async fn tag_keys(&self, service: &str) -> Result<Vec<String>> {
        self.inner.tag_keys(service).await
    }

    async fn tag_values(&self, service: &str, key: &str) -> Result<Vec<String>> {
        self.inner.tag_values(service, key).await
    }

    async fn dependencies(&self, end_us: u64, lookback_us: u64) -> Result<Vec<ServiceCall>> {
        self.inner.dependencies(end_us, lookback_us).await
    }

    async fn service_map(&self, start_ns: u64, end_ns: u64, thresholds: &Thresholds) -> Result<Option<ServiceMap>> {
        self.inner.service_map(start_ns, end_ns, thresholds).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;

    #[test]
    fn a_large_trace_keeps_its_top_whole_and_says_it_was_cut() {
        // root → a → a1 → a11, root → b → b1: the cut to four keeps the top two levels.
        let full = trace(&[
            (1, 0, "web", "root", 0, 100),
            (2, 1, "web", "a", 10, 50),
            (3, 2, "web", "a1", 20, 10),
            (4, 3, "web", "a11", 21, 5),
            (5, 1, "web", "b", 60, 30),
            (6, 5, "web", "b1", 61, 10),
        ])
        .done();
        let held = cut(Arc::new(full), 4);
        let mut kept: Vec<&str> = held.spans.iter().map(|s| s.operation.as_str()).collect();
        kept.sort();
        assert_eq!(kept, ["a", "a1", "b", "root"]);
        assert_eq!(held.warnings, ["trace cut to the 4 spans nearest its root, of 6: raise max_spans to see all"]);
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(1_234), "1,234");
        assert_eq!(grouped(999), "999");
    }
}
