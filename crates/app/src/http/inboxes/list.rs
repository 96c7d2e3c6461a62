//! The inbox list and the add-inbox forms, one per provider, made from each
//! provider's setup description (`textdesk_channels::registry`), and what an
//! inbox's page shows of its provider (webhook addresses, link state). A
//! refused form comes back with the reason and what was typed, never a secret.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use textdesk_channels::provider::{FieldKind, SetupField};
use textdesk_channels::{Provider, registry};
use textdesk_store::Inbox;

use crate::http::extract::CsrfForm;
use crate::http::extract::UiUser;
use crate::http::layout::{Chrome, admin_only, chrome, page_or_problem};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::channels;
use crate::services::channels::{Door, NewChannel};
use crate::services::error::ServiceError;

/// The provider's name for people, or its key when this build lacks it.
pub fn provider_label(inbox: &Inbox) -> String {
    registry::find(&inbox.provider).map_or_else(|| inbox.provider.clone(), |p| p.label().to_owned())
}

pub struct InboxRow {
    id: i64,
    name: String,
    kind: String,
    sender: String,
    link_state: Option<String>,
}

/// One input of a provider's form.
pub struct FieldView {
    name: &'static str,
    label: &'static str,
    help: &'static str,
    /// text, password, or checkbox.
    input: &'static str,
    inputmode: &'static str,
    required: bool,
    placeholder: &'static str,
    /// As typed (never for a secret).
    value: String,
    checked: bool,
}

impl FieldView {
    fn of(f: &SetupField, typed: Option<&str>) -> FieldView {
        let value = if f.secret { String::new() } else { typed.unwrap_or_default().to_owned() };
        let (input, inputmode) = match (f.secret, f.kind) {
            (true, _) => ("password", "text"),
            (false, FieldKind::Flag) => ("checkbox", "text"),
            (false, FieldKind::Whole { .. }) => ("text", "numeric"),
            (false, FieldKind::Decimal) => ("text", "decimal"),
            (false, FieldKind::Text) => ("text", "text"),
        };
        FieldView {
            name: f.name,
            label: f.label,
            help: f.help,
            input,
            inputmode,
            required: f.required,
            placeholder: f.default.unwrap_or_default(),
            checked: f.kind == FieldKind::Flag && f.read_text(&value) == Ok(Some(serde_json::Value::Bool(true))),
            value,
        }
    }
}

/// A provider's add form, blank or as typed.
pub struct ProviderForm {
    key: &'static str,
    label: &'static str,
    blurb: &'static str,
    /// Whether it has credentials to check.
    checkable: bool,
    name: String,
    sender: String,
    check: bool,
    fields: Vec<FieldView>,
    advanced: Vec<FieldView>,
    error: Option<String>,
    open: bool,
}

