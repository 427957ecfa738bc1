//! Log records: what an application logged, with the trace and span it logged in when it
//! knew them (OTLP logs carry both ids). Shown beside the span's events.

use super::span::{AttrValue, Attribute, find_attr};
use super::{SpanId, TraceId};

/// One log record, normalized.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When it happened (the record's time, else when the SDK observed it), Unix ns.
    pub time_ns: u64,
    pub service: String,
    /// OTLP's severity number: 1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error,
    /// 21–24 fatal; 0 unspecified.
    pub severity_number: i32,
    /// The severity as the application named it (`WARNING`), when it did.
    pub severity_text: String,
    pub body: String,
    pub attributes: Vec<Attribute>,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<SpanId>,
}

impl LogRecord {
    /// `ERROR`, `WARN`, …: the application's name for the severity, else OTLP's.
    pub fn severity(&self) -> String {
        match self.severity_text.trim() {
            "" => severity_name(self.severity_number).to_string(),
            text => text.to_ascii_uppercase(),
        }
    }

    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        find_attr(&self.attributes, key)
    }
}

/// OTLP's name of a severity number's range.
pub fn severity_name(number: i32) -> &'static str {
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "LOG",
    }
}

/// The lowest severity number of a name a user types (`warn`, `error`, `info`…), for a
/// `severity>=` filter.
pub fn severity_floor(name: &str) -> Option<i32> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "trace" => 1,
        "debug" => 5,
        "info" => 9,
        "warn" | "warning" => 13,
        "error" => 17,
        "fatal" | "critical" => 21,
        _ => return None,
    })
}
