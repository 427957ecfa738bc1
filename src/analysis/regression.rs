//! Regression detection: a service's requests in a baseline window against a current
//! window (or those of one version of it against another), per operation and then for
//! the whole service. Percentiles, error rate and throughput describe each side;
//! Mann–Whitney U says whether latency really moved, and a minimum sample size keeps a
//! handful of slow requests from being called a regression.
//!
//! The verdict for the whole service sums up the operations' verdicts rather than
//! testing all requests pooled: pooled, one operation 33 % slower among busier unchanged
//! ones barely moves the ranks, and a shift in the mix of operations moves them without
//! anything getting slower.

use std::collections::BTreeMap;

use serde::Serialize;

use super::significance::{mann_whitney, proportions_differ};
use super::stats::percentile;
use crate::model::{Deployment, DeploymentKey, SpanId, Trace, TraceId};

/// One request the service handled: one of its entry spans.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub operation: String,
    pub start_ns: u64,
    pub duration_ns: u64,
    pub error: bool,
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The deployment that served it, from its resource.
    pub deployment: Option<Deployment>,
}

/// The service's entry spans in `traces`: its spans whose caller is another service (or
/// none), each a request it served.
pub fn samples<'t>(traces: impl IntoIterator<Item = &'t Trace>, service: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for trace in traces {
        for (i, span) in trace.spans.iter().enumerate() {
            if span.service() == service && trace.is_service_entry(i) {
                out.push(Sample {
                    operation: span.operation.to_string(),
                    start_ns: span.start_ns,
                    duration_ns: span.duration_ns,
                    error: span.is_error(),
                    trace_id: trace.id,
                    span_id: span.span_id,
                    deployment: span.resource.deployment(),
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

    pub fn minutes(&self) -> f64 {
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

/// How the two sides were chosen; the report names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Basis {
    /// Two deployments of the service: the requests each served, within the time it was
    /// seen (its window).
    Versions { attribute: DeploymentKey, baseline: String, current: String },
    /// The newest traffic (see [`Windows::latest`]); `by_default` when nothing was asked
    /// for and the service had no two versions to compare.
    Latest { by_default: bool },
    /// Before and after a moment.
    Around,
    /// Windows given as ranges.
    Ranges,
    /// The numbers of a saved baseline (see [`super::baselines`]) against the latest
    /// traffic: `name`, saved at `saved_ns`.
    Baseline { name: String, saved_ns: u64 },
}

impl Basis {
    /// The deployments whose requests each side holds (`None`: any).
    fn deployments(&self) -> (Option<Deployment>, Option<Deployment>) {
        match self {
            Basis::Versions { attribute, baseline, current } => (
                Some(Deployment { key: *attribute, version: baseline.clone() }),
                Some(Deployment { key: *attribute, version: current.clone() }),
            ),
            _ => (None, None),
        }
    }
}

/// The versions (`service.version` or `deployment.id`) that served each side's requests,
/// in the order they first did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Seen {
    pub baseline: Vec<String>,
    pub current: Vec<String>,
}

/// The operations that moved, for the service's headline: each list most moved first
/// (P95 for latency, the error rate for errors).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub slower: Vec<String>,
    pub faster: Vec<String>,
    pub more_errors: Vec<String>,
    pub fewer_errors: Vec<String>,
    /// No operation alone had enough requests: the service's verdict is that of all its
    /// requests pooled.
    pub pooled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegressionReport {
    pub service: String,
    pub basis: Basis,
    pub windows: Windows,
    pub seen: Seen,
    pub options: Options,
    pub summary: Summary,
    /// All the service's requests: their numbers pooled, the verdicts those of
    /// [`Summary`] (a regression when an operation regressed), and the p-value of the
    /// operation that moved most (or the pooled one when the summary is pooled).
    pub overall: Change,
    /// Per operation: regressions first, then improvements, then the rest; busiest first.
    pub operations: Vec<Change>,
}

/// Which requests go on each side.
struct Sides<'a> {
    windows: &'a Windows,
    deployments: (Option<Deployment>, Option<Deployment>),
}

impl Sides<'_> {
    fn baseline(&self, s: &Sample) -> bool {
        self.windows.baseline.contains(s.start_ns)
            && self.deployments.0.as_ref().is_none_or(|d| s.deployment.as_ref() == Some(d))
    }

    fn current(&self, s: &Sample) -> bool {
        self.windows.current.contains(s.start_ns)
            && self.deployments.1.as_ref().is_none_or(|d| s.deployment.as_ref() == Some(d))
    }
}

pub fn detect(service: &str, samples: &[Sample], windows: Windows, basis: Basis, options: Options) -> RegressionReport {
    let sides = Sides { windows: &windows, deployments: basis.deployments() };
    let mut by_operation: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        by_operation.entry(&sample.operation).or_default().push(sample);
    }
    let all: Vec<&Sample> = samples.iter().collect();
    let overall = change(None, &all, &sides, &options);
    let operations: Vec<Change> =
        by_operation.into_iter().map(|(op, group)| change(Some(op.to_string()), &group, &sides, &options)).collect();
    let seen = Seen {
        baseline: versions_of(samples.iter().filter(|s| sides.baseline(s))),
        current: versions_of(samples.iter().filter(|s| sides.current(s))),
    };
    let compared = Compared { basis, windows, seen, options };
    compared.report(service, overall, operations)
}

/// What a report compared, for [`Compared::report`].
pub struct Compared {
    pub basis: Basis,
    pub windows: Windows,
    pub seen: Seen,
    pub options: Options,
}

impl Compared {
    /// The report of the service's changes, however each was decided: the operations
    /// ordered (regressions first, busiest first) and summed up into the headline.
    pub fn report(self, service: &str, mut overall: Change, mut operations: Vec<Change>) -> RegressionReport {
        let rank = |v: Verdict| match v {
            Verdict::Regression => 0,
            Verdict::Improvement => 1,
            Verdict::NoChange => 2,
            Verdict::NotEnoughData => 3,
        };
        operations.sort_by_key(|c| (rank(c.latency).min(rank(c.errors)), std::cmp::Reverse(c.current.count)));
        let summary = summarize(&mut overall, &operations);
        let Compared { basis, windows, seen, options } = self;
        RegressionReport { service: service.to_string(), basis, windows, seen, options, summary, overall, operations }
    }
}

/// Whether two error counts differ significantly (α of `options`) by at least one
/// percentage point, and which way.
pub fn error_verdict(baseline: &WindowStats, current: &WindowStats, options: &Options) -> Verdict {
    let p = proportions_differ(baseline.errors, baseline.count, current.errors, current.count);
    let delta = current.error_rate - baseline.error_rate;
    match (p < options.alpha, delta) {
        (true, d) if d >= 0.01 => Verdict::Regression,
        (true, d) if d <= -0.01 => Verdict::Improvement,
        _ => Verdict::NoChange,
    }
}

/// The versions of `samples` (not their instances), in the order they first served.
fn versions_of<'s>(samples: impl Iterator<Item = &'s Sample>) -> Vec<String> {
    let mut first: BTreeMap<&str, u64> = BTreeMap::new();
    for s in samples {
        if let Some(d) = s.deployment.as_ref().filter(|d| d.key != DeploymentKey::InstanceId) {
            let at = first.entry(&d.version).or_insert(s.start_ns);
            *at = (*at).min(s.start_ns);
        }
    }
    let mut versions: Vec<(&str, u64)> = first.into_iter().collect();
    versions.sort_by_key(|&(version, at)| (at, version));
    versions.into_iter().map(|(version, _)| version.to_string()).collect()
}

