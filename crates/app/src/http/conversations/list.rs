//! The inbox list: views, filters, search and the rows (the page and its
//! live-refreshed fragment).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::Deserialize;
use textdesk_core::{ConsentState, ConversationStatus};
use textdesk_store::{ConversationSummary, Label, User};

use crate::http::extract::{Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::list::ListAsk;

/// "now", "4m", "3h", "2d": how long ago, the way an inbox says it.
pub fn ago(t: Timestamp, now: Timestamp) -> String {
    let secs = now.duration_since(t).as_secs().max(0);
    match secs {
        0..=59 => "now".into(),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// What the list shows: which view, which filters, which order, what search.
/// Every field is text because an unset select sends an empty value.
#[derive(Deserialize, Default, Clone)]
pub struct ListParams {
    pub(crate) view: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) inbox_id: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) priority: Option<String>,
    pub(crate) assignee: Option<String>,
    pub(crate) sort: Option<String>,
    pub(crate) q: Option<String>,
    pub(crate) cursor: Option<String>,
    /// On a conversation's page: how many of its latest messages to show
    /// (the thread's own, not the list's; "Show earlier messages" raises it).
    pub(crate) shown: Option<String>,
}

impl ListParams {
    /// The query string that brings back this list (no cursor), for the tabs and
    /// the thread's links and forms: after an action the agent stays in the list
    /// they came from.
    pub(crate) fn query(&self) -> String {
        let mut parts = Vec::new();
        for (key, value) in [
            ("view", &self.view),
            ("status", &self.status),
            ("inbox_id", &self.inbox_id),
            ("label", &self.label),
            ("priority", &self.priority),
            ("assignee", &self.assignee),
            ("q", &self.q),
            ("sort", &self.sort),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{key}={}", crate::http::extract::urlencode(v)));
            }
        }
        parts.join("&")
    }
}

/// The customer has waited this long for a person.
pub struct WaitingBadge {
    pub(crate) since_ms: i64,
    pub(crate) label: String,
    /// Past the account's first-response target.
    pub(crate) late: bool,
}

pub struct Row {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) initial: String,
    pub(crate) address: String,
    pub(crate) preview: String,
    /// The customer's last words, when the preview is our reply.
    pub(crate) customer: Option<String>,
    /// In search results: the matching words in context, marked.
    pub(crate) snippet: Option<Vec<(String, bool)>>,
    pub(crate) age: String,
    pub(crate) unread: i64,
    pub(crate) status: &'static str,
    pub(crate) priority: &'static str,
    pub(crate) assignee: Option<String>,
    pub(crate) inbox: String,
    pub(crate) opted_out: bool,
    pub(crate) waiting: Option<WaitingBadge>,
    pub(crate) labels: Vec<String>,
    pub(crate) active: bool,
}

pub struct ListView {
    pub(crate) rows: Vec<Row>,
    pub(crate) view: String,
    /// The status listed: the one chosen, else open (or any, when searching).
    pub(crate) status: String,
    /// Whether the agent chose the status (it is then kept in links and searches).
    pub(crate) status_chosen: bool,
    pub(crate) inbox_id: String,
    pub(crate) label: String,
    pub(crate) priority: String,
    pub(crate) assignee: String,
    pub(crate) sort: String,
    pub(crate) q: String,
    pub(crate) next_cursor: Option<String>,
    /// The query string that reproduces this list (for live refresh and links).
    pub(crate) query: String,
    /// The catalogue's colours, for the rows' label badges.
    pub(crate) label_colors: Vec<(String, String)>,
    pub(crate) inboxes: Vec<(String, String)>,
    pub(crate) agents: Vec<(String, String)>,
    /// The first-response target the waiting badges are measured against.
    pub(crate) target_minutes: u32,
    /// Supervisors and admins take escalations, and have the Escalated view.
    pub(crate) supervises: bool,
}

