//! An in-process Send API for Messenger tests: `/{version}/{page}/messages`
//! checked as Meta checks it (recipient, messaging type, the tag, one of text
//! or attachment) and answered as Meta answers, or with Meta-shaped errors on
//! demand; `/{version}/{page}` for the credential check; attachments on a
//! CDN-like host; and webhooks posted exactly as Meta posts them (signed
//! with the app secret). Real HTTP on 127.0.0.1; stops when dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::client::{DEFAULT_API_VERSION, MessengerConfig};
use crate::meta::{SIGNATURE_HEADER, compute_signature};

#[derive(Default)]
struct Inner {
    sent: Vec<(String, Value)>,
    seq: u64,
    fail_next: VecDeque<(u16, u64, u64)>,
    media: HashMap<String, (Vec<u8>, String)>,
    /// (first name, last name) by PSID, for `GET /{PSID}`.
    profiles: HashMap<String, (String, String)>,
    /// Profile requests answered 500 before the profiles are given.
    profile_failures: usize,
    profile_requests: usize,
}

struct Shared {
    page_id: String,
    token: String,
    base_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeMessenger {
    shared: Arc<Shared>,
    app_secret: String,
    verify_token: String,
    http: reqwest::Client,
    task: JoinHandle<()>,
}

impl Drop for FakeMessenger {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn digits(n: usize) -> String {
    (0..n)
        .map(|i| char::from(b'0' + if i == 0 { rand::random_range(1..10) } else { rand::random_range(0..10) }))
        .collect()
}

fn hex(n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[rand::random_range(0..16)])).collect()
}

impl FakeMessenger {
    pub async fn start() -> std::io::Result<FakeMessenger> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            page_id: digits(15),
            token: format!("EAAB{}", hex(40)),
            base_url: format!("http://{}", listener.local_addr()?),
            inner: Mutex::new(Inner::default()),
        });
        let routes = Router::new()
            .route("/{version}/{id}/messages", post(send_message))
            .route("/{version}/{id}", get(page))
            .route("/cdn/{id}", get(cdn))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, routes).await;
        });
        crate::ensure_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FakeMessenger { shared, app_secret: hex(32), verify_token: hex(24), http, task })
    }

    pub fn page_id(&self) -> &str {
        &self.shared.page_id
    }
    pub fn page_token(&self) -> &str {
        &self.shared.token
    }
    pub fn app_secret(&self) -> &str {
        &self.app_secret
    }
    pub fn verify_token(&self) -> &str {
        &self.verify_token
    }
    /// Use as the inbox's `graph_base`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }
    /// `host:port` of the fake (the API and its CDN), for the media policy.
    pub fn private_hosts(&self) -> Vec<String> {
        vec![self.shared.base_url.trim_start_matches("http://").to_owned()]
    }

    pub fn config(&self) -> MessengerConfig {
        MessengerConfig {
            graph_base: self.base_url().to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            page_id: self.page_id().to_owned(),
            page_token: self.page_token().to_owned(),
            media_policy: crate::net::FetchPolicy::allowing(&self.private_hosts()).unwrap_or_default(),
        }
    }

    /// Every send accepted so far, oldest first: (message id, body as sent).
    pub fn sent(&self) -> Vec<(String, Value)> {
        self.shared.lock().sent.clone()
    }

    /// The next `n` sends are refused with HTTP `status`, Meta's `code` and `subcode`.
    pub fn fail_next(&self, n: usize, status: u16, code: u64, subcode: u64) {
        self.shared.lock().fail_next.extend(std::iter::repeat_n((status, code, subcode), n));
    }

    /// Keeps a file as Meta's CDN would; returns its public address.
    /// Gives a person a Facebook profile with these names.
    pub fn set_profile(&self, psid: &str, first_name: &str, last_name: &str) {
        self.shared.lock().profiles.insert(psid.to_owned(), (first_name.to_owned(), last_name.to_owned()));
    }

    /// The next `n` profile requests fail with a 500, as the Graph API does when down.
    pub fn fail_profiles(&self, n: usize) {
        self.shared.lock().profile_failures = n;
    }

    /// How many profile requests reached the fake.
    pub fn profile_requests(&self) -> usize {
        self.shared.lock().profile_requests
    }

    pub fn host_media(&self, bytes: Vec<u8>, content_type: &str) -> String {
        let id = hex(16);
        self.shared.lock().media.insert(id.clone(), (bytes, content_type.to_owned()));
        format!("{}/cdn/{id}?_nc_cat=1&oh=00_{}", self.shared.base_url, hex(20))
    }

    /// The webhook body Meta posts with these `messaging` events for the Page.
    pub fn payload(&self, messaging: Vec<Value>) -> Value {
        json!({ "object": "page", "entry": [{ "id": self.page_id(), "time": jiff::Timestamp::now().as_millisecond(),
                                              "messaging": messaging }] })
    }

    /// One `messaging` event from `psid` to the Page, now, with `content`
    /// (`{"message": …}`, `{"postback": …}`, `{"read": …}`…) merged in.
    pub fn event(&self, psid: &str, content: Value) -> Value {
        let mut e = json!({ "sender": { "id": psid }, "recipient": { "id": self.page_id() },
                            "timestamp": jiff::Timestamp::now().as_millisecond() });
        if let (Some(e), Some(c)) = (e.as_object_mut(), content.as_object()) {
            e.extend(c.clone());
        }
        e
    }

    /// A fresh message id in Meta's form.
    pub fn mid() -> String {
        format!("m_{}", hex(40))
    }

    /// Posts `body` to `url` signed as Meta signs it.
    pub async fn post_webhook(&self, url: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.post_raw(url, serde_json::to_vec(body).unwrap_or_default(), Some(&self.app_secret)).await
    }

    /// Posts raw bytes, signed with `secret` (None: no signature header).
    pub async fn post_raw(&self, url: &str, raw: Vec<u8>, secret: Option<&str>) -> reqwest::Result<reqwest::Response> {
        let mut req = self.http.post(url).header(header::CONTENT_TYPE, "application/json");
        if let Some(secret) = secret {
            req = req.header(SIGNATURE_HEADER, compute_signature(secret, &raw));
        }
        req.body(raw).send().await
    }
}

