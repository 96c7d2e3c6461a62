//! An in-process Twilio for tests: the REST API shapes the client uses
//! (send, list, account, media behind a redirect), failure injection, and
//! webhooks signed exactly as Twilio signs them. It serves real HTTP on
//! 127.0.0.1, so it also works for a server running in another process.
//! It runs as tasks on the runtime that started it: a test on a
//! current-thread runtime must await (not block) while the fake has to
//! answer. Dropping the fake stops it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::client::{TwilioConfig, ensure_crypto_provider, format_twilio_date};
use super::signature::{SIGNATURE_HEADER, compute_signature};

/// A message the fake accepted, as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSent {
    pub sid: String,
    /// Empty when sent through a messaging service.
    pub from: String,
    pub to: String,
    pub body: String,
    pub media_urls: Vec<String>,
    pub status_callback: Option<String>,
    pub messaging_service_sid: Option<String>,
}

struct Record {
    sent: FakeSent,
    date_created: Timestamp,
    seq: u64,
}

#[derive(Default)]
pub(super) struct Inner {
    sent: Vec<Record>,
    seq: u64,
    fail_next: VecDeque<(u16, Option<u32>)>,
    fail_to: HashMap<String, u32>,
    latency: Duration,
    media: HashMap<String, (Vec<u8>, String)>,
    storage_requests: u32,
    storage_saw_credentials: bool,
    pub(super) calls: Vec<super::fake_voice::FakeCall>,
}

