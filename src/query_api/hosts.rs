//! Which `Host` values the query API answers, against DNS rebinding: a web page can make
//! its own host name resolve to 127.0.0.1 and then read a loopback server as if it were
//! its own origin. Browsers always send the name they resolved, so a server on loopback
//! that answers only loopback names (`localhost`, `*.localhost`, loopback addresses)
//! cannot be read that way.

use std::net::{IpAddr, SocketAddr};

/// The `Host` values a listener answers.
#[derive(Clone, Debug, PartialEq)]
pub enum AllowedHosts {
    Any,
    /// Loopback names and addresses, and these (a host, or `host:port`).
    LoopbackAnd(Vec<String>),
}

impl AllowedHosts {
    /// For a listener bound to `bound` with hosts allowed by the user (`*` for any): bound
    /// to loopback, loopback names and those; bound elsewhere, any unless some are named.
    pub fn for_listener(bound: SocketAddr, allowed: &[String]) -> AllowedHosts {
        let named: Vec<String> =
            allowed.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
        if named.iter().any(|h| h == "*") || (named.is_empty() && !bound.ip().is_loopback()) {
            AllowedHosts::Any
        } else {
            AllowedHosts::LoopbackAnd(named)
        }
    }

    /// Whether a request with this `Host` header (absent: not from a browser) is answered.
    pub fn allows(&self, host: Option<&str>) -> bool {
        let (AllowedHosts::LoopbackAnd(named), Some(host)) = (self, host) else {
            return true;
        };
        let host = host.trim().to_ascii_lowercase();
        let name = name_of(&host);
        is_loopback(name) || named.iter().any(|allowed| *allowed == host || allowed == name)
    }
}

/// The host without its port: `[::1]:16686` → `::1`, `localhost:16686` → `localhost`.
fn name_of(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_loopback(name: &str) -> bool {
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(allowed: &[&str]) -> AllowedHosts {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        AllowedHosts::for_listener("127.0.0.1:16686".parse().unwrap(), &allowed)
    }

    #[test]
    fn bound_to_loopback_only_loopback_names_are_answered() {
        let hosts = loopback(&[]);
        for good in ["localhost", "LOCALHOST:16686", "127.0.0.1:16686", "127.8.9.1", "[::1]:16686", "app.localhost"] {
            assert!(hosts.allows(Some(good)), "{good}");
        }
        for bad in ["evil.example", "evil.example:16686", "localhost.evil.example", "10.0.0.5", "[::2]:1", "localhost."]
        {
            assert!(!hosts.allows(Some(bad)), "{bad}");
        }
        assert!(hosts.allows(None), "a client without Host is not a browser");
    }

    #[test]
    fn hosts_named_by_the_user_are_answered_too() {
        let hosts = loopback(&["traces.example", "10.0.0.5:16686"]);
        assert!(hosts.allows(Some("traces.example:16686")));
        assert!(hosts.allows(Some("10.0.0.5:16686")));
        assert!(!hosts.allows(Some("10.0.0.5:80")), "a named port is the only one");
        assert!(!hosts.allows(Some("evil.example")));
        assert_eq!(loopback(&["*"]), AllowedHosts::Any);
    }

    #[test]
    fn bound_elsewhere_any_host_is_answered_unless_some_are_named() {
        let anywhere: SocketAddr = "0.0.0.0:16686".parse().unwrap();
        assert_eq!(AllowedHosts::for_listener(anywhere, &[]), AllowedHosts::Any);
        let named = AllowedHosts::for_listener(anywhere, &["traces.example".to_string()]);
        assert!(!named.allows(Some("evil.example")));
        assert!(named.allows(Some("traces.example")));
    }
}
