//! What the language server shows on the lines of a document: the annotations placed on
//! its lines, as diagnostics, inlay hints and hovers. Pure functions of the annotations
//! and the document's text; positions are in UTF-16 code units, the encoding every
//! client understands.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use lsp_types::{
    CodeAction, CodeActionOrCommand, Command, Diagnostic, DiagnosticSeverity, DocumentLink, InlayHint, InlayHintLabel,
    NumberOrString, Position, Range, Uri,
};
use serde_json::Value;

use crate::analysis::findings::Severity;
use crate::model::{SmolStr, SpanIndex, Trace};
use crate::render::annotations::Annotation;
use crate::render::flame;
use crate::render::units::duration;
use crate::session::Annotated;

/// Helix's hover popup: at most 118 columns (fewer in a narrower terminal: the
/// `hover_width` option says how many), and about 24 rows for the flame graph.
pub const HOVER_COLUMNS: std::ops::RangeInclusive<usize> = 40..=118;
pub const HOVER_FLAME_ROWS: usize = 24;

/// The lines of a document as the protocol counts them (`\n`, with or without `\r`).
pub fn lines(text: &str) -> Vec<&str> {
    text.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).collect()
}

fn utf16_len(line: &str) -> u32 {
    line.encode_utf16().count() as u32
}

/// The severity of an annotation's diagnostic, by the rules of Neovim's badges (error,
/// warning, information), with the cool lines (under `performance_threshold` % of request
/// time, where Neovim draws no heat) as hints.
pub fn severity(annotation: &Annotation, threshold: f64) -> DiagnosticSeverity {
    match annotation.severity {
        Severity::Error => DiagnosticSeverity::ERROR,
        Severity::Warn => DiagnosticSeverity::WARNING,
        Severity::Info if annotation.percent >= threshold => DiagnosticSeverity::INFORMATION,
        Severity::Info => DiagnosticSeverity::HINT,
    }
}

/// One diagnostic per annotation, over its line from the first character that is not
/// blank; code = the finding's kind (`timing` for the cost of the line).
pub fn diagnostics(placed: &BTreeMap<usize, Vec<&Annotation>>, lines: &[&str], threshold: f64) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (&line, here) in placed {
        let text = lines.get(line).copied().unwrap_or("");
        let indent = text.len() - text.trim_start().len();
        let range = Range::new(
            Position::new(line as u32, utf16_len(&text[..indent])),
            Position::new(line as u32, utf16_len(text)),
        );
        for annotation in here {
            out.push(Diagnostic {
                range,
                severity: Some(severity(annotation, threshold)),
                code: Some(NumberOrString::String(annotation.kind.clone())),
                source: Some("vitals".to_string()),
                message: annotation.message().to_string(),
                ..Diagnostic::default()
            });
        }
    }
    out
}

/// What Neovim writes at the end of an annotated line: every annotation's text, two
/// spaces apart.
pub fn line_text(here: &[&Annotation]) -> String {
    here.iter().map(|a| a.text.as_str()).collect::<Vec<_>>().join("  ")
}

/// An inlay hint at the end of each annotated line from `first` to `last` (0-based, inclusive).
pub fn inlay_hints(
    placed: &BTreeMap<usize, Vec<&Annotation>>,
    lines: &[&str],
    first: usize,
    last: usize,
) -> Vec<InlayHint> {
    placed
        .range(first..=last)
        .map(|(&line, here)| InlayHint {
            position: Position::new(line as u32, utf16_len(lines.get(line).copied().unwrap_or(""))),
            label: InlayHintLabel::String(line_text(here)),
            kind: None,
            text_edits: None,
            tooltip: None,
            padding_left: Some(true),
            padding_right: None,
            data: None,
        })
        .collect()
}

/// The hover of an annotated line, in markdown: each annotation's numbers, each finding's
/// evidence and suggestion, and the flame graph of the slowest trace through the line
/// (the spans a finding is about marked), cut to fit a popup `width` columns wide.
pub fn hover(here: &[&Annotation], annotated: &Annotated, width: usize) -> String {
    let mut out = String::new();
    for annotation in here {
        out.push_str(&format!("**{}** · `{}`\n", annotation.message(), annotation.kind));
        if let Some(finding) = annotation.kind.ne("timing").then(|| annotated.finding_of(annotation)).flatten() {
            if !finding.message.is_empty() {
                out.push_str(&format!("- {}\n", finding.message));
            }
            if !finding.suggestion.is_empty() {
                out.push_str(&format!("- *Suggestion:* {}\n", finding.suggestion));
            }
        }
        out.push('\n');
    }
    if let Some(flame) = slowest_flame(here, annotated, width) {
        out.push_str(&flame);
    }
    out.trim_end().to_string()
}

