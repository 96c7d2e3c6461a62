//! The review pages: the queue (`/reviews`, supervisors and admins), "My
//! reviews" (`/reviews/mine`, anyone's own scorecards) and one review
//! (`/reviews/{id}`): the conversation's transcript beside the scorecard,
//! which a supervisor fills in and the agent reads.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use textdesk_core::Role;
use textdesk_core::review::{ReviewReason, Rubric};
use textdesk_store::{Review, ReviewState};

use crate::http::conversations::transcript::{Line, customer, lines};
use crate::http::extract::{CsrfForm, Path, Query, UiUser};
use crate::http::layout::{Chrome, chrome, page_or_problem};
use crate::http::problem::Problem;
use crate::http::reviews::api::filter_of;
use crate::http::state::AppState;

/// A review as a list shows it.
pub(crate) struct Item {
    id: i64,
    contact: String,
    agent: String,
    reasons: Vec<&'static str>,
    /// When it was queued (waiting) or scored, on the business's clock.
    when: String,
    overall: String,
    reviewer: String,
    comment: String,
}

fn when(t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%a %b %-d, %-I:%M %p").to_string()
}

fn overall_text(o: Option<u8>) -> String {
    o.map(|o| format!("{o}%")).unwrap_or_else(|| "—".into())
}

fn item(r: Review, tz: &jiff::tz::TimeZone) -> Item {
    Item {
        id: r.id,
        contact: if r.contact_name.trim().is_empty() { r.contact_address } else { r.contact_name },
        agent: r.agent_name.unwrap_or_else(|| "nobody".into()),
        reasons: r.reasons.iter().map(|x| x.describe()).collect(),
        when: when(r.scored_at.unwrap_or(r.queued_at), tz),
        overall: overall_text(r.overall),
        reviewer: r.reviewer_name.unwrap_or_default(),
        comment: r.comment,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "reviews.html")]
