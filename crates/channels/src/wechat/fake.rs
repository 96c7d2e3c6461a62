//! An in-process WeChat API for tests, modelling the rules that bite: its own
//! clock (`advance`); `/cgi-bin/token`, where each fetch hands out a new token
//! and retires the one before five minutes later (two servers fetching on
//! their own knock each other out); `POST /cgi-bin/stable_token`, isolated
//! from it, which hands every caller the same token while it has more than
//! five minutes left (a new one in its last five, the old one still good until
//! it expires), and with `force_refresh` retires it at once (at most once in
//! 30 seconds); `/cgi-bin/media/upload` read as multipart the way WeChat reads
//! it (the `media` part, a file name, each type's formats and size limits);
//! `/cgi-bin/message/custom/send` checked as WeChat checks it (the token, a
//! text or an uploaded media id of the right type) and answered with WeChat's
//! error codes on demand; `/cgi-bin/media/get`; and a server address posted
//! exactly as WeChat posts it (signed, and in safe mode encrypted). Every call
//! refused for its token is counted. Real HTTP on 127.0.0.1; stops when dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Multipart, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::crypto::{AesKey, sign};

/// How long WeChat keeps taking a `/cgi-bin/token` token after a newer one was
/// fetched, and how early `stable_token` hands out the next one.
const OVERLAP_SECS: u64 = 300;
/// `stable_token`'s `force_refresh` is allowed once in this long.
const FORCE_GAP_SECS: u64 = 30;

/// One access token as WeChat keeps it, on the fake's clock (seconds).
struct Issued {
    expires_at: u64,
    /// From when it is refused, and with which code.
    retired: Option<(u64, i64)>,
}

/// A file uploaded to `/cgi-bin/media/upload`, as WeChat received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The `type` asked for: image, voice, video or thumb.
    pub kind: String,
    pub media_id: String,
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Inner {
    /// Accepted customer-service messages, oldest first.
    sent: Vec<Value>,
    /// Seconds the fake's clock has been moved on.
    skipped: u64,
    tokens: HashMap<String, Issued>,
    /// The newest `/cgi-bin/token` token, and `stable_token`'s current one.
    basic: Option<String>,
    stable: Option<String>,
    last_force: Option<u64>,
    token_fetches: u32,
    tokens_issued: u32,
    refused: u32,
    expires_in: u64,
    fail_next: VecDeque<i64>,
    media: HashMap<String, (Vec<u8>, String)>,
    uploads: Vec<Upload>,
}

struct Shared {
    app_id: String,
    app_secret: String,
    started: Instant,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn issue(&mut self, now: u64) -> String {
        let t = alnum(120);
        self.tokens.insert(t.clone(), Issued { expires_at: now + self.expires_in, retired: None });
        self.tokens_issued += 1;
        t
    }