impl ProviderForm {
    fn new(p: &dyn Provider, typed: Option<&[(String, String)]>) -> ProviderForm {
        let get = |name: &str| typed.and_then(|t| t.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()));
        let views = |advanced: bool| {
            p.setup().iter().filter(|f| f.advanced == advanced).map(|f| FieldView::of(f, get(f.name))).collect()
        };
        ProviderForm {
            key: p.key(),
            label: p.label(),
            blurb: p.blurb(),
            checkable: !p.setup().is_empty(),
            name: get("name").unwrap_or_default().to_owned(),
            sender: get("sender").unwrap_or_default().to_owned(),
            check: typed.is_none() || get("check").is_some(),
            fields: views(false),
            advanced: views(true),
            error: None,
            open: false,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings_inboxes.html")]
pub(crate) struct InboxesPage {
    chrome: Chrome,
    rows: Vec<InboxRow>,
    providers: Vec<ProviderForm>,
}

pub(crate) async fn inboxes_view(s: &AppState, ui: &UiUser) -> Result<InboxesPage, Problem> {
    let rows: Vec<InboxRow> = s
        .services
        .inboxes(ui.user.account_id)
        .await?
        .into_iter()
        .map(|i| InboxRow {
            id: i.id,
            kind: provider_label(&i),
            link_state: s.services.link_state(&i),
            name: i.name,
            sender: i.sender,
        })
        .collect();
    let mut providers: Vec<ProviderForm> = registry::all().iter().map(|p| ProviderForm::new(*p, None)).collect();
    // A first inbox: the quickest one to try is open.
    if let Some(first) = providers.first_mut() {
        first.open = rows.is_empty();
    }
    Ok(InboxesPage { chrome: chrome(s, ui), rows, providers })
}

pub async fn inboxes_page(State(s): State<AppState>, ui: UiUser) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    page_or_problem(StatusCode::OK, inboxes_view(&s, &ui).await)
}

pub(crate) fn typed<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

pub(crate) async fn add(s: &AppState, ui: &UiUser, form: &[(String, String)]) -> Result<Inbox, (StatusCode, String)> {
    let fail = |e: ServiceError| {
        let credentials = matches!(e, ServiceError::Credentials(_));
        let p = Problem::from(e);
        (p.status, if credentials { format!("Not saved: {}", p.detail) } else { p.detail })
    };
    let provider = channels::provider(typed(form, "kind").unwrap_or_default()).map_err(fail)?;
    let setup =
        channels::read_text_setup(provider, Door::Form, |f| typed(form, f.name).map(str::to_owned)).map_err(fail)?;
    let new = NewChannel {
        name: typed(form, "name").unwrap_or_default().to_owned(),
        sender: typed(form, "sender").unwrap_or_default().to_owned(),
        provider,
        medium: None,
        setup,
        check: typed(form, "check").is_some(),
    };
    s.services.add_inbox(ui.user.account_id, new).await.map_err(fail)
}

pub async fn add_inbox(State(s): State<AppState>, CsrfForm(ui, form): CsrfForm<Vec<(String, String)>>) -> Response {
    if let Some(r) = admin_only(&ui) {
        return r;
    }
    match add(&s, &ui, &form).await {
        Ok(inbox) => Redirect::to(&format!("/settings/inboxes/{}", inbox.id)).into_response(),
        Err((status, detail)) => {
            let kind = typed(&form, "kind").unwrap_or_default();
            let page = inboxes_view(&s, &ui).await.map(|mut page| {
                match page.providers.iter_mut().find(|p| p.key == kind) {
                    Some(slot) => {
                        let provider = registry::find(kind).map(|p| ProviderForm::new(p, Some(&form)));
                        if let Some(again) = provider {
                            *slot = again;
                        }
                        slot.error = Some(detail);
                        slot.open = true;
                    }
                    // No such provider: said on the first form.
                    None => {
                        if let Some(first) = page.providers.first_mut() {
                            first.error = Some(detail);
                            first.open = true;
                        }
                    }
                }
                page
            });
            page_or_problem(status, page)
        }
    }
}

/// A webhook address as the inbox page shows it.
pub struct WebhookView {
    /// The input's id (`inbound-url`).
    pub id: String,
    pub label: &'static str,
    pub about: &'static str,
    pub url: String,
}

/// What the inbox page shows of the provider: its name, where it connects,
/// the addresses to paste, and a kept connection's state.
pub struct ProviderView {
    /// Its key (`whatsapp`): the page words a provider's console its own way.
    pub key: String,
    /// It holds message templates an admin syncs (WhatsApp's).
    pub has_templates: bool,
    /// textdesk tells the provider its webhook address (Telegram, LINE).
    pub registers_webhook: bool,
    /// Where to paste the addresses in the provider's console.
    pub webhook_help: &'static str,
    pub label: String,
    pub summary: Option<String>,
    pub webhooks: Vec<WebhookView>,
    pub link_state: Option<String>,
}

impl ProviderView {
    pub fn of(s: &AppState, inbox: &Inbox) -> ProviderView {
        ProviderView {
            key: inbox.provider.clone(),
            has_templates: registry::find(&inbox.provider).is_some_and(|p| p.has_templates()),
            registers_webhook: registry::find(&inbox.provider).is_some_and(|p| p.registers_webhook()),
            webhook_help: s.services.webhook_help(inbox),
            label: provider_label(inbox),
            summary: s.services.provider_summary(inbox),
            webhooks: s
                .services
                .webhook_urls(inbox)
                .into_iter()
                .map(|(h, url)| WebhookView { id: format!("{}-url", h.name), label: h.label, about: h.about, url })
                .collect(),
            link_state: s.services.link_state(inbox),
        }
    }
}
