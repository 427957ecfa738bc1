//! The list itself: traces as they arrive, newest first, each listed once, and the
//! traces still coming in. No I/O and no clock of its own (times are handed in), so every
//! rule here is tested alone.
//!
//! When has a trace arrived? SDKs export a span when it ends, and the root ends last, so
//! a trace is listed as soon as a span without a parent (its root) is stored. A trace
//! whose root never comes (its root is in a service that sends elsewhere, or was lost) is
//! listed once no span of it came for the quiet period (a second by default, the wait of
//! the OpenTelemetry Collector's `groupbytrace` processor). Spans that come later update
//! its row where it stands.

use std::collections::{HashMap, VecDeque};

use crate::analysis::glance::Glance;
use crate::model::TraceId;

/// Traces waiting for their root, at most; past it the one quiet longest is listed.
const MAX_WAITING: usize = 10_000;
/// Arrivals kept for a reader that takes them (the terminal), at most; older ones are
/// dropped and counted.
const MAX_UNREAD: usize = 10_000;

/// A listed trace.
#[derive(Clone, Debug)]
pub struct Row {
    pub id: TraceId,
    pub glance: Glance,
    /// When it was listed.
    pub arrived_ns: u64,
}

struct Waiting {
    glance: Glance,
    first_ns: u64,
    last_ns: u64,
}

/// While paused: what the list showed when it was paused, and how many traces came since.
struct Paused {
    shown: Vec<Row>,
    new: usize,
}

pub struct Feed {
    rows: VecDeque<Row>,
    waiting: HashMap<TraceId, Waiting>,
    paused: Option<Paused>,
    max_rows: usize,
    quiet_ns: u64,
    /// Arrivals not yet taken, when a reader takes them ([`Feed::take_arrived`]).
    unread: Option<VecDeque<Row>>,
    /// Batches of spans the tail fell too far behind to see.
    pub missed: u64,
    /// Why the last poll failed, while it does.
    pub problem: Option<String>,
}

impl Feed {
    pub fn new(max_rows: usize, quiet_ns: u64) -> Feed {
        Feed {
            rows: VecDeque::new(),
            waiting: HashMap::new(),
            paused: None,
            max_rows: max_rows.max(1),
            quiet_ns,
            unread: None,
            missed: 0,
            problem: None,
        }
    }

    /// Keeps every arrival for [`Feed::take_arrived`] (the terminal prints each once).
    pub fn keep_arrivals(&mut self) {
        self.unread.get_or_insert_with(VecDeque::new);
    }

    /// A trace that matches the filter, as it is now. Its row is updated where it stands
    /// when it is listed; otherwise it is listed once its root is in, or waits for it.
    /// Says whether what is shown changed.
    pub fn offer(&mut self, id: TraceId, glance: Glance, now_ns: u64) -> bool {
        if let Some(row) = self.rows.iter_mut().find(|row| row.id == id) {
            row.glance = glance;
            return self.paused.is_none();
        }
        if glance.has_root {
            self.waiting.remove(&id);
            self.arrive(id, glance, now_ns);
            return true;
        }
        match self.waiting.get_mut(&id) {
            Some(waiting) => {
                waiting.glance = glance;
                waiting.last_ns = now_ns;
            }
            None => {
                self.waiting.insert(id, Waiting { glance, first_ns: now_ns, last_ns: now_ns });
            }
        }
        if self.waiting.len() > MAX_WAITING
            && let Some(oldest) = self.waiting.iter().min_by_key(|(_, w)| w.last_ns).map(|(id, _)| *id)
            && let Some(waiting) = self.waiting.remove(&oldest)
        {
            self.arrive(oldest, waiting.glance, now_ns);
            return true;
        }
        false
    }

    /// Lists the traces that waited for their root through the quiet period, in the order
    /// they began to arrive. Says whether any was.
    pub fn expire(&mut self, now_ns: u64) -> bool {
        let quiet = self.quiet_ns;
        let mut due: Vec<(TraceId, u64)> = self
            .waiting
            .iter()
            .filter(|(_, w)| w.last_ns.saturating_add(quiet) <= now_ns)
            .map(|(id, w)| (*id, w.first_ns))
            .collect();
        due.sort_by_key(|&(id, first)| (first, id));
        for (id, _) in &due {
            if let Some(waiting) = self.waiting.remove(id) {
                self.arrive(*id, waiting.glance, now_ns);
            }
        }
        !due.is_empty()
    }

    fn arrive(&mut self, id: TraceId, glance: Glance, now_ns: u64) {
        let row = Row { id, glance, arrived_ns: now_ns };
        if let Some(unread) = &mut self.unread {
            if unread.len() == MAX_UNREAD {
                unread.pop_front();
                self.missed += 1;
            }
            unread.push_back(row.clone());
        }
        self.rows.push_front(row);
        self.rows.truncate(self.max_rows);
        if let Some(paused) = &mut self.paused {
            paused.new += 1;
        }
    }

    /// Arrivals since the last call, oldest first (with [`Feed::keep_arrivals`]).
    pub fn take_arrived(&mut self) -> Vec<Row> {
        self.unread.as_mut().map(|unread| unread.drain(..).collect()).unwrap_or_default()
    }

