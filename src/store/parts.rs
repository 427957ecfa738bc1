//! Trace parts: the spans of one service in one trace that one batch brought, summed up
//! in one row (`trace_parts`): when they started, how long they took, and which
//! operations and attribute values they and their resource carry.
//!
//! Searches walk a service's parts newest first instead of its spans, and the index of
//! operations and attributes is a sorted set of 32-bit keys inside each part (4 bytes a
//! value) rather than index tables with an entry for each span, or each trace and
//! attribute value, which cost more disk than the spans themselves. A key stands for
//! `service`, `key` and `value` hashed together; two values may share one, so a part that
//! has every key of a search is a candidate that the search confirms on its spans.

use crate::model::ids::stable_hash_of;
use crate::model::{AttrValue, Attribute};

/// The index key of `key=value` (the value as a tag search writes it) on `service`'s spans.
pub fn tag_key(service: &str, key: &str, value: &str) -> u32 {
    // The three joined by NUL bytes, hashed without being joined (a key for every
    // attribute of every span stored).
    stable_hash_of(&[service.as_bytes(), &[0], key.as_bytes(), &[0], value.as_bytes()]) as u32
}

/// The index key of an attribute of `service`'s spans or resource.
pub fn attribute_key(service: &str, attribute: &Attribute) -> u32 {
    value_key(service, &attribute.key, &attribute.value)
}

/// The index key of `key` with `value` on `service`'s spans or resource.
pub fn value_key(service: &str, key: &str, value: &AttrValue) -> u32 {
    match value {
        AttrValue::Str(text) => tag_key(service, key, text),
        other => tag_key(service, key, &other.to_string()),
    }
}

/// The index key of an operation of `service` (a name no attribute has).
pub fn operation_key(service: &str, operation: &str) -> u32 {
    tag_key(service, "\0operation", operation)
}

/// A part being summed up from its spans.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub first_start_ns: u64,
    pub last_start_ns: u64,
    pub min_duration_ns: u64,
    pub max_duration_ns: u64,
    /// Attribute keys, in any order and repeated until [`Part::tags`] sorts them.
    pub keys: Vec<u32>,
}

impl Part {
    pub fn new(start_ns: u64, duration_ns: u64) -> Part {
        Part {
            first_start_ns: start_ns,
            last_start_ns: start_ns,
            min_duration_ns: duration_ns,
            max_duration_ns: duration_ns,
            keys: Vec::new(),
        }
    }

    pub fn add(&mut self, start_ns: u64, duration_ns: u64, keys: &[u32]) {
        self.first_start_ns = self.first_start_ns.min(start_ns);
        self.last_start_ns = self.last_start_ns.max(start_ns);
        self.min_duration_ns = self.min_duration_ns.min(duration_ns);
        self.max_duration_ns = self.max_duration_ns.max(duration_ns);
        self.keys.extend_from_slice(keys);
    }

    /// Another part of the same trace and service (stored earlier with the same latest start).
    pub fn merge(&mut self, other: &Part) {
        self.add(other.first_start_ns, other.min_duration_ns, &other.keys);
        self.add(other.last_start_ns, other.max_duration_ns, &[]);
    }

    /// The keys as stored: sorted, each once, 4 bytes little-endian apiece.
    pub fn tags(&self) -> Vec<u8> {
        let mut keys = self.keys.clone();
        keys.sort_unstable();
        keys.dedup();
        keys.iter().flat_map(|k| k.to_le_bytes()).collect()
    }
}

/// The keys of a stored tag set.
pub fn keys(tags: &[u8]) -> Vec<u32> {
    tags.chunks_exact(4).map(|k| u32::from_le_bytes([k[0], k[1], k[2], k[3]])).collect()
}

/// Whether a stored tag set (sorted) holds every one of `wanted`.
pub fn has_all(tags: &[u8], wanted: &[u32]) -> bool {
    let count = tags.len() / 4;
    let at = |i: usize| u32::from_le_bytes([tags[4 * i], tags[4 * i + 1], tags[4 * i + 2], tags[4 * i + 3]]);
    wanted.iter().all(|&key| {
        let (mut low, mut high) = (0, count);
        while low < high {
            let middle = (low + high) / 2;
            match at(middle).cmp(&key) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_sums_up_its_spans_and_finds_every_key_it_holds() {
        let mut part = Part::new(50, 7);
        part.add(20, 3, &[9, 4, 9]);
        part.add(80, 12, &[1_000_000, 4]);
        assert_eq!(
            (part.first_start_ns, part.last_start_ns, part.min_duration_ns, part.max_duration_ns),
            (20, 80, 3, 12)
        );
        let tags = part.tags();
        assert_eq!(keys(&tags), [4, 9, 1_000_000], "sorted, each once");
        assert!(has_all(&tags, &[9, 1_000_000]) && has_all(&tags, &[]));
        assert!(!has_all(&tags, &[4, 5]) && !has_all(&[], &[4]));

        let mut earlier = Part::new(80, 1);
        earlier.add(10, 30, &[5]);
        part.merge(&earlier);
        assert_eq!((part.first_start_ns, part.min_duration_ns, part.max_duration_ns), (10, 1, 30));
        assert!(has_all(&part.tags(), &[4, 5, 9]));
    }
}
