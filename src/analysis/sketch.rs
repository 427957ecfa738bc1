//! A mergeable latency sketch: the percentiles of many durations kept in a few hundred
//! bytes, and merged across minutes, hours and operations without losing their accuracy.
//!
//! DDSketch (Masson, Rim and Lee, VLDB 2019; the `sketches-ddsketch` crate, a port of
//! Datadog's Go implementation) puts each duration into a logarithmic bin, so any
//! quantile it answers is within [`RELATIVE_ERROR`] of the true duration at that rank,
//! whatever the distribution; merging adds bin counts, so a merged sketch is exactly the
//! sketch of all its durations (unlike a t-digest, whose merges drift). Stored sketches
//! use Datadog's binary encoding: only the bins in use, as varints, 2 to 3 bytes each
//! (tens of bytes for a minute of one endpoint, about 1 KB for durations spread evenly
//! from 1 ms to 10 s).

use sketches_ddsketch::{Config, DDSketch};

/// Every quantile a sketch answers is within 1 % of the true duration of that rank.
pub const RELATIVE_ERROR: f64 = 0.01;

#[derive(Clone)]
pub struct LatencySketch(DDSketch);

impl Default for LatencySketch {
    fn default() -> Self {
        // The library's defaults: 1 % accuracy, at most 2,048 bins (enough for 1 % from a
        // nanosecond to minutes; a wider spread merges the shortest durations into one
        // bin). Decoding a stored sketch gives these too, so the two merge.
        LatencySketch(DDSketch::new(Config::defaults()))
    }
}

impl std::fmt::Debug for LatencySketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LatencySketch({} durations)", self.count())
    }
}

impl LatencySketch {
    pub fn add(&mut self, duration_ns: u64) {
        self.0.add(duration_ns as f64);
    }

    /// Adds every duration of `other`.
    pub fn merge(&mut self, other: &LatencySketch) {
        // Both were made with the same configuration (decoding checks stored ones), so
        // the only error a merge can report cannot happen.
        let _ = self.0.merge(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.count() as u64
    }

    /// The duration at quantile `q` (0.5 for the median), within [`RELATIVE_ERROR`];
    /// `None` when the sketch holds no duration.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let value = self.0.quantile(q.clamp(0.0, 1.0)).ok().flatten()?;
        Some(value.max(0.0).round() as u64)
    }

    /// The mean duration (exact: the sketch keeps the sum).
    pub fn mean(&self) -> Option<u64> {
        let count = self.count();
        (count > 0).then(|| (self.0.sum().unwrap_or(0.0) / count as f64).max(0.0).round() as u64)
    }

    /// The sketch as stored: Datadog's binary encoding of it.
    pub fn encode(&self) -> Vec<u8> {
        self.0.to_java_bytes()
    }

    /// A stored sketch, or `None` when the bytes are not one of ours (a damaged row, or a
    /// sketch of another accuracy, which would not merge). The decoder was written for
    /// trusted bytes, so arithmetic on damaged ones may overflow: that counts as
    /// undecodable too, never as a crash.
    pub fn decode(bytes: &[u8]) -> Option<LatencySketch> {
        let decoded = std::panic::catch_unwind(|| DDSketch::from_java_bytes(bytes)).ok()?.ok()?;
        let mut sketch = LatencySketch::default();
        sketch.0.merge(&decoded).ok()?;
        Some(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_stated_error_and_survive_encoding_and_merging() {
        // 1 ms to 10 s, spread unevenly, in two halves merged after a round trip.
        let durations: Vec<u64> = (1..=10_000u64).map(|i| 1_000_000 + i * i * 100).collect();
        let (mut first, mut second) = (LatencySketch::default(), LatencySketch::default());
        for (i, &d) in durations.iter().enumerate() {
            if i % 3 == 0 { first.add(d) } else { second.add(d) }
        }
        let mut merged = LatencySketch::decode(&first.encode()).unwrap();
        merged.merge(&LatencySketch::decode(&second.encode()).unwrap());
        assert_eq!(merged.count(), 10_000);
        for q in [0.5, 0.95, 0.99] {
            let exact = durations[(q * (durations.len() - 1) as f64) as usize] as f64;
            let got = merged.quantile(q).unwrap() as f64;
            assert!((got - exact).abs() <= exact * RELATIVE_ERROR, "p{q}: {got} against {exact}");
        }
        let exact_mean = durations.iter().sum::<u64>() / 10_000;
        assert!(merged.mean().unwrap().abs_diff(exact_mean) <= 1);
        // Spread over all 460 bins from 1 ms to 10 s, under 3 bytes a bin.
        assert!(first.encode().len() < 460 * 3, "compact: {} bytes", first.encode().len());
    }

    #[test]
    fn an_empty_sketch_has_no_quantile_and_damaged_bytes_decode_to_none() {
        assert_eq!(LatencySketch::default().quantile(0.5), None);
        assert_eq!(LatencySketch::decode(&LatencySketch::default().encode()).unwrap().count(), 0);
        let mut sketch = LatencySketch::default();
        sketch.add(5_000_000);
        let mut bytes = sketch.encode();
        assert_eq!(LatencySketch::decode(&bytes).unwrap().quantile(0.5).map(|d| d / 100_000), Some(50));
        for garbage in [vec![], vec![0xff; 40], vec![0x05, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]] {
            assert!(LatencySketch::decode(&garbage).is_none(), "{garbage:?}");
        }
        bytes.truncate(bytes.len() - 1);
        assert!(LatencySketch::decode(&bytes).is_none(), "cut short");
    }
}
