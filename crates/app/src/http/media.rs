//! Attachments at signed, expiring links: what agents' browsers show and what
//! providers fetch when we send a picture. The link is the permission.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use textdesk_store::MediaState;

use crate::http::AppState;
use crate::http::api::{MediaOut, ProblemOut};
use crate::http::extract::ApiUser;
use crate::http::problem::Problem;
use crate::services::media::is_picture;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{id}", get(serve))
}

/// `POST /api/v1/media`: the raw file as the body, its type in Content-Type.
pub fn api_routes(max_bytes: usize) -> Router<AppState> {
    Router::new().route("/media", post(upload).layer(DefaultBodyLimit::max(max_bytes)))
}

#[utoipa::path(post, path = "/api/v1/media", tag = "messages",
    request_body(content = Vec<u8>, description = "The file itself; its type in Content-Type (pictures, audio, video, PDF, vCard, plain text)", content_type = "application/octet-stream"),
    responses((status = 201, body = MediaOut, description = "Kept; send it with a message's media_ids"), (status = 413, description = "Larger than media_max_bytes"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn upload(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = s.services.upload(&u, content_type, &body).await?;
    Ok((StatusCode::CREATED, axum::Json(MediaOut::of(media, &s.services))).into_response())
}

#[derive(Deserialize)]
struct Signed {
    exp: i64,
    sig: String,
}

async fn serve(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<Signed>) -> Response {
    let gone = || (StatusCode::NOT_FOUND, "no such attachment, or the link has expired").into_response();
    if !s.services.media.verify(id, q.exp, &q.sig, jiff::Timestamp::now()) {
        return gone();
    }
    let media = match s.services.store.media(id).await {
        Ok(m) if m.state == MediaState::Stored => m,
        _ => return gone(),
    };
    let Some(path) = s.services.media.path_of(&media) else { return gone() };
    let bytes = match tokio::fs::read(&path).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(media = id, error = %e, "an attachment's file is missing from the media store");
            return gone();
        }
    };
    let content_type = media.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
    // Pictures show inline; anything else downloads rather than render in our origin.
    let disposition = if is_picture(media.content_type.as_deref()) { "inline" } else { "attachment" };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition.to_owned()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; img-src 'self'; media-src 'self'".to_owned()),
        ],
        bytes,
    )
        .into_response()
}
