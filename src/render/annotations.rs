//! What the editor writes at the end of a line of code: the cost of the spans made there
//! (`⏱ p95 812ms · 41% of GET /checkout · 23 calls`), what they allocated when their spans
//! say (`▣ 12.4 MB per request · p95 48.0 MB`) and the findings about it
//! (`⚠ N+1: 15× SELECT … (41ms)`), each with the traces that went through it.

use serde::Serialize;

use super::report::kind_label;
use super::units::{bytes, duration, duration_us, truncate};
use crate::analysis::calls::CodeLocation;
use crate::analysis::findings::{Evidence, Finding, Severity};
use crate::analysis::hotspots::{Hotspot, TraceRef};
use crate::analysis::report::Report;

/// Shares of the request time from which a line's badge is a warning or an error.
const WARN_PERCENT: f64 = 15.0;
const ERROR_PERCENT: f64 = 40.0;
const CALL_WIDTH: usize = 40;

/// The marks that start an annotation's text: timing, a warning, an error, memory.
const MARKS: [&str; 4] = ["⏱", "⚠", "✖", "▣"];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Annotation {
    #[serde(flatten)]
    pub code: CodeLocation,
    /// `timing`, `memory`, or the finding's kind (`n_plus_one`, `slow_query`, …).
    pub kind: String,
    pub text: String,
    pub severity: Severity,
    /// The share of request time spent here (timing), or the finding's share.
    pub percent: f64,
    /// Traces through this code, slowest first, each with the spans to mark in it.
    pub traces: Vec<TraceRef>,
}

impl Annotation {
    /// The text without its leading mark, for places that show the severity their own
    /// way (a language client's diagnostics): `p95 812ms · 41% of GET /checkout · 23 calls`.
    pub fn message(&self) -> &str {
        MARKS.iter().find_map(|mark| self.text.strip_prefix(mark)).map(str::trim_start).unwrap_or(&self.text)
    }
}

/// Annotations for every code location: one for its timing, one for what it allocated
/// (where its spans say), one per problem found there (a problem seen in twenty requests
/// is one annotation, with all twenty traces).
pub fn annotations(report: &Report, hotspots: &[Hotspot]) -> Vec<Annotation> {
    let mut out: Vec<Annotation> = hotspots.iter().map(timing).collect();
    out.extend(hotspots.iter().filter_map(memory));
    let mut findings: Vec<Annotation> = report
        .findings
        .iter()
        .filter_map(|finding| {
            Some(Annotation {
                code: finding.code.clone()?,
                kind: finding.kind.name().to_string(),
                text: finding_text(finding)?,
                severity: finding.severity,
                percent: finding.percent,
                traces: TraceRef::of_finding(finding),
            })
        })
        .collect();
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.percent.total_cmp(&a.percent)));
    out.extend(findings);
    out
}

fn timing(spot: &Hotspot) -> Annotation {
    let severity = match spot.percent {
        p if p >= ERROR_PERCENT => Severity::Error,
        p if p >= WARN_PERCENT => Severity::Warn,
        _ => Severity::Info,
    };
    let calls = if spot.calls == 1 { "1 call".to_string() } else { format!("{} calls", spot.calls) };
    Annotation {
        code: spot.code.clone(),
        kind: "timing".to_string(),
        text: format!(
            "{} p95 {} · {}% of {} · {calls}",
            MARKS[0],
            duration(spot.p95_ns),
            spot.percent,
            spot.root_operation
        ),
        severity,
        percent: spot.percent,
        traces: spot.traces.clone(),
    }
}

/// What the spans at a location allocated: `▣ 12.4 MB per request · p95 48.0 MB`; `None`
/// when they say nothing of memory.
fn memory(spot: &Hotspot) -> Option<Annotation> {
    (spot.allocated_p95 > 0).then(|| Annotation {
        code: spot.code.clone(),
        kind: "memory".to_string(),
        text: memory_text(spot),
        severity: Severity::Info,
        percent: 0.0,
        traces: spot.traces.clone(),
    })
}

/// `▣ 12.4 MB per request · p95 48.0 MB`, as annotations and lists of allocating code say it.
pub fn memory_text(spot: &Hotspot) -> String {
    format!("{} {} per request · p95 {}", MARKS[3], bytes(spot.allocated_per_request), bytes(spot.allocated_p95))
}

/// The short form of a finding for the end of a line; `None` for findings that are not
/// about a line of code (bottlenecks are about services).
fn finding_text(finding: &Finding) -> Option<String> {
    let mark = if finding.severity == Severity::Error { MARKS[2] } else { MARKS[1] };
    let text = match &finding.evidence {
        Evidence::NPlusOne { call, .. } => format!("N+1: {}× {}", finding.count, truncate(call, CALL_WIDTH)),
        Evidence::SlowQuery { statement, .. } => format!("slow query: {}", truncate(statement, CALL_WIDTH)),
        Evidence::ErrorRootCause { reason, .. } => format!("error starts here: {}", truncate(reason, CALL_WIDTH)),
        Evidence::RepeatedCall { call } => format!("{}× the same call: {}", finding.count, truncate(call, CALL_WIDTH)),
        Evidence::Bottleneck { .. } => return None,
        _ => kind_label(finding.kind).to_string(),
    };
    Some(format!("{mark} {text} {}", cost(finding)))
}

