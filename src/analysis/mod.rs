//! Pure functions from traces to findings. No I/O and no editor, so every front door
//! shares them and benchmarks measure them alone.

pub mod aggregate;
pub mod baselines;
pub mod calls;
pub mod compare;
pub mod critical_path;
pub mod dependencies;
pub mod deployments;
pub mod findings;
pub mod glance;
pub mod hot;
pub mod hotspots;
pub mod index;
pub mod memory;
pub mod parallel;
pub mod problems;
pub mod regression;
pub mod repeated;
pub mod report;
pub mod root_cause;
pub mod self_time;
pub mod sequential;
pub mod service_map;
pub mod significance;
pub mod sketch;
pub mod slow_queries;
pub mod stack_frames;
pub mod statement;
pub mod stats;
pub mod summary;
pub mod transaction;
pub mod trends;

pub use self_time::self_times;
pub use summary::TraceSummary;

#[cfg(test)]
pub(crate) mod testing;
