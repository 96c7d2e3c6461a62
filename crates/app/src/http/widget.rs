//! The web chat widget, as a visitor's browser reaches it: the loader script
//! a business pastes into its site, the chat itself (a page of ours shown in
//! an iframe, so the host page's styles and scripts cannot touch it), and
//! the visitor's JSON calls and live stream, which only that page makes.
//!
//! Where it may appear is checked against the inbox's allowed sites: the
//! chat page names them in `frame-ancestors` (the browser enforces it) and
//! refuses a page that says it came from elsewhere; the calls refuse any
//! other origin than ours, and give no CORS headers.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use textdesk_core::webchat::VisitorId;

use crate::http::extract::{ClientIp, Json, Path, Query};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::webchat::{Upload, VisitorMessage, WidgetInbox};

const LOADER: &str = include_str!("../../static/widget-loader.js");

/// `/widget/{inbox}.js`: the loader a business's page includes.
pub(crate) async fn loader(State(s): State<AppState>, Path(file): Path<String>) -> Result<Response, Problem> {
    let id = file.strip_suffix(".js").and_then(|n| n.parse::<i64>().ok()).ok_or_else(|| Problem::not_found("chat"))?;
    s.services.widget_inbox(id).await?;
    Ok(([(header::CONTENT_TYPE, "text/javascript"), (header::CACHE_CONTROL, "public, max-age=300")], LOADER)
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "widget.html")]
pub(crate) struct Frame {
    inbox_id: i64,
    name: String,
    greeting: String,
    position: &'static str,
}

/// The chat page the loader puts in its iframe.
pub(crate) async fn frame(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let w = s.services.widget_inbox(inbox).await?;
    // A browser sends where the iframe sits (the origin, by default): a site
    // not on the list is refused here as well as by frame-ancestors.
    if let Some(from) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) {
        let origin = url::Url::parse(from).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
        if origin != own_origin(&s) && !w.settings.allowed_sites.allows(&origin) {
            return Err(Problem::forbidden("this chat is not set up to appear on that site"));
        }
    }
    let ancestors: Vec<&str> = w.settings.allowed_sites.iter().map(|o| o.as_str()).collect();
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self' {}",
        ancestors.join(" ")
    );
    let page = Frame {
        inbox_id: w.inbox.id,
        name: w.inbox.sender.clone(),
        greeting: w.settings.greeting.clone(),
        position: w.settings.position.as_str(),
    };
    let mut res = page.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&csp).map_err(|_| Problem::internal())?);
    // Set here so the default DENY is not: browsers that know frame-ancestors
    // (all current ones) follow it and ignore this older header.
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    Ok(res)
}

/// The widget's colour, as a style sheet (inline styles are not allowed).
pub(crate) async fn style(State(s): State<AppState>, Path(inbox): Path<i64>) -> Result<Response, Problem> {
    let w = s.services.widget_inbox(inbox).await?;
    let css = format!(":root {{ --wc-colour: {}; }}\n", w.settings.colour.as_str());
    Ok(([(header::CONTENT_TYPE, "text/css"), (header::CACHE_CONTROL, "no-cache")], css).into_response())
}

fn own_origin(s: &AppState) -> String {
    url::Url::parse(&s.config.public_url).map(|u| u.origin().ascii_serialization()).unwrap_or_default()
}

/// The calls come from our chat page only: a browser on any other origin is refused.
fn same_origin(s: &AppState, headers: &HeaderMap) -> Result<(), Problem> {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(o) if o != own_origin(s) => Err(Problem::forbidden("this chat answers its own widget only")),
        _ => Ok(()),
    }
}

/// The widget and the visitor its token names.
async fn visitor(s: &AppState, inbox: i64, headers: &HeaderMap) -> Result<(WidgetInbox, VisitorId), Problem> {
    same_origin(s, headers)?;
    let w = s.services.widget_inbox(inbox).await?;
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Problem::unauthorized("the visitor's token is missing"))?;
    let v = s.services.visitor(&w, token.trim())?;
    Ok((w, v))
}

#[derive(Serialize)]
pub(crate) struct NewVisitor {
    token: String,
}

pub(crate) async fn new_visitor(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    same_origin(&s, &headers)?;
    let w = s.services.widget_inbox(inbox).await?;
    let token = s.services.new_visitor(&w, &ip.to_string())?;
    Ok((StatusCode::CREATED, Json(NewVisitor { token })).into_response())
}

#[derive(Serialize)]
pub(crate) struct StateOut {
    away: Option<String>,
    /// The offer to continue by text: the number and the words agreed to.
    text_offer: Option<TextOffer>,
    /// After continuing by text: the number the business texts from.
    texting_from: Option<String>,
    /// A code texted to the number the visitor left, waiting to be typed.
    code: Option<CodeOut>,
}

#[derive(Serialize)]
pub(crate) struct CodeOut {
    /// The number it went to (E.164).
    to: String,
    /// `sending`, `sent`, or `failed` (it could not go to that number).
    delivery: &'static str,
    /// RFC 3339, UTC.
    expires_at: String,
}

#[derive(Serialize)]
pub(crate) struct TextOffer {
    from: String,
    words: String,
}

