//! The memory every request in flight may hold together: one byte budget per process,
//! shared by all its receivers (OTLP/HTTP, OTLP/gRPC and Zipkin), so that many
//! large or decompressing requests at once cannot take the process down.
//!
//! A request takes a [`Reservation`] and grows it *before* it holds more memory: as its
//! body arrives, as it decompresses, and by the bound of what decoding will allocate.
//! When the budget is spent it is told to come back later ([`Shortfall::Exhausted`]: 503
//! with `Retry-After` over HTTP, `RESOURCE_EXHAUSTED` over gRPC); a request that could
//! not fit even alone is refused for good ([`Shortfall::NeverFits`]: 413).
//!
//! Large requests may not take the last [`HEADROOM_DIVISOR`]th of the budget: that part is
//! kept for ordinary batches (an SDK sends ~512 spans, a few hundred KB), so that a flood
//! of large bodies delays only itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The share of the budget kept for small requests: one eighth.
const HEADROOM_DIVISOR: usize = 8;
/// A request holding at most the budget divided by this counts as small: one 32nd.
const SMALL_DIVISOR: usize = 32;

/// A process's memory budget for requests in flight; clones share it.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    total: usize,
    used: AtomicUsize,
}

/// Why a reservation could not grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shortfall {
    /// Other requests hold the budget (of this many bytes) now; retrying later can succeed.
    Exhausted { budget: usize },
    /// The request needs more than any request may hold; retrying cannot help.
    NeverFits { largest: usize },
}

impl MemoryBudget {
    pub fn new(total: usize) -> MemoryBudget {
        MemoryBudget { shared: Arc::new(Shared { total, used: AtomicUsize::new(0) }) }
    }

    /// An empty reservation, grown as the request needs.
    pub fn reserve(&self) -> Reservation {
        Reservation { budget: self.clone(), held: 0 }
    }

    pub fn total(&self) -> usize {
        self.shared.total
    }

    /// Bytes held by requests in flight now.
    pub fn used(&self) -> usize {
        self.shared.used.load(Ordering::Relaxed)
    }

    /// The most one request may hold: everything but the headroom.
    pub fn largest_request(&self) -> usize {
        self.shared.total - self.shared.total / HEADROOM_DIVISOR
    }

    fn small_request(&self) -> usize {
        self.shared.total / SMALL_DIVISOR
    }
}

/// Bytes one request holds of the budget, given back when it is dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: MemoryBudget,
    held: usize,
}

impl Reservation {
    /// Holds `more` bytes on top of what is held, or says why not (holding nothing more).
    pub fn grow(&mut self, more: usize) -> Result<(), Shortfall> {
        let budget = &self.budget;
        let wanted = self.held.saturating_add(more);
        if wanted > budget.largest_request() {
            return Err(Shortfall::NeverFits { largest: budget.largest_request() });
        }
        let ceiling = if wanted <= budget.small_request() { budget.total() } else { budget.largest_request() };
        budget
            .shared
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|&after| after <= ceiling)
            })
            .map_err(|_| Shortfall::Exhausted { budget: budget.total() })?;
        self.held = wanted;
        Ok(())
    }

    /// Gives `fewer` bytes back, once the memory they stood for is freed.
    pub fn shrink(&mut self, fewer: usize) {
        let fewer = fewer.min(self.held);
        self.budget.shared.used.fetch_sub(fewer, Ordering::AcqRel);
        self.held -= fewer;
    }

    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.shrink(self.held);
    }
}

/// Makes blocks of 256 KiB and more come from the system and go back to it once freed.
/// glibc raises that threshold as large blocks are freed, after which request bodies and
/// their decompression (freed on other threads) stay in the process's heaps: the budget
/// kept the live bytes within 128 MiB, yet the process grew to 291 MB under attack (121 MB
/// with this). Called once by each process that receives.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back_when_dropped() {
        let budget = MemoryBudget::new(1024);
        let mut first = budget.reserve();
        first.grow(500).unwrap();
        let mut second = budget.reserve();
        second.grow(396).unwrap();
        assert_eq!(budget.used(), 896);
        assert_eq!(
            second.grow(1),
            Err(Shortfall::Exhausted { budget: 1024 }),
            "large requests leave the headroom alone"
        );
        assert_eq!(second.held(), 396, "a refused growth holds nothing more");
        drop(first);
        assert_eq!(budget.used(), 396);
        second.grow(500).unwrap();
        second.shrink(96);
        assert_eq!(budget.used(), 800);
    }

    #[test]
    fn small_requests_may_use_the_headroom_that_large_ones_leave() {
        let budget = MemoryBudget::new(1024);
        let mut large = budget.reserve();
        large.grow(budget.largest_request()).unwrap();
        let mut small = budget.reserve();
        small.grow(16).unwrap();
        small.grow(16).unwrap();
        let mut another = budget.reserve();
        another.grow(32).unwrap();
        assert_eq!(budget.used(), 960);
        assert_eq!(
            another.grow(1),
            Err(Shortfall::Exhausted { budget: 1024 }),
            "past a 32nd of the budget it is a large request"
        );
    }

    #[test]
    fn a_request_larger_than_any_may_hold_is_told_it_never_fits() {
        let budget = MemoryBudget::new(1024);
        let mut request = budget.reserve();
        assert_eq!(request.grow(1000), Err(Shortfall::NeverFits { largest: 896 }));
        assert_eq!(budget.used(), 0);
    }
}