pub(crate) const VIEW_TABS: [(&str, &str); 6] = [
    ("mine", "Mine"),
    ("unassigned", "Unassigned"),
    ("team", "Team"),
    ("mentions", "Mentions"),
    ("escalated", "Escalated"),
    ("all", "All"),
];

impl ListView {
    /// The view tabs this person has: Escalated for those who take escalations.
    pub(crate) fn tabs(&self) -> Vec<(&'static str, &'static str)> {
        VIEW_TABS.into_iter().filter(|(t, _)| *t != "escalated" || self.supervises || self.view == *t).collect()
    }
    pub(crate) fn tab_class(&self, tab: &str) -> &'static str {
        if self.view == tab { "tab active" } else { "tab" }
    }
    /// Another view keeps the filters and search; only the mentions view has its own order.
    pub(crate) fn tab_href(&self, tab: &str) -> String {
        let sort = if self.sort == "mentioned" { "" } else { self.sort.as_str() };
        format!("/inbox?{}", self.query_for(tab, sort))
    }
    pub(crate) fn query_for(&self, view: &str, sort: &str) -> String {
        let some = |v: &str| Some(v.to_owned());
        ListParams {
            view: some(view),
            status: self.status_chosen.then(|| self.status.clone()),
            inbox_id: some(&self.inbox_id),
            label: some(&self.label),
            priority: some(&self.priority),
            assignee: some(&self.assignee),
            sort: some(sort),
            q: some(&self.q),
            cursor: None,
            shown: None,
        }
        .query()
    }
    pub(crate) fn selected(&self, status: &str) -> &'static str {
        if self.status == status { "selected" } else { "" }
    }
    /// A status option's value. The one listed by default is sent empty, so a
    /// search typed beside it looks in every status; one chosen is kept.
    pub(crate) fn status_value<'a>(&self, status: &'a str) -> &'a str {
        if !self.status_chosen && self.status == status { "" } else { status }
    }
    /// "open", "resolved"…: how the status chosen reads in a sentence.
    pub(crate) fn status_words(&self) -> &str {
        &self.status
    }
    /// The agent chose one status: a search does not look in the others.
    pub(crate) fn narrowed(&self) -> bool {
        self.status_chosen && self.status != "any"
    }
    /// The same search in every status.
    pub(crate) fn every_status_href(&self) -> String {
        let all = ListParams { view: Some(self.view.clone()), q: Some(self.q.clone()), ..Default::default() };
        format!("/inbox?{}", all.query())
    }
    /// A label's `#rrggbb` (empty for one no longer in the catalogue).
    pub(crate) fn label_color(&self, name: &str) -> &str {
        self.label_colors.iter().find(|(n, _)| n == name).map(|(_, c)| c.as_str()).unwrap_or("")
    }
    /// `selected` when the named filter has this value.
    pub(crate) fn picked(&self, field: &str, value: &str) -> &'static str {
        let current = match field {
            "inbox_id" => &self.inbox_id,
            "label" => &self.label,
            "priority" => &self.priority,
            "assignee" => &self.assignee,
            "sort" => &self.sort,
            _ => return "",
        };
        if current == value { "selected" } else { "" }
    }
    /// Narrowed beyond view and status: the filters disclosure starts open.
    pub(crate) fn filtered(&self) -> bool {
        let plain = [&self.inbox_id, &self.label, &self.priority, &self.assignee].iter().all(|v| v.is_empty());
        !(plain && matches!(self.sort.as_str(), "activity" | "mentioned"))
    }
    pub(crate) fn assignee_chosen_by_view(&self) -> bool {
        matches!(self.view.as_str(), "mine" | "unassigned")
    }
    pub(crate) fn more_href(&self) -> Option<String> {
        self.next_cursor.as_ref().map(|c| format!("/inbox?{}&cursor={c}", self.query))
    }
}

/// "waiting 12 min", "waiting 2 h 5 min", "waiting 3 d".
pub(crate) fn waiting_label(minutes: i64) -> String {
    match minutes {
        ..=59 => format!("waiting {} min", minutes.max(0)),
        60..=1439 => format!("waiting {} h {} min", minutes / 60, minutes % 60),
        _ => format!("waiting {} d", minutes / 1440),
    }
}

