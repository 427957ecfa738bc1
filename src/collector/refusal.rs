//! Why a batch was refused, said once for every receiver: each protocol maps a
//! [`Refusal`] to its own answer (an HTTP status, a gRPC code), with the same words.

use serde::Serialize;

/// Why a batch was refused.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// The body is past the size limit, compressed or not. Retrying cannot help.
    TooLarge { limit: usize },
    /// Decoding it would need more memory than any one batch may hold.
    TooLargeToDecode { needed: usize, largest: usize },
    /// The requests in flight hold the memory budget; retry later.
    Busy { budget: usize },
    /// As many batches as the queue holds are being decoded or committed; retry later.
    QueueFull,
    /// The body did not arrive in time.
    TimedOut,
    /// A content type or encoding the receiver does not read.
    Unsupported(String),
    /// Not a batch in the declared format.
    Undecodable(String),
    /// The store could not take it now; retry later.
    Unavailable(String),
    /// The store's file is damaged: it will not take the batch later either, so the
    /// sender is not told to retry (`vitals store repair` mends it).
    Damaged(String),
    /// The receiver itself failed on this batch (a bug).
    Failed(String),
}

/// The kinds of refusal, as the status views count them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    TooLarge,
    MemoryFull,
    QueueFull,
    TimedOut,
    Unsupported,
    Undecodable,
    StoreFailed,
    Failed,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::TooLarge,
        Reason::MemoryFull,
        Reason::QueueFull,
        Reason::TimedOut,
        Reason::Unsupported,
        Reason::Undecodable,
        Reason::StoreFailed,
        Reason::Failed,
    ];

    /// `too large`, `memory full`: how a status line names it.
    pub fn label(self) -> &'static str {
        match self {
            Reason::TooLarge => "too large",
            Reason::MemoryFull => "memory full",
            Reason::QueueFull => "queue full",
            Reason::TimedOut => "too slow",
            Reason::Unsupported => "unsupported",
            Reason::Undecodable => "undecodable",
            Reason::StoreFailed => "store failed",
            Reason::Failed => "receiver failed",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

impl Refusal {
    pub fn reason(&self) -> Reason {
        match self {
            Refusal::TooLarge { .. } | Refusal::TooLargeToDecode { .. } => Reason::TooLarge,
            Refusal::Busy { .. } => Reason::MemoryFull,
            Refusal::QueueFull => Reason::QueueFull,
            Refusal::TimedOut => Reason::TimedOut,
            Refusal::Unsupported(_) => Reason::Unsupported,
            Refusal::Undecodable(_) => Reason::Undecodable,
            Refusal::Unavailable(_) | Refusal::Damaged(_) => Reason::StoreFailed,
            Refusal::Failed(_) => Reason::Failed,
        }
    }

    /// Whether the same batch may succeed later: the sender should retry it.
    pub fn is_transient(&self) -> bool {
        matches!(self, Refusal::Busy { .. } | Refusal::QueueFull | Refusal::Unavailable(_))
    }

    /// What the sender is told, in words.
    pub fn message(&self) -> String {
        match self {
            Refusal::TooLarge { limit } => {
                format!("the body is larger than {} (after decompression too)", mib(*limit))
            }
            Refusal::TooLargeToDecode { needed, largest } => format!(
                "decoding this batch would take up to {}, more than the {} one batch may hold; send smaller batches",
                mib(*needed),
                mib(*largest)
            ),
            Refusal::Busy { budget } => {
                format!("the receiver is at its memory limit ({} for batches in flight); retry shortly", mib(*budget))
            }
            Refusal::QueueFull => "the trace store is busy; retry shortly".to_string(),
            Refusal::TimedOut => "the body did not arrive in time".to_string(),
            Refusal::Unsupported(why)
            | Refusal::Undecodable(why)
            | Refusal::Unavailable(why)
            | Refusal::Damaged(why) => why.clone(),
            Refusal::Failed(why) => format!("the receiver failed: {why}"),
        }
    }

    /// The HTTP status both HTTP receivers (OTLP/HTTP and Zipkin) answer it with.
    pub fn http_status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Refusal::TooLarge { .. } | Refusal::TooLargeToDecode { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Busy { .. } | Refusal::QueueFull | Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::TimedOut => StatusCode::REQUEST_TIMEOUT,
            Refusal::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::Undecodable(_) => StatusCode::BAD_REQUEST,
            Refusal::Damaged(_) | Refusal::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// `16 MiB`, `1.5 MiB`, `64 KiB`, `100 B`: sizes as the limits are given.
fn mib(bytes: usize) -> String {
    let (value, unit) = match bytes {
        0..1024 => return format!("{bytes} B"),
        1024..1_048_576 => (bytes as f64 / 1024.0, "KiB"),
        _ => (bytes as f64 / (1 << 20) as f64, "MiB"),
    };
    format!("{value:.1} {unit}").replace(".0 ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_named_in_mebibytes() {
        assert_eq!(
            Refusal::TooLarge { limit: 16 << 20 }.message(),
            "the body is larger than 16 MiB (after decompression too)"
        );
        assert!(Refusal::Busy { budget: 3 << 19 }.message().contains("1.5 MiB"));
        assert!(Refusal::TooLarge { limit: 16 << 10 }.message().contains("16 KiB"));
        assert!(Refusal::QueueFull.is_transient() && !Refusal::TooLarge { limit: 1 }.is_transient());
    }
}
