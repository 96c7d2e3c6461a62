//! The conversation list as the UI and the API ask for it: one reading of the
//! view, filters, sort and cursor, so both refuse the same bad input the same way.

use textdesk_core::list::{InboxView, ListSort};
use textdesk_core::{ConversationStatus, Invalid, Priority};
use textdesk_store::{AssigneeFilter, ConversationFilter, ConversationPage, Cursor, StoreError, User};

use crate::services::Services;
use crate::services::error::ServiceResult;

/// A list request as typed: every part optional; empty text means "not set".
#[derive(Debug, Clone, Default)]
pub struct ListAsk<'a> {
    pub view: Option<&'a str>,
    /// A status, or `any`.
    pub status: Option<&'a str>,
    /// `me`, `none`, or a user id.
    pub assignee: Option<&'a str>,
    pub inbox_id: Option<i64>,
    pub team_id: Option<i64>,
    pub label: Option<&'a str>,
    pub priority: Option<&'a str>,
    pub contact_id: Option<i64>,
    pub q: Option<&'a str>,
    pub sort: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub limit: i64,
}

fn set(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// `me`, `none`, or a user id; `any` or nothing for no condition.
pub fn parse_assignee(raw: Option<&str>, me: i64) -> Result<Option<AssigneeFilter>, Invalid> {
    Ok(match set(raw) {
        None | Some("any") => None,
        Some("me") => Some(AssigneeFilter::User(me)),
        Some("none") => Some(AssigneeFilter::Nobody),
        Some(other) => {
            Some(AssigneeFilter::User(other.parse().map_err(|_| Invalid::new("assignee is me, none or a user id"))?))
        }
    })
}

/// What a list request reads as, for the store and for drawing the filter bar.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub view: Option<InboxView>,
    pub filter: ConversationFilter,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

impl Services {
    /// Reads a list request, checking that every id it names belongs to the account.
    pub async fn list_query(&self, user: &User, ask: &ListAsk<'_>) -> ServiceResult<ListQuery> {
        let view = set(ask.view).map(InboxView::parse).transpose()?;
        // "bot" is an open conversation a self-service flow is answering; "open" is
        // one waiting for (or with) a person. Every list agrees: the bot's are in
        // no person's queue unless asked for.
        let (status, bot) = match set(ask.status) {
            None | Some("any") => (None, None),
            Some("bot") => (Some(ConversationStatus::Open), Some(true)),
            Some(s) => {
                let status = ConversationStatus::parse(s).map_err(|_| {
                    Invalid::new(format!(
                        "status must be one of open, bot, pending, snoozed, resolved, any (got {s:?})"
                    ))
                })?;
                (Some(status), (status == ConversationStatus::Open).then_some(false))
            }
        };
        let mut f = ConversationFilter {
            status,
            bot,
            assignee: parse_assignee(ask.assignee, user.id)?,
            inbox_id: ask.inbox_id,
            team_id: ask.team_id,
            label: set(ask.label).map(str::to_owned),
            priority: set(ask.priority).map(Priority::parse).transpose()?,
            contact_id: ask.contact_id,
            q: set(ask.q).map(str::to_owned),
            ..Default::default()
        };
        let by_view = match view {
            Some(InboxView::Mine) => Some(AssigneeFilter::User(user.id)),
            Some(InboxView::Unassigned) => Some(AssigneeFilter::Nobody),
            _ => None,
        };
        if let Some(v) = by_view {
            if f.assignee.is_some_and(|a| a != v) {
                return Err(Invalid::new("the view already chooses the assignee; drop one of view and assignee").into());
            }
            f.assignee = Some(v);
        }
        if f.bot.is_none() && matches!(view, Some(InboxView::Unassigned | InboxView::Mine | InboxView::Team)) {
            f.bot = Some(false);
        }
        match view {
            Some(InboxView::Team) => f.teams_of = Some(user.id),
            Some(InboxView::Mentions) => f.mentioned = Some(user.id),
            Some(InboxView::Escalated) => f.escalated_to = Some(user.id),
            _ => {}
        }
        f.sort = match set(ask.sort).map(ListSort::parse).transpose()? {
            Some(ListSort::Mentioned) if view != Some(InboxView::Mentions) => {
                return Err(Invalid::new("sort=mentioned is for view=mentions only").into());
            }
            Some(s) => s,
            None if view == Some(InboxView::Mentions) => ListSort::Mentioned,
            None => ListSort::Activity,
        };
        if let Some(i) = f.inbox_id {
            self.store
                .inbox(user.account_id, i)
                .await
                .map_err(|e| unknown(e, format!("no inbox {i} in this account")))?;
        }
        if let Some(AssigneeFilter::User(u)) = f.assignee {
            let known = self.store.user(u).await.map_err(|e| unknown(e, format!("no user {u} in this account")))?;
            if known.account_id != user.account_id {
                return Err(Invalid::new(format!("no user {u} in this account")).into());
            }
        }
        let cursor = set(ask.cursor).map(Cursor::parse).transpose()?;
        Ok(ListQuery { view, filter: f, cursor, limit: ask.limit })
    }

    /// The latest `limit` conversations of an inbox, in any status.
    pub async fn inbox_conversations(
        &self,
        inbox: &textdesk_store::Inbox,
        limit: i64,
    ) -> ServiceResult<ConversationPage> {
        let filter = ConversationFilter { inbox_id: Some(inbox.id), ..Default::default() };
        Ok(self.store.list_conversations(inbox.account_id, &filter, None, limit).await?)
    }

    pub async fn list(&self, user: &User, q: &ListQuery) -> ServiceResult<ConversationPage> {
        Ok(self.store.list_conversations(user.account_id, &q.filter, q.cursor, q.limit).await?)
    }
}

/// A filter naming something that is not there is a bad request, not a missing page.
fn unknown(e: StoreError, msg: String) -> StoreError {
    match e {
        StoreError::NotFound(_) => StoreError::Invalid(msg),
        other => other,
    }
}
