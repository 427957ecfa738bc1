//! Where logs go. The Neovim host's stdout is the RPC stream, so it logs to a file in the
//! state directory; the CLI logs warnings to stderr. `VITALS_LOG` sets the level
//! (`debug`, `vitals=trace`, …).

use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// nvim-rs logs every RPC message whole at debug level, the plugin's credentials
/// included: it is held at info whatever `VITALS_LOG` asks for.
fn filter(default: &str) -> EnvFilter {
    let filter = EnvFilter::try_from_env("VITALS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    filter.add_directive("nvim_rs=info".parse().expect("a valid directive"))
}

pub fn to_stderr() {
    let _ = tracing_subscriber::fmt().with_env_filter(filter("warn")).with_writer(std::io::stderr).try_init();
}

/// The host's log file: `$XDG_STATE_HOME/vitals/vitals.log` on Linux, or beside the data
/// directory where there is no state directory.
pub fn log_file_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "vitals")?;
    let dir = dirs.state_dir().unwrap_or(dirs.data_local_dir()).to_path_buf();
    Some(dir.join("vitals.log"))
}

/// Logs to the state-directory file; falls back to stderr (which the plugin shows on
/// failure) when the file cannot be opened. Never to stdout.
pub fn to_file() {
    let file = log_file_path().and_then(|path| {
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::OpenOptions::new().create(true).append(true).open(path).ok()
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter("info")).with_ansi(false);
    let _ = match file {
        Some(file) => builder.with_writer(Mutex::new(file)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}
