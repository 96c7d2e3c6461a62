//! One module per provider: verify and parse what it sends us, send what we
//! send it, and map its errors to retryable / permanent / opted-out. Channels
//! never touch the database; the app feeds what they parse into ingest.

pub mod simulator;

use jiff::Timestamp;
use textdesk_core::{Address, DeliveryStatus};

/// What a provider told us, normalised.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundEvent {
    Message { from: Address, provider_id: String, body: String, media: Vec<String>, received_at: Timestamp },
    Status { provider_id: String, status: DeliveryStatus, error: Option<String> },
}

/// One message to hand to a provider.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub from: String,
    pub to: String,
    pub body: String,
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
