//! The signed-in person's own preferences, set from the composer (the same
//! setting as `PATCH /api/v1/me`).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::User;
use utoipa::ToSchema;

use crate::http::extract::CsrfForm;
use crate::http::extract::double_option;
use crate::http::extract::{ApiUser, Json};
use crate::http::people::users::UserOut;
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;

#[derive(Deserialize)]
pub(crate) struct PreferencesForm {
    /// A checkbox: present when ticked.
    #[serde(default)]
    enter_sends: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

pub(crate) async fn save(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<PreferencesForm>) -> Response {
    match s.services.set_enter_sends(&ui.user, Some(f.enter_sends.is_some())).await {
        Ok(_) => Redirect::to(&crate::http::session::safe_next(f.next)).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct MeOut {
    #[serde(flatten)]
    user: UserOut,
    preferences: PreferencesOut,
    /// Your own phone (E.164), rung first when you call a customer; null until set.
    phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PreferencesOut {
    /// Enter sends a reply (true) or makes a new line, Ctrl+Enter sending (false); null until
    /// chosen: Enter sends on a keyboard and makes a new line on a touch screen.
    enter_sends: Option<bool>,
}

impl From<User> for MeOut {
    fn from(u: User) -> Self {
        MeOut { preferences: PreferencesOut { enter_sends: u.enter_sends }, phone: u.phone.clone(), user: u.into() }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatchIn {
    preferences: Option<PreferencesIn>,
    /// Your own phone with its country code (`+14155550123`), rung first when you call a customer;
    /// null or empty removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesIn {
    /// true, false, or null for the keyboard's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<bool>)]
    enter_sends: Option<Option<bool>>,
}

#[utoipa::path(get, path = "/api/v1/me", tag = "users", responses((status = 200, body = MeOut), (status = 401, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn me(ApiUser(u): ApiUser) -> Json<MeOut> {
    Json(u.into())
}

#[utoipa::path(patch, path = "/api/v1/me", tag = "users", request_body = MePatchIn, responses((status = 200, body = MeOut), (status = 401, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn update_me(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<MePatchIn>,
) -> ApiResult<Json<MeOut>> {
    let mut user = u;
    if let Some(enter_sends) = b.preferences.and_then(|p| p.enter_sends) {
        user = s.services.set_enter_sends(&user, enter_sends).await?;
    }
    if let Some(phone) = b.phone {
        user = s.services.set_phone(&user, phone.as_deref()).await?;
    }
    Ok(Json(user.into()))
}
