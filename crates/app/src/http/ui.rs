//! The agents' web UI: server-rendered pages that work without JavaScript; a
//! small script of ours adds live updates over SSE by re-fetching fragments.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Deserialize;
use textdesk_core::gate::OutboundKind;
use textdesk_core::snooze;
use textdesk_core::{Body, ConsentState, ConversationStatus, DeliveryStatus, Direction, Priority, Role, SnoozePreset};
use textdesk_store::{
    ACCOUNT_SCOPE, ConversationSummary, Message, MessagePage, RecordConsent, StoreError, Team, TimelineEvent, User,
};

use crate::http::AppState;
use crate::http::extract::{
    ClientIp, Path, Query, SESSION_COOKIE, SIGN_IN_CSRF_COOKIE, UiUser, check_sign_in_csrf, cookie_value, sign_in_csrf,
    sign_in_csrf_cookie,
};
use crate::http::problem::Problem;
use crate::services::auth;
use crate::services::compose::their_time;
use crate::services::conversations::{ActionError, Draft, SnoozeWhen};
use crate::services::list::ListAsk;
use crate::services::schedule::ZoneChoice;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/inbox", get(inbox_page))
        .route("/inbox/list", get(inbox_list))
        .route("/conversations/{id}", get(conversation_page))
        .route("/conversations/{id}/thread", get(thread_fragment))
        .route("/conversations/{id}/assign", post(assign))
        .route("/conversations/{id}/status", post(set_status))
        .route("/conversations/{id}/priority", post(set_priority))
        .route("/conversations/{id}/team", post(set_team))
        .route("/conversations/{id}/labels", post(set_labels))
        .route("/conversations/{id}/unread", post(mark_unread))
        .route("/conversations/{id}/consent", post(record_consent))
        .route("/contacts/{id}/consent.csv", get(contact_consent_csv))
        .route("/conversations/{id}/preview", post(preview))
        .route("/conversations/{id}/waiting/{message_id}", post(waiting_action))
        .merge(crate::http::live::ui_routes())
        .merge(crate::http::canned::ui_routes())
        .merge(crate::http::labels::ui_routes())
        .merge(crate::http::contacts::ui_routes())
        .merge(crate::http::preferences::ui_routes())
        .merge(crate::http::settings::ui_routes())
        .merge(crate::http::setup::ui_routes())
        .merge(crate::http::audit::ui_routes())
        .route("/static/app.css", get(|| async { static_file("text/css", include_str!("../../static/app.css")) }))
        .route("/static/app.js", get(|| async { static_file("text/javascript", include_str!("../../static/app.js")) }))
        .route(
            "/static/icon.svg",
            get(|| async { static_file("image/svg+xml", include_str!("../../static/icon.svg")) }),
        )
        .route(
            "/static/simulator.js",
            get(|| async { static_file("text/javascript", include_str!("../../static/simulator.js")) }),
        )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=300")], body).into_response()
}

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

/// A message's time as the thread shows it, in the business's zone: the time
/// alone (the thread has day dividers).
fn clock(t: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%-I:%M %p").to_string()
}

/// "Today", "Yesterday", or "Friday, Nov 20": the divider above a day's messages.
fn day_label(day: jiff::civil::Date, today: jiff::civil::Date) -> String {
    if day == today {
        "Today".into()
    } else if day.checked_add(jiff::Span::new().days(1)).ok() == Some(today) {
        "Yesterday".into()
    } else {
        day.strftime("%A, %b %-d").to_string()
    }
}

// ---------- login ----------

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    error: Option<String>,
    email: String,
    csrf: String,
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Only local paths: a login link must not bounce people to another site.
pub(crate) fn safe_next(next: Option<String>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/inbox".into(),
    }
}

/// A sign-in form (`page` gets the form's token) with its token cookie when it is new.
pub(crate) fn with_sign_in_csrf<P: IntoResponse>(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    page: impl FnOnce(String) -> P,
) -> Response {
    let (token, fresh) = sign_in_csrf(headers);
    let cookie = fresh.then(|| sign_in_csrf_cookie(&token, &s.config.public_url));
    let mut res = (status, page(token)).into_response();
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn login_form(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    error: Option<String>,
    email: String,
) -> Response {
    with_sign_in_csrf(s, headers, status, |csrf| LoginPage { next, error, email, csrf })
}

async fn login_page(State(s): State<AppState>, headers: HeaderMap, Query(q): Query<LoginQuery>) -> Response {
    login_form(&s, &headers, StatusCode::OK, safe_next(q.next), None, String::new())
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    next: Option<String>,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next);
    if check_sign_in_csrf(&headers, &f.csrf, &s.config.public_url).is_err() {
        let error = "This sign-in form expired or did not come from this site. Please sign in again.";
        return login_form(&s, &headers, StatusCode::FORBIDDEN, next, Some(error.into()), f.email);
    }
    let guard = auth::SignInGuard {
        store: &s.services.store,
        limits: &s.services.limits,
        rule: s.services.lockout,
        account_id: s.account_id,
        ip,
    };
    match auth::sign_in(&guard, &f.email, &f.password).await {
        Ok(user) => sign_in(&s, user.id, &next).await,
        Err(e @ auth::SignInError::NoMatch) => {
            login_form(&s, &headers, StatusCode::UNAUTHORIZED, next, Some(e.to_string()), f.email)
        }
        Err(auth::SignInError::Refused(r)) => {
            let status = Problem::refused(r).status;
            let mut res = login_form(&s, &headers, status, next, Some(r.explain()), f.email);
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(r.retry_after_secs()));
            res
        }
        Err(auth::SignInError::Store(e)) => Problem::from(e).into_response(),
    }
}

