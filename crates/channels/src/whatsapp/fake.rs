//! An in-process Graph API for WhatsApp tests: sending (`/{phone}/messages`,
//! answering as Meta does, or with Meta-shaped errors on demand), the phone
//! number (the credential check), the account's templates (paged), media by
//! id on a separate storage host that wants the token, and webhooks posted
//! exactly as Meta posts them (signed with the app secret). Real HTTP on
//! 127.0.0.1; it runs as tasks of the runtime that started it, and stops
//! when dropped.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::client::{DEFAULT_API_VERSION, WhatsAppConfig, media_kind};
use crate::meta::{SIGNATURE_HEADER, compute_signature};

#[derive(Default)]
struct Inner {
    /// Each accepted request body, with the id it was given.
    sent: Vec<(String, Value)>,
    seq: u64,
    fail_next: VecDeque<(u16, u64)>,
    templates: Vec<Value>,
    page_size: usize,
    media: HashMap<String, (Vec<u8>, String)>,
    storage_requests: u32,
    storage_saw_token: bool,
}

struct Shared {
    phone_number_id: String,
    waba_id: String,
    access_token: String,
    base_url: String,
    storage_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeWhatsApp {
    shared: Arc<Shared>,
    app_secret: String,
    verify_token: String,
    http: reqwest::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeWhatsApp {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
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

impl FakeWhatsApp {
    pub async fn start() -> std::io::Result<FakeWhatsApp> {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let storage = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            phone_number_id: digits(15),
            waba_id: digits(15),
            access_token: format!("EAAG{}", hex(40)),
            base_url: format!("http://{}", api.local_addr()?),
            storage_url: format!("http://{}", storage.local_addr()?),
            inner: Mutex::new(Inner { page_size: 100, ..Inner::default() }),
        });
        let api_routes = Router::new()
            .route("/{version}/{id}/messages", post(send_message))
            .route("/{version}/{id}/message_templates", get(list_templates))
            .route("/{version}/{id}", get(fetch_node))
            .with_state(shared.clone());
        let storage_routes = Router::new().route("/media/{id}", get(storage_media)).with_state(shared.clone());
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(api, api_routes).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(storage, storage_routes).await;
            }),
        ];
        crate::twilio::client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FakeWhatsApp { shared, app_secret: hex(32), verify_token: hex(24), http, tasks })
    }

    pub fn phone_number_id(&self) -> &str {
        &self.shared.phone_number_id
    }
    pub fn waba_id(&self) -> &str {
        &self.shared.waba_id
    }
    pub fn access_token(&self) -> &str {
        &self.shared.access_token
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
    /// `{base}/{version}`: where media ids are looked up.
    pub fn api_base(&self) -> String {
        format!("{}/{DEFAULT_API_VERSION}", self.shared.base_url)
    }

    /// `host:port` of the API and of the media storage host (both on 127.0.0.1).
    pub fn private_hosts(&self) -> Vec<String> {
        [&self.shared.base_url, &self.shared.storage_url]
            .iter()
            .map(|u| u.trim_start_matches("http://").to_owned())
            .collect()
    }

    pub fn media_policy(&self) -> crate::net::FetchPolicy {
        crate::net::FetchPolicy::allowing(&self.private_hosts()).unwrap_or_default()
    }

    /// A client configuration pointing at this fake.
    pub fn config(&self) -> WhatsAppConfig {
        WhatsAppConfig {
            graph_base: self.base_url().to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            phone_number_id: self.phone_number_id().to_owned(),
            waba_id: self.waba_id().to_owned(),
            access_token: self.access_token().to_owned(),
            media_policy: self.media_policy(),
        }
    }

    /// Every message request accepted so far, oldest first: (wamid, body as sent).
    pub fn sent(&self) -> Vec<(String, Value)> {
        self.shared.lock().sent.clone()
    }

    /// The next `n` sends are refused with HTTP `status` and Meta's error `code`.
    pub fn fail_next(&self, n: usize, status: u16, code: u64) {
        self.shared.lock().fail_next.extend(std::iter::repeat_n((status, code), n));
    }

    /// A template in the account, as Meta lists it.
    pub fn add_template(&self, name: &str, language: &str, status: &str, category: &str, body: &str) {
        let t = json!({
            "name": name, "language": language, "status": status, "category": category, "id": digits(15),
            "components": [{ "type": "HEADER", "format": "TEXT", "text": "textdesk" }, { "type": "BODY", "text": body }]
        });
        self.shared.lock().templates.push(t);
    }

    /// An approved template with these components, as Meta lists it
    /// (`HEADER`, `BODY`, `BUTTONS`…); sends of it are checked against them.
    pub fn add_template_with(&self, name: &str, language: &str, components: Value) {
        let t = json!({ "name": name, "language": language, "status": "APPROVED", "category": "UTILITY",
                        "id": digits(15), "components": components });
        self.shared.lock().templates.push(t);
    }

    /// How many templates one page lists at most (to exercise paging).
    pub fn set_page_size(&self, n: usize) {
        self.shared.lock().page_size = n.max(1);
    }

    /// Keeps a file as Meta keeps a customer's media; returns its media id.
    pub fn host_media(&self, bytes: Vec<u8>, content_type: &str) -> String {
        let id = digits(16);
        self.shared.lock().media.insert(id.clone(), (bytes, content_type.to_owned()));
        id
    }

    pub fn storage_requests(&self) -> u32 {
        self.shared.lock().storage_requests
    }
    /// Whether every storage request carried the access token.
    pub fn storage_saw_token(&self) -> bool {
        self.shared.lock().storage_saw_token
    }

    /// The webhook body Meta posts for `messages` from a customer (`wa_id` digits, profile name).
    pub fn messages_payload(&self, wa_id: &str, name: &str, messages: Vec<Value>) -> Value {
        self.envelope(json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": self.phone_number_id() },
            "contacts": [{ "profile": { "name": name }, "wa_id": wa_id, "user_id": format!("US.{}", digits(20)) }],
            "messages": messages
        }))
    }

    /// The webhook body Meta posts for `statuses` of messages we sent.
    pub fn statuses_payload(&self, statuses: Vec<Value>) -> Value {
        self.envelope(json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": self.phone_number_id() },
            "statuses": statuses
        }))
    }

    fn envelope(&self, value: Value) -> Value {
        json!({ "object": "whatsapp_business_account",
                "entry": [{ "id": self.waba_id(), "changes": [{ "value": value, "field": "messages" }] }] })
    }

    /// One status of a message we sent, as Meta words it; `error` is (code, title, details).
    pub fn status(wamid: &str, status: &str, recipient: &str, error: Option<(u64, &str, &str)>) -> Value {
        let mut s = json!({ "id": wamid, "status": status, "timestamp": jiff::Timestamp::now().as_second().to_string(),
                            "recipient_id": recipient });
        if let Some((code, title, details)) = error {
            s["errors"] = json!([{ "code": code, "title": title, "message": title,
                                   "error_data": { "details": details }, "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/" }]);
        }
        s
    }

    /// A customer's message of `kind` with its object, sent now, with a fresh id.
    pub fn message(wa_id: &str, kind: &str, content: Value) -> Value {
        json!({ "from": wa_id, "id": format!("wamid.{}", hex(32)), "timestamp": jiff::Timestamp::now().as_second().to_string(),
                "type": kind, kind: content })
    }

    /// Posts `body` to `url` signed as Meta signs it.
    pub async fn post_webhook(&self, url: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        let raw = serde_json::to_vec(body).unwrap_or_default();
        self.post_raw(url, raw, Some(&self.app_secret)).await
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

fn meta_error(status: StatusCode, code: u64, message: &str) -> Response {
    let body = json!({ "error": { "message": message, "type": "OAuthException", "code": code,
                                  "error_subcode": 2494010, "fbtrace_id": format!("A{}", hex(22)) } });
    (status, axum::Json(body)).into_response()
}

fn token_ok(shared: &Shared, headers: &HeaderMap) -> bool {
    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", shared.access_token))
}

fn bad_token() -> Response {
    meta_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token - Cannot parse access token")
}

fn no_such_object() -> Response {
    meta_error(
        StatusCode::BAD_REQUEST,
        100,
        "Unsupported get request. Object does not exist, cannot be loaded due to missing permissions, or does not support this operation",
    )
}

async fn send_message(
    State(shared): State<Arc<Shared>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !token_ok(&shared, &headers) {
        return bad_token();
    }
    if id != shared.phone_number_id {
        return no_such_object();
    }
    if let Some((status, code)) = shared.lock().fail_next.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return meta_error(status, code, "(#131047) Re-engagement message");
    }
    // What Meta itself checks before taking a message.
    let to = body.get("to").and_then(Value::as_str).unwrap_or_default().to_owned();
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("text").to_owned();
    let well_formed = body.get("messaging_product") == Some(&json!("whatsapp"))
        && !to.is_empty()
        && to.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit())
        && match kind.as_str() {
            "text" => body.pointer("/text/body").and_then(Value::as_str).is_some_and(|b| !b.is_empty()),
            "template" => body.pointer("/template/name").is_some() && body.pointer("/template/language/code").is_some(),
            "image" | "video" | "audio" | "document" | "sticker" => {
                body.pointer(&format!("/{kind}/link")).and_then(Value::as_str).is_some_and(|l| l.starts_with("http"))
            }
            _ => false,
        };
    if !well_formed {
        return meta_error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter");
    }
    if kind == "template" && !template_matches(&shared.lock().templates, &body["template"]) {
        return meta_error(
            StatusCode::BAD_REQUEST,
            132000,
            "(#132000) Number of parameters does not match the expected number of params",
        );
    }
    let mut inner = shared.lock();
    inner.seq += 1;
    let wamid = format!("wamid.HBgL{}{:04}", hex(24), inner.seq);
    inner.sent.push((wamid.clone(), body));
    let input = to.clone();
    axum::Json(
        json!({ "messaging_product": "whatsapp", "contacts": [{ "input": input, "wa_id": to.trim_start_matches('+') }],
                       "messages": [{ "id": wamid }] }),
    )
    .into_response()
}

