//! A regression check from request to report, for every front door (`:VitalsRegressions`,
//! `vitals regressions`, the language server's `vitals.regressions`): what to compare,
//! the traces to fetch for it, and the comparison. Call [`regressions`].
//!
//! By default the newest version of the service is compared with the one before it (see
//! [`newest_two`]); a service without two versions has its latest traffic compared with
//! the traffic before it, in windows that end at its newest request (see
//! [`Windows::latest`]), so that runs made an hour or a day ago are still compared.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Deserialize;

use super::windows::WindowSpec;
use super::{TraceProvider, baselines, lookback_from, versions};
use crate::analysis::deployments::{newest_two, preferred};
use crate::analysis::regression::{Basis, Options, RegressionReport, Sample, Window, Windows, detect, samples};
use crate::error::{Error, Result};
use crate::model::{DeploymentKey, Trace, VersionSeen};
use crate::query::SearchQuery;

/// What a user asks for, as typed: `[service] [window | --at TIME | --version A..B |
/// --baseline NAME]` (or `--baseline FROM..TO --current FROM..TO`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct RegressionArgs {
    pub service: String,
    /// How long each window is; given, the latest traffic is compared even when the
    /// service has versions.
    pub window: Option<String>,
    /// A moment (a deploy) to compare the window before with the window after.
    pub at: Option<String>,
    /// Two versions, `A..B` (baseline, then current).
    pub version: Option<String>,
    /// A saved baseline's name, or (with `..`, and `current`) the baseline range.
    pub baseline: Option<String>,
    pub current: Option<String>,
}

impl RegressionArgs {
    /// Reads the words of a request as `:VitalsRegressions` takes them (lua/vitals/analyze.lua
    /// reads them by the same rules): `--at`, `--version`, `--baseline` and `--current` take
    /// the next word; of the other words, the first that is not a duration is the service,
    /// and a duration is the window.
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Result<RegressionArgs> {
        let mut args = RegressionArgs::default();
        let mut words = words.iter().map(|w| w.as_ref().trim()).filter(|w| !w.is_empty());
        while let Some(word) = words.next() {
            if let Some(flag) = word.strip_prefix("--") {
                let slot = match flag {
                    "at" => &mut args.at,
                    "version" => &mut args.version,
                    "baseline" => &mut args.baseline,
                    "current" => &mut args.current,
                    _ => return Err(Error::invalid(format!("unknown option {word}; {USAGE}"))),
                };
                let value = words.next().ok_or_else(|| {
                    Error::invalid(format!("{word} needs a value, e.g. --at 20m or --version 1.4.0..1.5.0"))
                })?;
                *slot = Some(value.to_string());
            } else if args.service.is_empty() && args.window.is_none() && !looks_like_duration(word) {
                args.service = word.to_string();
            } else if args.window.is_none() {
                args.window = Some(word.to_string());
            } else {
                return Err(Error::invalid(format!("unexpected {word:?}; {USAGE}")));
            }
        }
        Ok(args)
    }
}

/// `30m`, `1.5h`: digits, then letters (a service may be named `web2` or `404`).
fn looks_like_duration(word: &str) -> bool {
    let unit = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    unit.len() < word.len()
        && word.starts_with(|c: char| c.is_ascii_digit())
        && !unit.is_empty()
        && unit.chars().all(|c| c.is_alphabetic())
}

const USAGE: &str = "usage: [service] [window | --at TIME | --version A..B | --baseline NAME]";

/// What the user set once: how long each window is when none is asked for, how many
/// traces to fetch for each side, and how many requests a side needs for a verdict.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct RegressionSettings {
    /// `window` in the editor's `regressions` option.
    #[serde(alias = "window")]
    pub default_window: String,
    pub limit: usize,
    pub min_samples: usize,
}

impl Default for RegressionSettings {
    fn default() -> Self {
        RegressionSettings { default_window: "1h".into(), limit: 2000, min_samples: 20 }
    }
}

