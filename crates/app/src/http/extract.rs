//! Extractors: JSON, path and query that fail as problem details; the client's
//! address; the API's bearer-token user; the UI's session user and its CSRF
//! check; the sign-in forms' CSRF check before there is a session.

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;
use subtle::ConstantTimeEq;
use textdesk_core::Role;
use textdesk_store::User;

use crate::http::problem::Problem;
use crate::http::state::AppState;

/// A JSON request body. Every body the API takes is an object: serde would
/// also read a struct from an array of its fields in order, which the API
/// document does not allow, so anything but an object is refused.
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Problem> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state).await?;
        let malformed = |detail: String| {
            Problem::new(axum::http::StatusCode::BAD_REQUEST, "malformed", "Malformed request body", detail)
        };
        if !value.is_object() {
            return Err(malformed("the request body must be a JSON object".into()));
        }
        serde_json::from_value(whole_numbers(value)).map(Json).map_err(|e| malformed(format!("the request body: {e}")))
    }
}

/// `12.0` is the integer 12 to JSON Schema (and to JavaScript, which writes
/// it so); serde would refuse it for an integer field. Up to 2^53 every
/// whole float is exactly its integer (schemathesis sent -9007199254740991.0,
/// which the earlier bound of 9e15 left a float: a 400 for a valid body).
pub(crate) fn whole_numbers(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    /// 2^53: the largest float below which every integer is exact.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() <= EXACT => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(whole_numbers).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, whole_numbers(v))).collect()),
        other => other,
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct Query<T>(pub T);

/// The client's address: the connection's, or, from a trusted reverse proxy,
/// the one it forwarded (`Config::trusted_proxies`).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let forwarded: Vec<&str> =
            parts.headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        Ok(ClientIp(state.config.trusted_proxies.client(peer, &forwarded)))
    }
}

/// The user behind an `Authorization: Bearer` API token. An address that sent
/// too many bad tokens is refused (429) before its next one is looked at.
pub struct ApiUser(pub User);

/// The API caller of an operation for admins only; [`ApiSupervisor`] for
/// supervisors and admins. Every such handler takes one of these, first among
/// its extractors (axum runs them in order): the role is checked from the
/// token alone, so a caller who may not call the operation gets 403 whatever
/// path, query or body they sent, and learns nothing about what a valid
/// request would look like.
pub struct ApiAdmin(pub User);

/// The API caller of an operation for supervisors and admins (see [`ApiAdmin`]).
pub struct ApiSupervisor(pub User);

async fn api_user_at_least(parts: &mut Parts, state: &AppState, role: Role) -> Result<User, Problem> {
    let ApiUser(u) = ApiUser::from_request_parts(parts, state).await?;
    if u.role.at_least(role) { Ok(u) } else { Err(Problem::forbidden(format!("this needs the {role} role"))) }
}

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        api_user_at_least(parts, state, Role::Admin).await.map(ApiAdmin)
    }
}

impl FromRequestParts<AppState> for ApiSupervisor {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        api_user_at_least(parts, state, Role::Supervisor).await.map(ApiSupervisor)
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| Problem::unauthorized("send an API token as Authorization: Bearer <token>"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Problem::unauthorized("the Authorization header must be Bearer <token>"))?;
        let limits = &state.services.limits;
        limits.check(ip, Instant::now()).map_err(Problem::refused)?;
        match state.services.token_user(token).await? {
            // The token's account is the request's: every account is served here.
            Some(u) => Ok(ApiUser(u)),
            None => {
                limits.charge(ip, Instant::now()).map_err(Problem::refused)?;
                Err(Problem::unauthorized("the API token is not valid"))
            }
        }
    }
}

pub const SESSION_COOKIE: &str = "textdesk_session";

/// The request's `Host` header: which account's host name it came to, if any.
pub fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A form whose CSRF token or origin did not check out.
#[derive(Debug)]
pub struct CsrfRejected;

impl IntoResponse for CsrfRejected {
    fn into_response(self) -> Response {
        let msg = "this form has expired or did not come from this site. Go back, reload the page and try again";
        Problem::new(axum::http::StatusCode::FORBIDDEN, "form-expired", "Form expired", msg).into_response()
    }
}

