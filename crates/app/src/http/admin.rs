//! People and teams over the API, beyond what `api.rs` has: invitations
//! (a user with a one-time sign-in link), new links, team members listed and
//! removed. Admins only; logic lives in `services::users`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::api::{ProblemOut, UserOut};
use crate::http::extract::{ApiUser, Json, Path};
use crate::http::problem::Problem;
use crate::services::users::{Invitation, UserError};

/// Mounted under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/invites", post(create_invite))
        .route("/users/{id}/invite", post(reissue_invite))
        .route("/teams/{id}/members", get(list_members))
        .route("/teams/{id}/members/{user_id}", delete(remove_member))
}

impl From<UserError> for Problem {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Forbidden(d) => Problem::forbidden(d),
            UserError::Store(s) => s.into(),
            UserError::Refused(r) => Problem::refused(r),
            UserError::Internal(d) => {
                tracing::error!(error = %d, "a user change failed");
                Problem::internal()
            }
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteIn {
    email: String,
    /// Shown to colleagues; the part of the e-mail before @ when empty.
    #[serde(default)]
    name: String,
    /// agent, supervisor or admin.
    role: String,
}

#[derive(Serialize, ToSchema)]
pub struct InviteOut {
    user: UserOut,
    /// The one-time sign-in link: shown once, never stored (only its hash is). Hand it to the person;
    /// they open it, choose a password and are signed in.
    url: String,
    expires_at: String,
}

impl From<Invitation> for InviteOut {
    fn from(i: Invitation) -> Self {
        InviteOut { user: i.user.into(), url: i.url, expires_at: i.expires_at.to_string() }
    }
}

#[utoipa::path(post, path = "/api/v1/invites", tag = "users", request_body = InviteIn,
    responses((status = 201, body = InviteOut, description = "The user (without a password) and their sign-in link, valid for 7 days, once"), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut, description = "The e-mail has an account"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn create_invite(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<InviteIn>,
) -> Result<Response, Problem> {
    let inv = s.services.invite_user(&u, &b.email, &b.name, &b.role).await?;
    Ok((StatusCode::CREATED, Json(InviteOut::from(inv))).into_response())
}

#[utoipa::path(post, path = "/api/v1/users/{id}/invite", tag = "users", params(("id" = i64, Path)),
    responses((status = 201, body = InviteOut, description = "A new sign-in link (to set a password); the person's earlier unused link stops working"), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut, description = "The user is deactivated")),
    security(("bearer" = [])))]
pub async fn reissue_invite(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    let inv = s.services.reissue_invite(&u, id).await?;
    Ok((StatusCode::CREATED, Json(InviteOut::from(inv))).into_response())
}

#[utoipa::path(get, path = "/api/v1/teams/{id}/members", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = [UserOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn list_members(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<UserOut>>, Problem> {
    s.services.store.team(u.account_id, id).await?;
    Ok(Json(s.services.store.team_members(id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "users",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub async fn remove_member(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path((id, user_id)): Path<(i64, i64)>,
) -> Result<StatusCode, Problem> {
    s.services.set_team_member(&u, id, user_id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}
