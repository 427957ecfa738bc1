//! Findings in words: the message that states the evidence and the suggestion that says
//! what to change. Kept here because times become text only in the render layer.

use crate::analysis::calls::CallKind;
use crate::analysis::findings::{Evidence, Finding};
use crate::analysis::report::Report;

use super::units::{duration, truncate};

/// Fills in every finding's message and suggestion.
pub fn explain_report(report: &mut Report) {
    report.findings.iter_mut().for_each(explain);
}

pub fn explain(finding: &mut Finding) {
    let total = duration(finding.total_us * 1000);
    let who = format!("{} {}", finding.service, finding.operation);
    let (message, suggestion) = match &finding.evidence {
        Evidence::NPlusOne { call, kind, parent_operation, table, columns, .. } => {
            let n = finding.count;
            let what = if *kind == CallKind::Database { "query" } else { "call" };
            let message = format!(
                "N+1: {n}× {} one after another under {parent_operation}: {total}, {}% of it",
                truncate(call, 80),
                finding.percent
            );
            let suggestion = match (kind, table, columns.first()) {
                (CallKind::Database, Some(table), Some(column)) => {
                    format!("load {table} for all {n} in one query: WHERE {column} IN (…)")
                }
                (CallKind::Database, Some(table), None) => format!("load {table} for all {n} in one query"),
                (CallKind::Database, None, _) => {
                    format!("fetch all {n} in one round trip (a multi-get such as MGET, or pipelining)")
                }
                _ => format!("make one batched {what} for all {n} instead of one per item, or run them concurrently"),
            };
            (message, suggestion)
        }
        Evidence::SlowQuery { statement, threshold_ns, table, columns } => {
            let times = if finding.count > 1 { format!(" ({}×)", finding.count) } else { String::new() };
            let message = format!(
                "slow query{times}: {total} over the {} threshold: {}",
                duration(*threshold_ns),
                truncate(statement, 80)
            );
            let suggestion = match (table, columns.is_empty()) {
                (Some(table), false) => {
                    format!("check the plan (EXPLAIN); an index on {table}({}) may be missing", columns.join(", "))
                }
                _ => "check the plan (EXPLAIN) for a full scan, and what the query returns".to_string(),
            };
            (message, suggestion)
        }
        Evidence::ErrorRootCause { reason, timed_out, reported_by } => {
            let because = if reason.is_empty() { String::new() } else { format!(": {}", truncate(reason, 100)) };
            if *timed_out {
                (
                    format!(
                        "{who} used up its caller's time budget ({total}) and {reported_by} gave up on it{because}"
                    ),
                    format!("find what {who} waits on (it never finished); add a deadline below the caller's"),
                )
            } else if *reported_by == who {
                (
                    format!("the first failure in this trace is {who}{because}"),
                    format!("fix the failure in {who} first: later errors in this trace follow from it"),
                )
            } else {
                (
                    format!("the error starts in {who}{because}; {reported_by} failed because of it"),
                    format!("fix the failure in {who} first: later errors in this trace follow from it"),
                )
            }
        }
        Evidence::Bottleneck { traces } => (
            format!(
                "{who} holds {}% of the critical path across {traces} trace{} ({total})",
                finding.percent,
                if *traces == 1 { "" } else { "s" }
            ),
            format!("speed up {who} first: it is what requests wait for"),
        ),
        Evidence::RepeatedCall { call } => (
            format!("the same call {}× in one request with identical arguments: {}", finding.count, truncate(call, 80)),
            "cache the result for the request (or longer) instead of asking again".to_string(),
        ),
        Evidence::SequentialCalls { calls, saving_ns } => (
            format!("{} different calls one after another: {}", calls.len(), truncate(&calls.join(", "), 100)),
            format!("if they do not depend on each other, run them concurrently: up to {} saved", duration(*saving_ns)),
        ),
        Evidence::DominantSelfTime { self_ns, trace_ns } => (
            format!(
                "{who} spends {} in its own code, {}% of the {} request",
                duration(*self_ns),
                finding.percent,
                duration(*trace_ns)
            ),
            format!("profile {who}: the time is in its code, not in the calls it makes"),
        ),
        Evidence::None => (String::new(), String::new()),
    };
    finding.message = message;
    finding.suggestion = suggestion;
}
