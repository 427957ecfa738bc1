//! Trends over days and weeks: rollups (the requests of one operation in one minute or
//! hour, summed up: count, errors, a latency sketch and the slowest request) merged into
//! the buckets a chart shows, and the numbers each bucket stands for.
//!
//! The store keeps rollups (see `store::rollups`); this module only merges them, so the
//! trend chart, its JSON and later consumers (alerts, baselines) share one arithmetic.

use serde::{Deserialize, Serialize};

use super::sketch::LatencySketch;
use crate::model::{SpanId, SpanKind, TraceId};

const MINUTE_NS: u64 = 60_000_000_000;
const HOUR_NS: u64 = 60 * MINUTE_NS;
const DAY_NS: u64 = 24 * HOUR_NS;

/// What a rollup counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    /// Requests the service served: its server and consumer spans, and its root spans
    /// (a job, a script's top span).
    Entry,
    /// Calls the service made: its client and producer spans.
    Client,
}

impl CallKind {
    /// What a span with this kind counts as, if anything (internal spans inside a
    /// service count as neither).
    pub fn of(kind: SpanKind, is_root: bool) -> Option<CallKind> {
        match kind {
            SpanKind::Server | SpanKind::Consumer => Some(CallKind::Entry),
            _ if is_root => Some(CallKind::Entry),
            SpanKind::Client | SpanKind::Producer => Some(CallKind::Client),
            _ => None,
        }
    }

    /// The number the store keeps for it.
    pub fn code(self) -> i64 {
        match self {
            CallKind::Entry => 0,
            CallKind::Client => 1,
        }
    }

    pub fn from_code(code: i64) -> Option<CallKind> {
        match code {
            0 => Some(CallKind::Entry),
            1 => Some(CallKind::Client),
            _ => None,
        }
    }
}

/// The slowest request of a bucket, to open while its trace is still stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slowest {
    pub duration_ns: u64,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

/// The requests of a time bucket `[start_ns, start_ns + width_ns)`, summed up.
#[derive(Clone, Debug, Default)]
pub struct Rollup {
    pub start_ns: u64,
    pub width_ns: u64,
    pub requests: u64,
    pub errors: u64,
    pub latency: LatencySketch,
    pub slowest: Option<Slowest>,
}

impl Rollup {
    pub fn new(start_ns: u64, width_ns: u64) -> Rollup {
        Rollup { start_ns, width_ns, ..Rollup::default() }
    }

    /// Counts one request.
    pub fn add(&mut self, duration_ns: u64, error: bool, trace_id: TraceId, span_id: SpanId) {
        self.requests += 1;
        self.errors += u64::from(error);
        self.latency.add(duration_ns);
        if self.slowest.is_none_or(|s| duration_ns > s.duration_ns) {
            self.slowest = Some(Slowest { duration_ns, trace_id, span_id });
        }
    }

    /// Counts the requests of `other` too (its time is not looked at).
    pub fn merge(&mut self, other: &Rollup) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latency.merge(&other.latency);
        if let Some(theirs) = other.slowest
            && self.slowest.is_none_or(|ours| theirs.duration_ns > ours.duration_ns)
        {
            self.slowest = Some(theirs);
        }
    }
}

/// The start of the minute bucket of `time_ns`, and of its hour.
pub fn minute_of(time_ns: u64) -> u64 {
    time_ns - time_ns % MINUTE_NS
}

pub fn hour_of(time_ns: u64) -> u64 {
    time_ns - time_ns % HOUR_NS
}

/// Per minute for a day, then per hour: the bucket a request at `time_ns` is counted in
/// when it arrives at `now_ns` (`(start, width)`). An hour is kept per minute until it
/// ended more than a day ago, so that the last 24 hours are always per minute.
pub fn bucket_of(time_ns: u64, now_ns: u64) -> (u64, u64) {
    let hour = hour_of(time_ns);
    if is_past_minutes(hour, now_ns) { (hour, HOUR_NS) } else { (minute_of(time_ns), MINUTE_NS) }
}

/// Whether the hour starting at `hour_ns` is kept per hour by `now_ns`.
pub fn is_past_minutes(hour_ns: u64, now_ns: u64) -> bool {
    hour_ns.saturating_add(HOUR_NS).saturating_add(DAY_NS) <= now_ns
}

/// Rollups from this time on are kept per minute by `now_ns`, those before it per hour
/// (see [`is_past_minutes`]).
pub fn minutes_kept_from(now_ns: u64) -> u64 {
    hour_of(now_ns.saturating_sub(DAY_NS + HOUR_NS)) + HOUR_NS
}

/// Rollups merged into the buckets of a chart as they are read (a service's rollups over
/// months do not all fit in memory at once): `bucket_ns` wide, aligned to whole multiples
/// of it (UTC), from the one holding `start_ns` to the one holding the end, empty ones
/// included. A rollup counts in the bucket its start falls in.
pub struct Buckets {
    start_ns: u64,
    bucket_ns: u64,
    buckets: Vec<Rollup>,
}

