//! Every view readable in a narrow window, on real traces (the shared fixtures and the
//! repository's samples): at 80, 120 and 200 columns no line is wider than the window in
//! display cells, and the text that names each row (a call's target, a statistics group,
//! a service, a call path) still tells different rows apart after it was cut to fit.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use vitals::analysis::aggregate::{Weight, aggregate};
use vitals::analysis::calls::Calls;
use vitals::analysis::compare::compare;
use vitals::analysis::dependencies::parse_dependencies;
use vitals::analysis::service_map::{ServiceMap, Thresholds};
use vitals::model::Trace;
use vitals::render::service_map::MapView;
use vitals::render::text::width;
use vitals::render::{Group, Picture, Rendered, StyledLine, View, detail, logs, render_trace};

mod common;
use common::shared_fixtures;

const WIDTHS: [usize; 3] = [80, 120, 200];

/// The traces of each fixture file that decodes, by file, plus the samples.
fn fixture_files() -> Vec<(String, Vec<Trace>)> {
    let shared = shared_fixtures();
    let mut files: Vec<PathBuf> = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/shop-traces.json")];
    // (The `hostile` inputs are the hardening issue's: they overflow analyses, not widths.)
    for folder in ["jaeger-hotrod", "jaeger-ui/traces", "zipkin", "tempo", "jaeger-api"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(shared.join(folder))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| !p.to_string_lossy().contains("manifest") && p.extension().is_some_and(|e| e != "md"))
            .collect();
        found.sort();
        files.extend(found);
    }
    let decoded: Vec<(String, Vec<Trace>)> = files
        .iter()
        .filter_map(|path| {
            let traces = vitals::formats::decode(&std::fs::read(path).ok()?).ok()?;
            (!traces.is_empty()).then(|| (name(path), traces))
        })
        .collect();
    assert!(decoded.len() > 40, "the fixtures decode: {}", decoded.len());
    decoded
}

fn name(path: &Path) -> String {
    path.to_string_lossy().rsplit_once("fixtures/").map_or_else(|| path.display().to_string(), |(_, n)| n.to_string())
}

/// Fails naming every line wider than `cells`.
fn assert_fits(lines: &[StyledLine], cells: usize, what: &str) {
    let wide: Vec<String> =
        lines.iter().filter(|l| width(&l.text) > cells).map(|l| format!("{:>4} {}", width(&l.text), l.text)).collect();
    assert!(wide.is_empty(), "{what} at {cells} columns has lines too wide:\n{}", wide.join("\n"));
}

/// Fails when two different things are shown under the same text: `shown` pairs what a
/// row shows with what it stands for.
fn assert_apart<K: Ord + std::fmt::Debug>(shown: impl IntoIterator<Item = (String, K)>, what: &str) {
    let mut by_text: BTreeMap<String, BTreeSet<K>> = BTreeMap::new();
    for (text, key) in shown {
        by_text.entry(text).or_default().insert(key);
    }
    let merged: Vec<String> =
        by_text.iter().filter(|(_, keys)| keys.len() > 1).map(|(text, keys)| format!("{text:?} ← {keys:?}")).collect();
    assert!(merged.is_empty(), "{what}: different rows read the same:\n{}", merged.join("\n"));
}

/// The text of the highlights of `group` on a line.
fn highlighted(line: &StyledLine, group: Group) -> Vec<&str> {
    line.highlights.iter().filter(|h| h.group == group).map(|h| &line.text[h.start..h.end]).collect()
}

#[test]
fn flame_graph_and_waterfall_fit_and_waterfall_names_stay_apart() {
    for (file, traces) in fixture_files() {
        for trace in &traces {
            for cells in WIDTHS {
                for critical_path in [false, true] {
                    let picture = Picture { critical_path, ..Picture::new(View::Flame, cells) };
                    let what = format!("the flame graph of {file} {}", trace.id);
                    assert_fits(&render_trace(trace, &picture).lines, cells, &what);
                }
                let waterfall = render_trace(trace, &Picture::new(View::Waterfall, cells));
                let what = format!("the waterfall of {file} {}", trace.id);
                assert_fits(&waterfall.lines, cells, &what);
                // The ruler starts where the bars do; names are left of it.
                let bars_at = waterfall.lines[1].text.len() - waterfall.lines[1].text.trim_start().len();
                let names = waterfall.targets.iter().filter(|t| t.start == 0).map(|t| {
                    let shown: String = waterfall.lines[t.line].text.chars().take(bars_at).collect();
                    let span = &trace.spans[t.span];
                    (shown.trim().to_string(), format!("{}: {}", span.service(), span.operation))
                });
                assert_apart(names, &what);
            }
        }
    }
}

