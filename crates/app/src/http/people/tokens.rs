//! API tokens: a user's own, listed, created (the secret shown once) and
//! revoked.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::ApiToken;
use utoipa::ToSchema;

use crate::http::extract::{ApiUser, Json, Path, ts};
use crate::http::problem::ApiResult;
use crate::http::problem::ProblemOut;
use crate::http::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct TokenOut {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) created_at: String,
    pub(crate) last_used_at: Option<String>,
    pub(crate) revoked: bool,
}

impl From<ApiToken> for TokenOut {
    fn from(t: ApiToken) -> Self {
        TokenOut {
            id: t.id,
            name: t.name,
            created_at: ts(t.created_at),
            last_used_at: t.last_used_at.map(ts),
            revoked: t.revoked,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenIn {
    pub(crate) name: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewTokenOut {
    pub(crate) token: TokenOut,
    /// The secret: shown this once, stored only as a hash.
    pub(crate) secret: String,
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = [TokenOut])), security(("bearer" = [])))]
pub(crate) async fn list_tokens(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<TokenOut>>> {
    Ok(Json(s.services.api_tokens(&u).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewTokenIn, responses((status = 201, body = NewTokenOut)), security(("bearer" = [])))]
pub(crate) async fn create_token(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Json(b): Json<NewTokenIn>,
) -> ApiResult<Response> {
    let (token, secret) = s.services.create_api_token(&u, &b.name).await?;
    Ok((StatusCode::CREATED, Json(NewTokenOut { token: token.into(), secret })).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn revoke_token(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.services.revoke_api_token(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
