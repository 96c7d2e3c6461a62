//! The admin's settings screens: inboxes (adding one per provider, the
//! webhook addresses to paste, hours, automatic replies, consent, sending,
//! a test message), and people and teams (invitations with one-time sign-in
//! links, roles, deactivation). Every change goes through the services that
//! check it; a refused form comes back as typed, with the reason beside it.
//! Secrets (auth tokens, SMPP passwords) are write-only: never echoed back.

use askama::Template;
use askama_web::WebTemplate;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use textdesk_core::consent::Keywords;
use textdesk_core::hours::HoursSettings;
use textdesk_core::{Address, Body, E164, Role};
use textdesk_store::{Inbox, StoreError, User};

use std::collections::HashMap;

use crate::http::AppState;
use crate::http::extract::{ClientIp, Path, Query, UiUser, check_sign_in_csrf};
use crate::http::hours_form::{DAYS, DayRow, day_text};
use crate::http::problem::Problem;
use crate::http::settings_inboxes::{self, ProviderView};
use crate::http::ui::{Chrome, chrome};
use crate::services::consent::ConsentSettings;
use crate::services::conversations::{ActionError, Draft};
use crate::services::limits::Refusal;
use crate::services::users::UserError;

pub fn ui_routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(|| async { Redirect::to("/settings/inboxes") }))
        .route("/settings/inboxes", get(settings_inboxes::inboxes_page).post(settings_inboxes::add_inbox))
        .route("/settings/inboxes/{id}", get(inbox_page))
        .route("/settings/inboxes/{id}/{section}", post(save_inbox_section))
        .route("/settings/users", get(users_page).post(invite))
        .route("/settings/users/{id}", post(change_user))
        .route("/settings/users/{id}/invite", post(reinvite))
        .route("/settings/teams", post(create_team))
        .route("/settings/teams/{id}/members", post(team_member))
        .route("/invite/{token}", get(invite_page).post(accept_invite))
        .route("/settings/account", get(account_page))
        .route("/settings/account/quiet-hours", post(save_quiet_hours))
        .route("/settings/account/targets", post(save_targets))
}

impl Chrome {
    /// Admins see the settings link.
    pub fn is_admin(&self) -> bool {
        self.role.at_least(Role::Admin)
    }
}

/// Settings are for admins; anyone else gets a 403.
pub(crate) fn admin_only(ui: &UiUser) -> Option<Response> {
    (!ui.user.role.at_least(Role::Admin))
        .then(|| Problem::forbidden("the settings are for admins; ask one to change them").into_response())
}

pub(crate) fn page_or_problem<T: IntoResponse>(status: StatusCode, page: Result<T, Problem>) -> Response {
    match page {
        Ok(p) => (status, p).into_response(),
        Err(p) => p.into_response(),
    }
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn number<T: std::str::FromStr>(field: &str, text: &str, what: &str) -> Result<Option<T>, String> {
    match opt(text) {
        None => Ok(None),
        Some(t) => t.parse().map(Some).map_err(|_| format!("{field}: {t:?} is not {what}")),
    }
}

// ---------- one inbox ----------

/// Every section's form: posted as one struct, each section reads its fields.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct SectionForm {
    csrf: String,
    // name
    name: String,
    // hours
    always_open: Option<String>,
    zone: String,
    mon: String,
    tue: String,
    wed: String,
    thu: String,
    fri: String,
    sat: String,
    sun: String,
    holidays: String,
    /// The days' time pickers (`mon_open`, `mon_close`, `mon_closed`…), read by `read_pickers`.
    #[serde(flatten)]
    pickers: HashMap<String, String>,
    // replies
    off_enabled: Option<String>,
    off_text: String,
    ack_minutes: String,
    ack_text: String,
    // consent
    opt_out: String,
    opt_in: String,
    join: String,
    help: String,
    opt_out_reply: String,
    opt_in_reply: String,
    join_reply: String,
    help_reply: String,
    double_opt_in: Option<String>,
    confirm_request: String,
    scope: String,
    // sending
    rate: String,
    price: String,
    currency: String,
    // test
    to: String,
    body: String,
}

impl SectionForm {
    fn day(&self, key: &str) -> &str {
        match key {
            "mon" => &self.mon,
            "tue" => &self.tue,
            "wed" => &self.wed,
            "thu" => &self.thu,
            "fri" => &self.fri,
            "sat" => &self.sat,
            _ => &self.sun,
        }
    }

