//! A span's log lines: its events and the log records it logged, as one list by time,
//! exceptions first, each with its offset from the trace's start, its name (or severity
//! and message) and its attributes. The frames of an exception's stack trace are lines
//! that lead to the code ([`CodeJump`]). Also the list of `:VitalsLogs`.

use serde::Serialize;

use super::palette;
use super::style::{Group, Rendered, StyledLine};
use super::text::{truncate, wrap_styled};
use super::units::{clock, duration, plural};
use crate::analysis::stack_frames;
use crate::model::log::severity_name;
use crate::model::{Attribute, Event, LogRecord, SpanIndex, Trace};

/// Lines of one stack trace shown; the rest is counted.
const MAX_STACK_LINES: usize = 60;
/// Where a log line's text starts: after `  +12.3ms   ` and the kind.
const HANGING: usize = 4;

/// A line of a drawing that leads to code: `<CR>` on it opens `path` (as the trace has it;
/// the editor maps it and keeps it inside the workspace) at `lineno`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CodeJump {
    /// 0-based line of the drawing.
    pub line: usize,
    pub path: String,
    pub lineno: u32,
}

/// A drawing with lines that lead to code.
#[derive(Debug, Default)]
pub struct WithJumps {
    pub rendered: Rendered,
    pub jumps: Vec<CodeJump>,
}

/// One entry of a span's logs: an event of a span, or a stored log record.
struct Entry<'a> {
    time_ns: u64,
    span: Option<SpanIndex>,
    what: What<'a>,
}

enum What<'a> {
    Event(&'a Event),
    Log(&'a LogRecord),
}

impl Entry<'_> {
    fn attributes(&self) -> &[Attribute] {
        match self.what {
            What::Event(event) => &event.attributes,
            What::Log(log) => &log.attributes,
        }
    }

    fn attr(&self, key: &str) -> Option<String> {
        self.attributes().iter().find(|a| a.key == key).map(|a| a.value.to_string())
    }

    /// An exception event, or a log record carrying one (`logger.exception(…)`).
    fn is_exception(&self) -> bool {
        matches!(self.what, What::Event(e) if e.name == "exception")
            || self.attr("exception.type").is_some()
            || self.attr("exception.stacktrace").is_some()
    }
}

/// The log lines of `span` (with `descendants`, of every span under it too): the events
/// of the spans and the `logs` whose span is one of them. `note` says what the provider
/// cannot show (a remote backend keeps no logs).
pub fn of_span(
    trace: &Trace,
    span: SpanIndex,
    descendants: bool,
    logs: &[LogRecord],
    note: Option<&str>,
    width: usize,
) -> WithJumps {
    let mut spans = vec![span];
    if descendants {
        let mut at = 0;
        while at < spans.len() {
            spans.extend(trace.tree.children(spans[at]));
            at += 1;
        }
    }
    let s = &trace.spans[span];
    let mut lines = Vec::new();
    let mut title = StyledLine::default();
    title.push(s.service(), Some(palette::text(s.service(), false)));
    title.push(": ", None);
    title.push(&s.operation, Some(Group::Title));
    if spans.len() > 1 {
        let under = spans.len() - 1;
        title.push(&format!(" and the {under} span{} under it", plural(under)), Some(Group::Dim));
    }
    lines.extend(wrap_styled(&title, width, 2));
    if let Some(note) = note {
        lines.extend(wrap_styled(&StyledLine::styled(note, Group::Dim), width, 2));
    }
    lines.push(StyledLine::default());
    let mut jumps = Vec::new();
    let shown = entry_lines(trace, &spans, span, logs, width, &mut lines, &mut jumps);
    if shown == 0 {
        let none = match descendants {
            true => "No events or logs in these spans",
            false => "No events or logs in this span (L again: the spans under it too)",
        };
        lines.push(StyledLine::styled(none, Group::Dim));
    }
    WithJumps { rendered: Rendered { lines, targets: Vec::new() }, jumps }
}

