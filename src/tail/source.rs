//! Following a source: the store's word of each committed batch, or polls of a backend.
//!
//! Pushed traces are read from the store as soon as their batch is committed. A trace
//! touched again and again (a large one arriving in many batches) is read again at most
//! once per twenty times what reading it took, so following it costs the tail at most a
//! twentieth of a core, however large it grows.
//!
//! A poll searches what started since the previous poll, less [`POLL_OVERLAP`]: spans
//! reach a backend some seconds after they start (SDKs export in batches every few
//! seconds), so each poll looks back over what the last one may have missed, and passes
//! over the traces it has seen with as many spans.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lru::LruCache;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::task::JoinHandle;

use super::{Filter, Options, Shared};
use crate::analysis::glance::Glance;
use crate::error::{Error, Result};
use crate::model::{Trace, TraceId};
use crate::providers::TraceProvider;
use crate::providers::otlp::OtlpProvider;
use crate::query::now_ns;
use crate::store::{Store, Touched};

/// How far before its last poll a poll looks.
pub const POLL_OVERLAP: Duration = Duration::from_secs(30);
/// Traces of one service a poll fetches at most.
const POLL_LIMIT: usize = 100;
/// How often the traces waiting for their root are looked at.
const TICK: Duration = Duration::from_millis(100);
/// A trace is read again no sooner than this many times what reading it took.
const PACE: u32 = 20;
/// Traces whose span count (or reading time) is remembered.
const REMEMBERED: usize = 10_000;
/// The shortest time between polls.
const MIN_POLL: Duration = Duration::from_millis(100);

/// Whether other processes write to the store too (another editor holds a receiver's
/// port): what they receive is not pushed here, so polls read it.
pub type OthersWrite = Arc<dyn Fn() -> bool + Send + Sync>;

/// Where the tail's traces come from.
pub struct Source {
    /// Searched by polls and by the first list of a new filter.
    provider: Arc<dyn TraceProvider>,
    /// The embedded store, whose batches are pushed.
    store: Option<Arc<Store>>,
    /// How often to poll the provider.
    poll_every: Duration,
    /// With the store: whether a poll is needed at all when one is due.
    others_write: Option<OthersWrite>,
    describe: String,
}

impl Source {
    /// The embedded store's pushes, and polls of it every `poll_every` while
    /// `others_write` says another process writes to it too.
    pub fn pushed(store: Arc<Store>, poll_every: Duration, others_write: OthersWrite) -> Source {
        Source {
            provider: Arc::new(OtlpProvider::new(Arc::clone(&store))),
            store: Some(store),
            poll_every: poll_every.max(MIN_POLL),
            others_write: Some(others_write),
            describe: "pushed by the receivers".to_string(),
        }
    }

    /// Polls of `provider` every `every`.
    pub fn polled(provider: Arc<dyn TraceProvider>, every: Duration) -> Source {
        let every = every.max(MIN_POLL);
        let describe = format!("polling {} every {}", provider.describe(), seconds(every));
        Source { provider, store: None, poll_every: every, others_write: None, describe }
    }

    /// Whether a poll is needed now.
    fn polls(&self) -> bool {
        self.others_write.as_ref().is_none_or(|others_write| others_write())
    }

    /// `pushed by the receivers`, `polling jaeger at … every 2s`.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// Refuses a filter this source cannot follow.
    pub(super) fn check(&self, filter: &Filter) -> Result<()> {
        if filter.traceql().is_some() && self.store.is_some() {
            return Err(Error::invalid(
                "The live tail of the trace store filters by service, operation, durations and key=value \
                 attributes; TraceQL queries are for Tempo",
            ));
        }
        Ok(())
    }
}

/// `2s`, `500ms`.
fn seconds(every: Duration) -> String {
    crate::render::units::duration(every.as_nanos().min(u64::MAX as u128) as u64)
}

/// Where following begins.
#[derive(Clone, Copy)]
pub(super) enum Start {
    /// From the tail's opening: a trace that started before is not news (unless it keeps
    /// arriving).
    Opened { at_ns: u64 },
    /// A new filter's list: first the traces that match among those started since.
    Refiltered { since_ns: u64 },
}

