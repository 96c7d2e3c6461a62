//! A conversation's satisfaction poll: `GET /api/v1/conversations/{id}/surveys`.

use axum::extract::State;
use serde::Serialize;
use textdesk_store::Survey;
use utoipa::ToSchema;

use crate::http::extract::{ApiUser, Json, Path, ts};
use crate::http::problem::{ApiResult, ProblemOut};
use crate::http::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct SurveyOut {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) contact_id: i64,
    pub(crate) inbox_id: i64,
    /// csat (1–5), nps (0–10) or yes_no (1 yes, 0 no).
    pub(crate) kind: String,
    /// due (waiting for its time after the resolve), sent, answered, commented, expired or suppressed.
    pub(crate) state: String,
    /// Why it was not sent (with `suppressed`): opted_out, never_wrote, recent_poll, switched_off,
    /// no_opt_in, reply_window_closed.
    pub(crate) reason: Option<String>,
    pub(crate) score: Option<u8>,
    /// A low score (CSAT 1–2, NPS 0–6, no): supervisors were alerted and a follow-up asked what went wrong.
    pub(crate) low: Option<bool>,
    /// Words that came with the score, then the customer's answer to the follow-up.
    pub(crate) comment: Option<String>,
    /// The agent and team the conversation had when it was resolved.
    pub(crate) agent_id: Option<i64>,
    pub(crate) team_id: Option<i64>,
    /// The poll's text, the customer's answer, the follow-up and the comment, as messages of the conversation.
    pub(crate) message_id: Option<i64>,
    pub(crate) answer_message_id: Option<i64>,
    pub(crate) followup_message_id: Option<i64>,
    pub(crate) comment_message_id: Option<i64>,
    pub(crate) due_at: Option<String>,
    pub(crate) sent_at: Option<String>,
    pub(crate) answered_at: Option<String>,
    pub(crate) commented_at: Option<String>,
    /// Until when a reply is read as the answer (or, after the follow-up, as the comment).
    pub(crate) expires_at: Option<String>,
}

impl From<Survey> for SurveyOut {
    fn from(s: Survey) -> Self {
        SurveyOut {
            id: s.id,
            conversation_id: s.conversation_id,
            contact_id: s.contact_id,
            inbox_id: s.inbox_id,
            kind: s.kind.as_str().into(),
            state: s.state,
            reason: s.reason,
            low: s.score.map(|n| s.kind.is_low(n)),
            score: s.score,
            comment: s.comment,
            agent_id: s.agent_id,
            team_id: s.team_id,
            message_id: s.message_id,
            answer_message_id: s.answer_message_id,
            followup_message_id: s.followup_message_id,
            comment_message_id: s.comment_message_id,
            due_at: s.due_at.map(ts),
            sent_at: s.sent_at.map(ts),
            answered_at: s.answered_at.map(ts),
            commented_at: s.commented_at.map(ts),
            expires_at: s.expires_at.map(ts),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/surveys", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = [SurveyOut], description = "The conversation's satisfaction poll (at most one): empty when none was armed"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn list_surveys(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<SurveyOut>>> {
    Ok(Json(s.services.surveys(u.account_id, id).await?.into_iter().map(Into::into).collect()))
}
