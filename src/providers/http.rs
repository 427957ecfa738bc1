//! The HTTP client every remote provider uses: a timeout on every request, credentials
//! attached but never logged, and failures turned into errors that name the backend.

use reqwest::{Client, RequestBuilder, StatusCode};

use crate::config::{Credentials, ProviderConfig};
use crate::error::{Error, Result};

pub struct HttpBackend {
    pub backend: &'static str,
    pub base: url::Url,
    client: Client,
    credentials: Credentials,
    timeout_secs: u64,
}

/// A response that arrived, whatever its status.
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl HttpBackend {
    pub fn new(backend: &'static str, config: &ProviderConfig) -> Result<Self> {
        let endpoint = config.endpoint().trim_end_matches('/');
        let base = url::Url::parse(endpoint)
            .map_err(|e| Error::invalid(format!("{endpoint:?} is not a valid URL for {backend} ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::invalid(format!("{endpoint:?} must start with http:// or https://")));
        }
        let client = Client::builder()
            .timeout(config.timeout())
            .connect_timeout(config.timeout())
            .user_agent(concat!("vitals/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::invalid(format!("cannot set up HTTP: {e}")))?;
        Ok(HttpBackend {
            backend,
            base,
            client,
            credentials: config.auth.resolve(),
            timeout_secs: config.timeout().as_secs().max(1),
        })
    }

    pub fn endpoint(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_string()
    }

    /// Builds `base + segments`, each segment percent-encoded (service names may hold `/`).
    pub fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    pub async fn get(&self, mut url: url::Url, query: &[(&str, String)]) -> Result<Answer> {
        tracing::debug!(backend = self.backend, path = url.path(), "GET");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self.authorize(self.client.get(url));
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| self.transport_error(e))?.to_vec();
        Ok(Answer { status, body })
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.credentials {
            Credentials::None => request,
            Credentials::Bearer(token) => request.bearer_auth(token),
            Credentials::Basic { username, password } => request.basic_auth(username, Some(password)),
        }
    }

    fn transport_error(&self, error: reqwest::Error) -> Error {
        if error.is_timeout() {
            return Error::Timeout { backend: self.backend, endpoint: self.endpoint(), seconds: self.timeout_secs };
        }
        Error::Connect { backend: self.backend, endpoint: self.endpoint(), reason: root_cause(&error) }
    }

    /// The error for a response whose status is not a success.
    pub fn status_error(&self, answer: &Answer) -> Error {
        let text = String::from_utf8_lossy(&answer.body);
        let detail = match serde_json::from_slice::<serde_json::Value>(&answer.body) {
            Ok(json) => json
                .pointer("/errors/0/msg")
                .or_else(|| json.pointer("/error/message"))
                .and_then(|m| m.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| excerpt(&text)),
            Err(_) => excerpt(&text),
        };
        Error::Http { backend: self.backend, endpoint: self.endpoint(), status: answer.status.as_u16(), detail }
    }

    pub fn bad_response(&self, message: impl Into<String>) -> Error {
        Error::BadResponse { backend: self.backend, endpoint: self.endpoint(), message: message.into() }
    }
}

/// The innermost cause, as short as a person would say it: "connection refused".
fn root_cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    let text = source.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_string(),
    }
}

fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        "(empty body)".to_string()
    } else {
        crate::render::units::truncate(&trimmed.replace('\n', " "), 200)
    }
}
