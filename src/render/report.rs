//! The analysis report as styled lines: findings (most severe first) with their evidence
//! and advice, hot functions, and the critical path of the slowest trace. Each line that
//! stands for a span or a code location is listed, so that the editor can open it.

use serde::Serialize;

use super::style::{Group, Rendered, StyledLine};
use super::text::wrap_styled;
use super::units::{duration_us, plural, truncate};
use crate::analysis::calls::CodeLocation;
use crate::analysis::findings::{Finding, FindingKind, Severity};
use crate::analysis::hotspots::TraceRef;
use crate::analysis::report::{Report, TraceAnalysis};
use crate::model::SmolStr;

/// What a line of the report opens: a span of a trace, and the code it ran when known.
/// What is not known is left out rather than sent as nil, which Lua would see as vim.NIL.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReportItem {
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<SmolStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<SmolStr>,
    /// The other spans of the finding (N+1 siblings), to mark in the trace view.
    pub span_ids: Vec<SmolStr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeLocation>,
    /// For a finding seen in several traces: all of them, worst first, each with its own
    /// spans to mark (the report's `t` lists them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<TraceRef>,
}

impl ReportItem {
    /// A line that opens `span_id` in trace `trace_id`.
    pub fn span(trace_id: String, span_id: String) -> Self {
        ReportItem {
            line: 0,
            trace_id: Some(trace_id.into()),
            span_id: Some(span_id.into()),
            span_ids: Vec::new(),
            code: None,
            traces: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RenderedReport {
    #[serde(flatten)]
    pub rendered: Rendered,
    pub items: Vec<ReportItem>,
    /// Lines longer than this wrap, their continuations indented under their text; 0
    /// leaves lines as they are (a drawing already fitted to its width).
    #[serde(skip)]
    pub width: usize,
}

impl RenderedReport {
    /// A report whose prose wraps at `width` columns.
    pub fn wrapped_at(width: usize) -> Self {
        RenderedReport { width, ..RenderedReport::default() }
    }

    /// Adds a line, wrapped to the width; every line it takes opens `item`, if any.
    pub fn push(&mut self, line: StyledLine, item: Option<&ReportItem>) {
        let lines = match self.width {
            0 => vec![line],
            width => wrap_styled(&line, width, hanging_indent(&line.text)),
        };
        for line in lines {
            if let Some(item) = item {
                self.items.push(ReportItem { line: self.rendered.lines.len(), ..item.clone() });
            }
            self.rendered.lines.push(line);
        }
    }
}

/// Where a wrapped line's continuations start: under its text, after its indentation and
/// a leading mark (`→ `, `✖ `).
fn hanging_indent(text: &str) -> usize {
    let indent = text.len() - text.trim_start_matches(' ').len();
    let rest = &text[indent..];
    let mark = ["→ ", "✖ ", "⚠ ", "• ", "✔ ", "? "].iter().find(|m| rest.starts_with(*m)).map_or(0, |_| 2);
    indent + mark
}

pub fn kind_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::ErrorRootCause => "error root cause",
        FindingKind::NPlusOne => "N+1",
        FindingKind::SlowQuery => "slow query",
        FindingKind::Bottleneck => "bottleneck",
        FindingKind::RepeatedCall => "repeated call",
        FindingKind::SequentialCalls => "sequential calls",
        FindingKind::DominantSelfTime => "self time",
        FindingKind::QueueWait => "queue wait",
    }
}

fn severity_mark(severity: Severity) -> (&'static str, Group) {
    match severity {
        Severity::Error => ("✖", Group::Error),
        Severity::Warn => ("⚠", Group::Warning),
        Severity::Info => ("•", Group::Key),
    }
}

/// `title` names what was analyzed (`frontend, last hour`); prose wraps at `width`.
pub fn render(report: &Report, title: &str, width: usize) -> RenderedReport {
    let mut out = RenderedReport::wrapped_at(width);
    let mut heading = StyledLine::default();
    let traces = report.traces.len();
    heading.push(&format!("Analysis of {traces} trace{} · {title}", plural(traces)), Some(Group::Title));
    out.push(heading, None);
    section(&mut out, &format!("Findings ({})", report.findings.len()));
    if report.findings.is_empty() {
        out.push(StyledLine::styled("  nothing stands out: no N+1, slow query, error or bottleneck", Group::Dim), None);
    }
    for finding in &report.findings {
        finding_lines(&mut out, finding);
    }
    section(&mut out, "Hot functions (self time)");
    for hot in &report.hot_functions {
        let mut line = StyledLine::default();
        line.push(&format!("  {:>5.1}%  {:>8}  ", hot.percent, duration_us(hot.self_us)), Some(Group::Duration));
        line.push(&truncate(&hot.name, 50), None);
        line.push(&format!("  {}", hot.service), Some(Group::Dim));
        if let Some(code) = &hot.code {
            line.push(&format!("  {}", code.describe()), Some(Group::Label));
        }
        let code = hot.code.clone();
        let item =
            ReportItem { line: 0, trace_id: None, span_id: None, span_ids: Vec::new(), code, traces: Vec::new() };
        push_item(&mut out, line, item);
    }
    if let Some(slowest) = report.traces.iter().max_by_key(|t| t.duration_us) {
        critical_path_lines(&mut out, slowest);
    }
    out
}

pub(super) fn section(out: &mut RenderedReport, title: &str) {
    out.push(StyledLine::default(), None);
    out.push(StyledLine::styled(title, Group::Title), None);
}

pub(super) fn push_item(out: &mut RenderedReport, line: StyledLine, item: ReportItem) {
    out.push(line, Some(&item));
}

/// A finding: what, where and what it costs in all (`×15 · 148ms · 20/20 requests`), its
/// message, advice and code location, and which trace `<CR>` opens (the worst; `t` lists
/// them all).
fn finding_lines(out: &mut RenderedReport, finding: &Finding) {
    let (mark, group) = severity_mark(finding.severity);
    let mut head = StyledLine::default();
    head.push(&format!("  {mark} {:<18}", kind_label(finding.kind)), Some(group));
    head.push(&format!("{} {}", finding.service, truncate(&finding.operation, 40)), None);
    let count = if finding.count > 1 { format!(" ×{}", finding.count) } else { String::new() };
    head.push(&format!("{count}  {}", duration_us(finding.impact_us)), Some(Group::Duration));
    let traces = finding.traces.len();
    if finding.requests > 1 {
        head.push(&format!(" · {traces}/{} requests", finding.requests), Some(Group::Dim));
    } else if finding.percent > 0.0 && finding.percent < 100.0 {
        head.push(&format!(" ({}%)", finding.percent), Some(Group::Dim));
    }
    let item = ReportItem {
        line: 0,
        trace_id: Some(finding.trace_id.clone()),
        span_id: finding.span_ids.first().cloned(),
        span_ids: finding.span_ids.clone(),
        code: finding.code.clone(),
        traces: if traces > 1 { TraceRef::of_finding(finding) } else { Vec::new() },
    };
    push_item(out, head, item.clone());
    let mut message = StyledLine::default();
    message.push(&format!("      {}", finding.message), None);
    push_item(out, message, item.clone());
    let mut advice = StyledLine::default();
    advice.push(&format!("      → {}", finding.suggestion), Some(Group::Key));
    push_item(out, advice, item.clone());
    if let Some(code) = &finding.code {
        let mut at = StyledLine::default();
        at.push(&format!("      at {}", code.describe()), Some(Group::Label));
        push_item(out, at, item.clone());
    }
    let mut worst = StyledLine::default();
    let short_id = &finding.trace_id[..finding.trace_id.len().min(12)];
    let which = match finding.traces.first() {
        Some(first) if traces > 1 => {
            format!("      worst trace {short_id} ({}) · t: all {traces} traces", duration_us(first.total_us))
        }
        _ => format!("      trace {short_id}"),
    };
    worst.push(&which, Some(Group::Dim));
    push_item(out, worst, item);
}

/// Who the slowest trace waited for: critical-path time per service and operation, most
/// first (each line opens the trace at that operation's longest section).
fn critical_path_lines(out: &mut RenderedReport, trace: &TraceAnalysis) {
    section(
        out,
        &format!(
            "Critical path of the slowest trace ({}, {} {}, {})",
            &trace.trace_id[..trace.trace_id.len().min(12)],
            trace.root_service,
            trace.root_operation,
            duration_us(trace.duration_us)
        ),
    );
    let mut owners: Vec<(String, u64, &str)> = Vec::new();
    for section in &trace.critical_path {
        let who = format!("{} {}", section.service, truncate(&section.operation, 60));
        let length = section.end_us.saturating_sub(section.start_us);
        match owners.iter_mut().find(|(w, _, _)| *w == who) {
            Some(owner) => owner.1 = owner.1.saturating_add(length),
            None => owners.push((who, length, &section.span_id)),
        }
    }
    owners.sort_by_key(|(_, us, _)| std::cmp::Reverse(*us));
    for (who, us, span_id) in owners.into_iter().take(8) {
        let mut line = StyledLine::default();
        let share = if trace.duration_us == 0 { 0.0 } else { us as f64 * 100.0 / trace.duration_us as f64 };
        line.push(&format!("  {share:>5.1}%  {:>8}  ", duration_us(us)), Some(Group::Duration));
        line.push(&who, None);
        push_item(out, line, ReportItem::span(trace.trace_id.clone(), span_id.to_string()));
    }
}
