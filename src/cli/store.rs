//! `vitals store check|repair`: what to do when the trace store file is damaged.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::args::{StoreAction, StoreFlags};
use super::write_stdout;
use crate::error::{Error, Result};
use crate::render::units::plural;
use crate::store::{self, Store, Verdict};

/// `check` exits 0 (healthy), 1 (damaged) or 2 (could not check); `repair` 0 or 1.
pub fn run(flags: StoreFlags) -> ExitCode {
    let (outcome, failed) = match flags.action {
        StoreAction::Check { db } => (store_path(db).and_then(|path| check(&path)), ExitCode::from(2)),
        StoreAction::Repair { db } => {
            (store_path(db).and_then(|path| repair(&path)).map(|()| ExitCode::SUCCESS), ExitCode::FAILURE)
        }
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("vitals: {e}");
        failed
    })
}

fn store_path(db: Option<PathBuf>) -> Result<PathBuf> {
    db.or_else(Store::default_path).ok_or_else(|| Error::invalid("no data directory for the trace store; pass --db"))
}

fn check(path: &Path) -> Result<ExitCode> {
    match store::check(path)? {
        Verdict::Healthy { spans, traces } => {
            write_stdout(&format!(
                "{} is healthy: {spans} spans in {traces} traces; SQLite's integrity check passed and every span decodes.\n",
                path.display()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Damaged { problems } => {
            let mut text = format!("{} is damaged:\n", path.display());
            for problem in &problems {
                text.push_str(&format!("  {problem}\n"));
            }
            if problems.len() >= store::LISTED_PROBLEMS {
                text.push_str(&format!("  (SQLite lists the first {})\n", store::LISTED_PROBLEMS));
            }
            text.push_str(&format!("{}.\n", store::what_to_do(path)));
            write_stdout(&text)?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn repair(path: &Path) -> Result<()> {
    let saved = store::repair(path)?;
    let mut text = match saved.traces + saved.lost_traces {
        0 => format!("Nothing could be read of {}; a new, empty store takes its place", path.display()),
        _ => format!(
            "Saved {} ({} spans) of {} into a new store in its place",
            traces(saved.traces),
            saved.spans,
            path.display()
        ),
    };
    if saved.lost_traces > 0 {
        text.push_str(&format!("; {} could not be read", traces(saved.lost_traces)));
    }
    match saved.partial_traces {
        0 => {}
        1 => text.push_str("; 1 trace was saved in part"),
        n => text.push_str(&format!("; {n} traces were saved in part")),
    }
    text.push_str(&format!(
        ".\nThe old file is kept as {}; delete it once you no longer need it.\n",
        saved.aside.display()
    ));
    write_stdout(&text)
}

/// `1 trace`, `2 traces`.
fn traces(n: u64) -> String {
    format!("{n} trace{}", plural(n))
}
