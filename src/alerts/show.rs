//! Alerts as text: the one line of a notification or of `vitals serve`'s stderr, the
//! statusline's few words, and the `:VitalsAlerts` listing.

use serde::Serialize;

use super::board::{Event, Reading, Status, Watched};
use super::rules::Measure;
use crate::render::style::{Group, Rendered, StyledLine};
use crate::render::units::{clock, duration, plural};

/// A value as the JSON of an event gives it: milliseconds for latency, the share as is.
pub fn in_unit(measure: Measure, value: f64) -> f64 {
    match measure {
        Measure::ErrorRate => value,
        _ => value / 1e6,
    }
}

/// `p95 812ms`, `error rate 7.5%`.
fn value_text(measure: Measure, value: f64) -> String {
    match measure {
        Measure::ErrorRate => format!("error rate {}", percent(value)),
        _ => format!("{} {}", measure.name(), duration(value.max(0.0) as u64)),
    }
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == p.round() { format!("{p:.0}%") } else { format!("{p:.1}%") }
}

/// `checkout POST /checkout fired: p95 812ms over 500ms (5m, 42 requests); slowest trace 4bf9…`
/// or `… cleared: p95 320ms, under 500ms again (5m, 96 requests)`.
pub fn event_line(event: &Event, reading: &Reading) -> String {
    let value = value_text(reading.measure, reading.value);
    let threshold = match reading.measure {
        Measure::ErrorRate => percent(reading.threshold),
        _ => duration(reading.threshold.max(0.0) as u64),
    };
    let window = format!("last {}, {} request{}", event.window, event.requests, plural(event.requests));
    match event.status {
        Status::Firing => {
            let trace = event.trace_id.as_deref().map(|t| format!("; slowest trace {t}")).unwrap_or_default();
            format!("alert {} fired: {value} over {threshold} ({window}){trace}", event.rule)
        }
        Status::Clear => format!("alert {} cleared: {value}, under {threshold} again ({window})", event.rule),
    }
}

/// `⚠ checkout p95 812ms`, `+N` when more rules fire; empty when none does.
pub fn statusline<'a>(mut firing: impl Iterator<Item = &'a Watched>) -> String {
    let Some(first) = firing.next() else { return String::new() };
    let mut text = match first.reading {
        Some(reading) => format!("⚠ {} {}", first.rule.label, value_text(reading.measure, reading.value)),
        None => format!("⚠ {}", first.rule.label),
    };
    let more = firing.count();
    if more > 0 {
        text.push_str(&format!(" +{more}"));
    }
    text
}

/// A line of the listing that opens a trace.
#[derive(Serialize)]
pub struct ListedTrace {
    /// 0-based.
    pub line: usize,
    pub trace_id: String,
}