/// Appends the log lines of `spans` (events, then `logs` whose span is one of them):
/// exceptions first, then the rest by time; lines of an entry of another span than
/// `selected` name it. Frame lines of stack traces are added to `jumps`. Returns how many
/// entries were drawn.
pub(super) fn entry_lines(
    trace: &Trace,
    spans: &[SpanIndex],
    selected: SpanIndex,
    logs: &[LogRecord],
    width: usize,
    lines: &mut Vec<StyledLine>,
    jumps: &mut Vec<CodeJump>,
) -> usize {
    let mut entries: Vec<Entry> = Vec::new();
    for &span in spans {
        let s = &trace.spans[span];
        entries.extend(s.events.iter().map(|e| Entry { time_ns: e.time_ns, span: Some(span), what: What::Event(e) }));
        entries.extend(logs.iter().filter(|log| log.span_id == Some(s.span_id)).map(|log| Entry {
            time_ns: log.time_ns,
            span: Some(span),
            what: What::Log(log),
        }));
    }
    entries.sort_by_key(|e| (!e.is_exception(), e.time_ns));
    let t0 = trace.start_ns();
    for entry in &entries {
        let mut line = StyledLine::plain("");
        line.push(&format!("+{:<9}", duration(entry.time_ns.saturating_sub(t0))), Some(Group::Duration));
        if let Some(span) = entry.span.filter(|&s| s != selected) {
            let s = &trace.spans[span];
            line.push(&truncate(&format!("{}: {}", s.service(), s.operation), 32), Some(Group::Dim));
            line.push("  ", None);
        }
        push_entry(entry, &mut line);
        let wrapped = wrap_styled(&line, width, HANGING);
        // A log that names where it was written (Python's logging bridge does) leads there.
        if let Some((path, lineno)) = code_location(entry.attributes()) {
            jumps.extend((0..wrapped.len()).map(|n| CodeJump { line: lines.len() + n, path: path.clone(), lineno }));
        }
        lines.extend(wrapped);
        if let Some(stack) = entry.attr("exception.stacktrace") {
            stack_lines(&stack, width, lines, jumps);
        }
    }
    entries.len()
}

/// The entry's kind, message and attributes on its first line.
fn push_entry(entry: &Entry, line: &mut StyledLine) {
    let (kind, kind_group) = match entry.what {
        _ if entry.is_exception() => ("exception".to_string(), Group::Error),
        What::Event(_) => ("event".to_string(), Group::Label),
        What::Log(log) => (log.severity(), severity_group(log.severity_number)),
    };
    line.push(&kind, Some(kind_group));
    line.push("  ", None);
    let message = match entry.what {
        _ if entry.is_exception() => {
            let kind = entry.attr("exception.type").unwrap_or_default();
            let message = entry.attr("exception.message").unwrap_or_default();
            let said = match (kind.is_empty(), message.is_empty()) {
                (false, false) => format!("{kind}: {message}"),
                (false, true) => kind,
                (true, _) => message,
            };
            match entry.what {
                What::Log(log) if !log.body.is_empty() && log.body != said => format!("{} — {said}", log.body),
                _ => said,
            }
        }
        What::Event(event) => event.name.to_string(),
        What::Log(log) => log.body.clone(),
    };
    line.push(&one_line(&message), if entry.is_exception() { Some(Group::Error) } else { None });
    let mut attributes: Vec<&Attribute> = entry
        .attributes()
        .iter()
        .filter(|a| !matches!(a.key.as_str(), "exception.type" | "exception.message" | "exception.stacktrace"))
        // Jaeger's logs carry their name as an `event` field too.
        .filter(|a| !matches!(entry.what, What::Event(e) if a.key == "event" && a.value.to_string() == e.name))
        .collect();
    attributes.sort_by(|a, b| a.key.cmp(&b.key));
    for attribute in attributes {
        line.push("  ", None);
        line.push(&format!("{}=", attribute.key), Some(Group::Label));
        line.push(&one_line(&attribute.value.to_string()), None);
    }
}

/// The lines of a stack trace under its entry, frames marked as leading to the code.
fn stack_lines(stack: &str, width: usize, lines: &mut Vec<StyledLine>, jumps: &mut Vec<CodeJump>) {
    let all: Vec<&str> = stack.lines().filter(|l| !l.trim().is_empty()).collect();
    for text in all.iter().take(MAX_STACK_LINES) {
        let frame = stack_frames::parse(text);
        let mut line = StyledLine::plain(" ".repeat(HANGING));
        line.push(text.trim_end(), Some(if frame.is_some() { Group::Key } else { Group::Dim }));
        let wrapped = wrap_styled(&line, width, HANGING + 2);
        // Each line a long frame wraps onto leads to it.
        if let Some(frame) = frame {
            jumps.extend((0..wrapped.len()).map(|n| CodeJump {
                line: lines.len() + n,
                path: frame.path.clone(),
                lineno: frame.line,
            }));
        }
        lines.extend(wrapped);
    }
    let hidden = all.len().saturating_sub(MAX_STACK_LINES);
    if hidden > 0 {
        let mut more = StyledLine::plain(" ".repeat(HANGING));
        more.push(&format!("… {hidden} more line{}", plural(hidden)), Some(Group::Dim));
        lines.push(more);
    }
}