pub(crate) fn waiting_badge(since: Timestamp, now: Timestamp, target_minutes: u32) -> WaitingBadge {
    let minutes = now.duration_since(since).as_secs().max(0) / 60;
    let late = minutes >= i64::from(target_minutes);
    let label = waiting_label(minutes);
    WaitingBadge {
        since_ms: since.as_millisecond(), label: if late { format!("{label} · late") } else { label }, late
    }
}

pub(crate) fn row_from(s: ConversationSummary, now: Timestamp, active: Option<i64>, target_minutes: u32) -> Row {
    let c = &s.conversation;
    let name = if s.contact_name.trim().is_empty() { s.contact_address.clone() } else { s.contact_name.clone() };
    Row {
        id: c.id,
        // A contact known only by number gets "#", not the country code's digit.
        initial: name
            .chars()
            .next()
            .filter(|ch| ch.is_alphabetic())
            .map(|ch| ch.to_uppercase().to_string())
            .unwrap_or_else(|| "#".into()),
        name,
        address: s.contact_address.clone(),
        preview: s.preview.clone(),
        customer: s.customer_preview.clone(),
        snippet: s.snippet.clone().map(|x| x.0),
        age: ago(c.last_activity_at, now),
        unread: c.unread,
        status: if c.bot { "bot" } else { c.status.as_str() },
        priority: c.priority.as_str(),
        assignee: s.assignee_name.clone(),
        inbox: s.inbox_name.clone(),
        opted_out: s.consent == ConsentState::OptedOut,
        // Nobody may text an opted-out contact, so nobody is late answering them.
        waiting: c
            .waiting_since
            .filter(|_| c.status == ConversationStatus::Open && s.consent != ConsentState::OptedOut)
            .map(|since| waiting_badge(since, now, target_minutes)),
        labels: c.labels.clone(),
        active: Some(c.id) == active,
    }
}

/// Whether the list's head (the filter bar) is rendered: its choices of inbox
/// and agent are two more reads that a refresh of the rows does without.
#[derive(Clone, Copy)]
pub(crate) enum Head<'a> {
    With,
    /// With the head, from the account's people and label catalogue that the
    /// rest of the page (a conversation's thread) has already read.
    Known(&'a [User], &'a [Label]),
    RowsOnly,
}