/// `:VitalsAlerts`: each rule with its state and what it last read, then its history,
/// newest first; lines naming a trace open it.
pub fn listing<'a>(watched: impl Iterator<Item = &'a Watched>, utc_offset_s: i64) -> (Rendered, Vec<ListedTrace>) {
    let mut rendered = Rendered::default();
    let mut traces = Vec::new();
    let mut any = false;
    for w in watched {
        any = true;
        let mut line = StyledLine::default();
        match w.status {
            Status::Firing => line.push("⚠ firing ", Some(Group::Critical)),
            Status::Clear => line.push("✓ clear  ", Some(Group::Healthy)),
        };
        line.push(&w.rule.name, Some(Group::Title));
        let limits: Vec<String> = w
            .rule
            .limits
            .iter()
            .map(|l| match l.measure {
                Measure::ErrorRate => format!("error rate > {}", percent(l.threshold)),
                m => format!("{} > {}", m.name(), duration(l.threshold as u64)),
            })
            .collect();
        line.push(&format!("  ({} over {})", limits.join(" or "), w.rule.window), Some(Group::Dim));
        rendered.lines.push(line);
        let mut now = StyledLine::plain("    now: ");
        match w.reading {
            Some(r) if w.requests > 0 => {
                now.push(&value_text(r.measure, r.value), Some(Group::Duration));
                now.push(&format!(", {} request{}", w.requests, plural(w.requests)), None);
            }
            _ => {
                now.push("no requests in the window", Some(Group::Dim));
            }
        };
        if let Some(trace) = &w.slowest_trace {
            now.push(&format!("  slowest {trace}"), Some(Group::Dim));
            traces.push(ListedTrace { line: rendered.lines.len(), trace_id: trace.clone() });
        }
        rendered.lines.push(now);
        for event in w.history.iter().rev() {
            let mut line = StyledLine::plain(format!("    {} ", clock(event.at_ns, utc_offset_s)));
            let group = if event.status == Status::Firing { Group::Critical } else { Group::Healthy };
            line.push(if event.status == Status::Firing { "fired  " } else { "cleared" }, Some(group));
            line.push(&format!(" {}", value_text(event.measure, to_stored(event))), None);
            if let (Status::Firing, Some(trace)) = (event.status, &event.trace_id) {
                line.push(&format!("  trace {trace}"), Some(Group::Dim));
                traces.push(ListedTrace { line: rendered.lines.len(), trace_id: trace.clone() });
            }
            rendered.lines.push(line);
        }
        rendered.lines.push(StyledLine::default());
    }
    if !any {
        rendered.lines.push(StyledLine::plain("No alert rules: set the alerts option (:help vitals-alerts)."));
    }
    while rendered.lines.last().is_some_and(|l| l.text.is_empty()) && rendered.lines.len() > 1 {
        rendered.lines.pop();
    }
    (rendered, traces)
}

/// An event's value back in the unit [`value_text`] takes.
fn to_stored(event: &Event) -> f64 {
    match event.measure {
        Measure::ErrorRate => event.value,
        _ => event.value * 1e6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::{Rule, RuleSettings};
    use crate::alerts::{Board, board::Status};
    use crate::analysis::trends::Rollup;
    use crate::model::{SpanId, TraceId};

    fn window(n: u64, ms: u64) -> Rollup {
        let mut rollup = Rollup::new(0, 60_000_000_000);
        for i in 0..n {
            rollup.add(ms * 1_000_000, false, TraceId(u128::from(ms * 1000 + i)), SpanId(1));
        }
        rollup
    }

    #[test]
    fn the_listing_shows_each_rule_with_its_state_and_history_newest_first_and_where_its_traces_are() {
        let rule = |json| Rule::from_settings(&serde_json::from_value::<RuleSettings>(json).unwrap(), 1).unwrap();
        let mut board = Board::new(vec![
            rule(serde_json::json!({"service": "checkout", "operation": "POST /checkout", "p95": "500ms"})),
            rule(
                serde_json::json!({"service": "search", "error_rate": 0.05, "window": "10m", "name": "search errors"}),
            ),
        ]);
        board.watched[0].judge(&window(20, 800), 3_600_000_000_000);
        board.watched[0].judge(&window(20, 100), 3_660_000_000_000);
        board.watched[0].judge(&window(20, 900), 3_720_000_000_000);
        assert_eq!(board.watched[0].status, Status::Firing);
        // 900 ms as the sketch gives it back: within its 1 %.
        assert_eq!(board.statusline(), "⚠ checkout p95 893ms");
        let (rendered, traces) = listing(board.watched.iter(), 0);
        assert_eq!(
            rendered.plain_text(),
            "⚠ firing checkout POST /checkout  (p95 > 500ms over 5m)
    now: p95 893ms, 20 requests  slowest 000000000000000000000000000dbba0
    01:02:00 fired   p95 893ms  trace 000000000000000000000000000dbba0
    01:01:00 cleared p95 101ms
    01:00:00 fired   p95 792ms  trace 000000000000000000000000000c3500

✓ clear  search errors  (error rate > 5% over 10m)
    now: no requests in the window
"
        );
        let lines: Vec<usize> = traces.iter().map(|t| t.line).collect();
        assert_eq!(lines, [1, 2, 4], "the lines naming a trace open it");
    }
}
