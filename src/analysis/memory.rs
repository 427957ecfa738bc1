//! What a span allocated, for the memory profile (the memory flame graph, the allocating
//! code locations and their annotations).
//!
//! The amount is the bytes the span's *own* code allocated between its start and its end,
//! its children's allocations not included (each child carries its own), so that amounts
//! add up along a call path the way self time does. It is read from `memory.allocated`
//! (the convention Vitals documents), else from a runtime attribute that counts
//! allocations (`process.runtime.<runtime>.memory.allocated`,
//! `process.runtime.dotnet.gc.allocations.size`). The other `process.runtime.*` memory
//! attributes (`…jvm.memory.usage`, `…go.mem.heap_alloc`, `…cpython.memory`) are gauges of
//! the whole process at one moment: summed over spans they would count one heap many
//! times, so they are shown with the span's attributes and not weighed here.

use crate::model::{AttrValue, Span};

/// The convention's attribute, read first.
pub const ALLOCATED: &str = "memory.allocated";

/// Bytes the span allocated, when it says; negative, NaN or non-numeric values are none.
pub fn allocated_bytes(span: &Span) -> Option<u64> {
    // One pass over the attributes: every span of every flame graph comes through here.
    let mut runtime = None;
    for attribute in &span.attributes {
        if attribute.key == ALLOCATED {
            return bytes(&attribute.value);
        }
        if runtime.is_none() && is_runtime_allocation_counter(&attribute.key) {
            runtime = Some(&attribute.value);
        }
    }
    runtime.and_then(bytes)
}

fn bytes(value: &AttrValue) -> Option<u64> {
    match value {
        AttrValue::Int(i) => u64::try_from(*i).ok(),
        AttrValue::Float(f) if f.is_finite() && *f >= 0.0 => Some(f.min(u64::MAX as f64) as u64),
        AttrValue::Str(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    }
}

/// `process.runtime.<runtime>.…` attributes that count what was allocated (not gauges).
fn is_runtime_allocation_counter(key: &str) -> bool {
    key.strip_prefix("process.runtime.")
        .is_some_and(|rest| rest.ends_with(".memory.allocated") || rest.ends_with(".gc.allocations.size"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;

    #[test]
    fn reads_the_convention_and_runtime_allocation_counters_but_not_gauges() {
        let t = trace(&[
            (1, 0, "web", "a", 0, 10),
            (2, 1, "web", "b", 0, 5),
            (3, 1, "web", "c", 5, 5),
            (4, 1, "web", "d", 5, 5),
        ])
        .attr(1, "memory.allocated", "1048576")
        .attr(2, "process.runtime.dotnet.gc.allocations.size", "2048")
        .attr(3, "process.runtime.jvm.memory.usage", "99999999")
        .attr(4, "memory.allocated", "-5")
        .done();
        let by_op = |op: &str| t.spans.iter().find(|s| s.operation == op).and_then(allocated_bytes);
        assert_eq!(by_op("a"), Some(1_048_576));
        assert_eq!(by_op("b"), Some(2048));
        assert_eq!(by_op("c"), None, "a gauge of the whole process is no span's cost");
        assert_eq!(by_op("d"), None, "a negative amount is nonsense");
    }
}
