//! Drives decoded traces through everything a user can ask of them: every analysis and
//! every drawing, at the widths given. Shared by the hostile-input tests
//! (`tests/hostile_inputs.rs`) and the fuzz targets (`fuzz/fuzz_targets/`), so that both
//! cover the same ground and a new analysis or view is added here once.
//!
//! Besides "no panic" (overflow checks are on in every test and fuzz build), it checks
//! what must hold of any trace however hostile: no span outlasts the decoders' limit or
//! starts after the latest time they accept, and no total is smaller than a part of it.

use vitals::analysis::aggregate::{AggregateFlame, Weight, aggregate};
use vitals::analysis::compare::compare;
use vitals::analysis::dependencies::service_calls;
use vitals::analysis::deployments::{newest_two, versions_in};
use vitals::analysis::hotspots::hotspots;
use vitals::analysis::regression::{self, Basis, Window, Windows};
use vitals::analysis::report::{Options, analyze};
use vitals::analysis::service_map::{ServiceMap, Thresholds};
use vitals::analysis::stats::{GroupBy, span_stats};
use vitals::analysis::{TraceSummary, self_times};
use vitals::formats::{jaeger_encode, otlp_encode};
use vitals::model::{LATEST_TIME_NS, MAX_SPAN_NS, Trace, VersionSeen};
use vitals::render::service_map::MapView;
use vitals::render::{
    Picture, Rendered, View, aggregate as aggregate_view, annotations, ansi, compare as compare_view,
};
use vitals::render::{detail, findings, logs, regressions, render_trace, report, service_map, summary_line};

/// Spans whose details are drawn, per trace: enough to reach every kind of span in a
/// fuzzed input without drawing 100,000 of them.
const DETAILED_SPANS: usize = 16;
/// Services whose regressions and aggregated flame graph are computed, per input.
const SERVICES: usize = 4;
/// Traces compared with the first one.
const COMPARED: usize = 3;

/// Every text drawn, one string a drawing, for tests that look for impossible numbers.
#[derive(Default)]
pub struct Drawn {
    pub texts: Vec<String>,
}

impl Drawn {
    fn add(&mut self, rendered: &Rendered) {
        for (n, line) in rendered.lines.iter().enumerate() {
            for h in &line.highlights {
                assert!(h.start <= h.end && line.text.get(h.start..h.end).is_some(), "highlight {h:?} off {line:?}");
            }
            assert!(!line.text.contains('\n'), "line {n} holds a line break: {line:?}");
        }
        for t in &rendered.targets {
            let line = rendered.lines.get(t.line).map_or("", |l| l.text.as_str());
            assert!(t.start <= t.end && line.get(t.start..t.end).is_some(), "target {t:?} off {line:?}");
        }
        // The terminal's encoding runs over every drawing too.
        let _ = ansi::to_terminal(&rendered.lines, true);
        self.texts.push(rendered.plain_text());
    }
}

/// Runs every analysis on `traces` and draws every view at each of `widths`.
pub fn everything(traces: &[Trace], widths: &[usize]) -> Drawn {
    let mut drawn = Drawn::default();
    for trace in traces {
        check_trace(trace);
        one_trace(trace, widths, &mut drawn);
    }
    together(traces, widths, &mut drawn);
    for trace in traces {
        let _ = jaeger_encode::trace(trace);
    }
    let _ = otlp_encode::export_request(traces, 0);
    drawn
}

/// What the decoders and the tree promise about times, and what statistics promise about
/// their sums.
fn check_trace(trace: &Trace) {
    for span in &trace.spans {
        assert!(span.duration_ns <= MAX_SPAN_NS, "span {} lasts {} ns", span.display_id(), span.duration_ns);
        assert!(span.start_ns <= LATEST_TIME_NS, "span {} starts at {} ns", span.display_id(), span.start_ns);
    }
    assert_eq!(trace.tree.preorder().len(), trace.spans.len(), "every span is in the tree once");
    let own = self_times(trace);
    for (i, span) in trace.spans.iter().enumerate() {
        assert!(own[i] <= span.duration_ns, "self time of {} exceeds its duration", span.display_id());
    }
    for by in [GroupBy::Service, GroupBy::Operation, GroupBy::Attribute("http.method".into())] {
        for row in span_stats(trace, &own, &by) {
            assert!(row.min_ns <= row.avg_ns && row.avg_ns <= row.max_ns, "{}: {row:?}", row.group);
            assert!(row.max_ns <= row.total_ns && row.self_total_ns <= row.total_ns, "{}: {row:?}", row.group);
        }
    }
}

