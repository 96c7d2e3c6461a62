//! Consent: an agent or an API client records what the customer said, the
//! history and the ledger export (CSV).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::extract::CsrfForm;
use crate::http::extract::{ApiSupervisor, ApiUser, Json, Path, Query, UiUser, ts};
use crate::http::problem::ApiResult;
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::consent::{ConsentAbout, ConsentAsk};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    /// opted_in or opted_out.
    pub(crate) state: String,
    /// How consent was given or withdrawn: web_form, verbal, api, …
    pub(crate) source: String,
    /// What proves it (a form submission id, a note of the call).
    #[serde(default)]
    pub(crate) evidence: String,
    /// `account` (every sender of the business; the default) or one sender's scope
    /// (`inbox:<id>`, or the shared scope an inbox was given).
    pub(crate) scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentEventOut {
    pub(crate) id: i64,
    /// `account` (applies to every sender) or a sender's scope (`inbox:<id>` or a shared pool's).
    pub(crate) scope: String,
    /// opt_in or opt_out.
    pub(crate) kind: String,
    pub(crate) source: String,
    pub(crate) evidence: String,
    pub(crate) actor_id: Option<i64>,
    pub(crate) message_id: Option<i64>,
    pub(crate) created_at: String,
}

impl From<textdesk_store::ConsentEvent> for ConsentEventOut {
    fn from(e: textdesk_store::ConsentEvent) -> Self {
        ConsentEventOut {
            id: e.id,
            scope: e.scope,
            kind: e.kind,
            source: e.source,
            evidence: e.evidence,
            actor_id: e.actor_id,
            message_id: e.message_id,
            created_at: ts(e.created_at),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/contacts/{id}/consent", tag = "contacts", params(("id" = i64, Path)), responses((status = 200, body = [ConsentEventOut]), (status = 404, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn consent_history(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ConsentEventOut>>> {
    let events = s.services.consent_history(u.account_id, id).await?;
    Ok(Json(events.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// Only this contact's events.
    pub(crate) contact_id: Option<i64>,
    /// From this instant (RFC 3339), inclusive.
    pub(crate) from: Option<String>,
    /// Up to this instant, exclusive.
    pub(crate) to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/consent/export", tag = "contacts", params(LedgerQuery),
    responses((status = 200, content_type = "text/csv", description = "The consent ledger, one line per opt-in or opt-out"), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn export_consent(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Query(q): Query<LedgerQuery>,
) -> ApiResult<Response> {
    let instant = |v: &Option<String>, name: &str| -> Result<Option<jiff::Timestamp>, Problem> {
        v.as_deref()
            .map(|t| {
                t.parse()
                    .map_err(|_| Problem::invalid(format!("{name}: {t:?} is not a time like 2026-01-31T00:00:00Z")))
            })
            .transpose()
    };
    let (from, to) = (instant(&q.from, "from")?, instant(&q.to, "to")?);
    let lines = s.services.consent_ledger(&u, q.contact_id, from, to).await?;
    Ok(csv_response(crate::services::consent::ledger_csv(&lines)))
}

/// A CSV download.
pub fn csv_response(body: String) -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"consent-ledger.csv\""),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(post, path = "/api/v1/contacts/{id}/consent", tag = "contacts", params(("id" = i64, Path)), request_body = ConsentIn, responses((status = 201, body = ConsentEventOut), (status = 404, body = ProblemOut), (status = 422, body = ProblemOut)), security(("bearer" = [])))]
pub(crate) async fn record_consent(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ConsentIn>,
) -> ApiResult<Response> {
    let ask = ConsentAsk {
        about: ConsentAbout::Contact(id),
        state: &b.state,
        scope: b.scope.as_deref(),
        source: &b.source,
        evidence: &b.evidence,
    };
    let e = s.services.record_consent(&u, ask).await?;
    Ok((StatusCode::CREATED, Json(ConsentEventOut::from(e))).into_response())
}

#[derive(Deserialize)]
pub(crate) struct ConsentForm {
    /// `opted_in` or `opted_out`.
    pub(crate) state: String,
    #[serde(default)]
    pub(crate) evidence: String,
    /// `account` (every number of the business, the default) or this inbox's scope.
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

/// An agent records consent the customer gave or withdrew in words.
pub(crate) async fn record_consent_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<ConsentForm>,
) -> Response {
    let ask = ConsentAsk {
        about: ConsentAbout::Conversation(id),
        state: &f.state,
        scope: f.scope.as_deref(),
        source: "agent",
        evidence: &f.evidence,
    };
    match s.services.record_consent(&ui.user, ask).await {
        Ok(_) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// A contact's consent history as CSV, for an agent to hand to an auditor.
pub(crate) async fn contact_consent_csv(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
) -> Result<Response, Problem> {
    s.services.contact(ui.user.account_id, id).await?;
    let lines = s.services.consent_ledger(&ui.user, Some(id), None, None).await?;
    Ok(crate::http::contacts::consent::csv_response(crate::services::consent::ledger_csv(&lines)))
}
