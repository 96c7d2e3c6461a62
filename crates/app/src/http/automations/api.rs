//! Automation rules in the REST API (`/api/v1/automations`): supervisors and
//! admins read them, admins write them. Logic lives in `services::automations`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use textdesk_core::automation::RuleSpec;
use textdesk_store::StoredRule;
use utoipa::ToSchema;

use crate::http::extract::{ApiAdmin, ApiSupervisor, Json, Path};
use crate::http::problem::Problem;
use crate::http::problem::ProblemOut;
use crate::http::state::AppState;

/// A rule: when its trigger happens and every condition holds, its actions run, in order.
#[derive(Serialize, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RuleDoc {
    /// 1 to 80 characters; shown in the conversation's timeline when the rule acts.
    name: String,
    /// Off rules are kept but never run. Default true.
    enabled: Option<bool>,
    /// One of `{"on":"message_received"}`, `{"on":"conversation_created"}`, `{"on":"conversation_resolved"}`,
    /// `{"on":"conversation_reopened"}`, `{"on":"waited","business_minutes":N}` (1 to 10080),
    /// `{"on":"scheduled","days":["mon",…],"at":"HH:MM"}` (the business's zone).
    #[schema(value_type = Object)]
    trigger: serde_json::Value,
    /// Each one of `{"if":"inbox","any_of":[ids]}`, `{"if":"channel","any_of":["twilio",…]}` (the provider),
    /// `{"if":"medium","any_of":["sms"|"whatsapp"|…]}` (what the customer writes with), `{"if":"text","matches":{"keyword":[…]}|{"contains":"…"}|{"regex":"…"}}`,
    /// `{"if":"hours","are":"open"|"closed"}`, `{"if":"attribute","key":"…","is":{"equals":"…"}|{"not_equals":"…"}|"present"|"absent"}`,
    /// `{"if":"consent","any_of":[…]}`, `{"if":"status","any_of":[…]}`, `{"if":"priority","any_of":[…]}`,
    /// `{"if":"has_label","label":"…"}`, `{"if":"lacks_label","label":"…"}`,
    /// `{"if":"assignee","is":{"who":"nobody"|"anybody"}|{"who":"user"|"team","id":N}}`, `{"if":"first_message","is":true|false}`. At most 20.
    #[schema(value_type = Vec<Object>)]
    conditions: Option<Vec<serde_json::Value>>,
    /// Each one of `{"do":"reply","text":"…"}` (a canned-response template; through the gate like any reply),
    /// `{"do":"assign","user_id":N}`, `{"do":"assign_team","team_id":N}`, `{"do":"add_label","label":"…"}`,
    /// `{"do":"set_priority","priority":"…"}`, `{"do":"snooze","minutes":N}`, `{"do":"resolve"}`,
    /// `{"do":"call_webhook","webhook_id":N}` (posts the firing to that outgoing webhook as `automation.fired`),
    /// `{"do":"start_flow","flow_id":N}` (the bot answers), `{"do":"hand_off"}` (on a customer's message while a
    /// flow answers: the bot says its handoff message and the customer waits for a person),
    /// `{"do":"escalate","to":"supervisor","supervisor_id":N?}`,
    /// `{"do":"escalate","to":"callback_offer"}` or `{"do":"escalate","to":"email","send":"request|transcript"?}`
    /// (emailed to the contact's `email` attribute by a worker after the rule's transaction),
    /// `{"do":"send_survey","after_minutes":N}` (the inbox's satisfaction poll, 0 to 10080 minutes after the
    /// resolve; only with `conversation_resolved`; once per conversation). 1 to 10.
    #[schema(value_type = Vec<Object>)]
    actions: Vec<serde_json::Value>,
    /// `every_time` (default), `per_closed_period`, `per_wait` (only after a wait) or `per_conversation`.
    once: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RuleOut {
    id: i64,
    /// Rules run in this order (1 first).
    position: i64,
    /// For a built-in rule, the inbox it came with.
    inbox_id: Option<i64>,
    /// `off_hours_reply` or `holding_message` for the rules every inbox comes with (they can be edited and
    /// switched off, not deleted).
    builtin: Option<String>,
    #[serde(flatten)]
    #[schema(inline)]
    rule: RuleDoc,
    updated_at: String,
}

