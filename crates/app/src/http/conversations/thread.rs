//! A conversation's page: the thread (messages and timeline in words), its
//! header and contact panel, beside the list it was opened from.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use textdesk_core::{ConsentState, ConversationStatus, DeliveryStatus, Direction, Priority, snooze};
use textdesk_store::{ACCOUNT_SCOPE, Message, User};

use crate::services::thread::Thread;

use crate::http::conversations::list::{Head, ListParams, ListView, list_view};
use crate::http::conversations::timeline_words::describe_event;
use crate::http::extract::{Path, Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::compose::their_time;
use crate::services::error::ServiceError;

/// A message's time as the thread shows it, in the business's zone: the time
/// alone (the thread has day dividers).
pub(crate) fn clock(t: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%-I:%M %p").to_string()
}

/// "Today", "Yesterday", or "Friday, Nov 20": the divider above a day's messages.
pub(crate) fn day_label(day: jiff::civil::Date, today: jiff::civil::Date) -> String {
    if day == today {
        "Today".into()
    } else if day.checked_add(jiff::Span::new().days(1)).ok() == Some(today) {
        "Yesterday".into()
    } else {
        day.strftime("%A, %b %-d").to_string()
    }
}

// ---------- login ----------

pub struct Bubble {
    pub(crate) id: i64,
    pub(crate) class: &'static str,
    pub(crate) author: String,
    pub(crate) body: String,
    pub(crate) time: String,
    pub(crate) status: String,
    pub(crate) status_class: &'static str,
    pub(crate) error: Option<String>,
    pub(crate) is_event: bool,
    /// Waiting to go: the agent may edit, send now or cancel it.
    pub(crate) waiting: bool,
    /// Failed, or waiting to retry: the agent may retry it now.
    pub(crate) retryable: bool,
    pub(crate) media: Vec<MediaView>,
    /// The channel it came or went through ("SMS", "WhatsApp"); empty for notes and events.
    pub(crate) channel: &'static str,
}

/// An attachment as the thread shows it.
pub(crate) struct MediaView {
    /// A signed link, once the file is in the media store.
    pub(crate) url: Option<String>,
    pub(crate) picture: bool,
    /// What to say instead of the picture, or on the download link.
    pub(crate) label: String,
}

pub(crate) fn media_view(m: &textdesk_store::Media, link: &dyn Fn(i64) -> String) -> MediaView {
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

pub(crate) fn bubble(
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
    // A template says which, as the customer's app shows it as one.
    let template = m.template.as_deref().and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok());
    let author = match template.as_ref().and_then(|t| t["name"].as_str().map(str::to_owned)) {
        Some(name) => format!("{author} · template {name}"),
        None => author,
    };
    let (status, status_class) = match m.status {
        // A reply to an escalation's email: said, so nobody answers it as if it were a text.
        DeliveryStatus::Received
            if m.provider_id.as_deref().is_some_and(|p| p.starts_with(textdesk_store::EMAIL_PROVIDER_PREFIX)) =>
        {
            ("✉ by email".into(), "email")
        }
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
        DeliveryStatus::Read => ("✓✓ Read".into(), "read"),
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
        channel: if m.private { "" } else { m.medium.label() },
    }
}

pub struct ThreadView {
    pub(crate) id: i64,
    pub(crate) items: Vec<Bubble>,
    pub(crate) title: String,
    pub(crate) address: String,
    pub(crate) status: &'static str,
    pub(crate) assignee: Option<String>,
    pub(crate) assigned_to_me: bool,
    pub(crate) inbox: String,
    /// Whether the inbox's provider can place calls ("Call now" is offered only then).
    pub(crate) can_call: bool,
    pub(crate) blocked: Option<&'static str>,
    pub(crate) users: Vec<(i64, String, bool)>,
    /// Who an escalation may go to: active supervisors and admins.
    pub(crate) supervisors: Vec<(i64, String)>,
    pub(crate) csrf: String,
    /// Admins export and erase a person's data; others are not offered the link.
    pub(crate) can_see_privacy: bool,
    pub(crate) consent: &'static str,
    /// "3:12 AM · America/New_York": the customer's clock, before anyone texts.
    pub(crate) local_time: String,
    pub(crate) contact_id: i64,
    /// This inbox's consent scope, to record consent for this number only.
    pub(crate) inbox_scope: String,
    /// The customer's zone and the business's, for "send later".
    pub(crate) contact_zone: String,
    pub(crate) business_zone: String,
    pub(crate) opted_out: bool,
    /// The customer's words when they asked to stop without a keyword, until
    /// someone records their consent either way.
    pub(crate) stop_request: Option<String>,
    pub(crate) consent_history: Vec<(String, String)>,
    pub(crate) contact_since: String,
    pub(crate) priority: &'static str,
    /// The list the agent came from (`view=…&status=…&q=…`), carried by the actions.
    pub(crate) list_query: String,
    /// The thread shows only the latest messages: how many it would show with
    /// the earlier ones asked for (None when everything is shown).
    pub(crate) earlier: Option<i64>,
    /// "Tue 9:00 AM" (business time; the browser rewrites it to the agent's) and the instant.
    pub(crate) snoozed_until: Option<(String, String)>,
    pub(crate) priorities: Vec<(&'static str, bool)>,
    pub(crate) teams: Vec<(i64, String, bool)>,
    /// The catalogue: name, colour, whether this conversation has it.
    pub(crate) label_choices: Vec<(String, String, bool)>,
    /// This conversation's labels with their colours.
    pub(crate) label_badges: Vec<(String, String)>,
    /// Name, identities, zone, attributes, notes and earlier conversations.
    pub(crate) panel: crate::http::contacts::panel::ContactPanel,
    /// The customer's zone comes from their number (no agent set one).
    pub(crate) zone_inferred: bool,
    /// The channel's reply window and its approved templates (WhatsApp).
    pub(crate) picker: crate::http::template_views::Picker,
    /// The composer's channel picker: inbox id, "WhatsApp · Support", chosen;
    /// empty when the customer is reachable one way only.
    pub(crate) channels: Vec<(i64, String, bool)>,
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
pub(crate) const THREAD_PAGE: i64 = 200;

/// The most a thread shows (one read, with one more to see whether there are earlier ones).
pub(crate) const MAX_SHOWN: i64 = textdesk_store::MAX_MESSAGES_READ - 1;

pub(crate) fn thread_shown(p: &ListParams) -> i64 {
    let asked = p.shown.as_deref().and_then(|n| n.parse::<i64>().ok()).unwrap_or(THREAD_PAGE);
    asked.clamp(THREAD_PAGE, MAX_SHOWN)
}

/// The conversation as read for its thread: one more message than shown, to
/// know whether there are earlier ones.
async fn read_thread(s: &AppState, ui: &UiUser, id: i64, p: &ListParams) -> Result<Thread, Problem> {
    Ok(s.services.thread(ui.user.account_id, id, thread_shown(p) + 1).await?)
}

pub(crate) async fn thread_view(s: &AppState, ui: &UiUser, id: i64, p: &ListParams) -> Result<ThreadView, Problem> {
    thread_view_of(s, ui, read_thread(s, ui, id, p).await?, p).await
}

async fn thread_view_of(s: &AppState, ui: &UiUser, thread: Thread, p: &ListParams) -> Result<ThreadView, Problem> {
    let shown = thread_shown(p);
    let id = thread.summary.conversation.id;
    let Thread { summary, contact, mut messages, events, users, teams, labels: catalogue, consent, inbox_scope } =
        thread;
    // One more than shown was asked for, to know whether there are earlier ones.
    let more = messages.len() as i64 > shown;
    if more {
        messages.remove(0);
    }
    // Past the most one read returns, the API pages further back.
    let earlier = (more && shown < MAX_SHOWN).then(|| (shown + THREAD_PAGE).min(MAX_SHOWN));
    // What happened before the oldest message shown is left out with it.
    let window_start = messages.first().filter(|_| more).map(|m| m.created_at);
    let tz = &ui.zone;
    let now = Timestamp::now();
    let policy = s.services.timing_for(ui.user.account_id).await?;
    let contact_tz = policy.zone_for(contact.time_zone.as_deref(), &summary.contact_address);
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
        channel: "",
    };
    // On a tie, "Conversation started" comes before its first message (and the bot
    // taking over before its first menu), and what a message caused (an opt-out, a
    // flag) comes after it.
    let mut items: Vec<(Timestamp, u8, i64, Bubble)> =
        messages.iter().map(|m| (m.created_at, 1, m.id, bubble(m, tz, &contact_tz, now, &link))).collect();
    for e in events.iter().filter(|e| window_start.is_none_or(|start| e.created_at >= start)) {
        use textdesk_core::event::DomainEvent::{ConversationCreated, FlowStarted};
        let rank = if matches!(e.event, ConversationCreated { .. } | FlowStarted { .. }) { 0 } else { 2 };
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
                    s.services.message(ui.user.account_id, mid).await.map(|m| m.body).unwrap_or_default()
                }
                (None, None) => String::new(),
            };
            Some(words)
        }
        _ => None,
    };
    let consent_history = consent
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
    // Three independent reads side by side: the page waited for each in turn.
    let (picker, panel, channels) = tokio::try_join!(
        crate::http::template_views::picker(s, c),
        crate::http::contacts::panel::contact_panel(s, &ui.user, &contact, id),
        crate::http::conversations::channels::picker(s, c),
    )?;
    let blocked = match summary.consent {
        ConsentState::OptedOut => Some(textdesk_core::BlockReason::OptedOut.explain()),
        _ => None,
    };
    Ok(ThreadView {
        id,
        items: with_days,
        title: contact.display_name(),
        address: summary.contact_address.clone(),
        status: if c.bot { "bot" } else { c.status.as_str() },
        assignee: summary.assignee_name.clone(),
        assigned_to_me: c.assignee_id == Some(ui.user.id),
        inbox: summary.inbox_name.clone(),
        can_call: textdesk_channels::registry::find(&summary.provider).is_some_and(|p| p.voice()),
        blocked,
        users: users.iter().filter(|u| u.active).map(|u| (u.id, u.name.clone(), c.assignee_id == Some(u.id))).collect(),
        supervisors: users
            .iter()
            .filter(|u| u.active && u.role.at_least(textdesk_core::Role::Supervisor))
            .map(|u| (u.id, u.name.clone()))
            .collect(),
        csrf: ui.csrf.clone(),
        can_see_privacy: ui.user.role.at_least(textdesk_core::Role::Admin),
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
        inbox_scope,
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
        panel,
        zone_inferred: contact.time_zone.is_none(),
        picker,
        channels,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "conversation.html")]