/// The slowest of a line's traces that the analysis still holds, and the spans the
/// line's annotations mark in it (the calls of an N+1).
pub fn slowest_trace<'a>(here: &[&Annotation], annotated: &'a Annotated) -> Option<(&'a Arc<Trace>, Vec<SmolStr>)> {
    let trace = here
        .iter()
        .flat_map(|a| &a.traces)
        .filter_map(|r| annotated.trace(&r.trace_id))
        .max_by_key(|t| t.duration_ns())?;
    let marks = here
        .iter()
        .flat_map(|a| &a.traces)
        .filter(|r| annotated.trace(&r.trace_id).is_some_and(|t| t.id == trace.id))
        .flat_map(|r| r.marks.iter().cloned())
        .collect();
    Some((trace, marks))
}

/// The flame graph of the slowest of the line's traces, with the spans the line's
/// annotations mark in it, as a ```text block of `width` columns (within [`HOVER_COLUMNS`])
/// and at most [`HOVER_FLAME_ROWS`] rows: rows past that are left out (and counted), never
/// wrapped.
fn slowest_flame(here: &[&Annotation], annotated: &Annotated, width: usize) -> Option<String> {
    let (trace, marks) = slowest_trace(here, annotated)?;
    let marked: Vec<SpanIndex> = marks.iter().filter_map(|span| trace.find_span(span)).collect();
    let width = width.clamp(*HOVER_COLUMNS.start(), *HOVER_COLUMNS.end());
    let drawn = flame::render(trace, width, false, &marked);
    let mut rows: Vec<String> = drawn.lines.iter().map(|l| l.text.trim_end().to_string()).collect();
    if rows.len() > HOVER_FLAME_ROWS {
        let left_out = rows.len() - (HOVER_FLAME_ROWS - 1);
        rows.truncate(HOVER_FLAME_ROWS - 1);
        rows.push(format!("… {left_out} more rows: open the trace to see them all"));
    }
    let root = trace.root().map(|r| format!("{}: {}", r.service(), r.operation)).unwrap_or_default();
    let through: HashSet<&str> = here.iter().flat_map(|a| &a.traces).map(|r| r.trace_id.as_str()).collect();
    let of = match through.len() {
        1 => "the one trace".to_string(),
        n => format!("{n} traces"),
    };
    Some(format!(
        "Slowest of {of} through here: `{}` {root} · {}\n```text\n{}\n```\n",
        trace.id,
        duration(trace.duration_ns()),
        rows.join("\n")
    ))
}

/// The code actions of an annotated line: open the slowest trace through it (its spans
/// to mark marked), list every trace through it (`vitals.traces`), for each N+1 or
/// repeated call its calls marked in the worst trace it occurred in (`vitals.trace`), and
/// analyze (`vitals.analyze`) and map (`vitals.map`) the service the slowest trace starts in.
pub fn code_actions(here: &[&Annotation], annotated: &Annotated) -> Vec<CodeActionOrCommand> {
    let action = |title: String, command: &str, arguments: Vec<Value>| {
        CodeActionOrCommand::CodeAction(CodeAction {
            title: title.clone(),
            command: Some(Command { title, command: command.to_string(), arguments: Some(arguments) }),
            ..CodeAction::default()
        })
    };
    let mut actions = Vec::new();
    let Some((trace, marks)) = slowest_trace(here, annotated) else { return actions };
    let root = trace.root().map(|r| format!("{}: {}", r.service(), r.operation)).unwrap_or_default();
    let title = format!("Open the slowest trace through here ({root}, {})", duration(trace.duration_ns()));
    let arguments = std::iter::once(trace.id.to_smol()).chain(marks).map(|id| Value::from(id.as_str())).collect();
    actions.push(action(title, "vitals.trace", arguments));
    let mut through: Vec<&str> = Vec::new();
    for id in here.iter().flat_map(|a| &a.traces).map(|r| r.trace_id.as_str()) {
        if !through.contains(&id) {
            through.push(id);
        }
    }
    if through.len() > 1 {
        let title = format!("List the {} traces through here", through.len());
        actions.push(action(title, "vitals.traces", through.into_iter().map(Value::from).collect()));
    }
    for annotation in here.iter().filter(|a| a.kind == "n_plus_one" || a.kind == "repeated_call") {
        let Some(worst) = annotation.traces.iter().find(|r| !r.marks.is_empty()) else { continue };
        let title = format!("Open the {} calls in the worst trace: {}", worst.marks.len(), annotation.message());
        let arguments =
            std::iter::once(&worst.trace_id).chain(&worst.marks).map(|id| Value::from(id.as_str())).collect();
        actions.push(action(title, "vitals.trace", arguments));
    }
    if let Some(root) = trace.root() {
        let service = root.service().to_string();
        actions.push(action(
            format!("Analyze service {service}"),
            "vitals.analyze",
            vec![Value::from(service.clone())],
        ));
        actions.push(action(format!("Service map of {service}"), "vitals.map", vec![Value::from(service)]));
    }
    actions
}

