//! Each rule's state, what it last read, and its history: fed the rollups of its window,
//! the board says which rules fired or cleared since the last look, once per change.

use std::collections::VecDeque;

use serde::Serialize;

use super::rules::{Limit, Measure, Rule};
use super::show;
use crate::analysis::trends::{CallKind, Rollup, minute_of};
use crate::error::Result;
use crate::store::{RollupQuery, Store};

/// Changes kept per rule for `:VitalsAlerts`.
const HISTORY: usize = 20;
const MINUTE_NS: u64 = 60_000_000_000;

/// Whether a rule is over one of its thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Clear,
    Firing,
}

/// A measure read over a rule's window, against its threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub measure: Measure,
    /// Nanoseconds for latency, a share (0–1) for the error rate.
    pub value: f64,
    pub threshold: f64,
}

impl Reading {
    pub fn is_over(&self) -> bool {
        self.value > self.threshold
    }
}

/// A rule fired or cleared: what `vim.notify`, stderr and `--on-alert` are told.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub rule: String,
    pub service: String,
    pub operation: Option<String>,
    /// `firing` when it fired, `clear` when it cleared.
    pub status: Status,
    pub measure: Measure,
    /// Milliseconds for p50/p95/p99, a share (0–1) for error_rate.
    pub value: f64,
    pub threshold: f64,
    pub requests: u64,
    pub errors: u64,
    pub window: String,
    /// The slowest request of the window, to open.
    pub trace_id: Option<String>,
    pub at_ns: u64,
    /// One line saying it all (see [`show::event_line`]).
    pub message: String,
}

/// A rule on the board.
pub struct Watched {
    pub rule: Rule,
    pub status: Status,
    /// The measure that fired it (while firing), else the first, as last read.
    pub reading: Option<Reading>,
    pub requests: u64,
    pub slowest_trace: Option<String>,
    /// Newest last.
    pub history: VecDeque<Event>,
}

pub struct Board {
    pub watched: Vec<Watched>,
}

impl Board {
    pub fn new(rules: Vec<Rule>) -> Board {
        let watched = rules
            .into_iter()
            .map(|rule| Watched {
                rule,
                status: Status::Clear,
                reading: None,
                requests: 0,
                slowest_trace: None,
                history: VecDeque::new(),
            })
            .collect();
        Board { watched }
    }

    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Reads every rule's window from the store's rollups; answers the rules that fired
    /// or cleared since the last evaluation.
    pub fn evaluate(&mut self, store: &Store, now_ns: u64) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        for watched in &mut self.watched {
            let total = store.rollup_total(&window_query(&watched.rule, now_ns))?;
            events.extend(watched.judge(&total, now_ns));
        }
        Ok(events)
    }

    /// The statusline's text: the firing rules, empty when all is clear.
    pub fn statusline(&self) -> String {
        show::statusline(self.watched.iter().filter(|w| w.status == Status::Firing))
    }
}

/// The rollups of a rule's trailing window: whole minutes, from the one holding
/// `now - window` on (a request slightly in the future included).
fn window_query(rule: &Rule, now_ns: u64) -> RollupQuery {
    RollupQuery {
        service: rule.service.clone(),
        operation: rule.operation.clone(),
        // A whole service is the requests it serves; one operation may be a call out.
        kind: rule.operation.is_none().then_some(CallKind::Entry),
        start_ns: minute_of(now_ns.saturating_sub(rule.window_ns)),
        end_ns: now_ns.saturating_add(MINUTE_NS),
    }
}

fn read(limit: &Limit, total: &Rollup) -> Reading {
    let value = match limit.measure.quantile() {
        Some(q) => total.latency.quantile(q).map_or(0.0, |ns| ns as f64),
        None if total.requests == 0 => 0.0,
        None => total.errors as f64 / total.requests as f64,
    };
    Reading { measure: limit.measure, value, threshold: limit.threshold }
}