/// A state-changing form from someone signed in: their session's user and the
/// form, once its `csrf` field matches the session's token and a browser's
/// Origin (when sent) is ours. Every form that changes something takes this,
/// so none can forget the check.
pub struct CsrfForm<T>(pub UiUser, pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let ui = UiUser::from_request_parts(&mut parts, s).await?;
        let bytes = axum::body::to_bytes(body, s.config.max_body_bytes).await.map_err(|_| {
            Problem::new(axum::http::StatusCode::PAYLOAD_TOO_LARGE, "too-large", "Too large", "the form is too large")
                .into_response()
        })?;
        let csrf = url::form_urlencoded::parse(&bytes).find(|(k, _)| k == "csrf").map(|(_, v)| v.into_owned());
        ui.check_csrf(&parts.headers, csrf.as_deref().unwrap_or(""), &s.config.public_url)
            .map_err(IntoResponse::into_response)?;
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let axum::Form(form) = axum::Form::<T>::from_request(req, s).await.map_err(IntoResponse::into_response)?;
        Ok(CsrfForm(ui, form))
    }
}

/// What a multipart form may carry beside its files.
pub const FORM_SLACK: usize = 64 * 1024;

/// A file from a form.
pub struct FormFile {
    pub content_type: String,
    pub bytes: axum::body::Bytes,
}

/// A multipart form's text fields and files (file inputs left empty are skipped).
#[derive(Default)]
pub struct FormParts {
    pub fields: Vec<(String, String)>,
    pub files: Vec<FormFile>,
}

impl FormParts {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A multipart form from a provider (no session): its fields and files, up to `max_bytes` a file.
pub(crate) async fn provider_form(form: axum::extract::Multipart, max_bytes: u64) -> Result<FormParts, Problem> {
    read_form_parts(form, max_bytes).await
}

async fn read_form_parts(mut form: axum::extract::Multipart, max_bytes: u64) -> Result<FormParts, Problem> {
    let too_large = || {
        Problem::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "File too large",
            format!("a file may be at most {}", crate::services::media::human_size(max_bytes)),
        )
    };
    let broken = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            Problem::new(axum::http::StatusCode::BAD_REQUEST, "malformed", "Malformed form", e.body_text())
        }
    };
    let mut parts = FormParts::default();
    while let Some(field) = form.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            let content_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
            let named = field.file_name().is_some_and(|n| !n.is_empty());
            let bytes = field.bytes().await.map_err(broken)?;
            if named || !bytes.is_empty() {
                parts.files.push(FormFile { content_type, bytes });
            }
        } else {
            parts.fields.push((name, field.text().await.map_err(broken)?));
        }
    }
    Ok(parts)
}

/// A multipart form (one that may carry files) from someone signed in: their
/// session's user and the form's fields and files, once its `csrf` field
/// matches the session's token and a browser's Origin (when sent) is ours.
/// Every multipart handler takes this, as url-encoded ones take `CsrfForm`.
pub struct CsrfMultipart(pub UiUser, pub FormParts);

impl FromRequest<AppState> for CsrfMultipart {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, s: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let ui = UiUser::from_request_parts(&mut parts, s).await?;
        let headers = parts.headers.clone();
        let req = axum::extract::Request::from_parts(parts, body);
        let form = axum::extract::Multipart::from_request(req, s).await.map_err(IntoResponse::into_response)?;
        // The token is a field among the files, so the form is read before it is checked;
        // nothing in it is kept or acted on until the check passes.
        let form = read_form_parts(form, s.services.media.max_bytes).await.map_err(IntoResponse::into_response)?;
        ui.check_csrf(&headers, form.field("csrf").unwrap_or_default(), &s.config.public_url)
            .map_err(IntoResponse::into_response)?;
        Ok(CsrfMultipart(ui, form))
    }
}

/// A form that carries nothing but its CSRF token (a button: sign out, delete).
#[derive(Deserialize)]
pub struct Confirm {}

/// A signed-in person in the web UI.
pub struct UiUser {
    pub user: User,
    pub csrf: String,
    /// The business's clock (the account's `time_zone`): times on its pages.
    pub zone: jiff::tz::TimeZone,
    /// The business's name, at the top of its pages.
    pub business: String,
    /// Webhooks switched off for failing (admins only; 0 for others): every page says so.
    pub webhooks_off: u32,
}