/// How many of the service's newest traces are fetched to find its newest request.
const NEWEST_PROBE: usize = 20;

/// The regression check `args` asks for, over `provider`'s traces: picks what to compare
/// (see the module's doc), fetches it and compares. The comparison runs on the blocking
/// pool.
pub async fn regressions(
    provider: &dyn TraceProvider,
    args: &RegressionArgs,
    settings: &RegressionSettings,
    now_ns: u64,
) -> Result<RegressionReport> {
    let service = args.service.trim();
    if service.is_empty() {
        return Err(Error::invalid(format!("Which service? {USAGE}")));
    }
    let check = Check {
        provider,
        service,
        limit: settings.limit.max(1),
        options: Options { min_samples: settings.min_samples.max(1), ..Options::default() },
        now_ns,
    };
    let given = |text: &Option<String>| text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let (window, at, version) = (given(&args.window), given(&args.at), given(&args.version));
    let (baseline, current) = (given(&args.baseline), given(&args.current));
    // `--baseline FROM..TO` is a range (with `--current`); any other value a saved baseline.
    if let Some(name) = baseline.as_deref().filter(|b| !b.contains("..")) {
        if at.is_some() || version.is_some() || current.is_some() {
            return Err(Error::invalid(format!("--baseline NAME (a saved baseline) takes a window at most: {USAGE}")));
        }
        let options = Options { min_samples: settings.min_samples.max(1), ..Options::default() };
        return baselines::against(provider, service, name, window.as_deref(), options).await;
    }
    if let Some(versions) = version {
        if window.is_some() || at.is_some() || baseline.is_some() || current.is_some() {
            return Err(Error::invalid(format!("--version stands alone: {USAGE}")));
        }
        let (before, after) = named_versions(&provider.versions(service).await?, &versions, service)?;
        return check.versions(&before, &after).await;
    }
    let length = window.as_deref().unwrap_or(&settings.default_window);
    let spec = WindowSpec::parse(length, at.as_deref(), baseline.as_deref(), current.as_deref(), now_ns)?;
    let nothing_asked = window.is_none() && matches!(spec, WindowSpec::Last { .. });
    if nothing_asked && let Some((before, after)) = newest_two(&provider.versions(service).await?) {
        let report = check.versions(before, after).await?;
        // Restarts stand in for deployments only when each served enough to compare.
        let enough = |n: usize| n >= check.options.min_samples;
        if after.key != DeploymentKey::InstanceId
            || (enough(report.overall.baseline.count) && enough(report.overall.current.count))
        {
            return Ok(report);
        }
    }
    check.windows(spec, nothing_asked).await
}

/// One regression check under way.
struct Check<'a> {
    provider: &'a dyn TraceProvider,
    service: &'a str,
    limit: usize,
    options: Options,
    now_ns: u64,
}

