//! Logs for the front doors: from the embedded store, which the receivers fill; the
//! remote backends (Jaeger, Tempo, Zipkin) keep span events only, which is said, not an
//! error.

use crate::error::{Error, Result};
use crate::model::{LogRecord, TraceId};
use crate::providers::TraceProvider;
use crate::providers::otlp::on_store;
use crate::query::LogQuery;

/// The stored logs of a trace, and when the provider keeps none, a note saying so.
pub async fn of_trace(provider: &dyn TraceProvider, id: TraceId) -> Result<(Vec<LogRecord>, Option<String>)> {
    let Some(store) = provider.embedded_store() else {
        return Ok((Vec::new(), Some(only_events(provider))));
    };
    let logs = on_store(store, move |store| store.trace_logs(id)).await?;
    Ok((logs, None))
}

/// Stored logs matching a query, newest first; an error naming the provider when it keeps
/// no logs.
pub async fn search(provider: &dyn TraceProvider, query: LogQuery) -> Result<Vec<LogRecord>> {
    let Some(store) = provider.embedded_store() else {
        return Err(Error::invalid(only_events(provider)));
    };
    on_store(store, move |store| store.search_logs(&query)).await
}

fn only_events(provider: &dyn TraceProvider) -> String {
    format!(
        "{} has span events only, no logs: logs are kept by the embedded store (provider otlp), which receives them over OTLP",
        provider.describe()
    )
}
