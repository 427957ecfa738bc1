//! Credentials that must never be printed. A [`Secret`] shows as `***` however it is
//! formatted; an endpoint is shown without the user name and password it may carry; and
//! text a backend sends back (an error page, a message) is scrubbed of credentials before
//! anyone sees it, since a proxy or a debugging backend may echo the request's headers.
//!
//! Redaction happens here, at the source, so that no secret ever reaches a log line, an
//! error or a notification: the log is never scrubbed after the fact.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A credential: readable only through [`Secret::expose`], printed as `***`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// From a string, or a number (a PIN-like token written without quotes in Lua), so that a
/// mistyped credential never ends up quoted in a "cannot read the arguments" error.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;

        impl Visitor<'_> for SecretVisitor {
            type Value = Secret;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Secret, E> {
                Ok(Secret::new(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Secret, E> {
                Ok(Secret::new(value.to_string()))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Secret, E> {
                Ok(Secret::new(value.to_string()))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("a credential must be a string"))
            }
        }

        deserializer.deserialize_any(SecretVisitor)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

/// For command-line flags.
impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(text))
    }
}

/// `https://ops:pw@jaeger:16686/x` → `https://jaeger:16686/x`: an endpoint as it may be
/// shown. Works on text that is not a valid URL too (a user's typo is shown in errors),
/// by dropping everything between `://` and the last `@` of the authority.
pub fn without_userinfo(endpoint: &str) -> String {
    let Some(scheme_end) = endpoint.find("://").map(|i| i + 3) else {
        return endpoint.to_string();
    };
    let rest = &endpoint[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &endpoint[..scheme_end], &rest[at + 1..]),
        None => endpoint.to_string(),
    }
}

/// What a credential is called where it travels: a header, a JSON field, a query parameter.
/// Matched case-insensitively; `token` also covers `access_token`, `X-Auth-Token`, ….
const CREDENTIAL_NAMES: [&str; 8] =
    ["authorization", "token", "password", "passwd", "secret", "api-key", "api_key", "apikey"];

/// Words that name an authorization scheme: kept, since "Bearer ***" tells what was sent.
const SCHEMES: [&str; 5] = ["bearer", "basic", "token", "digest", "negotiate"];

/// Scrubs text from a backend of the credentials this client sends (wherever they appear,
/// whole or base64-encoded as in basic auth) and of the value of anything that looks
/// like a credential (`Authorization: …`, `"token": "…"`, `password=…`).
#[derive(Clone, Default)]
pub struct Scrubber {
    known: Vec<String>,
}

impl Scrubber {
    /// A scrubber for these credentials (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut known: Vec<String> = secrets.into_iter().filter(|s| !s.is_empty()).collect();
        // Longest first, so a secret that contains another is replaced whole.
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Scrubber { known }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.known {
            text = text.replace(secret.as_str(), "***");
        }
        scrub_named_values(&text)
    }
}