/// The links of a view's document: each trace id (32 hex digits, or 16 starting a line as
/// a search result lists them) opens that trace (resolved by `documentLink/resolve`, which
/// fetches it; `data` holds the id), and each `file:line` that `local_file` finds in the
/// project opens the file at that line.
pub fn document_links(lines: &[&str], local_file: impl Fn(&str) -> Option<PathBuf>) -> Vec<DocumentLink> {
    let mut found: HashMap<&str, Option<PathBuf>> = HashMap::new();
    let mut links = Vec::new();
    for (number, line) in lines.iter().enumerate() {
        for (start, word) in words(line) {
            let target = if is_trace_id(word, start == line.len() - line.trim_start().len()) {
                Link::Trace(word)
            } else if let Some((path, lineno)) = file_and_line(word) {
                match found.entry(path).or_insert_with(|| local_file(path)) {
                    Some(file) => Link::Code(file.clone(), lineno),
                    None => continue,
                }
            } else {
                continue;
            };
            let range = Range::new(
                Position::new(number as u32, utf16_len(&line[..start])),
                Position::new(number as u32, utf16_len(&line[..start + word.len()])),
            );
            links.push(match target {
                Link::Trace(id) => DocumentLink {
                    range,
                    target: None,
                    tooltip: Some(format!("Open trace {id}")),
                    data: Some(serde_json::json!({ "trace": id })),
                },
                Link::Code(file, lineno) => DocumentLink {
                    range,
                    target: file_uri(&file, Some(lineno)),
                    tooltip: Some(format!("Open {}:{lineno}", file.display())),
                    data: None,
                },
            });
        }
    }
    links
}

enum Link<'a> {
    Trace(&'a str),
    Code(PathBuf, u32),
}

/// A file's `file:` URI, with the line as a `#L12` fragment (as editors that take one
/// read it; the others open the file).
pub fn file_uri(file: &std::path::Path, line: Option<u32>) -> Option<Uri> {
    let mut url = url::Url::from_file_path(file).ok()?;
    url.set_fragment(line.map(|l| format!("L{l}")).as_deref());
    url.as_str().parse().ok()
}

/// The words of a line with their byte offsets, without the brackets and punctuation
/// around them (`(orders.py:12)` is `orders.py:12`).
fn words(line: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    line.split(' ').filter_map(move |piece| {
        let start = offset;
        offset += piece.len() + 1;
        let trimmed = piece.trim_start_matches(['(', '[', '"', '\'', '`']);
        let lead = piece.len() - trimmed.len();
        let word = trimmed.trim_end_matches([')', ']', '"', '\'', '`', ',', ';', '.']);
        (!word.is_empty()).then_some((start + lead, word))
    })
}

/// A trace id: 32 hex digits anywhere, or 16 (a 64-bit id) at the start of a line.
fn is_trace_id(word: &str, starts_line: bool) -> bool {
    (word.len() == 32 || (word.len() == 16 && starts_line)) && word.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `shop/orders.py:42` → (`shop/orders.py`, 42): a path (with a `/` or a `.`) and a line.
fn file_and_line(word: &str) -> Option<(&str, u32)> {
    let (path, line) = word.rsplit_once(':')?;
    let line: u32 = line.parse().ok().filter(|&l| l > 0)?;
    (path.contains('/') || path.contains('.')).then_some((path, line))
}
