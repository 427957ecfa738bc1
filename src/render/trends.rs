//! A trend as sparkline charts: one two-row chart each for P50, P95, P99, error rate and
//! throughput, a column per bucket (16 heights of Unicode blocks), the highest and lowest
//! value at the right, a time axis (UTC) under them, and room for markers (deployments)
//! under the axis. Then the totals, and each operation of the service to look at next.

use super::style::{Group, Rendered, StyledLine, Target};
use super::text::{truncate, width as text_width, wrap_styled};
use super::units::{duration, grouped};
use crate::analysis::trends::{CallKind, Point, Trend};

/// The chart's label column (`Req/min` and a space or two).
const LABEL: usize = 9;
/// The highest and lowest value, right of the chart (` max 1.24s`).
const RIGHT: usize = 13;
/// Eighths of a cell, lowest first.
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const MINUTE_NS: u64 = 60_000_000_000;
const DAY_NS: u64 = 24 * 60 * MINUTE_NS;

/// The buckets a drawing `width` columns wide has room for: what to ask the store for.
pub fn chart_columns(width: usize) -> usize {
    width.saturating_sub(LABEL + RIGHT).max(12)
}

/// Something that happened at a moment, marked under the time axis (a deployment).
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub time_ns: u64,
    pub label: String,
}

/// The drawing, with what its parts open: `rendered.targets` are the chart's cells, each
/// standing for a bucket (`span` is the index of its point); `operations` the lines of the
/// operations list, each with the index of its operation in `trend.operations`;
/// `slowest` the line of the slowest request of the whole range.
#[derive(Debug, Default, PartialEq)]
pub struct DrawnTrend {
    pub rendered: Rendered,
    pub operations: Vec<(usize, usize)>,
    pub slowest: Option<usize>,
}

