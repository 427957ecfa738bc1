//! Which service calls which: a parent span in one service with a child span in another is
//! one call. The input of Jaeger's `/api/dependencies` and of the service map.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::Trace;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCall {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
    /// Calls that failed, where the list says (Zipkin's `errorCount`; Jaeger's has none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_count: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reads a dependency list: Jaeger's `/api/dependencies` answer (`{"data": [...]}`) or a
/// bare list, Zipkin's `/api/v2/dependencies`.
pub fn parse_dependencies(bytes: &[u8]) -> crate::error::Result<Vec<ServiceCall>> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Answer {
        Envelope { data: Vec<ServiceCall> },
        List(Vec<ServiceCall>),
    }
    let answer: Answer = serde_json::from_slice(bytes).map_err(|e| {
        crate::error::Error::invalid(format!(
            "not a dependency list ([{{\"parent\", \"child\", \"callCount\"}}] or {{\"data\": …}}): {e}"
        ))
    })?;
    Ok(match answer {
        Answer::Envelope { data } => data,
        Answer::List(list) => list,
    })
}

/// Calls between services across `traces`, ordered by parent then child.
pub fn service_calls<'a>(traces: impl IntoIterator<Item = &'a Trace>) -> Vec<ServiceCall> {
    let mut counter = CallCounter::default();
    for trace in traces {
        counter.add(trace);
    }
    counter.calls()
}

/// Calls between services counted one trace at a time, for more traces than fit in memory.
#[derive(Default)]
pub struct CallCounter {
    counts: BTreeMap<(String, String), u64>,
}

impl CallCounter {
    pub fn add(&mut self, trace: &Trace) {
        for (i, span) in trace.spans.iter().enumerate() {
            let Some(parent) = trace.tree.parent(i).map(|p| &trace.spans[p]) else { continue };
            if parent.service() != span.service() {
                *self.counts.entry((parent.service().to_string(), span.service().to_string())).or_default() += 1;
            }
        }
    }

    /// Ordered by parent then child.
    pub fn calls(self) -> Vec<ServiceCall> {
        self.counts
            .into_iter()
            .map(|((parent, child), call_count)| ServiceCall { parent, child, call_count, error_count: 0 })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;

    #[test]
    fn calls_are_counted_between_services_only() {
        let traces = formats::decode(include_bytes!("../../samples/shop-traces.json")).unwrap();
        let calls = service_calls(&traces);
        let count = |p: &str, c: &str| calls.iter().find(|x| x.parent == p && x.child == c).map(|x| x.call_count);
        assert_eq!(count("frontend", "checkout"), Some(4), "one PlaceOrder call per checkout");
        assert_eq!(count("cart", "postgres"), Some(2 * 13 + 2 * 7));
        assert!(calls.iter().all(|c| c.parent != c.child));
    }
}