    /// Holds what is shown; traces keep arriving underneath and are counted.
    pub fn pause(&mut self) {
        if self.paused.is_none() {
            self.paused = Some(Paused { shown: self.rows.iter().cloned().collect(), new: 0 });
        }
    }

    /// Shows the list as it is now, what arrived while paused on top.
    pub fn resume(&mut self) {
        self.paused = None;
    }

    pub fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// Traces that arrived since the pause.
    pub fn arrived_while_paused(&self) -> Option<usize> {
        self.paused.as_ref().map(|p| p.new)
    }

    /// Empties the list (traces still coming in are listed when they arrive).
    pub fn clear(&mut self) {
        self.rows.clear();
        if let Some(paused) = &mut self.paused {
            paused.shown.clear();
            paused.new = 0;
        }
        self.missed = 0;
    }

    /// Empties the list and forgets every trace coming in, for a new filter.
    pub fn restart(&mut self, max_rows: usize) {
        self.clear();
        self.waiting.clear();
        self.max_rows = max_rows.max(1);
    }

    /// What is shown: the list, or while paused what it was when paused; newest first.
    pub fn shown(&self) -> Vec<&Row> {
        match &self.paused {
            Some(paused) => paused.shown.iter().collect(),
            None => self.rows.iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::TraceSummary;

    const S: u64 = 1_000_000_000;

    fn glance(n: u128, has_root: bool, span_count: usize) -> Glance {
        Glance {
            summary: TraceSummary {
                trace_id: TraceId(n).to_string(),
                root_service: "web".into(),
                root_operation: format!("GET /{n}"),
                start_ns: 0,
                duration_ns: 1,
                span_count,
                services: vec!["web".into()],
                error_count: 0,
                matched_spans: None,
            },
            marks: Vec::new(),
            has_root,
        }
    }

    fn ids(feed: &Feed) -> Vec<u128> {
        feed.shown().iter().map(|row| row.id.0).collect()
    }

    #[test]
    fn traces_are_listed_newest_first_once_each_and_updated_where_they_stand() {
        let mut feed = Feed::new(3, S);
        for n in 1..=3 {
            assert!(feed.offer(TraceId(n), glance(n, true, 1), n as u64));
        }
        assert_eq!(ids(&feed), [3, 2, 1]);
        assert!(feed.offer(TraceId(2), glance(2, true, 7), 10), "a late span of a listed trace");
        assert_eq!(ids(&feed), [3, 2, 1], "updated in place, not listed again");
        assert_eq!(feed.shown()[1].glance.summary.span_count, 7);
        feed.offer(TraceId(4), glance(4, true, 1), 11);
        assert_eq!(ids(&feed), [4, 3, 2], "bounded: the oldest goes");
    }

    #[test]
    fn a_trace_waits_for_its_root_or_for_a_quiet_second() {
        let mut feed = Feed::new(10, S);
        assert!(!feed.offer(TraceId(1), glance(1, false, 2), 0), "children first: not yet");
        assert!(!feed.offer(TraceId(2), glance(2, false, 1), 0));
        assert!(feed.offer(TraceId(1), glance(1, true, 3), S / 2), "the root lands");
        assert_eq!(ids(&feed), [1]);
        assert!(!feed.offer(TraceId(2), glance(2, false, 2), S / 2), "more spans, still no root");
        assert!(!feed.expire(S), "quiet for only half a second");
        assert!(feed.expire(S / 2 + S), "quiet for a second: listed without its root");
        assert_eq!(ids(&feed), [2, 1]);
        assert_eq!(feed.shown()[0].glance.summary.span_count, 2);
    }

    #[test]
    fn paused_the_list_holds_and_counts_what_arrives_then_shows_it() {
        let mut feed = Feed::new(10, S);
        feed.offer(TraceId(1), glance(1, true, 1), 0);
        feed.pause();
        for n in 2..=4 {
            assert!(feed.offer(TraceId(n), glance(n, true, 1), 1), "the count shown changes");
        }
        assert!(!feed.offer(TraceId(1), glance(1, true, 5), 2), "an update of a held row is not shown yet");
        assert_eq!((ids(&feed), feed.arrived_while_paused()), (vec![1], Some(3)));
        assert_eq!(feed.shown()[0].glance.summary.span_count, 1, "held as it was");
        feed.resume();
        assert_eq!((ids(&feed), feed.arrived_while_paused()), (vec![4, 3, 2, 1], None));
        assert_eq!(feed.shown()[3].glance.summary.span_count, 5);
        feed.clear();
        assert!(feed.shown().is_empty());
    }

    #[test]
    fn the_terminal_takes_each_arrival_once_in_order() {
        let mut feed = Feed::new(2, S);
        feed.keep_arrivals();
        for n in 1..=3 {
            feed.offer(TraceId(n), glance(n, true, 1), 0);
        }
        feed.offer(TraceId(3), glance(3, true, 2), 1);
        let taken: Vec<u128> = feed.take_arrived().iter().map(|row| row.id.0).collect();
        assert_eq!(taken, [1, 2, 3], "every arrival, past the rows kept too, and not the update");
        assert!(feed.take_arrived().is_empty());
    }
}
