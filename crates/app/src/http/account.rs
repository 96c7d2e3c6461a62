//! The account over the API: its name and settings (`compose`: the tone rules
//! the composer applies; `quiet_hours`: when texts may go). Everyone reads
//! them; admins change them.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::http::extract::CsrfForm;
use crate::http::extract::{ApiAdmin, ApiUser, Json, Query, UiUser};
use crate::http::layout::{Chrome, admin_only, chrome, page_or_problem};
use crate::http::problem::{Problem, ProblemOut};
use crate::http::state::AppState;
use crate::services::account::AccountSettings;

#[derive(Serialize, ToSchema)]
pub struct AccountOut {
    id: i64,
    name: String,
    /// The settings as they apply, defaults filled in: `{ "compose": { "tone_check": bool,
    /// "checks": { "slang": bool, "emoji": bool, "caps": bool, "exclamation": bool },
    /// "max_segments": 1..10, "extra_slang": [["word", "what to write instead"], …] },
    /// "targets": { "first_response_minutes": 1..1440 (default 15), optional "reply_minutes", "resolution_hours",
    /// "resolution_rate_percent", "csat_percent", "nps" (-100..100), "opt_in_percent" }, "quiet_hours": "08:00-21:00",
    /// "routing": { … }, "escalation": { "video_link": "https://meet.jit.si/textdesk-{room}" } }`.
    /// `quiet_hours` is when texts may go, in each contact's local time (US state rules narrow it);
    /// the server's window unless the account set its own. `escalation.video_link` is the meeting link a
    /// video escalation texts: an https URL holding `{room}` once, where a random id goes. `time_zone` is the
    /// business's clock (an IANA name): times on its pages, business hours that name no zone, schedules; the
    /// server's unless set.
    #[schema(value_type = Object)]
    settings: AccountSettings,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatchIn {
    /// A JSON merge patch (RFC 7386) on the settings: `{ "compose": { "checks": { "slang": false } } }`
    /// turns one check off and keeps the rest; `{ "quiet_hours": "10:00-18:00" }` narrows the texting window;
    /// `{ "time_zone": "America/Chicago" }` sets the business's clock;
    /// `null` resets a value to its default.
    #[schema(value_type = Object)]
    settings: serde_json::Value,
}

pub(crate) async fn account_out(s: &AppState, account_id: i64) -> Result<AccountOut, Problem> {
    let account = s.services.account(account_id).await?;
    let settings = s.services.account_settings(account_id).await?;
    Ok(AccountOut { id: account.id, name: account.name, settings })
}

#[utoipa::path(get, path = "/api/v1/account", tag = "account", responses((status = 200, body = AccountOut)), security(("bearer" = [])))]
pub async fn get_account(State(s): State<AppState>, ApiUser(u): ApiUser) -> Result<Json<AccountOut>, Problem> {
    Ok(Json(account_out(&s, u.account_id).await?))
}

#[utoipa::path(patch, path = "/api/v1/account", tag = "account", request_body = AccountPatchIn,
    responses((status = 200, body = AccountOut), (status = 403, body = ProblemOut), (status = 422, body = ProblemOut, description = "Settings that do not read (the detail says which)")),
    security(("bearer" = [])))]