impl From<StoredRule> for RuleOut {
    fn from(r: StoredRule) -> Self {
        let spec = RuleSpec::from(r.rule);
        let value = serde_json::to_value(&spec).unwrap_or_default();
        let builtin = value.get("builtin").and_then(|b| b.as_str()).map(str::to_owned);
        RuleOut {
            id: r.id,
            position: r.position,
            inbox_id: r.inbox_id,
            builtin,
            rule: RuleDoc {
                name: spec.name,
                enabled: Some(spec.enabled),
                trigger: value.get("trigger").cloned().unwrap_or_default(),
                conditions: value.get("conditions").and_then(|c| c.as_array().cloned()),
                actions: value.get("actions").and_then(|c| c.as_array().cloned()).unwrap_or_default(),
                once: value.get("once").and_then(|o| o.as_str()).map(str::to_owned),
            },
            updated_at: r.updated_at.to_string(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulePatchIn {
    enabled: Option<bool>,
    /// Move the rule to this place in the order (1 is first; a place past the end is the end).
    #[schema(minimum = 1, maximum = 10000)]
    position: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/automations", tag = "automations",
    responses((status = 200, body = [RuleOut]), (status = 403, body = ProblemOut, description = "Agents do not see the rules")),
    security(("bearer" = [])))]
pub async fn list_rules(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
) -> Result<Json<Vec<RuleOut>>, Problem> {
    Ok(Json(s.services.automation_rules(&u).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = i64, Path)),
    responses((status = 200, body = RuleOut), (status = 403, body = ProblemOut)), security(("bearer" = [])))]
pub async fn get_rule(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
) -> Result<Json<RuleOut>, Problem> {
    Ok(Json(s.services.automation_rule(&u, id).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/automations", tag = "automations", request_body = RuleDoc,
    responses((status = 201, body = RuleOut), (status = 403, body = ProblemOut, description = "Only admins change rules"),
        (status = 422, body = ProblemOut, description = "The rule is not valid; the detail says what and where")),
    security(("bearer" = [])))]
pub async fn create_rule(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Json(b): Json<serde_json::Value>,
) -> Result<Response, Problem> {
    let r = s.services.create_automation_rule(&u, b).await?;
    Ok((StatusCode::CREATED, Json(RuleOut::from(r))).into_response())
}

#[utoipa::path(put, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = i64, Path)), request_body = RuleDoc,
    responses((status = 200, body = RuleOut), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn replace_rule(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<serde_json::Value>,
) -> Result<Json<RuleOut>, Problem> {
    Ok(Json(s.services.update_automation_rule(&u, id, b).await?.into()))
}

#[utoipa::path(patch, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = i64, Path)), request_body = RulePatchIn,
    responses((status = 200, body = RuleOut), (status = 403, body = ProblemOut)), security(("bearer" = [])))]
pub async fn patch_rule(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
    Json(b): Json<RulePatchIn>,
) -> Result<Json<RuleOut>, Problem> {
    if let Some(on) = b.enabled {
        s.services.set_automation_enabled(&u, id, on).await?;
    }
    if let Some(p) = b.position {
        if !(1..=10_000).contains(&p) {
            return Err(Problem::invalid("position: a place in the order, from 1 to 10000"));
        }
        s.services.move_automation_rule(&u, id, p as usize).await?;
    }
    Ok(Json(s.services.automation_rule(&u, id).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/automations/{id}", tag = "automations", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut, description = "Built-in rules are switched off, not deleted")),
    security(("bearer" = [])))]
pub async fn delete_rule(
    State(s): State<AppState>,
    ApiAdmin(u): ApiAdmin,
    Path(id): Path<i64>,
) -> Result<StatusCode, Problem> {
    s.services.delete_automation_rule(&u, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
