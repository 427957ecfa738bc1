//! The normalized trace every other layer works on. No I/O, no formats, no editor.

pub mod ids;
pub mod span;
pub mod trace;
mod warnings;

pub use ids::{SpanId, TraceId};
pub use span::{AttrValue, Attribute, Event, RefKind, Reference, Resource, Span, SpanKind, Status, StatusCode};
pub use trace::{SpanIndex, SpanTree, Trace};