impl Watched {
    /// Takes the window's numbers; the event when the rule's status changed.
    pub fn judge(&mut self, total: &Rollup, now_ns: u64) -> Option<Event> {
        let readings: Vec<Reading> = self.rule.limits.iter().map(|limit| read(limit, total)).collect();
        let over = readings.iter().find(|r| r.is_over()).copied();
        self.requests = total.requests;
        self.slowest_trace = total.slowest.map(|s| s.trace_id.to_string());
        let status = if over.is_some() { Status::Firing } else { Status::Clear };
        // The measure shown: the one over, else (clearing) the one that had fired.
        let fired = self.reading.map(|r| r.measure);
        let reading = over
            .or_else(|| readings.iter().find(|r| Some(r.measure) == fired).copied())
            .or_else(|| readings.first().copied());
        self.reading = reading;
        if status == self.status {
            return None;
        }
        self.status = status;
        let reading = reading?;
        let mut event = Event {
            rule: self.rule.name.clone(),
            service: self.rule.service.clone(),
            operation: self.rule.operation.clone(),
            status,
            measure: reading.measure,
            value: show::in_unit(reading.measure, reading.value),
            threshold: show::in_unit(reading.measure, reading.threshold),
            requests: total.requests,
            errors: total.errors,
            window: self.rule.window.clone(),
            trace_id: self.slowest_trace.clone(),
            at_ns: now_ns,
            message: String::new(),
        };
        event.message = show::event_line(&event, &reading);
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(event.clone());
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::RuleSettings;
    use crate::model::{SpanId, TraceId};

    fn rule() -> Rule {
        let settings: RuleSettings = serde_json::from_value(serde_json::json!({
            "service": "checkout", "operation": "POST /checkout", "p95": "500ms", "error_rate": 0.5
        }))
        .unwrap();
        Rule::from_settings(&settings, 1).unwrap()
    }

    /// A window of `n` requests of `ms` each, `errors` of them failed.
    fn window(n: u64, ms: u64, errors: u64) -> Rollup {
        let mut rollup = Rollup::new(0, MINUTE_NS);
        for i in 0..n {
            rollup.add(ms * 1_000_000, i < errors, TraceId(u128::from(ms) << 8 | u128::from(i)), SpanId(1));
        }
        rollup
    }

    #[test]
    fn a_rule_fires_once_when_over_and_clears_once_when_back_under() {
        let mut board = Board::new(vec![rule()]);
        let watched = &mut board.watched[0];
        assert_eq!(watched.judge(&window(50, 100, 0), 1), None, "under: nothing to say");
        let fired = watched.judge(&window(50, 812, 0), 2).expect("over: fires");
        assert_eq!((fired.status, fired.measure), (Status::Firing, Measure::P95));
        assert!((fired.value - 812.0).abs() < 812.0 * 0.011, "{}", fired.value);
        assert_eq!(fired.threshold, 500.0);
        assert_eq!(fired.trace_id, Some(TraceId(812 << 8).to_string()), "the slowest request of the window");
        assert_eq!(watched.judge(&window(60, 900, 0), 3), None, "still over: no second notification");
        assert_eq!(board.statusline().split_whitespace().take(2).collect::<Vec<_>>(), ["⚠", "checkout"]);
        let watched = &mut board.watched[0];
        let cleared = watched.judge(&window(50, 100, 0), 4).expect("under again: clears");
        assert_eq!((cleared.status, cleared.measure), (Status::Clear, Measure::P95), "the measure that had fired");
        assert_eq!(watched.judge(&window(50, 100, 0), 5), None);
        assert_eq!(board.statusline(), "");
        assert_eq!(board.watched[0].history.len(), 2);
    }

    #[test]
    fn the_error_rate_fires_too_and_an_empty_window_is_clear() {
        let mut board = Board::new(vec![rule()]);
        let watched = &mut board.watched[0];
        let fired = watched.judge(&window(10, 10, 6), 1).expect("60 % failed");
        assert_eq!((fired.measure, fired.value), (Measure::ErrorRate, 0.6));
        assert!(fired.message.contains("error rate 60%"), "{}", fired.message);
        let cleared = watched.judge(&Rollup::default(), 2).expect("no traffic left in the window");
        assert_eq!((cleared.status, cleared.requests), (Status::Clear, 0));
    }
}
