//! The host name an account is reached at (`support.acme.example`): what an
//! operator types for `textdesk account add --host`, and what a request's
//! `Host` header is compared with.

use std::fmt;

use crate::Invalid;

/// A DNS name, lower-cased, without a port or a trailing dot: letters, digits
/// and `-` in dot-separated labels of 1–63 characters, 253 in all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct HostName(String);

impl HostName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let name = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let bad = || Invalid::new(format!("{s:?} is not a host name (letters, digits, - and dots, no port)"));
        if name.is_empty() || name.len() > 253 {
            return Err(bad());
        }
        for label in name.split('.') {
            let ok = !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(bad());
            }
        }
        Ok(HostName(name))
    }

    /// The name in a request's `Host` header (`Acme.Example:8080`), if it is one.
    pub fn from_header(value: &str) -> Option<Self> {
        let value = value.trim();
        // An IPv6 literal is `[…]:port`; it names no account.
        if value.starts_with('[') {
            return None;
        }
        let name = match value.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return None,
            None => value,
        };
        HostName::parse(name).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lowercased_and_checked() {
        assert_eq!(HostName::parse(" Support.Acme.Example. ").unwrap().as_str(), "support.acme.example");
        assert_eq!(HostName::parse("localhost").unwrap().as_str(), "localhost");
        for bad in ["", "acme..example", "-acme.example", "acme.example:80", "acme example", "acmé.example", "a/b"] {
            assert!(HostName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(HostName::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn headers_lose_their_port() {
        assert_eq!(HostName::from_header("Acme.Example:8080").unwrap().as_str(), "acme.example");
        assert_eq!(HostName::from_header("acme.example").unwrap().as_str(), "acme.example");
        assert_eq!(HostName::from_header("127.0.0.1:3000").unwrap().as_str(), "127.0.0.1");
        assert_eq!(HostName::from_header("[::1]:3000"), None);
        assert_eq!(HostName::from_header("acme.example:http"), None);
    }
}