impl Buckets {
    pub fn new(start_ns: u64, end_ns: u64, bucket_ns: u64) -> Buckets {
        let bucket_ns = bucket_ns.max(1);
        let first = start_ns - start_ns % bucket_ns;
        let count = end_ns.saturating_sub(first).div_ceil(bucket_ns).max(1);
        let buckets = (0..count).map(|i| Rollup::new(first + i * bucket_ns, bucket_ns)).collect();
        Buckets { start_ns: first, bucket_ns, buckets }
    }

    /// Counts a rollup in its bucket; one outside them all is left out.
    pub fn add(&mut self, rollup: &Rollup) {
        if let Some(at) = rollup.start_ns.checked_sub(self.start_ns)
            && let Some(bucket) = self.buckets.get_mut((at / self.bucket_ns) as usize)
        {
            bucket.merge(rollup);
        }
    }

    pub fn into_rollups(self) -> Vec<Rollup> {
        self.buckets
    }
}

/// The bucket widths a chart may use: round numbers a reader takes in at a glance.
const WIDTHS: [u64; 15] = [
    MINUTE_NS,
    2 * MINUTE_NS,
    5 * MINUTE_NS,
    10 * MINUTE_NS,
    15 * MINUTE_NS,
    30 * MINUTE_NS,
    HOUR_NS,
    2 * HOUR_NS,
    3 * HOUR_NS,
    6 * HOUR_NS,
    12 * HOUR_NS,
    DAY_NS,
    2 * DAY_NS,
    7 * DAY_NS,
    30 * DAY_NS,
];

/// The narrowest round bucket width that fits `range_ns` into `columns`, and is no
/// narrower than `stored_ns` (the widest stored rollup in the range: an hour's rollup
/// drawn in a 15-minute column would show four times its rate).
pub fn bucket_width(range_ns: u64, columns: usize, stored_ns: u64) -> u64 {
    let columns = columns.max(1) as u64;
    WIDTHS
        .iter()
        .copied()
        .find(|&width| width >= stored_ns && range_ns.div_ceil(width) <= columns)
        .unwrap_or(WIDTHS[WIDTHS.len() - 1])
}

/// What a bucket (or a total) stands for, as charts and JSON show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    pub start_ns: u64,
    pub width_ns: u64,
    pub requests: u64,
    pub errors: u64,
    /// Percentiles of the duration, within [`super::sketch::RELATIVE_ERROR`]; none
    /// without requests.
    pub p50_ns: Option<u64>,
    pub p95_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    /// Failed requests as a share of all (0 to 1); none without requests.
    pub error_rate: Option<f64>,
    /// Requests per minute over the bucket.
    pub per_minute: f64,
    /// The slowest request, to open while its trace is stored.
    pub slowest_ns: Option<u64>,
    pub slowest_trace_id: Option<TraceId>,
    pub slowest_span_id: Option<SpanId>,
    /// Whether that request's trace is still stored (traces go long before rollups).
    pub slowest_stored: bool,
}

impl Point {
    pub fn of(rollup: &Rollup) -> Point {
        let minutes = rollup.width_ns.max(1) as f64 / MINUTE_NS as f64;
        Point {
            start_ns: rollup.start_ns,
            width_ns: rollup.width_ns,
            requests: rollup.requests,
            errors: rollup.errors,
            p50_ns: rollup.latency.quantile(0.50),
            p95_ns: rollup.latency.quantile(0.95),
            p99_ns: rollup.latency.quantile(0.99),
            error_rate: (rollup.requests > 0).then(|| rollup.errors as f64 / rollup.requests as f64),
            per_minute: rollup.requests as f64 / minutes,
            slowest_ns: rollup.slowest.map(|s| s.duration_ns),
            slowest_trace_id: rollup.slowest.map(|s| s.trace_id),
            slowest_span_id: rollup.slowest.map(|s| s.span_id),
            slowest_stored: false,
        }
    }
}

/// One operation of a service over the whole range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OperationTotal {
    pub operation: String,
    pub kind: CallKind,
    #[serde(flatten)]
    pub total: Point,
}

/// A service's (or one operation's) requests over a range, bucket by bucket: what
/// `:VitalsTrends` and `vitals trends` draw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trend {
    pub service: String,
    /// The operation shown; none for every entry operation of the service summed.
    pub operation: Option<String>,
    pub kind: CallKind,
    pub start_ns: u64,
    pub end_ns: u64,
    pub bucket_ns: u64,
    pub points: Vec<Point>,
    pub total: Point,
    /// Every operation of the service with requests in the range (calls out included),
    /// most requests first: what to look at next.
    pub operations: Vec<OperationTotal>,
}

