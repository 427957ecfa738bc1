//! Which windows a regression check compares, as people ask for them: the latest traffic
//! against the traffic before it, before and after a moment (a deploy), or explicit
//! ranges; and which traces to fetch for that. (Comparing versions instead: see
//! [`super::regressions`].)

use crate::analysis::regression::{Sample, Window, Windows};
use crate::error::{Error, Result};
use crate::query::{SearchQuery, parse_duration};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSpec {
    /// The latest `length` of traffic against the `length` before it (see
    /// [`Windows::latest`]).
    Last {
        length_ns: u64,
    },
    /// `length` before a moment against `length` after it.
    Around {
        at_ns: u64,
        length_ns: u64,
    },
    Ranges(Windows),
}

impl WindowSpec {
    /// From the flags: `window` (`1h`), and optionally `at` (a moment) or both
    /// `baseline` and `current` (`FROM..TO`). Times are RFC 3339 (`2026-11-24T13:00:00Z`),
    /// `now`, or a duration meaning that long ago (`90m`).
    pub fn parse(
        window: &str,
        at: Option<&str>,
        baseline: Option<&str>,
        current: Option<&str>,
        now_ns: u64,
    ) -> Result<WindowSpec> {
        let length_ns = as_ns(parse_duration(window)?);
        if length_ns == 0 {
            return Err(Error::invalid("the window must be longer than 0"));
        }
        match (at, baseline, current) {
            (None, None, None) => Ok(WindowSpec::Last { length_ns }),
            (Some(at), None, None) => Ok(WindowSpec::Around { at_ns: parse_time(at, now_ns)?, length_ns }),
            (None, Some(baseline), Some(current)) => Ok(WindowSpec::Ranges(Windows {
                baseline: parse_range(baseline, now_ns)?,
                current: parse_range(current, now_ns)?,
                gap_ns: None,
            })),
            _ => Err(Error::invalid(
                "give either --at TIME, or both --baseline FROM..TO and --current FROM..TO, or neither",
            )),
        }
    }

    /// The traces to look at: the whole span of both windows, for `service`. The latest
    /// windows end at the service's newest request, `newest_ns` (found beforehand), and
    /// reach on to now for the requests that arrive meanwhile.
    pub fn query(&self, service: &str, limit: usize, newest_ns: u64, now_ns: u64) -> SearchQuery {
        let (from, to) = match *self {
            WindowSpec::Last { length_ns } => {
                (newest_ns.saturating_sub(length_ns.saturating_mul(2)), now_ns.max(newest_ns.saturating_add(1)))
            }
            WindowSpec::Around { at_ns, length_ns } => (at_ns.saturating_sub(length_ns), at_ns + length_ns),
            WindowSpec::Ranges(w) => {
                (w.baseline.start_ns.min(w.current.start_ns), w.baseline.end_ns.max(w.current.end_ns))
            }
        };
        let mut query = SearchQuery::new(service);
        query.time_range_us = Some((from / 1_000, to.div_ceil(1_000)));
        query.limit = limit;
        query
    }

    /// The windows themselves: by default they end at the newest request and split the
    /// traffic at its largest quiet gap when it came in runs (see [`Windows::latest`]);
    /// the report names them, so this is never hidden.
    pub fn resolve(&self, samples: &[Sample], now_ns: u64) -> Windows {
        match *self {
            WindowSpec::Last { length_ns } => {
                let starts: Vec<u64> = samples.iter().map(|s| s.start_ns).collect();
                Windows::latest(&starts, length_ns, now_ns)
            }
            WindowSpec::Around { at_ns, length_ns } => Windows::around(at_ns, length_ns),
            WindowSpec::Ranges(windows) => windows,
        }
    }
}

