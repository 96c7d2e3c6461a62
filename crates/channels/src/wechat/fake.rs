//! An in-process WeChat API for tests: `/cgi-bin/token` (counting fetches,
//! tokens that can be made to expire early), `/cgi-bin/message/custom/send`
//! checked as WeChat checks it (the token, the follower, a text) and
//! answered with WeChat's error codes on demand, `/cgi-bin/media/get`; and a
//! server address posted exactly as WeChat posts it (signed, and in safe mode
//! encrypted). Real HTTP on 127.0.0.1; stops when dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::crypto::{AesKey, sign};

#[derive(Default)]
struct Inner {
    /// Accepted customer-service messages, oldest first.
    sent: Vec<Value>,
    token: Option<String>,
    token_fetches: u32,
    expires_in: u64,
    /// Tokens WeChat no longer takes, with the code it answers.
    retired: HashMap<String, i64>,
    fail_next: VecDeque<i64>,
    media: HashMap<String, (Vec<u8>, String)>,
}

struct Shared {
    app_id: String,
    app_secret: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeWechat {
    shared: Arc<Shared>,
    base_url: String,
    token: String,
    aes_key: String,
    http: reqwest::Client,
    task: JoinHandle<()>,
}

impl Drop for FakeWechat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n).map(|_| char::from(CHARS[rand::random_range(0..CHARS.len())])).collect()
}

impl FakeWechat {
    pub async fn start() -> std::io::Result<FakeWechat> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            app_id: format!("wx{}", alnum(16).to_ascii_lowercase()),
            app_secret: alnum(32),
            inner: Mutex::new(Inner { expires_in: 7200, ..Inner::default() }),
        });
        let routes = Router::new()
            .route("/cgi-bin/token", get(token))
            .route("/cgi-bin/message/custom/send", post(custom_send))
            .route("/cgi-bin/media/get", get(media_get))
            .with_state(shared.clone());
        let base_url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, routes).await;
        });
        crate::ensure_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FakeWechat { shared, base_url, token: alnum(32), aes_key: alnum(43), http, task })
    }

    pub fn app_id(&self) -> &str {
        &self.shared.app_id
    }
    pub fn app_secret(&self) -> &str {
        &self.shared.app_secret
    }
    /// The server configuration's Token (signs what WeChat posts).
    pub fn token(&self) -> &str {
        &self.token
    }
    pub fn aes_key(&self) -> &str {
        &self.aes_key
    }
    /// Use as the inbox's `api_base`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every customer-service message accepted so far, as sent.
    pub fn sent(&self) -> Vec<Value> {
        self.shared.lock().sent.clone()
    }
    /// How many access tokens have been handed out.
    pub fn token_fetches(&self) -> u32 {
        self.shared.lock().token_fetches
    }
    /// The lifetime of tokens handed out from now on, in seconds.
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.lock().expires_in = secs;
    }
    /// WeChat stops taking the current token before its time, answering `code` (40001 or 42001).
    pub fn retire_token(&self, code: i64) {
        let mut inner = self.shared.lock();
        if let Some(t) = inner.token.take() {
            inner.retired.insert(t, code);
        }
    }
    /// The next sends are answered with these error codes.
    pub fn fail_next(&self, codes: &[i64]) {
        self.shared.lock().fail_next.extend(codes);
    }
    /// Keeps a follower's file as WeChat keeps it; returns its MediaId.
    pub fn host_media(&self, bytes: Vec<u8>, content_type: &str) -> String {
        let id = alnum(40);
        self.shared.lock().media.insert(id.clone(), (bytes, content_type.to_owned()));
        id
    }

    /// A message or event as WeChat writes it: the common fields and `inner`'s.
    pub fn xml(&self, openid: &str, msg_type: &str, inner: &[(&str, &str)]) -> String {
        let now = jiff::Timestamp::now().as_second();
        let mut xml = format!(
            "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{now}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        );
        for (k, v) in inner {
            if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
                xml.push_str(&format!("<{k}>{v}</{k}>"));
            } else {
                xml.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
            }
        }
        if msg_type != "event" {
            xml.push_str(&format!("<MsgId>{}</MsgId>", rand::random_range(10u64.pow(18)..9 * 10u64.pow(18))));
        }
        xml.push_str("</xml>");
        xml
    }

    /// The query WeChat signs a plain request with (`signature`, `timestamp`, `nonce`, `openid`).
    pub fn signed_query(&self, token: &str, openid: &str) -> (String, String, String) {
        let ts = jiff::Timestamp::now().as_second().to_string();
        let nonce = rand::random_range(100_000_000u32..999_999_999).to_string();
        let q = format!("signature={}&timestamp={ts}&nonce={nonce}&openid={openid}", sign(&[token, &ts, &nonce]));
        (q, ts, nonce)
    }

    /// Posts `xml` to `url` as WeChat does in plain text mode, signed with `token`.
    pub async fn post_plain(&self, url: &str, xml: &str, token: &str) -> reqwest::Result<reqwest::Response> {
        let (q, _, _) = self.signed_query(token, "o");
        self.post(&format!("{url}?{q}"), xml.to_owned()).await
    }

    /// Posts `xml` encrypted as WeChat does in safe mode, under `aes_key` for `app_id`.
    pub async fn post_safe(
        &self,
        url: &str,
        xml: &str,
        aes_key: &str,
        app_id: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let (q, ts, nonce) = self.signed_query(&self.token, "o");
        let encrypted = AesKey::parse(aes_key).map(|k| k.encrypt(xml, app_id, rand::random())).unwrap_or_default();
        let msg_signature = sign(&[&self.token, &ts, &nonce, &encrypted]);
        let body = format!(
            "<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        );
        self.post(&format!("{url}?{q}&encrypt_type=aes&msg_signature={msg_signature}"), body).await
    }

    /// Posts a body as it is to a full address.
    pub async fn post(&self, url: &str, body: String) -> reqwest::Result<reqwest::Response> {
        self.http.post(url).header(header::CONTENT_TYPE, "text/xml").body(body).send().await
    }
}

