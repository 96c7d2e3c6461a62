//! The channels a conversation's customer can be answered on: the composer's
//! picker and `GET /api/v1/conversations/{id}/channels`.

use axum::extract::State;
use serde::Serialize;
use textdesk_store::Conversation;
use utoipa::ToSchema;

use crate::http::extract::{ApiUser, Json, Path};
use crate::http::problem::{ApiResult, Problem, ProblemOut};
use crate::http::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct ReplyChannelOut {
    /// Pass it as `inbox_id` when sending a message to answer through this channel.
    pub(crate) inbox_id: i64,
    pub(crate) inbox_name: String,
    /// sms, whatsapp, messenger, telegram, line, wechat or webchat.
    pub(crate) channel: String,
    /// The conversation's own channel now.
    pub(crate) current: bool,
    /// The composer's default: the conversation's own channel.
    pub(crate) default: bool,
    /// When the customer last wrote through it; null: never (a message through it is
    /// business-initiated there and needs their opt-in).
    pub(crate) last_inbound_at: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/conversations/{id}/channels", tag = "conversations", params(("id" = i64, Path)),
    responses((status = 200, body = [ReplyChannelOut], description = "The account's inboxes that reach one of the customer's addresses, the conversation's own first"), (status = 404, body = ProblemOut)),
    security(("bearer" = [])))]
pub(crate) async fn list_channels(
    State(s): State<AppState>,
    ApiUser(u): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ReplyChannelOut>>> {
    let choice = s.services.reply_channels(u.account_id, id).await?;
    Ok(Json(
        choice
            .options
            .iter()
            .map(|o| ReplyChannelOut {
                inbox_id: o.inbox_id,
                inbox_name: o.inbox_name.clone(),
                channel: o.medium.as_str().into(),
                current: o.current,
                default: o.inbox_id == choice.default_inbox,
                last_inbound_at: o.last_inbound.map(crate::http::extract::ts),
            })
            .collect(),
    ))
}

/// The composer's picker: inbox id, "WhatsApp · Support", chosen. Empty when
/// there is nothing to choose.
pub(crate) async fn picker(s: &AppState, conversation: &Conversation) -> Result<Vec<(i64, String, bool)>, Problem> {
    let choice = s.services.channels_of(conversation).await?;
    if !choice.has_choice() {
        return Ok(Vec::new());
    }
    Ok(choice.options.iter().map(|o| (o.inbox_id, o.label(), o.inbox_id == choice.default_inbox)).collect())
}
