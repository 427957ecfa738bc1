//! Regression detection results as text, one sentence per comparison, as people say it:
//! "Baseline P95 = 450ms, Current P95 = 280ms, −38%, improvement (p < 0.01, n = 212/198)";
//! the service's headline names the operations that moved.

use std::time::{Duration, UNIX_EPOCH};

use super::report::{RenderedReport, ReportItem, section};
use super::style::{Group, StyledLine};
use super::units::{duration, signed_percent};
use crate::analysis::regression::{Basis, Change, RegressionReport, Verdict, Window, WindowStats, relative};
use crate::model::DeploymentKey;

/// The report, its prose wrapped at `width`.
pub fn render(report: &RegressionReport, width: usize) -> RenderedReport {
    let mut out = RenderedReport::wrapped_at(width);
    let title = format!("Regressions · {}", report.service);
    out.push(StyledLine::styled(&title, Group::Title), None);
    out.push(StyledLine::styled(&sides(report), Group::Dim), None);
    if report.basis == (Basis::Latest { by_default: true })
        && report.seen.baseline.is_empty()
        && report.seen.current.is_empty()
    {
        let hint = format!(
            "{}'s requests carry no service.version (nor deployment.id) in their resource: its latest traffic is \
             compared; with versions, the newest version is compared with the one before it",
            report.service
        );
        out.push(StyledLine::styled(&hint, Group::Dim), None);
    }
    let method = match report.basis {
        // A saved baseline keeps latency sketches, not requests: see analysis::baselines.
        Basis::Baseline { .. } => format!(
            "P50 or P95 moved ≥ {:.0}% with 95% confidence intervals apart (from the sketches), at least {} requests a \
             side, per operation",
            report.options.min_change * 100.0,
            report.options.min_samples
        ),
        _ => format!(
            "Mann–Whitney U, α = {}, at least {} requests a side, per operation",
            report.options.alpha, report.options.min_samples
        ),
    };
    out.push(StyledLine::styled(&method, Group::Dim), None);
    section(&mut out, &format!("{} (all operations)", report.service));
    headline(&mut out, report);
    section(&mut out, &format!("Operations ({})", report.operations.len()));
    for change in &report.operations {
        change_lines(&mut out, change, None);
    }
    out
}

/// What is compared: two versions, or two windows (with the versions that served each).
fn sides(report: &RegressionReport) -> String {
    let windows = &report.windows;
    if let Basis::Versions { attribute, baseline, current } = &report.basis {
        let noun = match attribute {
            DeploymentKey::ServiceVersion => "version",
            DeploymentKey::DeploymentId => "deployment",
            DeploymentKey::InstanceId => "start-up",
        };
        return format!(
            "baseline {noun} {baseline} ({}) vs current {noun} {current} ({})",
            window(&windows.baseline),
            window(&windows.current)
        );
    }
    if let Basis::Baseline { name, saved_ns } = &report.basis {
        return format!(
            "baseline {name:?} saved {} ({}) vs current {}",
            moment(*saved_ns),
            window(&windows.baseline),
            window(&windows.current)
        );
    }
    let (run, runs) = match windows.gap_ns {
        Some(gap) => (" run", format!(" (the traffic came in runs: split at a {} quiet gap)", duration(gap))),
        None => ("", String::new()),
    };
    let served_by = |versions: &[String]| match versions {
        [] => String::new(),
        _ => format!(" ({})", versions.join(", ")),
    };
    format!(
        "baseline{run} {}{} vs current{run} {}{}{runs}",
        window(&windows.baseline),
        served_by(&report.seen.baseline),
        window(&windows.current),
        served_by(&report.seen.current),
    )
}

/// The service's verdict, drawn from its operations': the ones that moved, most first.
fn headline(out: &mut RenderedReport, report: &RegressionReport) {
    let (summary, overall) = (&report.summary, &report.overall);
    if summary.pooled {
        let label = "all operations pooled (none alone has enough requests):";
        return change_lines(out, overall, Some(label));
    }
    let worse = !summary.slower.is_empty() || !summary.more_errors.is_empty();
    let better = !summary.faster.is_empty() || !summary.fewer_errors.is_empty();
    let (mark, word, group) = match (worse, better) {
        (true, _) => verdict_mark(Verdict::Regression),
        (false, true) => verdict_mark(Verdict::Improvement),
        (false, false) => verdict_mark(Verdict::NoChange),
    };
    let mut head = StyledLine::default();
    head.push(&format!("  {mark} {word:<12}"), Some(group));
    head.push(&what_moved(report), None);
    // <CR> opens the slowest current request of the operation that moved most.
    let first = summary.slower.first().or(summary.more_errors.first()).or(summary.faster.first());
    let slowest = first.and_then(|name| operation(report, name)).map_or(overall.slowest, |c| c.slowest);
    let item = slowest.map(|(trace, span)| ReportItem::span(trace.to_string(), span.to_string()));
    out.push(head, item.as_ref());
    let (b, c) = (&overall.baseline, &overall.current);
    // The operations' error verdicts are in the headline; the pooled rates are numbers.
    let numbers = Change { errors: Verdict::NoChange, ..overall.clone() };
    let pooled = format!(
        "      all requests: P95 {} → {}, n = {}/{} · {}",
        time(b, b.p95_ns),
        time(c, c.p95_ns),
        b.count,
        c.count,
        details(&numbers)
    );
    out.push(StyledLine::styled(&pooled, Group::Dim), item.as_ref());
}

fn operation<'r>(report: &'r RegressionReport, name: &str) -> Option<&'r Change> {
    report.operations.iter().find(|c| c.operation.as_deref() == Some(name))
}

