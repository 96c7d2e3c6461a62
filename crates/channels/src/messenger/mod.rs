//! Facebook Messenger through Meta's Messenger Platform: the same handshake
//! and `X-Hub-Signature-256` as WhatsApp (`crate::meta`), parsing what Meta
//! posts (messages with attachments and quick replies, postbacks, delivery
//! and read watermarks), and the Send API client (text and attachments, the
//! `HUMAN_AGENT` tag). With the `fake` feature, an in-process Send API for tests.

pub mod channel;
pub mod client;
pub mod errors;
#[cfg(feature = "fake")]
pub mod fake;
pub mod webhook;

pub use channel::Messenger;
pub use client::{MessengerClient, MessengerConfig};
#[cfg(feature = "fake")]
pub use fake::FakeMessenger;
pub use webhook::{Parsed, parse_webhook};
