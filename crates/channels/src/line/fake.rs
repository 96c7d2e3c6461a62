//! An in-process Messaging API for LINE tests: the bot's info (the
//! credential check), the webhook endpoint, reply (each reply token it
//! issued taken once) and push, LINE-shaped refusals on demand, message
//! content on a separate data host that wants the token, and events posted
//! exactly as LINE posts them (signed with the channel secret). Real HTTP on
//! 127.0.0.1; it stops when dropped.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::client::LineConfig;
use super::signature::{SIGNATURE_HEADER, compute_signature};

#[derive(Default)]
struct Inner {
    /// Each accepted request: ("reply" or "push", body as sent, the ids given).
    sent: Vec<(String, Value, Vec<String>)>,
    seq: u64,
    fail_next: VecDeque<(u16, String)>,
    endpoint: Option<String>,
    issued_tokens: HashSet<String>,
    content: HashMap<String, (Vec<u8>, String)>,
    content_saw_token: bool,
    /// Display names by user id, for `GET /v2/bot/profile/{userId}`.
    profiles: HashMap<String, String>,
    /// Profile requests answered 500 before the profiles are given.
    profile_failures: usize,
    profile_requests: usize,
}

struct Shared {
    access_token: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeLine {
    shared: Arc<Shared>,
    channel_secret: String,
    api_url: String,
    data_url: String,
    http: reqwest::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeLine {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn hex(n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)])).collect()
}

fn digits(n: usize) -> String {
    (0..n)
        .map(|i| char::from(b'0' + if i == 0 { rand::random_range(1..10) } else { rand::random_range(0..10) }))
        .collect()
}

/// An id shaped like LINE's webhookEventId (a ULID).
fn ulid() -> String {
    const SET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    (0..26).map(|_| char::from(SET[rand::random_range(0..SET.len())])).collect()
}

impl FakeLine {
    pub async fn start() -> std::io::Result<FakeLine> {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let data = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared { access_token: format!("{}/{}=", hex(40), hex(20)), inner: Mutex::default() });
        let api_routes = Router::new()
            .route("/v2/bot/info", get(bot_info))
            .route("/v2/bot/channel/webhook/endpoint", put(set_endpoint))
            .route("/v2/bot/message/{kind}", post(send))
            .route("/v2/bot/profile/{user_id}", get(profile))
            .with_state(shared.clone());
        let data_routes = Router::new().route("/v2/bot/message/{id}/content", get(content)).with_state(shared.clone());
        let api_url = format!("http://{}", api.local_addr()?);
        let data_url = format!("http://{}", data.local_addr()?);
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(api, api_routes).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(data, data_routes).await;
            }),
        ];
        crate::twilio::client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FakeLine { shared, channel_secret: hex(32), api_url, data_url, http, tasks })
    }

    pub fn access_token(&self) -> &str {
        &self.shared.access_token
    }
    pub fn channel_secret(&self) -> &str {
        &self.channel_secret
    }
    /// Use as the inbox's `api_base`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }
    /// Use as the inbox's `data_base`.
    pub fn data_url(&self) -> &str {
        &self.data_url
    }
    pub fn private_hosts(&self) -> Vec<String> {
        [&self.api_url, &self.data_url].iter().map(|u| u.trim_start_matches("http://").to_owned()).collect()
    }
    pub fn media_policy(&self) -> crate::net::FetchPolicy {
        crate::net::FetchPolicy::allowing(&self.private_hosts()).unwrap_or_default()
    }
    pub fn config(&self) -> LineConfig {
        LineConfig {
            api_base: self.api_url.clone(),
            data_base: self.data_url.clone(),
            access_token: self.access_token().to_owned(),
            media_policy: self.media_policy(),
        }
    }

    /// Every request accepted so far: ("reply" | "push", body, message ids).
    pub fn sent(&self) -> Vec<(String, Value, Vec<String>)> {
        self.shared.lock().sent.clone()
    }
    /// Gives a customer a LINE profile with this display name.
    pub fn set_profile(&self, user_id: &str, display_name: &str) {
        self.shared.lock().profiles.insert(user_id.to_owned(), display_name.to_owned());
    }

    /// The next `n` profile requests fail with a 500, as LINE does when down.
    pub fn fail_profiles(&self, n: usize) {
        self.shared.lock().profile_failures = n;
    }

    /// How many profile requests reached the fake.
    pub fn profile_requests(&self) -> usize {
        self.shared.lock().profile_requests
    }

    pub fn endpoint(&self) -> Option<String> {
        self.shared.lock().endpoint.clone()
    }
    /// The next `n` sends are refused with HTTP `status` and LINE's `message`.
    pub fn fail_next(&self, n: usize, status: u16, message: &str) {
        self.shared.lock().fail_next.extend(std::iter::repeat_n((status, message.to_owned()), n));
    }
    /// Keeps content as LINE keeps a customer's; returns its message id.
    pub fn host_content(&self, bytes: Vec<u8>, content_type: &str) -> String {
        let id = digits(18);
        self.shared.lock().content.insert(id.clone(), (bytes, content_type.to_owned()));
        id
    }
    pub fn content_saw_token(&self) -> bool {
        self.shared.lock().content_saw_token
    }

    /// One event from a customer, as LINE words it, with a fresh event id and
    /// (for kinds that have one) a reply token this fake will take once.
    pub fn event(&self, user_id: &str, kind: &str, extra: Value) -> Value {
        let mut e = json!({ "type": kind, "mode": "active", "timestamp": jiff::Timestamp::now().as_millisecond(),
            "source": { "type": "user", "userId": user_id }, "webhookEventId": ulid(),
            "deliveryContext": { "isRedelivery": false } });
        if kind != "unfollow" {
            let token = hex(32);
            self.shared.lock().issued_tokens.insert(token.clone());
            e["replyToken"] = json!(token);
        }
        if let Some(o) = extra.as_object() {
            for (k, v) in o {
                e[k] = v.clone();
            }
        }
        e
    }

    /// A message event whose message is `message` (its `type` and fields), with a fresh id.
    pub fn message_event(&self, user_id: &str, mut message: Value) -> Value {
        if message.get("id").is_none() {
            message["id"] = json!(digits(18));
        }
        message["quoteToken"] = json!(hex(20));
        self.event(user_id, "message", json!({ "message": message }))
    }

    pub fn payload(events: Vec<Value>) -> Value {
        json!({ "destination": format!("U{}", hex(32)), "events": events })
    }

    /// Posts `raw` to `url` signed with `secret` (None: no signature).
    pub async fn post_raw(&self, url: &str, raw: Vec<u8>, secret: Option<&str>) -> reqwest::Result<reqwest::Response> {
        let mut req = self.http.post(url).header(header::CONTENT_TYPE, "application/json; charset=utf-8");
        if let Some(s) = secret {
            req = req.header(SIGNATURE_HEADER, compute_signature(s, &raw));
        }
        req.body(raw).send().await
    }

    pub async fn post_webhook(&self, url: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.post_raw(url, serde_json::to_vec(body).unwrap_or_default(), Some(&self.channel_secret)).await
    }
}

