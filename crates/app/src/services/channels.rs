//! The providers behind inboxes, driven only through `textdesk_channels`'
//! `Provider` and `Channel` traits: adding an inbox (its setup read through
//! the provider's description, credentials checked, stored apart from
//! settings), each inbox's channel on this node (opened once from its stored
//! setup), the connections a server keeps (SMPP binds), and the addresses a
//! provider is told to call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use textdesk_channels::provider::{
    self, CheckFailure, Context, FieldProblem, SetupField, SetupValues, StoredSetup, Webhook,
};
use textdesk_channels::simulator::Carrier;
use textdesk_channels::{Accepted, Channel, Outgoing, Provider, SendError, registry};
use textdesk_core::{Address, Capabilities, Invalid, Medium};
use textdesk_store::{Conversation, Inbox, NewInbox};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// Each inbox's open channel on this node, built on first use from the
/// inbox's stored setup (a Twilio client, an SMPP link once listening), and
/// the inbox itself as last read: a webhook reads neither from the database.
/// When the inbox changes on any node (`forget`, told by the event log's
/// `InboxChanged`) the inbox is dropped and its channel is checked against
/// the setup stored now before its next use: kept if the setup is the same
/// (a channel holds state worth keeping: LINE's reply tokens, WeChat's access
/// token), opened again if not. A channel that holds a kept connection stays,
/// as its connection cannot change in place.
pub struct Channels {
    open: Mutex<HashMap<i64, Kept>>,
    inboxes: Mutex<HashMap<i64, Arc<Inbox>>>,
    /// Each account's business name (accounts are never renamed).
    businesses: Mutex<HashMap<i64, Arc<str>>>,
    /// Moved on by every `forget`: what was read before it is not kept, so a
    /// read racing a change never stores the old inbox after its forgetting.
    generation: AtomicU64,
    /// Set by a server: only a server keeps connections (an operator's command does not).
    serving: AtomicBool,
    /// What providers may need from the process (the simulated carrier).
    resources: axum::http::Extensions,
}

impl Channels {
    pub fn new(carrier: Carrier) -> Self {
        let mut resources = axum::http::Extensions::new();
        resources.insert(carrier);
        Channels {
            open: Mutex::default(),
            inboxes: Mutex::default(),
            businesses: Mutex::default(),
            generation: AtomicU64::new(0),
            serving: AtomicBool::new(false),
            resources,
        }
    }

    /// Drops the inbox this node keeps and has its channel checked before
    /// its next use (None: every inbox).
    pub fn forget(&self, inbox_id: Option<i64>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut m) = self.inboxes.lock() {
            match inbox_id {
                Some(id) => drop(m.remove(&id)),
                None => m.clear(),
            }
        }
        if let Ok(mut m) = self.open.lock() {
            for (id, kept) in m.iter_mut() {
                if inbox_id.is_none_or(|i| i == *id) {
                    kept.to_check = true;
                }
            }
        }
    }

    fn lock_open(&self) -> ServiceResult<std::sync::MutexGuard<'_, HashMap<i64, Kept>>> {
        self.open.lock().map_err(|_| ServiceError::Invalid("the channel cache is poisoned".into()))
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn start_serving(&self) {
        self.serving.store(true, Ordering::Relaxed);
    }

    fn cached(&self, inbox_id: i64) -> Option<Arc<dyn Channel>> {
        self.open.lock().ok().and_then(|m| m.get(&inbox_id).map(|k| k.channel.clone()))
    }

    /// The channel, unless its inbox changed since it was opened.
    fn unchanged(&self, inbox_id: i64) -> Option<Arc<dyn Channel>> {
        self.open.lock().ok().and_then(|m| m.get(&inbox_id).filter(|k| !k.to_check).map(|k| k.channel.clone()))
    }
}

/// An open channel, the stored setup it was opened from, and whether its
/// inbox changed since.
struct Kept {
    channel: Arc<dyn Channel>,
    setup: (Value, Value),
    to_check: bool,
}