pub(crate) async fn list_view(
    s: &AppState,
    user: &User,
    p: &ListParams,
    active: Option<i64>,
    head: Head<'_>,
) -> Result<ListView, Problem> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let inbox_id = text(&p.inbox_id);
    // A small business shares one inbox: everything open is the natural start.
    let view = p.view.as_deref().filter(|v| !v.is_empty()).unwrap_or("all");
    // Open by default; a search looks in every status unless one is chosen.
    let chosen = p.status.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let searching = p.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let ask = ListAsk {
        view: Some(view),
        status: Some(chosen.unwrap_or(if searching { "any" } else { "open" })),
        // Mine and Unassigned choose the assignee; a choice carried over from another view gives way.
        assignee: p.assignee.as_deref().filter(|_| !matches!(view, "mine" | "unassigned")),
        inbox_id: match inbox_id.as_str() {
            "" => None,
            i => Some(i.parse().map_err(|_| Problem::invalid("inbox_id must be an inbox's number"))?),
        },
        label: p.label.as_deref(),
        priority: p.priority.as_deref(),
        q: p.q.as_deref(),
        sort: p.sort.as_deref(),
        cursor: p.cursor.as_deref(),
        limit: 50,
        ..Default::default()
    };
    let query = s.services.list_query(user, &ask).await?;
    // Read here unless the page has them: the rows' badges need the label
    // catalogue, the head the rest. Side by side with the rows.
    let wants_inboxes = !matches!(head, Head::RowsOnly);
    let (wants_users, wants_labels) = match head {
        Head::With => (true, true),
        Head::Known(..) => (false, false),
        Head::RowsOnly => (false, true),
    };
    let (page, settings, inboxes, read_users, read_labels) = tokio::try_join!(
        s.services.list(user, &query),
        s.services.account_settings(user.account_id),
        async { if wants_inboxes { s.services.inboxes(user.account_id).await } else { Ok(Vec::new()) } },
        async { if wants_users { s.services.users(user.account_id).await } else { Ok(Vec::new()) } },
        async { if wants_labels { s.services.labels(user).await } else { Ok(Vec::new()) } },
    )?;
    let target_minutes = settings.targets.first_response_minutes;
    let (agents, catalogue): (&[User], &[Label]) = match head {
        Head::With => (&read_users, &read_labels),
        Head::Known(users, labels) => (users, labels),
        Head::RowsOnly => (&[], &read_labels),
    };
    let now = Timestamp::now();
    let mut list = ListView {
        rows: page.items.into_iter().map(|r| row_from(r, now, active, target_minutes)).collect(),
        view: query.view.map_or("all", |v| v.as_str()).to_owned(),
        status: match (query.filter.status, query.filter.bot) {
            (_, Some(true)) => "bot".to_owned(),
            (status, _) => status.map_or("any", |s| s.as_str()).to_owned(),
        },
        status_chosen: chosen.is_some(),
        inbox_id,
        label: text(&p.label),
        priority: query.filter.priority.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        assignee: text(&p.assignee),
        sort: query.filter.sort.as_str().to_owned(),
        q: text(&p.q),
        next_cursor: page.next_cursor,
        query: String::new(),
        label_colors: catalogue.iter().map(|l| (l.name.clone(), l.color.clone())).collect(),
        inboxes: inboxes.into_iter().map(|i| (i.id.to_string(), i.name)).collect(),
        agents: agents.iter().filter(|u| u.active).map(|u| (u.id.to_string(), u.name.clone())).collect(),
        target_minutes,
        supervises: user.role.at_least(textdesk_core::Role::Supervisor),
    };
    if list.assignee_chosen_by_view() {
        list.assignee.clear();
    }
    list.query = list.query_for(&list.view, &list.sort);
    Ok(list)
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
pub(crate) struct InboxPage {
    pub(crate) chrome: Chrome,
    pub(crate) list: ListView,
    /// The first run's steps, for an admin until they are done or put away.
    pub(crate) setup: Option<crate::services::setup::SetupChecklist>,
}

pub(crate) async fn inbox_page(
    State(s): State<AppState>,
    ui: UiUser,
    Query(p): Query<ListParams>,
) -> Result<InboxPage, Problem> {
    let list = list_view(&s, &ui.user, &p, None, Head::With).await?;
    let setup = s.services.setup_checklist(&ui.user).await?;
    Ok(InboxPage { chrome: chrome(&s, &ui), list, setup })
}

#[derive(Template, WebTemplate)]
#[template(path = "_list.html")]
pub(crate) struct ListFragment {
    pub(crate) list: ListView,
}

#[derive(Template, WebTemplate)]
#[template(path = "_rows.html")]
pub(crate) struct RowsFragment {
    pub(crate) list: ListView,
}

/// The list without the page around it; `rows=1` (a live refresh) without its head too.
pub(crate) async fn inbox_list(
    State(s): State<AppState>,
    ui: UiUser,
    Query(p): Query<ListParams>,
    Query(a): Query<ActiveParam>,
) -> Result<Response, Problem> {
    Ok(if a.rows.as_deref() == Some("1") {
        RowsFragment { list: list_view(&s, &ui.user, &p, a.active, Head::RowsOnly).await? }.into_response()
    } else {
        ListFragment { list: list_view(&s, &ui.user, &p, a.active, Head::With).await? }.into_response()
    })
}

#[derive(Deserialize)]
pub(crate) struct ActiveParam {
    pub(crate) active: Option<i64>,
    /// `1`: only the rows and the link to older ones.
    pub(crate) rows: Option<String>,
}

// ---------- conversation ----------
