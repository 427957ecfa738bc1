//! OTLP logs (`ExportLogsServiceRequest`), as SDKs' log exporters send them: protobuf is
//! prost's; JSON is read here into the same messages, with the OTLP JSON rules of
//! [`super::otlp_json`] (hex or base64 ids, times as strings or numbers). Both become
//! [`LogRecord`]s through one conversion.

use opentelemetry_proto::tonic::common::v1::AnyValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord as ProtoLogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::{Deserialize, Deserializer};

use super::lenient;
use super::otlp::{convert_attributes, convert_value};
use super::otlp_json::{RawAnyValue, RawKeyValue, any_value, decode_id, key_values, unsigned_time};
use super::parse_json;
use crate::error::{Error, Result};
use crate::model::{AttrValue, LogRecord, SpanId, TraceId};

const FORMAT: &str = "OTLP JSON logs";

/// Reads an OTLP JSON `ExportLogsServiceRequest` (`{"resourceLogs": […]}`).
pub fn decode_resource_logs(bytes: &[u8]) -> Result<Vec<ResourceLogs>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::decode(FORMAT, "the body is empty"));
    }
    let request: RawRequest = parse_json(bytes, FORMAT)?;
    let Some(resource_logs) = request.resource_logs else {
        return Err(Error::decode(FORMAT, "no `resourceLogs` found"));
    };
    resource_logs.into_iter().enumerate().map(|(r, raw)| raw.into_proto(r)).collect()
}

/// A stored or received record as the model has it, for `service`.
pub fn log_record(service: &str, record: ProtoLogRecord) -> LogRecord {
    let time_ns = match record.time_unix_nano {
        0 => record.observed_time_unix_nano,
        time => time,
    };
    LogRecord {
        time_ns,
        service: service.to_string(),
        severity_number: record.severity_number,
        severity_text: record.severity_text,
        body: record.body.map(body_text).unwrap_or_default(),
        attributes: convert_attributes(record.attributes),
        trace_id: TraceId::from_bytes(&record.trace_id).filter(|id| !id.is_zero()),
        span_id: SpanId::from_bytes(&record.span_id).filter(|id| !id.is_zero()),
    }
}

/// A body as text: strings as they are, anything else as the attribute values show it.
fn body_text(value: AnyValue) -> String {
    match convert_value(value) {
        AttrValue::Str(text) => text.to_string(),
        other => other.to_string(),
    }
}

/// A severity as a number (`13`, `"13"`) or, from protobuf's JSON mapping, a name
/// (`"SEVERITY_NUMBER_WARN"`); anything else is unspecified rather than a refused batch.
fn severity<'de, D: Deserializer<'de>>(deserializer: D) -> std::result::Result<i32, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()).unwrap_or(0),
        serde_json::Value::String(text) => match text.parse::<i32>() {
            Ok(n) => n,
            Err(_) => SeverityNumber::from_str_name(&text).map_or(0, |s| s as i32),
        },
        _ => 0,
    })
}

#[derive(Deserialize)]
struct RawRequest {
    #[serde(default, rename = "resourceLogs", alias = "resource_logs")]
    resource_logs: Option<Vec<RawResourceLogs>>,
}

#[derive(Deserialize)]
struct RawResourceLogs {
    #[serde(default)]
    resource: Option<RawResource>,
    #[serde(default, rename = "scopeLogs", alias = "scope_logs")]
    scope_logs: Vec<RawScopeLogs>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    attributes: Vec<RawKeyValue>,
}

#[derive(Deserialize)]
struct RawScopeLogs {
    #[serde(default, rename = "logRecords", alias = "log_records")]
    log_records: Vec<RawLogRecord>,
}

