//! What providers post to us. Each request is verified against the inbox's
//! credentials before anything is read from it, and answered only once what
//! it carried is on disk (a provider retries until it gets a 2xx).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use textdesk_channels::twilio::{self, SIGNATURE_HEADER};
use textdesk_channels::{InboundEvent, ParseError};
use textdesk_core::ChannelKind;
use textdesk_store::{Inbox, StoreError};

use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks/twilio/{inbox}", post(twilio_inbound))
        .route("/webhooks/twilio/{inbox}/status", post(twilio_status))
}

fn plain(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.to_owned()).into_response()
}

fn twiml() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, twilio::TWIML_CONTENT_TYPE)], twilio::EMPTY_TWIML).into_response()
}

/// The inbox, and the request's parameters once its signature is proven.
async fn verified(
    s: &AppState,
    inbox_id: i64,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Inbox, Vec<(String, String)>), Response> {
    let inbox = match s.services.store.inbox_by_id(inbox_id).await {
        Ok(i) if i.channel_kind == ChannelKind::Twilio => i,
        Ok(_) | Err(StoreError::NotFound(_)) => return Err(plain(StatusCode::NOT_FOUND, "no such Twilio inbox")),
        Err(e) => {
            tracing::error!(error = %e, "reading an inbox for a webhook failed");
            return Err(plain(StatusCode::SERVICE_UNAVAILABLE, "try again"));
        }
    };
    let token = match s.services.twilio_auth_token(&inbox).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(inbox = inbox.id, error = %e, "the Twilio inbox has no usable credentials");
            return Err(plain(StatusCode::SERVICE_UNAVAILABLE, "the inbox is not set up"));
        }
    };
    let Some(signature) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
        return Err(plain(StatusCode::FORBIDDEN, "missing X-Twilio-Signature"));
    };
    // Twilio signs the address it was given: ours as the public sees it.
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path}", s.config.public_url);
    let json_body = uri.query().is_some_and(|q| q.split('&').any(|kv| kv.starts_with("bodySHA256=")));
    let (valid, params) = if json_body {
        let params = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body)
            .map(|m| m.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or(v.to_string()))).collect())
            .unwrap_or_default();
        (twilio::validate_json(&token, &url, body, signature), params)
    } else {
        let params: Vec<(String, String)> =
            url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        (twilio::validate_form(&token, &url, &params, signature), params)
    };
    if !valid {
        tracing::warn!(inbox = inbox.id, "a Twilio webhook failed its signature check");
        return Err(plain(StatusCode::FORBIDDEN, "the X-Twilio-Signature does not match"));
    }
    let expected_sid = inbox.settings["twilio"]["account_sid"].as_str().unwrap_or_default();
    let sid = params.iter().find(|(k, _)| k == "AccountSid").map(|(_, v)| v.as_str()).unwrap_or_default();
    if sid != expected_sid {
        return Err(plain(StatusCode::FORBIDDEN, "the AccountSid is not this inbox's account"));
    }
    Ok((inbox, params))
}

/// What a verified request carried, parsed; `answer` is the reply once it is stored.
async fn ingest_verified(
    s: &AppState,
    inbox_id: i64,
    (uri, headers, body): (&axum::http::Uri, &HeaderMap, &[u8]),
    parse: impl FnOnce(&[(String, String)]) -> Result<InboundEvent, ParseError>,
    answer: Response,
) -> Response {
    let (inbox, params) = match verified(s, inbox_id, uri, headers, body).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let event = match parse(&params) {
        Ok(e) => e,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.0),
    };
    match s.services.ingest(inbox.id, event).await {
        Ok(_) => answer,
        Err(StoreError::Invalid(e)) => plain(StatusCode::BAD_REQUEST, &e),
        Err(e) => {
            tracing::error!(inbox = inbox.id, error = %e, "storing what Twilio sent failed");
            plain(StatusCode::SERVICE_UNAVAILABLE, "not stored; try again")
        }
    }
}

async fn twilio_inbound(
    State(s): State<AppState>,
    Path(inbox_id): Path<i64>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parse = |p: &[(String, String)]| twilio::parse_inbound(p, jiff::Timestamp::now()).map(|m| m.event);
    // Replies go out through the dispatcher, never inline.
    ingest_verified(&s, inbox_id, (&uri, &headers, &body), parse, twiml()).await
}

async fn twilio_status(
    State(s): State<AppState>,
    Path(inbox_id): Path<i64>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parse = |p: &[(String, String)]| twilio::parse_status(p).map(|m| m.event);
    ingest_verified(&s, inbox_id, (&uri, &headers, &body), parse, StatusCode::NO_CONTENT.into_response()).await
}
