//! The span-detail view: everything known about one span, for the `<CR>` float and
//! `vitals view --span`. Its events and logs are the span's log lines (see [`super::logs`]),
//! whose stack frames lead to the code.

use super::logs::{self, WithJumps};
use super::palette;
use super::style::{Group, Rendered, StyledLine};
use super::text::{Keep, elide_distinct, width as cells, wrap_styled};
use super::units::{duration, plural};
use crate::analysis::self_time::self_time;
use crate::model::{Attribute, LogRecord, RefKind, SpanIndex, StatusCode, Trace};

const KEY_WIDTH: usize = 12;
/// Attribute keys longer than this are cut in the middle, so values keep their room.
const MAX_KEY_WIDTH: usize = 32;
/// Lines of one value beyond which the rest is left out (a stack trace, a long query).
const MAX_VALUE_LINES: usize = 30;

/// The detail of a span; `logs` are the trace's stored log records (those of this span
/// are listed with its events).
pub fn render(trace: &Trace, index: SpanIndex, logs: &[LogRecord], width: usize) -> WithJumps {
    let span = &trace.spans[index];
    let t0 = trace.start_ns();
    let mut lines = Vec::new();

    let mut title = StyledLine::default();
    title.push(span.service(), Some(palette::text(span.service(), false)));
    title.push(": ", None);
    title.push(&span.operation, Some(Group::Title));
    lines.extend(wrap_styled(&title, width, 2));
    lines.push(StyledLine::default());

    let field = |key: &str, value: &str, group: Option<Group>| {
        let mut line = StyledLine::default();
        line.push(&format!("{key:<KEY_WIDTH$}"), Some(Group::Label));
        line.push(value, group);
        wrap_styled(&line, width, KEY_WIDTH)
    };
    let parent = match trace.tree.parent(index) {
        Some(p) => trace.spans[p].display_id().to_string(),
        None => match span.parent_id {
            Some(missing) => format!("{missing} (not in this trace)"),
            None => "none (root)".to_string(),
        },
    };
    let own = self_time(trace, index);
    let share = if span.duration_ns > 0 { own as f64 * 100.0 / span.duration_ns as f64 } else { 0.0 };
    lines.extend(field("Span ID", &span.display_id(), None));
    lines.extend(field("Trace ID", &trace.id.to_string(), None));
    lines.extend(field("Parent ID", &parent, None));
    lines.extend(field("Service", span.service(), None));
    lines.extend(field("Operation", &span.operation, None));
    lines.extend(field("Kind", span.kind.as_str(), None));
    lines.extend(field("Start", &format!("+{}", duration(span.start_ns.saturating_sub(t0))), Some(Group::Duration)));
    lines.extend(field("Duration", &duration(span.duration_ns), Some(Group::Duration)));
    lines.extend(field("Self time", &format!("{} ({share:.0}%)", duration(own)), Some(Group::Duration)));
    let (status, status_group) = match span.status.code {
        StatusCode::Error if span.status.message.is_empty() => ("error".to_string(), Some(Group::Error)),
        StatusCode::Error => (format!("error: {}", span.status.message), Some(Group::Error)),
        StatusCode::Ok => ("ok".to_string(), None),
        StatusCode::Unset => ("unset".to_string(), Some(Group::Dim)),
    };
    lines.extend(field("Status", &status, status_group));
    for reference in span.references.iter().filter(|r| Some(r.span_id) != span.parent_id || r.kind != RefKind::ChildOf)
    {
        let kind = match reference.kind {
            RefKind::ChildOf => "child of",
            RefKind::FollowsFrom => "follows from",
            RefKind::Link => "link",
        };
        lines.extend(field("Reference", &format!("{kind} {}", reference.span_id), None));
    }

    section(&mut lines, "Attributes", &span.attributes, width);
    let mut jumps = Vec::new();
    let own_logs = logs.iter().any(|log| log.span_id == Some(span.span_id));
    if !span.events.is_empty() || own_logs {
        lines.push(StyledLine::default());
        let heading = if own_logs { "Events and logs" } else { "Events" };
        lines.push(StyledLine::styled(heading, Group::Title));
        logs::entry_lines(trace, &[index], index, logs, width, &mut lines, &mut jumps);
    }
    section(&mut lines, "Resource", &span.resource.attributes, width);
    WithJumps { rendered: Rendered { lines, targets: Vec::new() }, jumps }
}