pub(super) struct Shared {
    pub(super) account_sid: String,
    pub(super) auth_token: String,
    base_url: String,
    storage_url: String,
    inner: Mutex<Inner>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A test that panicked mid-request must not wedge the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeTwilio {
    pub(super) shared: Arc<Shared>,
    http: reqwest::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeTwilio {
    /// Starts the API and a separate media storage host (another port, so
    /// the redirect to it crosses hosts as Twilio's does).
    pub async fn start() -> std::io::Result<FakeTwilio> {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let storage = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            account_sid: format!("AC{}", hex32()),
            auth_token: hex32(),
            base_url: format!("http://{}", api.local_addr()?),
            storage_url: format!("http://{}", storage.local_addr()?),
            inner: Mutex::new(Inner::default()),
        });
        let api_routes = Router::new()
            .route("/2010-04-01/Accounts/{account}/Messages.json", get(list_messages).post(create_message))
            .route("/2010-04-01/Accounts/{account}", get(fetch_account))
            .route("/2010-04-01/Accounts/{account}/Calls.json", axum::routing::post(super::fake_voice::create_call))
            .route("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", get(fetch_media))
            .with_state(shared.clone());
        let storage_routes = Router::new().route("/media/{media}", get(storage_media)).with_state(shared.clone());
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(api, api_routes).await;
            }),
            tokio::spawn(async move {
                let _ = axum::serve(storage, storage_routes).await;
            }),
        ];
        ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(FakeTwilio { shared, http, tasks })
    }

    pub fn account_sid(&self) -> &str {
        &self.shared.account_sid
    }

    pub fn auth_token(&self) -> &str {
        &self.shared.auth_token
    }

    /// Use as `TwilioConfig::api_base`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// A client configuration pointing at this fake.
    pub fn config(&self) -> TwilioConfig {
        TwilioConfig {
            api_base: self.base_url().to_owned(),
            account_sid: self.account_sid().to_owned(),
            auth_token: self.auth_token().to_owned(),
            messaging_service_sid: None,
            media_policy: self.media_policy(),
        }
    }

    /// Allows the fake's two hosts (private: they run on 127.0.0.1), as a
    /// server's configuration names them.
    pub fn media_policy(&self) -> crate::net::FetchPolicy {
        crate::net::FetchPolicy::allowing(&self.private_hosts()).unwrap_or_default()
    }

    /// `host:port` of the API and of the media storage host.
    pub fn private_hosts(&self) -> Vec<String> {
        [&self.shared.base_url, &self.shared.storage_url]
            .iter()
            .map(|u| u.trim_start_matches("http://").to_owned())
            .collect()
    }

    /// Every message accepted so far, oldest first.
    pub fn sent(&self) -> Vec<FakeSent> {
        let inner = self.shared.lock();
        inner.sent.iter().map(|r| r.sent.clone()).collect()
    }

    /// Every message accepted so far with when it arrived, oldest first
    /// (the replies benchmark measures each sender's pace from these).
    pub fn sent_with_times(&self) -> Vec<(FakeSent, Timestamp)> {
        let inner = self.shared.lock();
        inner.sent.iter().map(|r| (r.sent.clone(), r.date_created)).collect()
    }

    /// The next `n` sends answer `http_status`, with Twilio's error JSON when
    /// `code` is given.
    pub fn fail_next(&self, n: usize, http_status: u16, code: Option<u32>) {
        let mut inner = self.shared.lock();
        inner.fail_next.extend(std::iter::repeat_n((http_status, code), n));
    }

    /// Every send to `number` is refused with `code` (HTTP 400).
    pub fn fail_to(&self, number: &str, code: u32) {
        self.shared.lock().fail_to.insert(number.to_owned(), code);
    }

    /// Delay every API answer by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// Records a message as sent by someone else (another process, an
    /// earlier run) at `date_created`. Returns its sid.
    pub fn add_sent(&self, from: &str, to: &str, body: &str, date_created: Timestamp) -> String {
        let sid = format!("SM{}", hex32());
        let mut inner = self.shared.lock();
        inner.seq += 1;
        let seq = inner.seq;
        inner.sent.push(Record {
            sent: FakeSent {
                sid: sid.clone(),
                from: from.to_owned(),
                to: to.to_owned(),
                body: body.to_owned(),
                media_urls: Vec::new(),
                status_callback: None,
                messaging_service_sid: None,
            },
            date_created,
            seq,
        });
        sid
    }

    /// Serves `bytes` as Twilio serves inbound media: the returned URL is on
    /// the API host, needs Basic auth, and redirects to a storage host.
    pub fn host_media(&self, bytes: Vec<u8>, content_type: &str) -> String {
        let media_sid = format!("ME{}", hex32());
        self.shared.lock().media.insert(media_sid.clone(), (bytes, content_type.to_owned()));
        format!(
            "{}/2010-04-01/Accounts/{}/Messages/MM{}/Media/{media_sid}",
            self.shared.base_url,
            self.shared.account_sid,
            hex32()
        )
    }

    /// Whether any request to the media storage host carried an
    /// Authorization header (Twilio's credentials must stay on its API host).
    pub fn storage_saw_credentials(&self) -> bool {
        self.shared.lock().storage_saw_credentials
    }

    /// How many requests reached the media storage host.
    pub fn storage_requests(&self) -> u32 {
        self.shared.lock().storage_requests
    }

    /// Posts a status callback for message `sid` to `callback_url`, signed as
    /// Twilio signs it.
    pub async fn post_status(
        &self,
        callback_url: &str,
        sid: &str,
        status: &str,
        error_code: Option<&str>,
    ) -> reqwest::Result<reqwest::Response> {
        let (from, to) = {
            let inner = self.shared.lock();
            inner
                .sent
                .iter()
                .find(|r| r.sent.sid == sid)
                .map(|r| (r.sent.from.clone(), r.sent.to.clone()))
                .unwrap_or_default()
        };
        let mut params = vec![
            ("SmsSid".to_owned(), sid.to_owned()),
            ("SmsStatus".to_owned(), status.to_owned()),
            ("MessageStatus".to_owned(), status.to_owned()),
            ("To".to_owned(), to),
            ("MessageSid".to_owned(), sid.to_owned()),
            ("AccountSid".to_owned(), self.shared.account_sid.clone()),
            ("From".to_owned(), from),
            ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
        ];
        if let Some(code) = error_code {
            params.push(("ErrorCode".to_owned(), code.to_owned()));
        }
        self.post_signed(callback_url, &params).await
    }

    /// The parameters Twilio posts for an incoming SMS from `from` to `to`.
    pub fn inbound_params(&self, from: &str, to: &str, body: &str) -> Vec<(String, String)> {
        let sid = format!("SM{}", hex32());
        [
            ("ToCountry", "US"),
            ("ToState", "CA"),
            ("SmsMessageSid", &sid),
            ("NumMedia", "0"),
            ("ToCity", ""),
            ("FromZip", ""),
            ("SmsSid", &sid),
            ("FromState", ""),
            ("SmsStatus", "received"),
            ("FromCity", ""),
            ("Body", body),
            ("FromCountry", "US"),
            ("To", to),
            ("ToZip", ""),
            ("NumSegments", "1"),
            ("MessageSid", &sid),
            ("AccountSid", &self.shared.account_sid),
            ("From", from),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// `inbound_params` for a message with attachments (URL, content type),
    /// e.g. from `host_media`.
    pub fn inbound_media_params(
        &self,
        from: &str,
        to: &str,
        body: &str,
        media: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        let mut params = self.inbound_params(from, to, body);
        params.retain(|(k, _)| k != "NumMedia");
        params.push(("NumMedia".to_owned(), media.len().to_string()));
        for (i, (url, content_type)) in media.iter().enumerate() {
            params.push((format!("MediaContentType{i}"), (*content_type).to_owned()));
            params.push((format!("MediaUrl{i}"), (*url).to_owned()));
        }
        params
    }

    /// Posts an incoming-message webhook with `params`, signed as Twilio signs it.
    pub async fn post_inbound(
        &self,
        webhook_url: &str,
        params: &[(String, String)],
    ) -> reqwest::Result<reqwest::Response> {
        self.post_signed(webhook_url, params).await
    }

    pub(super) async fn post_signed(
        &self,
        url: &str,
        params: &[(String, String)],
    ) -> reqwest::Result<reqwest::Response> {
        let signature = compute_signature(&self.shared.auth_token, url, params);
        self.http
            .post(url)
            .header(SIGNATURE_HEADER, signature)
            .header(header::USER_AGENT, "TwilioProxy/1.1")
            .form(params)
            .send()
            .await
    }
}

pub(super) fn hex32() -> String {
    format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>())
}