/// `slower: POST /checkout P95 +33% (p < 0.001) · faster: …`, or that nothing moved.
fn what_moved(report: &RegressionReport) -> String {
    let summary = &report.summary;
    let latency = |c: &Change| {
        let moved = signed_percent(100.0 * relative(c.baseline.p95_ns, c.current.p95_ns));
        let p = significance(c);
        format!("P95 {moved} ({p})")
    };
    let errors =
        |c: &Change| format!("errors {:.1}% → {:.1}%", c.baseline.error_rate * 100.0, c.current.error_rate * 100.0);
    let mut parts = Vec::new();
    for (label, names, says) in [
        ("slower", &summary.slower, &latency as &dyn Fn(&Change) -> String),
        ("more errors", &summary.more_errors, &errors),
        ("faster", &summary.faster, &latency),
        ("fewer errors", &summary.fewer_errors, &errors),
    ] {
        let moved = names.iter().filter_map(|name| operation(report, name)).map(|c| operation_says(c, says));
        if !names.is_empty() {
            parts.push(format!("{label}: {}", listed(moved)));
        }
    }
    if parts.is_empty() {
        let compared = report.operations.iter().filter(|c| c.latency != Verdict::NotEnoughData).count();
        let too_few = report.operations.len() - compared;
        let few = if too_few > 0 { format!(", {too_few} with too few requests") } else { String::new() };
        parts.push(format!("no operation changed significantly ({compared} compared{few})"));
    }
    parts.join(" · ")
}

/// `POST /checkout P95 +33% (p < 0.001)`.
fn operation_says(change: &Change, says: &dyn Fn(&Change) -> String) -> String {
    format!("{} {}", change.operation.as_deref().unwrap_or_default(), says(change))
}

/// At most three, then how many more.
fn listed(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    match items.len() {
        0..=3 => items.join(", "),
        n => format!("{} and {} more", items[..3].join(", "), n - 3),
    }
}

fn verdict_mark(verdict: Verdict) -> (&'static str, &'static str, Group) {
    match verdict {
        Verdict::Regression => ("✖", "regression", Group::Slower),
        Verdict::Improvement => ("✔", "improvement", Group::Faster),
        Verdict::NoChange => ("•", "no change", Group::Dim),
        Verdict::NotEnoughData => ("?", "too few", Group::Dim),
    }
}

/// `2026-11-24 13:05 UTC`
fn moment(ns: u64) -> String {
    let at = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(ns)).to_string();
    format!("{} UTC", at.get(..16).unwrap_or(&at).replace('T', " "))
}

/// `2026-11-24 13:00:00 – 14:00:00 UTC`
fn window(w: &Window) -> String {
    let at = |ns: u64| humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(ns)).to_string();
    let (from, to) = (at(w.start_ns), at(w.end_ns));
    let to = if from[..10] == to[..10] { to[11..19].to_string() } else { to[..19].replace('T', " ") };
    format!("{} – {to} UTC", from[..19].replace('T', " "))
}

/// A change's verdict, sentence and details; `label` names it (its operation by default).
fn change_lines(out: &mut RenderedReport, change: &Change, label: Option<&str>) {
    let (mark, word, group) = verdict_mark(change.latency);
    let mut head = StyledLine::default();
    head.push(&format!("  {mark} {word:<12}"), Some(group));
    if let Some(label) = label.or(change.operation.as_deref()) {
        head.push(&format!("{label}  "), Some(Group::Label));
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
    let p = significance(change);
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

/// What the verdict rests on: Mann–Whitney U's p-value, or for a saved baseline (whose
/// sketches keep no requests to test) its percentiles' confidence intervals.
fn significance(change: &Change) -> String {
    change.p_value.map_or_else(|| "95% intervals of the sketches".to_string(), p_text)
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
    use crate::analysis::regression::{Basis, Options, Sample, Windows, detect};
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
            deployment: None,
        };
        let report = detect("web", &[sample], Windows::last(2 * hour, hour), Basis::Ranges, Options::default());
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
        assert!(text.contains("all operations pooled (none alone has enough requests):  Baseline P95 = –"), "{text}");
    }

    #[test]
    fn the_headline_lists_three_operations_that_moved_then_how_many_more_and_the_sides_their_deployments() {
        let minute = 60_000_000_000u64;
        let mut samples = Vec::new();
        for (n, slower) in [120, 130, 140, 150, 160].into_iter().enumerate() {
            for side in 0..2u64 {
                samples.extend((0..40u64).map(|i| Sample {
                    operation: format!("GET /{n}"),
                    start_ns: side * 60 * minute + i * minute,
                    duration_ns: (100 + i) * if side == 1 { slower } else { 100 } * 10_000,
                    error: false,
                    trace_id: TraceId(u128::from(side * 100 + i) + 1),
                    span_id: SpanId(i + 1),
                    deployment: None,
                }));
            }
        }
        let basis =
            Basis::Versions { attribute: DeploymentKey::DeploymentId, baseline: "d-1".into(), current: "d-2".into() };
        let mut report =
            detect("web", &samples, Windows::last(120 * minute, 60 * minute), Basis::Ranges, Options::default());
        let text = render(&report, 400).rendered.plain_text();
        let headline = "✖ regression  slower: GET /4 P95 +60% (p < 0.001), GET /3 P95 +50% (p < 0.001), GET /2 P95 +40% (p < 0.001) and 2 more";
        assert!(text.contains(headline), "{text}");
        report.basis = basis;
        let text = render(&report, 400).rendered.plain_text();
        assert!(
            text.contains("baseline deployment d-1 (1970-01-01 00:00:00 – 01:00:00 UTC) vs current deployment d-2"),
            "{text}"
        );
    }
}
