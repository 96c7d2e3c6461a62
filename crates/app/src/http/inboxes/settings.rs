//! An inbox's settings page (Settings → Inboxes → one): provider, hours,
//! away message, consent words, each section saved on its own.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use textdesk_core::consent::Keywords;
use textdesk_core::hours::HoursSettings;
use textdesk_core::{Address, Body};
use textdesk_store::{Inbox, User};

use crate::http::extract::CsrfForm;
use crate::http::extract::{Path, Query, UiUser};
use crate::http::inboxes::hours_form::{DAYS, DayRow, day_text};
use crate::http::inboxes::list::ProviderView;
use crate::http::inboxes::survey_form::SurveyFields;
use crate::http::layout::{Chrome, admin_only, chrome, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::consent::ConsentSettings;
use crate::services::conversations::Draft;
use crate::services::error::ServiceError;

pub(crate) fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

pub(crate) fn number<T: std::str::FromStr>(field: &str, text: &str, what: &str) -> Result<Option<T>, String> {
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
    pub(crate) csrf: String,
    // name
    pub(crate) name: String,
    // hours
    pub(crate) always_open: Option<String>,
    pub(crate) zone: String,
    pub(crate) mon: String,
    pub(crate) tue: String,
    pub(crate) wed: String,
    pub(crate) thu: String,
    pub(crate) fri: String,
    pub(crate) sat: String,
    pub(crate) sun: String,
    pub(crate) holidays: String,
    /// The days' time pickers (`mon_open`, `mon_close`, `mon_closed`…), read by `read_pickers`.
    #[serde(flatten)]
    pub(crate) pickers: HashMap<String, String>,
    // replies
    pub(crate) off_enabled: Option<String>,
    pub(crate) off_text: String,
    pub(crate) ack_minutes: String,
    pub(crate) ack_text: String,
    // consent
    pub(crate) opt_out: String,
    pub(crate) opt_in: String,
    pub(crate) join: String,
    pub(crate) help: String,
    pub(crate) opt_out_reply: String,
    pub(crate) opt_in_reply: String,
    pub(crate) join_reply: String,
    pub(crate) help_reply: String,
    pub(crate) double_opt_in: Option<String>,
    pub(crate) confirm_request: String,
    pub(crate) scope: String,
    // survey
    #[serde(flatten)]
    pub(crate) survey: SurveyFields,
    // sending
    pub(crate) rate: String,
    pub(crate) price: String,
    pub(crate) currency: String,
    // test
    pub(crate) to: String,
    pub(crate) body: String,
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

pub(crate) fn words(list: &[String]) -> String {
    list.join(", ")
}

pub(crate) fn split_words(text: &str) -> Vec<String> {
    text.split([',', '\n']).map(str::trim).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// The forms as the inbox's settings stand.
pub(crate) async fn stored_form(s: &AppState, inbox: &Inbox) -> Result<SectionForm, Problem> {
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
    f.scope = s.services.inbox_shared_scope(inbox).await?.unwrap_or_default();
    f.rate = set["rate_limit"]["segments_per_second"].as_f64().map(|r| r.to_string()).unwrap_or_default();
    f.price = set["price_per_segment"].as_f64().map(|p| p.to_string()).unwrap_or_default();
    f.currency = set["currency"].as_str().unwrap_or_default().to_owned();
    f.survey = SurveyFields::of(inbox);
    Ok(f)
}

/// The default replies, shown as placeholders: what is sent when a box is left empty.
pub struct Defaults {
    pub(crate) opt_out_reply: String,
    pub(crate) opt_in_reply: String,
    pub(crate) join_reply: String,
    pub(crate) help_reply: String,
    pub(crate) confirm_request: String,
    pub(crate) off_text: &'static str,
    pub(crate) ack_text: &'static str,
    pub(crate) zone: String,
    pub(crate) keywords: Keywords,
}

/// How the last test message is doing.
pub struct TestResult {
    pub(crate) message_id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) to: String,
    pub(crate) status: &'static str,
    pub(crate) error: Option<String>,
    pub(crate) send_at: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_inbox.html")]
pub(crate) struct InboxPage {
    pub(crate) chrome: Chrome,
    pub(crate) id: i64,
    pub(crate) title: String,
    pub(crate) provider: ProviderView,
    pub(crate) sender: String,
    pub(crate) form: SectionForm,
    pub(crate) days: Vec<DayRow>,
    pub(crate) defaults: Defaults,
    /// The section that failed, and why.
    pub(crate) error: Option<(String, String)>,
    /// The section just saved.
    pub(crate) saved: Option<String>,
    pub(crate) test: Option<TestResult>,
    /// The time-zone picker's choices, the business's first.
    pub(crate) zones: Vec<String>,
    /// The away message as it would go out now.
    pub(crate) away: crate::http::setup::AwayView,
    /// The provider's templates as last synced, for a provider that has them.
    pub(crate) templates: Option<Vec<crate::http::template_views::TemplateRow>>,
    /// A web chat inbox's widget settings and the tag to paste.
    pub(crate) widget: Option<crate::http::inboxes::widget_view::WidgetForm>,
    /// The inbox's printable "text us" page, where it has one.
    pub(crate) text_us: Option<String>,
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
pub(crate) struct InboxQuery {
    pub(crate) saved: Option<String>,
    pub(crate) test: Option<i64>,
}

pub(crate) async fn inbox_view(
    s: &AppState,
    ui: &UiUser,
    id: i64,
    typed: Option<(SectionForm, String, String)>,
    q: InboxQuery,
) -> Result<InboxPage, Problem> {
    let inbox = s.services.inbox(ui.user.account_id, id).await?;
    let stored = stored_form(s, &inbox).await?;
    let (form, error) = match typed {
        Some((typed, section, error)) => (merge_section(stored, typed, &section), Some((section, error))),
        None => (stored, None),
    };
    let business = s.services.business_name_of(ui.user.account_id).await?;
    let policy = ConsentSettings::default().policy(&business)?;
    let defaults = Defaults {
        opt_out_reply: policy.opt_out_reply.as_str().to_owned(),
        opt_in_reply: policy.opt_in_reply.as_str().to_owned(),
        join_reply: policy.join_reply.as_str().to_owned(),
        help_reply: policy.help_reply.as_str().to_owned(),
        confirm_request: policy.confirm_request.as_str().to_owned(),
        off_text: crate::services::hours::DEFAULT_OFF_HOURS,
        ack_text: crate::services::hours::DEFAULT_ACKNOWLEDGE,
        zone: ui.zone_name(),
        keywords: Keywords::default(),
    };
    let test = match q.test {
        Some(mid) => match s.services.message(ui.user.account_id, mid).await {
            Ok(m) if m.inbox_id == inbox.id => {
                let to = s
                    .services
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
                    send_at: m.send_at.map(|t| t.to_zoned(ui.zone.clone()).strftime("%b %-d, %-I:%M %p").to_string()),
                })
            }
            _ => None,
        },
        None => None,
    };
    let away = crate::http::setup::away_view(s, &inbox, &form.off_text).await;
    let provider = ProviderView::of(s, &inbox);
    let templates = if provider.has_templates {
        Some(crate::http::template_views::rows(s, ui.user.account_id, inbox.id).await?)
    } else {
        None
    };
    let widget = crate::http::inboxes::widget_view::view(s, &inbox).await?;
    let text_us = crate::http::inboxes::widget_view::text_us_link(&inbox, widget.as_ref());
    Ok(InboxPage {
        widget,
        text_us,
        chrome: chrome(s, ui),
        id: inbox.id,
        title: inbox.name.clone(),
        provider,
        templates,
        sender: inbox.sender,
        days: form.days(),
        zones: crate::http::inboxes::hours_form::zone_choices(&defaults.zone),
        away,
        form,
        defaults,
        error,
        saved: q.saved,
        test,
    })
}

/// The stored forms, with the failed section as it was typed.
pub(crate) fn merge_section(mut stored: SectionForm, typed: SectionForm, section: &str) -> SectionForm {
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
        "survey" => stored.survey = typed.survey,
        "test" => {
            stored.to = typed.to;
            stored.body = typed.body;
        }
        _ => {}
    }
    stored
}

pub(crate) async fn inbox_page(
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

pub(crate) fn text_or_absent(map: &mut Map<String, Value>, key: &str, text: &str) {
    if let Some(t) = opt(text) {
        map.insert(key.into(), json!(t));
    }
}

/// The settings change a section's form asks for.
pub(crate) fn section_changes(section: &str, f: &SectionForm) -> Result<Map<String, Value>, String> {
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
        "survey" => return f.survey.changes(),
        _ => {}
    }
    Ok(changes)
}

/// Where a section's save went.
pub(crate) enum Saved {
    Section,
    Test(i64),
}

pub(crate) async fn save(
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
        "hours" | "replies" | "consent" | "sending" | "survey" => {
            let changes = section_changes(section, f).map_err(invalid)?;
            if section == "consent" {
                let scope = opt(&f.scope);
                s.services.set_consent_scope(user, id, scope.as_deref()).await.map_err(|e| problem(e.into()))?;
            }
            s.services.update_inbox(user, id, None, Some(&changes)).await.map_err(|e| problem(e.into()))?;
        }
        "test" => {
            let inbox = s.services.inbox(user.account_id, id).await.map_err(|e| problem(e.into()))?;
            // Typed as people write numbers, in the inbox's own country unless it says another.
            let region = s.services.home_country(user.account_id, Some(&inbox)).await.map_err(|e| problem(e.into()))?;
            let to = Address::parse_in(inbox.medium, &f.to, region.as_deref())
                .map_err(|e| invalid(format!("To: {}", e.0)))?;
            let body = Body::parse(&f.body).map_err(|e| invalid(format!("Text: {}", e.0)))?;
            let conversation = s.services.conversation_with(user, id, &to).await.map_err(|e| problem(e.into()))?;
            let m = s.services.send(user, conversation, Draft::reply(body)).await.map_err(|e| match e {
                ServiceError::Blocked(reason) => (StatusCode::CONFLICT, format!("Not sent: {}", reason.explain())),
                other => problem(other.into()),
            })?;
            return Ok(Saved::Test(m.id));
        }
        _ => return Err((StatusCode::NOT_FOUND, "no such settings section".into())),
    }
    Ok(Saved::Section)
}

pub(crate) async fn save_inbox_section(
    State(s): State<AppState>,
    Path((id, section)): Path<(i64, String)>,
    CsrfForm(ui, mut f): CsrfForm<SectionForm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
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