fn one_trace(trace: &Trace, widths: &[usize], drawn: &mut Drawn) {
    let some_spans: Vec<usize> = (0..trace.spans.len()).take(3).collect();
    for &width in widths {
        for view in [View::Flame, View::Waterfall, View::Network, View::Stats] {
            drawn.add(&render_trace(trace, &Picture::new(view, width)));
        }
        for view in [View::Flame, View::Waterfall] {
            let picture = Picture { critical_path: true, marked: some_spans.clone(), ..Picture::new(view, width) };
            drawn.add(&render_trace(trace, &picture));
        }
        for span in (0..trace.spans.len()).take(DETAILED_SPANS) {
            drawn.add(&detail::render(trace, span, &[], width).rendered);
            drawn.add(&logs::of_span(trace, span, true, &[], None, width).rendered);
        }
    }
}

fn together(traces: &[Trace], widths: &[usize], drawn: &mut Drawn) {
    let mut analysis = analyze(traces, &Options::default());
    findings::explain_report(&mut analysis);
    let spots = hotspots(traces);
    let _ = annotations::annotations(&analysis, &spots);
    let summaries: Vec<TraceSummary> = traces.iter().map(TraceSummary::of).collect();
    let now_ns = traces.iter().map(Trace::end_ns).max().unwrap_or(0);
    let _ = service_calls(traces);
    let map = ServiceMap::from_traces(traces, &Thresholds::default());
    let mut services: Vec<&str> = traces.iter().flat_map(Trace::services).collect();
    services.sort_unstable();
    services.dedup();
    let mut flames: Vec<(String, AggregateFlame)> =
        vec![("every trace".to_string(), aggregate(traces, None, Weight::SelfTime))];
    let mut regression_reports = Vec::new();
    for service in services.iter().take(SERVICES) {
        flames.push((service.to_string(), aggregate(traces, Some(service), Weight::SelfTime)));
        let samples = regression::samples(traces, service);
        let starts: Vec<u64> = samples.iter().map(|s| s.start_ns).collect();
        let mut compared = vec![
            (Windows::latest(&starts, 3_600_000_000_000, now_ns), Basis::Latest { by_default: true }),
            (Windows::around(now_ns, 60_000_000_000), Basis::Around),
        ];
        let versions = versions_in(traces, service);
        if let Some((before, after)) = newest_two(&versions) {
            let seen = |v: &VersionSeen| Window { start_ns: v.first_seen_ns, end_ns: v.last_seen_ns.saturating_add(1) };
            let windows = Windows { baseline: seen(before), current: seen(after), gap_ns: None };
            let (baseline, current) = (before.version.clone(), after.version.clone());
            compared.push((windows, Basis::Versions { attribute: after.key, baseline, current }));
        }
        for (windows, basis) in compared {
            regression_reports.push(regression::detect(
                service,
                &samples,
                windows,
                basis,
                regression::Options::default(),
            ));
        }
    }
    for flame in &flames {
        check_flame(&flame.1);
    }
    let comparisons: Vec<_> = match traces.first() {
        Some(first) => traces.iter().take(COMPARED + 1).map(|other| compare(first, other)).collect(),
        None => Vec::new(),
    };
    for &width in widths {
        drawn.add(&report::render(&analysis, "hostile", width).rendered);
        drawn.texts.extend(summary_line::lines(&summaries, now_ns, width));
        for (title, flame) in &flames {
            drawn.add(&aggregate_view::render(flame, title, width));
        }
        for comparison in &comparisons {
            drawn.add(&compare_view::render(comparison, width).rendered);
        }
        for report in &regression_reports {
            drawn.add(&regressions::render(report, width).rendered);
        }
    }
    service_map_views(&map, widths, drawn);
}

/// Every view of a service map: the whole tree, the migration order, and the tree, the
/// callers and the details of its first services.
pub fn service_map_views(map: &ServiceMap, widths: &[usize], drawn: &mut Drawn) {
    let mut views = vec![MapView::Tree { root: None }, MapView::Migration];
    for of in (0..map.services.len()).take(SERVICES) {
        views.extend([MapView::Tree { root: Some(of) }, MapView::Callers { of }, MapView::Details { of }]);
    }
    for &width in widths {
        for &view in &views {
            drawn.add(&service_map::render(map, view, width));
        }
    }
}

/// A call path's total is its self time and its children's: never less than either.
fn check_flame(flame: &AggregateFlame) {
    for (i, node) in flame.nodes.iter().enumerate() {
        assert!(node.self_ns <= node.total_ns, "path {i}: {node:?}");
        if let Some(parent) = node.parent {
            assert!(node.total_ns <= flame.nodes[parent].total_ns, "path {i} outweighs its parent");
        }
    }
}