pub(crate) struct ConversationPage {
    pub(crate) chrome: Chrome,
    pub(crate) list: ListView,
    pub(crate) thread: ThreadView,
    pub(crate) flash: Option<String>,
    pub(crate) draft: String,
    /// Enter sends (`on`), makes a new line (`off`), or depends on the keyboard (`auto`).
    pub(crate) enter_sends: &'static str,
}

pub(crate) fn enter_sends_mode(user: &User) -> &'static str {
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

pub(crate) async fn render_conversation(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    p: &ListParams,
    flash: Option<String>,
    draft: String,
) -> Result<ConversationPage, Problem> {
    // The list's filter bar lists the same people and labels as the thread: read once.
    let read = read_thread(s, ui, id, p).await?;
    let list = list_view(s, &ui.user, p, Some(id), Head::Known(&read.users, &read.labels)).await?;
    let thread = thread_view_of(s, ui, read, p).await?;
    Ok(ConversationPage { chrome: chrome(s, ui), list, thread, flash, draft, enter_sends: enter_sends_mode(&ui.user) })
}

pub(crate) async fn conversation_page(
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
pub(crate) struct ThreadFragment {
    pub(crate) thread: ThreadView,
}

pub(crate) async fn thread_fragment(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(p): Query<ListParams>,
) -> Result<ThreadFragment, Problem> {
    s.services.mark_read(&ui.user, id).await?;
    Ok(ThreadFragment { thread: thread_view(&s, &ui, id, &p).await? })
}

/// An action's failure as the page shows it.
pub(crate) fn action_failure(e: ServiceError) -> (StatusCode, String) {
    let p = Problem::from(e);
    (p.status, p.detail)
}
