//! Saved baselines: a service's numbers pinned under a name (each operation's requests,
//! errors and latency sketch over a window, summed from the rollups), compared later with
//! the latest traffic in the report shape of [`super::regression`].
//!
//! A saved baseline keeps sketches, not requests, so Mann–Whitney U cannot run. A latency
//! change counts when, for P50 or P95, the 95 % confidence intervals of the two sides do
//! not overlap and the percentile moved by at least `min_change` (10 %). The interval of
//! the quantile q of n requests is distribution-free: the durations at ranks
//! q ± 1.96·√(q(1−q)/n) (order statistics), read from each sketch and widened by its
//! relative error. Both sides need `min_samples` requests. Error rates are compared by
//! the same two-proportion test as elsewhere (counts are kept exactly).

use serde::Serialize;

use super::regression::{
    Basis, Change, Compared, Options, RegressionReport, Seen, Verdict, Window, WindowStats, Windows, error_verdict,
};
use super::sketch::RELATIVE_ERROR;
use super::trends::Rollup;

/// A baseline as saved: whose, under which name, over which window, and each operation's
/// requests summed (the rollups of its entry spans).
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub service: String,
    pub name: String,
    pub window: Window,
    pub saved_ns: u64,
    #[serde(serialize_with = "requests_only")]
    pub operations: Vec<(String, Rollup)>,
}

impl Baseline {
    /// Every request the baseline counts.
    pub fn requests(&self) -> u64 {
        self.operations.iter().map(|(_, r)| r.requests).sum()
    }
}

/// The operations of a baseline as JSON: names and counts (sketches are not for reading).
fn requests_only<S: serde::Serializer>(operations: &[(String, Rollup)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(operations.len()))?;
    for (operation, rollup) in operations {
        map.serialize_entry(operation, &rollup.requests)?;
    }
    map.end()
}

/// Two-sided 95 % of a standard normal.
const Z_95: f64 = 1.96;

