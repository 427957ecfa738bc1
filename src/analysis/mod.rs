//! Pure functions from traces to findings. No I/O and no editor, so every front door
//! shares them and benchmarks measure them alone.

pub mod critical_path;
pub mod dependencies;
pub mod self_time;
pub mod summary;

pub use self_time::self_times;
pub use summary::TraceSummary;
