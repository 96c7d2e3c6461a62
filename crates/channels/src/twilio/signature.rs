//! Twilio's `X-Twilio-Signature`: HMAC-SHA1, keyed by the account's auth
//! token, over the URL Twilio requested followed by the form parameters
//! (sorted by name, then by value), base64-encoded. JSON bodies are covered
//! through a `bodySHA256` query parameter instead.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header Twilio puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

type HmacSha1 = Hmac<Sha1>;

/// The signature Twilio sends for a form POST (or a GET, with no params) to `url`.
pub fn compute_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    sign(auth_token, url, &sorted_pairs(params, false))
}

/// Whether `signature` is Twilio's for a form POST of `params` to `url`.
///
/// Twilio is inconsistent about the default port (it may sign
/// `https://host:443/path` or `https://host/path` for the same webhook), so
/// both spellings are accepted; any other port is part of what was signed.
pub fn validate_form(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    if signature.is_empty() || auth_token.is_empty() {
        return false;
    }
    let plain = sorted_pairs(params, false);
    // Twilio's helper libraries drop repeated identical name/value pairs
    // before signing; Twilio's own wire format may not. Accept either.
    let deduplicated = sorted_pairs(params, true);
    let forms: Vec<&[(&str, &str)]> =
        if plain.len() == deduplicated.len() { vec![&plain] } else { vec![&plain, &deduplicated] };
    let mut ok = false;
    for candidate in url_variants(url) {
        for pairs in &forms {
            // No early exit: every candidate costs the same, whichever matched.
            ok |= matches(&sign(auth_token, &candidate, pairs), signature);
        }
    }
    ok
}

/// Whether `signature` is Twilio's for a JSON `body` POSTed to `url`. Twilio
/// signs the URL alone and adds the body's SHA-256 (hex) as the `bodySHA256`
/// query parameter, so both the signature and that hash must match.
pub fn validate_json(auth_token: &str, url: &str, body: &[u8], signature: &str) -> bool {
    if signature.is_empty() || auth_token.is_empty() {
        return false;
    }
    let Some(claimed) = body_sha256_param(url) else {
        return false;
    };
    let actual = hex::encode(Sha256::digest(body));
    let body_ok = matches(&actual, &claimed.to_ascii_lowercase());
    let mut sig_ok = false;
    for candidate in url_variants(url) {
        sig_ok |= matches(&sign(auth_token, &candidate, &[]), signature);
    }
    body_ok & sig_ok
}

/// The URL a JSON body to `url` is signed under: `url` plus its `bodySHA256`.
pub fn json_url(url: &str, body: &[u8]) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}bodySHA256={}", hex::encode(Sha256::digest(body)))
}

fn sign(auth_token: &str, url: &str, pairs: &[(&str, &str)]) -> String {
    // HMAC accepts keys of any length; the error branch cannot happen, but
    // an unusable key must still never produce a matching signature.
    let Ok(mut mac) = HmacSha1::new_from_slice(auth_token.as_bytes()) else {
        return String::new();
    };
    mac.update(url.as_bytes());
    for (name, value) in pairs {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// Pairs sorted by name, then value. Rust orders `str` by UTF-8 bytes, which
/// is the same as code point order, the order Twilio's libraries use.
fn sorted_pairs(params: &[(String, String)], dedup: bool) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    pairs.sort_unstable();
    if dedup {
        pairs.dedup();
    }
    pairs
}

fn matches(computed: &str, given: &str) -> bool {
    // Lengths are not secret (every SHA-1 signature is 28 characters).
    computed.len() == given.len() && bool::from(computed.as_bytes().ct_eq(given.as_bytes()))
}

fn body_sha256_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "bodySHA256").map(|(_, v)| v.into_owned())
}

/// `url` as given, plus the same URL with the default port added (when it
/// has none) or removed (when it has the default one). Done on the string,
/// not through a URL parser, because a parser would normalise what Twilio
/// signed byte for byte.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_owned()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return out;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return out,
    };
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    // Userinfo may contain ':' too; the port is after the host.
    let host_start = authority.rfind('@').map_or(0, |i| i + 1);
    let host_port = &authority[host_start..];
    // An IPv6 literal has colons inside its brackets.
    let after_host = host_port.rfind(']').map_or(0, |i| i + 1);
    let port_colon = host_port[after_host..].find(':').map(|i| host_start + after_host + i);
    let prefix = &url[..scheme.len() + 3];
    match port_colon {
        None => out.push(format!("{prefix}{authority}:{default_port}{tail}")),
        Some(colon) if &authority[colon + 1..] == default_port => {
            out.push(format!("{prefix}{}{tail}", &authority[..colon]));
        }
        Some(_) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_variants_add_or_remove_only_the_default_port() {
        assert_eq!(url_variants("https://a.com/x?y=1"), ["https://a.com/x?y=1", "https://a.com:443/x?y=1"]);
        assert_eq!(url_variants("https://a.com:443/x"), ["https://a.com:443/x", "https://a.com/x"]);
        assert_eq!(url_variants("http://a.com"), ["http://a.com", "http://a.com:80"]);
        assert_eq!(url_variants("http://a.com:80?q"), ["http://a.com:80?q", "http://a.com?q"]);
        assert_eq!(url_variants("https://a.com:8443/x"), ["https://a.com:8443/x"]);
        assert_eq!(url_variants("https://u:p@a.com/x"), ["https://u:p@a.com/x", "https://u:p@a.com:443/x"]);
        assert_eq!(url_variants("https://[::1]:443/x"), ["https://[::1]:443/x", "https://[::1]/x"]);
        assert_eq!(url_variants("https://[::1]/x"), ["https://[::1]/x", "https://[::1]:443/x"]);
        assert_eq!(url_variants("ftp://a.com/x"), ["ftp://a.com/x"]);
        assert_eq!(url_variants("garbage"), ["garbage"]);
        assert_eq!(url_variants(""), [""]);
        assert_eq!(url_variants("https://"), ["https://", "https://:443"]);
    }

    #[test]
    fn json_url_appends_the_body_hash() {
        assert_eq!(
            json_url("https://a.com/x", b""),
            format!("https://a.com/x?bodySHA256={}", hex::encode(Sha256::digest(b"")))
        );
        assert!(json_url("https://a.com/x?a=1", b"{}").starts_with("https://a.com/x?a=1&bodySHA256="));
    }
}