/// Replaces the value after every `name: value` or `name=value` whose name is a
/// credential's, quoted or not, keeping a scheme word in front of it.
fn scrub_named_values(text: &str) -> String {
    // ASCII lowercasing keeps byte offsets, so positions found in `lower` apply to `text`.
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut at) = (0, 0);
    // One pass: at each character, a credential's name with a value after it.
    while at < lower.len() {
        let value = CREDENTIAL_NAMES
            .iter()
            .filter(|name| lower[at..].starts_with(*name))
            .find_map(|name| value_after_name(&lower, at + name.len()));
        match value {
            Some((start, end)) => {
                out.push_str(&text[copied..start]);
                out.push_str("***");
                (copied, at) = (end, end);
            }
            None => at += lower[at..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// After a credential's name: optional quotes and spaces, `:` or `=`, optional quotes and
/// spaces and a scheme word; then the value, up to its closing quote or a delimiter.
fn value_after_name(lower: &str, mut i: usize) -> Option<(usize, usize)> {
    let bytes = lower.as_bytes();
    let skip = |i: &mut usize, set: &[u8]| {
        while *i < bytes.len() && set.contains(&bytes[*i]) {
            *i += 1;
        }
    };
    skip(&mut i, b"\"' \t");
    if i >= bytes.len() || !matches!(bytes[i], b':' | b'=') {
        return None;
    }
    i += 1;
    skip(&mut i, b" \t");
    let quote = match bytes.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            i += 1;
            Some(q)
        }
        _ => None,
    };
    for scheme in SCHEMES {
        let word_end = i + scheme.len();
        if lower[i..].starts_with(scheme) && matches!(bytes.get(word_end), Some(b' ' | b'+') | None) {
            i = word_end;
            skip(&mut i, b" +");
            break;
        }
    }
    let end = match quote {
        Some(q) => lower[i..].find(q as char).map_or(lower.len(), |n| i + n),
        None => lower[i..]
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '&' | '}' | ']' | '"' | '\'' | '<' | '>'))
            .map_or(lower.len(), |n| i + n),
    };
    (end > i).then_some((i, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_as_stars_however_it_is_formatted() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret} {secret:?} {:?}", Some(&secret)), "*** *** Some(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn a_credential_is_read_from_a_string_or_a_number_and_never_quoted_in_an_error() {
        let read = |json: &str| serde_json::from_str::<Secret>(json).map(|s| s.expose().to_string());
        assert_eq!(read(r#""t0k""#).unwrap(), "t0k");
        assert_eq!(read("918273").unwrap(), "918273");
        let err = read("1234.5").unwrap_err().to_string();
        assert!(!err.contains("1234"), "{err}");
    }

    #[test]
    fn endpoints_lose_their_user_and_password() {
        assert_eq!(without_userinfo("https://ops:pw@jaeger:16686/q?x=1"), "https://jaeger:16686/q?x=1");
        assert_eq!(without_userinfo("http://user@host"), "http://host");
        assert_eq!(without_userinfo("http://a:b@c@host/p@q"), "http://host/p@q");
        assert_eq!(without_userinfo("http://u:p@[bad"), "http://[bad");
        assert_eq!(without_userinfo("http://localhost:16686/a@b"), "http://localhost:16686/a@b");
        assert_eq!(without_userinfo("./traces@2"), "./traces@2");
    }

    #[test]
    fn echoed_headers_and_known_secrets_are_scrubbed() {
        let scrubber = Scrubber::new(["tok-123".to_string(), "b3BzOnB3".to_string()]);
        let cases = [
            ("GET /api HTTP/1.1\r\nAuthorization: Bearer abc.def\r\nHost: x", "Authorization: Bearer ***\r\nHost: x"),
            (r#"{"headers":{"Authorization":"Basic b3BzOnB3","Accept":"*/*"}}"#, r#""Authorization":"Basic ***","#),
            ("bad credentials tok-123 given", "bad credentials *** given"),
            ("https://x/?access_token=zzz&a=1", "access_token=***&a=1"),
            (r#"{"password": "pw one", "user":"ops"}"#, r#""password": "***", "user":"ops""#),
            ("X-Auth-Token: q1w2e3", "X-Auth-Token: ***"),
        ];
        for (text, expected) in cases {
            let scrubbed = scrubber.scrub(text);
            assert!(scrubbed.contains(expected), "{text:?} became {scrubbed:?}");
        }
    }

    #[test]
    fn text_full_of_names_without_values_is_scrubbed_to_its_end() {
        let text = "token".repeat(20_000) + "é token=x";
        assert!(Scrubber::default().scrub(&text).ends_with("é token=***"));
    }

    #[test]
    fn prose_about_tokens_is_left_alone() {
        let text = "the token has expired; log in again";
        assert_eq!(Scrubber::default().scrub(text), text);
        assert_eq!(Scrubber::default().scrub("authorization"), "authorization");
        assert_eq!(Scrubber::default().scrub("token:"), "token:");
    }
}
