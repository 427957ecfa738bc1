//! Span statistics of a trace, grouped by service, operation or any attribute, as Jaeger
//! UI's "Trace Statistics" table: count, total, average, min, max, self time, share.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::Trace;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Service,
    /// Service and operation.
    Operation,
    /// The value of an attribute (spans without it form the group `(none)`).
    Attribute(String),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpanStats {
    pub group: String,
    pub count: usize,
    pub total_ns: u64,
    pub avg_ns: u64,
    pub min_ns: u64,
    pub max_ns: u64,
    pub self_total_ns: u64,
    /// Self time as a share of the trace's duration: the groups add up to about 100.
    pub percent_of_trace: f64,
}

/// Statistics per group, most self time first; `self_times` as [`super::self_times`].
pub fn span_stats(trace: &Trace, self_times: &[u64], by: &GroupBy) -> Vec<SpanStats> {
    // With each group, its durations' exact sum: thousands of long spans pass a u64, and
    // the average must stay between the shortest and the longest.
    let mut groups: HashMap<String, (SpanStats, u128)> = HashMap::new();
    for (i, span) in trace.spans.iter().enumerate() {
        let group = match by {
            GroupBy::Service => span.service().to_string(),
            GroupBy::Operation => format!("{} {}", span.service(), span.operation),
            GroupBy::Attribute(key) => span.attr(key).map_or_else(|| "(none)".to_string(), |v| v.to_string()),
        };
        let (stats, sum_ns) = groups.entry(group.clone()).or_insert((
            SpanStats {
                group,
                count: 0,
                total_ns: 0,
                avg_ns: 0,
                min_ns: u64::MAX,
                max_ns: 0,
                self_total_ns: 0,
                percent_of_trace: 0.0,
            },
            0,
        ));
        stats.count += 1;
        *sum_ns += u128::from(span.duration_ns);
        stats.min_ns = stats.min_ns.min(span.duration_ns);
        stats.max_ns = stats.max_ns.max(span.duration_ns);
        stats.self_total_ns = stats.self_total_ns.saturating_add(self_times[i]);
    }
    let trace_ns = trace.duration_ns();
    let mut rows: Vec<SpanStats> = groups
        .into_values()
        .map(|(mut row, sum_ns)| {
            row.total_ns = u64::try_from(sum_ns).unwrap_or(u64::MAX);
            row.avg_ns = (sum_ns / row.count as u128) as u64;
            row.percent_of_trace = super::findings::percent(row.self_total_ns, trace_ns);
            row
        })
        .collect();
    rows.sort_by(|a, b| b.self_total_ns.cmp(&a.self_total_ns).then_with(|| a.group.cmp(&b.group)));
    rows
}

/// The nearest-rank percentile (`p` in 0–100) of sorted values; 0 when there are none.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::self_times;
    use crate::analysis::testing::{MS, trace};

    #[test]
    fn groups_by_service_operation_or_attribute() {
        let t =
            trace(&[(1, 0, "web", "GET /", 0, 100), (2, 1, "db", "SELECT", 10, 30), (3, 1, "db", "SELECT", 50, 10)])
                .attr(2, "db.name", "orders")
                .done();
        let own = self_times(&t);
        let by_service = span_stats(&t, &own, &GroupBy::Service);
        assert_eq!(by_service[0].group, "web");
        assert_eq!((by_service[0].self_total_ns, by_service[0].percent_of_trace), (60 * MS, 60.0));
        let db = &span_stats(&t, &own, &GroupBy::Operation)[1];
        assert_eq!(
            (db.group.as_str(), db.count, db.avg_ns, db.min_ns, db.max_ns),
            ("db SELECT", 2, 20 * MS, 10 * MS, 30 * MS)
        );
        let by_attr = span_stats(&t, &own, &GroupBy::Attribute("db.name".into()));
        assert_eq!(by_attr.iter().map(|r| r.group.as_str()).collect::<Vec<_>>(), ["(none)", "orders"]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=20).collect();
        assert_eq!((percentile(&values, 50.0), percentile(&values, 95.0), percentile(&values, 99.0)), (10, 19, 20));
        assert_eq!((percentile(&[7], 99.0), percentile(&[], 50.0)), (7, 0));
    }
}