pub(crate) struct QueuePage {
    chrome: Chrome,
    zone: String,
    items: Vec<Item>,
    scored: bool,
    agents: Vec<(i64, String)>,
    agent: i64,
    reasons: Vec<(&'static str, &'static str)>,
    reason: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct QueueQuery {
    state: Option<String>,
    agent: Option<String>,
    reason: Option<String>,
}

pub(crate) async fn queue_page(
    State(s): State<AppState>,
    ui: UiUser,
    Query(q): Query<QueueQuery>,
) -> Result<QueuePage, Problem> {
    if !ui.user.role.at_least(Role::Supervisor) {
        return Err(Problem::forbidden(
            "the review queue is for supervisors and admins; your own scorecards are under My reviews (/reviews/mine)",
        ));
    }
    // An empty select sends "": no filter, not an error.
    let agent = q.agent.as_deref().filter(|a| !a.is_empty()).map(str::parse::<i64>).transpose();
    let agent = agent.map_err(|_| Problem::invalid("agent: choose someone from the list"))?;
    let f = filter_of(q.state.as_deref(), agent, q.reason.as_deref())?;
    let list = s.services.review_queue(&ui.user, &f, 200).await?;
    let agents = s.services.users(ui.user.account_id).await?.into_iter().map(|u| (u.id, u.name)).collect();
    Ok(QueuePage {
        chrome: chrome(&s, &ui),
        zone: ui.zone_name(),
        items: list.into_iter().map(|r| item(r, &ui.zone)).collect(),
        scored: f.state == ReviewState::Scored,
        agents,
        agent: agent.unwrap_or(0),
        reasons: ReviewReason::ALL.iter().map(|r| (r.as_str(), r.describe())).collect(),
        reason: f.reason.map(|r| r.as_str().to_owned()).unwrap_or_default(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "reviews_mine.html")]
pub(crate) struct MinePage {
    chrome: Chrome,
    zone: String,
    items: Vec<Item>,
}

pub(crate) async fn mine_page(State(s): State<AppState>, ui: UiUser) -> Result<MinePage, Problem> {
    let list = s.services.my_reviews(&ui.user, 200).await?;
    Ok(MinePage {
        chrome: chrome(&s, &ui),
        zone: ui.zone_name(),
        items: list.into_iter().map(|r| item(r, &ui.zone)).collect(),
    })
}

/// One criterion on the scorecard, with its score as shown or chosen.
pub(crate) struct Row {
    n: usize,
    label: String,
    help: String,
    weight: u8,
    /// "1".."5", or "" for "does not apply".
    score: String,
    /// The scale's points, the chosen one marked.
    options: Vec<(&'static str, bool)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "review.html")]
pub(crate) struct ReviewPage {
    chrome: Chrome,
    zone: String,
    id: i64,
    conversation_id: i64,
    contact: String,
    agent: String,
    reasons: Vec<&'static str>,
    queued: String,
    lines: Vec<Line>,
    /// The supervisor's form (else the card is read-only).
    can_score: bool,
    rows: Vec<Row>,
    comment: String,
    /// Scored: by whom, when, the overall.
    scored: Option<(String, String, String)>,
    error: Option<String>,
    saved: bool,
}

/// The rows for `rubric` with `scores` (by position), as the form shows them.
fn rows(rubric: &Rubric, scores: &[Option<u8>]) -> Vec<Row> {
    rubric
        .criteria
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let score = scores.get(n).copied().flatten().map(|s| s.to_string()).unwrap_or_default();
            let options = ["1", "2", "3", "4", "5"].into_iter().map(|v| (v, v == score)).collect();
            Row { n, label: c.label.clone(), help: c.help.clone(), weight: c.weight, score, options }
        })
        .collect()
}

async fn review_view(s: &AppState, ui: &UiUser, id: i64) -> Result<ReviewPage, Problem> {
    let r = s.services.review_for(&ui.user, id).await?;
    let t = s.services.read_transcript(ui.user.account_id, r.conversation_id).await?;
    let can_score = ui.user.role.at_least(Role::Supervisor);
    // A scorecard shows the rubric it was scored against; a new one the account's.
    let rubric = match &r.rubric {
        Some(rubric) => rubric.clone(),
        None => s.services.review_settings(ui.user.account_id).await?.rubric,
    };
    Ok(ReviewPage {
        chrome: chrome(s, ui),
        zone: ui.zone_name(),
        id: r.id,
        conversation_id: r.conversation_id,
        contact: customer(&t),
        agent: r.agent_name.clone().unwrap_or_else(|| "nobody".into()),
        reasons: r.reasons.iter().map(|x| x.describe()).collect(),
        queued: when(r.queued_at, &ui.zone),
        lines: lines(&t, &ui.zone),
        can_score,
        rows: rows(&rubric, &r.scores),
        comment: r.comment.clone(),
        scored: r.scored_at.map(|at| {
            (
                r.reviewer_name.clone().unwrap_or_else(|| "a former colleague".into()),
                when(at, &ui.zone),
                overall_text(r.overall),
            )
        }),
        error: None,
        saved: false,
    })
}

#[derive(Deserialize, Default)]
pub(crate) struct ReviewQuery {
    saved: Option<String>,
}

pub(crate) async fn review_page(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(q): Query<ReviewQuery>,
) -> Result<ReviewPage, Problem> {
    let mut page = review_view(&s, &ui, id).await?;
    page.saved = q.saved.is_some();
    Ok(page)
}

/// The scorecard form: `score_N` ("1"–"5", or "" where it does not apply) and `comment`.
pub(crate) async fn score_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, form): CsrfForm<HashMap<String, String>>,
) -> Response {
    let rubric = match s.services.review_settings(ui.user.account_id).await {
        Ok(r) => r.rubric,
        Err(e) => return Problem::from(e).into_response(),
    };
    let mut scores = Vec::with_capacity(rubric.criteria.len());
    let mut unreadable = None;
    for n in 0..rubric.criteria.len() {
        match form.get(&format!("score_{n}")).map(|v| v.trim()).unwrap_or("") {
            "" => scores.push(None),
            v => match v.parse::<u8>() {
                Ok(x) => scores.push(Some(x)),
                Err(_) => {
                    unreadable = Some(format!("“{}”: choose a score from 1 to 5", rubric.criteria[n].label));
                    scores.push(None);
                }
            },
        }
    }
    let comment = form.get("comment").cloned().unwrap_or_default();
    let result = match unreadable {
        Some(e) => Err(Problem::invalid(e)),
        None => s.services.score_review(&ui.user, id, &scores, &comment).await.map_err(Problem::from),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/reviews/{id}?saved=1#scorecard")).into_response(),
        Err(p) if p.status == StatusCode::UNPROCESSABLE_ENTITY || p.status == StatusCode::CONFLICT => {
            let page = review_view(&s, &ui, id).await.map(|mut page| {
                page.rows = rows(&rubric, &scores);
                page.comment = comment;
                page.error = Some(p.detail.clone());
                page
            });
            page_or_problem(p.status, page)
        }
        Err(p) => p.into_response(),
    }
}
