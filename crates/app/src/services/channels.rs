//! The providers behind inboxes, driven only through `textdesk_channels`'
//! `Provider` and `Channel` traits: adding an inbox (its setup read through
//! the provider's description, credentials checked, stored apart from
//! settings), each inbox's channel on this node (opened once from its stored
//! setup), the connections a server keeps (SMPP binds), and the addresses a
//! provider is told to call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use textdesk_channels::provider::{
    self, CheckFailure, Context, FieldProblem, SetupField, SetupValues, StoredSetup, Webhook,
};
use textdesk_channels::simulator::Carrier;
use textdesk_channels::{Accepted, Channel, Outgoing, Provider, SendError, registry};
use textdesk_core::{Address, Capabilities, Invalid, Medium};
use textdesk_store::{Inbox, NewInbox};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// Each inbox's open channel on this node, built on first use from the
/// inbox's stored setup (a Twilio client, an SMPP link once listening).
pub struct Channels {
    open: Mutex<HashMap<i64, Arc<dyn Channel>>>,
    /// Set by a server: only a server keeps connections (an operator's command does not).
    serving: AtomicBool,
    /// What providers may need from the process (the simulated carrier).
    resources: axum::http::Extensions,
}

impl Channels {
    pub fn new(carrier: Carrier) -> Self {
        let mut resources = axum::http::Extensions::new();
        resources.insert(carrier);
        Channels { open: Mutex::default(), serving: AtomicBool::new(false), resources }
    }

    pub fn start_serving(&self) {
        self.serving.store(true, Ordering::Relaxed);
    }

    fn cached(&self, inbox_id: i64) -> Option<Arc<dyn Channel>> {
        self.open.lock().ok().and_then(|m| m.get(&inbox_id).cloned())
    }
}

/// What an admin gives to add an inbox, from any of the three doors (the
/// settings form, `textdesk inbox add`, `POST /api/v1/inboxes`).
pub struct NewChannel {
    pub name: String,
    pub sender: String,
    pub provider: &'static dyn Provider,
    /// None: the provider's first medium.
    pub medium: Option<Medium>,
    /// Read with `read_text_setup` or `read_json_setup`.
    pub setup: SetupValues,
    /// Check the credentials with the provider before saving (`--no-check` turns it off).
    pub check: bool,
}

/// The provider named `key`, or a refusal listing the ones there are.
pub fn provider(key: &str) -> ServiceResult<&'static dyn Provider> {
    registry::find(key).ok_or_else(|| {
        ServiceError::Invalid(format!(
            "{key:?} is not a provider of this version: one of {}",
            registry::keys().join(", ")
        ))
    })
}

/// The medium an address belongs to, named as a medium (`telegram`) or as a
/// provider that carries it (`twilio`: SMS); none given is SMS.
pub fn medium_named(name: Option<&str>) -> Result<Medium, Invalid> {
    match name {
        None => Ok(Medium::Sms),
        Some(n) => match registry::find(n) {
            Some(p) => Ok(p.media()[0]),
            None => Medium::parse(n),
        },
    }
}

/// How a door names a field in its messages.
#[derive(Debug, Clone, Copy)]
pub enum Door {
    /// By its label.
    Form,
    /// By its flag, `--account-sid`.
    Cli,
    /// By its place in the JSON, `twilio.account_sid`.
    Api,
}

fn named(p: &dyn Provider, door: Door, problem: FieldProblem) -> ServiceError {
    let name = match door {
        Door::Form => problem.field.label.to_owned(),
        Door::Cli => format!("--{}", problem.field.flag_name()),
        Door::Api => format!("{}.{}", p.key(), problem.field.name),
    };
    ServiceError::Invalid(format!("{name}: {}", problem.problem))
}

/// A provider's setup from text (form fields, command-line flags): `get`
/// gives each field's raw text, if any.
pub fn read_text_setup(
    p: &'static dyn Provider,
    door: Door,
    mut get: impl FnMut(&SetupField) -> Option<String>,
) -> ServiceResult<SetupValues> {
    provider::read_setup(p.setup(), |f| get(f).map_or(Ok(None), |raw| f.read_text(&raw))).map_err(|e| named(p, door, e))
}