#[test]
fn network_calls_fit_and_targets_stay_apart() {
    let mut checked = 0;
    for (file, traces) in fixture_files() {
        for trace in &traces {
            let calls = Calls::of(trace);
            for cells in WIDTHS {
                let out = render_trace(trace, &Picture::new(View::Network, cells));
                let what = format!("the network calls of {file} {}", trace.id);
                assert_fits(&out.lines, cells, &what);
                let Some(header) = out.lines.iter().position(|l| l.text.trim_start().starts_with("start")) else {
                    continue;
                };
                let call = out.lines[header].text.find("call").expect("a call column");
                let names = out.targets.iter().filter(|t| t.line > header).map(|t| {
                    let shown: String = out.lines[t.line].text.chars().skip(call).take_while(|&c| c != '█').collect();
                    let span = &trace.spans[t.span];
                    let described = calls.get(t.span).map(|c| calls.describe(c, span)).unwrap_or_default();
                    (shown.trim().to_string(), (span.service().to_string(), described))
                });
                assert_apart(names, &what);
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn span_statistics_fit_and_groups_stay_apart() {
    for (file, traces) in fixture_files() {
        for trace in &traces {
            for cells in WIDTHS {
                let out = render_trace(trace, &Picture::new(View::Stats, cells));
                let what = format!("the statistics of {file} {}", trace.id);
                assert_fits(&out.lines, cells, &what);
                for table in out.lines.split(|l| l.text.is_empty()).filter(|t| t[0].text.starts_with("By ")) {
                    let names: Vec<&str> = table.iter().skip(1).flat_map(|l| highlighted(l, Group::Label)).collect();
                    let distinct: BTreeSet<&str> = names.iter().copied().collect();
                    assert_eq!(distinct.len(), names.len(), "{what}: groups read the same:\n{names:#?}");
                    assert!(table[0].text.ends_with("% self"), "the share of self time stays: {}", table[0].text);
                }
            }
        }
    }
}

#[test]
fn span_details_fit_and_attribute_keys_stay_apart() {
    for (file, traces) in fixture_files() {
        for trace in &traces {
            for span in (0..trace.spans.len()).take(40) {
                for cells in WIDTHS {
                    let out = detail::render(trace, span, &[], cells).rendered;
                    let what = format!("the details of span {span} of {file} {}", trace.id);
                    assert_fits(&out.lines, cells, &what);
                    let logs = logs::of_span(trace, span, true, &[], None, cells).rendered;
                    assert_fits(&logs.lines, cells, &format!("the log lines of span {span} of {file} {}", trace.id));
                    let keys: Vec<&str> = out
                        .lines
                        .iter()
                        .filter(|l| l.text.starts_with("  ") && !l.text.starts_with("  +"))
                        .flat_map(|l| highlighted(l, Group::Label))
                        .collect();
                    let original: BTreeSet<&str> = trace.spans[span]
                        .attributes
                        .iter()
                        .chain(&trace.spans[span].resource.attributes)
                        .map(|a| a.key.as_str())
                        .collect();
                    let shown: BTreeSet<&str> = keys.iter().copied().collect();
                    assert!(shown.len() >= original.len().min(keys.len()), "{what}: keys read the same: {keys:?}");
                }
            }
        }
    }
}

/// The call paths a rendering lists (the targets drawn as `Label`), with the node each
/// stands for.
fn listed_paths(rendered: &Rendered) -> Vec<(String, usize)> {
    rendered
        .targets
        .iter()
        .filter(|t| rendered.lines[t.line].highlights.iter().any(|h| h.group == Group::Label && h.start == t.start))
        .map(|t| (rendered.lines[t.line].text[t.start..t.end].to_string(), t.span))
        .collect()
}

#[test]
fn aggregated_flame_graphs_fit_and_their_paths_stay_apart() {
    let all = fixture_files();
    let mut every: Vec<&Trace> = Vec::new();
    for (file, traces) in &all {
        every.extend(traces);
        let flame = aggregate(traces, None, Weight::SelfTime);
        for cells in WIDTHS {
            let out = vitals::render::aggregate::render(&flame, file, cells);
            let what = format!("the aggregated flame graph of {file}");
            assert_fits(&out.lines, cells, &what);
            assert_apart(listed_paths(&out), &what);
        }
    }
    let flame = aggregate(every, None, Weight::SelfTime);
    for cells in WIDTHS {
        let out = vitals::render::aggregate::render(&flame, "every fixture", cells);
        assert_fits(&out.lines, cells, "the aggregated flame graph of every fixture");
        assert_apart(listed_paths(&out), "the aggregated flame graph of every fixture");
    }
}

#[test]
fn comparisons_fit_and_their_paths_stay_apart() {
    let mut compared = 0;
    for (file, traces) in fixture_files() {
        let Some(first) = traces.first() else { continue };
        for other in traces.iter().skip(1).take(4).chain([first]) {
            let diff = compare(first, other);
            for cells in WIDTHS {
                let out = vitals::render::compare::render(&diff, cells);
                let what = format!("the comparison of {} and {} in {file}", first.id, other.id);
                assert_fits(&out.rendered.lines, cells, &what);
                let latency = out.rendered.lines.iter().position(|l| l.text.starts_with("Latency")).unwrap();
                let paths = out.rendered.lines[latency + 2..]
                    .iter()
                    .take_while(|l| !l.text.is_empty() && !l.text.contains("more (vitals diff"))
                    .map(|l| highlighted(l, Group::Label).concat());
                let paths: Vec<String> = paths.collect();
                let distinct: BTreeSet<&String> = paths.iter().collect();
                assert_eq!(distinct.len(), paths.len(), "{what}: paths read the same:\n{paths:#?}");
            }
            compared += 1;
        }
    }
    assert!(compared > 40, "{compared}");
}

fn assert_map_fits(map: &ServiceMap, what: &str) {
    let mut views = vec![MapView::Tree { root: None }, MapView::Migration];
    for of in (0..map.services.len()).take(12) {
        views.extend([MapView::Tree { root: Some(of) }, MapView::Callers { of }, MapView::Details { of }]);
    }
    for view in views {
        for cells in WIDTHS {
            let out = vitals::render::service_map::render(map, view, cells);
            let what = format!("{view:?} of the service map of {what}");
            assert_fits(&out.lines, cells, &what);
            let names = out.targets.iter().map(|t| (out.lines[t.line].text[t.start..t.end].to_string(), t.span));
            assert_apart(names, &what);
            if map.bottleneck.is_some() && matches!(view, MapView::Tree { root: None }) {
                assert!(
                    out.plain_text().contains("◆ bottleneck"),
                    "{what} keeps the bottleneck:\n{}",
                    out.plain_text()
                );
            }
        }
    }
}

#[test]
fn service_maps_fit_keep_health_and_the_bottleneck_and_names_stay_apart() {
    let all = fixture_files();
    for (file, traces) in &all {
        let map = ServiceMap::from_traces(traces, &Thresholds::default());
        assert_map_fits(&map, file);
    }
    let shop = &all[0].1;
    let map = ServiceMap::from_traces(shop, &Thresholds::default());
    let tree = vitals::render::service_map::render(&map, MapView::Tree { root: None }, 80).plain_text();
    for health in ["critical", "healthy", "degraded"] {
        assert!(tree.contains(&format!(" · {health}")), "the health column stays at 80 columns:\n{tree}");
    }
    for file in ["small.json", "large.json"] {
        let bytes = std::fs::read(shared_fixtures().join("jaeger-ui/dependencies").join(file)).unwrap();
        let map = ServiceMap::from_dependencies(&parse_dependencies(&bytes).unwrap());
        assert_map_fits(&map, file);
    }
}

#[test]
fn the_critical_path_legend_of_a_hostile_trace_says_no_impossible_number() {
    // Its sections' lengths overflowed a u64 sum (see the fixtures' hostile/README.md).
    let bytes = std::fs::read(shared_fixtures().join("hostile/jaeger-12427-15196.min.json")).unwrap();
    for trace in vitals::formats::decode(&bytes).unwrap() {
        for view in [View::Flame, View::Waterfall] {
            let out = render_trace(&trace, &Picture { critical_path: true, ..Picture::new(view, 80) });
            let text = out.plain_text();
            let legend = text.lines().find(|l| l.starts_with("━ critical path:")).expect("a legend");
            let total = vitals::render::units::duration(trace.duration_ns());
            assert!(legend.contains(&format!(" of {total}")), "{legend}");
            assert_fits(&out.lines, 80, "a hostile trace");
        }
    }
}

#[test]
fn analysis_reports_fit_with_every_finding_whole_and_every_line_of_it_opening_it() {
    use vitals::analysis::report::{Options, analyze};
    use vitals::render::{findings::explain_report, report};
    for (file, traces) in fixture_files() {
        let mut result = analyze(&traces, &Options::default());
        explain_report(&mut result);
        for cells in WIDTHS {
            let drawn = report::render(&result, "a title", cells);
            assert_fits(&drawn.rendered.lines, cells, &format!("the report of {file}"));
            // Wrapped, nothing is lost: each message and suggestion reads whole when its
            // lines are joined, and every line it took opens the finding.
            let dense: String =
                drawn.rendered.lines.iter().flat_map(|l| l.text.chars()).filter(|c| !c.is_whitespace()).collect();
            for finding in &result.findings {
                // Compared without spaces: a word longer than a line is split where it must.
                let message: String =
                    vitals::render::text::clean(&finding.message).chars().filter(|c| !c.is_whitespace()).collect();
                assert!(dense.contains(&message), "{file} at {cells}: {message:?} is cut");
            }
            let opening: BTreeSet<usize> = drawn.items.iter().map(|i| i.line).collect();
            let lines_of_findings = drawn
                .rendered
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.text.starts_with("      ") && !l.text.trim().is_empty())
                .filter(|(n, _)| {
                    *n < drawn.rendered.lines.iter().position(|l| l.text == "Hot functions (self time)").unwrap()
                });
            for (n, line) in lines_of_findings {
                assert!(opening.contains(&n), "{file} at {cells}: line {n} {:?} opens nothing", line.text);
            }
        }
    }
}
