//! What an agent does to a conversation from its page: assign, team,
//! priority, labels, unread, status (snooze, resolve and go on to the next).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::Deserialize;
use textdesk_core::{ConversationStatus, Priority, SnoozePreset};
use textdesk_store::User;

use crate::http::conversations::list::{Head, ListParams, list_view};
use crate::http::conversations::thread::{action_failure, render_conversation};
use crate::http::extract::{Confirm, CsrfForm};
use crate::http::extract::{Path, Query, UiUser};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::conversations::SnoozeWhen;
use crate::services::error::{ServiceError, ServiceResult};

#[derive(Deserialize)]
pub(crate) struct AssignForm {
    /// `me`, `none` or a user id.
    pub(crate) assignee: String,
}

/// After a thread action: on to `next`, or the conversation again with the
/// reason shown above the composer.
pub(crate) async fn after_action(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    p: &ListParams,
    result: ServiceResult<String>,
) -> Response {
    match result {
        Ok(next) => Redirect::to(&next).into_response(),
        Err(e) => {
            let (status, msg) = action_failure(e);
            match render_conversation(s, ui, id, p, Some(msg), String::new()).await {
                Ok(page) => (status, page).into_response(),
                Err(p) => p.into_response(),
            }
        }
    }
}

/// The conversation's page in the list the agent came from.
pub(crate) fn thread_href(id: i64, p: &ListParams) -> String {
    let q = p.query();
    if q.is_empty() { format!("/conversations/{id}") } else { format!("/conversations/{id}?{q}") }
}

pub(crate) fn list_href(p: &ListParams) -> String {
    let q = p.query();
    if q.is_empty() { "/inbox".into() } else { format!("/inbox?{q}") }
}

pub(crate) async fn assign(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    CsrfForm(ui, f): CsrfForm<AssignForm>,
) -> Response {
    let result = async {
        let target = match f.assignee.as_str() {
            "me" => Some(ui.user.id),
            "none" => None,
            other => Some(other.parse().map_err(|_| ServiceError::Invalid("choose someone to assign".into()))?),
        };
        s.services.assign(&ui.user, id, target).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

#[derive(Deserialize)]
pub(crate) struct TeamForm {
    /// `none` or a team id.
    pub(crate) team: String,
}

pub(crate) async fn set_team(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    CsrfForm(ui, f): CsrfForm<TeamForm>,
) -> Response {
    let result = async {
        let team = match f.team.as_str() {
            "none" | "" => None,
            other => Some(other.parse().map_err(|_| ServiceError::Invalid("choose a team".into()))?),
        };
        s.services.set_team(&ui.user, id, team).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

#[derive(Deserialize)]
pub(crate) struct PriorityForm {
    pub(crate) priority: String,
}

pub(crate) async fn set_priority(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    CsrfForm(ui, f): CsrfForm<PriorityForm>,
) -> Response {
    let result = async {
        s.services.set_priority(&ui.user, id, Priority::parse(&f.priority)?).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

/// The label picker: checkboxes named `label`, so the form repeats the key,
/// which a struct cannot hold; read as pairs.
pub(crate) async fn set_labels(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    CsrfForm(ui, pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let labels: Vec<String> = pairs.into_iter().filter(|(k, _)| k == "label").map(|(_, v)| v).collect();
    let result = async {
        s.services.set_labels(&ui.user, id, &labels).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

/// "Mark unread": back to the list, where it shows unread until opened again.
pub(crate) async fn mark_unread(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    CsrfForm(ui, _): CsrfForm<Confirm>,
) -> Response {
    let result = s.services.mark_unread(&ui.user, id).await.map(|_| list_href(&p));
    after_action(&s, &ui, id, &p, result).await
}

#[derive(Deserialize)]
pub(crate) struct StatusForm {
    pub(crate) status: String,
    /// For snoozing: `1h`, `tomorrow`, `next_week`, or `until` with `until` filled in.
    #[serde(default)]
    pub(crate) snooze: Option<String>,
    /// "Until…": a local time from the browser's picker.
    #[serde(default)]
    pub(crate) until: Option<String>,
    /// The agent's zone, which app.js fills in; the business's without it.
    #[serde(default)]
    pub(crate) zone: Option<String>,
}

/// The conversation to go on with after `id`: the next row of the list the
/// agent was working from, else the first other one; None when it has no other.
pub(crate) async fn next_in_list(s: &AppState, user: &User, p: &ListParams, id: i64) -> Result<Option<i64>, Problem> {
    let list = list_view(s, user, p, None, Head::RowsOnly).await?;
    let ids: Vec<i64> = list.rows.iter().map(|r| r.id).collect();
    Ok(match ids.iter().position(|&x| x == id) {
        Some(i) => ids.get(i + 1).copied(),
        None => ids.first().copied(),
    })
}

pub(crate) async fn set_status(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    CsrfForm(ui, f): CsrfForm<StatusForm>,
) -> Response {
    let result = async {
        let status = ConversationStatus::parse(&f.status)?;
        let until = if status == ConversationStatus::Snoozed {
            let when = match f.snooze.as_deref().unwrap_or("1h") {
                "until" => match f.until.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    Some(t) => SnoozeWhen::At(t.to_owned()),
                    None => return Err(ServiceError::Invalid("choose the date and time to snooze until".into())),
                },
                preset => SnoozeWhen::Preset(SnoozePreset::parse(preset)?),
            };
            Some(s.services.snooze_until(ui.user.account_id, &when, f.zone.as_deref(), Timestamp::now()).await?)
        } else {
            None
        };
        // Where to go next is read before resolving, while this row is still in the list.
        let next = if status == ConversationStatus::Resolved {
            Some(next_in_list(&s, &ui.user, &p, id).await.map_err(|e| ServiceError::Invalid(e.detail))?)
        } else {
            None
        };
        s.services.set_status(&ui.user, id, status, until).await?;
        Ok(match next {
            Some(Some(n)) => thread_href(n, &p),
            Some(None) => list_href(&p),
            None => thread_href(id, &p),
        })
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}
