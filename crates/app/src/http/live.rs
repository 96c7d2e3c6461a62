//! The live stream (SSE) for the agent UI (`/events`) and the API
//! (`/api/v1/events`), resumable from the last event id a client saw, and the
//! short notice a browser notification shows for a customer's new message.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use textdesk_core::Role;
use textdesk_core::event::REVIEW_QUEUED;
use textdesk_core::survey::SurveyKind;
use textdesk_store::Live;

use crate::http::extract::{ApiUser, Json, Path, Query, UiUser};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Resume after this event id, for clients that cannot send `Last-Event-ID`
    /// (the header wins when both are given).
    after: Option<i64>,
}

/// Server-sent events for the caller's account. First `ready`, whose id is
/// where the stream starts; then `message.created` (with
/// `inbound: true` for a customer's message), `message.updated`,
/// `message.deleted`, `conversation.updated`, each with an increasing `id:` and
/// a JSON body; `webhook.switched_off` (conversation id 0) says an outgoing
/// webhook kept failing and was switched off. A client that reconnects with `Last-Event-ID` (or `?after=`)
/// first gets every event it missed, in order (events are kept); for an id
/// never given out it gets one `resync` event and should reload what it shows.
#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    params(EventsQuery, ("Last-Event-ID" = Option<i64>, Header, description = "The last event id the client saw")),
    responses((status = 200, content_type = "text/event-stream", description = "A stream of live events"), (status = 400, body = ProblemOut, description = "A malformed id"), (status = 422, body = ProblemOut, description = "A negative id")),
    security(("bearer" = [])))]
pub async fn events(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Result<Response, Problem> {
    let supervises = u.role.at_least(Role::Supervisor);
    Ok(live_stream(&s, (u.account_id, supervises), resume_point(&headers, q.after)?, None).await.into_response())
}

pub(crate) async fn ui_events(
    State(s): State<AppState>,
    ui: UiUser,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    match resume_point(&headers, q.after) {
        Ok(after) => {
            // The person counts as here (for presence) while this page's stream is open.
            let tab = s.services.tab_opened(ui.user.id);
            let supervises = ui.user.role.at_least(Role::Supervisor);
            live_stream(&s, (ui.user.account_id, supervises), after, Some(tab)).await.into_response()
        }
        Err(p) => p.into_response(),
    }
}

/// Where a reconnecting client resumes: its `Last-Event-ID`, else `?after=`.
pub(crate) fn resume_point(headers: &HeaderMap, after: Option<i64>) -> Result<Option<i64>, Problem> {
    let header = match headers.get("last-event-id") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::BAD_REQUEST,
                "malformed",
                "Malformed Last-Event-ID",
                "Last-Event-ID must be an event id (a whole number)",
            )
        })?),
    };
    match header.or(after) {
        Some(id) if id < 0 => Err(Problem::invalid("an event id is never negative")),
        id => Ok(id),
    }
}

