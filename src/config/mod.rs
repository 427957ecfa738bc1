//! Settings for reaching a trace backend, shared by every front door. The Neovim plugin
//! sends them as a table, the CLI builds them from flags; secrets never reach a log.

pub mod secret;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

pub use secret::{Secret, without_userinfo};

/// Which backend to read traces from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// A Jaeger query service (API v1, falling back to api/v3).
    Jaeger,
    /// Grafana Tempo (or a Tempo-compatible store), searched with TraceQL.
    Tempo,
    /// A Zipkin server (its API v2).
    Zipkin,
    /// A trace file, or a folder of them, in any format Vitals reads.
    File,
    /// The local trace store, filled over OTLP by the editor's own receiver or
    /// `vitals serve`: the zero-setup default.
    #[default]
    Otlp,
}

impl ProviderKind {
    pub fn default_endpoint(self) -> &'static str {
        match self {
            ProviderKind::Jaeger => "http://localhost:16686",
            ProviderKind::Tempo => "http://localhost:3200",
            ProviderKind::Zipkin => "http://localhost:9411",
            ProviderKind::File => ".",
            ProviderKind::Otlp => "127.0.0.1:4318",
        }
    }
}

/// Names of the environment variables read when no secret is configured.
pub const TOKEN_ENV: &str = "VITALS_TRACE_TOKEN";
pub const PASSWORD_ENV: &str = "VITALS_TRACE_PASSWORD";

/// The most bytes Vitals reads of one response or trace file unless told otherwise: a
/// trace this large is already more than a view can show, and a backend that sends
/// more (or never stops) must not take the editor's memory with it.
pub const DEFAULT_MAX_RESPONSE: u64 = 256 << 20;

/// The most spans of one trace the host keeps unless told otherwise.
pub const DEFAULT_MAX_SPANS: usize = 1_000_000;

/// Where the credentials for a backend come from. A secret given here directly wins over
/// a file, which wins over the environment variable; a file keeps the secret out of
/// `ps` and out of the editor's configuration.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Auth {
    /// Bearer token.
    pub token: Option<Secret>,
    /// A file holding the bearer token (surrounding whitespace is ignored).
    pub token_file: Option<PathBuf>,
    /// The variable holding the token when neither of the above is set
    /// (default [`TOKEN_ENV`]).
    pub token_env: Option<String>,
    /// Basic auth; the password comes from `password`, `password_file` or the variable
    /// `password_env` (default [`PASSWORD_ENV`]), in that order.
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProviderConfig {
    #[serde(rename = "trace_provider")]
    pub kind: ProviderKind,
    /// Base URL (Jaeger, Tempo, Zipkin) or path (file); empty means the provider's
    /// default. A user and password in the URL are used for basic auth and never shown.
    #[serde(rename = "trace_endpoint")]
    pub endpoint: String,
    /// The tenant of a multi-tenant Tempo, sent as `X-Scope-OrgID`; empty means none.
    pub tenant: String,
    pub timeout_ms: u64,
    pub auth: Auth,
    /// The trace store's file for the `otlp` provider; empty means the data directory.
    pub store_path: String,
    /// The most bytes read of one response (or trace file); more is an error that says so.
    pub max_response: u64,
    /// The most spans of one trace kept; a larger trace is cut, with a warning.
    pub max_spans: usize,
    /// How long the store of the `otlp` provider keeps the rollups of trends (`90d`),
    /// whatever becomes of the traces they count.
    pub rollup_retention: String,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            kind: ProviderKind::default(),
            endpoint: String::new(),
            tenant: String::new(),
            timeout_ms: 10_000,
            auth: Auth::default(),
            store_path: String::new(),
            max_response: DEFAULT_MAX_RESPONSE,
            max_spans: DEFAULT_MAX_SPANS,
            rollup_retention: "90d".into(),
        }
    }
}

/// The endpoint without its user and password; the secrets in `auth` print as `***`.
impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("kind", &self.kind)
            .field("endpoint", &without_userinfo(&self.endpoint))
            .field("tenant", &self.tenant)
            .field("timeout_ms", &self.timeout_ms)
            .field("auth", &self.auth)
            .field("store_path", &self.store_path)
            .field("max_response", &self.max_response)
            .field("max_spans", &self.max_spans)
            .field("rollup_retention", &self.rollup_retention)
            .finish()
    }
}

impl ProviderConfig {
    pub fn endpoint(&self) -> &str {
        if self.endpoint.is_empty() { self.kind.default_endpoint() } else { &self.endpoint }
    }

    /// The tenant to name in `X-Scope-OrgID`, when one is set.
    pub fn tenant(&self) -> Option<&str> {
        Some(self.tenant.trim()).filter(|t| !t.is_empty())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let auth = Auth { token: Some("s3cret".into()), password: Some("hunter2".into()), ..Auth::default() };
        let endpoint = "http://ops:pa55word@jaeger:16686".to_string();
        let text = format!("{:?}", ProviderConfig { auth, endpoint, ..ProviderConfig::default() });
        assert!(!text.contains("s3cret") && !text.contains("hunter2") && !text.contains("pa55word"), "{text}");
        assert!(text.contains("http://jaeger:16686"), "{text}");
    }

    #[test]
    fn the_plugin_may_leave_out_the_limits() {
        let config: ProviderConfig = serde_json::from_str(r#"{"trace_provider":"jaeger","max_spans":10}"#).unwrap();
        assert_eq!((config.max_response, config.max_spans), (DEFAULT_MAX_RESPONSE, 10));
    }
}
