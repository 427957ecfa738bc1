//! Colours keep their meaning: a service has one colour in every trace and view, and the
//! critical path is marked without the error colours (and without colour at all).

use std::collections::{BTreeMap, BTreeSet};

use vitals::analysis::aggregate::{Weight, aggregate};
use vitals::model::Trace;
use vitals::render::{Group, Picture, Rendered, View, render_trace};

fn shop() -> Vec<Trace> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/shop-traces.json");
    vitals::formats::decode(&std::fs::read(path).unwrap()).unwrap()
}

/// The palette colours (`VitalsService<n>` text, `VitalsFlame<n>` labels) each service's
/// cells are drawn in, adding to `found`; `service_of` names a target's service.
fn colours_by_service(
    out: &Rendered,
    service_of: impl Fn(usize) -> String,
    found: &mut BTreeMap<String, BTreeSet<u8>>,
) {
    for target in &out.targets {
        for h in &out.lines[target.line].highlights {
            if let Group::Service(n) | Group::Flame(n) = h.group
                && h.start < target.end
                && target.start < h.end
            {
                found.entry(service_of(target.span)).or_default().insert(n);
            }
        }
    }
}

#[test]
fn a_service_has_the_same_colour_in_every_trace_and_view() {
    let traces = shop();
    // postgres is the third service of a checkout and the second of a product listing.
    let checkout = traces.iter().find(|t| t.root().is_some_and(|r| r.operation == "POST /checkout")).unwrap();
    let products = traces.iter().find(|t| t.root().is_some_and(|r| r.operation == "GET /products")).unwrap();
    let mut seen: BTreeMap<String, BTreeSet<u8>> = BTreeMap::new();
    for trace in [checkout, products] {
        for view in [View::Flame, View::Waterfall, View::Network] {
            let out = render_trace(trace, &Picture::new(view, 120));
            colours_by_service(&out, |i| trace.spans[i].service().to_string(), &mut seen);
        }
    }
    let flame = aggregate(&traces, None, Weight::SelfTime);
    let out = vitals::render::aggregate::render(&flame, "shop", 120);
    colours_by_service(&out, |node| flame.nodes[node].service.to_string(), &mut seen);
    for service in ["frontend", "postgres", "redis", "checkout"] {
        let colours = &seen[service];
        assert_eq!(colours.len(), 1, "{service} is drawn in one colour everywhere, not {colours:?}");
    }
}

#[test]
fn the_critical_path_never_takes_the_error_colours_and_shows_without_colour() {
    let error_colours = [Group::Error, Group::FlameError, Group::Critical, Group::Slower, Group::SlowerLabel];
    for trace in shop() {
        for view in [View::Flame, View::Waterfall] {
            let plain = render_trace(&trace, &Picture::new(view, 120));
            let marked = render_trace(&trace, &Picture { critical_path: true, ..Picture::new(view, 120) });
            let mut critical_cells = 0;
            for target in marked.targets.iter().filter(|t| !trace.spans[t.span].is_error()) {
                let line = &marked.lines[target.line];
                for h in line.highlights.iter().filter(|h| h.start < target.end && target.start < h.end) {
                    let text = &line.text[h.start.max(target.start)..h.end.min(target.end)];
                    if h.group == Group::CriticalLabel || text.contains('━') {
                        critical_cells += 1;
                        assert!(
                            !error_colours.contains(&h.group),
                            "{text:?} of a span that did not fail is {}",
                            h.group
                        );
                    }
                }
            }
            assert!(critical_cells > 0, "{view:?} of {} marks its critical path", trace.id);
            assert!(!plain.plain_text().contains('━'), "{view:?}: nothing is marked until asked");
            let text = marked.plain_text();
            assert!(text.contains("━ critical path:"), "{view:?}: the legend names the mark\n{text}");
            let marked_rows = text.lines().skip(2).filter(|l| l.contains('━') && !l.contains("critical path")).count();
            assert!(marked_rows > 0, "{view:?}: the path is visible without colour\n{text}");
        }
    }
}
