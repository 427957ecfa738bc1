//! The normalized trace every other layer works on. No I/O, no formats, no editor.

pub mod deployment;
pub mod ids;
pub mod log;
pub mod span;
pub mod times;
pub mod trace;
mod warnings;

pub use deployment::{Deployment, DeploymentKey, VersionSeen};
pub use ids::{IdHasher, IdMap, SpanId, TraceId};
pub use log::LogRecord;
pub use span::{
    AttrValue, Attribute, Event, RefKind, Reference, References, Resource, SmolStr, Span, SpanKind, Status, StatusCode,
};
pub use times::{LATEST_TIME_NS, MAX_SPAN_NS, SpanTimes, TimeRepair, change_ns, saturating_sum};
pub use trace::{SpanIndex, SpanTree, Trace};
