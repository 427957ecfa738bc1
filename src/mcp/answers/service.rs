//! Answers about many traces: a service's, a window's, a file's.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::{Cut, MARKS_LISTED, SPANS_LISTED, TRACES_CITED, TraceRow, ms, time};
use crate::analysis::TraceSummary;
use crate::analysis::findings::{Finding, Severity};
use crate::analysis::hot::HotFunction;
use crate::analysis::hotspots::TraceRef;
use crate::analysis::regression::{Change, RegressionReport, Window};
use crate::analysis::report::Report;
use crate::analysis::service_map::{Health, ServiceMap};
use crate::model::{SmolStr, Trace};
use crate::render::annotations::Annotation;
use crate::render::regressions::sentence;
use crate::session::Annotated;

/// Findings of an analysis, costliest first.
const FINDINGS_LISTED: usize = 15;
/// Operations of a regression report, regressions first.
const OPERATIONS_LISTED: usize = 20;
/// Annotated lines of a file.
const LINES_LISTED: usize = 60;
/// Files named when a file has no annotated line.
const FILES_NAMED: usize = 10;

/// A finding as `vitals analyze --json` gives it, citing its worst traces only.
#[derive(Serialize)]
pub struct FindingRow {
    #[serde(flatten)]
    pub finding: Finding,
    /// Every trace it occurred in (`traces` lists the worst few).
    pub affected_traces: usize,
}

impl FindingRow {
    fn of(finding: &Finding) -> FindingRow {
        let mut finding = finding.clone();
        let affected_traces = finding.traces.len();
        finding.traces.truncate(TRACES_CITED);
        for occurrence in &mut finding.traces {
            occurrence.span_ids.truncate(MARKS_LISTED);
        }
        FindingRow { finding, affected_traces }
    }
}

/// What `analyze_service` answers.
#[derive(Serialize)]
pub struct Analysis {
    pub service: String,
    pub lookback: String,
    pub traces_analyzed: usize,
    /// One per problem, the costliest first, each with its evidence, its suggestion and
    /// the traces and spans it was seen in.
    pub findings: Cut<FindingRow>,
    pub hot_functions: Cut<HotFunction>,
    pub slowest_traces: Cut<TraceRow>,
}

pub fn analysis(service: &str, lookback: &str, report: &Report, traces: &[Arc<Trace>]) -> Analysis {
    let mut slowest: Vec<&Arc<Trace>> = traces.iter().collect();
    slowest.sort_by_key(|t| std::cmp::Reverse(t.duration_ns()));
    Analysis {
        service: service.to_string(),
        lookback: lookback.to_string(),
        traces_analyzed: traces.len(),
        findings: Cut::of(report.findings.iter().map(FindingRow::of).collect(), FINDINGS_LISTED),
        hot_functions: Cut::of(report.hot_functions.clone(), SPANS_LISTED),
        slowest_traces: Cut::of(slowest.into_iter().map(|t| TraceRow::from(TraceSummary::of(t))).collect(), 5),
    }
}

/// A service on the map.
#[derive(Serialize)]
pub struct ServiceRow {
    pub name: String,
    /// `database` or `peer` for a dependency that sends no traces, seen from its callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uninstrumented: Option<&'static str>,
    pub health: Health,
    pub requests: usize,
    pub errors: usize,
    pub p95_ms: f64,
    pub self_ms: f64,
    /// Its busiest operations.
    pub operations: Vec<String>,
}

#[derive(Serialize)]
pub struct CallRow {
    pub from: String,
    pub to: String,
    pub calls: u64,
    pub errors: u64,
}

/// What `service_map` answers.
#[derive(Serialize)]
pub struct MapAnswer {
    pub lookback: String,
    /// How many traces the map was drawn from (a sample when `per_service_limit` is set:
    /// some service had at least that many traces and more may exist).
    pub traces: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_service_limit: Option<usize>,
    /// The service that spent the most time itself.
    pub bottleneck: Option<String>,
    pub services: Vec<ServiceRow>,
    pub calls: Vec<CallRow>,
}

/// The map, or the part of it around `focus` (its callers and callees).
pub fn service_map(map: &ServiceMap, lookback: &str, focus: Option<usize>) -> MapAnswer {
    let edges = map.edges();
    let near = |i: usize| {
        focus.is_none_or(|f| i == f || edges.iter().any(|e| (e.from, e.to) == (f, i) || (e.from, e.to) == (i, f)))
    };
    let services = map
        .services
        .iter()
        .enumerate()
        .filter(|(i, _)| near(*i))
        .map(|(_, s)| ServiceRow {
            name: s.name.clone(),
            uninstrumented: s.virtual_kind,
            health: s.health,
            requests: s.requests,
            errors: s.errors,
            p95_ms: ms(s.p95_ns),
            self_ms: ms(s.self_ns),
            operations: s.operations.iter().take(3).map(|o| o.name.clone()).collect(),
        })
        .collect();
    let name = |i: usize| map.services.get(i).map_or_else(String::new, |s| s.name.clone());
    let calls = edges
        .iter()
        .filter(|e| focus.is_none_or(|f| e.from == f || e.to == f))
        .map(|e| CallRow { from: name(e.from), to: name(e.to), calls: e.calls, errors: e.errors })
        .collect();
    MapAnswer {
        lookback: lookback.to_string(),
        traces: map.basis.traces,
        per_service_limit: map.basis.per_service_limit,
        bottleneck: map.bottleneck.map(name),
        services,
        calls,
    }
}