pub(crate) async fn state(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    headers: HeaderMap,
) -> Result<Json<StateOut>, Problem> {
    let (w, v) = visitor(&s, inbox, &headers).await?;
    let st = s.services.widget_state(&w, &v).await?;
    let text_offer = match (st.can_text, st.texting_from.is_none()) {
        (true, true) => s.services.text_offer(&w).await?.map(|(words, from)| TextOffer { from, words }),
        _ => None,
    };
    let code = match &text_offer {
        Some(_) => s.services.code_step(&w, &v).await?.map(|c| CodeOut {
            to: c.to,
            delivery: c.delivery,
            expires_at: c.expires_at.to_string(),
        }),
        None => None,
    };
    Ok(Json(StateOut { away: st.away, text_offer, texting_from: st.texting_from, code }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct After {
    #[serde(default)]
    after: i64,
}

#[derive(Serialize)]
pub(crate) struct MessageOut {
    id: i64,
    /// `visitor` or `business`.
    from: &'static str,
    body: String,
    /// RFC 3339, UTC: the page shows it on the visitor's own clock.
    at: String,
    media: Vec<MediaOut>,
}

#[derive(Serialize)]
pub(crate) struct MediaOut {
    url: String,
    content_type: String,
    inline: bool,
}

fn message_out(m: VisitorMessage) -> MessageOut {
    MessageOut {
        id: m.id,
        from: if m.from_visitor { "visitor" } else { "business" },
        body: m.body,
        at: m.at.to_string(),
        media: m.media.into_iter().map(|(url, content_type, inline)| MediaOut { url, content_type, inline }).collect(),
    }
}

pub(crate) async fn messages(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    headers: HeaderMap,
    Query(q): Query<After>,
) -> Result<Json<Vec<MessageOut>>, Problem> {
    let (w, v) = visitor(&s, inbox, &headers).await?;
    let list = s.services.visitor_messages(&w, &v, q.after.max(0)).await?;
    Ok(Json(list.into_iter().map(message_out).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Said {
    body: String,
    /// The widget's own id for the message, so a retry is stored once.
    client_id: String,
}

#[derive(Serialize)]
pub(crate) struct Stored {
    duplicate: bool,
}

fn stored((_, new): (i64, bool)) -> Response {
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    (status, Json(Stored { duplicate: !new })).into_response()
}

pub(crate) async fn send(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(said): Json<Said>,
) -> Result<Response, Problem> {
    let (w, v) = visitor(&s, inbox, &headers).await?;
    Ok(stored(s.services.visitor_says(&w, &v, &ip.to_string(), &said.client_id, &said.body, None).await?))
}

/// An attachment: the file is the body, its type the `Content-Type`, the
/// widget's id for it `X-Client-Id`.
pub(crate) async fn attach(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let (w, v) = visitor(&s, inbox, &headers).await?;
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok()).unwrap_or("");
    let upload = Upload { content_type: text("content-type"), bytes: &body };
    let client_id = text("x-client-id");
    Ok(stored(s.services.visitor_says(&w, &v, &ip.to_string(), client_id, "", Some(upload)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ContinueByText {
    phone: String,
    /// The page the visitor was on (the widget's host page).
    page: String,
    /// The visitor ticked the box beside the words.
    agreed: bool,
}

#[derive(Serialize)]
pub(crate) struct CodeSent {
    /// The number the code went to, as we read it (E.164).
    code_sent_to: String,
}

/// The visitor's number and agreement: a code is texted to it (202); the
/// chat moves only when the code comes back (`confirm_code`). Asked again,
/// a new code replaces the last, within the limits.
pub(crate) async fn continue_by_text(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(c): Json<ContinueByText>,
) -> Result<Response, Problem> {
    let (w, v) = visitor(&s, inbox, &headers).await?;
    if !c.agreed {
        return Err(Problem::invalid("tick the box to agree to be texted"));
    }
    let code_sent_to = s.services.ask_for_code(&w, &v, &ip.to_string(), &c.phone, &c.page).await?;
    Ok((StatusCode::ACCEPTED, Json(CodeSent { code_sent_to })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TypedCode {
    code: String,
}

#[derive(Serialize)]
pub(crate) struct Continued {
    texting_from: String,
}

pub(crate) async fn confirm_code(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    headers: HeaderMap,
    Json(c): Json<TypedCode>,
) -> Result<Json<Continued>, Problem> {
    let (w, v) = visitor(&s, inbox, &headers).await?;
    let texting_from = s.services.confirm_code(&w, &v, &c.code).await?;
    Ok(Json(Continued { texting_from }))
}

/// The visitor's live stream: `update` whenever their conversation changed
/// (the page then asks for what is new). Read with `fetch`, so the token
/// travels in a header, never in an address that could be logged.
pub(crate) async fn events(
    State(s): State<AppState>,
    Path(inbox): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let (w, v) = visitor(&s, inbox, &headers).await?;
    let updates = s.services.visitor_updates(&w, v).await?;
    let ready = futures_util::stream::once(async { Ok::<_, Infallible>(Event::default().event("ready").data("{}")) });
    let rest = updates.map(|id| Ok(Event::default().event("update").data(format!("{{\"id\":{id}}}"))));
    // As the agents' streams: a stopping node ends it with a hint to come back (to another node).
    let rest = rest.take_until(s.services.shutdown.stopping());
    let bye = futures_util::stream::once(async {
        Ok(Event::default().event("bye").data("{}").retry(crate::shutdown::reconnect_after()))
    });
    Ok(Sse::new(ready.chain(rest).chain(bye))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}
