//! `/api/v1/reviews…`: the queue and scored reviews (supervisors and admins),
//! the caller's own scorecards, one review, scoring it, and the rubric.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use textdesk_core::review::{Criterion, ReviewReason};
use textdesk_store::{Review, ReviewFilter, ReviewState};
use utoipa::{IntoParams, ToSchema};

use crate::http::extract::{ApiAdmin, ApiSupervisor, ApiUser, Json, Path, Query, ts};
use crate::http::problem::{ApiResult, Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::reviews::ReviewSettings;

/// One criterion of a rubric.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriterionOut {
    /// What is scored (unique, at most 80 characters).
    pub(crate) label: String,
    /// What the reviewer looks for (at most 300 characters).
    #[serde(default)]
    pub(crate) help: String,
    /// How much it counts against the others, 1 to 10. (Read as any JSON value, so a wrong one is
    /// answered 422 with words rather than refused as unreadable.)
    #[schema(value_type = u8, minimum = 1, maximum = 10)]
    pub(crate) weight: serde_json::Value,
}

/// A small whole number as sent, or 0 (which no rule accepts) for anything else.
fn small(v: &serde_json::Value) -> u8 {
    v.as_u64().and_then(|n| u8::try_from(n).ok()).unwrap_or(0)
}

impl From<&Criterion> for CriterionOut {
    fn from(c: &Criterion) -> Self {
        CriterionOut { label: c.label.clone(), help: c.help.clone(), weight: c.weight.into() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReviewOut {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) contact_name: String,
    /// The number or address the conversation is with.
    pub(crate) contact_address: String,
    /// The agent reviewed: the conversation's assignee when it was queued (a low
    /// score's: the agent when it was resolved; an escalation's: who escalated).
    pub(crate) agent_id: Option<i64>,
    pub(crate) agent_name: Option<String>,
    /// Why it is in the queue: sample, low_score, escalated, sla_breach (each once).
    pub(crate) reasons: Vec<String>,
    pub(crate) queued_at: String,
    /// `waiting` or `scored`.
    pub(crate) state: &'static str,
    pub(crate) reviewer_id: Option<i64>,
    pub(crate) reviewer_name: Option<String>,
    /// The rubric it was scored against (empty while waiting).
    pub(crate) criteria: Vec<CriterionOut>,
    /// One score per criterion, 1 to 5, or null where it did not apply.
    pub(crate) scores: Vec<Option<u8>>,
    pub(crate) comment: String,
    /// Percent of the weighted maximum (0: every scored criterion at 1, 100: all at 5).
    pub(crate) overall: Option<u8>,
    pub(crate) scored_at: Option<String>,
}

impl From<Review> for ReviewOut {
    fn from(r: Review) -> Self {
        ReviewOut {
            id: r.id,
            conversation_id: r.conversation_id,
            contact_name: r.contact_name,
            contact_address: r.contact_address,
            agent_id: r.agent_id,
            agent_name: r.agent_name,
            reasons: r.reasons.iter().map(|x| x.as_str().to_owned()).collect(),
            queued_at: ts(r.queued_at),
            state: if r.scored_at.is_some() { "scored" } else { "waiting" },
            reviewer_id: r.reviewer_id,
            reviewer_name: r.reviewer_name,
            criteria: r.rubric.iter().flat_map(|x| x.criteria.iter()).map(Into::into).collect(),
            scores: r.scores,
            comment: r.comment,
            overall: r.overall,
            scored_at: r.scored_at.map(ts),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReviewsQuery {
    /// `waiting` (the queue, oldest first; the default) or `scored` (newest first).
    pub(crate) state: Option<String>,
    /// Only this agent's.
    pub(crate) agent_id: Option<i64>,
    /// Only those queued for this reason: sample, low_score, escalated, sla_breach.
    pub(crate) reason: Option<String>,
    /// At most this many (1 to 200; 100 by default).
    pub(crate) limit: Option<i64>,
}

/// A list's filter as asked; bad values are refused with words.
pub(crate) fn filter_of(
    state: Option<&str>,
    agent_id: Option<i64>,
    reason: Option<&str>,
) -> Result<ReviewFilter, Problem> {
    let state = match state.map(str::trim).unwrap_or("") {
        "" | "waiting" => ReviewState::Waiting,
        "scored" => ReviewState::Scored,
        other => return Err(Problem::invalid(format!("state: {other:?} is not waiting or scored"))),
    };
    let reason = match reason.map(str::trim).unwrap_or("") {
        "" => None,
        r => Some(ReviewReason::parse(r).map_err(|e| Problem::invalid(format!("reason: {}", e.0)))?),
    };
    Ok(ReviewFilter { state, agent_id: agent_id.filter(|a| *a > 0), reason })
}

#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews", params(ReviewsQuery),
    responses((status = 200, body = [ReviewOut], description = "The review queue (or the scored reviews)"), (status = 403, body = ProblemOut, description = "Agents may not see the queue")),
    security(("bearer" = [])))]
pub(crate) async fn list_reviews(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Query(q): Query<ReviewsQuery>,
) -> ApiResult<Json<Vec<ReviewOut>>> {
    let f = filter_of(q.state.as_deref(), q.agent_id, q.reason.as_deref())?;
    let list = s.services.review_queue(&u, &f, q.limit.unwrap_or(100)).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/reviews/mine", tag = "reviews",
    responses((status = 200, body = [ReviewOut], description = "The caller's own scorecards, newest first")),
    security(("bearer" = [])))]
pub(crate) async fn my_reviews(State(s): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<Vec<ReviewOut>>> {
    Ok(Json(s.services.my_reviews(&u, 200).await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = ReviewOut), (status = 404, body = ProblemOut, description = "No such review, or (to an agent) one that is not their own scorecard")),
    security(("bearer" = [])))]
pub(crate) async fn get_review(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ReviewOut>> {
    Ok(Json(s.services.review_for(&u, id).await?.into()))
}

/// A scorecard's scores as the API document shows them: each 1 to 5 or null
/// (the handler reads raw values so that a wrong one is a 422 in words).
fn scores_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let score = ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .minimum(Some(1))
        .maximum(Some(5));
    ArrayBuilder::new().items(score).build()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScorecardIn {
    /// One per criterion of the account's rubric, in its order: 1 to 5, or null where it does not apply
    /// (at least one scored).
    #[schema(schema_with = scores_schema)]
    pub(crate) scores: Vec<serde_json::Value>,
    /// For the agent (at most 2,000 characters).
    #[serde(default)]
    pub(crate) comment: String,
}

#[utoipa::path(put, path = "/api/v1/reviews/{id}/scorecard", tag = "reviews", params(("id" = i64, Path)), request_body = ScorecardIn,
    responses((status = 200, body = ReviewOut, description = "Scored (again): logged as review_scored"), (status = 403, body = ProblemOut), (status = 409, body = ProblemOut, description = "A newer review of the conversation waits"), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn score_review(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Path(id): Path<i64>,
    Json(b): Json<ScorecardIn>,
) -> ApiResult<Json<ReviewOut>> {
    // Anything but a whole number 1-5 or null becomes a score the rubric refuses, in words.
    let scores: Vec<Option<u8>> = b.scores.iter().map(|v| if v.is_null() { None } else { Some(small(v)) }).collect();
    Ok(Json(s.services.score_review(&u, id, &scores, &b.comment).await?.into()))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettingsIo {
    /// Resolved conversations per agent per week put in the queue at random (0 to 50; 0 turns it off).
    #[schema(value_type = u32, minimum = 0, maximum = 50)]
    pub(crate) sample_size: serde_json::Value,
    /// 1 to 20 criteria, in the order they are scored.
    pub(crate) criteria: Vec<CriterionOut>,
}

impl From<ReviewSettings> for ReviewSettingsIo {
    fn from(r: ReviewSettings) -> Self {
        ReviewSettingsIo {
            sample_size: r.sample_size.into(),
            criteria: r.rubric.criteria.iter().map(Into::into).collect(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/reviews/settings", tag = "reviews",
    responses((status = 200, body = ReviewSettingsIo, description = "The rubric and the weekly sample size")),
    security(("bearer" = [])))]
pub(crate) async fn get_review_settings(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
) -> ApiResult<Json<ReviewSettingsIo>> {
    Ok(Json(s.services.review_settings(u.account_id).await?.into()))
}

#[utoipa::path(put, path = "/api/v1/reviews/settings", tag = "reviews", request_body = ReviewSettingsIo,
    responses((status = 200, body = ReviewSettingsIo), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn put_review_settings(
    State(s): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Json(b): Json<ReviewSettingsIo>,
) -> ApiResult<Json<ReviewSettingsIo>> {
    let criteria =
        b.criteria.into_iter().map(|c| Criterion { weight: small(&c.weight), label: c.label, help: c.help }).collect();
    // Past the largest size allowed: refused in words by the size's own check.
    let size = b.sample_size.as_u64().map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX));
    Ok(Json(s.services.set_review_settings(&admin, size, criteria).await?.into()))
}