/// Draws `trend` in `width` columns, with `markers` under the time axis.
pub fn render(trend: &Trend, markers: &[Marker], width: usize) -> DrawnTrend {
    let mut drawn = DrawnTrend::default();
    let lines = &mut drawn.rendered.lines;
    lines.push(heading(trend));
    lines.push(StyledLine::default());
    for metric in METRICS {
        let values: Vec<Option<f64>> = trend.points.iter().map(metric.value).collect();
        for line in chart(&metric, &values) {
            let at = lines.len();
            drawn.rendered.targets.extend(cells(&line, at, trend.points.len()));
            lines.push(line);
        }
    }
    lines.extend(axis(trend));
    if !markers.is_empty() {
        lines.push(marker_line(trend, markers));
    }
    lines.push(StyledLine::default());
    // At 80 columns the totals take two lines; the operations' rows have columns to keep.
    lines.extend(wrap_styled(&totals(&trend.total), width, TOTAL_INDENT));
    if let Some(slowest) = slowest_line(&trend.total) {
        drawn.slowest = Some(lines.len());
        lines.push(slowest);
    }
    // The name, two spaces, and the numbers' columns (47 cells).
    let name_width = width.saturating_sub(2 + 47).max(16);
    for kind in [CallKind::Entry, CallKind::Client] {
        let of_kind: Vec<(usize, &crate::analysis::trends::OperationTotal)> =
            trend.operations.iter().enumerate().filter(|(_, o)| o.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        lines.push(StyledLine::default());
        let title = match kind {
            CallKind::Entry => "Operations",
            CallKind::Client => "Calls out",
        };
        let mut header = StyledLine::default();
        header.push(&format!("{title:<w$}", w = name_width + 2), Some(Group::Title));
        header.push(
            &format!("{:>9}  {:>8}  {:>8}  {:>8}  {:>6}", "requests", "p50", "p95", "p99", "errors"),
            Some(Group::Dim),
        );
        lines.push(header);
        for (index, operation) in of_kind {
            drawn.operations.push((lines.len(), index));
            lines.push(operation_line(&operation.operation, &operation.total, name_width));
        }
    }
    drawn
}

fn heading(trend: &Trend) -> StyledLine {
    let mut line = StyledLine::default();
    line.push(&trend.service, Some(Group::Title));
    line.push(" · ", Some(Group::Dim));
    match (&trend.operation, trend.kind) {
        (Some(operation), CallKind::Entry) => line.push(operation, Some(Group::Title)),
        (Some(operation), CallKind::Client) => line.push(&format!("{operation} (calls out)"), Some(Group::Title)),
        (None, _) => line.push("every entry operation", Some(Group::Title)),
    };
    let range = trend.end_ns.saturating_sub(trend.start_ns);
    line.push(
        &format!(" · last {} in {} buckets", duration(round_to_minutes(range)), duration(trend.bucket_ns)),
        Some(Group::Dim),
    );
    line
}

/// Ranges start on a bucket's edge: `7d` asked for reads `7d01h` otherwise.
fn round_to_minutes(ns: u64) -> u64 {
    match ns {
        0..DAY_NS => ns - ns % MINUTE_NS,
        _ => ns - ns % DAY_NS,
    }
}

fn latency(ns: f64) -> String {
    duration(ns.max(0.0).round() as u64)
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 || p >= 10.0 { format!("{p:.0}%") } else { format!("{p:.1}%") }
}

/// Requests per minute; per hour, or per day, when too few for that to read.
fn rate(per_minute: f64) -> String {
    match per_minute {
        0.0 => "0/min".to_string(),
        r if r >= 10.0 => format!("{r:.0}/min"),
        r if r >= 0.1 => format!("{r:.1}/min"),
        r if r * 60.0 >= 0.1 => format!("{:.1}/h", r * 60.0),
        r => format!("{:.1}/d", r * 60.0 * 24.0),
    }
}

/// A row of charts: what it shows of each bucket, and how its values read.
struct Metric {
    label: &'static str,
    value: fn(&Point) -> Option<f64>,
    format: fn(f64) -> String,
    group: Group,
}

const METRICS: [Metric; 5] = [
    Metric { label: "P50", value: |p| p.p50_ns.map(|n| n as f64), format: latency, group: Group::Duration },
    Metric { label: "P95", value: |p| p.p95_ns.map(|n| n as f64), format: latency, group: Group::Duration },
    Metric { label: "P99", value: |p| p.p99_ns.map(|n| n as f64), format: latency, group: Group::Duration },
    Metric { label: "Errors", value: |p| p.error_rate, format: percent, group: Group::Error },
    Metric { label: "Req/min", value: |p| Some(p.per_minute), format: rate, group: Group::Label },
];

/// A two-row sparkline: the label and the highest value on the top row, the lowest on
/// the bottom one; a bucket without a value is a dim dot.
fn chart(metric: &Metric, values: &[Option<f64>]) -> [StyledLine; 2] {
    let Metric { label, format, group, .. } = *metric;
    let known = values.iter().flatten().copied();
    let (low, high) = known.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    let mut rows = [StyledLine::default(), StyledLine::default()];
    rows[0].push(&format!("{label:<LABEL$}"), Some(Group::Key));
    rows[1].push(&" ".repeat(LABEL), None);
    for value in values {
        match value {
            Some(v) => {
                let eighths = height(*v, low, high);
                let top = if eighths > 8 { BLOCKS[eighths - 9].to_string() } else { " ".into() };
                rows[0].push(&top, Some(group));
                rows[1].push(&BLOCKS[eighths.min(8) - 1].to_string(), Some(group));
            }
            None => {
                rows[0].push(" ", None);
                rows[1].push("·", Some(Group::Dim));
            }
        }
    }
    if high.is_finite() {
        rows[0].push(&format!("  max {}", format(high)), Some(Group::Dim));
        rows[1].push(&format!("  min {}", format(low)), Some(Group::Dim));
    }
    rows
}

/// How many eighths of the two rows (1 to 16) a value fills between the lowest and the
/// highest; the lowest shows as a sliver, never as nothing.
fn height(value: f64, low: f64, high: f64) -> usize {
    if high <= low {
        return if high > 0.0 { 8 } else { 1 };
    }
    1 + ((value - low) / (high - low) * 15.0).round().clamp(0.0, 15.0) as usize
}

/// The chart's cells on a line, as targets standing for their buckets.
fn cells(line: &StyledLine, at: usize, buckets: usize) -> Vec<Target> {
    let mut targets = Vec::with_capacity(buckets);
    let mut offset = LABEL;
    for (bucket, c) in line.text[LABEL..].chars().take(buckets).enumerate() {
        targets.push(Target { line: at, start: offset, end: offset + c.len_utf8(), span: bucket });
        offset += c.len_utf8();
    }
    targets
}

/// The time axis: a tick under each round moment, labelled in UTC (`Nov 12`, or
/// `06:00` when ticks are hours apart), far enough apart for their labels.
fn axis(trend: &Trend) -> [StyledLine; 2] {
    let buckets = trend.points.len();
    let bucket = trend.bucket_ns.max(1);
    let (every, daily) = tick_interval(bucket);
    let mut rule: Vec<char> = vec!['─'; buckets];
    let mut labels: Vec<char> = vec![' '; buckets + RIGHT];
    let mut free_from = 0;
    for (i, point) in trend.points.iter().enumerate() {
        let end = point.start_ns + bucket;
        // The round moment inside this bucket, if any.
        let tick = point.start_ns.div_ceil(every) * every;
        if tick >= end {
            continue;
        }
        let text = moment(tick, daily || tick % DAY_NS == 0);
        if i < free_from || i + text.chars().count() > labels.len() {
            continue;
        }
        rule[i] = '┴';
        for (j, c) in text.chars().enumerate() {
            labels[i + j] = c;
        }
        free_from = i + text.chars().count() + 2;
    }
    let mut rule_line = StyledLine::default();
    rule_line.push(&" ".repeat(LABEL), None);
    rule_line.push(&rule.into_iter().collect::<String>(), Some(Group::Dim));
    rule_line.push("  UTC", Some(Group::Dim));
    let mut label_line = StyledLine::default();
    label_line.push(&" ".repeat(LABEL), None);
    label_line.push(labels.into_iter().collect::<String>().trim_end(), Some(Group::Dim));
    [rule_line, label_line]
}

/// How far apart ticks are for buckets `bucket_ns` wide (at least 8 buckets, room for a
/// label), and whether they fall on whole days.
fn tick_interval(bucket_ns: u64) -> (u64, bool) {
    const HOUR: u64 = 60 * MINUTE_NS;
    let steps = [HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY_NS, 2 * DAY_NS, 7 * DAY_NS, 14 * DAY_NS, 28 * DAY_NS];
    let every = steps.into_iter().find(|&s| s >= bucket_ns * 8).unwrap_or(28 * DAY_NS);
    (every, every >= DAY_NS)
}

/// `Nov 12` for a day, `06:00` for a time of day (UTC).
fn moment(ns: u64, day: bool) -> String {
    let stamp =
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns)).to_string();
    if !day {
        return stamp.get(11..16).unwrap_or_default().to_string();
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = stamp.get(5..7).and_then(|m| m.parse::<usize>().ok()).unwrap_or(1);
    format!("{} {}", MONTHS[(month.max(1) - 1) % 12], stamp.get(8..10).unwrap_or_default())
}

