//! `vitals tail [service] [filters]`: traces as they arrive at a backend (or at the store
//! `vitals serve` fills), a line each, the newest last, or a JSON object a line. Runs
//! until stopped (Ctrl-C) or until its output is closed (`| head`).

use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::args::TailFlags;
use super::terminal_width;
use crate::analysis::glance::Glance;
use crate::error::{Error, Result};
use crate::providers;
use crate::query::parse_duration;
use crate::render::ansi;
use crate::render::tail::{Columns, with_id};
use crate::tail::{self, Filter, Source, Tail};

/// What `--json` prints of a trace, a line each.
#[derive(Serialize)]
struct JsonRow<'a> {
    #[serde(flatten)]
    glance: &'a Glance,
    /// When the tail listed it, in ns since the epoch.
    arrived_ns: u64,
}

pub async fn tail(flags: TailFlags) -> Result<()> {
    let filter = Filter::from_words(&flags.words)?;
    let provider = providers::from_config(&flags.provider.to_config())?;
    let every = parse_duration(&flags.interval)?;
    let slow_query_ns = parse_duration(&flags.slow_query)?.as_nanos().min(u64::MAX as u128) as u64;
    let source = Source::polled(provider, every);
    let following = match filter.words().is_empty() {
        true => "every trace".to_string(),
        false => filter.words().join(" "),
    };
    eprintln!("Following {following}, {}; Ctrl-C stops", source.describe());
    let options = tail::Options { slow_query_ns, ..tail::Options::default() };
    let tail = Tail::start(source, filter, options)?;
    tail.feed().keep_arrivals();
    // The trace id and two spaces come first.
    let columns = Columns::fit(flags.width.unwrap_or_else(terminal_width).saturating_sub(34).max(40));
    let (colour, utc_offset_s) = (std::io::stdout().is_terminal(), local_utc_offset());
    let mut longest = 0;
    let mut problem = None;
    loop {
        tail.changed().await;
        let (arrived, now_wrong) = {
            let mut feed = tail.feed();
            (feed.take_arrived(), feed.problem.clone())
        };
        if now_wrong != problem {
            if let Some(wrong) = &now_wrong {
                eprintln!("vitals: {wrong}");
            }
            problem = now_wrong;
        }
        let mut out = String::new();
        for row in &arrived {
            if flags.json {
                let json = JsonRow { glance: &row.glance, arrived_ns: row.arrived_ns };
                out.push_str(&serde_json::to_string(&json).map_err(|e| Error::invalid(e.to_string()))?);
                out.push('\n');
            } else {
                longest = longest.max(row.glance.summary.duration_ns);
                let line = with_id(&row.glance, &columns, longest, utc_offset_s);
                out.push_str(&ansi::to_terminal(std::slice::from_ref(&line), colour));
            }
        }
        let mut stdout = std::io::stdout().lock();
        if stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()).is_err() {
            // Whoever read the lines is gone.
            return Ok(());
        }
    }
}

/// Seconds east of UTC where the user is, for the times of day.
#[cfg(unix)]
pub(super) fn local_utc_offset() -> i64 {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as libc::time_t);
    // SAFETY: localtime_r only writes the `tm` it is given, which outlives the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let converted = unsafe { libc::localtime_r(&now, &mut tm) };
    if converted.is_null() { 0 } else { tm.tm_gmtoff as i64 }
}

#[cfg(not(unix))]
pub(super) fn local_utc_offset() -> i64 {
    0
}