fn token_ok(shared: &Shared, headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", shared.access_token))
}

fn line_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

fn unauthorized() -> Response {
    line_error(
        StatusCode::UNAUTHORIZED,
        "Authentication failed. Confirm that the access token in the authorization header is valid.",
    )
}

async fn bot_info(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !token_ok(&shared, &headers) {
        return unauthorized();
    }
    axum::Json(json!({ "userId": format!("U{}", hex(32)), "basicId": "@123abcde", "displayName": "Test Dental",
                       "chatMode": "bot", "markAsReadMode": "auto" }))
    .into_response()
}

async fn set_endpoint(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if !token_ok(&shared, &headers) {
        return unauthorized();
    }
    let endpoint = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["endpoint"].as_str().map(str::to_owned));
    match endpoint {
        Some(e) if e.starts_with("http") && e.len() <= 500 => {
            shared.lock().endpoint = Some(e);
            axum::Json(json!({})).into_response()
        }
        _ => line_error(StatusCode::BAD_REQUEST, "Invalid webhook endpoint URL"),
    }
}

/// What LINE checks of a message object before taking it.
fn well_formed(m: &Value) -> bool {
    match m.get("type").and_then(Value::as_str) {
        Some("text") => m["text"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 5000),
        Some("image") => ["originalContentUrl", "previewImageUrl"]
            .iter()
            .all(|k| m[*k].as_str().is_some_and(|u| u.starts_with("http") && u.len() <= 2000)),
        _ => false,
    }
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !token_ok(&shared, &headers) {
        return unauthorized();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return line_error(StatusCode::BAD_REQUEST, "The request body has 1 error(s)");
    };
    let mut inner = shared.lock();
    if let Some((status, message)) = inner.fail_next.pop_front() {
        return line_error(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), &message);
    }
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    if messages.is_empty() || messages.len() > 5 || !messages.iter().all(well_formed) {
        return line_error(StatusCode::BAD_REQUEST, "The request body has 1 error(s)");
    }
    match kind.as_str() {
        "reply" => {
            let token = body["replyToken"].as_str().unwrap_or_default().to_owned();
            if !inner.issued_tokens.remove(&token) {
                return line_error(StatusCode::BAD_REQUEST, "Invalid reply token");
            }
        }
        "push" => {
            let to = body["to"].as_str().unwrap_or_default();
            if !(to.starts_with('U') && to.len() == 33) {
                return line_error(StatusCode::BAD_REQUEST, "The property, 'to', in the request body is invalid");
            }
        }
        _ => return line_error(StatusCode::NOT_FOUND, "Not found"),
    }
    let ids: Vec<String> = messages
        .iter()
        .map(|_| {
            inner.seq += 1;
            format!("{}{:04}", digits(14), inner.seq)
        })
        .collect();
    inner.sent.push((kind, body, ids.clone()));
    let sent: Vec<Value> = ids.iter().map(|id| json!({ "id": id, "quoteToken": hex(20) })).collect();
    axum::Json(json!({ "sentMessages": sent })).into_response()
}

async fn profile(State(shared): State<Arc<Shared>>, Path(user_id): Path<String>, headers: HeaderMap) -> Response {
    if !token_ok(&shared, &headers) {
        return unauthorized();
    }
    let mut inner = shared.lock();
    inner.profile_requests += 1;
    if inner.profile_failures > 0 {
        inner.profile_failures -= 1;
        return line_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    match inner.profiles.get(&user_id) {
        Some(name) => axum::Json(json!({ "displayName": name, "userId": user_id, "language": "en",
                                         "pictureUrl": "https://profile.line-scdn.net/ch/v2/p/uf9da5ee2b",
                                         "statusMessage": "Hello, LINE!" }))
        .into_response(),
        None => line_error(StatusCode::NOT_FOUND, "Not found"),
    }
}

async fn content(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let with_token = token_ok(&shared, &headers);
    let mut inner = shared.lock();
    inner.content_saw_token = with_token;
    if !with_token {
        return unauthorized();
    }
    match inner.content.get(&id) {
        Some((bytes, t)) => ([(header::CONTENT_TYPE, t.clone())], bytes.clone()).into_response(),
        None => line_error(StatusCode::NOT_FOUND, "Not found"),
    }
}
