//! The HTTP client every remote provider uses: a timeout on every request, a cap on the
//! bytes read of a response (read as it arrives, so a huge or endless one stops at the
//! cap), credentials attached but never shown, and failures turned into errors that name
//! the backend without its credentials and scrub whatever the backend echoed of them.

use std::path::Path;

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, RequestBuilder, Response, StatusCode};

use super::file::read_regular;
use crate::config::secret::Scrubber;
use crate::config::{Auth, PASSWORD_ENV, ProviderConfig, Secret, TOKEN_ENV, without_userinfo};
use crate::error::{Error, Result};

/// Of a failed response only the start is read: enough for its message.
const ERROR_BODY_BYTES: u64 = 64 << 10;

/// A token or password file larger than this is not one.
const SECRET_FILE_BYTES: u64 = 64 << 10;

pub struct HttpBackend {
    pub backend: &'static str,
    /// Without the user and password the endpoint may have carried.
    pub base: url::Url,
    client: Client,
    credentials: Credentials,
    /// Sent with every request besides the credentials (Tempo's tenant).
    headers: HeaderMap,
    scrubber: Scrubber,
    timeout_secs: u64,
    max_response: u64,
}

/// The credentials to send, after files and environment variables are consulted.
enum Credentials {
    None,
    Bearer(Secret),
    Basic { username: String, password: Secret },
}

/// A response that arrived, whatever its status. The body of a failure holds at most its
/// first [`ERROR_BODY_BYTES`].
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

