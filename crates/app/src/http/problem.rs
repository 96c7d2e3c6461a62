//! RFC 9457 problem details: the API's one error shape. `type` is a stable URN
//! per kind of problem, so clients can branch on it.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use textdesk_store::StoreError;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub extra: Option<serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Problem { status, kind, title, detail: detail.into(), extra: None }
    }
    pub fn not_found(what: &str) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("{what} not found"))
    }
    pub fn invalid(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "Invalid request", detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required", detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }
    pub fn internal() -> Self {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "something went wrong on our side; it has been logged",
        )
    }
    /// Too many attempts (429), or too many running at once (503), with when to try again.
    pub fn refused(r: crate::services::limits::Refusal) -> Self {
        use crate::services::limits::Refusal;
        let (status, kind, title) = match r {
            Refusal::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy"),
            Refusal::Address { .. } | Refusal::Locked { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", "Too many attempts")
            }
            Refusal::TooMany { .. } => (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests"),
            Refusal::Codes { .. } => (StatusCode::TOO_MANY_REQUESTS, "too-many-codes", "Too many codes"),
        };
        Problem {
            status,
            kind,
            title,
            detail: r.explain(),
            extra: Some(json!({ "retry_after_seconds": r.retry_after_secs() })),
        }
    }
    pub fn type_uri(&self) -> String {
        format!("urn:textdesk:problem:{}", self.kind)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let retry_after = self.extra.as_ref().and_then(|e| e.get("retry_after_seconds")).and_then(|v| v.as_u64());
        let mut body = json!({ "type": self.type_uri(), "title": self.title, "status": self.status.as_u16(), "detail": self.detail });
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) = (self.extra, body.as_object_mut()) {
            obj.extend(extra);
        }
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Problem::not_found(what),
            StoreError::Conflict(d) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", d),
            StoreError::Invalid(d) => Problem::invalid(d),
            StoreError::Db(e) => {
                tracing::error!(error = %e, "database error");
                Problem::internal()
            }
            StoreError::Migrate(e) => {
                tracing::error!(error = %e, "migration error");
                Problem::internal()
            }
            e @ (StoreError::WrongSecretKey | StoreError::Locked) => {
                tracing::error!(error = %e, "provider secrets unreadable");
                Problem::internal()
            }
            e @ (StoreError::Panicked | StoreError::Unstored(_)) => {
                tracing::error!(error = %e, "a write failed");
                Problem::internal()
            }
        }
    }
}

impl From<textdesk_core::Invalid> for Problem {
    fn from(e: textdesk_core::Invalid) -> Self {
        Problem::invalid(e.0)
    }
}

impl From<JsonRejection> for Problem {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            return Problem::new(
                status,
                "too-large",
                "Request body too large",
                "the request body is larger than this server accepts",
            );
        }
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            return Problem::new(
                status,
                "unsupported-media-type",
                "Unsupported media type",
                "send JSON with Content-Type: application/json",
            );
        }
        Problem::new(StatusCode::BAD_REQUEST, "malformed", "Malformed request body", r.body_text())
    }
}

impl From<PathRejection> for Problem {
    fn from(r: PathRejection) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", format!("no such resource ({})", r.body_text()))
    }
}

impl From<QueryRejection> for Problem {
    fn from(r: QueryRejection) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, "malformed", "Malformed query string", r.body_text())
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProblemOut {
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    detail: String,
}

// ---------- handlers ----------

pub(crate) type ApiResult<T> = Result<T, Problem>;

impl From<crate::services::error::ServiceError> for Problem {
    fn from(e: crate::services::error::ServiceError) -> Self {
        use crate::services::error::ServiceError as E;
        match e {
            E::Invalid(d) => Problem::invalid(d),
            E::NotFound(what) => Problem::not_found(what),
            E::Conflict(d) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", d),
            E::Forbidden(d) => Problem::forbidden(d),
            E::Blocked(reason) => Problem {
                status: StatusCode::CONFLICT,
                kind: "blocked",
                title: "The message was not sent",
                detail: reason.explain().to_owned(),
                extra: Some(json!({ "reason": reason.code() })),
            },
            E::Credentials(d) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "credentials",
                "The provider did not accept the credentials",
                d,
            ),
            E::Refused(r) => Problem::refused(r),
            E::NoMatch => Problem::unauthorized(E::NoMatch.to_string()),
            E::Store(s) => s.into(),
            E::Internal(d) => {
                tracing::error!(error = %d, "a service failed");
                Problem::internal()
            }
        }
    }
}
