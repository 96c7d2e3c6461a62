//! Attachments at signed, expiring links: what agents' browsers show and what
//! providers fetch when we send a picture. The link is the permission.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use textdesk_store::MediaState;

use crate::http::AppState;
use crate::services::media::is_picture;

pub fn routes() -> Router<AppState> {
    Router::new().route("/media/{id}", get(serve))
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
