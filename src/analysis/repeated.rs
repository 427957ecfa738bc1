//! Calls made over and over: N+1 (the same query or request, once per item, one after
//! another under one parent) and identical calls repeated within a request (a cache
//! would answer them; claimed only where the spans show the arguments were identical).

use std::collections::HashMap;

use super::calls::{CallKey, CallKind, Calls, StatementId, text};
use super::findings::{Evidence, Finding, FindingKind, Severity, percent};
use super::index::TraceIndex;
use super::statement;
use crate::model::{IdHasher, Span, SpanIndex, Trace};

/// Siblings doing the same thing, at least this many, make an N+1.
pub const N_PLUS_ONE_MIN: usize = 5;
/// Identical calls in one request, at least this many, are worth caching.
const REPEATED_MIN: usize = 3;

/// N+1 groups: under each parent, outgoing calls with the same key (same query shape, or
/// same service, operation and route), at least [`N_PLUS_ONE_MIN`], that ran one after
/// another. Siblings that overlap are a concurrent fan-out and are not reported.
///
/// Linear in the spans: each parent's calls are sorted by key into runs (in start order
/// within a run), in buffers reused from parent to parent.
pub fn n_plus_one(index: &TraceIndex) -> Vec<Finding> {
    let trace = index.trace;
    let mut findings = Vec::new();
    let mut by_key: Vec<(CallKey, usize, SpanIndex)> = Vec::new();
    let mut group: Vec<SpanIndex> = Vec::new();
    let mut found: Vec<(SpanIndex, usize, usize)> = Vec::new();
    // The table and columns of each key's statement, read once per key: a trace has
    // thousands of N+1s of a handful of statements.
    let mut advice: Vec<Option<Advice>> = vec![None; index.calls.key_count()];
    for parent in 0..trace.spans.len() {
        if trace.tree.children(parent).len() < N_PLUS_ONE_MIN {
            continue;
        }
        by_key.clear();
        for (order, child) in trace.tree.children(parent).enumerate() {
            if let Some(call) = index.calls.get(child) {
                by_key.push((call.key, order, child));
            }
        }
        by_key.sort_unstable();
        // Each run of one key that makes an N+1, as (its first span, where it starts in
        // `by_key`, its length): reported in the order of their first spans.
        found.clear();
        let mut start = 0;
        for run in by_key.chunk_by(|a, b| a.0 == b.0) {
            if run.len() >= N_PLUS_ONE_MIN {
                group.clear();
                group.extend(run.iter().map(|&(_, _, child)| child));
                if runs_one_after_another(trace, &group) {
                    found.push((group[0], start, run.len()));
                }
            }
            start += run.len();
        }
        found.sort_unstable();
        for &(_, start, len) in &found {
            let group: Vec<SpanIndex> = by_key[start..start + len].iter().map(|&(_, _, child)| child).collect();
            findings.push(n_plus_one_finding(index, parent, group, &mut advice));
        }
    }
    findings
}

/// Whether spans (in start order) ran one at a time: allowing for clock jitter, at most
/// one adjacent pair in ten overlaps.
pub fn runs_one_after_another(trace: &Trace, group: &[SpanIndex]) -> bool {
    let overlapping = group
        .windows(2)
        .filter(|pair| {
            let (a, b) = (&trace.spans[pair[0]], &trace.spans[pair[1]]);
            let overlap = a.end_ns().min(b.end_ns()).saturating_sub(b.start_ns.max(a.start_ns));
            let shorter = a.duration_ns.min(b.duration_ns);
            overlap > (shorter / 20).max(10_000)
        })
        .count();
    overlapping * 10 < group.len()
}

/// What an N+1's statement says about indexing it: the table and the filtered columns.
type Advice = (Option<String>, Vec<String>);

fn n_plus_one_finding(
    index: &TraceIndex,
    parent: SpanIndex,
    group: Vec<SpanIndex>,
    advice: &mut [Option<Advice>],
) -> Finding {
    let trace = index.trace;
    let call = index.calls.get(group[0]).expect("grouped spans are calls");
    let parent_span = &trace.spans[parent];
    let mut finding = index.finding(FindingKind::NPlusOne, &group);
    finding.percent = percent(finding.total_us.saturating_mul(1000), parent_span.duration_ns);
    finding.severity = if finding.percent >= 50.0 || group.len() >= 20 { Severity::Error } else { Severity::Warn };
    let (table, columns) = advice[call.key.index()]
        .get_or_insert_with(|| {
            let normalized = index.calls.normalized(call).unwrap_or_default();
            let columns =
                if call.kind == CallKind::Database { statement::filtered_columns(normalized) } else { Vec::new() };
            (table_of(normalized), columns)
        })
        .clone();
    finding.evidence = Evidence::NPlusOne {
        call: index.calls.describe(call, &trace.spans[group[0]]),
        kind: call.kind,
        parent_operation: parent_span.operation.to_string(),
        parent_ns: parent_span.duration_ns,
        table,
        columns,
    };
    finding
}

