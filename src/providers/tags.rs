//! Attribute names and values to complete a `key=value` search filter with, for backends
//! without a tag API: those the service's recent traces carry (on its own spans and their
//! resources), most used first. Bounded: a few dozen traces are read, and long or many
//! values are left out, since completion is for what a person would type.

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{Span, Trace};
use crate::query::SearchQuery;

/// Traces looked at for completion.
const RECENT_TRACES: usize = 50;
/// Names or values offered at most.
const OFFERED: usize = 100;
/// Longer values (statements, stack traces) are not offered.
const LONGEST_VALUE: usize = 120;

/// The search completion reads: the service's most recent traces.
pub fn recent(service: &str) -> SearchQuery {
    let mut query = SearchQuery::new(service);
    query.limit = RECENT_TRACES;
    query
}

/// The attribute names on `service`'s spans (and their resources), most used first.
pub fn keys(traces: &[Arc<Trace>], service: &str) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for span in spans_of(traces, service) {
        for attribute in span.attributes.iter().chain(&span.resource.attributes) {
            *counts.entry(attribute.key.as_str()).or_default() += 1;
        }
    }
    most_used(counts)
}

/// The values of attribute `key` on `service`'s spans (and their resources), most used first.
pub fn values(traces: &[Arc<Trace>], service: &str, key: &str) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for span in spans_of(traces, service) {
        for attribute in span.attributes.iter().chain(&span.resource.attributes).filter(|a| a.key == key) {
            let value = attribute.value.to_string();
            if !value.is_empty() && value.chars().count() <= LONGEST_VALUE && !value.contains('\n') {
                *counts.entry(value).or_default() += 1;
            }
        }
    }
    most_used(counts)
}

fn spans_of<'t>(traces: &'t [Arc<Trace>], service: &'t str) -> impl Iterator<Item = &'t Span> {
    traces.iter().flat_map(|t| t.spans.iter()).filter(move |s| service.is_empty() || s.service() == service)
}

/// Most used first, then by name; at most [`OFFERED`].
fn most_used<K: AsRef<str> + Ord>(counts: HashMap<K, usize>) -> Vec<String> {
    let mut ranked: Vec<(K, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.into_iter().take(OFFERED).map(|(k, _)| k.as_ref().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;

    #[test]
    fn the_services_own_attributes_most_used_first_and_no_long_values() {
        let t = trace(&[(1, 0, "web", "GET", 0, 10), (2, 1, "web", "GET", 1, 5), (3, 1, "db", "SELECT", 2, 3)])
            .attr(1, "http.route", "/cart")
            .attr(2, "http.route", "/pay")
            .attr(2, "customer.id", "42")
            .attr(1, "customer.id", &"x".repeat(200))
            .attr(3, "db.system", "postgresql")
            .done();
        let traces = [Arc::new(t)];
        assert_eq!(keys(&traces, "web"), ["customer.id", "http.route"]);
        assert_eq!(values(&traces, "web", "http.route"), ["/cart", "/pay"]);
        assert_eq!(values(&traces, "web", "customer.id"), ["42"], "a 200-character value is not offered");
        assert!(!keys(&traces, "web").contains(&"db.system".to_string()), "another service's attribute");
    }
}
