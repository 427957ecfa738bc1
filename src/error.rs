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

    #[error("{what} not found in {source_name}")]
    NotFound { what: String, source_name: String },

    #[error("Cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// The trace store failed: a damaged file, a full disk, a lock held too long. The fault
    /// is on this side, never the request's (the query API answers 500).
    #[error("{message}")]
    Store { path: PathBuf, message: String },

    /// A setting or argument the user has to change.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn decode(format: &'static str, message: impl Into<String>) -> Self {
        Error::Decode { format, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }
}
