//! Trace and span identifiers.
//!
//! Ids are integers inside (128-bit trace ids, 64-bit span ids) so that tree building,
//! hashing and comparison stay cheap. Backends do not always send canonical hex: Jaeger
//! accepts any string, and Jaeger UI's own test traces use ids such as `span-A`. Such ids
//! are mapped to a stable hash by [`SpanId::from_text`], and the span keeps the original
//! text so that every view can show the id the user knows.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};

use smol_str::SmolStr;

/// A map keyed by ids from a trace. Every span of a decoded trace goes through one (the
/// span-id index), so the hasher must be fast: std's SipHash was 3 % of a decode.
pub type IdMap<K, V> = HashMap<K, V, IdHasher>;

/// foldhash (a multiply-fold over the id's words), keyed at random for each map. Ids are
/// untrusted input: an unkeyed hash such as Fx could be flooded with ids chosen to collide;
/// the key comes from std's `RandomState`, whose keys are drawn from the system's random
/// source.
#[derive(Clone, Debug)]
pub struct IdHasher(foldhash::fast::FixedState);

impl Default for IdHasher {
    fn default() -> Self {
        Self(foldhash::fast::FixedState::with_seed(RandomState::new().build_hasher().finish()))
    }
}

impl BuildHasher for IdHasher {
    type Hasher = foldhash::fast::FoldHasher<'static>;
    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// A 128-bit trace id, shown as 32 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub u128);

/// A 64-bit span id, shown as 16 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub u64);

impl TraceId {
    /// Parses 1 to 32 hex digits (Jaeger drops leading zeros and sends 64-bit ids as 16).
    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex(text, 32).map(TraceId)
    }

    /// Reads a trace id from exactly 16 bytes, as OTLP protobuf carries it.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(TraceId(u128::from_be_bytes(bytes.try_into().ok()?)))
    }

    /// The 16 bytes OTLP and the store use.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }

    /// Hex when the text is hex, otherwise a stable hash of it. The flag says whether the
    /// text is the canonical form (16 or 32 hex digits) that [`fmt::Display`] gives back.
    pub fn from_text(text: &str) -> (Self, bool) {
        match Self::from_hex(text) {
            Some(id) => (id, text.len() == 32 || text.len() == 16),
            None => {
                let high = fnv1a(text.as_bytes(), 0xcbf2_9ce4_8422_2325) as u128;
                let low = fnv1a(text.as_bytes(), 0x8422_2325_cbf2_9ce4) as u128;
                (TraceId(high << 64 | low), false)
            }
        }
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl SpanId {
    /// Parses 1 to 16 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        parse_hex(text, 16).map(|v| SpanId(v as u64))
    }

    /// Reads a span id from 8 bytes, as OTLP protobuf carries it.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(SpanId(u64::from_be_bytes(bytes.try_into().ok()?)))
    }

    /// Hex when the text is hex, otherwise a stable hash of it. The flag says whether the
    /// text is the canonical 16-digit form that [`fmt::Display`] gives back.
    pub fn from_text(text: &str) -> (Self, bool) {
        match Self::from_hex(text) {
            Some(id) => (id, text.len() == 16),
            None => (SpanId(fnv1a(text.as_bytes(), 0xcbf2_9ce4_8422_2325)), false),
        }
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl TraceId {
    /// The 32-digit hex text, as [`fmt::Display`] writes it: cheap to clone (findings
    /// carry their trace's id, thousands of times per analysis).
    pub fn to_smol(self) -> SmolStr {
        SmolStr::new(hex::<32>(self.0).as_str())
    }
}

impl SpanId {
    /// The 16-digit hex text, as [`fmt::Display`] writes it, held inline (no allocation).
    pub fn to_smol(self) -> SmolStr {
        SmolStr::new_inline(hex::<16>(u128::from(self.0)).as_str())
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(hex::<32>(self.0).as_str())
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(hex::<16>(u128::from(self.0)).as_str())
    }
}

/// The low `N` hex digits of an id, zero-padded, lower case. Written by hand because
/// analyses format tens of thousands of span ids and `{:016x}` costs several times more.
struct Hex<const N: usize>([u8; N]);

fn hex<const N: usize>(mut value: u128) -> Hex<N> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [b'0'; N];
    for digit in digits.iter_mut().rev() {
        *digit = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
    Hex(digits)
}

impl<const N: usize> Hex<N> {
    fn as_str(&self) -> &str {
        // Every byte is one of DIGITS, so the text is ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Ids serialize as the lower-case hex text of OTLP JSON.
impl serde::Serialize for TraceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl serde::Serialize for SpanId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn parse_hex(text: &str, max_digits: usize) -> Option<u128> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(text, 16).ok()
}

/// A hash of bytes that stays the same across runs, platforms and Rust releases, for
/// values that are persisted (std's hasher promises none of that).
pub(crate) fn stable_hash(bytes: &[u8]) -> u64 {
    stable_hash_of(&[bytes])
}

/// [`stable_hash`] of the parts one after the other, without joining them first.
pub(crate) fn stable_hash_of(parts: &[&[u8]]) -> u64 {
    parts.iter().fold(0xcbf2_9ce4_8422_2325, |hash, part| fnv1a(part, hash))
}

/// FNV-1a: tiny, stable across runs and platforms, good enough to spread text ids.
fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes.iter().fold(seed, |hash, &b| (hash ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_round_trip_with_leading_zeros() {
        let id = TraceId::from_hex("006c3cf93508f205").unwrap();
        assert_eq!(id.to_string(), "0000000000000000006c3cf93508f205");
        assert_eq!(SpanId::from_hex("e127af99e3b3e074").unwrap().to_string(), "e127af99e3b3e074");
    }

    #[test]
    fn non_hex_ids_hash_stably_and_distinctly() {
        let (a, canonical) = SpanId::from_text("span-A");
        assert!(!canonical);
        assert_eq!(a, SpanId::from_text("span-A").0);
        assert_ne!(a, SpanId::from_text("span-B").0);
        assert!(TraceId::from_hex("0123456789abcdef0123456789abcdef0").is_none());
    }

    #[test]
    fn byte_ids_must_have_the_right_length() {
        assert_eq!(SpanId::from_bytes(&[0, 0, 0, 0, 0, 0, 0, 2]), Some(SpanId(2)));
        assert_eq!(SpanId::from_bytes(&[1, 2, 3]), None);
        assert_eq!(TraceId::from_bytes(&[0; 15]), None);
    }
}
