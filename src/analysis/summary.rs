//! One line's worth of facts about a trace, for search results and pickers.

use serde::Serialize;

use crate::model::Trace;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_service: String,
    pub root_operation: String,
    pub start_ns: u64,
    pub duration_ns: u64,
    pub span_count: usize,
    pub services: Vec<String>,
    pub error_count: usize,
    /// When the backend returned only the spans that matched the search (Tempo's span
    /// sets), how many matched; the trace itself is fetched whole when opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_spans: Option<usize>,
}

impl TraceSummary {
    pub fn of(trace: &Trace) -> Self {
        let (root_service, root_operation) = trace
            .root()
            .map(|root| (root.service().to_string(), root.operation.to_string()))
            .unwrap_or_else(|| ("unknown".to_string(), "(no spans)".to_string()));
        TraceSummary {
            trace_id: trace.id.to_string(),
            root_service,
            root_operation,
            start_ns: trace.start_ns(),
            duration_ns: trace.duration_ns(),
            span_count: trace.spans.len(),
            services: trace.services().into_iter().map(str::to_string).collect(),
            error_count: trace.error_count(),
            matched_spans: None,
        }
    }
}
