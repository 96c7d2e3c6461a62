//! Teams: create, list, members added and removed, over the API and from
//! the people page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::extract::CsrfForm;
use crate::http::extract::{ApiAdmin, ApiUser, Json, Path};
use crate::http::layout::admin_only;
use crate::http::people::page::{PeopleForm, users_again};
use crate::http::people::users::UserOut;
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct TeamOut {
    pub(crate) id: i64,
    pub(crate) name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamIn {
    pub(crate) name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberIn {
    pub(crate) user_id: i64,
}

#[utoipa::path(get, path = "/api/v1/teams", tag = "users", responses((status = 200, body = [TeamOut])), security(("bearer" = [])))]
pub(crate) async fn list_teams(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<TeamOut>>> {
    let teams = s.services.teams(u.account_id).await?;
    Ok(Json(teams.into_iter().map(|t| TeamOut { id: t.id, name: t.name }).collect()))
}

#[utoipa::path(post, path = "/api/v1/teams", tag = "users", request_body = TeamIn, responses((status = 201, body = TeamOut), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn create_team(
    State(s): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Json(b): Json<TeamIn>,
) -> ApiResult<Response> {
    let t = s.services.create_team(&admin, &b.name).await?;
    Ok((StatusCode::CREATED, Json(TeamOut { id: t.id, name: t.name })).into_response())
}

#[utoipa::path(post, path = "/api/v1/teams/{id}/members", tag = "users", params(("id" = i64, Path)), request_body = MemberIn, responses((status = 204), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn add_team_member(
    State(s): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<MemberIn>,
) -> ApiResult<StatusCode> {
    s.services.set_team_member(&admin, id, b.user_id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn create_team_form(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<PeopleForm>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match s.services.create_team(&ui.user, &f.name).await {
        Ok(_) => Redirect::to("/settings/users#teams").into_response(),
        Err(e) => {
            let p = Problem::from(e);
            users_again(&s, &ui, p.status, |page| {
                page.team_name = f.name;
                page.error = Some(("team".into(), p.detail));
            })
            .await
        }
    }
}

pub(crate) async fn team_member(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<PeopleForm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let Ok(user_id) = f.user_id.parse::<i64>() else {
        return users_again(&s, &ui, StatusCode::UNPROCESSABLE_ENTITY, |page| {
            page.error = Some(("team".into(), "choose a person to add".into()))
        })
        .await;
    };
    match s.services.set_team_member(&ui.user, id, user_id, f.remove.is_empty()).await {
        Ok(()) => Redirect::to("/settings/users#teams").into_response(),
        Err(e) => {
            let p = Problem::from(e);
            users_again(&s, &ui, p.status, |page| page.error = Some(("team".into(), p.detail))).await
        }
    }
}

// ---------- the invitee's side ----------

#[utoipa::path(get, path = "/api/v1/teams/{id}/members", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = [UserOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn list_members(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<UserOut>>, Problem> {
    Ok(Json(s.services.team_members(u.account_id, id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "users",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn remove_member(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path((id, user_id)): Path<(i64, i64)>,
) -> Result<StatusCode, Problem> {
    s.services.set_team_member(&u, id, user_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
