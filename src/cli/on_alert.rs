//! `vitals serve --alerts FILE [--on-alert CMD]`: alerts printed to stderr as they fire
//! and clear, and handed to the user's command as JSON on its stdin.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::alerts::rules::read_file;
use crate::alerts::watch::watch;
use crate::alerts::{Board, Event, Rule};
use crate::error::Result;
use crate::logging::say;
use crate::render::units::plural;
use crate::store::Store;

/// How long an `--on-alert` command may run before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The rules of `--alerts FILE`, read before anything starts so that a mistake stops
/// `vitals serve` at once.
pub fn read(file: Option<&Path>) -> Result<Option<Vec<Rule>>> {
    file.map(read_file).transpose()
}

/// Starts watching the rules; the task stops when aborted.
pub fn start(store: Arc<Store>, rules: Vec<Rule>, command: Option<String>) -> tokio::task::JoinHandle<()> {
    say(format_args!(
        "vitals: watching {} alert rule{} ({})",
        rules.len(),
        plural(rules.len()),
        rules.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")
    ));
    let board = Arc::new(Mutex::new(Board::new(rules)));
    let command: Option<Arc<str>> = command.map(Into::into);
    tokio::spawn(watch(store, board, move |update| {
        for event in update.events {
            say(format_args!("vitals: {}", event.message));
            if let Some(command) = &command {
                tokio::spawn(run(Arc::clone(command), event));
            }
        }
    }))
}

/// Runs the command with the alert on its stdin; a failure is printed (`vitals serve`'s
/// log).
async fn run(command: Arc<str>, event: Event) {
    let json = match serde_json::to_vec(&event) {
        Ok(json) => json,
        Err(e) => return tracing::error!("could not write an alert as JSON: {e}"),
    };
    let outcome = tokio::time::timeout(COMMAND_TIMEOUT, async {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&*command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its stdin is not a failure.
            let _ = stdin.write_all(&json).await;
        }
        child.wait().await
    })
    .await;
    let failure = match outcome {
        Ok(Ok(status)) if status.success() => return,
        Ok(Ok(status)) => format!("ended with {status}"),
        Ok(Err(e)) => format!("could not run: {e}"),
        Err(_) => format!("was killed after {}s", COMMAND_TIMEOUT.as_secs()),
    };
    say(format_args!("vitals: the --on-alert command {failure} (alert {})", event.rule));
}
