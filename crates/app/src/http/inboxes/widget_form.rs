//! A web chat inbox's widget on its settings page: the tag to paste into the
//! site, the look, the allowed sites, the away message and the SMS inbox to
//! continue through; and the "text us" page's link for inboxes that have one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use textdesk_channels::provider::StoredSetup;
use textdesk_channels::webchat::{KEY, WidgetSettings};
use textdesk_core::Medium;
use textdesk_store::Inbox;

use crate::http::extract::{CsrfForm, Path};
use crate::http::inboxes::settings::{InboxQuery, inbox_view};
use crate::http::layout::{admin_only, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;

/// The widget's section of the settings page, as stored or as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WidgetForm {
    pub(crate) greeting: String,
    pub(crate) allowed_sites: String,
    pub(crate) colour: String,
    pub(crate) position: String,
    pub(crate) away_message: String,
    pub(crate) sms_inbox: String,
    /// Filled in by the page, not the form: the tag to paste, and the SMS inboxes to pick from.
    #[serde(skip)]
    pub(crate) snippet: String,
    #[serde(skip)]
    pub(crate) sms_choices: Vec<(i64, String)>,
}

/// The widget's section for a web chat inbox; None for any other.
pub(crate) async fn view(s: &AppState, inbox: &Inbox) -> Result<Option<WidgetForm>, Problem> {
    if inbox.provider != KEY {
        return Ok(None);
    }
    // Checked when saved; a hand-edited row that no longer reads shows the defaults.
    let w = WidgetSettings::of(&StoredSetup::of(KEY, &inbox.settings, &Value::Null)).unwrap_or_else(|_| defaults());
    let sites: Vec<&str> = w.allowed_sites.iter().map(|o| o.as_str()).collect();
    let mut form = WidgetForm {
        greeting: w.greeting,
        allowed_sites: sites.join(" "),
        colour: w.colour.as_str().to_owned(),
        position: w.position.as_str().to_owned(),
        away_message: w.away_message,
        sms_inbox: w.sms_inbox.map(|i| i.to_string()).unwrap_or_default(),
        ..WidgetForm::default()
    };
    fill(s, inbox, &mut form).await?;
    Ok(Some(form))
}

fn defaults() -> WidgetSettings {
    WidgetSettings {
        greeting: textdesk_channels::webchat::DEFAULT_GREETING.into(),
        allowed_sites: Default::default(),
        colour: Default::default(),
        position: Default::default(),
        away_message: textdesk_channels::webchat::DEFAULT_AWAY.into(),
        sms_inbox: None,
    }
}

async fn fill(s: &AppState, inbox: &Inbox, form: &mut WidgetForm) -> Result<(), Problem> {
    form.snippet = format!("<script src=\"{}/widget/{}.js\" async></script>", s.config.public_url, inbox.id);
    form.sms_choices = s
        .services
        .inboxes(inbox.account_id)
        .await?
        .into_iter()
        .filter(|i| i.medium == Medium::Sms)
        .map(|i| (i.id, format!("{} ({})", i.name, i.sender)))
        .collect();
    Ok(())
}

/// The "text us" page of an inbox, where it has one: an SMS inbox's, or a web
/// chat's that continues by text.
pub(crate) fn text_us_link(inbox: &Inbox, widget: Option<&WidgetForm>) -> Option<String> {
    let has = inbox.medium == Medium::Sms || widget.is_some_and(|w| !w.sms_inbox.is_empty());
    has.then(|| format!("/text-us/{}", inbox.id))
}

fn changes(f: &WidgetForm) -> Result<Map<String, Value>, String> {
    let mut w = Map::new();
    for (k, v) in [
        ("greeting", &f.greeting),
        ("allowed_sites", &f.allowed_sites),
        ("colour", &f.colour),
        ("position", &f.position),
        ("away_message", &f.away_message),
    ] {
        if !v.trim().is_empty() {
            w.insert(k.into(), json!(v.trim()));
        }
    }
    if !f.sms_inbox.trim().is_empty() {
        let id: i64 = f.sms_inbox.trim().parse().map_err(|_| "Continue by text: pick an SMS inbox".to_owned())?;
        w.insert("sms_inbox".into(), json!(id));
    }
    let mut out = Map::new();
    out.insert(KEY.into(), Value::Object(w));
    Ok(out)
}

pub(crate) async fn save_widget(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm(ui, f): CsrfForm<WidgetForm>,
) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    // Only a web chat inbox has a widget (any other, or another account's, is not found).
    match s.services.inbox(ui.user.account_id, id).await {
        Ok(inbox) if inbox.provider == KEY => {}
        Ok(_) => return Problem::not_found("web chat inbox").into_response(),
        Err(e) => return Problem::from(e).into_response(),
    }
    let saved = match changes(&f) {
        Ok(c) => s.services.update_inbox(&ui.user, id, None, Some(&c)).await.map_err(|e| {
            let p: Problem = e.into();
            (p.status, p.detail)
        }),
        Err(e) => Err((StatusCode::UNPROCESSABLE_ENTITY, e)),
    };
    match saved {
        Ok(_) => Redirect::to(&format!("/settings/inboxes/{id}?saved=widget#widget")).into_response(),
        Err((status, detail)) => {
            let page = match inbox_view(&s, &ui, id, None, InboxQuery::default()).await {
                Ok(mut page) => {
                    // The form as typed, with what was wrong.
                    if let Some(w) = page.widget.take() {
                        page.widget = Some(WidgetForm { snippet: w.snippet, sms_choices: w.sms_choices, ..f });
                    }
                    page.error = Some(("widget".into(), detail));
                    Ok(page)
                }
                Err(p) => Err(p),
            };
            page_or_problem(status, page)
        }
    }
}
