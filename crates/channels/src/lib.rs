//! One module per provider: verify and parse what it sends us, send what we
//! send it, and map its errors to retryable / permanent / opted-out. Channels
//! never touch the database; the app feeds what they parse into ingest.

pub mod line;
pub mod messenger;
pub mod meta;
pub mod net;
pub mod provider;
pub mod registry;
pub mod simulator;
pub mod simulator_voice;
pub mod smpp;
pub mod telegram;
pub mod twilio;
pub mod voice;
pub mod webchat;
pub mod wechat;
pub mod whatsapp;

pub use provider::{Channel, Provider};

/// Installs the process's TLS crypto provider (ring), for any HTTPS client in it.
pub use twilio::client::ensure_crypto_provider as ensure_tls_provider;

use jiff::Timestamp;
use textdesk_core::{Address, DeliveryStatus};

/// A picture or file attached to an inbound message, where the provider keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRef {
    pub url: String,
    pub content_type: Option<String>,
}

/// A provider's own consent handling (Twilio's Advanced Opt-Out sets
/// `OptOutType`): it has already answered the customer and changed what it
/// will deliver, so textdesk records it without answering again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentSignal {
    OptOut,
    OptIn,
    Help,
}

/// Why a provider did not deliver, in the provider's code and in plain words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub code: Option<String>,
    /// What the agent reads.
    pub explanation: String,
    /// The provider says the recipient unsubscribed (Twilio 21610): recorded as an opt-out.
    pub recipient_opted_out: bool,
}

/// What a provider told us, normalised.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundEvent {
    Message {
        from: Address,
        provider_id: String,
        body: String,
        media: Vec<MediaRef>,
        received_at: Timestamp,
        consent_signal: Option<ConsentSignal>,
    },
    Status {
        provider_id: String,
        status: DeliveryStatus,
        error: Option<ProviderError>,
    },
    /// Every message sent to `to` at or before `until` reached `status`
    /// (Messenger's delivery and read "watermarks" name a moment, not messages).
    StatusUpTo {
        to: Address,
        status: DeliveryStatus,
        until: Timestamp,
    },
    /// The name the customer gave themselves in the app (WhatsApp's profile
    /// name): a contact nobody has named yet takes it.
    Profile {
        from: Address,
        name: String,
    },
    /// The customer shared their own phone number in the app (a Telegram
    /// contact carrying their own user id): their contact gets that phone
    /// identity, so their SMS and this app are one history.
    PhoneShared {
        from: Address,
        phone: textdesk_core::E164,
    },
}

/// One message to hand to a provider.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub from: String,
    pub to: String,
    pub body: String,
    /// Public (signed, expiring) URLs of attachments, for MMS.
    pub media_urls: Vec<String>,
    /// The content type of each of `media_urls`, in the same order, where
    /// known (WhatsApp sends a picture, a video and a document differently).
    pub media_types: Vec<String>,
    /// Where each of `media_urls` is kept on this server, in the same order,
    /// for providers that take the file itself rather than a link (WeChat
    /// uploads it).
    pub media_files: Vec<std::path::PathBuf>,
    /// An approved template to send instead of free text (WhatsApp outside
    /// its 24 hours); `body` then holds its text as filled in, for the record.
    pub template: Option<OutgoingTemplate>,
    /// Where the provider should report delivery, when it reports over HTTP.
    pub status_callback: Option<String>,
    /// A person's reply after the channel's reply window, inside its
    /// human-agent window (the gate allowed it as such): Messenger needs the
    /// `HUMAN_AGENT` tag on it.
    pub human_agent: bool,
}

/// A provider's template by name and language, with its body variables'
/// values in order, and its header's and buttons' values where it has them.
/// Kept as JSON with the message (older rows have no header or buttons).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OutgoingTemplate {
    pub name: String,
    pub language: String,
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<textdesk_core::channel_template::HeaderParam>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<textdesk_core::channel_template::ButtonParam>,
}

/// The provider took the message. Long SMPP messages go as several parts,
/// each with its own id (receipts name the part); the first is the message's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub provider_ids: Vec<String>,
}

impl Accepted {
    pub fn one(id: impl Into<String>) -> Self {
        Accepted { provider_ids: vec![id.into()] }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth trying again later (timeouts, 5xx, throttling).
    #[error("{0}")]
    Retryable(String),
    /// Will never succeed as it is (bad number, rejected content).
    #[error("{0}")]
    Permanent(String),
    /// The provider says the recipient has unsubscribed.
    #[error("{0}")]
    OptedOut(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);
