//! One error type for the whole program, with messages written for the person who reads
//! them in the editor or the terminal: what failed, against what, and why.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bytes that are not a trace in the format they claim to be.
    #[error("Cannot read {format}: {message}")]
    Decode { format: &'static str, message: String },

    #[error("Failed to connect to {backend} at {endpoint}: {reason}")]
    Connect { backend: &'static str, endpoint: String, reason: String },

    #[error("{backend} at {endpoint} did not answer within {seconds} s")]
    Timeout { backend: &'static str, endpoint: String, seconds: u64 },

    #[error("{backend} at {endpoint} answered {status}: {detail}")]
    Http { backend: &'static str, endpoint: String, status: u16, detail: String },

    #[error("{backend} at {endpoint} sent a response Vitals cannot read: {message}")]
    BadResponse { backend: &'static str, endpoint: String, message: String },

    /// More bytes than the user allows Vitals to read of one response or file.
    #[error(
        "{what} more than {}, the max_response limit: raise max_response (the plugin's option, or --max-response) if the trace really is that large",
        size(*limit)
    )]
    TooLarge { what: String, limit: u64 },

    #[error("{what} not found in {source_name}")]
    NotFound { what: String, source_name: String },

    #[error("Cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// The trace store failed: a damaged file, a full disk, a lock held too long. The fault
    /// is on this side, never the request's (the query API answers 500).
    #[error("{message}")]
    Store { path: PathBuf, message: String },

    /// The trace store's file is damaged: no retry helps until it is moved aside or
    /// repaired (the receiver answers 500, not 503).
    #[error("{message}")]
    Damaged { path: PathBuf, message: String },

    /// Vitals itself failed (a task panicked): the fault is never the request's.
    #[error("internal error: {0}; see the log (:VitalsLog)")]
    Internal(String),

    /// A setting or argument the user has to change.
    #[error("{0}")]
    Invalid(String),
}

/// `256 MiB`, `1.5 GiB`, `640 KiB`, `100 bytes`: a limit as a person sets it.
fn size(bytes: u64) -> String {
    let units = [(30, "GiB"), (20, "MiB"), (10, "KiB")];
    match units.iter().find(|(shift, _)| bytes >> shift > 0) {
        Some(&(shift, unit)) if bytes.is_multiple_of(1 << shift) => format!("{} {unit}", bytes >> shift),
        Some(&(shift, unit)) => format!("{:.1} {unit}", bytes as f64 / (1u64 << shift) as f64),
        None => format!("{bytes} bytes"),
    }
}

impl Error {
    pub fn decode(format: &'static str, message: impl Into<String>) -> Self {
        Error::Decode { format, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_reads_as_it_is_set() {
        assert_eq!(size(256 << 20), "256 MiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
        assert_eq!(size(100), "100 bytes");
        let error = Error::TooLarge { what: "jaeger at http://j sent".into(), limit: 1 << 20 };
        assert_eq!(
            error.to_string(),
            "jaeger at http://j sent more than 1 MiB, the max_response limit: raise max_response (the plugin's option, or --max-response) if the trace really is that large"
        );
    }
}
