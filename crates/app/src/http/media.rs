//! Attachments at signed, expiring links: what agents' browsers show and what
//! providers fetch when we send a picture. The link is the permission.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::MediaState;
use utoipa::ToSchema;

use crate::http::extract::{ApiUser, CsrfMultipart, Path, Query};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;

/// The composer's "Attach": files kept for the reply being written, answered
/// with their ids (and links, for thumbnails), or a problem the page shows.
pub(crate) async fn ui_upload(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfMultipart(ui, parts): CsrfMultipart,
) -> Result<Response, Problem> {
    s.services.conversation(ui.user.account_id, id).await?;
    if parts.files.is_empty() {
        return Err(Problem::invalid("choose a file to attach"));
    }
    let mut out = Vec::with_capacity(parts.files.len());
    for f in &parts.files {
        let media = s.services.upload(&ui.user, &f.content_type, &f.bytes).await?;
        out.push(MediaOut::of(media, &s.services));
    }
    Ok((StatusCode::CREATED, axum::Json(out)).into_response())
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
pub(crate) struct Signed {
    exp: i64,
    sig: String,
}

pub(crate) async fn serve(State(s): State<AppState>, Path(id): Path<i64>, Query(q): Query<Signed>) -> Response {
    let gone = || (StatusCode::NOT_FOUND, "no such attachment, or the link has expired").into_response();
    if !s.services.media.verify(id, q.exp, &q.sig, jiff::Timestamp::now()) {
        return gone();
    }
    let media = match s.services.attachment(id).await {
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
    // Only a type on the allow-list (checked against the content when it was
    // kept) is named; rows kept before that check, or anything else, go out
    // as unknown bytes to download, and no browser may guess otherwise.
    let kind = textdesk_core::media::served_kind(media.content_type.as_deref());
    let content_type = kind.map_or("application/octet-stream", |k| k.essence);
    let disposition = if kind.is_some_and(|k| k.inline) { "inline" } else { "attachment" };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition.to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; img-src 'self'; media-src 'self'".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Serialize, ToSchema)]
pub struct MediaOut {
    id: i64,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    /// pending (still being fetched from the provider), stored, or failed.
    state: String,
    /// Why it could not be fetched (while pending: the last try, which will be retried).
    error: Option<String>,
    /// A link that works for an hour, once stored.
    url: Option<String>,
}

impl MediaOut {
    pub fn of(m: textdesk_store::Media, services: &crate::Services) -> Self {
        MediaOut {
            url: (m.state == textdesk_store::MediaState::Stored)
                .then(|| services.media_link(m.id, jiff::SignedDuration::from_hours(1))),
            id: m.id,
            content_type: m.content_type,
            size_bytes: m.size_bytes,
            state: m.state.as_str().into(),
            error: m.last_error,
        }
    }
}
