//! A web chat inbox's widget as its settings page shows it: the tag to paste
//! into the site, the look, the allowed sites, the away message and the SMS
//! inbox to continue through; and the "text us" page's link for inboxes that
//! have one. (Saving it is `widget_form`.)

use serde::Deserialize;
use serde_json::Value;
use textdesk_channels::provider::StoredSetup;
use textdesk_channels::webchat::{KEY, WidgetSettings};
use textdesk_core::Medium;
use textdesk_store::Inbox;

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