fn error(code: i64, msg: &str) -> Response {
    axum::Json(json!({ "errcode": code, "errmsg": format!("{msg} rid: {}", alnum(24)) })).into_response()
}

/// Whether `token` is the current one; else the code WeChat answers.
fn check_token(inner: &Inner, token: Option<&String>) -> Result<(), i64> {
    match token {
        Some(t) if inner.token.as_ref() == Some(t) => Ok(()),
        Some(t) => Err(inner.retired.get(t).copied().unwrap_or(40001)),
        None => Err(41001),
    }
}

async fn token(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("grant_type").map(String::as_str) != Some("client_credential") {
        return error(40002, "invalid grant_type");
    }
    if q.get("appid") != Some(&shared.app_id) {
        return error(40013, "invalid appid");
    }
    if q.get("secret") != Some(&shared.app_secret) {
        return error(40125, "invalid appsecret");
    }
    let mut inner = shared.lock();
    inner.token_fetches += 1;
    // As WeChat: a new token retires the old one.
    if let Some(old) = inner.token.take() {
        inner.retired.insert(old, 40001);
    }
    let t = alnum(120);
    inner.token = Some(t.clone());
    axum::Json(json!({ "access_token": t, "expires_in": inner.expires_in })).into_response()
}

async fn custom_send(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    raw: axum::body::Bytes,
) -> Response {
    // WeChat reads the body as JSON whatever its Content-Type says (wechatpy sends none).
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(47001, "data format error");
    };
    let mut inner = shared.lock();
    if let Err(code) = check_token(&inner, q.get("access_token")) {
        return error(code, "invalid credential, access_token is invalid or not latest");
    }
    if let Some(code) = inner.fail_next.pop_front() {
        return error(code, "refused");
    }
    let touser = body.get("touser").and_then(Value::as_str).unwrap_or_default();
    let well_formed = !touser.is_empty()
        && body.get("msgtype").and_then(Value::as_str) == Some("text")
        && body.pointer("/text/content").and_then(Value::as_str).is_some_and(|c| !c.is_empty() && c.len() <= 2048);
    if !well_formed {
        return error(40008, "invalid message type");
    }
    inner.sent.push(body);
    error(0, "ok")
}

async fn media_get(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let inner = shared.lock();
    if let Err(code) = check_token(&inner, q.get("access_token")) {
        return error(code, "invalid credential");
    }
    match q.get("media_id").and_then(|id| inner.media.get(id)) {
        Some((bytes, mime)) => ([(header::CONTENT_TYPE, mime.clone())], bytes.clone()).into_response(),
        None => (StatusCode::OK, axum::Json(json!({ "errcode": 40007, "errmsg": "invalid media_id" }))).into_response(),
    }
}