/// Each marker under the bucket it falls in: `▲` and its label, labels left out where
/// they would run into the next.
fn marker_line(trend: &Trend, markers: &[Marker]) -> StyledLine {
    let buckets = trend.points.len();
    let bucket = trend.bucket_ns.max(1);
    let mut cells: Vec<char> = vec![' '; buckets + RIGHT];
    let mut placed: Vec<(usize, &str)> = markers
        .iter()
        .filter(|m| m.time_ns >= trend.start_ns)
        .map(|m| (((m.time_ns - trend.start_ns) / bucket) as usize, m.label.as_str()))
        .filter(|(at, _)| *at < buckets)
        .collect();
    placed.sort();
    for (n, (at, label)) in placed.iter().enumerate() {
        cells[*at] = '▲';
        let next = placed.get(n + 1).map_or(cells.len(), |(next, _)| *next);
        let room = next.saturating_sub(at + 2);
        for (j, c) in truncate(label, room).chars().enumerate() {
            if at + 1 + j < cells.len() {
                cells[at + 1 + j] = c;
            }
        }
    }
    let mut line = StyledLine::default();
    line.push(&" ".repeat(LABEL), None);
    line.push(cells.into_iter().collect::<String>().trim_end(), Some(Group::Warning));
    line
}

/// Where the totals' text starts, after their label.
const TOTAL_INDENT: usize = 9;

