//! Signing in and out: the login form (with its own CSRF token, before any
//! session), the session cookie, and where to go next.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::http::extract::SIGN_IN_CSRF_COOKIE;
use crate::http::extract::{
    ClientIp, Query, SESSION_COOKIE, check_sign_in_csrf, cookie_value, host_header, sign_in_csrf, sign_in_csrf_cookie,
};
use crate::http::extract::{Confirm, CsrfForm};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::auth::{SignInAsk, SignedIn};
use crate::services::error::ServiceError;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub(crate) struct LoginPage {
    pub(crate) next: String,
    pub(crate) error: Option<String>,
    pub(crate) email: String,
    pub(crate) csrf: String,
    /// The business whose host name the page was opened at.
    pub(crate) business: Option<String>,
    /// The businesses the e-mail and password fit, when more than one (id, name).
    pub(crate) choices: Vec<(i64, String)>,
}

impl LoginPage {
    /// What the form asks when the password fits several businesses.
    pub(crate) fn choose_notice(&self) -> &'static str {
        "You work for more than one business here: choose where to sign in, and type your password again."
    }
}

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    pub(crate) next: Option<String>,
}

/// Only local paths: a login link must not bounce people to another site.
pub(crate) fn safe_next(next: Option<String>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/inbox".into(),
    }
}

/// A sign-in form (`page` gets the form's token) with its token cookie when it is new.
pub(crate) fn with_sign_in_csrf<P: IntoResponse>(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> P,
) -> Response {
    let (token, fresh) = sign_in_csrf(headers);
    let cookie = fresh.then(|| sign_in_csrf_cookie(&token, &s.config.public_url));
    let mut res = (status, page(token)).into_response();
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// What the sign-in form shows besides its fields.
#[derive(Default)]
pub(crate) struct LoginView {
    pub(crate) error: Option<String>,
    pub(crate) business: Option<String>,
    pub(crate) choices: Vec<(i64, String)>,
}

pub(crate) fn login_form(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    view: LoginView,
    email: String,
) -> Response {
    let LoginView { error, business, choices } = view;
    with_sign_in_csrf(s, headers, status, |csrf| LoginPage { next, error, email, csrf, business, choices })
}

/// The account whose host name the request came to, if any, and its name for the page.
async fn host_business(s: &AppState, headers: &HeaderMap) -> Result<(Option<i64>, Option<String>), Problem> {
    let Some(account) = s.services.account_at_host(host_header(headers)).await? else { return Ok((None, None)) };
    Ok((Some(account), Some(s.services.business_name_of(account).await?)))
}

pub(crate) async fn login_page(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    let business = match host_business(&s, &headers).await {
        Ok((_, b)) => b,
        Err(p) => return p.into_response(),
    };
    let view = LoginView { business, ..LoginView::default() };
    login_form(&s, &headers, StatusCode::OK, safe_next(q.next), view, String::new())
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    pub(crate) email: String,
    pub(crate) password: String,
    pub(crate) next: Option<String>,
    #[serde(default)]
    pub(crate) csrf: String,
    /// The business picked when the e-mail and password fit several.
    #[serde(default)]
    pub(crate) account: String,
}

pub(crate) async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next);
    let (host_account, business) = match host_business(&s, &headers).await {
        Ok(x) => x,
        Err(p) => return p.into_response(),
    };
    let view = |error: String| LoginView { error: Some(error), business: business.clone(), choices: Vec::new() };
    if check_sign_in_csrf(&headers, &f.csrf, &s.config.public_url).is_err() {
        let error = "This sign-in form expired or did not come from this site. Please sign in again.";
        return login_form(&s, &headers, StatusCode::FORBIDDEN, next, view(error.into()), f.email);
    }
    let ask = SignInAsk { host_account, chosen: f.account.trim().parse().ok(), email: &f.email, password: &f.password };
    match s.services.sign_in(ip, s.default_account, ask).await {
        Ok(SignedIn::User(user)) => sign_in(&s, user.id, &next).await,
        Ok(SignedIn::Choose(accounts)) => {
            let choices = accounts.into_iter().map(|a| (a.id, a.name)).collect();
            let v = LoginView { error: None, business: business.clone(), choices };
            login_form(&s, &headers, StatusCode::OK, next, v, f.email)
        }
        Err(e @ ServiceError::NoMatch) => {
            login_form(&s, &headers, StatusCode::UNAUTHORIZED, next, view(e.to_string()), f.email)
        }
        Err(ServiceError::Refused(r)) => {
            let status = Problem::refused(r).status;
            let mut res = login_form(&s, &headers, status, next, view(r.explain()), f.email);
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(r.retry_after_secs()));
            res
        }
        Err(e) => Problem::from(e).into_response(),
    }
}

/// Starts a session for `user_id` and sends the browser on to `next` with its cookie.
pub(crate) async fn sign_in(s: &AppState, user_id: i64, next: &str) -> Response {
    let session = match s.services.start_session(user_id, s.config.session_hours).await {
        Ok(x) => x,
        Err(e) => return Problem::from(e).into_response(),
    };
    let secure = if s.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        session.cookie,
        s.config.session_hours * 3600
    );
    let mut res = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    // The sign-in form's token has done its job; the session brings its own.
    if let Ok(v) =
        HeaderValue::from_str(&format!("{SIGN_IN_CSRF_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub(crate) async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    // Signing out is a form too: another site must not sign people out.
    CsrfForm(_, _): CsrfForm<Confirm>,
) -> Response {
    if let Some(c) = cookie_value(&headers, SESSION_COOKIE) {
        let _ = s.services.end_session(c).await;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("textdesk_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    res
}

// ---------- inbox list ----------