/// Forgets each inbox the event log says changed, on whatever node (or
/// command) changed it, until the store closes or the channels are gone.
pub(crate) fn follow_inbox_changes(store: &textdesk_store::Store, channels: &Arc<Channels>) {
    let mut changes = store.events().inbox_changes();
    let channels = Arc::downgrade(channels);
    tokio::spawn(async move {
        loop {
            let changed = match changes.recv().await {
                Ok(id) => Some(id),
                // Missed some: forget them all.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            match channels.upgrade() {
                Some(c) => c.forget(changed),
                None => return,
            }
        }
    });
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
        self.channel_of(&conversation).await
    }

    /// [`Services::conversation_channel`] for a conversation already read.
    pub async fn channel_of(&self, conversation: &Conversation) -> ServiceResult<(Inbox, Capabilities)> {
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

    /// Changes an inbox's provider connection in place (a rotated auth
    /// token, a new app secret): the fields given replace the stored ones
    /// (null clears one), the others are kept, and the whole is read like a
    /// new inbox's setup and checked with the provider unless `check` is off.
    /// The sender stays (a new number is a new inbox), and so does the setup
    /// of a provider that keeps a connection (its link runs on it). Every
    /// node verifies the inbox's next webhook with the new setup.
    pub async fn update_inbox_connection(
        &self,
        admin: &textdesk_store::User,
        id: i64,
        given: &serde_json::Map<String, Value>,
        check: bool,
    ) -> ServiceResult<Inbox> {
        if !admin.role.at_least(textdesk_core::Role::Admin) {
            return Err(ServiceError::forbidden("only an admin can change an inbox's connection"));
        }
        let inbox = self.store.inbox(admin.account_id, id).await?;
        let p = provider(&inbox.provider)?;
        if p.keeps_connection() {
            return Err(ServiceError::Invalid(format!(
                "{} inboxes keep a connection opened with their setup: add a new inbox to change it",
                p.label()
            )));
        }
        let secrets = self.store.inbox_secrets(id).await?;
        let current = StoredSetup::of(p.key(), &inbox.settings, &secrets);
        let mut merged = current.settings;
        merged.extend(current.secrets);
        merged.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(unknown) = given.keys().find(|k| !p.setup().iter().any(|f| f.name == k.as_str())) {
            return Err(ServiceError::Invalid(format!("{}.{unknown} is not a setting of {}", p.key(), p.label())));
        }
        let stored = StoredSetup::split(p.setup(), read_json_setup(p, &merged)?);
        let channel = p.open(&self.context(id), &stored).map_err(ServiceError::Invalid)?;
        if check {
            channel.check_credentials().await.map_err(|e| match e {
                CheckFailure::Rejected(words) | CheckFailure::Unreachable(words) => ServiceError::Credentials(words),
            })?;
        }
        let mut settings = inbox.settings.as_object().cloned().unwrap_or_default();
        settings.remove(p.key());
        if !stored.settings.is_empty() {
            settings.insert(p.key().to_owned(), Value::Object(stored.settings));
        }
        let updated = self
            .store
            .update_inbox_setup(admin.account_id, id, &Value::Object(settings), &Value::Object(stored.secrets))
            .await?;
        // This node at once; the others when their relay reads the log.
        self.channels.forget(Some(id));
        // The fields' names only: a secret is never written down.
        let names: Vec<&str> = given.keys().map(String::as_str).collect();
        let detail = format!("Changed the {} connection: {}.", p.label(), names.join(", "));
        self.audit(admin, "settings.inbox", &format!("inbox:{id} ({})", updated.name), None, &detail).await?;
        Ok(updated)
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
        if let Some(c) = self.channels.unchanged(inbox.id) {
            return Ok(c);
        }
        self.open_channel(inbox).await
    }

    /// Opens the inbox's channel from the setup stored now (`inbox` as read
    /// no earlier than the call) and keeps it, unless the inbox changed
    /// meanwhile (then the next use opens it again).
    async fn open_channel(&self, inbox: &Inbox) -> ServiceResult<Arc<dyn Channel>> {
        let generation = self.channels.generation();
        let p = provider(&inbox.provider)?;
        let secrets = self.store.inbox_secrets(inbox.id).await?;
        let stored = StoredSetup::of(p.key(), &inbox.settings, &secrets);
        let setup = (inbox.settings.clone(), secrets.clone());
        let current = generation == self.channels.generation();
        {
            let mut open = self.channels.lock_open()?;
            if let Some(kept) = open.get_mut(&inbox.id)
                && (kept.setup == setup || p.keeps_connection())
            {
                // The same setup (or a kept connection): the channel and its state stay.
                kept.to_check &= !current;
                return Ok(kept.channel.clone());
            }
        }
        let opened = p.open(&self.context(inbox.id), &stored).map_err(ServiceError::Invalid)?;
        let mut open = self.channels.lock_open()?;
        if !p.keeps_connection() && !current {
            return Ok(opened);
        }
        // Another task may have opened it meanwhile: keep one, so a kept connection is started once.
        let kept = open.entry(inbox.id).or_insert_with(|| Kept {
            channel: opened.clone(),
            setup: setup.clone(),
            to_check: false,
        });
        if kept.setup != setup && !p.keeps_connection() {
            *kept = Kept { channel: opened, setup, to_check: false };
        }
        Ok(kept.channel.clone())
    }

    /// The inbox an address names, as this node last read it (read again
    /// after any change to it, on any node).
    pub(crate) async fn cached_inbox(&self, inbox_id: i64) -> ServiceResult<Arc<Inbox>> {
        if let Some(i) = self.channels.inboxes.lock().ok().and_then(|m| m.get(&inbox_id).cloned()) {
            return Ok(i);
        }
        self.read_inbox(inbox_id).await
    }

    /// Reads the inbox from the database and keeps it (unless it changed meanwhile).
    async fn read_inbox(&self, inbox_id: i64) -> ServiceResult<Arc<Inbox>> {
        let generation = self.channels.generation();
        let inbox = Arc::new(self.store.inbox_by_id(inbox_id).await?);
        if let Ok(mut m) = self.channels.inboxes.lock()
            && generation == self.channels.generation()
        {
            m.insert(inbox_id, inbox.clone());
        }
        Ok(inbox)
    }

    /// The inbox and its channel read afresh from the database, replacing
    /// what this node kept: for a webhook whose signature the kept verifier
    /// refused, in case its secret was changed a moment ago on another node.
    pub(crate) async fn reread_channel(&self, inbox_id: i64) -> ServiceResult<(Arc<Inbox>, Arc<dyn Channel>)> {
        self.channels.forget(Some(inbox_id));
        let inbox = self.read_inbox(inbox_id).await?;
        let channel = self.channel(&inbox).await?;
        Ok((inbox, channel))
    }

    /// The inbox a provider's webhook names and what the request carries,
    /// once the inbox's channel has verified it. The inbox and its verifier
    /// are the ones this node keeps; a signature the kept verifier refuses
    /// is checked once more against the inbox as stored now, so a secret
    /// changed on another node a moment ago holds at once.
    pub async fn verify_webhook(
        &self,
        provider_key: &str,
        inbox_id: i64,
        request: &provider::InboundRequest<'_>,
    ) -> Result<(Arc<Inbox>, provider::Inbound), WebhookRefused> {
        let inbox = self.cached_inbox(inbox_id).await.map_err(WebhookRefused::reading)?;
        if inbox.provider != provider_key {
            return Err(WebhookRefused::NoInbox);
        }
        let channel = self.channel(&inbox).await.map_err(WebhookRefused::NotSetUp)?;
        match channel.verify(request) {
            Ok(inbound) => Ok((inbox, inbound)),
            Err(provider::Refusal::Forbidden(_)) if channel.link().is_none() => {
                let (inbox, channel) = self.reread_channel(inbox_id).await.map_err(WebhookRefused::reading)?;
                if inbox.provider != provider_key {
                    return Err(WebhookRefused::NoInbox);
                }
                channel.verify(request).map(|inbound| (inbox, inbound)).map_err(WebhookRefused::Refused)
            }
            Err(refusal) => Err(WebhookRefused::Refused(refusal)),
        }
    }

    /// The account's business name as customers read it, read once per node.
    pub(crate) async fn cached_business_name(&self, account_id: i64) -> ServiceResult<Arc<str>> {
        if let Some(n) = self.channels.businesses.lock().ok().and_then(|m| m.get(&account_id).cloned()) {
            return Ok(n);
        }
        let name: Arc<str> = self.business_name_of(account_id).await?.into();
        if let Ok(mut m) = self.channels.businesses.lock() {
            m.insert(account_id, name.clone());
        }
        Ok(name)
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
            Ok(m) => m.iter().filter_map(|(id, k)| k.channel.link().map(|(s, up)| (*id, s, up))).collect(),
            Err(_) => Vec::new(),
        };
        states.sort_by_key(|(id, _, _)| *id);
        states
    }

    /// Hands one message to the inbox's provider.
    pub(crate) async fn provider_send(&self, inbox_id: i64, msg: Outgoing) -> Result<Accepted, SendError> {
        let channel = match self.channels.unchanged(inbox_id) {
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

/// Why a provider's webhook was not taken.
#[derive(Debug)]
pub enum WebhookRefused {
    /// No inbox of that provider has the id.
    NoInbox,
    /// The inbox could not be read (the database): worth another try.
    Unavailable(ServiceError),
    /// The inbox's stored setup opens no channel.
    NotSetUp(ServiceError),
    /// The inbox's channel refused the request (its signature, its shape).
    Refused(provider::Refusal),
}

impl WebhookRefused {
    fn reading(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(_) => WebhookRefused::NoInbox,
            e => WebhookRefused::Unavailable(e),
        }
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
