//! A service's colour, the same wherever it is drawn: every trace, flame graph,
//! aggregated flame graph and later view of a session, and the next session too. The
//! colour is picked by a hash of the service's name (as Jaeger UI keeps a service's
//! colour), not by the order services appear in, which changed from trace to trace.
//!
//! Two services may share a colour; [`SERVICE_COLOURS`] is large enough to make that
//! rare in one trace, and the names on the bars tell them apart.

use super::style::{Group, SERVICE_COLOURS};

/// The palette index of `service`: FNV-1a over its name, mixed (MurmurHash3's
/// finalizer) so that short names that differ in one letter spread over the palette,
/// then scaled to the palette. Fixed arithmetic, so it never changes between runs,
/// platforms or Rust versions, unlike `std`'s hasher.
pub fn colour(service: &str) -> u8 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in service.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    ((u128::from(hash) * u128::from(SERVICE_COLOURS)) >> 64) as u8
}

/// Text colour for a span: its service's, or the error colour when it failed.
pub fn text(service: &str, failed: bool) -> Group {
    if failed { Group::Error } else { Group::Service(colour(service)) }
}

/// Background colour for a flame-graph label (and the critical path's line).
pub fn bar(service: &str, failed: bool) -> Group {
    if failed { Group::FlameError } else { Group::Flame(colour(service)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colour_depends_on_the_name_only_and_spreads_over_the_palette() {
        assert_eq!(colour("checkout"), colour("checkout"));
        // Pinned: a change of hash would recolour every service users have learned.
        assert_eq!(["frontend", "checkout", "postgres", "inventory", "redis"].map(colour), [17, 7, 6, 4, 8]);
        let names: Vec<String> = (0..2000).map(|i| format!("service-{i}")).collect();
        let mut used = [0usize; SERVICE_COLOURS as usize];
        for name in &names {
            used[colour(name) as usize] += 1;
        }
        assert!(used.iter().all(|&n| n > 50), "every colour is used: {used:?}");
    }
}
