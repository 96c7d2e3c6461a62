//! Fetching from addresses someone else chose (a provider's media URL) without
//! letting them point us at our own network: only public addresses are
//! reached, checked on every redirect hop and after DNS resolution, and the
//! connection goes to the very address that was checked (the resolver below
//! is reqwest's, so a second lookup cannot swap in another answer).
//!
//! Every refusal and every failure to connect reads the same, so the answers
//! cannot be used to map which private ports are open.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A provider API's answers are small; anything bigger is not one.
pub const MAX_ANSWER: usize = 1024 * 1024;

/// A provider API's answer body, at most `MAX_ANSWER` bytes (Err past it or
/// when the connection breaks).
pub async fn read_answer(mut resp: reqwest::Response) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| ())? {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// What is said of any address that was refused or could not be reached.
pub const UNREACHABLE: &str = "the address the provider gave could not be reached";

/// A host (and optionally one port) that may be reached although it is private.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    host: String,
    port: Option<u16>,
}

/// Which addresses fetches may reach: public ones, plus the private hosts an
/// operator named (a provider's gateway on the local network, a test's fake).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchPolicy {
    allowed: Vec<Allowed>,
}

/// A refused address (said no more precisely than any connection failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", UNREACHABLE)]
pub struct Refused;

impl FetchPolicy {
    /// Public addresses only: the default.
    pub fn public_only() -> Self {
        FetchPolicy::default()
    }

    /// Public addresses and `hosts`, each `host`, `host:port` or `[v6]:port`
    /// (a name is allowed by name: what it resolves to is then trusted).
    pub fn allowing<S: AsRef<str>>(hosts: &[S]) -> Result<Self, String> {
        let allowed = hosts.iter().map(|h| parse_allowed(h.as_ref())).collect::<Result<_, _>>()?;
        Ok(FetchPolicy { allowed })
    }

    /// Whether the URL names an allowed private host (on an allowed port).
    fn names_allowed(&self, host: &str, port: u16) -> bool {
        self.allowed.iter().any(|a| a.host == host && a.port.is_none_or(|p| p == port))
    }

    /// Whether the URL names a private host the operator allowed (which may
    /// then be reached over plain http too, for local testing).
    pub fn allows_host_of(&self, url: &url::Url) -> bool {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else { return false };
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase();
        self.names_allowed(&host, port)
    }

    /// Checks a URL before it is requested (the first one and every redirect).
    /// An IP address is judged here; a name is judged by the resolver, on
    /// the addresses it resolves to.
    pub fn check_url(&self, url: &url::Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused);
        }
        let port = url.port_or_known_default().ok_or(Refused)?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err(Refused),
        };
        if self.names_allowed(&host, port) {
            return Ok(());
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if is_public(IpAddr::V4(ip)) => Ok(()),
            Some(url::Host::Ipv6(ip)) if is_public(IpAddr::V6(ip)) => Ok(()),
            // An allowed name on a port that was not allowed is refused here:
            // the resolver, which never sees the port, would let it through.
            Some(url::Host::Domain(_)) if !self.allowed.iter().any(|a| a.host == host) => Ok(()),
            _ => Err(Refused),
        }
    }

    /// An HTTP client that holds to this policy: it resolves names itself,
    /// refusing any answer that is not public, and checks every redirect.
    /// Requests must still go through `check_url` first (an IP address in
    /// the first URL never reaches the resolver).
    pub fn client(&self, connect_timeout: Duration) -> Result<reqwest::Client, String> {
        crate::ensure_tls_provider();
        let policy = Arc::new(self.clone());
        let redirects = policy.clone();
        reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            // A proxy would resolve the name itself, past our checks.
            .no_proxy()
            .dns_resolver(Guarded { policy })
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else if redirects.check_url(attempt.url()).is_err() {
                    attempt.error(Refused)
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|_| "the HTTP client could not be set up (TLS)".to_owned())
    }
}

fn parse_allowed(entry: &str) -> Result<Allowed, String> {
    let entry = entry.trim();
    let bad = || format!("{entry:?} is not a host name, address, or host:port");
    let url = url::Url::parse(&format!("http://{entry}/")).map_err(|_| bad())?;
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() || entry.contains('/') {
        return Err(bad());
    }
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(bad()),
    };
    // `url` drops :80 as http's default; the entry said it, so it counts.
    let port = url.port().or_else(|| entry.rsplit_once(':').and_then(|(_, p)| p.parse().ok()));
    Ok(Allowed { host, port })
}

