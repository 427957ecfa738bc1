//! Which arriving traces the tail lists: the words of `:VitalsSearch`, read by the same
//! parser ([`SearchArgs::from_words`]), with the service left optional.

use crate::error::{Error, Result};
use crate::model::Trace;
use crate::providers::matches;
use crate::query::{SearchArgs, SearchQuery};

#[derive(Clone, Debug)]
pub struct Filter {
    query: SearchQuery,
    /// The words as typed, for the title and for changing them.
    words: Vec<String>,
    /// `limit=` (or a bare number): the most traces listed.
    pub rows: Option<usize>,
}

impl Filter {
    /// `checkout error=true 500ms`, as `:VitalsSearch` reads it; no words lists every trace.
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Result<Filter> {
        let args = SearchArgs::from_words(words)?;
        if args.lookback.is_some() {
            return Err(Error::invalid(
                "The live tail lists traces as they arrive, from now on: it takes no lookback (:VitalsSearch looks back)",
            ));
        }
        let query = args.to_filter()?;
        let words = words.iter().map(|w| w.as_ref().trim().to_string()).filter(|w| !w.is_empty()).collect();
        Ok(Filter { query, words, rows: args.limit })
    }

    /// The words as typed.
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The service asked for, if any.
    pub fn service(&self) -> Option<&str> {
        Some(self.query.service.as_str()).filter(|s| !s.is_empty())
    }

    /// A TraceQL query, which only Tempo evaluates.
    pub fn traceql(&self) -> Option<&str> {
        self.query.traceql.as_deref()
    }

    /// Whether a trace as it is now matches, with Jaeger's search semantics (one span has
    /// the service, operation, attributes and duration); traces found by a TraceQL query
    /// were filtered by the backend.
    pub fn admits(&self, trace: &Trace) -> bool {
        self.query.traceql.is_some() || matches(trace, &self.query)
    }

    /// The search of `service`'s traces (the filter's own service when it has one) that
    /// started in `[start_us, end_us]`, at most `limit`.
    pub fn search(&self, service: &str, start_us: u64, end_us: u64, limit: usize) -> SearchQuery {
        SearchQuery {
            service: service.to_string(),
            time_range_us: Some((start_us, end_us)),
            limit,
            ..self.query.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;

    #[test]
    fn the_tail_reads_its_words_as_a_search_does_and_takes_any_service_without_one() {
        let t = trace(&[(1, 0, "web", "GET /cart", 0, 800), (2, 1, "cart", "SELECT", 10, 600)])
            .attr(2, "db.system", "postgresql")
            .error(2, "deadlock")
            .done();
        let admits = |words: &[&str]| Filter::from_words(words).unwrap().admits(&t);
        assert!(admits(&[]), "no words: every trace");
        assert!(admits(&["web"]) && !admits(&["shop"]));
        assert!(admits(&["error=true"]) && admits(&["cart", "error=true", "500ms"]));
        assert!(!admits(&["web", "error=true"]), "the error is cart's");
        assert!(!admits(&["min-duration=1s"]) && admits(&["db.system=postgresql"]));
        let filter = Filter::from_words(&["cart", "20"]).unwrap();
        assert_eq!((filter.service(), filter.rows), (Some("cart"), Some(20)));
        assert!(Filter::from_words(&["web", "lookback=1h"]).unwrap_err().to_string().contains("no lookback"));
    }
}