impl UiUser {
    /// The business's zone by name, for "times in America/Chicago".
    pub fn zone_name(&self) -> String {
        self.zone.iana_name().unwrap_or("UTC").to_owned()
    }
}

impl UiUser {
    /// Every state-changing form carries the session's CSRF token, and a
    /// browser's Origin (when sent) must be ours.
    pub fn check_csrf(&self, headers: &HeaderMap, submitted: &str, public_url: &str) -> Result<(), CsrfRejected> {
        let token_ok: bool = self.csrf.as_bytes().ct_eq(submitted.as_bytes()).into();
        let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => same_origin(origin, public_url, headers),
        };
        if token_ok && origin_ok { Ok(()) } else { Err(CsrfRejected) }
    }
}

/// Where the sign-in forms (login, invitation) keep their token before there
/// is a session: the same random value in this cookie and in the form
/// (double submit), so another site cannot post the form for a visitor.
pub const SIGN_IN_CSRF_COOKIE: &str = "textdesk_signin_csrf";

/// The sign-in forms' token: the visitor's current one (so several open tabs
/// keep working), or a new one to set with `sign_in_csrf_cookie`.
pub fn sign_in_csrf(headers: &HeaderMap) -> (String, bool) {
    match cookie_value(headers, SIGN_IN_CSRF_COOKIE) {
        Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => (v.to_owned(), false),
        _ => (crate::services::auth::new_secret(""), true),
    }
}

/// The `Set-Cookie` value carrying a sign-in form's token.
pub fn sign_in_csrf_cookie(token: &str, public_url: &str) -> String {
    let secure = if public_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{SIGN_IN_CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{secure}")
}

/// A sign-in form must come from our own page: its token matches the cookie,
/// and a browser's Origin (when sent) is ours.
pub fn check_sign_in_csrf(headers: &HeaderMap, submitted: &str, public_url: &str) -> Result<(), CsrfRejected> {
    let cookie = cookie_value(headers, SIGN_IN_CSRF_COOKIE).unwrap_or("");
    let token_ok: bool = !cookie.is_empty() && bool::from(cookie.as_bytes().ct_eq(submitted.as_bytes()));
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => same_origin(origin, public_url, headers),
    };
    if token_ok && origin_ok { Ok(()) } else { Err(CsrfRejected) }
}

pub(crate) fn same_origin(origin: &str, public_url: &str, headers: &HeaderMap) -> bool {
    if origin == public_url {
        return true;
    }
    // Direct access by address (no proxy): the Host the browser used.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
}

impl FromRequestParts<AppState> for UiUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || {
            let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next = if parts.method == axum::http::Method::GET { next } else { "/" };
            Redirect::to(&format!("/login?next={}", urlencode(next))).into_response()
        };
        let Some(cookie) = cookie_value(&parts.headers, SESSION_COOKIE) else { return Err(to_login()) };
        match state.services.session(cookie, state.config.session_idle()).await {
            Ok(Some(s)) => {
                let account = s.user.account_id;
                let services = &state.services;
                match tokio::try_join!(
                    services.business_zone(account),
                    services.business_name_of(account),
                    services.webhooks_switched_off(&s.user)
                ) {
                    Ok((zone, business, webhooks_off)) => {
                        Ok(UiUser { user: s.user, csrf: s.csrf_token, zone, business, webhooks_off })
                    }
                    Err(e) => Err(Problem::from(e).into_response()),
                }
            }
            Ok(None) => Err(to_login()),
            Err(e) => Err(Problem::from(e).into_response()),
        }
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub(crate) fn ts(t: jiff::Timestamp) -> String {
    t.to_string()
}

// ---------- shapes ----------

/// Tells "absent" (None) from "null" (Some(None)) in a PATCH-like body.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// ---------- idempotency ----------

/// The `Idempotency-Key` header of a send, if the client gave one.
pub(crate) fn idempotency_header(headers: &HeaderMap) -> Result<Option<&str>, Problem> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| Problem::invalid("Idempotency-Key is printable ASCII")),
    }
}

/// A keyed send's answer, byte for byte as the first request got it.
pub(crate) fn keyed_answer(a: crate::services::idempotency::Answer) -> Response {
    let status = axum::http::StatusCode::from_u16(a.status).unwrap_or(axum::http::StatusCode::OK);
    (status, [(header::CONTENT_TYPE, "application/json")], a.body).into_response()
}
