//! Regression detection results as text, one sentence per comparison, as people say it:
//! "Baseline P95 = 450ms, Current P95 = 280ms, −38%, improvement (p < 0.01, n = 212/198)".

use std::time::{Duration, UNIX_EPOCH};

use super::report::{RenderedReport, ReportItem, section};
use super::style::{Group, StyledLine};
use super::units::{duration, signed_percent};
use crate::analysis::regression::{Change, RegressionReport, Verdict, Window, WindowStats, relative};

/// The report, its prose wrapped at `width`.
pub fn render(report: &RegressionReport, width: usize) -> RenderedReport {
    let mut out = RenderedReport::wrapped_at(width);
    let title = format!("Regressions · {}", report.service);
    out.push(StyledLine::styled(&title, Group::Title), None);
    let (run, runs) = match report.windows.gap_ns {
        Some(gap) => (" run", format!(" (the traffic came in runs: split at a {} quiet gap)", duration(gap))),
        None => ("", String::new()),
    };
    let windows = format!(
        "baseline{run} {} vs current{run} {}{runs}",
        window(&report.windows.baseline),
        window(&report.windows.current),
    );
    out.push(StyledLine::styled(&windows, Group::Dim), None);
    let method = format!(
        "Mann–Whitney U, α = {}, at least {} requests a side",
        report.options.alpha, report.options.min_samples
    );
    out.push(StyledLine::styled(&method, Group::Dim), None);
    section(&mut out, &format!("{} (all operations)", report.service));
    change_lines(&mut out, &report.overall);
    section(&mut out, &format!("Operations ({})", report.operations.len()));
    for change in &report.operations {
        change_lines(&mut out, change);
    }
    out
}

/// `2026-11-24 13:00:00 – 14:00:00 UTC`
fn window(w: &Window) -> String {
    let at = |ns: u64| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(ns)).to_string();
    let (from, to) = (at(w.start_ns), at(w.end_ns));
    let to = if from[..10] == to[..10] { to[11..19].to_string() } else { to[..19].replace('T', " ") };
    format!("{} – {to} UTC", from[..19].replace('T', " "))
}

fn change_lines(out: &mut RenderedReport, change: &Change) {
    let (mark, word, group) = match change.latency {
        Verdict::Regression => ("✖", "regression", Group::Slower),
        Verdict::Improvement => ("✔", "improvement", Group::Faster),
        Verdict::NoChange => ("•", "no change", Group::Dim),
        Verdict::NotEnoughData => ("?", "too few", Group::Dim),
    };
    let mut head = StyledLine::default();
    head.push(&format!("  {mark} {word:<12}"), Some(group));
    if let Some(operation) = &change.operation {
        head.push(&format!("{operation}  "), Some(Group::Label));
    }
    head.push(&sentence(change), None);
    let item = change.slowest.map(|(trace, span)| ReportItem::span(trace.to_string(), span.to_string()));
    let detail = StyledLine::styled(&format!("      {}", details(change)), Group::Dim);
    out.push(head, item.as_ref());
    out.push(detail, item.as_ref());
}

/// The verdict in one sentence.
pub fn sentence(change: &Change) -> String {
    let (before, after) = (&change.baseline, &change.current);
    let n = format!("n = {}/{}", before.count, after.count);
    let p95 = format!("Baseline P95 = {}, Current P95 = {}", time(before, before.p95_ns), time(after, after.p95_ns));
    let moved = signed_percent(100.0 * relative(before.p95_ns, after.p95_ns));
    let p = change.p_value.map_or_else(|| "no p".to_string(), p_text);
    match change.latency {
        Verdict::NotEnoughData => format!("{p95}, {n}: too few requests to tell"),
        Verdict::Regression => format!("{p95}, {moved}, regression ({p}, {n})"),
        Verdict::Improvement => format!("{p95}, {moved}, improvement ({p}, {n})"),
        Verdict::NoChange => format!("{p95}, {moved}, no significant change ({p}, {n})"),
    }
}

/// A percentile of a window, or `–` when the window had no requests.
fn time(window: &WindowStats, ns: u64) -> String {
    if window.count == 0 { "–".to_string() } else { duration(ns) }
}

/// `p < 0.001`, `p < 0.01`, `p = 0.03`, `p = 0.41`.
fn p_text(p: f64) -> String {
    match p {
        p if p < 0.001 => "p < 0.001".to_string(),
        p if p < 0.01 => "p < 0.01".to_string(),
        p => format!("p = {p:.2}"),
    }
}

/// `P50 120ms → 180ms · P99 900ms → 1.20s · errors 0.5% → 2.1% (up) · 3.5 → 3.3/min`
fn details(change: &Change) -> String {
    let (b, c) = (&change.baseline, &change.current);
    let errors = match change.errors {
        Verdict::Regression => " (up, significant)",
        Verdict::Improvement => " (down, significant)",
        _ => "",
    };
    format!(
        "P50 {} → {} · P99 {} → {} · errors {:.1}% → {:.1}%{errors} · {:.1} → {:.1} requests/min",
        time(b, b.p50_ns),
        time(c, c.p50_ns),
        time(b, b.p99_ns),
        time(c, c.p99_ns),
        b.error_rate * 100.0,
        c.error_rate * 100.0,
        b.per_minute,
        c.per_minute
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::regression::{Options, Sample, Windows, detect};
    use crate::model::{SpanId, TraceId};

    #[test]
    fn an_empty_window_reads_as_a_dash_not_zero() {
        let hour = 3_600_000_000_000u64;
        let sample = Sample {
            operation: "GET /".into(),
            start_ns: 3 * hour / 2,
            duration_ns: 5_000_000,
            error: false,
            trace_id: TraceId(1),
            span_id: SpanId(1),
        };
        let report = detect("web", &[sample], Windows::last(2 * hour, hour), Options::default());
        let text = render(&report, 120).rendered.plain_text();
        let narrow = render(&report, 60);
        let widest = narrow.rendered.lines.iter().map(|l| crate::render::text::width(&l.text)).max();
        assert!(widest <= Some(60), "{}", narrow.rendered.plain_text());
        assert!(
            narrow.items.iter().filter(|i| i.trace_id.is_some()).count() > 2,
            "every wrapped line opens the request"
        );
        assert!(text.contains("Baseline P95 = –, Current P95 = 5.00ms, n = 0/1: too few requests to tell"), "{text}");
        assert!(
            text.contains("baseline 1970-01-01 00:00:00 – 01:00:00 UTC vs current 1970-01-01 01:00:00 – 02:00:00 UTC")
        );
    }
}
