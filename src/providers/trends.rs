//! Trends for every front door: a service's rollups in the embedded store, as a trend over
//! a range, or a message saying why there is none.

use std::sync::Arc;
use std::time::Duration;

use super::TraceProvider;
use super::otlp::on_store;
use crate::analysis::deployments::preferred;
use crate::analysis::trends::{Trend, TrendRequest};
use crate::error::{Error, Result};
use crate::query::parse_duration;
use crate::render::trends::Marker;
use crate::store::Store;

/// The range a trend covers unless told otherwise.
pub const DEFAULT_RANGE: &str = "7d";

/// The store whose rollups trends are drawn from, or an error saying that trends need one.
pub fn store_of(provider: &dyn TraceProvider) -> Result<Arc<Store>> {
    provider.embedded_store().ok_or_else(|| {
        Error::invalid(format!(
            "Trends need the embedded trace store (trace_provider = \"otlp\", or `vitals serve`), which keeps each \
             operation's requests per minute and per hour: {} keeps no such history",
            provider.describe()
        ))
    })
}

/// The deployments of `service` as markers under a trend's time axis: each version (of
/// the attribute the service is told apart by, see [`preferred`]) where it was first seen.
/// The markers outside the range drawn are left out by the drawing.
pub async fn deploy_markers(provider: &dyn TraceProvider, service: &str) -> Result<Vec<Marker>> {
    let versions = provider.versions(service.trim()).await?;
    Ok(preferred(&versions)
        .into_iter()
        .map(|v| Marker { time_ns: v.first_seen_ns, label: v.version.clone() })
        .collect())
}

/// The trend of `service` (of `operation` when given, else of every entry operation)
/// over the `range` before `now_ns`, in `columns` buckets at most.
pub async fn trend(
    provider: &dyn TraceProvider,
    service: &str,
    operation: Option<&str>,
    range: &str,
    columns: usize,
    now_ns: u64,
) -> Result<Trend> {
    let service = service.trim();
    if service.is_empty() {
        return Err(Error::invalid("Which service? Name one, e.g. checkout"));
    }
    let store = store_of(provider)?;
    let length = parse_duration(range)?;
    if length < Duration::from_secs(60) {
        return Err(Error::invalid(format!("A trend covers at least a minute, not {range}")));
    }
    let request = TrendRequest {
        service: service.to_string(),
        operation: operation.map(str::trim).filter(|o| !o.is_empty()).map(str::to_string),
        start_ns: now_ns.saturating_sub(length.as_nanos().min(u128::from(u64::MAX)) as u64),
        end_ns: now_ns,
        columns,
    };
    let range = range.trim().to_string();
    on_store(store, move |store| {
        if let Some(trend) = store.trend(&request)? {
            return Ok(trend);
        }
        let services = store.rollup_services()?;
        if !services.contains(&request.service) {
            let known = match services.is_empty() {
                true => "the store has none yet".to_string(),
                false => format!("services with trends: {}", services.join(", ")),
            };
            return Err(Error::invalid(format!("No requests of {} are stored ({known})", request.service)));
        }
        let what = match &request.operation {
            Some(operation) => format!("{} {operation}", request.service),
            None => request.service.clone(),
        };
        Err(Error::invalid(format!("No requests of {what} in the last {range}")))
    })
    .await
}