    fn retire(&mut self, token: &str, from: u64, code: i64) {
        if let Some(issued) = self.tokens.get_mut(token)
            && issued.retired.is_none_or(|(at, _)| at > from)
        {
            issued.retired = Some((from, code));
        }
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
            started: Instant::now(),
            inner: Mutex::new(Inner { expires_in: 7200, ..Inner::default() }),
        });
        let routes = Router::new()
            .route("/cgi-bin/token", get(token))
            .route("/cgi-bin/stable_token", post(stable_token))
            .route("/cgi-bin/message/custom/send", post(custom_send))
            .route("/cgi-bin/media/upload", post(media_upload))
            .route("/cgi-bin/media/get", get(media_get))
            // WeChat's limit for a video is 10 MB; the multipart reader may take a little more.
            .layer(axum::extract::DefaultBodyLimit::max(12 * 1024 * 1024))
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
    /// Every file uploaded so far.
    pub fn uploads(&self) -> Vec<Upload> {
        self.shared.lock().uploads.clone()
    }
    /// How many times a token was asked for (either way).
    pub fn token_fetches(&self) -> u32 {
        self.shared.lock().token_fetches
    }
    /// How many different tokens were handed out.
    pub fn tokens_issued(&self) -> u32 {
        self.shared.lock().tokens_issued
    }
    /// How many calls were refused because their token was missing, retired or expired.
    pub fn refused(&self) -> u32 {
        self.shared.lock().refused
    }
    /// Moves WeChat's clock on (tokens expire and retire by it).
    pub fn advance(&self, by: Duration) {
        self.shared.lock().skipped += by.as_secs();
    }
    /// The lifetime of tokens handed out from now on, in seconds.
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.lock().expires_in = secs;
    }
    /// WeChat stops taking the current stable token before its time, answering
    /// `code` (40001 or 42001), as when another program forces a refresh.
    pub fn retire_token(&self, code: i64) {
        let now = self.shared.now();
        let mut inner = self.shared.lock();
        if let Some(t) = inner.stable.take() {
            inner.retire(&t, now, code);
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

impl Shared {
    /// The fake's clock, in seconds.
    fn now(&self) -> u64 {
        self.started.elapsed().as_secs() + self.lock().skipped
    }

    /// Whether `token` is good now; else the code WeChat answers (and the refusal is counted).
    fn check_token(&self, token: Option<&String>) -> Result<(), i64> {
        let now = self.now();
        let mut inner = self.lock();
        let verdict = match token.map(|t| inner.tokens.get(t)) {
            None => Err(41001),
            Some(None) => Err(40001),
            Some(Some(issued)) => match issued.retired {
                Some((at, code)) if now >= at => Err(code),
                _ if now >= issued.expires_at => Err(42001),
                _ => Ok(()),
            },
        };
        if verdict.is_err() {
            inner.refused += 1;
        }
        verdict
    }

    fn check_credentials(
        &self,
        grant_type: Option<&str>,
        app_id: Option<&str>,
        secret: Option<&str>,
    ) -> Result<(), (i64, &'static str)> {
        if grant_type != Some("client_credential") {
            return Err((40002, "invalid grant_type"));
        }
        if app_id != Some(self.app_id.as_str()) {
            return Err((40013, "invalid appid"));
        }
        if secret != Some(self.app_secret.as_str()) {
            return Err((40125, "invalid appsecret"));
        }
        Ok(())
    }
}

fn token_answer(token: &str, expires_in: u64) -> Response {
    axum::Json(json!({ "access_token": token, "expires_in": expires_in })).into_response()
}

async fn token(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let field = |k: &str| q.get(k).map(String::as_str);
    if let Err((code, msg)) = shared.check_credentials(field("grant_type"), field("appid"), field("secret")) {
        return error(code, msg);
    }
    let now = shared.now();
    let mut inner = shared.lock();
    inner.token_fetches += 1;
    // As WeChat: a new token retires the one before, five minutes later.
    if let Some(old) = inner.basic.take() {
        inner.retire(&old, now + OVERLAP_SECS, 40001);
    }
    let t = inner.issue(now);
    inner.basic = Some(t.clone());
    token_answer(&t, inner.expires_in)
}

async fn stable_token(State(shared): State<Arc<Shared>>, raw: axum::body::Bytes) -> Response {
    // WeChat takes this one as a JSON body only.
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return error(47001, "data format error");
    };
    let field = |k: &str| body.get(k).and_then(Value::as_str);
    if let Err((code, msg)) = shared.check_credentials(field("grant_type"), field("appid"), field("secret")) {
        return error(code, msg);
    }
    let force = match body.get("force_refresh") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return error(47001, "data format error"),
    };
    let now = shared.now();
    let mut inner = shared.lock();
    inner.token_fetches += 1;
    if force {
        if inner.last_force.is_some_and(|at| now < at + FORCE_GAP_SECS) {
            return error(45011, "api minute-quota reach limit  mustslower  retry next time");
        }
        inner.last_force = Some(now);
        if let Some(old) = inner.stable.take() {
            inner.retire(&old, now, 40001);
        }
    }
    // The current one while it has more than five minutes left; then a new one.
    let current = inner.stable.clone().and_then(|t| {
        let issued = inner.tokens.get(&t)?;
        let usable = issued.retired.is_none_or(|(at, _)| at > now) && issued.expires_at > now + OVERLAP_SECS;
        usable.then(|| (t, issued.expires_at - now))
    });
    let (t, left) = match current {
        Some(found) => found,
        None => {
            let t = inner.issue(now);
            inner.stable = Some(t.clone());
            (t, inner.expires_in)
        }
    };
    token_answer(&t, left)
}

fn jpeg(b: &[u8]) -> bool {
    b.starts_with(b"\xff\xd8\xff")
}
fn picture(b: &[u8]) -> bool {
    jpeg(b) || b.starts_with(b"\x89PNG\r\n\x1a\n") || b.starts_with(b"GIF8")
}
fn voice(b: &[u8]) -> bool {
    // AMR, or MP3 (an ID3 tag or a frame's sync bits).
    b.starts_with(b"#!AMR") || b.starts_with(b"ID3") || (b.len() > 1 && b[0] == 0xff && b[1] & 0xe0 == 0xe0)
}
fn mp4(b: &[u8]) -> bool {
    b.get(4..8) == Some(b"ftyp")
}

