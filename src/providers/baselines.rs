//! Saved baselines for every front door (`:VitalsBaseline`, `vitals baseline`, and
//! `--baseline NAME` of a regression check): save a service's current numbers under a
//! name, list and delete them, and compare the latest traffic with one. They live in the
//! embedded store, summed from its rollups (see [`crate::analysis::baselines`]).
//!
//! "Current" is a window of the service's latest traffic: it ends at the end of the
//! newest minute with a request of the service (so numbers saved or compared an hour
//! after a run still see the run), and is as long as asked (saving: the regressions
//! window, 1h by default; comparing: as long as the baseline's own window unless told).

use std::sync::Arc;
use std::time::Duration;

use super::TraceProvider;
use super::otlp::on_store;
use crate::analysis::baselines::{self, Baseline};
use crate::analysis::deployments::preferred;
use crate::analysis::regression::{Options, RegressionReport, Window};
use crate::error::{Error, Result};
use crate::query::parse_duration;
use crate::store::Store;

/// The store baselines are saved in, or an error saying that they need one.
fn store_of(provider: &dyn TraceProvider) -> Result<Arc<Store>> {
    provider.embedded_store().ok_or_else(|| {
        Error::invalid(format!(
            "Saved baselines need the embedded trace store (trace_provider = \"otlp\", or `vitals serve`), whose \
             rollups they pin: {} keeps none",
            provider.describe()
        ))
    })
}

fn service_named(service: &str) -> Result<String> {
    let service = service.trim();
    if service.is_empty() {
        return Err(Error::invalid("Which service? Name one, e.g. checkout"));
    }
    Ok(service.to_string())
}

fn length_of(window: &str) -> Result<u64> {
    let length = parse_duration(window)?;
    if length < Duration::from_secs(60) {
        return Err(Error::invalid(format!("A baseline covers at least a minute, not {window}")));
    }
    Ok(length.as_nanos().min(u128::from(u64::MAX)) as u64)
}

/// The latest `length_ns` of `service`'s traffic, ending with its newest request's minute.
fn latest_window(store: &Store, service: &str, length_ns: u64) -> Result<Window> {
    let end_ns = store.newest_request_end(service)?.ok_or_else(|| {
        Error::invalid(format!("No requests of {service} are stored: a baseline pins the numbers of its traffic"))
    })?;
    Ok(Window { start_ns: end_ns.saturating_sub(length_ns), end_ns })
}

/// Saves the latest `window` of `service`'s traffic as the baseline `name` (by default its
/// newest version, or the time of its newest request), replacing one of that name.
pub async fn save(
    provider: &dyn TraceProvider,
    service: &str,
    name: Option<&str>,
    window: &str,
    now_ns: u64,
) -> Result<Baseline> {
    let service = service_named(service)?;
    let store = store_of(provider)?;
    let length_ns = length_of(window)?;
    let newest_version = preferred(&provider.versions(&service).await?).last().map(|v| v.version.clone());
    let name = name.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    on_store(store, move |store| {
        let window = latest_window(store, &service, length_ns)?;
        let name = name.or(newest_version).unwrap_or_else(|| moment(window.end_ns));
        let operations = store.operation_totals(&service, window)?;
        let baseline = Baseline { service, name, window, saved_ns: now_ns, operations };
        store.save_baseline(&baseline)?;
        Ok(baseline)
    })
    .await
}

/// `2026-11-24T13:05Z`: a baseline's name when none is given and the service has no version.
fn moment(ns: u64) -> String {
    let stamp = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_nanos(ns)).to_string();
    format!("{}Z", stamp.get(..16).unwrap_or(&stamp))
}

/// The saved baselines of `service` (of every service when empty), oldest first.
pub async fn list(provider: &dyn TraceProvider, service: &str) -> Result<Vec<Baseline>> {
    let store = store_of(provider)?;
    let service = Some(service.trim().to_string()).filter(|s| !s.is_empty());
    on_store(store, move |store| store.baselines(service.as_deref())).await
}

/// Deletes the baseline `name` of `service`, or says there is none.
pub async fn delete(provider: &dyn TraceProvider, service: &str, name: &str) -> Result<()> {
    let (service, name) = (service_named(service)?, name.trim().to_string());
    let store = store_of(provider)?;
    on_store(store, move |store| match store.delete_baseline(&service, &name)? {
        true => Ok(()),
        false => Err(not_saved(store, &service, &name)),
    })
    .await
}

/// That `service` has no baseline `name`, with the names it has.
fn not_saved(store: &Store, service: &str, name: &str) -> Error {
    let names: Vec<String> = store.baselines(Some(service)).unwrap_or_default().into_iter().map(|b| b.name).collect();
    let known = match names.is_empty() {
        true => format!("it has none; save one with :VitalsBaseline save (vitals baseline save --service {service})"),
        false => format!("it has {}", names.join(", ")),
    };
    Error::invalid(format!("{service} has no saved baseline {name:?}: {known}"))
}

/// The latest traffic of `service` against its saved baseline `name`, in a window as long
/// as the baseline's (or `window`).
pub async fn against(
    provider: &dyn TraceProvider,
    service: &str,
    name: &str,
    window: Option<&str>,
    options: Options,
) -> Result<RegressionReport> {
    let (service, name) = (service_named(service)?, name.trim().to_string());
    let store = store_of(provider)?;
    let length_ns = window.map(length_of).transpose()?;
    on_store(store, move |store| {
        let baseline = store.baseline(&service, &name)?.ok_or_else(|| not_saved(store, &service, &name))?;
        let length_ns = length_ns.unwrap_or(baseline.window.end_ns.saturating_sub(baseline.window.start_ns));
        let window = latest_window(store, &service, length_ns.max(60_000_000_000))?;
        let current = store.operation_totals(&service, window)?;
        Ok(baselines::compare(&baseline, &current, window, options))
    })
    .await
}