pub(super) fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The answer to a request without the right Basic auth, or for another
/// account; `None` when it may proceed.
pub(super) fn refuse(shared: &Shared, headers: &HeaderMap, account: &str) -> Option<Response> {
    let expected = format!("{}:{}", shared.account_sid, shared.auth_token);
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| BASE64.decode(b).ok());
    if given.as_deref() != Some(expected.as_bytes()) {
        return Some(twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate"));
    }
    if account != shared.account_sid {
        return Some(twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found"));
    }
    None
}

async fn delay(shared: &Shared) {
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

pub(super) fn is_e164(n: &str) -> bool {
    n.strip_prefix('+')
        .is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0'))
}

fn message_json(shared: &Shared, r: &Record) -> Value {
    let m = &r.sent;
    let date = format_twilio_date(r.date_created);
    json!({
        "account_sid": shared.account_sid,
        "api_version": "2010-04-01",
        "body": m.body,
        "date_created": date,
        "date_sent": Value::Null,
        "date_updated": date,
        "direction": "outbound-api",
        "error_code": Value::Null,
        "error_message": Value::Null,
        "from": if m.from.is_empty() { Value::Null } else { Value::from(m.from.clone()) },
        "messaging_service_sid": m.messaging_service_sid,
        "num_media": m.media_urls.len().to_string(),
        "num_segments": "1",
        "price": Value::Null,
        "price_unit": "USD",
        "sid": m.sid,
        "status": if m.messaging_service_sid.is_some() { "accepted" } else { "queued" },
        "subresource_uris": {
            "media": format!("/2010-04-01/Accounts/{}/Messages/{}/Media.json", shared.account_sid, m.sid),
        },
        "to": m.to,
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{}.json", shared.account_sid, m.sid),
    })
}

async fn create_message(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    delay(&shared).await;
    if let Some(r) = refuse(&shared, &headers, &account) {
        return r;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let one = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some((status, code)) = shared.lock().fail_next.pop_front() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return match code {
            Some(code) => twilio_error(status, code, "Injected failure"),
            None => status.into_response(),
        };
    }
    let to = one("To").unwrap_or_default();
    if to.is_empty() {
        return twilio_error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
    }
    if !is_e164(&to) {
        return twilio_error(StatusCode::BAD_REQUEST, 21211, "Invalid 'To' Phone Number");
    }
    if let Some(code) = shared.lock().fail_to.get(&to).copied() {
        return twilio_error(StatusCode::BAD_REQUEST, code, "Injected failure for this recipient");
    }
    let from = one("From").unwrap_or_default();
    let messaging_service_sid = one("MessagingServiceSid");
    if from.is_empty() && messaging_service_sid.is_none() {
        return twilio_error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
    }
    let media_urls: Vec<String> = form.iter().filter(|(k, _)| k == "MediaUrl").map(|(_, v)| v.clone()).collect();
    let body_text = one("Body").unwrap_or_default();
    if body_text.is_empty() && media_urls.is_empty() {
        return twilio_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    if body_text.chars().count() > 1600 {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    let sent = FakeSent {
        sid: format!("SM{}", hex32()),
        from,
        to,
        body: body_text,
        media_urls,
        status_callback: one("StatusCallback"),
        messaging_service_sid,
    };
    let json = {
        let mut inner = shared.lock();
        inner.seq += 1;
        let record = Record { sent, date_created: Timestamp::now(), seq: inner.seq };
        let json = message_json(&shared, &record);
        inner.sent.push(record);
        json
    };
    (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], json.to_string()).into_response()
}

async fn list_messages(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    delay(&shared).await;
    if let Some(r) = refuse(&shared, &headers, &account) {
        return r;
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let one = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let to = one("To");
    let from = one("From");
    let page_size: usize = one("PageSize").and_then(|s| s.parse().ok()).unwrap_or(50).clamp(1, 1000);
    let page: usize = one("Page").and_then(|s| s.parse().ok()).unwrap_or(0);
    let inner = shared.lock();
    let mut matching: Vec<&Record> = inner
        .sent
        .iter()
        .filter(|r| to.as_ref().is_none_or(|t| &r.sent.to == t))
        .filter(|r| from.as_ref().is_none_or(|f| &r.sent.from == f))
        .collect();
    // Newest first, as Twilio lists.
    matching.sort_by(|a, b| b.date_created.cmp(&a.date_created).then(b.seq.cmp(&a.seq)));
    let start = page.saturating_mul(page_size);
    let messages: Vec<Value> = matching.iter().skip(start).take(page_size).map(|r| message_json(&shared, r)).collect();
    let path = format!("/2010-04-01/Accounts/{}/Messages.json", shared.account_sid);
    let uri_for = |p: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(t) = &to {
            q.append_pair("To", t);
        }
        if let Some(f) = &from {
            q.append_pair("From", f);
        }
        q.append_pair("PageSize", &page_size.to_string());
        q.append_pair("Page", &p.to_string());
        format!("{path}?{}", q.finish())
    };
    let more = start.saturating_add(page_size) < matching.len();
    let body = json!({
        "messages": messages,
        "start": start,
        "end": start + messages.len().saturating_sub(1),
        "page": page,
        "page_size": page_size,
        "uri": uri_for(page),
        "first_page_uri": uri_for(0),
        "next_page_uri": if more { Value::from(uri_for(page + 1)) } else { Value::Null },
        "previous_page_uri": if page > 0 { Value::from(uri_for(page - 1)) } else { Value::Null },
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn fetch_account(State(shared): State<Arc<Shared>>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    delay(&shared).await;
    let Some(account) = file.strip_suffix(".json") else {
        return twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
    };
    if let Some(r) = refuse(&shared, &headers, account) {
        return r;
    }
    let body = json!({
        "sid": shared.account_sid,
        "friendly_name": "textdesk fake",
        "status": "active",
        "type": "Full",
    });
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn fetch_media(
    State(shared): State<Arc<Shared>>,
    Path((account, _message, media)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = refuse(&shared, &headers, &account) {
        return r;
    }
    if !shared.lock().media.contains_key(&media) {
        return twilio_error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
    }
    let location = format!("{}/media/{media}", shared.storage_url);
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response()
}

async fn storage_media(State(shared): State<Arc<Shared>>, Path(media): Path<String>, headers: HeaderMap) -> Response {
    let mut inner = shared.lock();
    inner.storage_requests += 1;
    if headers.contains_key(header::AUTHORIZATION) {
        inner.storage_saw_credentials = true;
    }
    match inner.media.get(&media) {
        Some((bytes, content_type)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type.clone())], bytes.clone()).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