/// What a finding costs, as the end of its annotation: `(41.0ms)` in one request, `·
/// 20/20 req · p95 7.4ms` across many.
fn cost(finding: &Finding) -> String {
    if finding.requests <= 1 && finding.occurrences <= 1 {
        return format!("({})", duration_us(finding.total_us));
    }
    format!("· {}/{} req · p95 {}", finding.traces.len(), finding.requests, duration_us(finding.p95_us))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::hotspots::hotspots;
    use crate::analysis::report::{Options, analyze};
    use crate::analysis::testing::{Run, trace};

    /// A `GET /orders` handler at shop/orders.py:42 running `statement` 15 times in a row.
    fn orders_request(statement: &str) -> crate::model::Trace {
        trace(&[(1, 0, "web", "GET /orders", 0, 100)])
            .attr(1, "code.file.path", "shop/orders.py")
            .attr(1, "code.line.number", "42")
            .run(
                Run { parent: 1, first: 10, n: 15, start_ms: 1, every_ms: 5, duration_ms: 4 },
                "db",
                "SELECT",
                &[("db.system", "postgresql"), ("db.statement", statement)],
            )
            .done()
    }

    #[test]
    fn a_handler_with_an_n_plus_one_gets_its_timing_and_the_finding() {
        let t = orders_request("SELECT * FROM items WHERE order_id = {i}");
        let report = analyze(&[&t], &Options::default());
        let notes = annotations(&report, &hotspots([&t]));
        let at_42: Vec<&str> = notes.iter().filter(|a| a.code.lineno == Some(42)).map(|a| a.text.as_str()).collect();
        assert!(at_42.contains(&"⏱ p95 100ms · 100% of GET /orders · 1 call"), "{at_42:?}");
        let timing = notes.iter().find(|a| a.kind == "timing").unwrap();
        assert_eq!(timing.message(), "p95 100ms · 100% of GET /orders · 1 call");
        let n_plus_one = notes.iter().find(|a| a.kind == "n_plus_one").expect("the N+1 lands on the handler's line");
        assert_eq!(n_plus_one.code.lineno, Some(42), "the queries carry no location: their caller's");
        assert!(
            n_plus_one.text.starts_with("✖ N+1: 15× SELECT * FROM items WHERE order_id = ?"),
            "{}",
            n_plus_one.text
        );
        assert!(n_plus_one.message().starts_with("N+1: 15× SELECT"), "{}", n_plus_one.message());
        assert!(!notes.iter().any(|a| a.kind == "memory"), "no memory said, no memory annotation");
        assert_eq!(n_plus_one.traces[0].marks.len(), 15);
        assert_eq!(n_plus_one.traces[0].root, "web: GET /orders");
    }

    #[test]
    fn a_location_whose_spans_allocate_gets_its_bytes_per_request_and_p95() {
        let t = trace(&[(1, 0, "web", "GET /report", 0, 100)])
            .attr(1, "code.file.path", "shop/report.py")
            .attr(1, "code.line.number", "9")
            .attr(1, "memory.allocated", "12400000")
            .done();
        let notes = annotations(&analyze(&[&t], &Options::default()), &hotspots([&t]));
        let memory = notes.iter().find(|a| a.kind == "memory").expect("a memory annotation");
        assert_eq!(memory.code.lineno, Some(9));
        assert_eq!(memory.text, "▣ 12.4 MB per request · p95 12.4 MB");
        assert_eq!(memory.message(), "12.4 MB per request · p95 12.4 MB");
    }

    #[test]
    fn a_problem_in_many_requests_is_one_annotation_marking_its_calls_in_every_trace() {
        let traces: Vec<crate::model::Trace> = (1..=20u128)
            .map(|id| {
                let mut t = orders_request("SELECT * FROM items WHERE order_id = ?");
                t.id = crate::model::TraceId(id);
                t
            })
            .collect();
        let report = analyze(&traces, &Options::default());
        let notes = annotations(&report, &hotspots(traces.iter()));
        let at_42: Vec<&Annotation> = notes.iter().filter(|a| a.code.lineno == Some(42)).collect();
        let kinds: Vec<&str> = at_42.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "n_plus_one").count(), 1, "one annotation for 20 requests");
        assert!(!kinds.contains(&"repeated_call"), "no 'the same call' for a parameterized query: {at_42:#?}");
        let n_plus_one = at_42.iter().find(|a| a.kind == "n_plus_one").unwrap();
        assert!(n_plus_one.text.ends_with("· 20/20 req · p95 60.0ms"), "{}", n_plus_one.text);
        assert_eq!(n_plus_one.traces.len(), 20);
        assert!(n_plus_one.traces.iter().all(|t| t.marks.len() == 15), "every trace marks its own calls");
    }
}