/// Starts following `source`: what arrives, after a new filter's first list.
pub(super) fn follow(
    shared: Arc<Shared>,
    source: Arc<Source>,
    filter: Filter,
    options: Options,
    start: Start,
) -> JoinHandle<()> {
    let remembered = NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN);
    let follower = Follower {
        shared,
        source,
        filter: Arc::new(filter),
        slow_query_ns: options.slow_query_ns,
        offered: LruCache::new(remembered),
        read: LruCache::new(remembered),
        put_off: HashMap::new(),
    };
    tokio::spawn(follower.run(start))
}

struct Follower {
    shared: Arc<Shared>,
    source: Arc<Source>,
    filter: Arc<Filter>,
    slow_query_ns: u64,
    /// The span count each trace had when last offered, so polls pass over the unchanged.
    offered: LruCache<TraceId, usize>,
    /// When each trace was last read from the store, and how long that took.
    read: LruCache<TraceId, (Instant, Duration)>,
    /// Traces touched again too soon, and when they may be read.
    put_off: HashMap<TraceId, Instant>,
}

impl Follower {
    async fn run(mut self, start: Start) {
        // Listening first, so that no batch falls between the first list and the pushes.
        let mut pushes = self.source.store.as_ref().map(|store| store.subscribe());
        let started = now_ns();
        match start {
            Start::Refiltered { since_ns } => self.poll(since_ns.saturating_sub(nanos(POLL_OVERLAP)), started, 0).await,
            // Traces that started before the tail opened are not news: only noted.
            Start::Opened { at_ns } if self.source.polls() => {
                self.poll(at_ns.saturating_sub(nanos(POLL_OVERLAP)), started, at_ns).await
            }
            Start::Opened { .. } => {}
        }
        let mut polled_until = started;
        let every = self.source.poll_every;
        let mut polls = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        polls.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let put_off_until = self.put_off.values().min().copied();
            tokio::select! {
                pushed = next_push(&mut pushes) => match pushed {
                    Some((traces, lost)) => {
                        if lost > 0 {
                            lock(&self.shared).missed += lost;
                            self.shared.changed.notify_one();
                        }
                        self.read_touched(traces).await
                    }
                    None => pushes = None,
                },
                _ = polls.tick() => {
                    let now = now_ns();
                    if self.source.polls() {
                        self.poll(polled_until.saturating_sub(nanos(POLL_OVERLAP)), now, 0).await;
                    }
                    polled_until = now;
                }
                () = wake_at(put_off_until) => self.read_put_off().await,
                _ = ticks.tick() => {
                    if lock(&self.shared).expire(now_ns()) {
                        self.shared.changed.notify_one();
                    }
                }
            }
        }
    }

    /// Reads the traces a committed batch touched (and those of any batches queued behind
    /// it), but not those read too recently (see the module's note), and offers them.
    async fn read_touched(&mut self, traces: Vec<TraceId>) {
        let now = Instant::now();
        let mut due = Vec::with_capacity(traces.len());
        for id in traces {
            match self.read.peek(&id) {
                Some(&(at, took)) if at + took * PACE > now => {
                    self.put_off.entry(id).or_insert(at + took * PACE);
                }
                _ => due.push(id),
            }
        }
        self.read_and_offer(due).await;
    }

    /// Reads the traces put off that are due.
    async fn read_put_off(&mut self) {
        let now = Instant::now();
        let due: Vec<TraceId> = self.put_off.iter().filter(|(_, at)| **at <= now).map(|(id, _)| *id).collect();
        for id in &due {
            self.put_off.remove(id);
        }
        self.read_and_offer(due).await;
    }

    async fn read_and_offer(&mut self, ids: Vec<TraceId>) {
        let Some(store) = self.source.store.clone().filter(|_| !ids.is_empty()) else { return };
        let (filter, slow_query_ns) = (Arc::clone(&self.filter), self.slow_query_ns);
        let read = tokio::task::spawn_blocking(move || {
            ids.into_iter()
                .map(|id| {
                    let started = Instant::now();
                    let trace = store.trace(id);
                    (id, started, started.elapsed(), trace)
                })
                .map(|(id, at, took, trace)| {
                    let trace = trace.unwrap_or_else(|e| {
                        tracing::warn!("the tail could not read trace {id}: {e}");
                        None
                    });
                    (id, at, took, trace.and_then(|t| glance(&t, &filter, slow_query_ns)))
                })
                .collect::<Vec<_>>()
        })
        .await;
        let Ok(read) = read else { return };
        let mut glances = Vec::with_capacity(read.len());
        for (id, at, took, glance) in read {
            self.read.put(id, (at, took));
            glances.extend(glance.map(|g| (id, g)));
        }
        self.offer(glances);
    }

    /// Searches what started in `[from_ns, to_ns]` and offers what is new or grew, but
    /// only takes note of the traces that started before `news_since_ns`.
    async fn poll(&mut self, from_ns: u64, to_ns: u64, news_since_ns: u64) {
        match self.search(from_ns, to_ns).await {
            Ok(traces) => {
                lock(&self.shared).problem = None;
                let (filter, slow_query_ns) = (Arc::clone(&self.filter), self.slow_query_ns);
                let glances = tokio::task::spawn_blocking(move || {
                    traces.iter().filter_map(|t| Some((t.id, glance(t, &filter, slow_query_ns)?))).collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                let (news, old): (Vec<_>, Vec<_>) =
                    glances.into_iter().partition(|(_, glance)| glance.summary.start_ns >= news_since_ns);
                for (id, glance) in old {
                    self.offered.put(id, glance.summary.span_count);
                }
                self.offer(news);
            }
            Err(e) => {
                lock(&self.shared).problem = Some(format!("{e}; trying again"));
                self.shared.changed.notify_one();
            }
        }
    }

    /// The traces of the filter's service (of every service without one) that started in
    /// `[from_ns, to_ns]` and are new or have more spans than when last offered.
    async fn search(&mut self, from_ns: u64, to_ns: u64) -> Result<Vec<Arc<Trace>>> {
        let provider = Arc::clone(&self.source.provider);
        let services = match (self.filter.service(), self.filter.traceql()) {
            (Some(service), _) => vec![service.to_string()],
            (None, Some(_)) => vec![String::new()],
            (None, None) => provider.services().await?,
        };
        let mut found = Vec::new();
        for service in services {
            let query = self.filter.search(&service, from_ns / 1000, to_ns / 1000, POLL_LIMIT);
            for listed in provider.search_list(&query).await? {
                let id = TraceId::from_text(&listed.summary.trace_id).0;
                let partial = listed.summary.matched_spans.is_some();
                if !partial && self.offered.peek(&id) == Some(&listed.summary.span_count) {
                    continue;
                }
                let trace = match listed.trace {
                    Some(trace) => trace,
                    None => provider.trace(&listed.summary.trace_id).await?,
                };
                if self.offered.peek(&id) != Some(&trace.spans.len()) {
                    found.push(trace);
                }
            }
        }
        Ok(found)
    }

    /// Offers traces to the list, the earliest started first so the latest ends on top.
    fn offer(&mut self, mut glances: Vec<(TraceId, Glance)>) {
        if glances.is_empty() {
            return;
        }
        glances.sort_by_key(|(id, g)| (g.summary.start_ns, *id));
        let now = now_ns();
        let mut changed = false;
        let mut feed = lock(&self.shared);
        for (id, glance) in glances {
            self.offered.put(id, glance.summary.span_count);
            changed |= feed.offer(id, glance, now);
        }
        drop(feed);
        if changed {
            self.shared.changed.notify_one();
        }
    }
}

/// What the tail shows of `trace`, when it matches the filter.
fn glance(trace: &Trace, filter: &Filter, slow_query_ns: u64) -> Option<Glance> {
    filter.admits(trace).then(|| Glance::of(trace, slow_query_ns))
}

/// The traces of the next batches pushed (the next one, with those queued behind it),
/// and how many batches were lost to falling behind; `None` once the store is gone.
async fn next_push(pushes: &mut Option<broadcast::Receiver<Touched>>) -> Option<(Vec<TraceId>, u64)> {
    let Some(receiver) = pushes else { return std::future::pending().await };
    let mut lost = 0;
    let mut traces: Vec<TraceId> = loop {
        match receiver.recv().await {
            Ok(first) => break first.to_vec(),
            Err(RecvError::Lagged(n)) => lost += n,
            Err(RecvError::Closed) => return None,
        }
    };
    loop {
        match receiver.try_recv() {
            Ok(more) => traces.extend(more.iter()),
            Err(TryRecvError::Lagged(n)) => lost += n,
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    let mut seen = std::collections::HashSet::new();
    traces.retain(|id| seen.insert(*id));
    if lost > 0 {
        tracing::warn!("the live tail fell {lost} batches behind the receivers");
    }
    Some((traces, lost))
}

/// Returns at `at`; never without one.
async fn wake_at(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, super::Feed> {
    shared.feed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn nanos(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}