/// `code.file.path` and `code.line.number` (or the older `code.filepath`, `code.lineno`).
fn code_location(attributes: &[Attribute]) -> Option<(String, u32)> {
    let value = |keys: [&str; 2]| keys.iter().find_map(|key| attributes.iter().find(|a| a.key == *key));
    let path = value(["code.file.path", "code.filepath"])?.value.to_string();
    let line = value(["code.line.number", "code.lineno"])?.value.to_string().parse().ok()?;
    (!path.is_empty() && line > 0).then_some((path, line))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn severity_group(number: i32) -> Group {
    match severity_name(number) {
        "ERROR" | "FATAL" => Group::Error,
        "WARN" => Group::Warning,
        "TRACE" | "DEBUG" => Group::Dim,
        _ => Group::Label,
    }
}

/// A line of the `:VitalsLogs` list and the log it stands for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListedLog {
    /// 0-based line of the drawing.
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
}

/// Logs newest first, a line each (wrapped under itself): time of day, severity, service,
/// its trace (or `no trace`) and message; `utc_offset_s` is where the user is.
pub fn list(logs: &[LogRecord], width: usize, utc_offset_s: i64) -> (Rendered, Vec<ListedLog>) {
    let mut lines = Vec::new();
    let mut items = Vec::new();
    if logs.is_empty() {
        lines.push(StyledLine::styled("No logs match", Group::Dim));
    }
    for log in logs {
        let mut line = StyledLine::default();
        let millis = log.time_ns / 1_000_000 % 1000;
        line.push(&format!("{}.{millis:03} ", clock(log.time_ns, utc_offset_s)), Some(Group::Duration));
        line.push(&format!("{:<5} ", log.severity()), Some(severity_group(log.severity_number)));
        line.push(&log.service, Some(palette::text(&log.service, false)));
        line.push("  ", None);
        // The trace's first 8 digits, or that there is none: a column of its own.
        match log.trace_id {
            Some(trace) => line.push(&trace.to_string()[..8], Some(Group::Key)),
            None => line.push("no trace", Some(Group::Dim)),
        };
        line.push("  ", None);
        let mut message = log.body.clone();
        if let Some(kind) = log.attr("exception.type") {
            message = format!("{message} — {kind}");
        }
        line.push(&one_line(&message), None);
        items.push(ListedLog {
            line: lines.len(),
            trace_id: log.trace_id.map(|id| id.to_string()),
            span_id: log.span_id.map(|id| id.to_string()),
        });
        lines.extend(wrap_styled(&line, width, 15));
    }
    (Rendered { lines, targets: Vec::new() }, items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;
    use crate::model::{AttrValue, SpanId, TraceId};

    fn trace() -> Trace {
        let json = br#"{"traceID":"1","spans":[
          {"traceID":"1","spanID":"a","operationName":"checkout","startTime":1000,"duration":5000,"processID":"p",
           "logs":[{"timestamp":1100,"fields":[{"key":"event","type":"string","value":"cart read"},
                                                {"key":"items","type":"int64","value":3}]},
                   {"timestamp":4000,"fields":[{"key":"event","type":"string","value":"exception"},
                     {"key":"exception.type","type":"string","value":"ValueError"},
                     {"key":"exception.message","type":"string","value":"card declined"},
                     {"key":"exception.stacktrace","type":"string","value":"Traceback (most recent call last):\n  File \"/app/shop/pay.py\", line 12, in charge\n    raise ValueError('card declined')\nValueError: card declined"}]}]},
          {"traceID":"1","spanID":"b","operationName":"SELECT","startTime":1200,"duration":600,"processID":"p",
           "references":[{"refType":"CHILD_OF","spanID":"a"}],
           "logs":[{"timestamp":1300,"fields":[{"key":"event","type":"string","value":"retry"}]}]}],
          "processes":{"p":{"serviceName":"shop"}}}"#;
        formats::decode(json).unwrap().remove(0)
    }

    fn log(trace: &Trace, span: &str, offset_us: u64, body: &str) -> LogRecord {
        LogRecord {
            time_ns: trace.start_ns() + offset_us * 1000,
            service: "shop".into(),
            severity_number: 13,
            severity_text: "WARNING".into(),
            body: body.into(),
            attributes: vec![
                Attribute::new("sku", AttrValue::Int(42)),
                Attribute::new("code.filepath", AttrValue::Str("shop/stock.py".into())),
                Attribute::new("code.lineno", AttrValue::Int(7)),
            ],
            trace_id: Some(TraceId(1)),
            span_id: SpanId::from_hex(span),
        }
    }

    #[test]
    fn exceptions_come_first_then_events_and_logs_by_time_with_frames_leading_to_code() {
        let trace = trace();
        let root = trace.find_span("a").unwrap();
        let logs = [log(&trace, "000000000000000a", 2000, "stock low"), log(&trace, "000000000000000b", 300, "slow")];
        let drawn = of_span(&trace, root, false, &logs, None, 80);
        let text = drawn.rendered.plain_text();
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("no {needle:?} in\n{text}"));
        assert!(at("ValueError: card declined") < at("cart read"), "{text}");
        assert!(
            at("+3.00ms") < at("+100µs") && at("+100µs") < at("+2.00ms"),
            "offsets from the trace's start:\n{text}"
        );
        assert!(text.contains("WARNING  stock low  code.filepath=shop/stock.py  code.lineno=7  sku=42"), "{text}");
        assert!(text.contains("event  cart read  items=3"), "{text}");
        assert!(!text.contains("slow") && !text.contains("retry"), "the child's are not the span's own:\n{text}");
        let jumps: Vec<(&str, u32)> = drawn.jumps.iter().map(|j| (j.path.as_str(), j.lineno)).collect();
        assert_eq!(jumps, [("/app/shop/pay.py", 12), ("shop/stock.py", 7)], "the frame, then the log's own code");
        let frame = &drawn.jumps[0];
        assert!(drawn.rendered.lines[frame.line].text.contains("pay.py\", line 12"));
        assert!(drawn.rendered.lines[drawn.jumps[1].line].text.contains("stock low"));

        let with_children = of_span(&trace, root, true, &logs, None, 80).rendered.plain_text();
        assert!(with_children.contains("and the 1 span under it"), "{with_children}");
        assert!(with_children.contains("shop: SELECT  event  retry"), "{with_children}");
        assert!(with_children.contains("shop: SELECT  WARNING  slow"), "{with_children}");
    }

    #[test]
    fn every_line_fits_and_a_span_without_entries_says_so() {
        let trace = trace();
        for width in [40, 80, 200] {
            let drawn = of_span(&trace, 0, true, &[], Some("jaeger keeps only span events"), width);
            for line in &drawn.rendered.lines {
                assert!(line.width() <= width, "{width}: {:?}", line.text);
            }
        }
        let child = trace.find_span("b").unwrap();
        let none = of_span(&trace, child, false, &[], None, 80).rendered.plain_text();
        assert!(none.contains("retry"), "{none}");
        let mut root = trace.spans[0].clone();
        root.events.clear();
        let bare = Trace::from_spans(trace.id, vec![root]);
        assert!(of_span(&bare, 0, false, &[], None, 80).rendered.plain_text().contains("No events or logs"));
    }

    #[test]
    fn the_list_shows_a_line_per_log_and_which_have_a_trace() {
        let trace = trace();
        let mut untraced = log(&trace, "000000000000000a", 10, "cache warmed");
        untraced.trace_id = None;
        untraced.span_id = None;
        let (rendered, items) = list(&[log(&trace, "000000000000000a", 20, "stock low"), untraced], 80, 0);
        let text = rendered.plain_text();
        assert!(text.contains("WARNING shop  00000000  stock low"), "{text}");
        assert!(text.contains("shop  no trace  cache warmed"), "{text}");
        assert_eq!(items[0].trace_id.as_deref(), Some("00000000000000000000000000000001"));
        assert_eq!((items[1].line, items[1].trace_id.as_deref()), (1, None));
    }
}