impl Check<'_> {
    /// The requests each of two versions served, compared. A version that served more
    /// than `limit` traces is compared by its latest ones, and its window says so.
    async fn versions(&self, before: &VersionSeen, after: &VersionSeen) -> Result<RegressionReport> {
        let (old, new) = futures::try_join!(self.of_version(before), self.of_version(after))?;
        let cut = (old.len() >= self.limit, new.len() >= self.limit);
        let mut seen = HashSet::new();
        let traces: Vec<Arc<Trace>> = old.into_iter().chain(new).filter(|t| seen.insert(t.id)).collect();
        let basis =
            Basis::Versions { attribute: after.key, baseline: before.version.clone(), current: after.version.clone() };
        let (before, after) = (before.clone(), after.clone());
        let windows = move |requests: &[Sample]| Windows {
            baseline: served(&before, cut.0, requests),
            current: served(&after, cut.1, requests),
            gap_ns: None,
        };
        self.compare(traces, windows, basis).await
    }

    /// The traces of one version: those of the service carrying its attribute, in the
    /// time it was seen.
    async fn of_version(&self, version: &VersionSeen) -> Result<Vec<Arc<Trace>>> {
        let mut query = SearchQuery::new(self.service);
        query.tags = vec![(version.key.attribute().to_string(), version.version.clone())];
        let window = seen_window(version);
        query.time_range_us = Some((window.start_ns / 1_000, window.end_ns.div_ceil(1_000)));
        query.limit = self.limit;
        self.provider.search(&query).await
    }

    /// Windows of traffic compared: the latest ones end at the service's newest request.
    async fn windows(&self, spec: WindowSpec, by_default: bool) -> Result<RegressionReport> {
        let (basis, traces) = match spec {
            WindowSpec::Last { .. } => {
                let traces = match self.newest_request().await? {
                    Some(newest) => {
                        self.provider.search(&spec.query(self.service, self.limit, newest, self.now_ns)).await?
                    }
                    // Nothing of the service in the last week: nothing to compare.
                    None => Vec::new(),
                };
                (Basis::Latest { by_default }, traces)
            }
            WindowSpec::Around { .. } | WindowSpec::Ranges(_) => {
                let query = spec.query(self.service, self.limit, self.now_ns, self.now_ns);
                let basis = if matches!(spec, WindowSpec::Around { .. }) { Basis::Around } else { Basis::Ranges };
                (basis, self.provider.search(&query).await?)
            }
        };
        let now_ns = self.now_ns;
        self.compare(traces, move |requests| spec.resolve(requests, now_ns), basis).await
    }

    /// When the service's newest request started (of its newest traces in the last week).
    async fn newest_request(&self) -> Result<Option<u64>> {
        let mut probe = SearchQuery::new(self.service);
        probe.limit = NEWEST_PROBE;
        probe.time_range_us = Some(lookback_from(self.now_ns, versions::LOOKBACK));
        let found = self.provider.search(&probe).await?;
        Ok(samples(found.iter().map(|t| &**t), self.service).iter().map(|s| s.start_ns).max())
    }

    /// The service's requests in `traces` compared, in the windows `windows` picks for
    /// them, on the blocking pool.
    async fn compare(
        &self,
        traces: Vec<Arc<Trace>>,
        windows: impl FnOnce(&[Sample]) -> Windows + Send + 'static,
        basis: Basis,
    ) -> Result<RegressionReport> {
        let (service, options) = (self.service.to_string(), self.options);
        tokio::task::spawn_blocking(move || {
            let requests = samples(traces.iter().map(|t| &**t), &service);
            let windows = windows(&requests);
            detect(&service, &requests, windows, basis, options)
        })
        .await
        .map_err(|e| Error::Internal(format!("the regression check failed: {e}")))
    }
}

/// From the first to the last time a version was seen.
fn seen_window(version: &VersionSeen) -> Window {
    Window { start_ns: version.first_seen_ns, end_ns: version.last_seen_ns.saturating_add(1) }
}

/// The time a version's requests were compared over: the time it was seen, from its
/// earliest request fetched when the fetch was `cut` at the limit.
fn served(version: &VersionSeen, cut: bool, requests: &[Sample]) -> Window {
    let mut window = seen_window(version);
    let deployment = Some(version.deployment());
    let earliest = requests.iter().filter(|s| s.deployment == deployment).map(|s| s.start_ns).min();
    if let (true, Some(earliest)) = (cut, earliest) {
        window.start_ns = window.start_ns.max(earliest);
    }
    window
}