/// Baseline against current, overall and per operation.
#[derive(Serialize)]
pub struct Regressions<'r> {
    pub service: &'r str,
    /// The windows compared, `from .. to`.
    pub baseline: String,
    pub current: String,
    pub overall: ChangeRow<'r>,
    /// Regressions first, then improvements, then the rest; busiest first.
    pub operations: Cut<ChangeRow<'r>>,
}

/// One comparison of the report, with its verdict in a sentence.
#[derive(Serialize)]
pub struct ChangeRow<'r> {
    pub summary: String,
    #[serde(flatten)]
    pub change: &'r Change,
}

impl<'r> ChangeRow<'r> {
    fn of(change: &'r Change) -> Self {
        ChangeRow { summary: sentence(change), change }
    }
}

pub fn regressions(report: &RegressionReport) -> Regressions<'_> {
    let window = |w: &Window| format!("{} .. {}", time(w.start_ns), time(w.end_ns));
    Regressions {
        service: &report.service,
        baseline: window(&report.windows.baseline),
        current: window(&report.windows.current),
        overall: ChangeRow::of(&report.overall),
        operations: Cut::of(report.operations.iter().map(ChangeRow::of).collect(), OPERATIONS_LISTED),
    }
}

/// An annotation of a line of code, as `code_hotspots` lists it.
#[derive(Serialize)]
pub struct LineNote {
    /// `timing`, or the finding's kind (`n_plus_one`, `slow_query`, …).
    pub kind: String,
    pub message: String,
    pub severity: Severity,
    /// The share of request time spent here (timing), or the finding's share.
    pub percent: f64,
    /// The traces through this line, slowest first, with the spans made here.
    pub traces: Cut<TraceCite>,
}

#[derive(Serialize)]
pub struct TraceCite {
    pub trace_id: SmolStr,
    pub span_id: SmolStr,
    pub duration_ms: f64,
    pub root: SmolStr,
    /// The spans to look at in that trace (the calls of an N+1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub span_ids: Vec<SmolStr>,
}

impl TraceCite {
    fn of(r: &TraceRef) -> TraceCite {
        TraceCite {
            trace_id: r.trace_id.clone(),
            span_id: r.span_id.clone(),
            duration_ms: ms(r.duration_ns),
            root: r.root.clone(),
            span_ids: r.marks.iter().take(MARKS_LISTED).cloned().collect(),
        }
    }
}

/// One annotated line of a file.
#[derive(Serialize)]
pub struct AnnotatedLine {
    /// 1-based.
    pub line: usize,
    pub code: String,
    pub annotations: Vec<LineNote>,
}

fn annotated_line(line: usize, code: &str, here: &[&Annotation]) -> AnnotatedLine {
    AnnotatedLine {
        line: line + 1,
        code: code.trim().chars().take(160).collect(),
        annotations: here
            .iter()
            .map(|a| LineNote {
                kind: a.kind.clone(),
                message: a.message().to_string(),
                severity: a.severity,
                percent: a.percent,
                traces: Cut::of(a.traces.iter().map(TraceCite::of).collect(), TRACES_CITED),
            })
            .collect(),
    }
}

/// What `code_hotspots` answers.
#[derive(Serialize)]
pub struct Hotspots {
    pub file: String,
    pub traces_analyzed: usize,
    /// The annotated lines, in file order.
    pub lines: Cut<AnnotatedLine>,
    /// When no line of the file is annotated: the files the traces do name, to try instead.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_in_traces: Vec<String>,
}

pub fn hotspots(
    file: &Path,
    lines: &[&str],
    placed: &BTreeMap<usize, Vec<&Annotation>>,
    annotated: &Annotated,
) -> Hotspots {
    let rows: Vec<AnnotatedLine> = placed
        .iter()
        .map(|(&line, here)| annotated_line(line, lines.get(line).copied().unwrap_or_default(), here))
        .collect();
    let mut files: Vec<String> = Vec::new();
    if rows.is_empty() {
        for path in annotated.annotations.iter().filter_map(|a| a.code.filepath.as_ref()) {
            if !files.contains(path) && files.len() < FILES_NAMED {
                files.push(path.clone());
            }
        }
    }
    Hotspots {
        file: file.display().to_string(),
        traces_analyzed: annotated.traces.len(),
        lines: Cut::of(rows, LINES_LISTED),
        files_in_traces: files,
    }
}