pub async fn update_account(
    State(s): State<AppState>,
    ApiAdmin(admin): ApiAdmin,
    Json(b): Json<AccountPatchIn>,
) -> Result<Json<AccountOut>, Problem> {
    s.services.patch_account_settings(&admin, &b.settings).await?;
    Ok(Json(account_out(&s, admin.account_id).await?))
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_account.html")]
pub(crate) struct AccountPage {
    chrome: Chrome,
    /// As stored, or as typed when refused; empty is the server's default.
    quiet_hours: String,
    /// The server's window, which applies while the field is empty.
    default_quiet_hours: String,
    error: Option<String>,
    /// The KPI targets, as stored or as typed when refused (empty: no target).
    targets: TargetsForm,
    target_error: Option<String>,
    /// The video escalation's link template, as stored or as typed when refused.
    video_link: String,
    video_error: Option<String>,
    /// Where the email provider's inbound-parse webhook posts customers' replies (the secret is in it).
    inbound_email_url: String,
    /// The account's own zone as stored, or as typed when refused; empty is the server's.
    time_zone: String,
    /// The server's zone, which applies while the field is empty.
    default_time_zone: String,
    zone_error: Option<String>,
    /// How conversations find their person, as stored or as typed when refused.
    routing: RoutingForm,
    routing_error: Option<String>,
    /// Which form was just saved: `quiet-hours`, `targets`, `video`, `time-zone` or `routing`.
    saved: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct AccountQuery {
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
pub struct VideoForm {
    csrf: String,
    video_link: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TimeZoneForm {
    csrf: String,
    time_zone: String,
}

/// The account's routing options; each number as typed, the box "on" when ticked.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RoutingForm {
    csrf: String,
    reply_assigns: String,
    sticky_days: String,
    away_after_minutes: String,
    release_after_minutes: String,
}

impl RoutingForm {
    fn of(r: &crate::services::account::Routing) -> Self {
        RoutingForm {
            csrf: String::new(),
            reply_assigns: if r.reply_assigns { "on".into() } else { String::new() },
            sticky_days: r.sticky_days.to_string(),
            away_after_minutes: r.away_after_minutes.to_string(),
            release_after_minutes: r.release_after_minutes.to_string(),
        }
    }

    pub(crate) fn reply_assigns(&self) -> bool {
        !self.reply_assigns.is_empty()
    }

    /// The settings patch; the service checks the ranges.
    fn patch(&self) -> Result<Value, Problem> {
        let number = |typed: &str, what: &str| {
            typed.trim().parse::<u32>().map_err(|_| Problem::invalid(format!("{what} is a whole number")))
        };
        Ok(json!({ "routing": {
            "reply_assigns": self.reply_assigns(),
            "sticky_days": number(&self.sticky_days, "the days a returning customer goes to their last agent")?,
            "away_after_minutes": number(&self.away_after_minutes, "the minutes before an agent counts as away")?,
            "release_after_minutes": number(&self.release_after_minutes, "the minutes before an absent agent's customers go back")?,
        } }))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TargetsForm {
    csrf: String,
    first_response_minutes: String,
    reply_minutes: String,
    resolution_hours: String,
    resolution_rate_percent: String,
    csat_percent: String,
    nps: String,
    opt_in_percent: String,
}

impl TargetsForm {
    fn of(t: &crate::services::account::Targets) -> Self {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        TargetsForm {
            csrf: String::new(),
            first_response_minutes: t.first_response_minutes.to_string(),
            reply_minutes: opt(t.reply_minutes.map(i64::from)),
            resolution_hours: opt(t.resolution_hours.map(i64::from)),
            resolution_rate_percent: opt(t.resolution_rate_percent.map(i64::from)),
            csat_percent: opt(t.csat_percent.map(i64::from)),
            nps: opt(t.nps.map(i64::from)),
            opt_in_percent: opt(t.opt_in_percent.map(i64::from)),
        }
    }

    /// The settings patch: each optional target a whole number, or none when left empty.
    fn patch(&self) -> Result<Value, Problem> {
        let first = self
            .first_response_minutes
            .trim()
            .parse::<u32>()
            .map_err(|_| Problem::invalid("the first-response target is a whole number of minutes, 1 to 1440"))?;
        let mut targets = json!({ "first_response_minutes": first });
        for (key, typed) in [
            ("reply_minutes", &self.reply_minutes),
            ("resolution_hours", &self.resolution_hours),
            ("resolution_rate_percent", &self.resolution_rate_percent),
            ("csat_percent", &self.csat_percent),
            ("nps", &self.nps),
            ("opt_in_percent", &self.opt_in_percent),
        ] {
            let t = typed.trim();
            targets[key] = if t.is_empty() {
                Value::Null
            } else {
                json!(
                    t.parse::<i64>()
                        .map_err(|_| Problem::invalid(format!("{key} is a whole number, or empty for no target")))?
                )
            };
        }
        Ok(json!({ "targets": targets }))
    }
}

pub(crate) async fn account_view(s: &AppState, ui: &UiUser) -> Result<AccountPage, Problem> {
    let settings = s.services.account_settings(ui.user.account_id).await?;
    Ok(AccountPage {
        chrome: chrome(s, ui),
        quiet_hours: settings.own_quiet_hours().map(|q| q.to_string()).unwrap_or_default(),
        default_quiet_hours: s.services.timing.quiet.to_string(),
        error: None,
        targets: TargetsForm::of(&settings.targets),
        target_error: None,
        video_link: settings.escalation.video_link.clone(),
        video_error: None,
        inbound_email_url: format!(
            "{}{}",
            s.config.public_url.trim_end_matches('/'),
            s.services.inbound_email_path(ui.user.account_id).await?
        ),
        time_zone: settings.own_time_zone().unwrap_or_default().to_owned(),
        default_time_zone: s.config.time_zone.clone(),
        zone_error: None,
        routing: RoutingForm::of(&settings.routing),
        routing_error: None,
        saved: String::new(),
    })
}

pub(crate) async fn account_page(State(s): State<AppState>, ui: UiUser, Query(q): Query<AccountQuery>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    let page = account_view(&s, &ui).await.map(|mut p| {
        p.saved = q
            .saved
            .filter(|s| matches!(s.as_str(), "quiet-hours" | "targets" | "video" | "time-zone" | "routing"))
            .unwrap_or_default();
        p
    });
    page_or_problem(StatusCode::OK, page)
}

/// Saves one section of the account page: the admin's patch, then back to the section; a refusal shows the page
/// again with the section's fields as typed and the reason beside them.
async fn save_section(
    s: &AppState,
    ui: &UiUser,
    section: &str,
    patch: Result<Value, Problem>,
    keep: impl FnOnce(&mut AccountPage, String),
) -> Response {
    if let Some(r) = admin_only(ui) {
        return r;
    }
    let saved = match patch {
        Ok(patch) => s.services.patch_account_settings(&ui.user, &patch).await.map_err(Problem::from),
        Err(p) => Err(p),
    };
    match saved {
        Ok(_) => Redirect::to(&format!("/settings/account?saved={section}#{section}")).into_response(),
        Err(p) => {
            let page = account_view(s, ui).await.map(|mut page| {
                keep(&mut page, p.detail);
                page
            });
            page_or_problem(p.status, page)
        }
    }
}

/// Empty goes back to the default: the field's value, or null.
fn typed_or_null(typed: &str) -> Value {
    let typed = typed.trim();
    if typed.is_empty() { Value::Null } else { Value::String(typed.to_owned()) }
}

/// Empty goes back to the server's window; anything else must read as one.
pub(crate) async fn save_quiet_hours(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<QuietHoursForm>) -> Response {
    let patch = Ok(json!({ "quiet_hours": typed_or_null(&f.quiet_hours) }));
    save_section(&s, &ui, "quiet-hours", patch, |page, why| {
        page.quiet_hours = f.quiet_hours;
        page.error = Some(why);
    })
    .await
}

/// The business's clock; empty goes back to the server's zone.
pub(crate) async fn save_time_zone(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<TimeZoneForm>) -> Response {
    let patch = Ok(json!({ "time_zone": typed_or_null(&f.time_zone) }));
    save_section(&s, &ui, "time-zone", patch, |page, why| {
        page.time_zone = f.time_zone;
        page.zone_error = Some(why);
    })
    .await
}

/// The KPI targets: the first response the inbox's waiting badges are measured against, and the reports' others.
pub(crate) async fn save_targets(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<TargetsForm>) -> Response {
    let patch = f.patch();
    save_section(&s, &ui, "targets", patch, |page, why| {
        page.targets = f;
        page.target_error = Some(why);
    })
    .await
}

/// The meeting link a video escalation texts; empty goes back to the default (a Jitsi room).
pub(crate) async fn save_video(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<VideoForm>) -> Response {
    let patch = Ok(json!({ "escalation": { "video_link": typed_or_null(&f.video_link) } }));
    save_section(&s, &ui, "video", patch, |page, why| {
        page.video_link = f.video_link;
        page.video_error = Some(why);
    })
    .await
}

/// How conversations find their person: a reply takes it, the sticky agent's window, when an agent counts as
/// away, and when an absent agent's waiting customers go back to the team.
pub(crate) async fn save_routing(State(s): State<AppState>, CsrfForm(ui, f): CsrfForm<RoutingForm>) -> Response {
    let patch = f.patch();
    save_section(&s, &ui, "routing", patch, |page, why| {
        page.routing = f;
        page.routing_error = Some(why);
    })
    .await
}
