//! Settings for reaching a trace backend, shared by every front door. The Neovim plugin
//! sends them as a table, the CLI builds them from flags; secrets never reach a log.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// Which backend to read traces from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// A Jaeger query service (API v1, falling back to api/v3).
    Jaeger,
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
            ProviderKind::File => ".",
            ProviderKind::Otlp => "127.0.0.1:4318",
        }
    }
}

/// Names of the environment variables read when no secret is configured.
pub const TOKEN_ENV: &str = "VITALS_TRACE_TOKEN";
pub const PASSWORD_ENV: &str = "VITALS_TRACE_PASSWORD";

#[derive(Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Auth {
    /// Bearer token; when absent, the variable named by `token_env` is read.
    pub token: Option<String>,
    pub token_env: Option<String>,
    /// Basic auth; the password may come from `password_env` instead.
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_env: Option<String>,
}

/// The credentials to send, after environment variables are consulted.
#[derive(Clone, PartialEq)]
pub enum Credentials {
    None,
    Bearer(String),
    Basic { username: String, password: String },
}

impl Auth {
    pub fn resolve(&self) -> Credentials {
        let from_env =
            |name: Option<&str>, fallback: &str| std::env::var(name.unwrap_or(fallback)).ok().filter(|v| !v.is_empty());
        if let Some(token) = self.token.clone().or_else(|| from_env(self.token_env.as_deref(), TOKEN_ENV)) {
            return Credentials::Bearer(token);
        }
        match &self.username {
            Some(username) => Credentials::Basic {
                username: username.clone(),
                password: self
                    .password
                    .clone()
                    .or_else(|| from_env(self.password_env.as_deref(), PASSWORD_ENV))
                    .unwrap_or_default(),
            },
            None => Credentials::None,
        }
    }
}

/// Secrets are never printed, not even in debug logs.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_env", &self.token_env)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_env", &self.password_env)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProviderConfig {
    #[serde(rename = "trace_provider")]
    pub kind: ProviderKind,
    /// Base URL (Jaeger) or path (file); empty means the provider's default.
    #[serde(rename = "trace_endpoint")]
    pub endpoint: String,
    pub timeout_ms: u64,
    pub auth: Auth,
    /// The trace store's file for the `otlp` provider; empty means the data directory.
    pub store_path: String,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            kind: ProviderKind::default(),
            endpoint: String::new(),
            timeout_ms: 10_000,
            auth: Auth::default(),
            store_path: String::new(),
        }
    }
}

impl ProviderConfig {
    pub fn endpoint(&self) -> &str {
        if self.endpoint.is_empty() { self.kind.default_endpoint() } else { &self.endpoint }
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
        let text = format!("{:?}", ProviderConfig { auth, ..ProviderConfig::default() });
        assert!(!text.contains("s3cret") && !text.contains("hunter2"), "{text}");
    }

    #[test]
    fn a_configured_token_wins_and_basic_auth_needs_a_username() {
        let auth = Auth { token: Some("t".into()), username: Some("u".into()), ..Auth::default() };
        assert!(matches!(auth.resolve(), Credentials::Bearer(t) if t == "t"));
        let auth = Auth {
            username: Some("u".into()),
            password: Some("p".into()),
            token_env: Some("VITALS_TEST_UNSET_TOKEN".into()),
            ..Auth::default()
        };
        assert!(
            matches!(auth.resolve(), Credentials::Basic { username, password } if username == "u" && password == "p")
        );
    }
}
