//! The account over the API: its name and settings (`compose`: the tone rules
//! the composer applies; `quiet_hours`: when texts may go). Everyone reads
//! them; admins change them.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use textdesk_core::Role;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::api::ProblemOut;
use crate::http::extract::{ApiUser, Json};
use crate::http::problem::Problem;
use crate::services::account::{AccountSettings, SettingsError};

/// Mounted under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    Router::new().route("/account", get(get_account).patch(update_account))
}

impl From<SettingsError> for Problem {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Invalid(i) => i.into(),
            SettingsError::Store(s) => s.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccountOut {
    id: i64,
    name: String,
    /// The settings as they apply, defaults filled in: `{ "compose": { "tone_check": bool,
    /// "checks": { "slang": bool, "emoji": bool, "caps": bool, "exclamation": bool },
    /// "max_segments": 1..10, "extra_slang": [["word", "what to write instead"], …] },
    /// "targets": { "first_response_minutes": 1..1440 (default 15) }, "quiet_hours": "08:00-21:00" }`.
    /// `quiet_hours` is when texts may go, in each contact's local time (US state rules narrow it);
    /// the server's window unless the account set its own.
    #[schema(value_type = Object)]
    settings: AccountSettings,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatchIn {
    /// A JSON merge patch (RFC 7386) on the settings: `{ "compose": { "checks": { "slang": false } } }`
    /// turns one check off and keeps the rest; `{ "quiet_hours": "10:00-18:00" }` narrows the texting window;
    /// `null` resets a value to its default.
    #[schema(value_type = Object)]
    settings: serde_json::Value,
}

async fn account_out(s: &AppState, account_id: i64) -> Result<AccountOut, Problem> {
    let account = s.services.store.account(account_id).await?;
    let settings = s.services.account_settings(account_id).await?;
    Ok(AccountOut { id: account.id, name: account.name, settings })
}

#[utoipa::path(get, path = "/api/v1/account", tag = "account", responses((status = 200, body = AccountOut)), security(("bearer" = [])))]
pub async fn get_account(State(s): State<AppState>, ApiUser(u): ApiUser) -> Result<Json<AccountOut>, Problem> {
    Ok(Json(account_out(&s, u.account_id).await?))
}

#[utoipa::path(patch, path = "/api/v1/account", tag = "account", request_body = AccountPatchIn,
    responses((status = 200, body = AccountOut), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut, description = "Settings that do not read (the detail says which)")),
    security(("bearer" = [])))]
pub async fn update_account(
    State(s): State<AppState>,
    user: ApiUser,
    Json(b): Json<AccountPatchIn>,
) -> Result<Json<AccountOut>, Problem> {
    let admin = user.require(Role::Admin)?;
    s.services.patch_account_settings(admin.account_id, &b.settings).await?;
    Ok(Json(account_out(&s, admin.account_id).await?))
}