/// Starts a session for `user_id` and sends the browser on to `next` with its cookie.
pub(crate) async fn sign_in(s: &AppState, user_id: i64, next: &str) -> Response {
    let session = match auth::start_session(&s.services.store, user_id, s.config.session_hours).await {
        Ok(x) => x,
        Err(e) => return Problem::from(e).into_response(),
    };
    let secure = if s.config.public_url.starts_with("https://") { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        session.cookie,
        s.config.session_hours * 3600
    );
    let mut res = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    // The sign-in form's token has done its job; the session brings its own.
    if let Ok(v) =
        HeaderValue::from_str(&format!("{SIGN_IN_CSRF_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    if let Some(c) = cookie_value(&headers, SESSION_COOKIE) {
        let _ = s.services.store.delete_session(&auth::hash_secret(c)).await;
    }
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("textdesk_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    res
}

// ---------- inbox list ----------

/// What the list shows: which view, which filters, which order, what search.
/// Every field is text because an unset select sends an empty value.
#[derive(Deserialize, Default, Clone)]
pub struct ListParams {
    view: Option<String>,
    status: Option<String>,
    inbox_id: Option<String>,
    label: Option<String>,
    priority: Option<String>,
    assignee: Option<String>,
    sort: Option<String>,
    q: Option<String>,
    cursor: Option<String>,
    /// On a conversation's page: how many of its latest messages to show
    /// (the thread's own, not the list's; "Show earlier messages" raises it).
    shown: Option<String>,
}

impl ListParams {
    /// The query string that brings back this list (no cursor), for the tabs and
    /// the thread's links and forms: after an action the agent stays in the list
    /// they came from.
    fn query(&self) -> String {
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
    since_ms: i64,
    label: String,
    /// Past the account's first-response target.
    late: bool,
}

pub struct Row {
    id: i64,
    name: String,
    initial: String,
    address: String,
    preview: String,
    /// The customer's last words, when the preview is our reply.
    customer: Option<String>,
    /// In search results: the matching words in context, marked.
    snippet: Option<Vec<(String, bool)>>,
    age: String,
    unread: i64,
    status: &'static str,
    priority: &'static str,
    assignee: Option<String>,
    inbox: String,
    opted_out: bool,
    waiting: Option<WaitingBadge>,
    labels: Vec<String>,
    active: bool,
}

pub struct ListView {
    rows: Vec<Row>,
    view: String,
    /// The status listed: the one chosen, else open (or any, when searching).
    status: String,
    /// Whether the agent chose the status (it is then kept in links and searches).
    status_chosen: bool,
    inbox_id: String,
    label: String,
    priority: String,
    assignee: String,
    sort: String,
    q: String,
    next_cursor: Option<String>,
    /// The query string that reproduces this list (for live refresh and links).
    query: String,
    /// The catalogue's colours, for the rows' label badges.
    label_colors: Vec<(String, String)>,
    inboxes: Vec<(String, String)>,
    agents: Vec<(String, String)>,
    /// The first-response target the waiting badges are measured against.
    target_minutes: u32,
}

const VIEW_TABS: [(&str, &str); 5] =
    [("mine", "Mine"), ("unassigned", "Unassigned"), ("team", "Team"), ("mentions", "Mentions"), ("all", "All")];

impl ListView {
    fn tab_class(&self, tab: &str) -> &'static str {
        if self.view == tab { "tab active" } else { "tab" }
    }
    /// Another view keeps the filters and search; only the mentions view has its own order.
    fn tab_href(&self, tab: &str) -> String {
        let sort = if self.sort == "mentioned" { "" } else { self.sort.as_str() };
        format!("/inbox?{}", self.query_for(tab, sort))
    }
    fn query_for(&self, view: &str, sort: &str) -> String {
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
    fn selected(&self, status: &str) -> &'static str {
        if self.status == status { "selected" } else { "" }
    }
    /// A status option's value. The one listed by default is sent empty, so a
    /// search typed beside it looks in every status; one chosen is kept.
    fn status_value<'a>(&self, status: &'a str) -> &'a str {
        if !self.status_chosen && self.status == status { "" } else { status }
    }
    /// "open", "resolved"…: how the status chosen reads in a sentence.
    fn status_words(&self) -> &str {
        &self.status
    }
    /// The agent chose one status: a search does not look in the others.
    fn narrowed(&self) -> bool {
        self.status_chosen && self.status != "any"
    }
    /// The same search in every status.
    fn every_status_href(&self) -> String {
        let all = ListParams { view: Some(self.view.clone()), q: Some(self.q.clone()), ..Default::default() };
        format!("/inbox?{}", all.query())
    }
    /// A label's `#rrggbb` (empty for one no longer in the catalogue).
    fn label_color(&self, name: &str) -> &str {
        self.label_colors.iter().find(|(n, _)| n == name).map(|(_, c)| c.as_str()).unwrap_or("")
    }
    /// `selected` when the named filter has this value.
    fn picked(&self, field: &str, value: &str) -> &'static str {
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
    fn filtered(&self) -> bool {
        let plain = [&self.inbox_id, &self.label, &self.priority, &self.assignee].iter().all(|v| v.is_empty());
        !(plain && matches!(self.sort.as_str(), "activity" | "mentioned"))
    }
    fn assignee_chosen_by_view(&self) -> bool {
        matches!(self.view.as_str(), "mine" | "unassigned")
    }
    fn more_href(&self) -> Option<String> {
        self.next_cursor.as_ref().map(|c| format!("/inbox?{}&cursor={c}", self.query))
    }
}

/// "waiting 12 min", "waiting 2 h 5 min", "waiting 3 d".
fn waiting_label(minutes: i64) -> String {
    match minutes {
        ..=59 => format!("waiting {} min", minutes.max(0)),
        60..=1439 => format!("waiting {} h {} min", minutes / 60, minutes % 60),
        _ => format!("waiting {} d", minutes / 1440),
    }
}

fn waiting_badge(since: Timestamp, now: Timestamp, target_minutes: u32) -> WaitingBadge {
    let minutes = now.duration_since(since).as_secs().max(0) / 60;
    let late = minutes >= i64::from(target_minutes);
    let label = waiting_label(minutes);
    WaitingBadge {
        since_ms: since.as_millisecond(), label: if late { format!("{label} · late") } else { label }, late
    }
}

