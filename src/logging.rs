//! Where logs go. The Neovim host's stdout is the RPC stream, so it logs to a file in the
//! state directory; the CLI logs warnings to stderr. `VITALS_LOG` sets the level
//! (`debug`, `vitals=trace`, …).
//!
//! A log line that cannot be written (a full disk, a closed stderr) is dropped: logging
//! runs inside request handlers, and a failing write must never fail a request. (The
//! `tracing` formatter's own fallback prints the failure with `eprintln!`, which panics
//! when stderr is the thing that failed, so it is turned off.)

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// nvim-rs logs every RPC message whole at debug level, the plugin's credentials
/// included: it is held at info whatever `VITALS_LOG` asks for.
fn filter(default: &str) -> EnvFilter {
    let filter = EnvFilter::try_from_env("VITALS_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    filter.add_directive("nvim_rs=info".parse().expect("a valid directive"))
}

pub fn to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("warn"))
        .with_writer(Lossy(io::stderr))
        .log_internal_errors(false)
        .try_init();
}

/// Prints a line for the person running the command to stderr, or nothing when stderr
/// cannot be written (unlike `eprintln!`, which panics then).
pub fn say(line: std::fmt::Arguments) {
    let _ = writeln!(io::stderr(), "{line}");
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
    let builder = tracing_subscriber::fmt().with_env_filter(filter("info")).with_ansi(false).log_internal_errors(false);
    let _ = match file {
        Some(file) => builder.with_writer(Lossy(Mutex::new(file))).try_init(),
        None => builder.with_writer(Lossy(io::stderr)).try_init(),
    };
}

/// A log destination whose writes always succeed: what cannot be written is dropped.
struct Lossy<M>(M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Lossy<M> {
    type Writer = LossyWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        LossyWriter(self.0.make_writer())
    }
}

struct LossyWriter<W>(W);

impl<W: Write> Write for LossyWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.0.write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_that_fails_takes_every_line_without_an_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(28)) // ENOSPC
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::from_raw_os_error(28))
            }
        }
        let lossy = Lossy(|| Full);
        let mut writer = lossy.make_writer();
        assert_eq!(writer.write(b"a line\n").unwrap(), 7);
        writer.write_all(b"another\n").unwrap();
        writer.flush().unwrap();
    }
}