/// What a trend is asked for: a service's requests (or one operation's) over a range,
/// drawn in at most `columns` buckets.
#[derive(Clone, Debug, PartialEq)]
pub struct TrendRequest {
    pub service: String,
    /// None: every entry operation of the service, summed.
    pub operation: Option<String>,
    pub start_ns: u64,
    pub end_ns: u64,
    pub columns: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollup(start_ns: u64, width_ns: u64, durations_ms: &[u64], errors: u64) -> Rollup {
        let mut rollup = Rollup::new(start_ns, width_ns);
        for (i, &ms) in durations_ms.iter().enumerate() {
            rollup.add(ms * 1_000_000, (i as u64) < errors, TraceId(u128::from(ms)), SpanId(ms));
        }
        rollup
    }

    #[test]
    fn a_day_per_minute_then_per_hour() {
        let now = 10 * DAY_NS + 5 * HOUR_NS + 30 * MINUTE_NS;
        assert_eq!(bucket_of(now - 90 * 1_000_000_000, now), (now - 2 * MINUTE_NS, MINUTE_NS));
        // The hour that ended 24h30m ago is per hour; the one that ended 23h30m ago is not.
        let old = now - DAY_NS - HOUR_NS;
        assert_eq!(bucket_of(old, now), (hour_of(old), HOUR_NS));
        let recent = now - DAY_NS;
        assert_eq!(bucket_of(recent, now), (minute_of(recent), MINUTE_NS));
        assert!(is_past_minutes(minutes_kept_from(now) - HOUR_NS, now));
        assert!(!is_past_minutes(minutes_kept_from(now), now));
    }

    #[test]
    fn rollups_merge_into_chart_buckets_with_their_slowest_request() {
        let rollups = [
            rollup(0, MINUTE_NS, &[10, 20, 30], 1),
            rollup(MINUTE_NS, MINUTE_NS, &[40], 0),
            rollup(5 * MINUTE_NS, MINUTE_NS, &[500, 5], 2),
            rollup(6 * MINUTE_NS, MINUTE_NS, &[7], 0),
        ];
        // From inside the first bucket to the end of the third: the fourth rollup is after.
        let mut chart = Buckets::new(MINUTE_NS / 2, 6 * MINUTE_NS, 2 * MINUTE_NS);
        let mut all = Rollup::new(0, 7 * MINUTE_NS);
        for rollup in &rollups {
            chart.add(rollup);
            all.merge(rollup);
        }
        let buckets = chart.into_rollups();
        assert_eq!(buckets[0].start_ns, 0, "aligned");
        let counts: Vec<(u64, u64)> = buckets.iter().map(|b| (b.requests, b.errors)).collect();
        assert_eq!(counts, [(4, 1), (0, 0), (2, 2)]);
        assert_eq!(buckets[0].slowest.unwrap().trace_id, TraceId(40));
        assert_eq!(buckets[2].slowest.unwrap().duration_ns, 500_000_000);
        let point = Point::of(&buckets[0]);
        assert_eq!(point.per_minute, 2.0);
        assert_eq!(point.error_rate, Some(0.25));
        assert_eq!(Point::of(&buckets[1]).p95_ns, None);
        assert_eq!((all.requests, all.errors, all.latency.count()), (7, 3, 7));
    }

    #[test]
    fn the_bucket_width_fits_the_columns_and_never_splits_a_stored_rollup() {
        assert_eq!(bucket_width(7 * DAY_NS, 100, MINUTE_NS), 2 * HOUR_NS);
        assert_eq!(bucket_width(DAY_NS, 100, MINUTE_NS), 15 * MINUTE_NS);
        assert_eq!(bucket_width(DAY_NS, 100, HOUR_NS), HOUR_NS);
        assert_eq!(bucket_width(90 * DAY_NS, 60, HOUR_NS), 2 * DAY_NS);
        assert_eq!(bucket_width(3 * 365 * DAY_NS, 10, HOUR_NS), 30 * DAY_NS, "the widest, whatever it takes");
    }

    #[test]
    fn entry_spans_and_calls_out_are_told_apart() {
        assert_eq!(CallKind::of(SpanKind::Server, false), Some(CallKind::Entry));
        assert_eq!(CallKind::of(SpanKind::Consumer, false), Some(CallKind::Entry));
        assert_eq!(CallKind::of(SpanKind::Internal, true), Some(CallKind::Entry));
        assert_eq!(CallKind::of(SpanKind::Client, true), Some(CallKind::Entry), "a script's top span");
        assert_eq!(CallKind::of(SpanKind::Client, false), Some(CallKind::Client));
        assert_eq!(CallKind::of(SpanKind::Producer, false), Some(CallKind::Client));
        assert_eq!(CallKind::of(SpanKind::Internal, false), None);
        for kind in [CallKind::Entry, CallKind::Client] {
            assert_eq!(CallKind::from_code(kind.code()), Some(kind));
        }
    }
}