fn row_from(s: ConversationSummary, now: Timestamp, active: Option<i64>, target_minutes: u32) -> Row {
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
        status: c.status.as_str(),
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

async fn list_view(s: &AppState, user: &User, p: &ListParams, active: Option<i64>) -> Result<ListView, Problem> {
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
    let page = s.services.list(user, &query).await?;
    let target_minutes = s.services.account_settings(user.account_id).await?.targets.first_response_minutes;
    let inboxes = s.services.store.inboxes(user.account_id).await?;
    let agents = s.services.store.users(user.account_id).await?;
    let now = Timestamp::now();
    let mut list = ListView {
        rows: page.items.into_iter().map(|r| row_from(r, now, active, target_minutes)).collect(),
        view: query.view.map_or("all", |v| v.as_str()).to_owned(),
        status: query.filter.status.map_or("any", |s| s.as_str()).to_owned(),
        status_chosen: chosen.is_some(),
        inbox_id,
        label: text(&p.label),
        priority: query.filter.priority.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        assignee: text(&p.assignee),
        sort: query.filter.sort.as_str().to_owned(),
        q: text(&p.q),
        next_cursor: page.next_cursor,
        query: String::new(),
        label_colors: s.services.store.labels(user.account_id).await?.into_iter().map(|l| (l.name, l.color)).collect(),
        inboxes: inboxes.into_iter().map(|i| (i.id.to_string(), i.name)).collect(),
        agents: agents.into_iter().filter(|u| u.active).map(|u| (u.id.to_string(), u.name)).collect(),
        target_minutes,
    };
    if list.assignee_chosen_by_view() {
        list.assignee.clear();
    }
    list.query = list.query_for(&list.view, &list.sort);
    Ok(list)
}

pub struct Chrome {
    pub(crate) user_name: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
    pub(crate) simulator: bool,
    pub(crate) business: String,
}

pub(crate) fn chrome(s: &AppState, ui: &UiUser) -> Chrome {
    Chrome {
        user_name: ui.user.name.clone(),
        role: ui.user.role,
        csrf: ui.csrf.clone(),
        simulator: s.config.simulator,
        business: s.config.account_name.clone(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    list: ListView,
    /// The first run's steps, for an admin until they are done or put away.
    setup: Option<crate::services::setup::SetupChecklist>,
}

async fn inbox_page(State(s): State<AppState>, ui: UiUser, Query(p): Query<ListParams>) -> Result<InboxPage, Problem> {
    let list = list_view(&s, &ui.user, &p, None).await?;
    let setup = s.services.setup_checklist(&ui.user).await?;
    Ok(InboxPage { chrome: chrome(&s, &ui), list, setup })
}

#[derive(Template, WebTemplate)]
#[template(path = "_list.html")]
struct ListFragment {
    list: ListView,
}

async fn inbox_list(
    State(s): State<AppState>,
    ui: UiUser,
    Query(p): Query<ListParams>,
    Query(a): Query<ActiveParam>,
) -> Result<ListFragment, Problem> {
    Ok(ListFragment { list: list_view(&s, &ui.user, &p, a.active).await? })
}

#[derive(Deserialize)]
struct ActiveParam {
    active: Option<i64>,
}

// ---------- conversation ----------

pub struct Bubble {
    id: i64,
    class: &'static str,
    author: String,
    body: String,
    time: String,
    status: String,
    status_class: &'static str,
    error: Option<String>,
    is_event: bool,
    /// Waiting to go: the agent may edit, send now or cancel it.
    waiting: bool,
    /// Failed, or waiting to retry: the agent may retry it now.
    retryable: bool,
    media: Vec<MediaView>,
}

/// An attachment as the thread shows it.
struct MediaView {
    /// A signed link, once the file is in the media store.
    url: Option<String>,
    picture: bool,
    /// What to say instead of the picture, or on the download link.
    label: String,
}

fn media_view(m: &textdesk_store::Media, link: &dyn Fn(i64) -> String) -> MediaView {
    let kind = m.content_type.clone().unwrap_or_else(|| "file".into());
    match m.state {
        textdesk_store::MediaState::Stored => MediaView {
            url: Some(link(m.id)),
            picture: crate::services::media::is_picture(m.content_type.as_deref()),
            label: match m.size_bytes {
                Some(n) => format!("Download {kind} ({} KB)", (n + 1023) / 1024),
                None => format!("Download {kind}"),
            },
        },
        textdesk_store::MediaState::Pending => MediaView {
            url: None,
            picture: false,
            label: match &m.last_error {
                None => format!("📎 {kind}: being fetched from the provider…"),
                Some(why) => format!("📎 {kind} could not be fetched yet ({why}); trying again"),
            },
        },
        textdesk_store::MediaState::Failed => MediaView {
            url: None,
            picture: false,
            label: format!(
                "📎 {kind} could not be fetched: {}",
                m.last_error.clone().unwrap_or_else(|| "unknown reason".into())
            ),
        },
    }
}

fn bubble(
    m: &Message,
    tz: &jiff::tz::TimeZone,
    contact_tz: &jiff::tz::TimeZone,
    now: Timestamp,
    link: &dyn Fn(i64) -> String,
) -> Bubble {
    let (class, author) = match (m.direction, m.private) {
        (_, true) => ("note", format!("{} · private note", m.author_name.clone().unwrap_or_default())),
        (Direction::Inbound, _) => ("in", String::new()),
        (Direction::Outbound, _) => ("out", m.author_name.clone().unwrap_or_else(|| "Automatic".into())),
    };
    let (status, status_class) = match m.status {
        DeliveryStatus::Received | DeliveryStatus::Note => (String::new(), ""),
        DeliveryStatus::Scheduled => match m.send_at {
            Some(at) => (format!("Scheduled: goes out at {}", their_time(at, contact_tz, now)), "pending"),
            None => ("Scheduled".into(), "pending"),
        },
        DeliveryStatus::Queued => match m.retry_at {
            Some(at) => (format!("Attempt {} failed; trying again at {}", m.attempts, clock(at, tz)), "pending"),
            None => ("Queued".into(), "pending"),
        },
        DeliveryStatus::Sending => ("Sending…".into(), "pending"),
        DeliveryStatus::Sent => ("✓ Sent".into(), "sent"),
        DeliveryStatus::Delivered => ("✓✓ Delivered".into(), "delivered"),
        DeliveryStatus::Read => ("✓✓ Read".into(), "delivered"),
        DeliveryStatus::Undelivered => ("⚠ Not delivered".into(), "failed"),
        DeliveryStatus::Failed => ("⚠ Failed".into(), "failed"),
        DeliveryStatus::Blocked => ("Blocked".into(), "failed"),
    };
    let time = clock(m.created_at, tz);
    Bubble {
        id: m.id,
        class,
        author,
        body: m.body.clone(),
        time,
        status,
        status_class,
        error: m.error.clone(),
        is_event: false,
        waiting: m.status == DeliveryStatus::Scheduled,
        retryable: m.direction == Direction::Outbound
            && !m.private
            && (matches!(m.status, DeliveryStatus::Failed) || m.retry_at.is_some()),
        media: m.media.iter().map(|x| media_view(x, link)).collect(),
    }
}

/// A timeline entry in words, from its typed event. Times say whose clock
/// they are on: a snooze's on the clock it was chosen on (the agent's), else
/// the business's, named.
fn describe_event(e: &TimelineEvent, users: &[User], teams: &[Team], tz: &jiff::tz::TimeZone) -> String {
    use textdesk_core::event::{DomainEvent as E, ScheduleAction};
    let who = e.actor_name.clone().unwrap_or_else(|| "textdesk".into());
    let name_of =
        |id: i64| users.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_else(|| "someone".into());
    match &e.event {
        E::ConversationCreated { .. } => "Conversation started".into(),
        E::Assigned { assignee_id } if Some(*assignee_id) == e.actor_id => format!("{who} took this"),
        E::Assigned { assignee_id } => format!("{who} assigned this to {}", name_of(*assignee_id)),
        E::Unassigned {} => format!("{who} unassigned this"),
        E::StatusChanged { reason: Some(r), .. } => format!("Reopened: {}", r.as_str()),
        E::StatusChanged { to: ConversationStatus::Snoozed, until: Some(t), zone, .. } => {
            let zone = zone.as_deref().and_then(|z| jiff::tz::TimeZone::get(z).ok()).unwrap_or_else(|| tz.clone());
            let clock = zone.iana_name().unwrap_or("UTC").to_owned();
            format!("{who} snoozed this until {} ({clock} time)", snooze::describe_until(*t, e.created_at, &zone))
        }
        E::StatusChanged { to: ConversationStatus::Resolved, .. } => format!("{who} resolved this"),
        E::StatusChanged { to: ConversationStatus::Open, .. } => format!("{who} reopened this"),
        E::StatusChanged { to, .. } => format!("{who} marked this {}", to.as_str()),
        // Escalation (raising to urgent on a rule) is not built yet: an agent's
        // "urgent" reads as any other priority.
        E::PriorityChanged { priority: Priority::None } => format!("{who} cleared the priority"),
        E::PriorityChanged { priority } => format!("{who} set priority to {}", priority.as_str()),
        E::LabelsChanged { labels } if labels.is_empty() => format!("{who} removed the labels"),
        E::LabelsChanged { labels } => format!("{who} set the labels: {}", labels.join(", ")),
        E::TeamChanged { team_id: None, .. } => format!("{who} took this off its team"),
        E::TeamChanged { team_id: Some(id), team_name } => {
            match team_name.clone().or_else(|| teams.iter().find(|t| t.id == *id).map(|t| t.name.clone())) {
                Some(n) => format!("{who} moved this to {n}"),
                None => format!("{who} moved this to another team"),
            }
        }
        E::ConsentChanged { to, source, .. } => {
            let what = if *to == ConsentState::OptedOut { "Opted out" } else { "Opted in" };
            match source.as_str() {
                "keyword" => format!("{what} by texting a keyword; confirmation sent"),
                source => format!("{who} recorded: {} ({})", what.to_lowercase(), source.replace('_', " ")),
            }
        }
        E::StopRequested { .. } => "Asked to stop in their own words: a person should decide".into(),
        E::AutomationFired { rule, did, silenced, .. } => {
            textdesk_core::automation::describe_firing(rule, did, silenced.as_deref())
        }
        E::MessageScheduled { .. } => format!("{who} scheduled a message"),
        E::ScheduleChanged { action: ScheduleAction::Cancelled, body, .. } => {
            format!("{who} cancelled a scheduled message: “{}”", body.as_deref().unwrap_or(""))
        }
        E::ScheduleChanged { action: ScheduleAction::SendNow, .. } => format!("{who} sent a scheduled message now"),
        E::ScheduleChanged { .. } => format!("{who} changed a scheduled message"),
        other => other.kind().replace('_', " "),
    }
}

pub struct ThreadView {
    id: i64,
    items: Vec<Bubble>,
    title: String,
    address: String,
    status: &'static str,
    assignee: Option<String>,
    assigned_to_me: bool,
    inbox: String,
    blocked: Option<&'static str>,
    users: Vec<(i64, String, bool)>,
    csrf: String,
    consent: &'static str,
    /// "3:12 AM · America/New_York": the customer's clock, before anyone texts.
    local_time: String,
    contact_id: i64,
    /// This inbox's consent scope, to record consent for this number only.
    inbox_scope: String,
    /// The customer's zone and the business's, for "send later".
    contact_zone: String,
    business_zone: String,
    opted_out: bool,
    /// The customer's words when they asked to stop without a keyword, until
    /// someone records their consent either way.
    stop_request: Option<String>,
    consent_history: Vec<(String, String)>,
    contact_since: String,
    priority: &'static str,
    /// The list the agent came from (`view=…&status=…&q=…`), carried by the actions.
    list_query: String,
    /// The thread shows only the latest messages: how many it would show with
    /// the earlier ones asked for (None when everything is shown).
    earlier: Option<i64>,
    /// "Tue 9:00 AM" (business time; the browser rewrites it to the agent's) and the instant.
    snoozed_until: Option<(String, String)>,
    priorities: Vec<(&'static str, bool)>,
    teams: Vec<(i64, String, bool)>,
    /// The catalogue: name, colour, whether this conversation has it.
    label_choices: Vec<(String, String, bool)>,
    /// This conversation's labels with their colours.
    label_badges: Vec<(String, String)>,
    /// Name, identities, zone, attributes, notes and earlier conversations.
    panel: crate::http::contacts::ContactPanel,
    /// The customer's zone comes from their number (no agent set one).
    zone_inferred: bool,
}

impl ThreadView {
    /// The thread with `n` of its latest messages, in the same list.
    fn earlier_href(&self, n: &i64) -> String {
        let sep = if self.list_query.is_empty() { "" } else { "&" };
        format!("/conversations/{}?{}{sep}shown={n}", self.id, self.list_query)
    }
    /// `?view=…` to append to the thread's action URLs, or nothing.
    fn back_query(&self) -> String {
        if self.list_query.is_empty() { String::new() } else { format!("?{}", self.list_query) }
    }
}

/// Messages a thread shows at first, and how many more "Show earlier messages" adds.
const THREAD_PAGE: i64 = 200;

/// The most a thread shows (one read, with one more to see whether there are earlier ones).
const MAX_SHOWN: i64 = textdesk_store::MAX_MESSAGES_READ - 1;

fn thread_shown(p: &ListParams) -> i64 {
    let asked = p.shown.as_deref().and_then(|n| n.parse::<i64>().ok()).unwrap_or(THREAD_PAGE);
    asked.clamp(THREAD_PAGE, MAX_SHOWN)
}

async fn thread_view(s: &AppState, ui: &UiUser, id: i64, p: &ListParams) -> Result<ThreadView, Problem> {
    let store = &s.services.store;
    let summary = store.conversation_summary(ui.user.account_id, id).await?;
    let contact = store.contact(ui.user.account_id, summary.conversation.contact_id).await?;
    let shown = thread_shown(p);
    let mut messages = store.messages(ui.user.account_id, id, MessagePage::Before(None), shown + 1).await?;
    // One more than shown was asked for, to know whether there are earlier ones.
    let more = messages.len() as i64 > shown;
    if more {
        messages.remove(0);
    }
    // Past the most one read returns, the API pages further back.
    let earlier = (more && shown < MAX_SHOWN).then(|| (shown + THREAD_PAGE).min(MAX_SHOWN));
    let events = store.timeline(id).await?;
    // What happened before the oldest message shown is left out with it.
    let window_start = messages.first().filter(|_| more).map(|m| m.created_at);
    let users = store.users(ui.user.account_id).await?;
    let teams = store.teams(ui.user.account_id).await?;
    let catalogue = store.labels(ui.user.account_id).await?;
    let tz = &s.business_tz;
    let now = Timestamp::now();
    let contact_tz = s.services.timing.zone_for(contact.time_zone.as_deref(), &summary.contact_address);
    let link = |id: i64| s.services.media.link_path(id, now + jiff::SignedDuration::from_hours(12));
    let event = |class: &'static str, id: i64, body: String, time: String| Bubble {
        id,
        class,
        author: String::new(),
        body,
        time,
        status: String::new(),
        status_class: "",
        error: None,
        is_event: true,
        waiting: false,
        retryable: false,
        media: Vec::new(),
    };
    // On a tie, "Conversation started" comes before its first message, and what a
    // message caused (an opt-out, a flag) comes after it.
    let mut items: Vec<(Timestamp, u8, i64, Bubble)> =
        messages.iter().map(|m| (m.created_at, 1, m.id, bubble(m, tz, &contact_tz, now, &link))).collect();
    for e in events.iter().filter(|e| window_start.is_none_or(|start| e.created_at >= start)) {
        let rank = if matches!(e.event, textdesk_core::event::DomainEvent::ConversationCreated { .. }) { 0 } else { 2 };
        items.push((
            e.created_at,
            rank,
            e.id,
            event("event", e.id, describe_event(e, &users, &teams, tz), clock(e.created_at, tz)),
        ));
    }
    items.sort_by_key(|(t, rank, id, _)| (*t, *rank, *id));
    let today = Timestamp::now().to_zoned(tz.clone()).date();
    let mut with_days = Vec::with_capacity(items.len() + 4);
    let mut last_day = None;
    for (t, _, _, b) in items {
        let day = t.to_zoned(tz.clone()).date();
        if last_day != Some(day) {
            with_days.push(event("event day", 0, day_label(day, today), String::new()));
            last_day = Some(day);
        }
        with_days.push(b);
    }
    let c = &summary.conversation;
    use textdesk_core::event::DomainEvent as E;
    let last_flag = events.iter().rev().find_map(|e| match e.event {
        E::StopRequested { message_id } => Some((e.id, message_id)),
        _ => None,
    });
    let last_decision = events.iter().rev().find(|e| matches!(e.event, E::ConsentChanged { .. }));
    let stop_request = match (last_flag, last_decision) {
        (Some((flag_id, message_id)), d)
            if d.is_none_or(|d| d.id < flag_id) && summary.consent != ConsentState::OptedOut =>
        {
            let mid = Some(message_id);
            let shown = messages.iter().find(|m| Some(m.id) == mid).map(|m| m.body.clone());
            // The words may be older than the messages shown.
            let words = match (shown, mid) {
                (Some(body), _) => body,
                (None, Some(mid)) => {
                    store.message_in_account(ui.user.account_id, mid).await.map(|m| m.body).unwrap_or_default()
                }
                (None, None) => String::new(),
            };
            Some(words)
        }
        _ => None,
    };
    let consent_history = store
        .consent_history(contact.id)
        .await?
        .into_iter()
        .rev()
        .take(5)
        .map(|e| {
            let what = match e.kind.as_str() {
                "opt_out" => "Opted out",
                "opt_in_requested" => "Texted JOIN, asked to confirm with YES",
                _ => "Opted in",
            };
            let when = e.created_at.to_zoned(tz.clone()).strftime("%b %-d, %Y %-I:%M %p").to_string();
            let scope = if e.scope == ACCOUNT_SCOPE { "all numbers" } else { "this number" };
            (format!("{what} · {} · {scope}", e.source.replace('_', " ")), when)
        })
        .collect();
    let blocked = match summary.consent {
        ConsentState::OptedOut => Some(textdesk_core::BlockReason::OptedOut.explain()),
        _ => None,
    };
    Ok(ThreadView {
        id,
        items: with_days,
        title: contact.display_name(),
        address: summary.contact_address.clone(),
        status: c.status.as_str(),
        assignee: summary.assignee_name.clone(),
        assigned_to_me: c.assignee_id == Some(ui.user.id),
        inbox: summary.inbox_name.clone(),
        blocked,
        users: users.iter().filter(|u| u.active).map(|u| (u.id, u.name.clone(), c.assignee_id == Some(u.id))).collect(),
        csrf: ui.csrf.clone(),
        consent: match summary.consent {
            ConsentState::OptedOut => "Opted out",
            ConsentState::OptedIn => "Opted in",
            ConsentState::Unknown => "No record (replies only)",
        },
        local_time: format!(
            "{} · {}",
            now.to_zoned(contact_tz.clone()).strftime("%-I:%M %p, %a"),
            contact_tz.iana_name().unwrap_or("their zone")
        ),
        contact_id: contact.id,
        inbox_scope: store.inbox_consent_scope(c.inbox_id).await?,
        contact_zone: contact_tz.iana_name().unwrap_or("their zone").to_owned(),
        business_zone: tz.iana_name().unwrap_or("UTC").to_owned(),
        opted_out: summary.consent == ConsentState::OptedOut,
        stop_request,
        consent_history,
        contact_since: contact.created_at.to_zoned(tz.clone()).strftime("%b %-d, %Y").to_string(),
        priority: c.priority.as_str(),
        list_query: p.query(),
        earlier,
        snoozed_until: c
            .snoozed_until
            .filter(|_| c.status == ConversationStatus::Snoozed)
            .map(|t| (snooze::describe_until(t, now, tz), t.to_string())),
        priorities: Priority::ALL.iter().map(|p| (p.as_str(), *p == c.priority)).collect(),
        teams: teams.iter().map(|t| (t.id, t.name.clone(), c.team_id == Some(t.id))).collect(),
        label_choices: catalogue
            .iter()
            .map(|l| (l.name.clone(), l.color.clone(), c.labels.contains(&l.name)))
            .collect(),
        label_badges: c
            .labels
            .iter()
            .map(|name| {
                let color = catalogue.iter().find(|l| &l.name == name).map(|l| l.color.clone());
                (name.clone(), color.unwrap_or_default())
            })
            .collect(),
        panel: crate::http::contacts::contact_panel(s, &ui.user, &contact, id).await?,
        zone_inferred: contact.time_zone.is_none(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "conversation.html")]
struct ConversationPage {
    chrome: Chrome,
    list: ListView,
    thread: ThreadView,
    flash: Option<String>,
    draft: String,
    /// Enter sends (`on`), makes a new line (`off`), or depends on the keyboard (`auto`).
    enter_sends: &'static str,
}

fn enter_sends_mode(user: &User) -> &'static str {
    match user.enter_sends {
        Some(true) => "on",
        Some(false) => "off",
        None => "auto",
    }
}

/// The conversation again, its contact panel saying why an edit was refused.
pub(crate) async fn render_with_panel_error(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    status: StatusCode,
    error: String,
) -> Response {
    match render_conversation(s, ui, id, &ListParams::default(), None, String::new()).await {
        Ok(mut page) => {
            page.thread.panel.error = Some(error);
            (status, page).into_response()
        }
        Err(p) => p.into_response(),
    }
}

async fn render_conversation(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    p: &ListParams,
    flash: Option<String>,
    draft: String,
) -> Result<ConversationPage, Problem> {
    let thread = thread_view(s, ui, id, p).await?;
    let list = list_view(s, &ui.user, p, Some(id)).await?;
    Ok(ConversationPage { chrome: chrome(s, ui), list, thread, flash, draft, enter_sends: enter_sends_mode(&ui.user) })
}

async fn conversation_page(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
) -> Result<ConversationPage, Problem> {
    s.services.mark_read(&ui.user, id).await?;
    render_conversation(&s, &ui, id, &p, None, String::new()).await
}

#[derive(Template, WebTemplate)]
#[template(path = "_thread.html")]
struct ThreadFragment {
    thread: ThreadView,
}

async fn thread_fragment(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
) -> Result<ThreadFragment, Problem> {
    s.services.mark_read(&ui.user, id).await?;
    Ok(ThreadFragment { thread: thread_view(&s, &ui, id, &p).await? })
}

#[derive(Deserialize)]
struct ReplyForm {
    csrf: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    private: Option<String>,
    /// "Send later": a local time from the browser's picker, and whose zone it is in.
    #[serde(default)]
    send_at: Option<String>,
    #[serde(default)]
    send_at_zone: Option<String>,
    /// Files the composer uploaded already, comma-separated ids, in order.
    #[serde(default)]
    media_ids: String,
    /// Files sent with the form itself (a browser running no script).
    #[serde(skip)]
    files: Vec<crate::http::media::FormFile>,
}

impl ReplyForm {
    /// The composer posts a multipart form (it may carry files) or, from the
    /// script, an url-encoded one.
    async fn read(s: &AppState, req: axum::extract::Request) -> Result<Self, Response> {
        use axum::extract::FromRequest;
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("multipart/form-data"));
        if !multipart {
            return axum::Form::<ReplyForm>::from_request(req, s)
                .await
                .map(|f| f.0)
                .map_err(IntoResponse::into_response);
        }
        let form = axum::extract::Multipart::from_request(req, s).await.map_err(IntoResponse::into_response)?;
        let parts = crate::http::media::read_form_parts(form, s.services.media.max_bytes)
            .await
            .map_err(IntoResponse::into_response)?;
        let text = |k: &str| parts.field(k).map(str::to_owned);
        Ok(ReplyForm {
            csrf: text("csrf").unwrap_or_default(),
            body: text("body").unwrap_or_default(),
            private: text("private"),
            send_at: text("send_at"),
            send_at_zone: text("send_at_zone"),
            media_ids: text("media_ids").unwrap_or_default(),
            files: parts.files,
        })
    }

    fn media_ids(&self) -> Result<Vec<i64>, StoreError> {
        self.media_ids
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| x.parse().map_err(|_| StoreError::Invalid(format!("attachment {x:?} is not an upload id"))))
            .collect()
    }
}

/// An action's failure as the page shows it.
fn action_failure(e: ActionError) -> (StatusCode, String) {
    match e {
        ActionError::Blocked(reason) => (StatusCode::CONFLICT, reason.explain().to_owned()),
        ActionError::Store(e) => {
            let p = Problem::from(e);
            (p.status, p.detail)
        }
    }
}

/// The moment a form asks for: None when the field is empty ("send now").
async fn form_send_at(
    s: &AppState,
    conversation_id: i64,
    at: Option<&str>,
    zone: Option<&str>,
) -> Result<Option<Timestamp>, ActionError> {
    match at.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => {
            let zone = ZoneChoice::parse(zone.unwrap_or("")).map_err(StoreError::from)?;
            Ok(Some(s.services.send_time(conversation_id, t, &zone).await?))
        }
    }
}

pub(crate) async fn reply(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    req: axum::extract::Request,
) -> Response {
    let f = match ReplyForm::read(&s, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let draft = async {
        let mut media = f.media_ids()?;
        if !f.files.is_empty() {
            // Refused before any file is kept, so a wrong conversation leaves no strays.
            s.services.store.conversation(ui.user.account_id, id).await?;
        }
        for file in &f.files {
            media.push(s.services.upload(&ui.user, &file.content_type, &file.bytes).await?.id);
        }
        let body = Body::parse_with(&f.body, media.len()).map_err(StoreError::from)?;
        let private = f.private.is_some();
        let send_at =
            if private { None } else { form_send_at(&s, id, f.send_at.as_deref(), f.send_at_zone.as_deref()).await? };
        Ok::<_, ActionError>(Draft { body, private, kind: OutboundKind::Reply, send_at, media })
    };
    let result = match draft.await {
        Ok(d) => s.services.send(&ui.user, id, d).await.map_err(action_failure),
        Err(e) => Err(action_failure(e)),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err((status, msg)) => match render_conversation(&s, &ui, id, &ListParams::default(), Some(msg), f.body).await {
            Ok(page) => (status, page).into_response(),
            Err(p) => p.into_response(),
        },
    }
}

#[derive(Deserialize)]
struct AssignForm {
    csrf: String,
    /// `me`, `none` or a user id.
    assignee: String,
}

#[derive(Deserialize)]
struct WaitingForm {
    csrf: String,
    /// `send_now`, `cancel`, `edit` or `retry`.
    action: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    send_at: Option<String>,
    #[serde(default)]
    send_at_zone: Option<String>,
}

/// Edit, send now or cancel a message still waiting in the outbox.
async fn waiting_action(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path((id, message_id)): Path<(i64, i64)>,
    axum::Form(f): axum::Form<WaitingForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let m = s.services.store.message_in_account(ui.user.account_id, message_id).await?;
        if m.conversation_id != id {
            return Err(ActionError::Store(StoreError::NotFound("message")));
        }
        match f.action.as_str() {
            "send_now" => s.services.reschedule(&ui.user, message_id, None, None).await.map(drop),
            "cancel" => s.services.cancel_scheduled(&ui.user, message_id).await.map(drop).map_err(Into::into),
            "retry" => s.services.retry_now(&ui.user, message_id).await.map_err(Into::into),
            "edit" => {
                let body = f.body.as_deref().map(Body::parse).transpose().map_err(StoreError::from)?;
                let at = form_send_at(&s, id, f.send_at.as_deref(), f.send_at_zone.as_deref()).await?.or(m.send_at);
                s.services.reschedule(&ui.user, message_id, body, at).await.map(drop)
            }
            other => Err(StoreError::Invalid(format!("unknown action {other:?}")).into()),
        }
    }
    .await
    .map_err(action_failure);
    match result {
        Ok(()) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err((status, msg)) => {
            match render_conversation(&s, &ui, id, &ListParams::default(), Some(msg), String::new()).await {
                Ok(page) => (status, page).into_response(),
                Err(p) => p.into_response(),
            }
        }
    }
}

/// After a thread action: on to `next`, or the conversation again with the
/// reason shown above the composer.
async fn after_action(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    p: &ListParams,
    result: Result<String, StoreError>,
) -> Response {
    match result {
        Ok(next) => Redirect::to(&next).into_response(),
        Err(e) => {
            let (status, msg) = action_failure(ActionError::Store(e));
            match render_conversation(s, ui, id, p, Some(msg), String::new()).await {
                Ok(page) => (status, page).into_response(),
                Err(p) => p.into_response(),
            }
        }
    }
}

/// The conversation's page in the list the agent came from.
fn thread_href(id: i64, p: &ListParams) -> String {
    let q = p.query();
    if q.is_empty() { format!("/conversations/{id}") } else { format!("/conversations/{id}?{q}") }
}

fn list_href(p: &ListParams) -> String {
    let q = p.query();
    if q.is_empty() { "/inbox".into() } else { format!("/inbox?{q}") }
}

async fn assign(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    axum::Form(f): axum::Form<AssignForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let target = match f.assignee.as_str() {
            "me" => Some(ui.user.id),
            "none" => None,
            other => Some(other.parse().map_err(|_| StoreError::Invalid("choose someone to assign".into()))?),
        };
        s.services.assign(&ui.user, id, target).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

#[derive(Deserialize)]
struct TeamForm {
    csrf: String,
    /// `none` or a team id.
    team: String,
}

async fn set_team(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    axum::Form(f): axum::Form<TeamForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let team = match f.team.as_str() {
            "none" | "" => None,
            other => Some(other.parse().map_err(|_| StoreError::Invalid("choose a team".into()))?),
        };
        s.services.set_team(&ui.user, id, team).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

#[derive(Deserialize)]
struct PriorityForm {
    csrf: String,
    priority: String,
}

async fn set_priority(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    axum::Form(f): axum::Form<PriorityForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        s.services.set_priority(&ui.user, id, Priority::parse(&f.priority)?).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

/// The label picker: checkboxes named `label`, so the form repeats the key,
/// which a struct cannot hold; read as pairs.
async fn set_labels(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    body: axum::body::Bytes,
) -> Response {
    let mut csrf = String::new();
    let mut labels = Vec::new();
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "label" => labels.push(value.into_owned()),
            _ => {}
        }
    }
    if let Err(r) = ui.check_csrf(&headers, &csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        s.services.set_labels(&ui.user, id, &labels).await?;
        Ok(thread_href(id, &p))
    }
    .await;
    after_action(&s, &ui, id, &p, result).await
}

/// "Mark unread": back to the list, where it shows unread until opened again.
async fn mark_unread(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    axum::Form(f): axum::Form<CsrfForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = s.services.mark_unread(&ui.user, id).await.map(|_| list_href(&p));
    after_action(&s, &ui, id, &p, result).await
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: String,
    status: String,
    /// For snoozing: `1h`, `tomorrow`, `next_week`, or `until` with `until` filled in.
    #[serde(default)]
    snooze: Option<String>,
    /// "Until…": a local time from the browser's picker.
    #[serde(default)]
    until: Option<String>,
    /// The agent's zone, which app.js fills in; the business's without it.
    #[serde(default)]
    zone: Option<String>,
}

/// The conversation to go on with after `id`: the next row of the list the
/// agent was working from, else the first other one; None when it has no other.
async fn next_in_list(s: &AppState, user: &User, p: &ListParams, id: i64) -> Result<Option<i64>, Problem> {
    let list = list_view(s, user, p, None).await?;
    let ids: Vec<i64> = list.rows.iter().map(|r| r.id).collect();
    Ok(match ids.iter().position(|&x| x == id) {
        Some(i) => ids.get(i + 1).copied(),
        None => ids.first().copied(),
    })
}

async fn set_status(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
    axum::Form(f): axum::Form<StatusForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let result = async {
        let status = ConversationStatus::parse(&f.status)?;
        let until = if status == ConversationStatus::Snoozed {
            let when = match f.snooze.as_deref().unwrap_or("1h") {
                "until" => match f.until.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                    Some(t) => SnoozeWhen::At(t.to_owned()),
                    None => return Err(StoreError::Invalid("choose the date and time to snooze until".into())),
                },
                preset => SnoozeWhen::Preset(SnoozePreset::parse(preset)?),
            };
            Some(s.services.snooze_until(&when, f.zone.as_deref(), Timestamp::now())?)
        } else {
            None
        };
        // Where to go next is read before resolving, while this row is still in the list.
        let next = if status == ConversationStatus::Resolved {
            Some(next_in_list(&s, &ui.user, &p, id).await.map_err(|e| StoreError::Invalid(e.detail))?)
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

#[derive(Deserialize)]
struct ConsentForm {
    csrf: String,
    /// `opted_in` or `opted_out`.
    state: String,
    #[serde(default)]
    evidence: String,
    /// `account` (every number of the business, the default) or this inbox's scope.
    #[serde(default)]
    scope: Option<String>,
}

/// An agent records consent the customer gave or withdrew in words.
async fn record_consent(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<ConsentForm>,
) -> Response {
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let state = match ConsentState::parse(&f.state) {
        Some(st @ (ConsentState::OptedIn | ConsentState::OptedOut)) => st,
        _ => return Problem::invalid("state must be opted_in or opted_out").into_response(),
    };
    let evidence: String = f.evidence.trim().chars().take(500).collect();
    let result = async {
        let conv = s.services.store.conversation(ui.user.account_id, id).await?;
        s.services
            .store
            .record_consent(
                ui.user.account_id,
                RecordConsent {
                    contact_id: conv.contact_id,
                    conversation_id: Some(id),
                    scope: f.scope.as_deref().unwrap_or(ACCOUNT_SCOPE),
                    state,
                    source: "agent",
                    evidence: &evidence,
                    actor_id: Some(ui.user.id),
                },
            )
            .await?;
        Ok::<_, textdesk_store::StoreError>(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!("/conversations/{id}")).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}

/// A contact's consent history as CSV, for an agent to hand to an auditor.
async fn contact_consent_csv(State(s): State<AppState>, ui: UiUser, Path(id): Path<i64>) -> Result<Response, Problem> {
    s.services.store.contact(ui.user.account_id, id).await?;
    let lines = s.services.store.consent_ledger(ui.user.account_id, Some(id), None, None).await?;
    Ok(crate::http::api::csv_response(crate::services::consent::ledger_csv(&lines)))
}

#[derive(Deserialize)]
struct PreviewForm {
    #[serde(default)]
    body: String,
}

/// The composer asks this as the agent types (read-only, so no CSRF token).
async fn preview(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<PreviewForm>,
) -> Response {
    match s.services.compose_preview(ui.user.account_id, &f.body, Some(id), None).await {
        Ok(p) => axum::Json(p).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