/// Whether a template send gives what the template (when the fake holds it)
/// takes, as Meta checks it: one header parameter of the header's kind (a
/// file by https link), a text parameter per body variable, and a URL
/// button's ending where its address has a variable; quick-reply payloads are
/// optional. A template the fake does not hold is taken as it is.
fn template_matches(templates: &[Value], sent: &Value) -> bool {
    let Some(t) = templates.iter().find(|t| t["name"] == sent["name"] && t["language"] == sent["language"]["code"])
    else {
        return true;
    };
    let listed = t["components"].as_array().cloned().unwrap_or_default();
    let given = sent["components"].as_array().cloned().unwrap_or_default();
    let of = |list: &[Value], kind: &str| -> Vec<Value> {
        list.iter().filter(|c| c["type"].as_str().is_some_and(|k| k.eq_ignore_ascii_case(kind))).cloned().collect()
    };
    let vars = |text: &str| (1..=20).filter(|n| text.contains(&format!("{{{{{n}}}}}"))).count();
    let params = |c: Option<&Value>| c.and_then(|c| c["parameters"].as_array().cloned()).unwrap_or_default();
    // The header.
    let header_given = params(of(&given, "header").first());
    let header_ok = match of(&listed, "header").first() {
        None => header_given.is_empty(),
        Some(h) => match h["format"].as_str().unwrap_or("TEXT").to_ascii_lowercase().as_str() {
            "text" => {
                let n = vars(h["text"].as_str().unwrap_or_default());
                header_given.len() == n
                    && header_given.iter().all(|p| {
                        p["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("text")) && p["text"].is_string()
                    })
            }
            kind => {
                header_given.len() == 1
                    && header_given[0]["type"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(kind))
                    && header_given[0][kind]["link"].as_str().is_some_and(|l| l.starts_with("https://"))
            }
        },
    };
    // The body.
    let body_vars = of(&listed, "body").first().map(|b| vars(b["text"].as_str().unwrap_or_default())).unwrap_or(0);
    let body_ok = params(of(&given, "body").first()).len() == body_vars;
    // The buttons, by index.
    let buttons = of(&listed, "buttons").first().and_then(|b| b["buttons"].as_array().cloned()).unwrap_or_default();
    let given_buttons = of(&given, "button");
    // Meta documents the index as a string ("0") and takes a number too (pywa sends one).
    let index_of = |g: &Value| {
        g["index"].as_str().and_then(|i| i.parse::<usize>().ok()).or(g["index"].as_u64().map(|i| i as usize))
    };
    let lower = |v: &Value| v.as_str().unwrap_or_default().to_ascii_lowercase();
    let each_ok = given_buttons.iter().all(|g| {
        let Some(b) = index_of(g).and_then(|i| buttons.get(i)) else {
            return false;
        };
        let p = params(Some(g));
        match (lower(&b["type"]).as_str(), lower(&g["sub_type"]).as_str()) {
            ("quick_reply", "quick_reply") => {
                p.len() == 1 && lower(&p[0]["type"]) == "payload" && p[0]["payload"].is_string()
            }
            ("url", "url") => p.len() == 1 && lower(&p[0]["type"]) == "text" && p[0]["text"].is_string(),
            _ => false,
        }
    });
    let urls_ok = buttons.iter().enumerate().all(|(i, b)| {
        lower(&b["type"]) != "url"
            || vars(b["url"].as_str().unwrap_or_default()) == 0
            || given_buttons.iter().any(|g| index_of(g) == Some(i))
    });
    header_ok && body_ok && each_ok && urls_ok
}

async fn fetch_node(
    State(shared): State<Arc<Shared>>,
    Path((_version, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !token_ok(&shared, &headers) {
        return bad_token();
    }
    if id == shared.phone_number_id {
        return axum::Json(
            json!({ "verified_name": "Test Dental", "display_phone_number": "+1 555-078-3881", "id": id }),
        )
        .into_response();
    }
    let inner = shared.lock();
    match inner.media.get(&id) {
        Some((bytes, mime)) => axum::Json(json!({
            "messaging_product": "whatsapp", "url": format!("{}/media/{id}?ext=1", shared.storage_url),
            "mime_type": mime, "sha256": hex(64), "file_size": bytes.len(), "id": id
        }))
        .into_response(),
        None => no_such_object(),
    }
}

async fn list_templates(
    State(shared): State<Arc<Shared>>,
    Path((version, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !token_ok(&shared, &headers) {
        return bad_token();
    }
    if id != shared.waba_id {
        return no_such_object();
    }
    let inner = shared.lock();
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(25).min(inner.page_size).max(1);
    let after = q.get("after").and_then(|a| a.parse::<usize>().ok()).unwrap_or(0);
    let page: Vec<Value> = inner.templates.iter().skip(after).take(limit).cloned().collect();
    let mut body = json!({ "data": page, "paging": { "cursors": { "before": "MAZDZD", "after": "MjQZD" } } });
    if after + limit < inner.templates.len() {
        body["paging"]["next"] = json!(format!(
            "{}/{version}/{id}/message_templates?fields=name,language,status,category,components&limit={limit}&after={}",
            shared.base_url,
            after + limit
        ));
    }
    axum::Json(body).into_response()
}

async fn storage_media(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let mut inner = shared.lock();
    inner.storage_requests += 1;
    let with_token = token_ok(&shared, &headers);
    inner.storage_saw_token = (inner.storage_requests == 1 || inner.storage_saw_token) && with_token;
    if !with_token {
        return (StatusCode::UNAUTHORIZED, "token required").into_response();
    }
    match inner.media.get(&id) {
        Some((bytes, mime)) => ([(header::CONTENT_TYPE, mime.clone())], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The kind of message the fake would record for a file of this type (for tests' expectations).
pub fn kind_for(content_type: &str) -> &'static str {
    media_kind(content_type)
}