/// A resolver that answers only with public addresses (or anything, for a
/// name the operator allowed).
struct Guarded {
    policy: Arc<FetchPolicy>,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let trusted = self.policy.allowed.iter().any(|a| a.host == host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // One private answer among public ones is refused outright: the
            // client could otherwise fall back to it after a failure.
            if addrs.is_empty() || (!trusted && addrs.iter().any(|a| !is_public(a.ip()))) {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Downloads a file a provider pointed at (`url`), at most `max_bytes`,
/// through `client` (made by `policy.client`), after checking the address.
/// Refusals and failures to connect read alike; 5xx and 429 are retried.
pub async fn download(
    client: &reqwest::Client,
    policy: &FetchPolicy,
    url: &str,
    max_bytes: u64,
) -> Result<crate::provider::MediaFile, crate::provider::MediaFailure> {
    use crate::provider::{MediaFailure, MediaFile};
    let permanent = |reason: String| MediaFailure { reason, retryable: false };
    let retry = |reason: String| MediaFailure { reason, retryable: true };
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| permanent("the media address is not an http(s) URL".into()))?;
    policy.check_url(&parsed).map_err(|_| retry(UNREACHABLE.into()))?;
    let mut resp = client.get(parsed).timeout(Duration::from_secs(120)).send().await.map_err(|e| {
        if e.is_timeout() || e.is_body() {
            retry("downloading media: timed out or cut off".into())
        } else {
            retry(UNREACHABLE.into())
        }
    })?;
    let status = resp.status();
    if !status.is_success() {
        let reason = format!("the media could not be downloaded (HTTP {})", status.as_u16());
        let again = status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
        return Err(MediaFailure { reason, retryable: again });
    }
    let too_big = || permanent(format!("the media is larger than {max_bytes} bytes"));
    if resp.content_length().is_some_and(|n| n > max_bytes) {
        return Err(too_big());
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| retry("downloading media: cut off".into()))? {
        if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(MediaFile { content_type, bytes })
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local (cloud metadata lives there), shared, reserved, documentation,
/// multicast, or an IPv6 form wrapping one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let private = a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224;
    !private
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    // ::ffff:a.b.c.d (mapped) and 64:ff9b::a.b.c.d (NAT64) reach a v4 address.
    if s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 carries its v4 address in the second and third groups.
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    // Global unicast is 2000::/3; within it, documentation and Teredo are not reachable hosts.
    let global = (s[0] & 0xe000) == 0x2000;
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
    let teredo = s[0] == 0x2001 && s[1] == 0;
    global && !documentation && !teredo
}

/// For tests: a server on 127.0.0.1 that counts the connections it is
/// offered and answers each with the raw HTTP `answer` (an internal service
/// that must not be reached, or a host that redirects).
#[cfg(feature = "fake")]
pub async fn counting_server(answer: String) -> std::io::Result<(SocketAddr, Arc<std::sync::atomic::AtomicUsize>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(answer.as_bytes()).await;
            });
        }
    });
    Ok((addr, seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!public(ip), "{ip} was judged public");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "54.172.60.0", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(public(ip), "{ip} was judged private");
        }
    }

    fn check(policy: &FetchPolicy, url: &str) -> Result<(), Refused> {
        policy.check_url(&url::Url::parse(url).unwrap())
    }

    #[test]
    fn urls_are_checked_in_every_spelling() {
        let p = FetchPolicy::public_only();
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "file:///etc/passwd",
            "ftp://8.8.8.8/",
        ] {
            assert_eq!(check(&p, url), Err(Refused), "{url}");
        }
        // Names are judged by what they resolve to.
        assert!(check(&p, "https://api.twilio.com/x").is_ok() && check(&p, "http://localhost/").is_ok());
        assert!(check(&p, "https://8.8.8.8/").is_ok());
    }

    #[test]
    fn named_private_hosts_are_allowed_on_their_port_only() {
        let p = FetchPolicy::allowing(&["127.0.0.1:4000", "media.internal", "Fake.Test:80"]).unwrap();
        assert!(check(&p, "http://127.0.0.1:4000/m").is_ok());
        assert_eq!(check(&p, "http://127.0.0.1:4001/m"), Err(Refused));
        assert_eq!(check(&p, "http://2130706433:4001/"), Err(Refused));
        assert!(check(&p, "http://media.internal:9999/").is_ok());
        assert!(check(&p, "http://fake.test/").is_ok());
        assert_eq!(check(&p, "http://fake.test:81/"), Err(Refused), "an allowed name on another port");
        for bad in ["", "http://x/", "a/b", "user@host", "host:99999"] {
            assert!(FetchPolicy::allowing(&[bad]).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_private_answers() {
        use reqwest::dns::Resolve;
        let guarded = Guarded { policy: Arc::new(FetchPolicy::public_only()) };
        assert!(guarded.resolve("localhost".parse().unwrap()).await.is_err());
        let allowed = Guarded { policy: Arc::new(FetchPolicy::allowing(&["localhost:1234"]).unwrap()) };
        let addrs: Vec<_> = allowed.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
