//! Self-service flows in the REST API (`/api/v1/flows`): supervisors and
//! admins read them, admins write them (as for automation rules). A flow
//! travels as a file too: `GET …/{id}/export`, `POST …/import`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_store::StoredFlow;
use utoipa::{IntoParams, ToSchema};

use crate::http::extract::{ApiAdmin, ApiSupervisor, Json, Path, Query};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;

/// A flow: steps (the first is where it starts), keyword answers heard at every step, the words that
/// ask for a person, and its timeout.
#[derive(Serialize, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct FlowDoc {
    /// 1 to 80 characters, unique in the account.
    name: String,
    /// Whole-message words that hand the customer to a person. Default AGENT, HUMAN, PERSON, REPRESENTATIVE, 0.
    handoff_words: Option<Vec<String>>,
    /// Minutes without an answer before the flow ends politely (1 to 1440; default 15).
    #[schema(minimum = 1, maximum = 1440)]
    timeout_minutes: Option<u32>,
    /// Sent when the flow ends for lack of an answer (the conversation is resolved).
    closing_message: Option<String>,
    /// Sent when the customer is handed to a person.
    handoff_message: Option<String>,
    /// Each `{"keywords":["hours","open"],"reply":"We open {next_open}."}`: heard at every step.
    #[schema(value_type = Vec<Object>)]
    answers: Option<Vec<serde_json::Value>>,
    /// Each `{"name":"billing","text":"…","options":[{"key":"1","label":"…","reply":"…","goto":"step",
    /// "handoff":{"team_id":N}}]}` (a menu: every menu has an option that hands over; an option with
    /// `"callback":true` ends the flow and offers the customer call back times, as texting CALL does), or with
    /// `"lookup":{"url":"https://…?phone={phone}&ref={input}","field":"a.b","reply":"… {value} …","goto":"step"}`
    /// (a question whose answer is looked up), or neither (a last message). 1 to 50.
    #[schema(value_type = Vec<Object>)]
    steps: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct FlowOut {
    id: i64,
    #[serde(flatten)]
    #[schema(inline)]
    flow: FlowDoc,
    updated_at: String,
}

impl From<StoredFlow> for FlowOut {
    fn from(f: StoredFlow) -> Self {
        let v = serde_json::to_value(f.flow.spec()).unwrap_or_default();
        let list = |k: &str| v.get(k).and_then(|a| a.as_array().cloned());
        let text = |k: &str| v.get(k).and_then(|a| a.as_str()).map(str::to_owned);
        FlowOut {
            id: f.id,
            flow: FlowDoc {
                name: f.flow.name().to_owned(),
                handoff_words: Some(f.flow.spec().handoff_words.clone()),
                timeout_minutes: Some(f.flow.spec().timeout_minutes),
                closing_message: text("closing_message"),
                handoff_message: text("handoff_message"),
                answers: list("answers"),
                steps: list("steps").unwrap_or_default(),
            },
            updated_at: f.updated_at.to_string(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Write the file over this flow instead of creating one.
    replace: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/flows", tag = "flows",
    responses((status = 200, body = [FlowOut]), (status = 403, body = ProblemOut, description = "Agents do not see flows")),
    security(("bearer" = [])))]
pub async fn list_flows(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
) -> Result<Json<Vec<FlowOut>>, Problem> {
    Ok(Json(s.services.flows(&u).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/flows/{id}", tag = "flows", params(("id" = i64, Path)),
    responses((status = 200, body = FlowOut), (status = 403, body = ProblemOut)), security(("bearer" = [])))]
pub async fn get_flow(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
) -> Result<Json<FlowOut>, Problem> {
    Ok(Json(s.services.flow(&u, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/flows", tag = "flows", request_body = FlowDoc,
    responses((status = 201, body = FlowOut), (status = 403, body = ProblemOut, description = "Only admins change flows"),
        (status = 409, body = ProblemOut, description = "Another flow has that name"),
        (status = 422, body = ProblemOut, description = "The flow is not valid; the detail names the field")),
    security(("bearer" = [])))]
pub async fn create_flow(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Json(b): Json<serde_json::Value>,
) -> Result<Response, Problem> {
    let flow = s.services.read_flow(b)?;
    let f = s.services.create_flow(&u, &flow).await?;
    Ok((StatusCode::CREATED, Json(FlowOut::from(f))).into_response())
}

#[utoipa::path(put, path = "/api/v1/flows/{id}", tag = "flows", params(("id" = i64, Path)), request_body = FlowDoc,
    responses((status = 200, body = FlowOut), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut),
        (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn replace_flow(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<serde_json::Value>,
) -> Result<Json<FlowOut>, Problem> {
    let flow = s.services.read_flow(b)?;
    Ok(Json(s.services.update_flow(&u, id, &flow).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/flows/{id}", tag = "flows", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ProblemOut),
        (status = 409, body = ProblemOut, description = "A rule starts it, or customers are in it now")),
    security(("bearer" = [])))]
pub async fn delete_flow(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    s.services.delete_flow(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `yaml`.
    format: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/flows/{id}/export", tag = "flows", params(("id" = i64, Path), ExportQuery),
    responses((status = 200, description = "The flow as a file: `{\"version\":1,\"name\":…,\"steps\":[…]}` (with `format=yaml`, the same fields in YAML, `application/yaml`)", content_type = "application/json", body = Object),
        (status = 403, body = ProblemOut), (status = 422, body = ProblemOut, description = "An unknown format")),
    security(("bearer" = [])))]
pub async fn export_flow(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, Problem> {
    let yaml = match q.format.as_deref().map(str::trim) {
        None | Some("" | "json") => false,
        Some("yaml") => true,
        Some(_) => return Err(Problem::invalid("format is json or yaml")),
    };
    let (name, text) = s.services.export_flow(&u, id, yaml).await?;
    let kind = HeaderValue::from_static(if yaml { "application/yaml" } else { "application/json" });
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok(([(header::CONTENT_TYPE, kind), (header::CONTENT_DISPOSITION, disposition)], text).into_response())
}

#[utoipa::path(post, path = "/api/v1/flows/import", tag = "flows", params(ImportQuery),
    request_body(content = Object, content_type = "application/json", description = "A flow file as exported (`{\"version\":1,…}`); a body that does not start with `{` is read as YAML"),
    responses((status = 201, body = FlowOut), (status = 403, body = ProblemOut),
        (status = 409, body = ProblemOut, description = "Another flow has that name (import with ?replace=ID to write over one)"),
        (status = 422, body = ProblemOut, description = "What is wrong and where: \"line 7, steps[1].options[0].goto: no step named 'billing'\"")),
    security(("bearer" = [])))]
pub async fn import_flow(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Query(q): Query<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let body = std::str::from_utf8(&body).map_err(|_| Problem::invalid("the file is not text (UTF-8)"))?;
    let f = s.services.import_flow(&u, body, q.replace).await?;
    let status = if q.replace.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(FlowOut::from(f))).into_response())
}
