//! Regression detection: a service's requests in a baseline window against a current
//! window, overall and per operation. Percentiles, error rate and throughput describe
//! each window; Mann–Whitney U says whether latency really moved, and a minimum sample
//! size keeps a handful of slow requests from being called a regression.

use std::collections::BTreeMap;

use serde::Serialize;

use super::significance::{mann_whitney, proportions_differ};
use super::stats::percentile;
use crate::model::{SpanId, Trace, TraceId};

/// One request the service handled: one of its entry spans.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub operation: String,
    pub start_ns: u64,
    pub duration_ns: u64,
    pub error: bool,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

/// The service's entry spans in `traces`: its spans whose caller is another service (or
/// none), each a request it served.
pub fn samples<'t>(traces: impl IntoIterator<Item = &'t Trace>, service: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for trace in traces {
        for (i, span) in trace.spans.iter().enumerate() {
            if span.service() == service && trace.is_service_entry(i) {
                out.push(Sample {
                    operation: span.operation.clone(),
                    start_ns: span.start_ns,
                    duration_ns: span.duration_ns,
                    error: span.is_error(),
                    trace_id: trace.id,
                    span_id: span.span_id,
                });
            }
        }
    }
    out
}

/// `[start_ns, end_ns)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Window {
    fn contains(&self, t: u64) -> bool {
        (self.start_ns..self.end_ns).contains(&t)
    }

    fn minutes(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 / 60e9
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Windows {
    pub baseline: Window,
    pub current: Window,
    /// When the traffic came in runs: the quiet gap between the two runs compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_ns: Option<u64>,
}

/// A quiet gap splits the traffic into runs when it is this many times the usual gap
/// between requests…
const RUN_GAP_FACTOR: u64 = 10;
/// …and at least this long (a pause in steady traffic is not a new run).
const RUN_GAP_MIN_NS: u64 = 10_000_000_000;

impl Windows {
    /// The last `length` before `end` against the `length` before that.
    pub fn last(end_ns: u64, length_ns: u64) -> Windows {
        let split = end_ns.saturating_sub(length_ns);
        Windows {
            baseline: Window { start_ns: split.saturating_sub(length_ns), end_ns: split },
            current: Window { start_ns: split, end_ns },
            gap_ns: None,
        }
    }

    /// The default: windows that end at the newest request, so a recording or a service
    /// gone quiet is still compared. When the requests of the last two `length`s came in
    /// runs (a load test run twice, a service exercised before and after a change), they
    /// are split at the largest quiet gap, so that the runs are compared with each other
    /// rather than with clock hours they happen to fall in.
    pub fn latest(starts_ns: &[u64], length_ns: u64, now_ns: u64) -> Windows {
        let Some(&newest) = starts_ns.iter().max() else { return Windows::last(now_ns, length_ns) };
        let end = newest.saturating_add(1);
        let mut recent: Vec<u64> =
            starts_ns.iter().copied().filter(|&s| s >= end.saturating_sub(length_ns.saturating_mul(2))).collect();
        recent.sort_unstable();
        let mut gaps: Vec<(u64, usize)> = recent.windows(2).enumerate().map(|(i, w)| (w[1] - w[0], i)).collect();
        let Some(&(largest, at)) = gaps.iter().max() else { return Windows::last(end, length_ns) };
        gaps.sort_unstable();
        let usual = gaps[gaps.len() / 2].0;
        if largest < RUN_GAP_MIN_NS || largest < usual.saturating_mul(RUN_GAP_FACTOR) {
            return Windows::last(end, length_ns);
        }
        Windows {
            baseline: Window { start_ns: recent[0], end_ns: recent[at].saturating_add(1) },
            current: Window { start_ns: recent[at + 1], end_ns: end },
            gap_ns: Some(largest),
        }
    }

    /// Before and after a moment (a deploy), each `length` long.
    pub fn around(at_ns: u64, length_ns: u64) -> Windows {
        Windows {
            baseline: Window { start_ns: at_ns.saturating_sub(length_ns), end_ns: at_ns },
            current: Window { start_ns: at_ns, end_ns: at_ns.saturating_add(length_ns) },
            gap_ns: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Options {
    /// Fewer requests than this in either window and no verdict is given.
    pub min_samples: usize,
    /// The significance level.
    pub alpha: f64,
    /// The smallest change of P50 or P95 (a share, 0.1 = 10 %) worth reporting.
    pub min_change: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { min_samples: 20, alpha: 0.05, min_change: 0.10 }
    }
}

/// What one window's requests looked like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WindowStats {
    pub count: usize,
    pub p50_ns: u64,
    pub p95_ns: u64,
    pub p99_ns: u64,
    pub errors: usize,
    /// Failed requests as a share (0–1).
    pub error_rate: f64,
    pub per_minute: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Regression,
    Improvement,
    NoChange,
    NotEnoughData,
}

/// Baseline against current for the whole service or one operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The operation, or `None` for all of the service's requests.
    pub operation: Option<String>,
    pub baseline: WindowStats,
    pub current: WindowStats,
    /// Mann–Whitney U's p-value for the latencies (`None` without samples on both sides).
    pub p_value: Option<f64>,
    pub latency: Verdict,
    /// Whether the error rate moved significantly (by at least one percentage point).
    pub errors: Verdict,
    /// The slowest current request, to open.
    pub slowest: Option<(TraceId, SpanId)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegressionReport {
    pub service: String,
    pub windows: Windows,
    pub options: Options,
    pub overall: Change,
    /// Per operation: regressions first, then improvements, then the rest; busiest first.
    pub operations: Vec<Change>,
}

pub fn detect(service: &str, samples: &[Sample], windows: Windows, options: Options) -> RegressionReport {
    let mut by_operation: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        by_operation.entry(&sample.operation).or_default().push(sample);
    }
    let all: Vec<&Sample> = samples.iter().collect();
    let overall = change(None, &all, &windows, &options);
    let mut operations: Vec<Change> =
        by_operation.into_iter().map(|(op, group)| change(Some(op.to_string()), &group, &windows, &options)).collect();
    let rank = |v: Verdict| match v {
        Verdict::Regression => 0,
        Verdict::Improvement => 1,
        Verdict::NoChange => 2,
        Verdict::NotEnoughData => 3,
    };
    operations.sort_by_key(|c| (rank(c.latency).min(rank(c.errors)), std::cmp::Reverse(c.current.count)));
    RegressionReport { service: service.to_string(), windows, options, overall, operations }
}

fn change(operation: Option<String>, samples: &[&Sample], windows: &Windows, options: &Options) -> Change {
    let pick = |window: &Window| {
        let mut durations: Vec<u64> = Vec::new();
        let mut errors = 0;
        for s in samples.iter().filter(|s| window.contains(s.start_ns)) {
            durations.push(s.duration_ns);
            errors += usize::from(s.error);
        }
        durations.sort_unstable();
        (durations, errors)
    };
    let (before, before_errors) = pick(&windows.baseline);
    let (after, after_errors) = pick(&windows.current);
    let baseline = stats(&before, before_errors, &windows.baseline);
    let current = stats(&after, after_errors, &windows.current);
    let test = mann_whitney(&before, &after);
    let enough = before.len() >= options.min_samples && after.len() >= options.min_samples;
    let latency = match test {
        _ if !enough => Verdict::NotEnoughData,
        Some(t) if t.p_value < options.alpha => {
            let moved = |was: u64, now: u64| relative(was, now);
            let (p50, p95) = (moved(baseline.p50_ns, current.p50_ns), moved(baseline.p95_ns, current.p95_ns));
            let sign = if t.b_larger { 1.0 } else { -1.0 };
            if p50 * sign >= options.min_change || p95 * sign >= options.min_change {
                if t.b_larger { Verdict::Regression } else { Verdict::Improvement }
            } else {
                Verdict::NoChange
            }
        }
        _ => Verdict::NoChange,
    };
    let errors = if !enough {
        Verdict::NotEnoughData
    } else {
        let p = proportions_differ(before_errors, before.len(), after_errors, after.len());
        let delta = current.error_rate - baseline.error_rate;
        match (p < options.alpha, delta) {
            (true, d) if d >= 0.01 => Verdict::Regression,
            (true, d) if d <= -0.01 => Verdict::Improvement,
            _ => Verdict::NoChange,
        }
    };
    let slowest = samples
        .iter()
        .filter(|s| windows.current.contains(s.start_ns))
        .max_by_key(|s| s.duration_ns)
        .map(|s| (s.trace_id, s.span_id));
    Change { operation, baseline, current, p_value: test.map(|t| t.p_value), latency, errors, slowest }
}

/// `(now − was) / was`, 0 when there was nothing.
pub fn relative(was: u64, now: u64) -> f64 {
    if was == 0 { 0.0 } else { (now as f64 - was as f64) / was as f64 }
}

fn stats(sorted: &[u64], errors: usize, window: &Window) -> WindowStats {
    let count = sorted.len();
    WindowStats {
        count,
        p50_ns: percentile(sorted, 50.0),
        p95_ns: percentile(sorted, 95.0),
        p99_ns: percentile(sorted, 99.0),
        errors,
        error_rate: if count == 0 { 0.0 } else { errors as f64 / count as f64 },
        per_minute: if window.minutes() > 0.0 { count as f64 / window.minutes() } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000_000_000;
    const MS: u64 = 1_000_000;

    /// `n` requests spread over `[from, from + 60 min)`, durations cycling through `ms`.
    fn requests(operation: &str, from: u64, n: u64, ms: &[u64], errors_every: u64) -> Vec<Sample> {
        (0..n)
            .map(|i| Sample {
                operation: operation.to_string(),
                start_ns: from + i * 60 * MINUTE / n,
                duration_ns: ms[i as usize % ms.len()] * MS,
                error: errors_every > 0 && i % errors_every == 0,
                trace_id: TraceId(i as u128 + from as u128),
                span_id: SpanId(i + 1),
            })
            .collect()
    }

    fn around(base: &[u64], factor_percent: u64) -> Vec<u64> {
        base.iter().map(|ms| ms * factor_percent / 100).collect()
    }

    #[test]
    fn a_slower_operation_is_a_regression_and_a_steady_one_is_not() {
        let spread: Vec<u64> = (0..40).map(|i| 200 + i * 7).collect();
        let start = 1_000 * MINUTE;
        let mut all = requests("GET /cart", start, 200, &spread, 0);
        all.extend(requests("GET /cart", start + 60 * MINUTE, 200, &around(&spread, 140), 0));
        all.extend(requests("GET /home", start, 300, &spread, 0));
        all.extend(requests("GET /home", start + 60 * MINUTE, 300, &spread, 0));
        all.extend(requests("GET /rare", start, 5, &spread, 0));
        all.extend(requests("GET /rare", start + 60 * MINUTE, 5, &around(&spread, 300), 0));
        let report = detect("web", &all, Windows::last(start + 120 * MINUTE, 60 * MINUTE), Options::default());
        let op = |name: &str| report.operations.iter().find(|c| c.operation.as_deref() == Some(name)).unwrap();
        let cart = op("GET /cart");
        assert_eq!(cart.latency, Verdict::Regression);
        assert!(cart.p_value.unwrap() < 0.001);
        assert_eq!((cart.baseline.count, cart.current.count), (200, 200));
        // Nearest rank: the 190th of 200, the 38th of the 40 durations (each 5 times).
        assert_eq!(cart.baseline.p95_ns, 459 * MS);
        assert_eq!(cart.current.p95_ns, 459 * 140 / 100 * MS);
        assert_eq!(op("GET /home").latency, Verdict::NoChange);
        assert_eq!(op("GET /rare").latency, Verdict::NotEnoughData, "5 requests are no evidence");
        assert_eq!(report.operations[0].operation.as_deref(), Some("GET /cart"), "regressions first");
        assert!((cart.current.per_minute - 200.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn faster_is_an_improvement_and_more_errors_are_flagged() {
        let spread: Vec<u64> = (0..40).map(|i| 300 + i * 5).collect();
        let start = 5_000 * MINUTE;
        let mut all = requests("POST /pay", start, 212, &spread, 100);
        all.extend(requests("POST /pay", start + 60 * MINUTE, 198, &around(&spread, 62), 5));
        let report = detect("pay", &all, Windows::around(start + 60 * MINUTE, 60 * MINUTE), Options::default());
        let overall = &report.overall;
        assert_eq!((overall.latency, overall.errors), (Verdict::Improvement, Verdict::Regression));
        assert_eq!((overall.baseline.count, overall.current.count), (212, 198));
    }

    #[test]
    fn samples_are_the_services_entry_spans() {
        let t = crate::analysis::testing::trace(&[
            (1, 0, "web", "GET /", 0, 100),
            (2, 1, "api", "Get", 10, 50),
            (3, 2, "api", "inner", 20, 10),
            (4, 1, "api", "Put", 70, 20),
        ])
        .error(4, "boom")
        .done();
        let found = samples([&t], "api");
        let ops: Vec<(&str, bool)> = found.iter().map(|s| (s.operation.as_str(), s.error)).collect();
        assert_eq!(ops, [("Get", false), ("Put", true)]);
    }
}