    fn day_mut(&mut self, key: &str) -> &mut String {
        match key {
            "mon" => &mut self.mon,
            "tue" => &mut self.tue,
            "wed" => &mut self.wed,
            "thu" => &mut self.thu,
            "fri" => &mut self.fri,
            "sat" => &mut self.sat,
            _ => &mut self.sun,
        }
    }

    fn days(&self) -> Vec<DayRow> {
        let nothing_stored = DAYS.iter().all(|(key, _, _)| self.day(key).trim().is_empty());
        DAYS.iter()
            .map(|(key, label, _)| match DayRow::typed(key, label, &self.pickers) {
                Some(typed) => typed,
                None => DayRow::of(key, label, self.day(key), nothing_stored),
            })
            .collect()
    }

    /// The day pickers' ranges into the days' text, or what to fix.
    fn read_pickers(&mut self) -> Result<(), String> {
        for (key, _, plural) in DAYS {
            if let Some(text) = day_text(&self.pickers, key, plural) {
                *self.day_mut(key) = text?;
            }
        }
        Ok(())
    }
}

fn words(list: &[String]) -> String {
    list.join(", ")
}

fn split_words(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// The forms as the inbox's settings stand.
async fn stored_form(s: &AppState, inbox: &Inbox) -> Result<SectionForm, Problem> {
    let set = &inbox.settings;
    let mut f = SectionForm { name: inbox.name.clone(), ..Default::default() };
    let hours: HoursSettings = serde_json::from_value(set["hours"].clone()).unwrap_or_default();
    // No weekly hours means open around the clock: the box says so.
    f.always_open = (hours.always_open || hours.weekly.is_empty()).then(|| "on".into());
    f.zone = hours.zone.clone().unwrap_or_default();
    for (key, _, _) in DAYS {
        *f.day_mut(key) = hours.weekly.get(key).map(|r| r.join(", ")).unwrap_or_default();
    }
    f.holidays = hours.holidays.join("\n");
    let (off, ack, _) = s.services.builtin_replies(inbox).await?;
    f.off_enabled = off.enabled.then(|| "on".into());
    f.off_text = off.text.unwrap_or_default();
    f.ack_minutes = ack.after_minutes.map(|m| m.to_string()).unwrap_or_default();
    f.ack_text = ack.text.unwrap_or_default();
    let consent = ConsentSettings::of(inbox);
    f.opt_out = words(&consent.keywords.opt_out);
    f.opt_in = words(&consent.keywords.opt_in);
    f.join = words(&consent.keywords.join);
    f.help = words(&consent.keywords.help);
    f.opt_out_reply = consent.opt_out_reply.unwrap_or_default();
    f.opt_in_reply = consent.opt_in_reply.unwrap_or_default();
    f.join_reply = consent.join_reply.unwrap_or_default();
    f.help_reply = consent.help_reply.unwrap_or_default();
    f.double_opt_in = consent.double_opt_in.then(|| "on".into());
    f.confirm_request = consent.confirm_request.unwrap_or_default();
    f.scope = s.services.store.inbox_shared_scope(inbox.account_id, inbox.id).await?.unwrap_or_default();
    f.rate = set["rate_limit"]["segments_per_second"].as_f64().map(|r| r.to_string()).unwrap_or_default();
    f.price = set["price_per_segment"].as_f64().map(|p| p.to_string()).unwrap_or_default();
    f.currency = set["currency"].as_str().unwrap_or_default().to_owned();
    Ok(f)
}

/// The default replies, shown as placeholders: what is sent when a box is left empty.
pub struct Defaults {
    opt_out_reply: String,
    opt_in_reply: String,
    join_reply: String,
    help_reply: String,
    confirm_request: String,
    off_text: &'static str,
    ack_text: &'static str,
    zone: String,
    keywords: Keywords,
}

/// How the last test message is doing.
pub struct TestResult {
    message_id: i64,
    conversation_id: i64,
    to: String,
    status: &'static str,
    error: Option<String>,
    send_at: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_inbox.html")]
struct InboxPage {
    chrome: Chrome,
    id: i64,
    title: String,
    provider: ProviderView,
    sender: String,
    form: SectionForm,
    days: Vec<DayRow>,
    defaults: Defaults,
    /// The section that failed, and why.
    error: Option<(String, String)>,
    /// The section just saved.
    saved: Option<String>,
    test: Option<TestResult>,
    /// The time-zone picker's choices, the business's first.
    zones: Vec<String>,
    /// The away message as it would go out now.
    away: crate::http::setup::AwayView,
}

impl InboxPage {
    /// The stored zone, or the first choice (the business's) when none is.
    fn zone_selected(&self, index: &usize, zone: &str) -> bool {
        if self.form.zone.is_empty() { *index == 0 } else { self.form.zone == zone }
    }

    fn error_for(&self, section: &str) -> Option<&str> {
        self.error.as_ref().filter(|(k, _)| k == section).map(|(_, e)| e.as_str())
    }

    fn saved(&self, section: &str) -> bool {
        self.saved.as_deref() == Some(section)
    }
}

#[derive(Deserialize, Default)]
struct InboxQuery {
    saved: Option<String>,
    test: Option<i64>,
}

async fn inbox_view(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    typed: Option<(SectionForm, String, String)>,
    q: InboxQuery,
) -> Result<InboxPage, Problem> {
    let inbox = s.services.store.inbox(ui.user.account_id, id).await?;
    let stored = stored_form(s, &inbox).await?;
    let (form, error) = match typed {
        Some((typed, section, error)) => (merge_section(stored, typed, &section), Some((section, error))),
        None => (stored, None),
    };
    let policy = ConsentSettings::default().policy(&s.services.business_name)?;
    let defaults = Defaults {
        opt_out_reply: policy.opt_out_reply.as_str().to_owned(),
        opt_in_reply: policy.opt_in_reply.as_str().to_owned(),
        join_reply: policy.join_reply.as_str().to_owned(),
        help_reply: policy.help_reply.as_str().to_owned(),
        confirm_request: policy.confirm_request.as_str().to_owned(),
        off_text: crate::services::hours::DEFAULT_OFF_HOURS,
        ack_text: crate::services::hours::DEFAULT_ACKNOWLEDGE,
        zone: s.services.timing.fallback_zone.iana_name().unwrap_or("UTC").to_owned(),
        keywords: Keywords::default(),
    };
    let test = match q.test {
        Some(mid) => match s.services.store.message(mid).await {
            Ok(m) if m.inbox_id == inbox.id => {
                let to = s
                    .services
                    .store
                    .conversation_summary(ui.user.account_id, m.conversation_id)
                    .await
                    .map(|c| c.contact_address)
                    .unwrap_or_default();
                Some(TestResult {
                    message_id: m.id,
                    conversation_id: m.conversation_id,
                    to,
                    status: m.status.as_str(),
                    error: m.error,
                    send_at: m
                        .send_at
                        .map(|t| t.to_zoned(s.business_tz.clone()).strftime("%b %-d, %-I:%M %p").to_string()),
                })
            }
            _ => None,
        },
        None => None,
    };
    let away = crate::http::setup::away_view(s, &inbox, &form.off_text);
    Ok(InboxPage {
        chrome: chrome(s, ui),
        id: inbox.id,
        title: inbox.name.clone(),
        provider: ProviderView::of(s, &inbox),
        sender: inbox.sender,
        days: form.days(),
        zones: crate::http::hours_form::zone_choices(&defaults.zone),
        away,
        form,
        defaults,
        error,
        saved: q.saved,
        test,
    })
}

/// The stored forms, with the failed section as it was typed.
fn merge_section(mut stored: SectionForm, typed: SectionForm, section: &str) -> SectionForm {
    match section {
        "name" => stored.name = typed.name,
        "hours" => {
            for (key, _, _) in DAYS {
                *stored.day_mut(key) = typed.day(key).to_owned();
            }
            stored.always_open = typed.always_open;
            stored.pickers = typed.pickers;
            stored.zone = typed.zone;
            stored.holidays = typed.holidays;
        }
        "replies" => {
            stored.off_enabled = typed.off_enabled;
            stored.off_text = typed.off_text;
            stored.ack_minutes = typed.ack_minutes;
            stored.ack_text = typed.ack_text;
        }
        "consent" => {
            stored.opt_out = typed.opt_out;
            stored.opt_in = typed.opt_in;
            stored.join = typed.join;
            stored.help = typed.help;
            stored.opt_out_reply = typed.opt_out_reply;
            stored.opt_in_reply = typed.opt_in_reply;
            stored.join_reply = typed.join_reply;
            stored.help_reply = typed.help_reply;
            stored.double_opt_in = typed.double_opt_in;
            stored.confirm_request = typed.confirm_request;
            stored.scope = typed.scope;
        }
        "sending" => {
            stored.rate = typed.rate;
            stored.price = typed.price;
            stored.currency = typed.currency;
        }
        "test" => {
            stored.to = typed.to;
            stored.body = typed.body;
        }
        _ => {}
    }
    stored
}

async fn inbox_page(
    State(s): State<AppState>,
    ui: UiUser,
    Path(id): Path<i64>,
    Query(q): Query<InboxQuery>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    page_or_problem(StatusCode::OK, inbox_view(&s, &ui, id, None, q).await)
}

fn text_or_absent(map: &mut Map<String, Value>, key: &str, text: &str) {
    if let Some(t) = opt(text) {
        map.insert(key.into(), json!(t));
    }
}

/// The settings change a section's form asks for.
fn section_changes(section: &str, f: &SectionForm) -> Result<Map<String, Value>, String> {
    let mut changes = Map::new();
    match section {
        "hours" => {
            let mut weekly = Map::new();
            for (key, _, _) in DAYS {
                let ranges = split_words(f.day(key));
                if !ranges.is_empty() {
                    weekly.insert(key.into(), json!(ranges));
                }
            }
            let mut hours = Map::new();
            if f.always_open.is_some() {
                hours.insert("always_open".into(), json!(true));
            }
            text_or_absent(&mut hours, "zone", &f.zone);
            hours.insert("weekly".into(), Value::Object(weekly));
            hours.insert("holidays".into(), json!(split_words(&f.holidays)));
            changes.insert("hours".into(), Value::Object(hours));
        }
        "replies" => {
            let mut off = Map::new();
            off.insert("enabled".into(), json!(f.off_enabled.is_some()));
            text_or_absent(&mut off, "text", &f.off_text);
            changes.insert("off_hours_reply".into(), Value::Object(off));
            let ack = match number::<u32>("holding message minutes", &f.ack_minutes, "a whole number of minutes")? {
                None => Value::Null,
                Some(m) => {
                    let mut ack = Map::new();
                    ack.insert("after_minutes".into(), json!(m));
                    text_or_absent(&mut ack, "text", &f.ack_text);
                    Value::Object(ack)
                }
            };
            changes.insert("acknowledge".into(), ack);
        }
        "consent" => {
            let mut keywords = Map::new();
            for (key, text) in [("opt_out", &f.opt_out), ("opt_in", &f.opt_in), ("join", &f.join), ("help", &f.help)] {
                let list = split_words(text);
                if !list.is_empty() {
                    keywords.insert(key.into(), json!(list));
                }
            }
            let mut consent = Map::new();
            consent.insert("keywords".into(), Value::Object(keywords));
            text_or_absent(&mut consent, "opt_out_reply", &f.opt_out_reply);
            text_or_absent(&mut consent, "opt_in_reply", &f.opt_in_reply);
            text_or_absent(&mut consent, "join_reply", &f.join_reply);
            text_or_absent(&mut consent, "help_reply", &f.help_reply);
            text_or_absent(&mut consent, "confirm_request", &f.confirm_request);
            consent.insert("double_opt_in".into(), json!(f.double_opt_in.is_some()));
            changes.insert("consent".into(), Value::Object(consent));
        }
        "sending" => {
            let rate = number::<f64>("rate limit", &f.rate, "a number of segments per second")?;
            changes.insert("rate_limit".into(), rate.map_or(Value::Null, |r| json!({ "segments_per_second": r })));
            let price = number::<f64>("price per segment", &f.price, "a number like 0.0079")?;
            changes.insert("price_per_segment".into(), price.map_or(Value::Null, |p| json!(p)));
            changes.insert("currency".into(), opt(&f.currency).map_or(Value::Null, |c| json!(c.to_ascii_uppercase())));
        }
        _ => {}
    }
    Ok(changes)
}

/// Where a section's save went.
enum Saved {
    Section,
    Test(i64),
}

async fn save(
    s: &AppState,
    user: &User,
    id: i64,
    section: &str,
    f: &SectionForm,
) -> Result<Saved, (StatusCode, String)> {
    let invalid = |e: String| (StatusCode::UNPROCESSABLE_ENTITY, e);
    let problem = |p: Problem| (p.status, p.detail);
    match section {
        "name" => {
            s.services.update_inbox(user, id, Some(&f.name), None).await.map_err(|e| problem(e.into()))?;
        }
        "hours" | "replies" | "consent" | "sending" => {
            let changes = section_changes(section, f).map_err(invalid)?;
            if section == "consent" {
                let scope = opt(&f.scope);
                s.services.set_consent_scope(user, id, scope.as_deref()).await.map_err(|e| problem(e.into()))?;
            }
            s.services.update_inbox(user, id, None, Some(&changes)).await.map_err(|e| problem(e.into()))?;
        }
        "test" => {
            let inbox = s.services.store.inbox(user.account_id, id).await.map_err(|e| problem(e.into()))?;
            // Typed as people write numbers, in the inbox's own country unless it says another.
            let region = E164::parse(&inbox.sender, None).ok().and_then(|n| n.region());
            let to = Address::parse_in(inbox.medium, &f.to, region.as_deref())
                .map_err(|e| invalid(format!("To: {}", e.0)))?;
            let body = Body::parse(&f.body).map_err(|e| invalid(format!("Text: {}", e.0)))?;
            let conversation = s
                .services
                .store
                .conversation_with(user.account_id, id, &to, user.id)
                .await
                .map_err(|e| problem(e.into()))?;
            let m = s.services.send(user, conversation, Draft::reply(body)).await.map_err(|e| match e {
                ActionError::Blocked(reason) => (StatusCode::CONFLICT, format!("Not sent: {}", reason.explain())),
                other => problem(other.into()),
            })?;
            return Ok(Saved::Test(m.id));
        }
        _ => return Err((StatusCode::NOT_FOUND, "no such settings section".into())),
    }
    Ok(Saved::Section)
}

async fn save_inbox_section(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path((id, section)): Path<(i64, String)>,
    axum::Form(mut f): axum::Form<SectionForm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    if let Err(r) = ui.check_csrf(&headers, &f.csrf, &s.config.public_url) {
        return r.into_response();
    }
    let read = if section == "hours" { f.read_pickers() } else { Ok(()) };
    let saved = match read {
        Ok(()) => save(&s, &ui.user, id, &section, &f).await,
        Err(e) => Err((StatusCode::UNPROCESSABLE_ENTITY, e)),
    };
    match saved {
        Ok(Saved::Section) => {
            Redirect::to(&format!("/settings/inboxes/{id}?saved={section}#{section}")).into_response()
        }
        Ok(Saved::Test(m)) => Redirect::to(&format!("/settings/inboxes/{id}?test={m}#test")).into_response(),
        Err((StatusCode::NOT_FOUND, detail)) => Problem::not_found(&detail).into_response(),
        Err((status, detail)) => {
            let page = inbox_view(&s, &ui, id, Some((f, section, detail)), InboxQuery::default()).await;
            page_or_problem(status, page)
        }
    }
}

// ---------- people and teams ----------

pub struct UserRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    active: bool,
    /// "Active", "Invited", "Invitation expired", "Deactivated".
    state: String,
    me: bool,
}

pub struct TeamRow {
    id: i64,
    name: String,
    members: Vec<(i64, String)>,
    others: Vec<(i64, String)>,
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PeopleForm {
    csrf: String,
    email: String,
    name: String,
    role: String,
    active: String,
    user_id: String,
    remove: String,
}

pub struct NewLink {
    email: String,
    url: String,
    expires: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    teams: Vec<TeamRow>,
    invite: PeopleForm,
    team_name: String,
    /// Which form failed ("invite", "user", "team"), and why.
    error: Option<(String, String)>,
    link: Option<NewLink>,
    roles: [&'static str; 3],
}

impl UsersPage {
    fn error_for(&self, form: &str) -> Option<&str> {
        self.error.as_ref().filter(|(k, _)| k == form).map(|(_, e)| e.as_str())
    }
}

async fn users_view(s: &AppState, ui: &UiUser) -> Result<UsersPage, Problem> {
    let account = ui.user.account_id;
    let users = s.services.store.users(account).await?;
    let invites = s.services.store.invite_states(account).await?;
    let now = jiff::Timestamp::now();
    let rows = users
        .iter()
        .map(|u| {
            let invite = invites.iter().find(|i| i.user_id == u.id);
            let state = match invite {
                _ if !u.active => "Deactivated".to_owned(),
                Some(i) if !i.accepted && i.expires_at > now => format!(
                    "Invited (link works until {})",
                    i.expires_at.to_zoned(s.business_tz.clone()).strftime("%b %-d")
                ),
                Some(i) if !i.accepted => "Invitation expired".to_owned(),
                _ => "Active".to_owned(),
            };
            UserRow {
                id: u.id,
                name: u.name.clone(),
                email: u.email.clone(),
                role: u.role.as_str(),
                active: u.active,
                state,
                me: u.id == ui.user.id,
            }
        })
        .collect();
    let mut teams = Vec::new();
    for t in s.services.store.teams(account).await? {
        let ids = s.services.store.team_member_ids(t.id).await?;
        let (members, others): (Vec<&User>, Vec<&User>) = users.iter().partition(|u| ids.contains(&u.id));
        let named = |list: Vec<&User>| list.into_iter().map(|u| (u.id, u.name.clone())).collect();
        teams.push(TeamRow {
            id: t.id,
            name: t.name,
            members: named(members),
            others: named(others.into_iter().filter(|u| u.active).collect()),
        });
    }
    Ok(UsersPage {
        chrome: chrome(s, ui),
        users: rows,
        teams,
        invite: PeopleForm { role: "agent".into(), ..Default::default() },
        team_name: String::new(),
        error: None,
        link: None,
        roles: ["agent", "supervisor", "admin"],
    })
}

async fn users_page(State(s): State<AppState>, ui: UiUser) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    page_or_problem(StatusCode::OK, users_view(&s, &ui).await)
}

fn user_problem(e: UserError) -> Problem {
    e.into()
}

/// The people page again: with a failed form's reason, or a new link to hand over.
async fn users_again(s: &AppState, ui: &UiUser, status: StatusCode, edit: impl FnOnce(&mut UsersPage)) -> Response {
    let page = users_view(s, ui).await.map(|mut p| {
        edit(&mut p);
        p
    });
    page_or_problem(status, page)
}

fn people_guard(s: &AppState, headers: &HeaderMap, ui: &UiUser, csrf: &str) -> Option<Response> {
    admin_only(ui).or_else(|| ui.check_csrf(headers, csrf, &s.config.public_url).err().map(IntoResponse::into_response))
}

fn link_view(s: &AppState, inv: crate::services::users::Invitation) -> NewLink {
    NewLink {
        email: inv.user.email,
        url: inv.url,
        expires: inv.expires_at.to_zoned(s.business_tz.clone()).strftime("%b %-d, %-I:%M %p").to_string(),
    }
}

async fn invite(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    axum::Form(f): axum::Form<PeopleForm>,
) -> Response {
    if let Some(r) = people_guard(&s, &headers, &ui, &f.csrf) {
        return r;
    }
    match s.services.invite_user(&ui.user, &f.email, &f.name, &f.role).await {
        Ok(inv) => {
            let link = link_view(&s, inv);
            users_again(&s, &ui, StatusCode::CREATED, |p| p.link = Some(link)).await
        }
        Err(e) => {
            let p = user_problem(e);
            users_again(&s, &ui, p.status, |page| {
                page.invite = PeopleForm { csrf: String::new(), ..f };
                page.error = Some(("invite".into(), p.detail));
            })
            .await
        }
    }
}

async fn reinvite(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<PeopleForm>,
) -> Response {
    if let Some(r) = people_guard(&s, &headers, &ui, &f.csrf) {
        return r;
    }
    match s.services.reissue_invite(&ui.user, id).await {
        Ok(inv) => {
            let link = link_view(&s, inv);
            users_again(&s, &ui, StatusCode::CREATED, |p| p.link = Some(link)).await
        }
        Err(e) => {
            let p = user_problem(e);
            users_again(&s, &ui, p.status, |page| page.error = Some(("user".into(), p.detail))).await
        }
    }
}

async fn change_user(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<PeopleForm>,
) -> Response {
    if let Some(r) = people_guard(&s, &headers, &ui, &f.csrf) {
        return r;
    }
    let role = opt(&f.role);
    let active = match f.active.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    };
    match s.services.change_user(&ui.user, id, role.as_deref(), active).await {
        Ok(_) => Redirect::to("/settings/users").into_response(),
        Err(e) => {
            let p = user_problem(e);
            users_again(&s, &ui, p.status, |page| page.error = Some(("user".into(), p.detail))).await
        }
    }
}

async fn create_team(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    axum::Form(f): axum::Form<PeopleForm>,
) -> Response {
    if let Some(r) = people_guard(&s, &headers, &ui, &f.csrf) {
        return r;
    }
    match s.services.create_team(&ui.user, &f.name).await {
        Ok(_) => Redirect::to("/settings/users#teams").into_response(),
        Err(e) => {
            let p = user_problem(e);
            users_again(&s, &ui, p.status, |page| {
                page.team_name = f.name;
                page.error = Some(("team".into(), p.detail));
            })
            .await
        }
    }
}

async fn team_member(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<PeopleForm>,
) -> Response {
    if let Some(r) = people_guard(&s, &headers, &ui, &f.csrf) {
        return r;
    }
    let Ok(user_id) = f.user_id.parse::<i64>() else {
        return users_again(&s, &ui, StatusCode::UNPROCESSABLE_ENTITY, |page| {
            page.error = Some(("team".into(), "choose a person to add".into()))
        })
        .await;
    };
    match s.services.set_team_member(&ui.user, id, user_id, f.remove.is_empty()).await {
        Ok(()) => Redirect::to("/settings/users#teams").into_response(),
        Err(e) => {
            let p = user_problem(e);
            users_again(&s, &ui, p.status, |page| page.error = Some(("team".into(), p.detail))).await
        }
    }
}

// ---------- the invitee's side ----------

#[derive(Template, WebTemplate)]
#[template(path = "invite.html")]
struct InvitePage {
    token: String,
    user: Option<(String, String)>,
    error: Option<String>,
    business: String,
    csrf: String,
}

const LINK_GONE: &str = "This link has been used, has expired, or was replaced by a newer one.";

/// The invitation's page (its form carries a sign-in CSRF token, like the login's).
fn invite_form(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    user: Option<User>,
    error: Option<String>,
) -> Response {
    let business = s.config.account_name.clone();
    let user = user.map(|u| (u.name, u.email));
    crate::http::ui::with_sign_in_csrf(s, headers, status, |csrf| InvitePage {
        token: token.to_owned(),
        user,
        error,
        business,
        csrf,
    })
}

/// The person a link is for; a wrong link counts against the address like a
/// wrong password, so links cannot be guessed at speed. A refused address
/// gets the page with the wait.
async fn invitee(
    s: &AppState,
    headers: &HeaderMap,
    ip: std::net::IpAddr,
    token: &str,
) -> Result<Option<User>, Response> {
    let refused = |r: Refusal| {
        let mut res = invite_form(s, headers, Problem::refused(r).status, token, None, Some(r.explain()));
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(r.retry_after_secs()));
        res
    };
    let now = std::time::Instant::now();
    s.services.limits.check(ip, now).map_err(refused)?;
    match s.services.invitation_for(token).await {
        Ok(Some(u)) if u.account_id == s.account_id => Ok(Some(u)),
        Ok(_) => {
            s.services.limits.charge(ip, now).map_err(refused)?;
            Ok(None)
        }
        Err(e) => Err(Problem::from(e).into_response()),
    }
}