/// The table a statement reads or writes: the name after FROM, INTO or UPDATE.
pub fn table_of(normalized: &str) -> Option<String> {
    let words: Vec<&str> = normalized.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        matches!(pair[0].to_ascii_uppercase().as_str(), "FROM" | "INTO" | "UPDATE")
            .then(|| pair[1].trim_matches(|c: char| c == '"' || c == '`' || c == '(' || c == ';').to_string())
            .filter(|t| !t.is_empty() && t != "?")
    })
}

/// Calls repeated with identical arguments at least [`REPEATED_MIN`] times in one trace,
/// wherever they sit: a cache would answer all but the first. Identical only where the
/// span shows the arguments (see [`arguments`]).
pub fn repeated_calls(index: &TraceIndex) -> Vec<Finding> {
    let trace = index.trace;
    // Calls are numbered by what they asked, in the order of their first spans, and
    // counted; only groups big enough get a list of their spans. Most calls ask something
    // no other call asks (a statement with its literals), so a list per question would
    // be an allocation per call.
    let mut numbers: HashMap<(CallKey, Arguments), u32, IdHasher> = HashMap::default();
    let mut counts: Vec<u32> = Vec::new();
    let mut numbered: Vec<(u32, SpanIndex)> = Vec::new();
    for (i, call) in index.calls.iter().enumerate() {
        let Some(call) = call else { continue };
        let Some(arguments) = arguments(&index.calls, i, &trace.spans[i]) else { continue };
        let next = counts.len() as u32;
        let number = *numbers.entry((call.key, arguments)).or_insert(next);
        if number == next {
            counts.push(0);
        }
        counts[number as usize] += 1;
        numbered.push((number, i));
    }
    drop(numbers);
    // Each number's place among the groups kept (by their first spans), or `u32::MAX`.
    let mut kept = 0;
    let places: Vec<u32> = counts
        .iter()
        .map(|&count| {
            if count as usize >= REPEATED_MIN {
                kept += 1;
                kept - 1
            } else {
                u32::MAX
            }
        })
        .collect();
    let mut groups: Vec<Vec<SpanIndex>> = counts
        .iter()
        .filter(|&&count| count as usize >= REPEATED_MIN)
        .map(|&count| Vec::with_capacity(count as usize))
        .collect();
    for (number, i) in numbered {
        if let Some(group) = groups.get_mut(places[number as usize] as usize) {
            group.push(i);
        }
    }
    let mut findings: Vec<Finding> = groups
        .into_iter()
        .map(|group| {
            let mut finding = index.finding(FindingKind::RepeatedCall, &group);
            finding.severity = Severity::Info;
            finding.percent = percent(finding.total_us.saturating_mul(1000), index.duration_ns());
            // A cache still makes the first call.
            finding.impact_us = finding.total_us - finding.total_us / group.len() as u64;
            let call = index.calls.get(group[0]).expect("grouped spans are calls");
            finding.evidence = Evidence::RepeatedCall { call: index.calls.describe(call, &trace.spans[group[0]]) };
            finding
        })
        .collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.total_us));
    findings
}

/// What a call asked, as far as its span shows all of it (see [`arguments`]); borrowed
/// from the span where it holds it as one piece.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arguments<'t> {
    /// A statement with its literals, by its text's id among the trace's statements.
    Statement(StatementId),
    /// A GET or HEAD request: its method and full URL.
    Request { method: &'t str, url: &'t str },
    /// A parameterized statement with its recorded parameters, or an RPC's recorded request.
    Recorded(String),
}