fn totals(total: &Point) -> StyledLine {
    let mut line = StyledLine::default();
    line.push(&format!("{:<TOTAL_INDENT$}", "Total"), Some(Group::Key));
    line.push(&format!("{} requests", grouped(total.requests)), None);
    for (name, value) in [("p50", total.p50_ns), ("p95", total.p95_ns), ("p99", total.p99_ns)] {
        if let Some(ns) = value {
            line.push(&format!(" · {name} "), Some(Group::Dim));
            line.push(&duration(ns), Some(Group::Duration));
        }
    }
    if let Some(share) = total.error_rate {
        line.push(" · errors ", Some(Group::Dim));
        line.push(&percent(share), Some(if total.errors > 0 { Group::Error } else { Group::Dim }));
    }
    line.push(&format!(" · {}", rate(total.per_minute)), Some(Group::Dim));
    line
}

fn slowest_line(total: &Point) -> Option<StyledLine> {
    let (ns, trace) = (total.slowest_ns?, total.slowest_trace_id?);
    let mut line = StyledLine::default();
    line.push("Slowest  ", Some(Group::Key));
    line.push(&duration(ns), Some(Group::Duration));
    line.push(&format!("  trace {trace}"), Some(Group::Dim));
    Some(line)
}

fn operation_line(name: &str, total: &Point, name_width: usize) -> StyledLine {
    let mut line = StyledLine::default();
    let name = truncate(name, name_width);
    line.push(&format!("  {name}{}", " ".repeat(name_width.saturating_sub(text_width(&name)))), None);
    let shown = |ns: Option<u64>| ns.map_or_else(|| "–".to_string(), duration);
    line.push(&format!("{:>9}  ", grouped(total.requests)), None);
    line.push(
        &format!("{:>8}  {:>8}  {:>8}  ", shown(total.p50_ns), shown(total.p95_ns), shown(total.p99_ns)),
        Some(Group::Duration),
    );
    let errors = total.error_rate.map_or_else(|| "–".to_string(), percent);
    line.push(&format!("{errors:>6}"), Some(if total.errors > 0 { Group::Error } else { Group::Dim }));
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::trends::{OperationTotal, Rollup};
    use crate::model::{SpanId, TraceId};

    const HOUR_NS: u64 = 60 * MINUTE_NS;
    /// 2026-11-24 00:00 UTC.
    const DAY: u64 = 1_795_478_400 * 1_000_000_000;

    /// A day in 24 hourly buckets: 10 requests an hour, slower in the afternoon, errors
    /// at noon, none at 03:00.
    fn trend() -> Trend {
        let points: Vec<Point> = (0..24)
            .map(|h| {
                let mut rollup = Rollup::new(DAY + h * HOUR_NS, HOUR_NS);
                for i in 0..if h == 3 { 0 } else { 10 } {
                    let ms = if h >= 12 { 100 + i } else { 10 + i };
                    rollup.add(ms * 1_000_000, h == 12 && i < 5, TraceId(u128::from(h)), SpanId(i));
                }
                Point::of(&rollup)
            })
            .collect();
        let mut all = Rollup::new(DAY, 24 * HOUR_NS);
        all.add(109_000_000, false, TraceId(23), SpanId(9));
        Trend {
            service: "shop".into(),
            operation: None,
            kind: CallKind::Entry,
            start_ns: DAY,
            end_ns: DAY + 24 * HOUR_NS,
            bucket_ns: HOUR_NS,
            points,
            total: Point::of(&all),
            operations: vec![OperationTotal {
                operation: "GET /items".into(),
                kind: CallKind::Entry,
                total: Point::of(&all),
            }],
        }
    }

    #[test]
    fn each_metric_is_a_two_row_chart_with_its_range_and_the_axis_names_the_hours() {
        let drawn = render(&trend(), &[], 100);
        let text = drawn.rendered.plain_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "shop · every entry operation · last 24h in 1h buckets");
        let p50 = lines.iter().position(|l| l.starts_with("P50")).unwrap();
        // The medians of 10 … 19 ms and 100 … 109 ms (14 and 104 ms, within 1 %).
        assert!(lines[p50].ends_with("max 103ms"), "{text}");
        assert!(lines[p50 + 1].ends_with("min 13.9ms"), "{text}");
        let chart: Vec<char> = lines[p50 + 1][LABEL..].chars().take(24).collect();
        assert_eq!((chart[0], chart[3], chart[23]), ('▁', '·', '█'), "lowest, empty, highest: {text}");
        let errors = lines.iter().position(|l| l.starts_with("Errors")).unwrap();
        assert!(lines[errors].ends_with("max 50%") && lines[errors + 1].ends_with("min 0%"), "{text}");
        let rate = lines.iter().position(|l| l.starts_with("Req/min")).unwrap();
        assert!(lines[rate].ends_with("max 0.2/min") && lines[rate + 1].ends_with("min 0/min"), "{text}");
        let axis = lines.iter().position(|l| l.ends_with("UTC")).unwrap();
        // Ticks far enough apart for their labels: every 12 hours of 24 one-hour buckets.
        assert_eq!(lines[axis + 1].trim(), "Nov 24      12:00");
        assert!(text.contains("Slowest  109ms  trace 00000000000000000000000000000017"), "{text}");
        assert!(text.contains("  GET /items"), "{text}");
        // Every chart cell opens its bucket; the operation's line opens the operation.
        assert_eq!(drawn.rendered.targets.len(), 10 * 24);
        assert!(drawn.rendered.targets.iter().all(|t| lines[t.line][t.start..t.end].chars().count() == 1));
        assert_eq!(lines[drawn.operations[0].0], lines.iter().find(|l| l.contains("GET /items")).unwrap().to_owned());
    }

    #[test]
    fn every_line_fits_80_columns() {
        let mut trend = trend();
        trend.total.per_minute = 1234.5;
        for width in [80, 120, 200] {
            let text = render(&trend, &[], width).rendered.plain_text();
            let widest = text.lines().map(text_width).max().unwrap();
            assert!(widest <= width, "a line of {widest} cells in {width}:\n{text}");
            assert!(text.contains("p99 "), "the totals are all there:\n{text}");
        }
    }

    #[test]
    fn markers_stand_under_the_axis_at_their_bucket() {
        let markers = [
            Marker { time_ns: DAY + 2 * HOUR_NS + 5, label: "v1.4.0".into() },
            Marker { time_ns: DAY + 14 * HOUR_NS, label: "v1.5.0-rc.1+build.7".into() },
            Marker { time_ns: DAY + 16 * HOUR_NS, label: "v1.5.0".into() },
        ];
        let text = render(&trend(), &markers, 100).rendered.plain_text();
        let line = text.lines().find(|l| l.contains('▲')).unwrap();
        let cells: Vec<char> = line[LABEL..].chars().collect();
        assert_eq!((cells[2], cells[14], cells[16]), ('▲', '▲', '▲'));
        assert_eq!(line[LABEL..].trim_end(), "  ▲v1.4.0     ▲ ▲v1.5.0", "no label runs into the next marker");
        assert!(!render(&trend(), &[], 100).rendered.plain_text().contains('▲'), "no markers, no line");
    }
}