async fn invite_page(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match invitee(&s, &headers, ip, &token).await {
        Ok(Some(user)) => invite_form(&s, &headers, StatusCode::OK, &token, Some(user), None),
        Ok(None) => invite_form(&s, &headers, StatusCode::NOT_FOUND, &token, None, None),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
struct AcceptForm {
    password: String,
    confirm: String,
    #[serde(default)]
    csrf: String,
}

async fn accept_invite(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    axum::Form(f): axum::Form<AcceptForm>,
) -> Response {
    let again = |status: StatusCode, user: Option<User>, error: String| {
        let status = if user.is_some() { status } else { StatusCode::NOT_FOUND };
        invite_form(&s, &headers, status, &token, user, Some(error))
    };
    let user = match invitee(&s, &headers, ip, &token).await {
        Ok(Some(u)) => u,
        Ok(None) => return again(StatusCode::NOT_FOUND, None, LINK_GONE.into()),
        Err(r) => return r,
    };
    if check_sign_in_csrf(&headers, &f.csrf, &s.config.public_url).is_err() {
        let error = "This form expired or did not come from this site. Please enter your new password again.";
        return again(StatusCode::FORBIDDEN, Some(user), error.into());
    }
    if f.password != f.confirm {
        return again(StatusCode::UNPROCESSABLE_ENTITY, Some(user), "The two passwords are not the same.".into());
    }
    let user = match s.services.accept_invite(&token, &f.password).await {
        Ok(u) => u,
        Err(UserError::Store(StoreError::Invalid(d))) => return again(StatusCode::UNPROCESSABLE_ENTITY, Some(user), d),
        Err(UserError::Store(StoreError::NotFound(_))) => return again(StatusCode::NOT_FOUND, None, LINK_GONE.into()),
        Err(UserError::Refused(r)) => {
            let mut res = again(Problem::refused(r).status, Some(user), r.explain());
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(r.retry_after_secs()));
            return res;
        }
        Err(e) => return user_problem(e).into_response(),
    };
    crate::http::ui::sign_in(&s, user.id, "/inbox").await
}

// ---------- the account ----------

#[derive(Template, WebTemplate)]
#[template(path = "settings_account.html")]
struct AccountPage {
    chrome: Chrome,
    /// As stored, or as typed when refused; empty is the server's default.
    quiet_hours: String,
    /// The server's window, which applies while the field is empty.
    default_quiet_hours: String,
    error: Option<String>,
    /// Minutes, as stored or as typed when refused.
    first_response_minutes: String,
    target_error: Option<String>,
    /// Which form was just saved: `quiet-hours` or `targets`.
    saved: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AccountQuery {
    saved: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct QuietHoursForm {
    csrf: String,
    quiet_hours: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TargetsForm {
    csrf: String,
    first_response_minutes: String,
}

async fn account_view(s: &AppState, ui: &UiUser) -> Result<AccountPage, Problem> {
    let settings = s.services.account_settings(ui.user.account_id).await?;
    Ok(AccountPage {
        chrome: chrome(s, ui),
        quiet_hours: settings.own_quiet_hours().map(|q| q.to_string()).unwrap_or_default(),
        default_quiet_hours: s.services.timing.quiet.to_string(),
        error: None,
        first_response_minutes: settings.targets.first_response_minutes.to_string(),
        target_error: None,
        saved: String::new(),
    })
}

async fn account_page(State(s): State<AppState>, ui: UiUser, Query(q): Query<AccountQuery>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let page = account_view(&s, &ui).await.map(|mut p| {
        p.saved = q.saved.filter(|s| matches!(s.as_str(), "quiet-hours" | "targets")).unwrap_or_default();
        p
    });
    page_or_problem(StatusCode::OK, page)
}

/// Empty goes back to the server's window; anything else must read as one.
async fn save_quiet_hours(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    axum::Form(f): axum::Form<QuietHoursForm>,
) -> Response {
    if let Some(r) = people_guard(&s, &headers, &ui, &f.csrf) {
        return r;
    }
    let typed = f.quiet_hours.trim();
    let value = if typed.is_empty() { Value::Null } else { Value::String(typed.to_owned()) };
    match s.services.patch_account_settings(ui.user.account_id, &json!({ "quiet_hours": value })).await {
        Ok(_) => Redirect::to("/settings/account?saved=quiet-hours#quiet-hours").into_response(),
        Err(e) => {
            let p: Problem = e.into();
            let page = account_view(&s, &ui).await.map(|mut page| {
                page.quiet_hours = f.quiet_hours;
                page.error = Some(p.detail);
                page
            });
            page_or_problem(p.status, page)
        }
    }
}

/// The first-response target the inbox's waiting badges are measured against.
async fn save_targets(
    State(s): State<AppState>,
    headers: HeaderMap,
    ui: UiUser,
    axum::Form(f): axum::Form<TargetsForm>,
) -> Response {
    if let Some(r) = people_guard(&s, &headers, &ui, &f.csrf) {
        return r;
    }
    let patch = match f.first_response_minutes.trim().parse::<u32>() {
        Ok(n) => Ok(json!({ "targets": { "first_response_minutes": n } })),
        Err(_) => Err(Problem::invalid("the first-response target is a whole number of minutes, 1 to 1440")),
    };
    let result = match patch {
        Ok(patch) => s.services.patch_account_settings(ui.user.account_id, &patch).await.map_err(Problem::from),
        Err(p) => Err(p),
    };
    match result {
        Ok(_) => Redirect::to("/settings/account?saved=targets#targets").into_response(),
        Err(p) => {
            let page = account_view(&s, &ui).await.map(|mut page| {
                page.first_response_minutes = f.first_response_minutes;
                page.target_error = Some(p.detail);
                page
            });
            page_or_problem(p.status, page)
        }
    }
}