/// The service's verdicts from its operations' (see [`Summary`]), written into `overall`.
fn summarize(overall: &mut Change, operations: &[Change]) -> Summary {
    if operations.iter().all(|c| c.latency == Verdict::NotEnoughData) {
        return Summary { pooled: true, ..Summary::default() };
    }
    let p95_change = |c: &Change| relative(c.baseline.p95_ns, c.current.p95_ns);
    let error_change = |c: &Change| c.current.error_rate - c.baseline.error_rate;
    let moved = |verdict: fn(&Change) -> bool, by: &dyn Fn(&Change) -> f64, most_first: bool| {
        let mut found: Vec<&Change> = operations.iter().filter(|c| verdict(c)).collect();
        found.sort_by(|a, b| {
            let order = by(a).total_cmp(&by(b));
            if most_first { order.reverse() } else { order }
        });
        found
    };
    let slower = moved(|c| c.latency == Verdict::Regression, &p95_change, true);
    let faster = moved(|c| c.latency == Verdict::Improvement, &p95_change, false);
    let more_errors = moved(|c| c.errors == Verdict::Regression, &error_change, true);
    let fewer_errors = moved(|c| c.errors == Verdict::Improvement, &error_change, false);
    let verdict = |worse: &[&Change], better: &[&Change]| match (worse.is_empty(), better.is_empty()) {
        (false, _) => Verdict::Regression,
        (true, false) => Verdict::Improvement,
        (true, true) => Verdict::NoChange,
    };
    overall.latency = verdict(&slower, &faster);
    overall.errors = verdict(&more_errors, &fewer_errors);
    overall.p_value = slower.first().or(faster.first()).and_then(|c| c.p_value);
    let names = |changes: Vec<&Change>| changes.into_iter().filter_map(|c| c.operation.clone()).collect();
    Summary {
        slower: names(slower),
        faster: names(faster),
        more_errors: names(more_errors),
        fewer_errors: names(fewer_errors),
        pooled: false,
    }
}

