//! An in-process Bot API for Telegram tests: `getMe`, `setWebhook`,
//! `sendMessage`, `sendPhoto`, `sendDocument`, `sendVoice`, `sendAudio`,
//! `sendVideo` and `getFile` under
//! `/bot{token}/…` (answering as Telegram does, or with Telegram-shaped
//! refusals on demand), files under `/file/bot{token}/…`, and updates posted
//! to a webhook as Telegram posts them (with the secret header). Real HTTP
//! on 127.0.0.1; it stops when dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::channel::SECRET_HEADER;
use super::client::TelegramConfig;

#[derive(Default)]
struct Inner {
    /// Each accepted send: (method, body as sent, the message id given).
    sent: Vec<(String, Value, i64)>,
    next_message_id: i64,
    fail_next: VecDeque<(u16, String)>,
    webhook: Option<(String, String)>,
    /// file_id → (file_path, bytes)
    files: HashMap<String, (String, Vec<u8>)>,
    file_requests: u32,
}

struct Shared {
    token: String,
    bot_id: i64,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeTelegram {
    shared: Arc<Shared>,
    base_url: String,
    http: reqwest::Client,
    task: JoinHandle<()>,
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn token_chars(n: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    (0..n).map(|_| char::from(SET[rand::random_range(0..SET.len())])).collect()
}

impl FakeTelegram {
    pub async fn start() -> std::io::Result<FakeTelegram> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let bot_id = rand::random_range(1_000_000_000..9_000_000_000_i64);
        let shared = Arc::new(Shared {
            token: format!("{bot_id}:AA{}", token_chars(33)),
            bot_id,
            inner: Mutex::new(Inner { next_message_id: 500, ..Inner::default() }),
        });
        let routes = Router::new()
            .route("/{bot}/{method}", post(method))
            .route("/file/{bot}/{*path}", get(file))
            .with_state(shared.clone());
        let base_url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, routes).await;
        });
        crate::twilio::client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FakeTelegram { shared, base_url, http, task })
    }

    pub fn token(&self) -> &str {
        &self.shared.token
    }
    pub fn bot_id(&self) -> i64 {
        self.shared.bot_id
    }
    /// Use as the inbox's `api_base`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// `host:port` of the fake (on 127.0.0.1), for the media policy.
    pub fn private_hosts(&self) -> Vec<String> {
        vec![self.base_url.trim_start_matches("http://").to_owned()]
    }
    pub fn media_policy(&self) -> crate::net::FetchPolicy {
        crate::net::FetchPolicy::allowing(&self.private_hosts()).unwrap_or_default()
    }
    pub fn config(&self) -> TelegramConfig {
        TelegramConfig {
            api_base: self.base_url.clone(),
            bot_token: self.token().to_owned(),
            media_policy: self.media_policy(),
        }
    }

    /// Every send accepted so far, oldest first: (method, body, message id).
    pub fn sent(&self) -> Vec<(String, Value, i64)> {
        self.shared.lock().sent.clone()
    }
    /// The webhook address and secret last set, if any.
    pub fn webhook(&self) -> Option<(String, String)> {
        self.shared.lock().webhook.clone()
    }
    /// Forgets the webhook, as `deleteWebhook` does.
    pub fn forget_webhook(&self) {
        self.shared.lock().webhook = None;
    }
    /// The next `n` sends are refused with HTTP `status` and this description.
    pub fn fail_next(&self, n: usize, status: u16, description: &str) {
        self.shared.lock().fail_next.extend(std::iter::repeat_n((status, description.to_owned()), n));
    }
    /// Keeps a file as Telegram keeps a customer's; returns its file_id.
    pub fn host_file(&self, bytes: Vec<u8>, file_path: &str) -> String {
        let id = format!("AgAC{}", token_chars(40));
        self.shared.lock().files.insert(id.clone(), (file_path.to_owned(), bytes));
        id
    }
    pub fn file_requests(&self) -> u32 {
        self.shared.lock().file_requests
    }

    /// A private chat's message update from a customer (`user_id`, first name),
    /// with `content` (`{"text": …}`, `{"photo": […]}`…) and fresh ids.
    pub fn message_update(user_id: i64, first_name: &str, content: Value) -> Value {
        let mut m = json!({
            "message_id": rand::random_range(1..1_000_000),
            "from": { "id": user_id, "is_bot": false, "first_name": first_name, "language_code": "en" },
            "chat": { "id": user_id, "first_name": first_name, "type": "private" },
            "date": jiff::Timestamp::now().as_second(),
        });
        if let Some(o) = content.as_object() {
            for (k, v) in o {
                m[k] = v.clone();
            }
        }
        json!({ "update_id": rand::random_range(100_000_000..900_000_000), "message": m })
    }

    /// Posts an update to `url` as Telegram does, with `secret` (None: no header).
    pub async fn post_update(
        &self,
        url: &str,
        body: Vec<u8>,
        secret: Option<&str>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut req = self.http.post(url).header(header::CONTENT_TYPE, "application/json");
        if let Some(s) = secret {
            req = req.header(SECRET_HEADER, s);
        }
        req.body(body).send().await
    }
}