/// The arguments of the call `span` (at `i` in `calls`) as far as the span shows all of
/// them, or `None` when it does not: a statement with its literals (a parameterized one
/// only with its recorded `db.query.parameter.*` values), the full URL of a GET or HEAD
/// (other methods carry a body no span records), an RPC with its `rpc.request.*`
/// attributes. Two calls with the same arguments asked the same question.
pub fn arguments<'t>(calls: &Calls<'t>, i: SpanIndex, span: &'t Span) -> Option<Arguments<'t>> {
    let call = calls.get(i)?;
    let recorded = |prefix: &str| {
        let mut values: Vec<String> = span
            .attributes
            .iter()
            .filter(|a| a.key.starts_with(prefix))
            .map(|a| format!("{}={}", a.key, a.value))
            .collect();
        values.sort_unstable();
        values
    };
    match call.kind {
        CallKind::Database => {
            let statement = call.statement?;
            if !call.placeholders {
                return call.statement_id.map(Arguments::Statement);
            }
            let parameters = recorded("db.query.parameter.");
            (!parameters.is_empty())
                .then(|| Arguments::Recorded(format!("{statement}\u{1f}{}", parameters.join("\u{1f}"))))
        }
        CallKind::Http => {
            let method = text(span, &["http.request.method", "http.method"])?;
            let url = text(span, &["url.full", "http.url"])?;
            (method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"))
                .then_some(Arguments::Request { method, url })
        }
        CallKind::Rpc => {
            let request = recorded("rpc.request.");
            (!request.is_empty()).then(|| Arguments::Recorded(request.join("\u{1f}")))
        }
        CallKind::Messaging | CallKind::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{Run, trace};

    fn findings(t: &Trace) -> (Vec<Finding>, Vec<Finding>) {
        let index = TraceIndex::new(t);
        (n_plus_one(&index), repeated_calls(&index))
    }

    const SELECT: [(&str, &str); 2] =
        [("db.system", "postgresql"), ("db.statement", "SELECT * FROM items WHERE order_id = {i}")];

    #[test]
    fn serial_identical_queries_under_one_parent_are_an_n_plus_one() {
        let run = Run { parent: 1, first: 10, n: 6, start_ms: 5, every_ms: 10, duration_ms: 8 };
        let t = trace(&[(1, 0, "shop", "GET /orders", 0, 100)]).run(run, "shop", "SELECT", &SELECT).done();
        let (n_plus_one, _) = findings(&t);
        assert_eq!(n_plus_one.len(), 1);
        let f = &n_plus_one[0];
        assert_eq!((f.count, f.total_us, f.percent), (6, 48_000, 48.0));
        assert_eq!(f.parent_span_id.as_deref(), Some("0000000000000001"));
        let Evidence::NPlusOne { table, columns, .. } = &f.evidence else { panic!("{:?}", f.evidence) };
        assert_eq!((table.as_deref(), columns.as_slice()), (Some("items"), ["order_id".to_string()].as_slice()));
    }

    #[test]
    fn overlapping_siblings_are_a_fan_out_and_four_are_not_enough() {
        let fan_out = Run { parent: 1, first: 10, n: 8, start_ms: 5, every_ms: 2, duration_ms: 20 };
        let t = trace(&[(1, 0, "shop", "GET /orders", 0, 100)]).run(fan_out, "shop", "SELECT", &SELECT).done();
        assert!(findings(&t).0.is_empty());
        let few = Run { parent: 1, first: 10, n: 4, start_ms: 5, every_ms: 10, duration_ms: 8 };
        let t = trace(&[(1, 0, "shop", "GET /orders", 0, 100)]).run(few, "shop", "SELECT", &SELECT).done();
        assert!(findings(&t).0.is_empty());
    }

    #[test]
    fn the_same_request_with_the_same_arguments_three_times_is_worth_caching() {
        let url = [("http.request.method", "GET"), ("url.full", "http://rates/eur")];
        let run = Run { parent: 1, first: 10, n: 3, start_ms: 5, every_ms: 30, duration_ms: 8 };
        let mut build = trace(&[(1, 0, "shop", "GET /cart", 0, 100)]).run(run, "shop", "GET", &url);
        for id in 10..13 {
            build = build.kind(id, crate::model::SpanKind::Client);
        }
        let (n_plus_one, repeated) = findings(&build.done());
        assert!(n_plus_one.is_empty(), "three calls are no N+1");
        assert_eq!(repeated.len(), 1);
        assert_eq!(repeated[0].count, 3);
    }

    #[test]
    fn a_parameterized_statement_says_nothing_of_its_arguments_so_nothing_is_called_identical() {
        let parameterized = [("db.system", "postgresql"), ("db.statement", "select sku from items where order_id = ?")];
        let run = Run { parent: 1, first: 10, n: 15, start_ms: 1, every_ms: 5, duration_ms: 4 };
        let t = trace(&[(1, 0, "shop", "GET /orders", 0, 100)]).run(run, "shop", "SELECT", &parameterized).done();
        let (n_plus_one, repeated) = findings(&t);
        assert_eq!(n_plus_one.len(), 1);
        assert!(repeated.is_empty(), "the arguments are unknown: {repeated:#?}");
        // Scattered (no N+1), with and without recorded parameters.
        let scattered = Run { parent: 1, first: 10, n: 3, start_ms: 1, every_ms: 30, duration_ms: 4 };
        let unknown = trace(&[(1, 0, "shop", "GET /orders", 0, 100)]).run(scattered, "shop", "SELECT", &parameterized);
        assert!(findings(&unknown.done()).1.is_empty());
        let mut same = parameterized.to_vec();
        same.push(("db.query.parameter.0", "7"));
        let known = trace(&[(1, 0, "shop", "GET /orders", 0, 100)]).run(
            Run { parent: 1, first: 10, n: 3, start_ms: 1, every_ms: 30, duration_ms: 4 },
            "shop",
            "SELECT",
            &same,
        );
        assert_eq!(findings(&known.done()).1.len(), 1, "the same recorded parameter three times is identical");
    }

    #[test]
    fn a_post_to_the_same_url_has_a_body_no_span_shows() {
        let post = [("http.request.method", "POST"), ("url.full", "http://rates/convert")];
        let run = Run { parent: 1, first: 10, n: 3, start_ms: 5, every_ms: 30, duration_ms: 8 };
        let mut build = trace(&[(1, 0, "shop", "GET /cart", 0, 100)]).run(run, "shop", "POST", &post);
        for id in 10..13 {
            build = build.kind(id, crate::model::SpanKind::Client);
        }
        assert!(findings(&build.done()).1.is_empty());
    }
}