fn change(operation: Option<String>, samples: &[&Sample], sides: &Sides, options: &Options) -> Change {
    let pick = |side: &dyn Fn(&Sample) -> bool| {
        let mut durations: Vec<u64> = Vec::new();
        let mut errors = 0;
        for s in samples.iter().filter(|s| side(s)) {
            durations.push(s.duration_ns);
            errors += usize::from(s.error);
        }
        durations.sort_unstable();
        (durations, errors)
    };
    let (before, before_errors) = pick(&|s| sides.baseline(s));
    let (after, after_errors) = pick(&|s| sides.current(s));
    let baseline = stats(&before, before_errors, &sides.windows.baseline);
    let current = stats(&after, after_errors, &sides.windows.current);
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
    let errors = if enough { error_verdict(&baseline, &current, options) } else { Verdict::NotEnoughData };
    let slowest =
        samples.iter().filter(|s| sides.current(s)).max_by_key(|s| s.duration_ns).map(|s| (s.trace_id, s.span_id));
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
    use crate::analysis::significance::mann_whitney;

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
                deployment: None,
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
        let report =
            detect("web", &all, Windows::last(start + 120 * MINUTE, 60 * MINUTE), Basis::Ranges, Options::default());
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
        let report =
            detect("pay", &all, Windows::around(start + 60 * MINUTE, 60 * MINUTE), Basis::Around, Options::default());
        let overall = &report.overall;
        assert_eq!((overall.latency, overall.errors), (Verdict::Improvement, Verdict::Regression));
        assert_eq!((overall.baseline.count, overall.current.count), (212, 198));
    }

    #[test]
    fn one_operation_a_third_slower_among_busier_steady_ones_makes_the_headline() {
        // The shape users met: POST /checkout 33 % slower, GET /home and GET /cart (ten
        // times busier, faster) unchanged. Pooled, the checkout requests stay the slowest
        // tenth whatever their own order: the ranks barely move.
        let slow: Vec<u64> = (0..40).map(|i| 300 + i * 5).collect();
        let quick: Vec<u64> = (0..40).map(|i| 20 + i).collect();
        let start = 2_000 * MINUTE;
        let mut all = requests("POST /checkout", start, 60, &slow, 0);
        all.extend(requests("POST /checkout", start + 60 * MINUTE, 60, &around(&slow, 133), 0));
        for (operation, n) in [("GET /home", 400), ("GET /cart", 200)] {
            all.extend(requests(operation, start, n, &quick, 0));
            all.extend(requests(operation, start + 60 * MINUTE, n, &quick, 0));
        }
        let windows = Windows::last(start + 120 * MINUTE, 60 * MINUTE);
        let pooled = |w: &Window| {
            let mut d: Vec<u64> = all.iter().filter(|s| w.contains(s.start_ns)).map(|s| s.duration_ns).collect();
            d.sort_unstable();
            d
        };
        let pooled_p = mann_whitney(&pooled(&windows.baseline), &pooled(&windows.current)).unwrap().p_value;
        assert!(pooled_p > 0.05, "pooled, the change is not significant (p = {pooled_p})");

        let report = detect("shop", &all, windows, Basis::Ranges, Options::default());
        let checkout = &report.operations[0];
        assert_eq!((checkout.operation.as_deref(), checkout.latency), (Some("POST /checkout"), Verdict::Regression));
        assert!(checkout.p_value.unwrap() < 0.001);
        assert_eq!(report.summary.slower, ["POST /checkout"]);
        assert!(report.summary.faster.is_empty() && !report.summary.pooled);
        assert_eq!((report.overall.latency, report.overall.errors), (Verdict::Regression, Verdict::NoChange));
        assert_eq!(report.overall.p_value, checkout.p_value, "the headline's p is the checkout's");
        assert_eq!(report.overall.current.count, 660, "the numbers stay those of every request");
    }

    #[test]
    fn the_headline_names_the_worst_first_and_pools_only_when_no_operation_can_tell() {
        let spread: Vec<u64> = (0..40).map(|i| 200 + i * 7).collect();
        let start = 3_000 * MINUTE;
        let mut all = Vec::new();
        for (operation, percent) in [("GET /a", 115), ("GET /b", 160), ("GET /c", 70)] {
            all.extend(requests(operation, start, 100, &spread, 0));
            all.extend(requests(operation, start + 60 * MINUTE, 100, &around(&spread, percent), 0));
        }
        let windows = Windows::last(start + 120 * MINUTE, 60 * MINUTE);
        let report = detect("web", &all, windows, Basis::Ranges, Options::default());
        assert_eq!(report.summary.slower, ["GET /b", "GET /a"], "the largest P95 rise first");
        assert_eq!(report.summary.faster, ["GET /c"]);
        assert_eq!(report.overall.latency, Verdict::Regression, "a regression outweighs an improvement");

        // Ten operations of 12 requests a side each, all 60 % slower: none can tell alone.
        let mut thin = Vec::new();
        for n in 0..10 {
            thin.extend(requests(&format!("GET /{n}"), start, 12, &spread, 0));
            thin.extend(requests(&format!("GET /{n}"), start + 60 * MINUTE, 12, &around(&spread, 160), 0));
        }
        let report = detect("web", &thin, windows, Basis::Ranges, Options::default());
        assert!(report.summary.pooled);
        assert_eq!(report.overall.latency, Verdict::Regression, "pooled, 120 requests a side can");
    }

    #[test]
    fn versions_are_compared_by_the_requests_each_served() {
        let spread: Vec<u64> = (0..40).map(|i| 200 + i * 7).collect();
        let start = 4_000 * MINUTE;
        let served_by = |mut samples: Vec<Sample>, version: &str| {
            for s in &mut samples {
                s.deployment = Some(Deployment { key: DeploymentKey::ServiceVersion, version: version.into() });
            }
            samples
        };
        // A canary: 1.1.0 runs beside 1.0.0 for the whole hour, 40 % slower.
        let mut all = served_by(requests("GET /cart", start, 200, &spread, 0), "1.0.0");
        all.extend(served_by(requests("GET /cart", start, 100, &around(&spread, 140), 0), "1.1.0"));
        let hour = Window { start_ns: start, end_ns: start + 60 * MINUTE };
        let windows = Windows { baseline: hour, current: hour, gap_ns: None };
        let basis = Basis::Versions {
            attribute: DeploymentKey::ServiceVersion,
            baseline: "1.0.0".into(),
            current: "1.1.0".into(),
        };
        let report = detect("web", &all, windows, basis, Options::default());
        assert_eq!((report.overall.baseline.count, report.overall.current.count), (200, 100));
        assert_eq!(report.overall.latency, Verdict::Regression);
        assert_eq!(
            (report.seen.baseline.as_slice(), report.seen.current.as_slice()),
            (&["1.0.0".to_string()][..], &["1.1.0".to_string()][..])
        );
        let same_hour = detect("web", &all, windows, Basis::Ranges, Options::default());
        assert_eq!(same_hour.seen.current, ["1.0.0", "1.1.0"], "a window names every version that served it");
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
