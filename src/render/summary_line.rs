//! One line per search result, for pickers and the terminal:
//! `GET /dispatch  712ms  52 spans  frontend, driver +3  ✗ 2 errors  5m ago`.

use crate::analysis::TraceSummary;

use super::units::{age, duration, truncate};

const SHOWN_SERVICES: usize = 3;

pub fn format(summary: &TraceSummary, now_ns: u64) -> String {
    let mut services: Vec<&str> = summary.services.iter().take(SHOWN_SERVICES).map(String::as_str).collect();
    let more = summary.services.len().saturating_sub(SHOWN_SERVICES);
    let more = if more > 0 { format!(" +{more}") } else { String::new() };
    if services.is_empty() {
        services.push("no services");
    }
    let errors = match summary.error_count {
        0 => String::new(),
        1 => "  ✗ 1 error".to_string(),
        n => format!("  ✗ {n} errors"),
    };
    format!(
        "{:<40}  {:>7}  {:>4} span{}  {}{}{}  {}",
        truncate(&format!("{}: {}", summary.root_service, summary.root_operation), 40),
        duration(summary.duration_ns),
        summary.span_count,
        if summary.span_count == 1 { " " } else { "s" },
        services.join(", "),
        more,
        errors,
        age(summary.start_ns, now_ns),
    )
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
        };
        let line = format(&summary, 300 * 1_000_000_000);
        for part in
            ["frontend: GET /dispatch", "712ms", "52 spans", "frontend, driver, redis +1", "✗ 2 errors", "5m ago"]
        {
            assert!(line.contains(part), "{line:?} lacks {part:?}");
        }
    }
}