fn section(lines: &mut Vec<StyledLine>, heading: &str, attributes: &[Attribute], width: usize) {
    if attributes.is_empty() {
        return;
    }
    lines.push(StyledLine::default());
    let mut line = StyledLine::default();
    line.push(heading, Some(Group::Title));
    lines.push(line);
    lines.extend(attribute_lines(attributes, width, 2));
}

/// Attributes sorted by key, keys aligned (long keys cut in the middle), values wrapped
/// under themselves, their own line breaks kept.
fn attribute_lines(attributes: &[Attribute], width: usize, indent: usize) -> Vec<StyledLine> {
    let mut sorted: Vec<&Attribute> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let key_width = sorted
        .iter()
        .map(|a| cells(&a.key))
        .max()
        .unwrap_or(0)
        .min(MAX_KEY_WIDTH)
        .min(width.saturating_sub(indent) / 3);
    let keys = elide_distinct(&sorted.iter().map(|a| (a.key.as_str(), key_width)).collect::<Vec<_>>(), Keep::Ends);
    let hanging = indent + key_width + 2;
    let mut lines = Vec::new();
    for (attribute, key) in sorted.iter().zip(keys) {
        let value = attribute.value.to_string();
        let mut value_lines = Vec::new();
        for (n, part) in value.split('\n').enumerate() {
            let mut line = StyledLine::plain(" ".repeat(if n == 0 { indent } else { hanging }));
            if n == 0 {
                line.push(&format!("{key:<key_width$}  "), Some(Group::Label));
                line.pad_to(hanging);
            }
            line.push(part, None);
            value_lines.extend(wrap_styled(&line, width, hanging));
        }
        let hidden = value_lines.len().saturating_sub(MAX_VALUE_LINES);
        if hidden > 0 {
            value_lines.truncate(MAX_VALUE_LINES);
            let mut more = StyledLine::plain(" ".repeat(hanging));
            more.push(&format!("… {hidden} more line{}", plural(hidden)), Some(Group::Dim));
            value_lines.push(more);
        }
        lines.extend(value_lines);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;

    #[test]
    fn the_detail_lists_ids_times_status_attributes_events_and_resource() {
        let json = br#"{"traceID":"1","spans":[
          {"traceID":"1","spanID":"a","operationName":"root","startTime":1000,"duration":1000,"processID":"p"},
          {"traceID":"1","spanID":"b","operationName":"SELECT","startTime":1200,"duration":600,"processID":"p",
           "references":[{"refType":"CHILD_OF","spanID":"a"}],
           "tags":[{"key":"db.statement","type":"string","value":"select * from t"},{"key":"error","type":"bool","value":true},
                   {"key":"otel.status_description","type":"string","value":"deadlock"}],
           "logs":[{"timestamp":1300,"fields":[{"key":"event","type":"string","value":"retry"}]}]}],
          "processes":{"p":{"serviceName":"db","tags":[{"key":"host.name","type":"string","value":"box1"}]}}}"#;
        let trace = formats::decode(json).unwrap().remove(0);
        let text = render(&trace, trace.find_span("b").unwrap(), &[], 80).rendered.plain_text();
        for part in [
            "db: SELECT",
            "Span ID     b",
            "Parent ID   a",
            "Kind",
            "Start       +200µs",
            "Duration    600µs",
            "Self time   600µs (100%)",
            "error: deadlock",
            "db.statement",
            "select * from t",
            "+300µs",
            "retry",
            "Resource",
            "host.name",
            "box1",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
    }
}