/// `baseline` against the latest traffic (`current`, each operation's rollups summed over
/// `window`): per operation, then the service (see the module's doc for the verdicts).
pub fn compare(
    baseline: &Baseline,
    current: &[(String, Rollup)],
    window: Window,
    options: Options,
) -> RegressionReport {
    let mut names: Vec<&str> =
        baseline.operations.iter().chain(current).map(|(operation, _)| operation.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let find = |side: &[(String, Rollup)], name: &str| side.iter().find(|(o, _)| o == name).map(|(_, r)| r.clone());
    let windows = Windows { baseline: baseline.window, current: window, gap_ns: None };
    let mut all = (Rollup::default(), Rollup::default());
    let operations = names
        .into_iter()
        .map(|name| {
            let before = find(&baseline.operations, name).unwrap_or_default();
            let after = find(current, name).unwrap_or_default();
            all.0.merge(&before);
            all.1.merge(&after);
            change(Some(name.to_string()), &before, &after, &windows, &options)
        })
        .collect();
    let overall = change(None, &all.0, &all.1, &windows, &options);
    let basis = Basis::Baseline { name: baseline.name.clone(), saved_ns: baseline.saved_ns };
    Compared { basis, windows, seen: Seen::default(), options }.report(&baseline.service, overall, operations)
}

fn change(operation: Option<String>, before: &Rollup, after: &Rollup, windows: &Windows, options: &Options) -> Change {
    let (baseline, current) = (stats(before, &windows.baseline), stats(after, &windows.current));
    let enough = |r: &Rollup| r.requests >= options.min_samples as u64;
    let (latency, errors) = match enough(before) && enough(after) {
        true => (latency_verdict(before, after, options), error_verdict(&baseline, &current, options)),
        false => (Verdict::NotEnoughData, Verdict::NotEnoughData),
    };
    let slowest = after.slowest.map(|s| (s.trace_id, s.span_id));
    Change { operation, baseline, current, p_value: None, latency, errors, slowest }
}

fn stats(rollup: &Rollup, window: &Window) -> WindowStats {
    let count = rollup.requests as usize;
    let at = |q: f64| rollup.latency.quantile(q).unwrap_or(0);
    let minutes = window.minutes();
    WindowStats {
        count,
        p50_ns: at(0.5),
        p95_ns: at(0.95),
        p99_ns: at(0.99),
        errors: rollup.errors as usize,
        error_rate: if count == 0 { 0.0 } else { rollup.errors as f64 / count as f64 },
        per_minute: if minutes > 0.0 { count as f64 / minutes } else { 0.0 },
    }
}

/// Slower when P50 or P95 moved up by `min_change` with the intervals apart; else faster
/// when one moved down so; else no change.
fn latency_verdict(before: &Rollup, after: &Rollup, options: &Options) -> Verdict {
    let moved = |q: f64| {
        let (b, a) = (interval(before, q)?, interval(after, q)?);
        let (was, now) = (before.latency.quantile(q)? as f64, after.latency.quantile(q)? as f64);
        let change = if was > 0.0 { (now - was) / was } else { 0.0 };
        Some(match () {
            _ if a.0 > b.1 && change >= options.min_change => Verdict::Regression,
            _ if a.1 < b.0 && -change >= options.min_change => Verdict::Improvement,
            _ => Verdict::NoChange,
        })
    };
    let verdicts = [moved(0.5), moved(0.95)];
    [Verdict::Regression, Verdict::Improvement]
        .into_iter()
        .find(|v| verdicts.contains(&Some(*v)))
        .unwrap_or(Verdict::NoChange)
}

/// The 95 % confidence interval of the quantile `q` of the rollup's durations.
fn interval(rollup: &Rollup, q: f64) -> Option<(f64, f64)> {
    let n = rollup.requests.max(1) as f64;
    let spread = Z_95 * (q * (1.0 - q) / n).sqrt();
    let low = rollup.latency.quantile(q - spread)? as f64 * (1.0 - RELATIVE_ERROR);
    let high = rollup.latency.quantile(q + spread)? as f64 * (1.0 + RELATIVE_ERROR);
    Some((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanId, TraceId};

    const MS: u64 = 1_000_000;
    const HOUR: u64 = 3_600_000_000_000;

    /// `n` requests from `low_ms` up by 1 ms each, `errors` of them failed.
    fn rollup(n: u64, low_ms: u64, errors: u64) -> Rollup {
        let mut r = Rollup::new(0, HOUR);
        for i in 0..n {
            r.add((low_ms + i % 100) * MS, i < errors, TraceId(u128::from(i) + 1), SpanId(i + 1));
        }
        r
    }

    fn saved(operations: Vec<(String, Rollup)>) -> Baseline {
        let window = Window { start_ns: 0, end_ns: HOUR };
        Baseline { service: "web".into(), name: "release-1".into(), window, saved_ns: HOUR, operations }
    }

    #[test]
    fn a_slower_operation_is_named_and_an_unchanged_one_is_not() {
        let baseline = saved(vec![("GET /cart".into(), rollup(200, 400, 2)), ("GET /home".into(), rollup(200, 20, 0))]);
        let current = vec![("GET /cart".into(), rollup(200, 600, 2)), ("GET /home".into(), rollup(200, 20, 0))];
        let report = compare(&baseline, &current, Window { start_ns: 2 * HOUR, end_ns: 3 * HOUR }, Options::default());
        assert_eq!(report.summary.slower, ["GET /cart"]);
        assert_eq!(report.overall.latency, Verdict::Regression);
        assert_eq!(report.basis, Basis::Baseline { name: "release-1".into(), saved_ns: HOUR });
        let home = report.operations.iter().find(|c| c.operation.as_deref() == Some("GET /home")).unwrap();
        assert_eq!(home.latency, Verdict::NoChange);
        assert_eq!(home.baseline.count, 200);
        let cart = &report.operations[0];
        assert!(cart.current.p95_ns > cart.baseline.p95_ns && cart.slowest.is_some());
    }

    #[test]
    fn small_moves_few_requests_and_error_rates_are_judged_as_stated() {
        // 3 % slower is below the smallest change worth reporting.
        let baseline = saved(vec![("a".into(), rollup(500, 1000, 5)), ("b".into(), rollup(10, 100, 0))]);
        let current = vec![("a".into(), rollup(500, 1030, 60)), ("b".into(), rollup(10, 500, 0))];
        let report = compare(&baseline, &current, baseline.window, Options::default());
        let of = |name: &str| report.operations.iter().find(|c| c.operation.as_deref() == Some(name)).unwrap();
        assert_eq!(of("a").latency, Verdict::NoChange);
        assert_eq!(of("a").errors, Verdict::Regression, "1 % → 12 % of 500 requests");
        assert_eq!(of("b").latency, Verdict::NotEnoughData, "10 requests a side");
        assert_eq!(report.summary.more_errors, ["a"]);
    }
}