pub(crate) async fn live_stream(
    s: &AppState,
    (account_id, supervises): (i64, bool),
    after: Option<i64>,
    tab: Option<crate::services::routing::TabGuard>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let (start, stream) = s.services.follow_events(account_id, after).await;
    // The tab stays open as long as the stream does: it is dropped with it.
    let stream = stream.map(move |live| {
        let _tab = &tab;
        Ok(match live {
            Live::Event(mut ev) => {
                // Which conversation is being reviewed is for supervisors: anyone else hears an update.
                if ev.kind == REVIEW_QUEUED && !supervises {
                    ev.kind = "conversation.updated".into();
                }
                Event::default()
                    .id(ev.id.to_string())
                    .event(ev.kind.clone())
                    .data(serde_json::to_string(&ev).unwrap_or_default())
            }
            Live::Resync { last_id } => Event::default().id(last_id.to_string()).event("resync").data("{}"),
        })
    });
    // Where this stream starts, so that even a connection lost before any event
    // resumes from here; and browsers retry after a second rather than three.
    let ready = Event::default()
        .id(start.to_string())
        .event("ready")
        .data(format!("{{\"id\":{start}}}"))
        .retry(Duration::from_secs(1));
    let hello = futures_util::stream::once(async move { Ok(ready) });
    // A stopping node ends its streams (they would hold its shutdown up to the
    // drain time) with a hint to come back, to whichever node then answers.
    let stream = stream.take_until(s.services.shutdown.stopping());
    let bye = futures_util::stream::once(async move {
        Ok(Event::default().event("bye").data("{}").retry(crate::shutdown::reconnect_after()))
    });
    Sse::new(hello.chain(stream).chain(bye)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    /// `escalation`: about the latest escalation to the person asking, not the latest message;
    /// `survey`: about the conversation's satisfaction poll (a low score);
    /// `callback`: about its call back that fell due.
    /// `review`: about its review waiting in the queue (supervisors).
    #[serde(default)]
    about: Option<String>,
}

/// What a browser notification about a conversation says.
#[derive(Serialize)]
pub(crate) struct Notice {
    /// The contact's name, else their address.
    title: String,
    /// The start of the latest message.
    body: String,
    url: String,
    /// What the alert's link says, when it is not the conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
}

/// Fetched by the page when an event says a customer wrote: the event log
/// holds no names or text, so the page asks, with the agent's session.
pub(crate) async fn notice(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQuery>,
) -> Result<Json<Notice>, Problem> {
    let c = s.services.conversation_summary(ui.user.account_id, id).await?;
    let title = if c.contact_name.trim().is_empty() { c.contact_address } else { c.contact_name };
    if q.about.as_deref() == Some("escalation") {
        // The latest escalation to this person, said with who raised it and why.
        let escalations = s.services.escalations(ui.user.account_id, id).await?;
        let e = escalations.iter().rev().find(|e| e.supervisor_id == Some(ui.user.id));
        let who = e.and_then(|e| e.actor_name.clone()).unwrap_or_else(|| "An agent".into());
        let why = e.and_then(|e| e.reason.clone()).map(|r| format!(": “{r}”")).unwrap_or_default();
        let mut body: String = format!("{who} escalated this conversation to you{why}").chars().take(200).collect();
        if e.is_some_and(|e| e.kept_agent) {
            body.push_str(" (the agent keeps it; you are watching)");
        }
        return Ok(Json(Notice {
            title: format!("Escalated: {title}"),
            body,
            url: format!("/conversations/{id}"),
            action: None,
        }));
    }
    if q.about.as_deref() == Some("callback") {
        let body = s.services.due_callback_words(&ui.user, id).await?;
        let title = format!("Call back due: {title}");
        return Ok(Json(Notice { title, body, url: "/callbacks".into(), action: Some("Open the call back queue") }));
    }
    if q.about.as_deref() == Some("survey") {
        // The conversation's poll, said with its score and any words that came with it.
        let survey = s.services.surveys(ui.user.account_id, id).await?.pop();
        let score = survey.as_ref().and_then(|p| p.score.map(|n| (p.kind, n)));
        let said = match score {
            Some((SurveyKind::YesNo, _)) => "no, the problem was not solved".to_owned(),
            Some((kind, n)) => format!("{n} of {}", kind.range().1),
            None => "a low score".to_owned(),
        };
        let comment = survey.and_then(|p| p.comment).map(|c| format!(": “{c}”")).unwrap_or_default();
        let body: String =
            format!("The customer answered the satisfaction poll: {said}{comment}").chars().take(200).collect();
        return Ok(Json(Notice {
            title: format!("Low score: {title}"),
            body,
            url: format!("/conversations/{id}"),
            action: None,
        }));
    }
    if q.about.as_deref() == Some("review") {
        // Why it was queued, linked to the scoring screen; only supervisors have one to see.
        let r = s.services.waiting_review_of(&ui.user, id).await?;
        let why: Vec<&str> = r.reasons.iter().map(|r| r.describe()).collect();
        let body: String = format!("In the review queue: {}", why.join(", ")).chars().take(200).collect();
        return Ok(Json(Notice {
            title: format!("To review: {title}"),
            body,
            url: format!("/reviews/{}", r.id),
            action: Some("Open the review"),
        }));
    }
    let mut body: String = c.preview.chars().take(120).collect();
    if body.len() < c.preview.len() {
        body.push('…');
    }
    Ok(Json(Notice { title, body, url: format!("/conversations/{id}"), action: None }))
}
