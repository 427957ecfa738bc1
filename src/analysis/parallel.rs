//! Two independent parts of an analysis (or two halves of a list of findings) run at
//! once, one per core, when there is enough work for a thread to pay: a big trace is what
//! a user waits on, and the editor host has the second core idle while it analyzes.

/// Below this many spans, starting a thread costs more than it saves.
const MIN_SPANS: usize = 20_000;

/// Whether work about `spans` spans is worth a second thread: they reach [`MIN_SPANS`]
/// and the process may use more than one core.
pub fn pays(spans: usize) -> bool {
    enough(spans, MIN_SPANS)
}

/// `a()` and `b()`, the second on a thread of its own when that [`pays`]. Either way the
/// results are the same.
pub fn both<A: Send, B: Send>(spans: usize, a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    if !pays(spans) {
        return (a(), b());
    }
    std::thread::scope(|scope| {
        let b = scope.spawn(b);
        let a = a();
        match b.join() {
            Ok(b) => (a, b),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// `f` on every item, the second half of them on a thread of its own when there are at
/// least `worth_a_thread` items and the process may use more than one core. Each item is
/// changed alone, so the result is the same either way.
pub fn each<T: Send>(items: &mut [T], worth_a_thread: usize, f: impl Fn(&mut T) + Sync) {
    if !enough(items.len(), worth_a_thread) {
        items.iter_mut().for_each(f);
        return;
    }
    let (first, second) = items.split_at_mut(items.len() / 2);
    std::thread::scope(|scope| {
        scope.spawn(|| second.iter_mut().for_each(&f));
        first.iter_mut().for_each(&f);
    });
}

/// Whether `work` reaches `least` and the process may use more than one core (its CPU
/// affinity and quota say so): the one rule of when a second thread pays.
fn enough(work: usize, least: usize) -> bool {
    work >= least && several_cores()
}

fn several_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}