fn as_ns(d: std::time::Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

/// `2026-11-24T13:00:00Z`, `now`, or `90m` (ago).
pub fn parse_time(text: &str, now_ns: u64) -> Result<u64> {
    let text = text.trim();
    if text == "now" {
        return Ok(now_ns);
    }
    if let Ok(time) = humantime::parse_rfc3339_weak(text) {
        let since = time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        return Ok(as_ns(since));
    }
    parse_duration(text).map(|ago| now_ns.saturating_sub(as_ns(ago))).map_err(|_| {
        Error::invalid(format!("{text:?} is not a time: use 2026-11-24T13:00:00Z, now, or how long ago (90m)"))
    })
}

/// `FROM..TO`.
fn parse_range(text: &str, now_ns: u64) -> Result<Window> {
    let (from, to) = text
        .split_once("..")
        .ok_or_else(|| Error::invalid(format!("{text:?} is not a range like 3h..2h or 2026-11-24T13:00Z..now")))?;
    let window = Window { start_ns: parse_time(from, now_ns)?, end_ns: parse_time(to, now_ns)? };
    if window.end_ns <= window.start_ns {
        return Err(Error::invalid(format!("{text:?} ends before it starts")));
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000_000_000;

    /// A request that started at `start_ns`.
    fn sample(start_ns: u64) -> Sample {
        Sample {
            operation: "op".into(),
            start_ns,
            duration_ns: 1,
            error: false,
            trace_id: crate::model::TraceId(1),
            span_id: crate::model::SpanId(1),
            deployment: None,
        }
    }

    #[test]
    fn reads_the_three_ways_of_asking() {
        let now = 100 * H;
        assert_eq!(WindowSpec::parse("1h", None, None, None, now).unwrap(), WindowSpec::Last { length_ns: H });
        let at = WindowSpec::parse("30m", Some("2h"), None, None, now).unwrap();
        assert_eq!(at, WindowSpec::Around { at_ns: 98 * H, length_ns: H / 2 });
        let ranges = WindowSpec::parse("1h", None, Some("4h..3h"), Some("1970-01-05T03:00:00Z..now"), now).unwrap();
        let WindowSpec::Ranges(w) = ranges else { panic!("{ranges:?}") };
        assert_eq!((w.baseline.start_ns, w.baseline.end_ns, w.current.start_ns), (96 * H, 97 * H, 99 * H));
        assert!(WindowSpec::parse("1h", None, Some("1h..2h"), Some("1h..now"), now).is_err(), "ends before it starts");
        assert!(WindowSpec::parse("1h", Some("now"), Some("2h..1h"), None, now).is_err());
        assert!(WindowSpec::parse("soon", None, None, None, now).is_err());
    }

    #[test]
    fn the_last_hour_ends_now_unless_it_is_empty() {
        let spec = WindowSpec::Last { length_ns: H };
        let windows = spec.resolve(&[sample(10 * H), sample(12 * H)], 100 * H);
        assert_eq!((windows.current.start_ns, windows.current.end_ns), (11 * H + 1, 12 * H + 1));
        assert_eq!(spec.resolve(&[], 100 * H).current.end_ns, 100 * H);
        let steady: Vec<Sample> = (0..600).map(|i| sample(99 * H + i * 6_000_000_000)).collect();
        let live = spec.resolve(&steady, 100 * H);
        assert_eq!(live.current.end_ns, 99 * H + 599 * 6_000_000_000 + 1, "ends at the newest request");
        assert_eq!((live.current.end_ns - live.current.start_ns, live.gap_ns), (H, None), "steady traffic: hours");
    }

    #[test]
    fn two_runs_five_minutes_apart_are_compared_with_each_other() {
        const S: u64 = 1_000_000_000;
        // 82 requests 0.5 s apart, then 5 minutes later 82 more; now is 10 minutes on.
        let first: Vec<u64> = (0..82).map(|i| 50 * H + i * S / 2).collect();
        let second: Vec<u64> = first.iter().map(|t| t + 41 * S + 300 * S).collect();
        let samples: Vec<Sample> = first.iter().chain(&second).map(|&t| sample(t)).collect();
        let now = second[81] + 600 * S;
        let windows = WindowSpec::Last { length_ns: H }.resolve(&samples, now);
        assert_eq!((windows.baseline.start_ns, windows.baseline.end_ns), (first[0], first[81] + 1));
        assert_eq!((windows.current.start_ns, windows.current.end_ns), (second[0], second[81] + 1));
        assert_eq!(windows.gap_ns, Some(second[0] - first[81]));
        let in_window = |w: &Window| samples.iter().filter(|s| (w.start_ns..w.end_ns).contains(&s.start_ns)).count();
        assert_eq!((in_window(&windows.baseline), in_window(&windows.current)), (82, 82));
    }
}