/// Whether a file's first bytes are of a format an upload type takes.
type Sniff = fn(&[u8]) -> bool;

/// Which files WeChat takes as each upload type, how large, and its code for one too large.
fn upload_rule(kind: &str) -> Option<(Sniff, usize, i64)> {
    match kind {
        "image" => Some((picture, 10 * 1024 * 1024, 40009)),
        "voice" => Some((voice, 2 * 1024 * 1024, 40010)),
        "video" => Some((mp4, 10 * 1024 * 1024, 40011)),
        "thumb" => Some((jpeg, 64 * 1024, 40012)),
        _ => None,
    }
}

async fn media_upload(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    if let Err(code) = shared.check_token(q.get("access_token")) {
        return error(code, "invalid credential, access_token is invalid or not latest");
    }
    let kind = q.get("type").cloned().unwrap_or_default();
    let Some((looks_right, max, too_large)) = upload_rule(&kind) else {
        return error(40004, "invalid media type");
    };
    let Ok(mut multipart) = multipart else {
        return error(41005, "media data missing");
    };
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                if field.name() != Some("media") {
                    continue;
                }
                let name = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().unwrap_or_default().to_owned();
                let Ok(bytes) = field.bytes().await else { return error(41005, "media data missing") };
                if file.replace((name, content_type, bytes.to_vec())).is_some() {
                    return error(40005, "invalid file type");
                }
            }
            Ok(None) => break,
            Err(_) => return error(41005, "media data missing"),
        }
    }
    let Some((file_name, content_type, bytes)) = file else {
        return error(41005, "media data missing");
    };
    // WeChat goes by the file name's extension as well as the contents.
    let extension_known = file_name.rsplit_once('.').is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty());
    if bytes.is_empty() || !extension_known || !looks_right(&bytes) {
        return error(40005, "invalid file type");
    }
    if bytes.len() > max {
        return error(too_large, "invalid file size");
    }
    let media_id = alnum(64);
    let created_at = jiff::Timestamp::now().as_second();
    let mut inner = shared.lock();
    inner.uploads.push(Upload { kind: kind.clone(), media_id: media_id.clone(), file_name, content_type, bytes });
    axum::Json(json!({ "type": kind, "media_id": media_id, "created_at": created_at })).into_response()
}

/// Whether `body` is a customer-service message WeChat would take, given what was uploaded.
fn well_formed(body: &Value, uploads: &[Upload]) -> bool {
    let touser = body.get("touser").and_then(Value::as_str).unwrap_or_default();
    let Some(msgtype) = body.get("msgtype").and_then(Value::as_str) else { return false };
    let uploaded = |id: Option<&Value>, kind: &str| {
        id.and_then(Value::as_str).is_some_and(|id| uploads.iter().any(|u| u.media_id == id && u.kind == kind))
    };
    !touser.is_empty()
        && match msgtype {
            "text" => {
                body.pointer("/text/content").and_then(Value::as_str).is_some_and(|c| !c.is_empty() && c.len() <= 2048)
            }
            "image" | "voice" | "video" => uploaded(body.pointer(&format!("/{msgtype}/media_id")), msgtype),
            _ => false,
        }
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
    if let Err(code) = shared.check_token(q.get("access_token")) {
        return error(code, "invalid credential, access_token is invalid or not latest");
    }
    let mut inner = shared.lock();
    if let Some(code) = inner.fail_next.pop_front() {
        return error(code, "refused");
    }
    if !well_formed(&body, &inner.uploads) {
        return error(40008, "invalid message type");
    }
    inner.sent.push(body);
    error(0, "ok")
}

async fn media_get(State(shared): State<Arc<Shared>>, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Err(code) = shared.check_token(q.get("access_token")) {
        return error(code, "invalid credential");
    }
    let inner = shared.lock();
    match q.get("media_id").and_then(|id| inner.media.get(id)) {
        Some((bytes, mime)) => ([(header::CONTENT_TYPE, mime.clone())], bytes.clone()).into_response(),
        None => (StatusCode::OK, axum::Json(json!({ "errcode": 40007, "errmsg": "invalid media_id" }))).into_response(),
    }
}
