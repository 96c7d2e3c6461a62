//! The providers behind inboxes: setting one up (credentials checked, stored
//! apart from settings), the live client or link per inbox, and the addresses
//! a provider is told to call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use textdesk_channels::smpp::{self, SmppConfig, SmppLink, SmppPassword};
use textdesk_channels::twilio::{CredentialError, TwilioClient, TwilioConfig};
use textdesk_channels::{Accepted, Outgoing, SendError};
use textdesk_core::{Address, ChannelKind, Invalid};
use textdesk_store::{Inbox, NewInbox, StoreError};

use crate::services::Services;

/// The provider clients of this node: built on first use from the inbox's
/// settings and secrets, dropped when the inbox changes.
#[derive(Default)]
pub struct Channels {
    twilio: Mutex<HashMap<i64, Arc<TwilioClient>>>,
    smpp: Mutex<HashMap<i64, SmppLink>>,
    /// Set by a server: only a server keeps SMPP links (an operator's command does not).
    serving: std::sync::atomic::AtomicBool,
}

impl Channels {
    pub fn start_serving(&self) {
        self.serving.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// What an admin gives to add an inbox. Credentials go to `inbox_secrets`,
/// never into settings, and are never shown again.
#[derive(Debug, Clone)]
pub enum ChannelSetup {
    Simulator,
    Twilio(TwilioSetup),
    Smpp(Box<SmppConfig>),
}

#[derive(Debug, Clone)]
pub struct TwilioSetup {
    pub account_sid: String,
    pub auth_token: String,
    pub messaging_service_sid: Option<String>,
    /// Another host that speaks Twilio's API (a test fake, a compatible provider).
    pub api_base: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewChannel {
    pub name: String,
    pub sender: String,
    pub setup: ChannelSetup,
    /// Check the credentials with the provider before saving (`--no-check` turns it off).
    pub check: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Invalid(String),
    /// The provider refused the credentials, or could not be reached to check them.
    #[error("{0}")]
    Credentials(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Invalid> for SetupError {
    fn from(e: Invalid) -> Self {
        SetupError::Invalid(e.0)
    }
}

const DEFAULT_TWILIO_API: &str = "https://api.twilio.com";

impl ChannelSetup {
    pub fn kind(&self) -> ChannelKind {
        match self {
            ChannelSetup::Simulator => ChannelKind::Simulator,
            ChannelSetup::Twilio(_) => ChannelKind::Twilio,
            ChannelSetup::Smpp(_) => ChannelKind::Smpp,
        }
    }

    /// Settings (shown) and secrets (write-only) as stored.
    fn stored(&self) -> (serde_json::Value, serde_json::Value) {
        match self {
            ChannelSetup::Simulator => (serde_json::json!({}), serde_json::json!({})),
            ChannelSetup::Twilio(t) => (
                serde_json::json!({ "twilio": {
                    "account_sid": t.account_sid,
                    "messaging_service_sid": t.messaging_service_sid,
                    "api_base": t.api_base.clone().unwrap_or_else(|| DEFAULT_TWILIO_API.into()),
                }}),
                serde_json::json!({ "auth_token": t.auth_token }),
            ),
            ChannelSetup::Smpp(c) => (
                serde_json::json!({ "smpp": serde_json::to_value(c.as_ref()).unwrap_or_default() }),
                serde_json::json!({ "password": c.password.expose() }),
            ),
        }
    }
}

fn twilio_config(inbox: &Inbox, secrets: &serde_json::Value) -> Result<TwilioConfig, SetupError> {
    let t = &inbox.settings["twilio"];
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let mut cfg = TwilioConfig::new(
        text(&t["account_sid"]).ok_or_else(|| SetupError::Invalid("the inbox has no Twilio account SID".into()))?,
        text(&secrets["auth_token"]).ok_or_else(|| SetupError::Invalid("the inbox has no Twilio auth token".into()))?,
    );
    if let Some(base) = text(&t["api_base"]) {
        cfg.api_base = base;
    }
    cfg.messaging_service_sid = text(&t["messaging_service_sid"]);
    Ok(cfg)
}

fn smpp_config(inbox: &Inbox, secrets: &serde_json::Value) -> Result<SmppConfig, SetupError> {
    let mut cfg: SmppConfig = serde_json::from_value(inbox.settings["smpp"].clone())
        .map_err(|e| SetupError::Invalid(format!("the inbox's SMPP settings: {e}")))?;
    cfg.password = SmppPassword::new(secrets["password"].as_str().unwrap_or_default());
    Ok(cfg)
}

impl Services {
    /// Adds an inbox: validated, its credentials checked with the provider
    /// (unless `check` is off), and stored. An SMPP inbox binds at once on a
    /// server, and within seconds on every other (`ensure_smpp_links`).
    pub async fn add_inbox(&self, account_id: i64, new: NewChannel) -> Result<Inbox, SetupError> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(SetupError::Invalid("an inbox name is 1 to 100 characters".into()));
        }
        let kind = new.setup.kind();
        let sender = match &new.setup {
            // A Twilio messaging service picks the number itself; the sender is still
            // the number customers text, so it is required and checked.
            ChannelSetup::Smpp(c) if c.source_ton == 5 => new.sender.trim().to_owned(),
            _ => Address::parse(kind, &new.sender).map_err(|e| SetupError::Invalid(e.0))?.value().to_owned(),
        };
        match &new.setup {
            ChannelSetup::Simulator => {}
            ChannelSetup::Twilio(t) => {
                let probe = Inbox {
                    id: 0,
                    account_id,
                    name: name.into(),
                    channel_kind: kind,
                    sender: sender.clone(),
                    settings: new.setup.stored().0,
                    created_at: jiff::Timestamp::now(),
                };
                let cfg = twilio_config(&probe, &serde_json::json!({ "auth_token": t.auth_token }))?;
                let client = TwilioClient::new(cfg).map_err(|e| SetupError::Invalid(e.to_string()))?;
                if new.check {
                    client.check_credentials().await.map_err(|e| {
                        SetupError::Credentials(match e {
                            CredentialError::Rejected => {
                                "Twilio rejected the account SID and auth token: check both in the Twilio console"
                                    .into()
                            }
                            other => format!("the credentials could not be checked: {other}"),
                        })
                    })?;
                }
            }
            ChannelSetup::Smpp(c) => {
                c.validate().map_err(SetupError::Invalid)?;
                if new.check {
                    smpp::check_bind(c).await.map_err(SetupError::Credentials)?;
                }
            }
        }
        let (settings, secrets) = new.setup.stored();
        let inbox = self
            .store
            .create_inbox(NewInbox { account_id, name: name.into(), channel_kind: kind, sender, settings, secrets })
            .await?;
        if kind == ChannelKind::Smpp {
            // Bind now on this server; other nodes (and a server, after the CLI) follow within seconds.
            self.ensure_smpp_links().await?;
        }
        Ok(inbox)
    }

    /// The Twilio client of an inbox, built once per node.
    pub async fn twilio_client(&self, inbox_id: i64) -> Result<Arc<TwilioClient>, SetupError> {
        if let Some(c) = self.channels.twilio.lock().ok().and_then(|m| m.get(&inbox_id).cloned()) {
            return Ok(c);
        }
        let inbox = self.store.inbox_by_id(inbox_id).await?;
        let secrets = self.store.inbox_secrets(inbox_id).await?;
        let cfg = TwilioConfig { media_policy: self.media.fetch_policy.clone(), ..twilio_config(&inbox, &secrets)? };
        let client = Arc::new(TwilioClient::new(cfg).map_err(|e| SetupError::Invalid(e.to_string()))?);
        if let Ok(mut m) = self.channels.twilio.lock() {
            m.insert(inbox_id, client.clone());
        }
        Ok(client)
    }

    /// The auth token Twilio signs this inbox's webhooks with.
    pub async fn twilio_auth_token(&self, inbox: &Inbox) -> Result<String, SetupError> {
        let secrets = self.store.inbox_secrets(inbox.id).await?;
        Ok(twilio_config(inbox, &secrets)?.auth_token)
    }

    /// Starts a link for every SMPP inbox that has none on this node: at
    /// start, and then periodically, so an inbox added by the CLI or another
    /// node binds here too.
    pub async fn ensure_smpp_links(&self) -> Result<(), StoreError> {
        if !self.channels.serving.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        for inbox in self.store.inboxes_of_kind(ChannelKind::Smpp).await? {
            let running = self.channels.smpp.lock().map(|m| m.contains_key(&inbox.id)).unwrap_or(true);
            if !running && let Err(e) = self.start_smpp_link(&inbox).await {
                tracing::error!(inbox = inbox.id, error = %e, "the SMPP link could not start");
            }
        }
        Ok(())
    }

    /// Binds to the inbox's SMSC and feeds what it delivers (messages,
    /// receipts) into ingest for as long as the link lives.
    async fn start_smpp_link(&self, inbox: &Inbox) -> Result<(), SetupError> {
        let secrets = self.store.inbox_secrets(inbox.id).await?;
        let (link, mut events) = SmppLink::start(smpp_config(inbox, &secrets)?).map_err(SetupError::Invalid)?;
        if let Ok(mut m) = self.channels.smpp.lock() {
            m.insert(inbox.id, link);
        }
        let services = self.clone();
        let inbox_id = inbox.id;
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let Err(e) = services.ingest(inbox_id, event).await {
                    tracing::error!(inbox = inbox_id, error = %e, "could not record what the SMSC delivered");
                }
            }
        });
        Ok(())
    }