fn refusal(status: StatusCode, description: &str) -> Response {
    let mut body = json!({ "ok": false, "error_code": status.as_u16(), "description": description });
    if status == StatusCode::TOO_MANY_REQUESTS {
        body["parameters"] = json!({ "retry_after": 3 });
    }
    (status, axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({ "ok": true, "result": result })).into_response()
}

/// A method's parameters as the Bot API reads them: a JSON body, or a form
/// whose non-text values are JSON (as python-telegram-bot sends them).
fn parameters(headers: &HeaderMap, body: &[u8]) -> Option<Value> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return if body.is_empty() { Some(json!({})) } else { serde_json::from_slice(body).ok() };
    }
    let mut out = serde_json::Map::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        let value = match (k.as_ref(), v.parse::<i64>()) {
            ("chat_id", Ok(n)) => json!(n),
            _ if v.starts_with('[') || v.starts_with('{') => serde_json::from_str(&v).unwrap_or(json!(v)),
            _ => json!(v),
        };
        out.insert(k.into_owned(), value);
    }
    Some(Value::Object(out))
}

async fn method(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return refusal(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Some(body) = parameters(&headers, &body) else {
        return refusal(StatusCode::BAD_REQUEST, "Bad Request: can't parse JSON");
    };
    let bot_user =
        json!({ "id": shared.bot_id, "is_bot": true, "first_name": "Test Dental", "username": "test_dental_bot" });
    match method.as_str() {
        "getMe" => ok(bot_user),
        "setWebhook" => {
            let url = body.get("url").and_then(Value::as_str).unwrap_or_default();
            let secret = body.get("secret_token").and_then(Value::as_str).unwrap_or_default();
            let secret_ok = (1..=256).contains(&secret.len())
                && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !url.starts_with("http") || !secret_ok {
                return refusal(StatusCode::BAD_REQUEST, "Bad Request: bad webhook: invalid parameters");
            }
            shared.lock().webhook = Some((url.to_owned(), secret.to_owned()));
            ok(json!(true))
        }
        "getFile" => {
            let id = body.get("file_id").and_then(Value::as_str).unwrap_or_default();
            match shared.lock().files.get(id) {
                Some((path, bytes)) => {
                    ok(json!({ "file_id": id, "file_unique_id": "AQAD", "file_size": bytes.len(), "file_path": path }))
                }
                None => refusal(StatusCode::BAD_REQUEST, "Bad Request: invalid file_id"),
            }
        }
        "sendMessage" | "sendPhoto" | "sendDocument" | "sendVoice" | "sendAudio" | "sendVideo" => {
            if let Some((status, d)) = shared.lock().fail_next.pop_front() {
                return refusal(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), &d);
            }
            let Some(chat_id) = body.get("chat_id").and_then(Value::as_i64) else {
                return refusal(StatusCode::BAD_REQUEST, "Bad Request: chat not found");
            };
            let field = match method.as_str() {
                "sendMessage" => "text",
                "sendPhoto" => "photo",
                "sendVoice" => "voice",
                "sendAudio" => "audio",
                "sendVideo" => "video",
                _ => "document",
            };
            let value = body.get(field).and_then(Value::as_str).unwrap_or_default();
            let caption = body.get("caption").and_then(Value::as_str).unwrap_or_default();
            // What Telegram itself checks before taking a message.
            let well_formed = match field {
                "text" => !value.trim().is_empty() && value.chars().count() <= 4096,
                _ => value.starts_with("http") && caption.chars().count() <= 1024,
            };
            if !well_formed {
                return refusal(StatusCode::BAD_REQUEST, "Bad Request: message text is empty");
            }
            let mut inner = shared.lock();
            inner.next_message_id += 1;
            let id = inner.next_message_id;
            inner.sent.push((method.clone(), body.clone(), id));
            let mut message = json!({ "message_id": id, "from": bot_user, "date": jiff::Timestamp::now().as_second(),
                                      "chat": { "id": chat_id, "type": "private" } });
            match field {
                "text" => message["text"] = json!(value),
                "photo" => {
                    message["photo"] =
                        json!([{ "file_id": "AgACphoto", "file_unique_id": "AQADp", "width": 90, "height": 90 }])
                }
                "voice" => {
                    message["voice"] = json!({ "file_id": "AwACvoice", "file_unique_id": "AgADv", "duration": 3,
                                               "mime_type": "audio/ogg" })
                }
                "audio" => {
                    message["audio"] = json!({ "file_id": "CQACaudio", "file_unique_id": "AgADa", "duration": 3 })
                }
                "video" => {
                    message["video"] = json!({ "file_id": "BAACvideo", "file_unique_id": "AgADvi", "width": 90,
                                               "height": 90, "duration": 3 })
                }
                _ => message["document"] = json!({ "file_id": "BQACdoc", "file_unique_id": "AgADd" }),
            }
            if !caption.is_empty() {
                message["caption"] = json!(caption);
            }
            ok(message)
        }
        _ => refusal(StatusCode::NOT_FOUND, "Not Found: method not found"),
    }
}

async fn file(State(shared): State<Arc<Shared>>, Path((bot, path)): Path<(String, String)>) -> Response {
    let mut inner = shared.lock();
    inner.file_requests += 1;
    if bot.strip_prefix("bot") != Some(shared.token.as_str()) {
        return (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
    }
    match inner.files.values().find(|(p, _)| *p == path) {
        Some((_, bytes)) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}
