//! Database calls slower than a threshold, grouped per trace by query shape.

use std::collections::BTreeMap;

use super::calls::CallKind;
use super::findings::{Evidence, Finding, FindingKind, Severity, percent};
use super::index::TraceIndex;
use super::repeated::table_of;
use super::statement;
use crate::model::SpanIndex;

/// The default threshold: 500 ms.
pub const DEFAULT_THRESHOLD_NS: u64 = 500_000_000;

pub fn slow_queries(index: &TraceIndex, threshold_ns: u64) -> Vec<Finding> {
    let trace = index.trace;
    let mut by_shape: BTreeMap<String, Vec<SpanIndex>> = BTreeMap::new();
    for (i, call) in index.calls.iter().enumerate() {
        let Some(call) = call.filter(|c| c.kind == CallKind::Database) else { continue };
        if trace.spans[i].duration_ns >= threshold_ns {
            by_shape.entry(index.calls.describe(call, &trace.spans[i])).or_default().push(i);
        }
    }
    let mut findings: Vec<Finding> = by_shape
        .into_iter()
        .map(|(shape, mut spans)| {
            spans.sort_by_key(|&i| std::cmp::Reverse(trace.spans[i].duration_ns));
            let mut finding = index.finding(FindingKind::SlowQuery, &spans);
            finding.percent = percent(finding.total_us.saturating_mul(1000), index.duration_ns());
            finding.severity = if trace.spans[spans[0]].duration_ns >= threshold_ns.saturating_mul(4) {
                Severity::Error
            } else {
                Severity::Warn
            };
            let normalized = index.calls.get(spans[0]).and_then(|c| index.calls.normalized(c)).unwrap_or_default();
            finding.evidence = Evidence::SlowQuery {
                statement: shape,
                threshold_ns,
                table: table_of(normalized),
                columns: statement::filtered_columns(normalized),
            };
            finding
        })
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.total_us));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{MS, trace};

    #[test]
    fn queries_over_the_threshold_are_grouped_by_shape_with_index_advice() {
        let query = |id, text: &str| (id, "db.query.text", text.to_string());
        let t = trace(&[
            (1, 0, "shop", "GET", 0, 3000),
            (2, 1, "shop", "SELECT", 0, 600),
            (3, 1, "shop", "SELECT", 700, 900),
            (4, 1, "shop", "SELECT", 1700, 400),
        ]);
        let mut build = t;
        for (id, key, value) in [
            query(2, "SELECT * FROM o WHERE user_id = 1"),
            query(3, "SELECT * FROM o WHERE user_id = 2"),
            query(4, "SELECT * FROM o WHERE user_id = 3"),
        ] {
            build = build.attr(id, key, &value).attr(id, "db.system.name", "mysql");
        }
        let t = build.done();
        let index = TraceIndex::new(&t);
        let found = slow_queries(&index, DEFAULT_THRESHOLD_NS);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].count, found[0].total_us), (2, 1_500_000), "the 400 ms one is not slow");
        assert_eq!(found[0].span_ids[0], "0000000000000003", "slowest first");
        let Evidence::SlowQuery { table, columns, .. } = &found[0].evidence else { panic!() };
        assert_eq!((table.as_deref(), columns.as_slice()), (Some("o"), ["user_id".to_string()].as_slice()));
        assert_eq!(slow_queries(&index, 300 * MS)[0].count, 3, "the threshold is an option");
    }
}
