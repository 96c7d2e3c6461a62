//! The installation operator's API: the accounts this server serves. Opened by
//! the operator's own token (`TEXTDESK_OPERATOR_TOKEN`), not by any account's
//! user; with none configured these addresses do not exist (404).

use std::time::Instant;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::extract::{ClientIp, Json};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::operator::{NewAccount, OperatorCheck};

/// A request that carries the operator's token. Checked before the body is read.
pub struct Operator;

impl FromRequestParts<AppState> for Operator {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        if !state.services.operator_enabled() {
            return Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such API endpoint"));
        }
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let limits = &state.services.limits;
        limits.check(ip, Instant::now()).map_err(Problem::refused)?;
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        match state.services.check_operator(presented) {
            OperatorCheck::Valid => Ok(Operator),
            OperatorCheck::Off => {
                Err(Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such API endpoint"))
            }
            OperatorCheck::Wrong => {
                // A wrong guess costs like a wrong password.
                limits.charge(ip, Instant::now()).map_err(Problem::refused)?;
                Err(Problem::unauthorized("send the operator's token as Authorization: Bearer <token>"))
            }
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OperatorAccountOut {
    id: i64,
    name: String,
    /// Host names the account is reached at (its sign-in page names it there).
    hosts: Vec<String>,
    /// People who can sign in (active users).
    active_users: i64,
    /// RFC 3339.
    created_at: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorAccountIn {
    /// The business's name, as its people and customers read it (1–100 characters).
    #[serde(default)]
    name: String,
    /// The first admin's e-mail.
    #[serde(default)]
    admin_email: String,
    /// The first admin's name; the e-mail's local part when empty.
    #[serde(default)]
    admin_name: String,
    /// Host names the account is reached at (`support.acme.example`), none by default.
    #[serde(default)]
    hosts: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedAdminOut {
    id: i64,
    email: String,
    name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedAccountOut {
    id: i64,
    name: String,
    hosts: Vec<String>,
    admin: CreatedAdminOut,
    /// The admin's one-time link to choose a password and sign in; shown once.
    invite_url: String,
    /// RFC 3339.
    invite_expires_at: String,
}

#[utoipa::path(get, path = "/api/v1/operator/accounts", tag = "operator",
    responses((status = 200, body = [OperatorAccountOut]), (status = 404, body = ProblemOut, description = "No operator token is configured on this installation")),
    security(("operator" = [])))]
pub async fn list_accounts(State(s): State<AppState>, _: Operator) -> Result<Json<Vec<OperatorAccountOut>>, Problem> {
    let out = s
        .services
        .account_overviews()
        .await?
        .into_iter()
        .map(|a| OperatorAccountOut {
            id: a.id,
            name: a.name,
            hosts: a.hosts,
            active_users: a.active_users,
            created_at: a.created_at.to_string(),
        })
        .collect();
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/v1/operator/accounts", tag = "operator", request_body = OperatorAccountIn,
    responses((status = 201, body = CreatedAccountOut), (status = 404, body = ProblemOut, description = "No operator token is configured on this installation"),
        (status = 409, body = ProblemOut, description = "A host name is taken by another account")),
    security(("operator" = [])))]
pub async fn create_account(
    State(s): State<AppState>,
    _: Operator,
    Json(b): Json<OperatorAccountIn>,
) -> Result<(StatusCode, Json<CreatedAccountOut>), Problem> {
    let ask = NewAccount { name: &b.name, admin_email: &b.admin_email, admin_name: &b.admin_name, hosts: &b.hosts };
    let made = s.services.create_account_by_operator(ask).await?;
    let admin = made.invitation.user;
    let out = CreatedAccountOut {
        id: made.account.id,
        name: made.account.name,
        hosts: made.hosts.iter().map(|h| h.to_string()).collect(),
        admin: CreatedAdminOut { id: admin.id, email: admin.email, name: admin.name },
        invite_url: made.invitation.url,
        invite_expires_at: made.invitation.expires_at.to_string(),
    };
    Ok((StatusCode::CREATED, Json(out)))
}