    /// Each SMPP inbox's link state, for the settings page and `/metrics`.
    pub fn smpp_link_states(&self) -> Vec<(i64, smpp::LinkState)> {
        let mut states: Vec<_> = match self.channels.smpp.lock() {
            Ok(m) => m.iter().map(|(id, l)| (*id, l.state())).collect(),
            Err(_) => Vec::new(),
        };
        states.sort_by_key(|(id, _)| *id);
        states
    }

    /// Hands one message to the inbox's provider.
    pub(crate) async fn provider_send(
        &self,
        kind: ChannelKind,
        inbox_id: i64,
        msg: Outgoing,
    ) -> Result<Accepted, SendError> {
        match kind {
            ChannelKind::Simulator => self.carrier.send(inbox_id, &msg).await,
            ChannelKind::Twilio => {
                let client = self.twilio_client(inbox_id).await.map_err(|e| match e {
                    // The database may be back in a moment; a broken inbox will not.
                    SetupError::Store(_) => SendError::Retryable(e.to_string()),
                    _ => SendError::Permanent(e.to_string()),
                })?;
                let msg = Outgoing { status_callback: Some(self.twilio_status_url(inbox_id)), ..msg };
                client.send(&msg).await
            }
            ChannelKind::Smpp => {
                let link = self.channels.smpp.lock().ok().and_then(|m| m.get(&inbox_id).cloned());
                match link {
                    Some(link) => link.send(&msg).await,
                    None => Err(SendError::Retryable("the SMPP link of this inbox is not running".into())),
                }
            }
            other => Err(SendError::Permanent(format!("sending over {other} is not available in this version"))),
        }
    }

    /// Where Twilio posts this inbox's incoming messages.
    pub fn twilio_inbound_url(&self, inbox_id: i64) -> String {
        format!("{}/webhooks/twilio/{inbox_id}", self.public_url)
    }

    /// Where Twilio posts delivery status for messages sent from this inbox.
    pub fn twilio_status_url(&self, inbox_id: i64) -> String {
        format!("{}/webhooks/twilio/{inbox_id}/status", self.public_url)
    }
}
