//! WhatsApp through Meta's Cloud API: the subscription handshake and the
//! `X-Hub-Signature-256` check, parsing what Meta posts (messages of every
//! kind, statuses with their errors), the Graph API client that sends text,
//! media and templates, fetches media by id and lists templates, and what its
//! error codes mean. With the `fake` feature, an in-process Graph API for tests.

pub mod channel;
pub mod client;
pub mod errors;
#[cfg(feature = "fake")]
pub mod fake;
pub mod templates;
pub mod webhook;

pub use crate::meta::{SIGNATURE_HEADER, compute_signature, verify_signature, verify_token_matches};
pub use channel::WhatsApp;
pub use client::{DEFAULT_API_VERSION, DEFAULT_GRAPH_BASE, WhatsAppClient, WhatsAppConfig};
pub use errors::{explain, provider_error};
#[cfg(feature = "fake")]
pub use fake::FakeWhatsApp;
pub use webhook::{Parsed, parse_webhook};