fn meta_error(status: StatusCode, code: u64, subcode: Option<u64>, message: &str) -> Response {
    let mut error =
        json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": format!("A{}", hex(22)) });
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", shared.token))
}

async fn send_message(
    State(shared): State<Arc<Shared>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&shared, &headers) {
        return meta_error(StatusCode::UNAUTHORIZED, 190, None, "Invalid OAuth access token");
    }
    if id != shared.page_id && id != "me" {
        return meta_error(StatusCode::BAD_REQUEST, 100, None, "Unsupported post request");
    }
    if let Some((status, code, subcode)) = shared.lock().fail_next.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return meta_error(status, code, Some(subcode), "(#10) This message is sent outside of allowed window.");
    }
    // What the Send API itself checks before taking a message.
    let recipient = body.pointer("/recipient/id").and_then(Value::as_str).unwrap_or_default();
    let message = body.get("message").cloned().unwrap_or_default();
    let text = message.get("text").and_then(Value::as_str);
    let attachment = message.pointer("/attachment/payload/url").and_then(Value::as_str);
    let kind_ok = message
        .pointer("/attachment/type")
        .and_then(Value::as_str)
        .is_none_or(|k| matches!(k, "image" | "video" | "audio" | "file"));
    let tagged = match body.get("messaging_type").and_then(Value::as_str) {
        Some("RESPONSE" | "UPDATE") => body.get("tag").is_none(),
        Some("MESSAGE_TAG") => body.get("tag").and_then(Value::as_str).is_some(),
        _ => false,
    };
    let well_formed = !recipient.is_empty()
        && tagged
        && kind_ok
        && (text.is_some_and(|t| !t.is_empty() && t.chars().count() <= 2000) ^ attachment.is_some());
    if !well_formed {
        return meta_error(StatusCode::BAD_REQUEST, 100, None, "(#100) Invalid parameter");
    }
    let mut inner = shared.lock();
    inner.seq += 1;
    let mid = format!("m_{}{:04}", hex(36), inner.seq);
    inner.sent.push((mid.clone(), body.clone()));
    axum::Json(json!({ "recipient_id": recipient, "message_id": mid })).into_response()
}

async fn page(
    State(shared): State<Arc<Shared>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&shared, &headers) {
        return meta_error(StatusCode::UNAUTHORIZED, 190, None, "Invalid OAuth access token");
    }
    if id == shared.page_id {
        return axum::Json(json!({ "name": "Test Dental", "id": id })).into_response();
    }
    // Anything else is a person's profile, as the Page may read it.
    let mut inner = shared.lock();
    inner.profile_requests += 1;
    if inner.profile_failures > 0 {
        inner.profile_failures -= 1;
        return meta_error(StatusCode::INTERNAL_SERVER_ERROR, 2, None, "An unexpected error has occurred.");
    }
    match inner.profiles.get(&id) {
        Some((first, last)) => axum::Json(json!({ "first_name": first, "last_name": last, "id": id })).into_response(),
        None => meta_error(StatusCode::BAD_REQUEST, 100, Some(33), "Object does not exist"),
    }
}

async fn cdn(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.lock().media.get(&id) {
        Some((bytes, mime)) => ([(header::CONTENT_TYPE, mime.clone())], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