/// A provider's setup from a JSON object (the API): unknown keys are refused.
pub fn read_json_setup(p: &'static dyn Provider, given: &serde_json::Map<String, Value>) -> ServiceResult<SetupValues> {
    if let Some(unknown) = given.keys().find(|k| !p.setup().iter().any(|f| f.name == k.as_str())) {
        let names: Vec<&str> = p.setup().iter().map(|f| f.name).collect();
        return Err(ServiceError::Invalid(format!(
            "{}.{unknown} is not a setting of {}: it has {}",
            p.key(),
            p.label(),
            names.join(", ")
        )));
    }
    provider::read_setup(p.setup(), |f| given.get(f.name).map_or(Ok(None), |v| f.read_json(v)))
        .map_err(|e| named(p, Door::Api, e))
}

/// What a channel can do when its provider is not in this build: nothing
/// goes out through it anyway, and the medium's own rules still hold.
fn unknown_provider_capabilities(medium: Medium) -> Capabilities {
    Capabilities {
        media: false,
        max_chars: textdesk_core::Body::MAX_CHARS,
        reply_window: medium.reply_window(),
        human_agent_window: medium.human_agent_window(),
        delivery_receipts: false,
        read_receipts: false,
    }
}

impl Services {
    fn context(&self, inbox_id: i64) -> Context<'_> {
        Context {
            inbox_id,
            public_url: &self.public_url,
            resources: &self.channels.resources,
            media_policy: &self.media.fetch_policy,
        }
    }

    /// What an inbox's channel can do, for the gate and the composer.
    pub fn capabilities(&self, provider_key: &str, medium: Medium) -> Capabilities {
        match registry::find(provider_key) {
            Some(p) => p.capabilities(medium),
            None => unknown_provider_capabilities(medium),
        }
    }

    /// A conversation's inbox and what its channel can do.
    pub async fn conversation_channel(
        &self,
        account_id: i64,
        conversation_id: i64,
    ) -> ServiceResult<(Inbox, Capabilities)> {
        let conversation = self.store.conversation(account_id, conversation_id).await?;
        let inbox = self.store.inbox_by_id(conversation.inbox_id).await?;
        let capabilities = self.capabilities(&inbox.provider, inbox.medium);
        Ok((inbox, capabilities))
    }

    /// Adds an inbox: validated, its credentials checked with the provider
    /// (unless `check` is off), and stored. A provider that keeps a
    /// connection starts it at once on a server, and within seconds on every
    /// other (`ensure_links`).
    pub async fn add_inbox(&self, account_id: i64, new: NewChannel) -> ServiceResult<Inbox> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ServiceError::Invalid("an inbox name is 1 to 100 characters".into()));
        }
        let p = new.provider;
        let medium = new.medium.unwrap_or(p.media()[0]);
        if !p.media().contains(&medium) {
            let carried: Vec<&str> = p.media().iter().map(|m| m.as_str()).collect();
            return Err(ServiceError::Invalid(format!(
                "{} carries {} here, not {medium}",
                p.label(),
                carried.join(", ")
            )));
        }
        let stored = StoredSetup::split(p.setup(), new.setup);
        // A number typed as people write them ("(415) 555-0199"), in the
        // account's country; anything else (a sender name, a bot's id) goes
        // to the provider's own rule as typed.
        let region = if medium.uses_phone_numbers() { self.home_country(account_id, None).await? } else { None };
        let typed = Address::parse_in(medium, &new.sender, region.as_deref()).map(|a| a.value().to_owned());
        let sender =
            p.sender(&stored, medium, typed.as_deref().unwrap_or(&new.sender)).map_err(ServiceError::Invalid)?;
        let channel = p.open(&self.context(0), &stored).map_err(ServiceError::Invalid)?;
        if new.check {
            channel.check_credentials().await.map_err(|e| match e {
                CheckFailure::Rejected(words) | CheckFailure::Unreachable(words) => ServiceError::Credentials(words),
            })?;
        }
        let mut settings = serde_json::Map::new();
        if !stored.settings.is_empty() {
            settings.insert(p.key().to_owned(), Value::Object(stored.settings));
        }
        let inbox = self
            .store
            .create_inbox(NewInbox {
                account_id,
                name: name.into(),
                provider: p.key().to_owned(),
                medium,
                sender,
                settings: Value::Object(settings),
                secrets: Value::Object(stored.secrets),
            })
            .await?;
        self.ensure_inbox_builtins(&inbox).await?;
        if new.check && p.registers_webhook() {
            // The credentials were just confirmed, so this rarely fails; when it
            // does, the inbox stays and its settings page has "Register webhook".
            if let Err(e) = self.register_inbox_webhook(&inbox).await {
                tracing::warn!(inbox = inbox.id, provider = p.key(), error = %e, "the webhook could not be registered");
            }
        }
        if p.keeps_connection() {
            // Connect now on this server; other nodes (and a server, after the CLI) follow within seconds.
            self.ensure_links().await?;
        }
        Ok(inbox)
    }

    /// "Register webhook" (admins), from the settings page or the API: tells
    /// the inbox's provider where to post, for providers that take the
    /// address from us; for the others, says what to paste where.
    pub async fn register_webhook(
        &self,
        user: &textdesk_store::User,
        inbox_id: i64,
    ) -> ServiceResult<WebhookRegistration> {
        if !user.role.at_least(textdesk_core::Role::Admin) {
            return Err(ServiceError::forbidden("only an admin can register an inbox's webhook"));
        }
        let inbox = self.store.inbox(user.account_id, inbox_id).await?;
        let p = provider(&inbox.provider)?;
        if p.registers_webhook() {
            self.register_inbox_webhook(&inbox).await?;
        }
        Ok(WebhookRegistration {
            registered: p.registers_webhook(),
            provider: p.label(),
            webhooks: self.webhook_urls(&inbox),
            instructions: self.webhook_help(&inbox),
        })
    }

    /// Where an inbox's webhook addresses go, in words.
    pub fn webhook_help(&self, inbox: &Inbox) -> &'static str {
        match registry::find(&inbox.provider) {
            Some(p) if p.webhooks().is_empty() => {
                "This inbox receives without a webhook: there is nothing to paste into a provider's console."
            }
            Some(p) => p.webhook_help().unwrap_or(
                "Paste these addresses into the provider's console where it asks where to post incoming messages.",
            ),
            None => "This inbox's provider is not known to this version of textdesk.",
        }
    }

    /// Tells the inbox's provider where to post (Telegram's `setWebhook` with
    /// the inbox's secret, LINE's endpoint).
    async fn register_inbox_webhook(&self, inbox: &Inbox) -> ServiceResult<()> {
        let p = provider(&inbox.provider)?;
        if !p.registers_webhook() {
            return Err(ServiceError::Invalid(format!(
                "{} inboxes take their webhook address in the provider's console",
                p.label()
            )));
        }
        let channel = self.channel(inbox).await?;
        channel.register_webhook().await.map_err(|e| match e {
            CheckFailure::Rejected(words) | CheckFailure::Unreachable(words) => ServiceError::Credentials(words),
        })
    }

    /// The inbox's channel on this node, opened once from its stored setup.
    pub async fn channel(&self, inbox: &Inbox) -> ServiceResult<Arc<dyn Channel>> {
        if let Some(c) = self.channels.cached(inbox.id) {
            return Ok(c);
        }
        let p = provider(&inbox.provider)?;
        let secrets = self.store.inbox_secrets(inbox.id).await?;
        let stored = StoredSetup::of(p.key(), &inbox.settings, &secrets);
        let opened = p.open(&self.context(inbox.id), &stored).map_err(ServiceError::Invalid)?;
        let mut open =
            self.channels.open.lock().map_err(|_| ServiceError::Invalid("the channel cache is poisoned".into()))?;
        // Another task may have opened it meanwhile: keep one, so a kept connection is started once.
        Ok(open.entry(inbox.id).or_insert(opened).clone())
    }

    /// Where the provider's settings for an inbox connect to, in a few words.
    pub fn provider_summary(&self, inbox: &Inbox) -> Option<String> {
        let p = registry::find(&inbox.provider)?;
        p.summary(&StoredSetup::of(p.key(), &inbox.settings, &Value::Null))
    }

    /// Starts the kept connection of every inbox whose provider keeps one and
    /// that has none on this node: at start, and then periodically, so an
    /// inbox added by the CLI or another node connects here too.
    pub async fn ensure_links(&self) -> ServiceResult<()> {
        if !self.channels.serving.load(Ordering::Relaxed) {
            return Ok(());
        }
        for p in registry::all().iter().filter(|p| p.keeps_connection()) {
            for inbox in self.store.inboxes_of_provider(p.key()).await? {
                if let Err(e) = self.start_link(&inbox).await {
                    tracing::error!(inbox = inbox.id, provider = p.key(), error = %e, "the link could not start");
                }
            }
        }
        Ok(())
    }

    /// Opens the inbox's channel and, if it was not yet listening, feeds
    /// what arrives on its connection (messages, receipts) into ingest for as
    /// long as the connection lives.
    async fn start_link(&self, inbox: &Inbox) -> ServiceResult<()> {
        let channel = self.channel(inbox).await?;
        let Some(mut events) = channel.listen().map_err(ServiceError::Invalid)? else { return Ok(()) };
        let services = self.clone();
        let inbox_id = inbox.id;
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let Err(e) = services.ingest(inbox_id, event).await {
                    tracing::error!(inbox = inbox_id, error = %e, "could not record what the provider delivered");
                }
            }
        });
        Ok(())
    }

    /// The state of an inbox's kept connection on this node (`bound`, `down`…),
    /// for a provider that keeps one; `stopped` when it has not started here.
    pub fn link_state(&self, inbox: &Inbox) -> Option<String> {
        registry::find(&inbox.provider).filter(|p| p.keeps_connection())?;
        let state = self.channels.cached(inbox.id).and_then(|c| c.link()).map(|(s, _)| s);
        Some(state.unwrap_or_else(|| "stopped".into()))
    }

    /// Every kept connection on this node: (inbox, state, up), for `/metrics`.
    pub fn link_states(&self) -> Vec<(i64, String, bool)> {
        let mut states: Vec<_> = match self.channels.open.lock() {
            Ok(m) => m.iter().filter_map(|(id, c)| c.link().map(|(s, up)| (*id, s, up))).collect(),
            Err(_) => Vec::new(),
        };
        states.sort_by_key(|(id, _, _)| *id);
        states
    }

    /// Hands one message to the inbox's provider.
    pub(crate) async fn provider_send(&self, inbox_id: i64, msg: Outgoing) -> Result<Accepted, SendError> {
        let channel = match self.channels.cached(inbox_id) {
            Some(c) => c,
            None => {
                let inbox = self.store.inbox_by_id(inbox_id).await.map_err(|e| SendError::Retryable(e.to_string()))?;
                self.channel(&inbox).await.map_err(|e| match e {
                    // The database may be back in a moment; a broken inbox will not.
                    ServiceError::Store(_) => SendError::Retryable(e.to_string()),
                    _ => SendError::Permanent(e.to_string()),
                })?
            }
        };
        channel.send(&msg).await
    }

    /// The addresses to paste into the provider's console, with their labels.
    pub fn webhook_urls(&self, inbox: &Inbox) -> Vec<(&'static Webhook, String)> {
        let Some(p) = registry::find(&inbox.provider) else { return Vec::new() };
        p.webhooks().iter().map(|h| (h, provider::webhook_url(&self.public_url, p.key(), inbox.id, h))).collect()
    }

    /// One of an inbox's webhook addresses by name (`inbound`, `status`).
    pub fn webhook_url(&self, inbox: &Inbox, name: &str) -> Option<String> {
        self.webhook_urls(inbox).into_iter().find(|(h, _)| h.name == name).map(|(_, url)| url)
    }
}

/// What registering an inbox's webhook did.
#[derive(Debug)]
pub struct WebhookRegistration {
    /// textdesk told the provider itself (Telegram, LINE); false: an admin pastes the addresses.
    pub registered: bool,
    /// The provider's name for people.
    pub provider: &'static str,
    /// The inbox's addresses, each with the label the provider's console gives it.
    pub webhooks: Vec<(&'static Webhook, String)>,
    /// Where they go in the provider's console, in words.
    pub instructions: &'static str,
}