impl HttpBackend {
    pub fn new(backend: &'static str, config: &ProviderConfig) -> Result<Self> {
        let endpoint = config.endpoint().trim_end_matches('/');
        let shown = without_userinfo(endpoint);
        let mut base = url::Url::parse(endpoint)
            .map_err(|e| Error::invalid(format!("{shown:?} is not a valid URL for {backend} ({e})")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(Error::invalid(format!("{shown:?} must start with http:// or https://")));
        }
        let from_url = take_userinfo(&mut base);
        let client = Client::builder()
            .timeout(config.timeout())
            .connect_timeout(config.timeout())
            .user_agent(concat!("vitals/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::invalid(format!("cannot set up HTTP: {e}")))?;
        let credentials = credentials(&config.auth, from_url)?;
        Ok(HttpBackend {
            backend,
            base,
            client,
            headers: HeaderMap::new(),
            scrubber: Scrubber::new(credentials.secrets()),
            credentials,
            timeout_secs: config.timeout().as_secs().max(1),
            max_response: config.max_response,
        })
    }

    /// Sends `name: value` with every request; a value no header can carry (a line
    /// break) is refused, naming the setting it came from.
    pub fn with_header(mut self, name: &'static str, value: &str, setting: &str) -> Result<Self> {
        let value = HeaderValue::from_str(value)
            .map_err(|_| Error::invalid(format!("the {setting} {value:?} cannot be sent in an HTTP header")))?;
        self.headers.insert(HeaderName::from_static(name), value);
        Ok(self)
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

    /// A GET whose successful body may be at most `max_response` bytes: a longer one
    /// (announced, or found while reading) is an error that names the limit.
    pub async fn get(&self, mut url: url::Url, query: &[(&str, String)]) -> Result<Answer> {
        tracing::debug!(backend = self.backend, path = url.path(), "GET");
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = self.authorize(self.client.get(url).headers(self.headers.clone()));
        let mut response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if !status.is_success() {
            let (body, _) = self.read_at_most(&mut response, ERROR_BODY_BYTES).await?;
            return Ok(Answer { status, body });
        }
        if response.content_length().is_some_and(|announced| announced > self.max_response) {
            return Err(self.too_large());
        }
        match self.read_at_most(&mut response, self.max_response).await? {
            (body, true) => Ok(Answer { status, body }),
            (_, false) => Err(self.too_large()),
        }
    }

    /// Reads the body as it arrives, stopping after `limit` bytes; `false` when more came.
    async fn read_at_most(&self, response: &mut Response, limit: u64) -> Result<(Vec<u8>, bool)> {
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport_error(e))? {
            let room = usize::try_from(limit.saturating_sub(body.len() as u64)).unwrap_or(usize::MAX);
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                return Ok((body, false));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, true))
    }

    fn too_large(&self) -> Error {
        Error::TooLarge { what: format!("{} at {} sent", self.backend, self.endpoint()), limit: self.max_response }
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.credentials {
            Credentials::None => request,
            Credentials::Bearer(token) => request.bearer_auth(token.expose()),
            Credentials::Basic { username, password } => request.basic_auth(username, Some(password.expose())),
        }
    }

    fn transport_error(&self, error: reqwest::Error) -> Error {
        if error.is_timeout() {
            return Error::Timeout { backend: self.backend, endpoint: self.endpoint(), seconds: self.timeout_secs };
        }
        Error::Connect { backend: self.backend, endpoint: self.endpoint(), reason: root_cause(&error) }
    }

    /// The error for a response whose status is not a success: the backend's own message,
    /// or the start of its body, scrubbed of credentials.
    pub fn status_error(&self, answer: &Answer) -> Error {
        let text = String::from_utf8_lossy(&answer.body);
        let message = serde_json::from_slice::<serde_json::Value>(&answer.body).ok().and_then(|json| {
            let message = json.pointer("/errors/0/msg").or_else(|| json.pointer("/error/message"))?;
            message.as_str().map(str::to_string)
        });
        let detail = self.excerpt(&message.unwrap_or_else(|| text.into_owned()));
        Error::Http { backend: self.backend, endpoint: self.endpoint(), status: answer.status.as_u16(), detail }
    }

    /// An answer that is not what was asked for; `message` may quote it, so it is scrubbed.
    pub fn bad_response(&self, message: impl Into<String>) -> Error {
        let message = self.excerpt(&message.into());
        Error::BadResponse { backend: self.backend, endpoint: self.endpoint(), message }
    }

    /// Text from the backend as an error may show it: scrubbed of credentials, then cut
    /// (in that order, so a cut never leaves part of a secret that no longer matches).
    fn excerpt(&self, text: &str) -> String {
        let scrubbed = self.scrubber.scrub(text.trim());
        if scrubbed.is_empty() {
            "(empty body)".to_string()
        } else {
            crate::render::units::truncate(&scrubbed.replace(['\r', '\n'], " "), 200)
        }
    }
}

impl Credentials {
    /// Every form in which these credentials travel, for scrubbing them from echoes.
    fn secrets(&self) -> Vec<String> {
        match self {
            Credentials::None => Vec::new(),
            Credentials::Bearer(token) => vec![token.expose().to_string()],
            Credentials::Basic { username, password } => {
                let pair = format!("{username}:{}", password.expose());
                vec![password.expose().to_string(), base64::engine::general_purpose::STANDARD.encode(pair)]
            }
        }
    }
}

/// Takes the user and password out of `url` (they are sent as basic auth, never shown).
fn take_userinfo(url: &mut url::Url) -> Option<(String, Secret)> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let found = (percent_decoded(url.username()), Secret::new(percent_decoded(url.password().unwrap_or_default())));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(found)
}

/// `p%40ss` → `p@ss`: a URL keeps its user and password percent-encoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).filter(|h| h.iter().all(u8::is_ascii_hexdigit));
        match (bytes[i], hex) {
            (b'%', Some(hex)) => {
                out.push(hex.iter().fold(0, |n, &d| n * 16 + (d as char).to_digit(16).unwrap_or(0) as u8));
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A bearer token when one is configured (directly, in a file or in the environment);
/// else basic auth for a configured user, or for the user in the endpoint's URL.
fn credentials(auth: &Auth, from_url: Option<(String, Secret)>) -> Result<Credentials> {
    if let Some(token) = secret(auth.token.as_ref(), auth.token_file.as_deref(), auth.token_env.as_deref(), TOKEN_ENV)?
    {
        return Ok(Credentials::Bearer(token));
    }
    if let Some(username) = &auth.username {
        let password =
            secret(auth.password.as_ref(), auth.password_file.as_deref(), auth.password_env.as_deref(), PASSWORD_ENV)?;
        return Ok(Credentials::Basic { username: username.clone(), password: password.unwrap_or_default() });
    }
    Ok(match from_url {
        Some((username, password)) => Credentials::Basic { username, password },
        None => Credentials::None,
    })
}

/// A secret given directly, else read from its file, else from its environment variable
/// (`env`, or `default_env` when unnamed). A file that cannot be read is an error, not
/// a silent fall-back to no credentials.
fn secret(given: Option<&Secret>, file: Option<&Path>, env: Option<&str>, default_env: &str) -> Result<Option<Secret>> {
    if let Some(secret) = given {
        return Ok(Some(secret.clone()));
    }
    if let Some(path) = file {
        let bytes = read_regular(path, SECRET_FILE_BYTES)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::invalid(format!("{} does not hold a token or password (not text)", path.display())))?;
        return match text.trim() {
            "" => Err(Error::invalid(format!("{} is empty; it should hold the token or password", path.display()))),
            value => Ok(Some(Secret::new(value))),
        };
    }
    Ok(std::env::var(env.unwrap_or(default_env)).ok().filter(|v| !v.is_empty()).map(Secret::new))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderKind;

    fn backend(endpoint: &str, auth: Auth) -> HttpBackend {
        let config =
            ProviderConfig { kind: ProviderKind::Jaeger, endpoint: endpoint.into(), auth, ..ProviderConfig::default() };
        HttpBackend::new("jaeger", &config).unwrap()
    }

    #[test]
    fn a_user_and_password_in_the_url_become_basic_auth_and_are_never_shown() {
        let http = backend("http://ops:p%40ss@jaeger:16686/", Auth::default());
        assert_eq!(http.endpoint(), "http://jaeger:16686");
        assert_eq!(http.url(&["api", "services"]).as_str(), "http://jaeger:16686/api/services");
        assert!(
            matches!(&http.credentials, Credentials::Basic { username, password } if username == "ops" && password.expose() == "p@ss")
        );
        let err = HttpBackend::new(
            "jaeger",
            &ProviderConfig { endpoint: "ftp://ops:hunter2@x".into(), ..ProviderConfig::default() },
        )
        .err()
        .unwrap();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn a_configured_token_wins_and_basic_auth_needs_a_username() {
        let auth = Auth { token: Some("t".into()), username: Some("u".into()), ..Auth::default() };
        assert!(matches!(credentials(&auth, None).unwrap(), Credentials::Bearer(t) if t.expose() == "t"));
        let auth = Auth {
            username: Some("u".into()),
            password: Some("p".into()),
            token_env: Some("VITALS_TEST_UNSET_TOKEN".into()),
            ..Auth::default()
        };
        assert!(
            matches!(credentials(&auth, None).unwrap(), Credentials::Basic { username, password } if username == "u" && password.expose() == "p")
        );
    }

    #[test]
    fn a_token_file_is_read_trimmed_and_a_missing_one_is_an_error() {
        let path = std::env::temp_dir().join(format!("vitals-token-{}", std::process::id()));
        std::fs::write(&path, "  from-file\n").unwrap();
        let auth = Auth { token_file: Some(path.clone()), ..Auth::default() };
        assert!(matches!(credentials(&auth, None).unwrap(), Credentials::Bearer(t) if t.expose() == "from-file"));
        std::fs::remove_file(&path).unwrap();
        let err = credentials(&auth, None).err().unwrap().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn messages_from_the_backend_are_scrubbed_of_the_credentials_sent() {
        let http = backend("http://ops:pw-Secret@jaeger", Auth::default());
        let echoed = format!(
            r#"{{"errors":[{{"code":401,"msg":"rejected Authorization: Basic {}, password pw-Secret"}}]}}"#,
            base64::engine::general_purpose::STANDARD.encode("ops:pw-Secret")
        );
        let answer = Answer { status: StatusCode::UNAUTHORIZED, body: echoed.into_bytes() };
        let text = http.status_error(&answer).to_string();
        assert_eq!(text, "jaeger at http://jaeger answered 401: rejected Authorization: Basic ***, password ***");
        let text = http.bad_response("invalid type: string \"pw-Secret\"").to_string();
        assert!(!text.contains("pw-Secret"), "{text}");
    }
}