#[derive(Deserialize)]
struct RawLogRecord {
    #[serde(default, rename = "timeUnixNano", alias = "time_unix_nano", deserialize_with = "lenient::time_any")]
    time_unix_nano: i128,
    #[serde(
        default,
        rename = "observedTimeUnixNano",
        alias = "observed_time_unix_nano",
        deserialize_with = "lenient::time_any"
    )]
    observed_time_unix_nano: i128,
    #[serde(default, rename = "severityNumber", alias = "severity_number", deserialize_with = "severity")]
    severity_number: i32,
    #[serde(default, rename = "severityText", alias = "severity_text")]
    severity_text: String,
    #[serde(default)]
    body: Option<RawAnyValue>,
    #[serde(default)]
    attributes: Vec<RawKeyValue>,
    #[serde(default, rename = "traceId", alias = "trace_id")]
    trace_id: String,
    #[serde(default, rename = "spanId", alias = "span_id")]
    span_id: String,
    #[serde(default, rename = "eventName", alias = "event_name")]
    event_name: String,
}

impl RawResourceLogs {
    fn into_proto(self, r: usize) -> Result<ResourceLogs> {
        let scope_logs = self
            .scope_logs
            .into_iter()
            .enumerate()
            .map(|(s, scope)| {
                let log_records = scope
                    .log_records
                    .into_iter()
                    .enumerate()
                    .map(|(i, raw)| raw.into_proto(&|| format!("resourceLogs[{r}].scopeLogs[{s}].logRecords[{i}]")))
                    .collect::<Result<Vec<_>>>()?;
                Ok(ScopeLogs { log_records, ..Default::default() })
            })
            .collect::<Result<Vec<_>>>()?;
        let resource = self.resource.map(|r| Resource { attributes: key_values(r.attributes), ..Default::default() });
        Ok(ResourceLogs { resource, scope_logs, ..Default::default() })
    }
}

impl RawLogRecord {
    fn into_proto(self, at: &dyn Fn() -> String) -> Result<ProtoLogRecord> {
        Ok(ProtoLogRecord {
            time_unix_nano: unsigned_time(self.time_unix_nano),
            observed_time_unix_nano: unsigned_time(self.observed_time_unix_nano),
            severity_number: self.severity_number,
            severity_text: self.severity_text,
            body: self.body.map(any_value),
            attributes: key_values(self.attributes),
            trace_id: decode_id(&self.trace_id, 16, "traceId", at)?,
            span_id: decode_id(&self.span_id, 8, "spanId", at)?,
            event_name: self.event_name,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_logs_decode_with_ids_severity_and_body() {
        let json = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
          "scopeLogs":[{"logRecords":[
            {"timeUnixNano":"1700000000000000000","severityNumber":"SEVERITY_NUMBER_WARN","severityText":"WARNING",
             "body":{"stringValue":"low stock"},"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
             "attributes":[{"key":"sku","value":{"intValue":"42"}}]},
            {"observedTimeUnixNano":5,"body":{"intValue":7}}]}]}]}"#;
        let logs = decode_resource_logs(json).unwrap();
        let records: Vec<LogRecord> =
            logs[0].scope_logs[0].log_records.iter().cloned().map(|r| log_record("shop", r)).collect();
        assert_eq!(records[0].time_ns, 1_700_000_000_000_000_000);
        assert_eq!(records[0].severity(), "WARNING");
        assert_eq!(records[0].severity_number, 13);
        assert_eq!(records[0].body, "low stock");
        assert_eq!(records[0].trace_id.unwrap().to_string(), "5b8efff798038103d269b633813fc60c");
        assert_eq!(records[0].span_id.unwrap().to_string(), "eee19b7ec3c1b174");
        assert_eq!(records[0].attr("sku"), Some(&AttrValue::Int(42)));
        assert_eq!((records[1].time_ns, records[1].body.as_str(), records[1].trace_id), (5, "7", None));
        assert_eq!(records[1].severity(), "LOG");
    }

    #[test]
    fn bad_json_logs_say_what_is_wrong() {
        assert!(decode_resource_logs(b"").unwrap_err().to_string().contains("empty"));
        assert!(decode_resource_logs(br#"{"resourceSpans":[]}"#).unwrap_err().to_string().contains("resourceLogs"));
        let bad_id = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}"#;
        assert!(decode_resource_logs(bad_id).unwrap_err().to_string().contains("traceId"));
    }
}
