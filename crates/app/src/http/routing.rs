//! Routing over HTTP: a person's presence (the top bar's select,
//! `GET/PUT /api/v1/me/presence`) and how a team hands out conversations
//! (`PATCH /api/v1/teams/{id}/routing`, the form on People & teams). Logic
//! lives in `services::routing`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::routing::TeamRouting;
use utoipa::ToSchema;

use crate::http::extract::{ApiAdmin, ApiUser, CsrfForm, Json, Path};
use crate::http::problem::{ApiResult, Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::routing::PresenceView;

#[derive(Serialize, ToSchema)]
pub struct PresenceOut {
    /// What the person chose: `online`, `away` or `offline`.
    chosen: String,
    /// What counts now: `online` with no tab of theirs open for a while (the account's `routing.away_after_minutes`)
    /// is `away`. Only `online` people are given conversations.
    now: String,
}

impl From<PresenceView> for PresenceOut {
    fn from(p: PresenceView) -> Self {
        PresenceOut { chosen: p.chosen.as_str().into(), now: p.now.as_str().into() }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceIn {
    /// `online`, `away` or `offline`.
    presence: String,
}

#[utoipa::path(get, path = "/api/v1/me/presence", tag = "users",
    responses((status = 200, body = PresenceOut), (status = 401, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn get_presence(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<PresenceOut>> {
    Ok(Json(s.services.presence_of(&u).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/me/presence", tag = "users", request_body = PresenceIn,
    responses((status = 200, body = PresenceOut), (status = 401, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn put_presence(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<PresenceIn>,
) -> ApiResult<Json<PresenceOut>> {
    Ok(Json(s.services.set_presence(&u, &b.presence).await?.into()))
}

#[derive(Deserialize)]
pub(crate) struct PresenceForm {
    #[serde(default)]
    presence: String,
}

/// The top bar's select: back to the page it was on.
pub(crate) async fn presence_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    CsrfForm(ui, f): CsrfForm<PresenceForm>,
) -> Response {
    match s.services.set_presence(&ui.user, &f.presence).await {
        Ok(_) => Redirect::to(&back(&headers, &s.config.public_url)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// The page the form was on (same origin only), else the inbox.
fn back(headers: &HeaderMap, public_url: &str) -> String {
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok()).unwrap_or("");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let path = referer
        .strip_prefix(public_url.trim_end_matches('/'))
        .or_else(|| referer.strip_prefix("http://").and_then(|r| r.strip_prefix(host)))
        .or_else(|| referer.strip_prefix("https://").and_then(|r| r.strip_prefix(host)));
    crate::http::session::safe_next(path.map(str::to_owned))
}

#[derive(Serialize, ToSchema)]
pub struct TeamRoutingOut {
    id: i64,
    name: String,
    /// `manual`, `round_robin` or `least_busy`.
    assignment: String,
    /// Open conversations an agent of the team holds at most (1 to 500).
    capacity: u32,
}

impl From<TeamRouting> for TeamRoutingOut {
    fn from(t: TeamRouting) -> Self {
        TeamRoutingOut { id: t.id, name: t.name, assignment: t.assignment.as_str().into(), capacity: t.capacity.get() }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamRoutingIn {
    /// `manual` (someone takes it), `round_robin` (in turn among members online with room) or `least_busy`
    /// (the member online with room who has the fewest open conversations).
    #[serde(default)]
    assignment: String,
    /// Open conversations an agent holds at most, 1 to 500 (default 10).
    #[serde(default = "ten")]
    #[schema(minimum = 1, maximum = 500)]
    capacity: u32,
}

fn ten() -> u32 {
    10
}

#[utoipa::path(get, path = "/api/v1/teams/routing", tag = "teams",
    responses((status = 200, body = [TeamRoutingOut]), (status = 401, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn list_team_routing(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
) -> ApiResult<Json<Vec<TeamRoutingOut>>> {
    Ok(Json(s.services.teams_routing(&u).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(put, path = "/api/v1/teams/{id}/routing", tag = "teams", params(("id" = i64, Path)), request_body = TeamRoutingIn,
    responses((status = 200, body = TeamRoutingOut), (status = 403, body = ProblemOut, description = "Only admins"),
        (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn put_team_routing(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<TeamRoutingIn>,
) -> ApiResult<Json<TeamRoutingOut>> {
    Ok(Json(s.services.set_team_routing(&u, id, &b.assignment, b.capacity).await?.into()))
}

#[derive(Deserialize)]
pub(crate) struct TeamRoutingForm {
    #[serde(default)]
    assignment: String,
    #[serde(default)]
    capacity: String,
}

pub(crate) async fn team_routing_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<TeamRoutingForm>,
) -> Response {
    // Not a number reads as 0, which the service refuses in words (after the role check).
    let capacity = f.capacity.trim().parse::<u32>().unwrap_or(0);
    match s.services.set_team_routing(&ui.user, id, &f.assignment, capacity).await {
        Ok(_) => Redirect::to(&format!("/settings/users#team-{id}")).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
