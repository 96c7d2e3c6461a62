//! A per-address request budget for what anyone may call without signing in:
//! the sign-in and invitation pages, the simulator (when on), `/healthz` and
//! `/metrics`. Failed sign-ins have their own, tighter count (`services::limits`);
//! this one bounds plain volume, so one address cannot keep the database busy
//! through the health check or fill inboxes through the simulator. Webhooks are
//! not counted: their signature is checked first, and a provider sends from
//! many addresses in bursts. Fixed one-minute windows per address, on this node.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::config::Config;
use crate::http::problem::Problem;
use crate::services::limits::describe_wait;

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; when full, windows that ended are dropped,
/// and if none has, the newcomer is counted against a shared overflow slot.
const MAX_TRACKED: usize = 100_000;

/// Whether a path is public and counted.
pub fn counted(path: &str) -> bool {
    matches!(path, "/login" | "/healthz" | "/metrics" | "/simulator")
        || path.starts_with("/simulator/")
        || path.starts_with("/invite/")
}

pub struct PublicRate {
    per_window: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl PublicRate {
    pub fn new(per_minute: u32) -> Self {
        PublicRate { per_window: per_minute, seen: Mutex::new(HashMap::new()) }
    }

    /// Ok, or how long until the address may come back.
    pub fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(mut seen) = self.seen.lock() else { return Ok(()) };
        if seen.len() >= MAX_TRACKED && !seen.contains_key(&ip) {
            seen.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let key =
            if seen.len() >= MAX_TRACKED && !seen.contains_key(&ip) { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { ip };
        let entry = seen.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            return Err(WINDOW.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[derive(Clone)]
struct Gate {
    rate: Arc<PublicRate>,
    config: Arc<Config>,
}

/// `router` with the public endpoints counted per client address.
pub fn layer(router: Router, config: Arc<Config>) -> Router {
    let gate = Gate { rate: Arc::new(PublicRate::new(config.public_requests_per_minute)), config };
    router.layer(axum::middleware::from_fn_with_state(gate, check))
}

async fn check(State(g): State<Gate>, req: Request, next: Next) -> Response {
    if !counted(req.uri().path()) {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let forwarded: Vec<&str> =
        req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
    let ip = g.config.trusted_proxies.client(peer, &forwarded);
    match g.rate.admit(ip, Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let detail = format!("Too many requests from your network. Try again in {}.", describe_wait(secs));
            let wants_page = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|a| a.contains("text/html"));
            let mut res = if wants_page {
                let page = format!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many requests</title></head>\
                     <body><h1>Too many requests</h1><p>{detail}</p></body></html>"
                );
                (StatusCode::TOO_MANY_REQUESTS, Html(page)).into_response()
            } else {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests", detail)
                    .into_response()
            };
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_has_its_own_minute() {
        let r = PublicRate::new(3);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(r.admit(a, t0).is_ok());
        }
        let wait = r.admit(a, t0 + Duration::from_secs(20)).unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        assert!(r.admit(b, t0).is_ok(), "another address is not affected");
        assert!(r.admit(a, t0 + WINDOW).is_ok(), "a new minute starts afresh");
    }

    #[test]
    fn only_public_paths_are_counted() {
        for p in ["/login", "/healthz", "/metrics", "/simulator", "/simulator/api/inboxes/1/messages", "/invite/abc"] {
            assert!(counted(p), "{p}");
        }
        for p in ["/webhooks/twilio/1/inbound", "/api/v1/conversations", "/inbox", "/media/1", "/static/app.css"] {
            assert!(!counted(p), "{p}");
        }
    }
}
