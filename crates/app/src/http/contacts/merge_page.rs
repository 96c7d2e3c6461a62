//! The merge screen, reached from the contact panel: find the other contact,
//! see what a merge would do (both histories, consent per scope, which value
//! each field keeps, chosen with a radio per field), merge, and undo.

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use textdesk_core::ConsentState;
use textdesk_core::contact::channel_label;
use textdesk_core::merge::{Keep, Picks};
use textdesk_store::MergeSide;

use crate::http::extract::{CsrfForm, Path, Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::merge::MergePreview;

pub struct SideView {
    pub id: i64,
    pub who: String,
    pub identities: Vec<(&'static str, String)>,
    /// ("SMS", "2 conversations").
    pub conversations: Vec<(&'static str, String)>,
    pub notes: i64,
    /// One line per ledger entry, oldest first.
    pub consent: Vec<String>,
}

pub struct FieldView {
    /// The radio group's name: `keep.name`, `keep.attributes.plan`…
    pub input: String,
    pub label: String,
    pub survivor: String,
    pub other: String,
    pub keep_other: bool,
    pub conflict: bool,
}

pub struct ScopeView {
    pub scope: String,
    pub survivor: &'static str,
    pub other: &'static str,
    pub result: &'static str,
    pub conflict: bool,
}

pub struct PreviewView {
    pub other_id: i64,
    pub survivor: SideView,
    pub other: SideView,
    pub fields: Vec<FieldView>,
    pub consent: Vec<ScopeView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "contact_merge.html")]
pub struct MergePage {
    chrome: Chrome,
    contact_id: i64,
    who: String,
    /// The conversation the agent came from, to go back to.
    from: Option<i64>,
    q: String,
    /// Contacts found by the search: id, name, addresses.
    candidates: Vec<(i64, String, String)>,
    preview: Option<PreviewView>,
    notice: Option<String>,
    /// A merge just made: its id and what it did, in words.
    done: Option<(i64, String)>,
}

fn consent_words(s: ConsentState) -> &'static str {
    match s {
        ConsentState::Unknown => "nothing recorded",
        ConsentState::OptedIn => "opted in",
        ConsentState::OptedOut => "opted out",
    }
}

fn scope_words(scope: &str, inboxes: &[(i64, String)]) -> String {
    if scope == "account" {
        return "All our numbers".into();
    }
    scope
        .strip_prefix("inbox:")
        .and_then(|id| id.parse::<i64>().ok())
        .and_then(|id| inboxes.iter().find(|i| i.0 == id))
        .map(|i| format!("Only {}", i.1))
        .unwrap_or_else(|| format!("Sender group {scope}"))
}

fn side_view(s: &MergeSide, inboxes: &[(i64, String)], zone: &jiff::tz::TimeZone) -> SideView {
    SideView {
        id: s.contact.id,
        who: s.contact.display_name(),
        identities: s.contact.identities.iter().map(|i| (channel_label(&i.namespace), i.address.clone())).collect(),
        conversations: s
            .conversations
            .iter()
            .map(|(medium, n)| {
                let label = textdesk_core::Medium::parse(medium).map(|m| m.label()).unwrap_or("Other");
                (label, format!("{n} conversation{}", if *n == 1 { "" } else { "s" }))
            })
            .collect(),
        notes: s.notes,
        consent: s
            .consent
            .iter()
            .filter(|e| e.kind != "opt_in_requested")
            .map(|e| {
                let what = if e.kind == "opt_out" { "Opted out" } else { "Opted in" };
                let when = e.created_at.to_zoned(zone.clone()).strftime("%b %-d, %Y %-I:%M %p");
                format!("{what} · {} · {} · {when}", scope_words(&e.scope, inboxes), e.source.replace('_', " "))
            })
            .collect(),
    }
}

fn preview_view(p: MergePreview, inboxes: &[(i64, String)], zone: &jiff::tz::TimeZone) -> PreviewView {
    let none = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    PreviewView {
        other_id: p.other.contact.id,
        survivor: side_view(&p.survivor, inboxes, zone),
        other: side_view(&p.other, inboxes, zone),
        fields: p
            .fields
            .iter()
            .map(|f| FieldView {
                input: format!("keep.{}", f.field),
                label: match f.field.as_str() {
                    "name" => "Name".into(),
                    "time_zone" => "Time zone".into(),
                    other => other.trim_start_matches("attributes.").to_owned(),
                },
                survivor: none(&f.survivor),
                other: none(&f.other),
                keep_other: f.keep == Keep::Other,
                conflict: f.conflict,
            })
            .collect(),
        consent: p
            .consent
            .iter()
            .map(|c| ScopeView {
                scope: scope_words(&c.scope, inboxes),
                survivor: consent_words(c.survivor),
                other: consent_words(c.other),
                result: consent_words(c.result),
                conflict: c.conflict,
            })
            .collect(),
    }
}

impl PreviewView {
    pub fn sides(&self) -> [&SideView; 2] {
        [&self.survivor, &self.other]
    }
}

/// The agent's radio choices (`keep.name=other`, `keep.attributes.plan=survivor`…).
fn picks_of(form: &BTreeMap<String, String>) -> Result<Picks, textdesk_core::Invalid> {
    let mut picks = Picks::default();
    for (k, v) in form {
        let Some(field) = k.strip_prefix("keep.") else { continue };
        let keep = Keep::parse(v)?;
        match field {
            "name" => picks.name = Some(keep),
            "time_zone" => picks.time_zone = Some(keep),
            other => match other.strip_prefix("attributes.") {
                Some(key) => {
                    picks.attributes.insert(key.to_owned(), keep);
                }
                None => return Err(textdesk_core::Invalid::new(format!("{k:?} is not a field of a contact"))),
            },
        }
    }
    Ok(picks)
}

#[derive(Deserialize)]
pub struct MergeQuery {
    #[serde(default)]
    other: Option<i64>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    from: Option<i64>,
}

struct Ask {
    from: Option<i64>,
    q: String,
    other: Option<i64>,
    picks: Picks,
    notice: Option<String>,
    done: Option<(i64, String)>,
}

async fn render(s: &AppState, ui: &UiUser, id: i64, status: StatusCode, a: Ask) -> Response {
    let account = ui.user.account_id;
    let contact = match s.services.contact(account, id).await {
        Ok(c) => c,
        Err(e) => return Problem::from(e).into_response(),
    };
    let mut candidates = Vec::new();
    if a.other.is_none() && !a.q.trim().is_empty() {
        match s.services.contacts(account, Some(a.q.trim()), None, 20).await {
            Ok(list) => {
                candidates = list
                    .into_iter()
                    .filter(|c| c.id != id)
                    .map(|c| {
                        let addresses: Vec<String> = c.identities.iter().map(|i| i.address.clone()).collect();
                        (c.id, c.display_name(), addresses.join(", "))
                    })
                    .collect()
            }
            Err(e) => return Problem::from(e).into_response(),
        }
    }
    let mut notice = a.notice;
    let preview = match a.other {
        Some(other) => match s.services.merge_preview(account, (id, other), &a.picks).await {
            Ok(p) => {
                let inboxes: Vec<(i64, String)> = match s.services.inboxes(account).await {
                    Ok(list) => list.into_iter().map(|i| (i.id, i.name)).collect(),
                    Err(e) => return Problem::from(e).into_response(),
                };
                Some(preview_view(p, &inboxes, &ui.zone))
            }
            Err(e) => {
                let p = Problem::from(e);
                notice.get_or_insert(p.detail);
                None
            }
        },
        None => None,
    };
    let page = MergePage {
        chrome: chrome(s, ui),
        contact_id: id,
        who: contact.display_name(),
        from: a.from,
        q: a.q,
        candidates,
        preview,
        notice,
        done: a.done,
    };
    (status, page).into_response()
}

pub async fn merge_page(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(q): Query<MergeQuery>,
) -> Response {
    let ask = Ask {
        from: q.from,
        q: q.q.unwrap_or_default(),
        other: q.other,
        picks: Picks::default(),
        notice: None,
        done: None,
    };
    render(&s, &ui, id, StatusCode::OK, ask).await
}

pub async fn merge_form(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, form): CsrfForm<BTreeMap<String, String>>,
) -> Response {
    let from = form.get("from").and_then(|f| f.parse().ok());
    let Some(other) = form.get("other").and_then(|o| o.parse::<i64>().ok()) else {
        let ask = Ask {
            from,
            q: String::new(),
            other: None,
            picks: Picks::default(),
            notice: Some("Choose the contact to merge first.".into()),
            done: None,
        };
        return render(&s, &ui, id, StatusCode::UNPROCESSABLE_ENTITY, ask).await;
    };
    let refused = |notice: String, picks: Picks| Ask {
        from,
        q: String::new(),
        other: Some(other),
        picks,
        notice: Some(format!("Nothing was merged: {notice}")),
        done: None,
    };
    let picks = match picks_of(&form) {
        Ok(p) => p,
        Err(e) => {
            return render(&s, &ui, id, StatusCode::UNPROCESSABLE_ENTITY, refused(e.0, Picks::default())).await;
        }
    };
    match s.services.merge_contacts(&ui.user, (id, other), &picks).await {
        Ok(m) => {
            let until = (m.created_at + textdesk_core::merge::UNDO_WINDOW).to_zoned(ui.zone.clone());
            let words = format!(
                "Merged: {} addresses, {} conversations, {} notes and {} consent records moved here. \
                 You can undo this until {} ({} time), as long as nothing new happens first.",
                m.moved.identities.len(),
                m.moved.conversations.len(),
                m.moved.notes.len(),
                m.moved.consent_events.len(),
                until.strftime("%b %-d, %Y %-I:%M %p"),
                ui.zone_name()
            );
            let ask = Ask {
                from,
                q: String::new(),
                other: None,
                picks: Picks::default(),
                notice: None,
                done: Some((m.id, words)),
            };
            render(&s, &ui, id, StatusCode::OK, ask).await
        }
        Err(e) => {
            let p = Problem::from(e);
            let status = p.status;
            render(&s, &ui, id, status, refused(p.detail, picks)).await
        }
    }
}

#[derive(Deserialize)]
pub struct UndoForm {
    #[serde(default)]
    from: Option<i64>,
}

pub async fn undo_form(
    State(s): State<AppState>,
    Path(merge_id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<UndoForm>,
) -> Response {
    let m = match s.services.contact_merge(ui.user.account_id, merge_id).await {
        Ok(m) => m,
        Err(e) => return Problem::from(e).into_response(),
    };
    let empty = |notice: String| Ask {
        from: f.from,
        q: String::new(),
        other: None,
        picks: Picks::default(),
        notice: Some(notice),
        done: None,
    };
    match s.services.undo_merge(&ui.user, merge_id).await {
        Ok(_) => match f.from {
            Some(conv) => Redirect::to(&format!("/conversations/{conv}")).into_response(),
            None => {
                let words = format!("The merge is undone: contact {} has their own history again.", m.merged_id);
                let ask = Ask { done: Some((0, words)), notice: None, ..empty(String::new()) };
                render(&s, &ui, m.survivor_id, StatusCode::OK, ask).await
            }
        },
        Err(e) => {
            let p = Problem::from(e);
            render(&s, &ui, m.survivor_id, p.status, empty(format!("Nothing was undone: {}", p.detail))).await
        }
    }
}
