//! What the editor writes at the end of a line of code: the cost of the spans made there
//! (`⏱ p95 812ms · 41% of GET /checkout · 23 calls`) and the findings about it
//! (`⚠ N+1: 15× SELECT … (41ms)`), each with the traces that went through it.

use std::collections::HashMap;

use serde::Serialize;

use super::report::kind_label;
use super::units::{duration, truncate};
use crate::analysis::calls::CodeLocation;
use crate::analysis::findings::{Evidence, Finding, FindingKind, Severity};
use crate::analysis::hotspots::{Hotspot, TraceRef};
use crate::analysis::report::Report;

/// Shares of the request time from which a line's badge is a warning or an error.
const WARN_PERCENT: f64 = 15.0;
const ERROR_PERCENT: f64 = 40.0;
const CALL_WIDTH: usize = 40;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Annotation {
    #[serde(flatten)]
    pub code: CodeLocation,
    /// `timing`, or the finding's kind (`n_plus_one`, `slow_query`, …).
    pub kind: String,
    pub text: String,
    pub severity: Severity,
    /// The share of request time spent here (timing), or the finding's share.
    pub percent: f64,
    /// Traces through this code, slowest first.
    pub traces: Vec<TraceRef>,
    /// Spans to mark when the first trace opens (the N+1's siblings).
    pub span_ids: Vec<String>,
}

/// Annotations for every code location: one for its timing, one per kind of finding.
pub fn annotations(report: &Report, hotspots: &[Hotspot]) -> Vec<Annotation> {
    let mut out: Vec<Annotation> = hotspots.iter().map(timing).collect();
    let roots: HashMap<&str, String> = report
        .traces
        .iter()
        .map(|t| (t.trace_id.as_str(), format!("{}: {}", t.root_service, t.root_operation)))
        .collect();
    let mut by_place: HashMap<(CodeLocation, FindingKind), Vec<&Finding>> = HashMap::new();
    for finding in &report.findings {
        if let Some(code) = &finding.code {
            by_place.entry((code.clone(), finding.kind)).or_default().push(finding);
        }
    }
    let mut findings: Vec<Annotation> = by_place
        .into_iter()
        .filter_map(|((code, _), mut group)| {
            group.sort_by_key(|f| std::cmp::Reverse(f.total_us));
            let worst = group[0];
            let text = finding_text(worst)?;
            let traces = group
                .iter()
                .map(|f| TraceRef {
                    trace_id: f.trace_id.clone(),
                    span_id: f.span_ids.first().cloned().unwrap_or_default(),
                    duration_ns: f.total_us * 1000,
                    root: roots.get(f.trace_id.as_str()).cloned().unwrap_or_default(),
                })
                .collect();
            Some(Annotation {
                code,
                kind: worst.kind.name().to_string(),
                text,
                severity: worst.severity,
                percent: worst.percent,
                traces,
                span_ids: worst.span_ids.clone(),
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
        text: format!("⏱ p95 {} · {}% of {} · {calls}", duration(spot.p95_ns), spot.percent, spot.root_operation),
        severity,
        percent: spot.percent,
        traces: spot.traces.clone(),
        span_ids: Vec::new(),
    }
}

/// The short form of a finding for the end of a line; `None` for findings that are not
/// about a line of code (bottlenecks are about services).
fn finding_text(finding: &Finding) -> Option<String> {
    let total = duration(finding.total_us * 1000);
    let mark = if finding.severity == Severity::Error { "✖" } else { "⚠" };
    let text = match &finding.evidence {
        Evidence::NPlusOne { call, .. } => format!("N+1: {}× {} ({total})", finding.count, truncate(call, CALL_WIDTH)),
        Evidence::SlowQuery { statement, .. } => format!("slow query {total}: {}", truncate(statement, CALL_WIDTH)),
        Evidence::ErrorRootCause { reason, .. } => format!("error starts here: {}", truncate(reason, CALL_WIDTH)),
        Evidence::RepeatedCall { call } => format!("{}× the same call: {}", finding.count, truncate(call, CALL_WIDTH)),
        Evidence::Bottleneck { .. } => return None,
        _ => format!("{}: {total}", kind_label(finding.kind)),
    };
    Some(format!("{mark} {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::hotspots::hotspots;
    use crate::analysis::report::{Options, analyze};
    use crate::analysis::testing::{Run, trace};

    #[test]
    fn a_handler_with_an_n_plus_one_gets_its_timing_and_the_finding() {
        let t = trace(&[(1, 0, "web", "GET /orders", 0, 100)])
            .attr(1, "code.file.path", "shop/orders.py")
            .attr(1, "code.line.number", "42")
            .run(
                Run { parent: 1, first: 10, n: 15, start_ms: 1, every_ms: 5, duration_ms: 4 },
                "db",
                "SELECT",
                &[("db.system", "postgresql"), ("db.statement", "SELECT * FROM items WHERE order_id = {i}")],
            )
            .done();
        let report = analyze(&[&t], &Options::default());
        let notes = annotations(&report, &hotspots([&t]));
        let at_42: Vec<&str> = notes.iter().filter(|a| a.code.lineno == Some(42)).map(|a| a.text.as_str()).collect();
        assert!(at_42.contains(&"⏱ p95 100ms · 100% of GET /orders · 1 call"), "{at_42:?}");
        let n_plus_one = notes.iter().find(|a| a.kind == "n_plus_one").expect("the N+1 lands on the handler's line");
        assert_eq!(n_plus_one.code.lineno, Some(42), "the queries carry no location: their caller's");
        assert!(
            n_plus_one.text.starts_with("✖ N+1: 15× SELECT * FROM items WHERE order_id = ?"),
            "{}",
            n_plus_one.text
        );
        assert_eq!(n_plus_one.span_ids.len(), 15);
        assert_eq!(n_plus_one.traces[0].root, "web: GET /orders");
    }
}
