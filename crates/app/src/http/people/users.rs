//! Users: the API's list, create and change, and the people page's change
//! form (role, active).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::User;
use utoipa::ToSchema;

use crate::http::extract::CsrfForm;
use crate::http::extract::{ApiAdmin, ApiUser, Json, Path, ts};
use crate::http::inboxes::settings::opt;
use crate::http::layout::admin_only;
use crate::http::people::page::{PeopleForm, users_again};
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    pub(crate) id: i64,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) active: bool,
    pub(crate) created_at: String,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        UserOut {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role.as_str().into(),
            active: u.active,
            created_at: ts(u.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserIn {
    pub(crate) email: String,
    #[serde(default)]
    pub(crate) name: String,
    pub(crate) role: String,
    pub(crate) password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatchIn {
    pub(crate) role: Option<String>,
    pub(crate) active: Option<bool>,
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", responses((status = 200, body = [UserOut])), security(("bearer" = [])))]
pub(crate) async fn list_users(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<UserOut>>> {
    Ok(Json(s.services.users(u.account_id).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUserIn, responses((status = 201, body = UserOut), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn create_user(
    State(s): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Json(b): Json<NewUserIn>,
) -> ApiResult<Response> {
    let created = s.services.create_user(&admin, &b.email, &b.name, &b.role, &b.password).await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(created))).into_response())
}

#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserPatchIn, responses((status = 200, body = UserOut), (status = 403, body = ProblemOut), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn update_user(
    State(s): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<UserPatchIn>,
) -> ApiResult<Json<UserOut>> {
    let out = s.services.change_user(&admin, id, b.role.as_deref(), b.active).await?;
    Ok(Json(out.into()))
}

pub(crate) async fn change_user(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<PeopleForm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let role = opt(&f.role);
    let active = match f.active.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    match s.services.change_user(&ui.user, id, role.as_deref(), active).await {
        Ok(_) => Redirect::to("/settings/users").into_response(),
        Err(e) => {
            let p = Problem::from(e);
            users_again(&s, &ui, p.status, |page| page.error = Some(("user".into(), p.detail))).await
        }
    }
}