/// The versions `A..B` names, among the service's.
fn named_versions(versions: &[VersionSeen], asked: &str, service: &str) -> Result<(VersionSeen, VersionSeen)> {
    let (a, b) = asked
        .split_once("..")
        .map(|(a, b)| (a.trim(), b.trim()))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .ok_or_else(|| Error::invalid(format!("{asked:?} is not two versions: write --version 1.4.0..1.5.0")))?;
    if versions.is_empty() {
        return Err(Error::invalid(format!(
            "{service}'s traces name no version: comparing versions needs service.version (or deployment.id) \
             in the resource attributes of its spans, e.g. OTEL_RESOURCE_ATTRIBUTES=service.version=1.5.0"
        )));
    }
    let known = preferred(versions);
    let find = |name: &str| {
        known.iter().find(|v| v.version == name).ok_or_else(|| {
            let names: Vec<&str> = known.iter().map(|v| v.version.as_str()).collect();
            Error::invalid(format!("{service} has no version {name:?}; it has {}", names.join(", ")))
        })
    };
    Ok(((*find(a)?).clone(), (*find(b)?).clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::regression::Verdict;

    fn words(line: &str) -> Result<RegressionArgs> {
        RegressionArgs::from_words(&line.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn words_read_as_the_editor_command_reads_them() {
        let args = words("checkout 30m --at 2h").unwrap();
        assert_eq!(
            (args.service.as_str(), args.window.as_deref(), args.at.as_deref()),
            ("checkout", Some("30m"), Some("2h"))
        );
        assert_eq!(words("--version 1.0.0..1.1.0 web").unwrap().version.as_deref(), Some("1.0.0..1.1.0"));
        assert_eq!(words("45m").unwrap(), RegressionArgs { window: Some("45m".into()), ..RegressionArgs::default() });
        assert!(words("web --at").unwrap_err().to_string().contains("--at needs a value"));
        assert!(words("web --since 2h").is_err());
        assert!(words("web 1h 2h").is_err());
        assert_eq!(words("404 1.5h").unwrap().service, "404", "a service may be a number");
    }

    fn seen(version: &str, first: u64) -> VersionSeen {
        VersionSeen {
            key: DeploymentKey::ServiceVersion,
            version: version.into(),
            first_seen_ns: first,
            last_seen_ns: first,
        }
    }

    #[test]
    fn named_versions_are_looked_up_and_missing_ones_said_plainly() {
        let versions = [seen("1.0.0", 1), seen("1.1.0", 2)];
        let (a, b) = named_versions(&versions, "1.1.0..1.0.0", "web").unwrap();
        assert_eq!((a.version.as_str(), b.version.as_str()), ("1.1.0", "1.0.0"));
        let missing = named_versions(&versions, "1.0.0..2.0.0", "web").unwrap_err().to_string();
        assert!(missing.contains("web has no version \"2.0.0\"; it has 1.0.0, 1.1.0"), "{missing}");
        let none = named_versions(&[], "1.0.0..1.1.0", "web").unwrap_err().to_string();
        assert!(none.contains("needs service.version"), "{none}");
        assert!(named_versions(&versions, "1.0.0", "web").is_err());
    }

    /// A trace store (a real SQLite file) behind the `otlp` provider, removed when dropped.
    struct Stored(std::path::PathBuf, super::super::otlp::OtlpProvider);

    impl Stored {
        fn new(name: &str) -> Stored {
            let dir = std::env::temp_dir().join(format!("vitals-regressions-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let provider =
                super::super::otlp::OtlpProvider::open(&dir.join("traces.db").display().to_string()).unwrap();
            Stored(dir, provider)
        }

        /// A process's run: `n` requests of `GET /cart` a second apart from `from_s` seconds
        /// on, lasting 200 ms and up (times `percent` / 100), with these resource attributes.
        fn run(&self, process: &[(&str, &str)], first_trace: u128, n: u64, from_s: u64, percent: u64) {
            let traces: Vec<Trace> = (0..n)
                .map(|i| {
                    let ms = (200 + 7 * (i % 40)) * percent / 100;
                    let mut build =
                        crate::analysis::testing::trace(&[(1, 0, "web", "GET /cart", (from_s + i) * 1000, ms)]);
                    for (key, value) in process {
                        build = build.resource(1, key, value);
                    }
                    let id = crate::model::TraceId(first_trace + u128::from(i));
                    let spans =
                        build.done().spans.into_iter().map(|s| crate::model::Span { trace_id: id, ..s }).collect();
                    Trace::from_spans(id, spans)
                })
                .collect();
            // The testing traces start at second 1 of 1970: moved to two hours ago.
            let shift = (crate::query::now_ns() - 2 * 3_600_000_000_000 - 1_000_000_000) as i128;
            let batch = crate::formats::otlp_encode::export_request(&traces, shift).resource_spans;
            self.1.store().ingest(batch, crate::query::now_ns()).unwrap();
        }

        async fn check(&self, args: &str) -> RegressionReport {
            self.check_with(args, &RegressionSettings::default()).await
        }

        async fn check_with(&self, args: &str, settings: &RegressionSettings) -> RegressionReport {
            let args = RegressionArgs::from_words(&args.split(' ').collect::<Vec<_>>()).unwrap();
            regressions(&self.1, &args, settings, crate::query::now_ns()).await.unwrap()
        }
    }

    impl Drop for Stored {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[tokio::test]
    async fn restarts_stand_in_for_deployments_when_each_served_enough() {
        let stored = Stored::new("restarts");
        stored.run(&[("service.instance.id", "run-a")], 1, 40, 0, 100);
        stored.run(&[("service.instance.id", "run-b")], 1_000, 40, 300, 140);
        let report = stored.check("web").await;
        let by_startup =
            Basis::Versions { attribute: DeploymentKey::InstanceId, baseline: "run-a".into(), current: "run-b".into() };
        assert_eq!(report.basis, by_startup);
        assert_eq!(report.summary.slower, ["GET /cart"]);

        // A handful of requests each: the runs are compared as traffic, and it says why.
        let few = Stored::new("few-restarts");
        few.run(&[("service.instance.id", "run-a")], 1, 5, 0, 100);
        few.run(&[("service.instance.id", "run-b")], 1_000, 5, 300, 140);
        let report = few.check("web").await;
        assert_eq!(report.basis, Basis::Latest { by_default: true });
        assert!(report.seen.baseline.is_empty() && report.seen.current.is_empty());
    }

    #[tokio::test]
    async fn a_version_outranks_restarts_and_a_window_compares_traffic() {
        let stored = Stored::new("versions");
        stored.run(&[("service.version", "2.0.0"), ("service.instance.id", "a")], 1, 40, 0, 100);
        stored.run(&[("service.version", "2.0.0"), ("service.instance.id", "b")], 1_000, 40, 100, 100);
        stored.run(&[("service.version", "2.1.0"), ("service.instance.id", "c")], 2_000, 40, 400, 100);
        let report = stored.check("web").await;
        assert_eq!(
            report.basis,
            Basis::Versions {
                attribute: DeploymentKey::ServiceVersion,
                baseline: "2.0.0".into(),
                current: "2.1.0".into()
            }
        );
        assert_eq!((report.overall.baseline.count, report.overall.current.count), (80, 40), "both start-ups of 2.0.0");
        assert_eq!(report.overall.latency, Verdict::NoChange);
        // Past the limit, the newest requests of each version, over the time they took.
        let settings = RegressionSettings { limit: 30, ..RegressionSettings::default() };
        let cut = stored.check_with("web", &settings).await;
        assert_eq!((cut.overall.baseline.count, cut.overall.current.count), (30, 30));
        let seconds = |w: &Window| (w.end_ns - w.start_ns).div_ceil(1_000_000_000);
        assert_eq!((seconds(&cut.windows.baseline), seconds(&cut.windows.current)), (30, 30));
        assert_eq!(report.windows.current.end_ns, cut.windows.current.end_ns);

        let traffic = stored.check("web 3m").await;
        assert_eq!(traffic.basis, Basis::Latest { by_default: false });
        assert_eq!(traffic.seen.current, ["2.1.0"]);
    }
}
