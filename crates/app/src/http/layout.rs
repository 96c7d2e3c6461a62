//! The pages' frame: the header every page shares (`Chrome`), the admin-only
//! guard, and the error pages (problem details turned into pages for a
//! browser, and the 404 for an address nothing answers).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use textdesk_core::Role;

use crate::http::extract::UiUser;
use crate::http::problem::Problem;
use crate::http::state::AppState;

pub struct Chrome {
    /// The person's id: the live script alerts them to what is addressed to them (an escalation).
    pub(crate) user_id: i64,
    pub(crate) user_name: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
    pub(crate) simulator: bool,
    pub(crate) business: String,
    /// The person's chosen presence (`online`, `away`, `offline`).
    pub(crate) presence: &'static str,
    /// Webhooks switched off for failing (shown to admins on every page).
    pub(crate) webhooks_off: u32,
}

pub(crate) fn chrome(s: &AppState, ui: &UiUser) -> Chrome {
    Chrome {
        user_id: ui.user.id,
        user_name: ui.user.name.clone(),
        role: ui.user.role,
        csrf: ui.csrf.clone(),
        simulator: s.config.simulator,
        business: ui.business.clone(),
        presence: ui.user.presence.as_str(),
        webhooks_off: ui.webhooks_off,
    }
}

impl Chrome {
    /// Admins see the settings link.
    pub fn is_admin(&self) -> bool {
        self.role.at_least(Role::Admin)
    }

    /// Supervisors and admins: reports, the review queue, and live alerts of a low poll score.
    pub fn is_supervisor(&self) -> bool {
        self.role.at_least(Role::Supervisor)
    }
}

/// Settings are for admins; anyone else gets a 403 that says so (a page, for a browser).
pub(crate) fn admin_only(ui: &UiUser) -> Option<Response> {
    (!ui.user.role.at_least(Role::Admin)).then(|| {
        Problem::forbidden(format!(
            "the settings are for admins: as {} you cannot change inboxes, people and teams, business hours \
             or the account's rules. Ask an admin to make the change, or to make you an admin",
            with_article(ui.user.role.as_str())
        ))
        .into_response()
    })
}

fn with_article(role: &str) -> String {
    if role.starts_with(['a', 'e', 'i', 'o', 'u']) { format!("an {role}") } else { format!("a {role}") }
}

pub(crate) fn page_or_problem<T: IntoResponse>(status: StatusCode, page: Result<T, Problem>) -> Response {
    match page {
        Ok(p) => (status, p).into_response(),
        Err(p) => p.into_response(),
    }
}

/// What went wrong, as a page in the app's frame (the frame only for someone
/// signed in), with the way back.
#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage {
    chrome: Option<Chrome>,
    status: u16,
    heading: &'static str,
    detail: String,
    /// Who is asking, when the answer depends on it (a 403).
    who: Option<String>,
    back_href: &'static str,
    back_label: &'static str,
}

/// An error page for `status` saying `detail` (a problem's detail: lower case, no full stop).
pub(crate) fn error_page(s: &AppState, ui: Option<&UiUser>, status: StatusCode, detail: &str) -> Response {
    let heading = match status.as_u16() {
        403 => "You can’t open this",
        404 => "Page not found",
        409 => "That cannot be done now",
        429 | 503 => "Please wait a moment",
        400..=499 => "That did not work",
        _ => "Something went wrong",
    };
    let mut detail = detail.trim().trim_end_matches('.').to_owned();
    if let Some(first) = detail.get(..1) {
        detail = first.to_uppercase() + &detail[1..];
    }
    detail.push('.');
    let (back_href, back_label) = if ui.is_some() { ("/inbox", "Back to the inbox") } else { ("/login", "Sign in") };
    let page = ErrorPage {
        chrome: ui.map(|ui| chrome(s, ui)),
        status: status.as_u16(),
        heading,
        detail,
        who: ui
            .filter(|_| status == StatusCode::FORBIDDEN)
            .map(|ui| format!("You are signed in as {} ({}).", ui.user.name, ui.user.role.as_str())),
        back_href,
        back_label,
    };
    (status, page).into_response()
}

/// The person whose session cookie `headers` carry, if any.
async fn signed_in(s: &AppState, headers: &HeaderMap) -> Option<UiUser> {
    let mut req = axum::http::Request::new(());
    *req.headers_mut() = headers.clone();
    let (mut parts, ()) = req.into_parts();
    UiUser::from_request_parts(&mut parts, s).await.ok()
}

/// The pages' errors, once for all: the services fail with problem details
/// (what the API sends as is); a browser asking for a page gets them as a page
/// in the app's frame instead. Scripts asking for fragments or JSON (no
/// `text/html` in Accept) still get the problem details they read.
pub(crate) async fn html_errors(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let wants_page = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_page {
        return next.run(req).await;
    }
    let headers = req.headers().clone();
    let res = next.run(req).await;
    let problem =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !problem {
        return res;
    }
    let status = res.status();
    let retry_after = res.headers().get(header::RETRY_AFTER).cloned();
    let body = axum::body::to_bytes(res.into_body(), 64 * 1024).await.unwrap_or_default();
    let detail = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let ui = signed_in(&s, &headers).await;
    let mut page = error_page(&s, ui.as_ref(), status, &detail);
    if let Some(v) = retry_after {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    page
}

/// An address nothing answers: a real 404 page (problem details under `/api/`).
pub(crate) async fn not_found(State(s): State<AppState>, req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        return Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such API endpoint").into_response();
    }
    let ui = signed_in(&s, req.headers()).await;
    let detail = "there is no page at this address: the link may be old, or the address mistyped";
    error_page(&s, ui.as_ref(), StatusCode::NOT_FOUND, detail)
}
