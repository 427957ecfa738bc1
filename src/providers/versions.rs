//! A service's versions read from its traces, for the backends that keep no list of them
//! (Jaeger, Tempo, Zipkin, files): the newest traces first, then pages further back until
//! a version before the newest shows up (or the pages run out).

use std::collections::HashSet;
use std::sync::Arc;

use super::{TraceProvider, lookback_from};
use crate::analysis::deployments::{preferred, versions_in};
use crate::error::Result;
use crate::model::{Trace, VersionSeen};
use crate::query::SearchQuery;

/// How many traces one page asks for…
pub const PAGE_TRACES: usize = 200;
/// …and how many pages back at most: a previous version more than this many traces
/// before the newest is not seen.
pub const PAGES: usize = 5;
/// How far back the pages go: a week, less an hour (Tempo refuses searches longer than
/// 168 hours by default).
pub const LOOKBACK: std::time::Duration = std::time::Duration::from_secs(167 * 3600);

/// The versions of `service` in its traces of the last [`LOOKBACK`] before `now_ns`, oldest
/// first; a version's first and last times are those of the traces read. The version
/// before the newest is then followed further back by itself (searched by its attribute),
/// so that a comparison sees all of it rather than its last minutes.
pub async fn from_traces(
    provider: &(impl TraceProvider + ?Sized),
    service: &str,
    now_ns: u64,
) -> Result<Vec<VersionSeen>> {
    let (start_us, end_us) = lookback_from(now_ns, LOOKBACK);
    let mut read = Read { provider, service, start_us, ids: HashSet::new(), traces: Vec::new() };
    let two = |traces: &[Arc<Trace>]| preferred(&versions_in(traces.iter().map(|t| &**t), service)).len() >= 2;
    read.pages(None, end_us, two).await?;
    let versions = versions_in(read.traces.iter().map(|t| &**t), service);
    if let [.., before, _] = preferred(&versions).as_slice() {
        let tag = (before.key.attribute().to_string(), before.version.clone());
        read.pages(Some(tag), (before.first_seen_ns / 1_000).saturating_sub(1), |_| false).await?;
    }
    Ok(versions_in(read.traces.iter().map(|t| &**t), service))
}

/// The traces read so far.
struct Read<'p, P: ?Sized> {
    provider: &'p P,
    service: &'p str,
    start_us: u64,
    ids: HashSet<crate::model::TraceId>,
    traces: Vec<Arc<Trace>>,
}

impl<P: TraceProvider + ?Sized> Read<'_, P> {
    /// Pages of the service's traces (with `tag` when given) from `end_us` back, until one
    /// is not full, `enough` says so, or [`PAGES`] were read.
    async fn pages(
        &mut self,
        tag: Option<(String, String)>,
        mut end_us: u64,
        enough: impl Fn(&[Arc<Trace>]) -> bool,
    ) -> Result<()> {
        for _ in 0..PAGES {
            let mut query = SearchQuery::new(self.service);
            query.limit = PAGE_TRACES;
            query.time_range_us = Some((self.start_us, end_us));
            query.tags.extend(tag.clone());
            let page = self.provider.search(&query).await?;
            let full = page.len() >= PAGE_TRACES;
            let oldest_us = page.iter().map(|t| t.start_ns() / 1_000).min();
            self.traces.extend(page.into_iter().filter(|t| self.ids.insert(t.id)));
            if enough(&self.traces) {
                return Ok(());
            }
            // A backend that ignores the range (a recording) sends the same page again.
            match oldest_us {
                Some(oldest) if full && oldest > self.start_us && oldest <= end_us => end_us = oldest - 1,
                _ => return Ok(()),
            }
        }
        Ok(())
    }
}
