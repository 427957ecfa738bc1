//! The times a span may have. A source can send any 64-bit numbers: a span that ends
//! before it starts, lasts 584 years, or starts in the year 2554. Every decoder passes a
//! span's times through [`SpanTimes`], which keeps what is possible and repairs the rest
//! (the trace warns about each kind of repair), so that sources agree on what is
//! accepted and every later sum of times stays far from overflowing.

/// The longest a span may last: 30 days. Longer is a clock or a tracer gone wrong (no
/// request waits a month), and would dwarf every real span of the trace.
pub const MAX_SPAN_NS: u64 = 30 * 24 * 3600 * 1_000_000_000;

/// The latest start time accepted: the largest time a signed 64-bit count of
/// nanoseconds holds (April 2262), as the SDKs' clocks and Jaeger's storage keep time.
pub const LATEST_TIME_NS: u64 = i64::MAX as u64;

/// What was impossible about the times a source gave a span, and so was repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeRepair {
    /// It started before 1970 or after [`LATEST_TIME_NS`]: it is shown with no start
    /// time.
    StartOutOfRange,
    /// It ended before it started: it is shown as taking no time.
    EndsBeforeStart,
    /// It lasted longer than [`MAX_SPAN_NS`]: it is shown as taking no time.
    TooLong,
}

/// A span's start and duration in nanoseconds, within the limits above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanTimes {
    /// Unix time; 0 when the source had none (or an impossible one).
    pub start_ns: u64,
    pub duration_ns: u64,
    /// The first thing that had to be repaired, if any.
    pub repair: Option<TimeRepair>,
}

impl SpanTimes {
    /// From a start and an end, as OTLP gives them (0 for "not set"). A span without a
    /// start has no knowable duration.
    pub fn from_start_end(start_ns: i128, end_ns: i128) -> SpanTimes {
        let duration_ns = if start_ns == 0 { 0 } else { end_ns.saturating_sub(start_ns) };
        SpanTimes::from_start_duration(start_ns, duration_ns)
    }

    /// From a start and a duration, as Jaeger and Zipkin give them. Widened to `i128`,
    /// so that what a source sends (unsigned or negative, in µs times 1,000) is judged
    /// before anything can wrap.
    pub fn from_start_duration(start_ns: i128, duration_ns: i128) -> SpanTimes {
        let mut repair = None;
        let start_ns = u64::try_from(start_ns).ok().filter(|&s| s <= LATEST_TIME_NS).unwrap_or_else(|| {
            repair = Some(TimeRepair::StartOutOfRange);
            0
        });
        let duration_ns = if duration_ns < 0 {
            repair = repair.or(Some(TimeRepair::EndsBeforeStart));
            0
        } else if duration_ns > i128::from(MAX_SPAN_NS) {
            repair = repair.or(Some(TimeRepair::TooLong));
            0
        } else {
            duration_ns as u64
        };
        SpanTimes { start_ns, duration_ns, repair }
    }
}

/// An event's (or a log's) time: kept when possible, 0 ("unknown") when not.
pub fn event_time(time_ns: i128) -> u64 {
    u64::try_from(time_ns).ok().filter(|&t| t <= LATEST_TIME_NS).unwrap_or(0)
}

/// Adds up times (ns or µs), stopping at `u64::MAX`: thousands of 30-day spans, or traces centuries
/// apart, pass what a `u64` holds, and a wrapped sum would read as a few µs.
pub fn saturating_sum(times: impl IntoIterator<Item = u64>) -> u64 {
    times.into_iter().fold(0, u64::saturating_add)
}

/// `now − was` as a signed change, widened so that it cannot wrap, then held within
/// what an `i64` holds.
pub fn change_ns(was: u64, now: u64) -> i64 {
    (i128::from(now) - i128::from(was)).clamp(i64::MIN.into(), i64::MAX.into()) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const YEAR_2023: i128 = 1_679_437_737_490_205_000;

    #[test]
    fn possible_times_are_kept() {
        let times = SpanTimes::from_start_end(YEAR_2023, YEAR_2023 + 5_000);
        assert_eq!(times, SpanTimes { start_ns: YEAR_2023 as u64, duration_ns: 5_000, repair: None });
        let longest = SpanTimes::from_start_duration(LATEST_TIME_NS.into(), MAX_SPAN_NS.into());
        assert_eq!((longest.start_ns, longest.duration_ns, longest.repair), (LATEST_TIME_NS, MAX_SPAN_NS, None));
        assert_eq!(SpanTimes::from_start_duration(0, 10_000).duration_ns, 10_000, "a duration without a start");
    }

    #[test]
    fn impossible_times_are_repaired_and_said_so() {
        let backwards = SpanTimes::from_start_end(YEAR_2023, YEAR_2023 - 1);
        assert_eq!((backwards.duration_ns, backwards.repair), (0, Some(TimeRepair::EndsBeforeStart)));
        for end in [i64::MAX.into(), u64::MAX.into(), i128::MAX] {
            let forever = SpanTimes::from_start_end(YEAR_2023, end);
            assert_eq!((forever.start_ns, forever.duration_ns), (YEAR_2023 as u64, 0));
            assert_eq!(forever.repair, Some(TimeRepair::TooLong));
        }
        let late = SpanTimes::from_start_end(u64::MAX.into(), u64::MAX.into());
        assert_eq!((late.start_ns, late.repair), (0, Some(TimeRepair::StartOutOfRange)));
        let early = SpanTimes::from_start_duration(-5, -7);
        assert_eq!((early.start_ns, early.duration_ns, early.repair), (0, 0, Some(TimeRepair::StartOutOfRange)));
    }

    #[test]
    fn a_span_without_a_start_has_no_duration_from_its_end() {
        // OTLP's "start 0, end near u64::MAX" of the fuzzed inputs.
        let times = SpanTimes::from_start_end(0, (u64::MAX - 7).into());
        assert_eq!(times, SpanTimes { start_ns: 0, duration_ns: 0, repair: None });
    }

    #[test]
    fn totals_stop_at_the_largest_time() {
        assert_eq!(saturating_sum([MAX_SPAN_NS; 8_000]), u64::MAX);
        assert_eq!(saturating_sum([1, 2, 3]), 6);
    }

    #[test]
    fn changes_are_signed_and_never_wrap() {
        assert_eq!((change_ns(10, 4), change_ns(4, 10)), (-6, 6));
        assert_eq!((change_ns(0, u64::MAX), change_ns(u64::MAX, 0)), (i64::MAX, i64::MIN));
    }

    #[test]
    fn event_times_out_of_range_are_unknown() {
        assert_eq!((event_time(-1), event_time(u64::MAX.into()), event_time(12)), (0, 0, 12));
    }
}
