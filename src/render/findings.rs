//! Findings in words: the message that states the evidence and the suggestion that says
//! what to change. Kept here because times become text only in the render layer.

use crate::analysis::calls::CallKind;
use crate::analysis::findings::{Evidence, Finding, Waiting};
use crate::analysis::parallel;
use crate::analysis::report::Report;

use super::units::{duration, duration_us, plural, truncate};

/// Fills in every finding's message and suggestion: on two cores at once when there are
/// thousands, as a big trace has (see [`EXPLAINED_ON_A_THREAD`]).
pub fn explain_report(report: &mut Report) {
    parallel::each(&mut report.findings, EXPLAINED_ON_A_THREAD, explain);
}

/// Explaining a finding formats a few strings, some ten thousand instructions: a thousand
/// of them outweigh starting a thread.
const EXPLAINED_ON_A_THREAD: usize = 1_000;

/// How widely a problem occurred, when it was seen in more than one request:
/// `in 20 of 20 GET /orders requests` (` (24 times)` when some had it more than once).
pub fn spread(finding: &Finding) -> Option<String> {
    let traces = finding.traces.len().max(1);
    if finding.requests <= 1 && finding.occurrences <= 1 {
        return None;
    }
    let of = match finding.root_operation.as_str() {
        "" => String::new(),
        root => format!(" {}", truncate(root, 40)),
    };
    let times = if finding.occurrences > traces { format!(" ({} times)", finding.occurrences) } else { String::new() };
    Some(format!("in {traces} of {}{of} request{}{times}", finding.requests, plural(finding.requests)))
}

pub fn explain(finding: &mut Finding) {
    let total = duration_us(finding.total_us);
    let who = format!("{} {}", finding.service, finding.operation);
    let spread = spread(finding);
    let (message, suggestion) = match &finding.evidence {
        Evidence::NPlusOne { call, kind, parent_operation, table, columns, .. } => {
            let n = finding.count;
            let what = if *kind == CallKind::Database { "query" } else { "call" };
            let calls = format!("{n}× {} one after another under {parent_operation}", truncate(call, 80));
            let message = match &spread {
                None => format!("N+1: {calls}: {total}, {}% of it", finding.percent),
                Some(spread) => format!(
                    "N+1 {spread} · {calls} · {} each · p95 cost {}",
                    duration_us(finding.each_us),
                    duration_us(finding.p95_us)
                ),
            };
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
        Evidence::Bottleneck { traces, waits_on } => {
            let holds = format!(
                "{who} holds {}% of the critical path across {traces} trace{} ({})",
                finding.percent,
                plural(*traces),
                duration_us(finding.impact_us)
            );
            match waits_on {
                None => (holds, format!("speed up {who} first: it is what requests wait for")),
                Some(Waiting::Database { call }) => (
                    format!("{holds}: the database's time for {}", truncate(call, 60)),
                    "check the queries' plans (EXPLAIN) and how many a request makes".to_string(),
                ),
                Some(Waiting::TracedPeer { call, peer }) => (
                    format!(
                        "{holds}: a call to {} that the handler in {peer} does not account for (network, connection setup, queueing in {peer})",
                        truncate(call, 60)
                    ),
                    format!(
                        "look between {} and {peer}: connection pools, proxies, the worker queue in {peer}",
                        finding.service
                    ),
                ),
                Some(Waiting::UntracedPeer { call }) => (
                    format!("{holds}: waiting on {}, which sends no traces", truncate(call, 60)),
                    format!("instrument {} or read its own metrics: it is what requests wait for", truncate(call, 60)),
                ),
            }
        }
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
        Evidence::QueueWait { queue, wait_ns, longest_ns, transaction_ns, producer_trace, consumer_trace } => (
            format!(
                "messages waited {} in {queue} before {} took them, {}% of the {} transaction \
                 (the longest wait {}: trace {producer_trace} → {consumer_trace})",
                duration(*wait_ns),
                finding.service,
                finding.percent,
                duration(*transaction_ns),
                duration(*longest_ns)
            ),
            format!(
                "the consumers of {queue} fall behind: add consumers (or partitions), make {} faster, or watch the consumer lag",
                who
            ),
        ),
        Evidence::None => (String::new(), String::new()),
    };
    finding.message = match (&finding.evidence, spread) {
        (Evidence::NPlusOne { .. } | Evidence::Bottleneck { .. }, _) | (_, None) => message,
        (_, Some(spread)) => format!("{message} · {spread}, p95 {}", duration_us(finding.p95_us)),
    };
    finding.suggestion = suggestion;
}
