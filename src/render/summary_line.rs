//! One line per search result, for pickers and the terminal:
//! `frontend: GET /dispatch  712ms  52 spans  ✗ 2 errors  5m ago  frontend, driver +3`.

use crate::analysis::TraceSummary;

use super::layout::{Cell, Column, Table};
use super::text::Keep;
use super::units::{age, duration, plural};

const SHOWN_SERVICES: usize = 3;

/// One line per search result, aligned in columns that fit `width` cells: the root and
/// the duration stay; the services give way first, then the span count; the root is cut
/// in the middle before the age and the errors go. Results of only the matching spans
/// keep saying so (`9 of 15 spans matched`) before the root is shown whole.
pub fn lines(summaries: &[TraceSummary], now_ns: u64, width: usize) -> Vec<String> {
    let partial = summaries.iter().any(|s| s.matched_spans.is_some());
    let mut table = Table::new(vec![
        Column::name(9, 16).keep(Keep::Ends).comfort(5),
        Column::number(8),
        Column::number(if partial { 6 } else { 3 }),
        Column::word(7),
        Column::word(6),
        Column::name(2, 12).comfort(1),
    ])
    .gap(2);
    for summary in summaries {
        let spans = span_count(summary);
        let errors = match summary.error_count {
            0 => String::new(),
            1 => "✗ 1 error".to_string(),
            n => format!("✗ {n} errors"),
        };
        table.row(
            [
                format!("{}: {}", summary.root_service, summary.root_operation),
                duration(summary.duration_ns),
                spans,
                errors,
                age(summary.start_ns, now_ns),
                services(summary),
            ]
            .into_iter()
            .map(|text| Cell::new(text, None))
            .collect(),
        );
    }
    table.render(width).into_iter().map(|line| line.text).collect()
}

/// `52 spans`; `3 of 48 spans matched` when the backend returned only the matching spans
/// (the span count is 0 when it did not say how many the trace has).
fn span_count(summary: &TraceSummary) -> String {
    let plural = |n: usize| plural(n);
    match (summary.matched_spans, summary.span_count) {
        (None, total) => format!("{total} span{}", plural(total)),
        (Some(matched), 0) => format!("{matched} span{} matched", plural(matched)),
        (Some(matched), total) => format!("{matched} of {total} span{} matched", plural(total)),
    }
}

/// `frontend, driver, redis +1`.
pub fn services(summary: &TraceSummary) -> String {
    let shown: Vec<&str> = summary.services.iter().take(SHOWN_SERVICES).map(String::as_str).collect();
    let more = summary.services.len().saturating_sub(SHOWN_SERVICES);
    match (shown.is_empty(), more) {
        (true, _) => "no services".to_string(),
        (false, 0) => shown.join(", "),
        (false, more) => format!("{} +{more}", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_line_shows_root_duration_spans_services_errors_and_age() {
        let summary = TraceSummary {
            trace_id: "1".into(),
            root_service: "frontend".into(),
            root_operation: "GET /dispatch".into(),
            start_ns: 0,
            duration_ns: 712_000_000,
            span_count: 52,
            services: vec!["frontend".into(), "driver".into(), "redis".into(), "mysql".into()],
            error_count: 2,
            matched_spans: None,
        };
        let line = &lines(std::slice::from_ref(&summary), 300 * 1_000_000_000, 200)[0];
        for part in
            ["frontend: GET /dispatch", "712ms", "52 spans", "frontend, driver, redis +1", "✗ 2 errors", "5m ago"]
        {
            assert!(line.contains(part), "{line:?} lacks {part:?}");
        }
        let long = TraceSummary { root_operation: "GET /api/v2/customers/{id}/orders/{order}/items".into(), ..summary };
        let narrow = lines(&[long.clone(), long], 300 * 1_000_000_000, 60);
        for line in &narrow {
            assert!(crate::render::text::width(line) <= 60, "{line:?}");
            for part in ["712ms", "✗ 2 errors", "5m ago", "frontend: GET /a", "/items"] {
                assert!(line.contains(part), "at 60 columns {line:?} lacks {part:?}");
            }
        }
    }

    #[test]
    fn a_result_of_only_the_matching_spans_says_how_many_matched_of_how_many() {
        let summary = TraceSummary {
            trace_id: "1".into(),
            root_service: "frontend".into(),
            root_operation: "GET /cart".into(),
            start_ns: 0,
            duration_ns: 5_000_000,
            span_count: 48,
            services: vec!["frontend".into()],
            error_count: 0,
            matched_spans: Some(3),
        };
        let shown = |summary: &TraceSummary| lines(std::slice::from_ref(summary), 0, 120).remove(0);
        assert!(shown(&summary).contains("3 of 48 spans matched"), "{}", shown(&summary));
        let named = TraceSummary { root_operation: "POST /api/v2/checkout/{cart}/confirm".into(), ..summary.clone() };
        let narrow = lines(std::slice::from_ref(&named), 0, 70).remove(0);
        assert!(narrow.contains("3 of 48 spans matched") && narrow.contains("5.00ms"), "in 70 columns: {narrow}");
        let unknown_total = TraceSummary { span_count: 0, matched_spans: Some(1), ..summary };
        assert!(shown(&unknown_total).contains("1 span matched"), "{}", shown(&unknown_total));
    }
}
