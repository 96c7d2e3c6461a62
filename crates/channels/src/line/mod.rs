//! LINE through the Messaging API: the `x-line-signature` check, parsing the
//! events LINE posts (messages of every kind, follow and unfollow as the
//! customer's own opt-in and opt-out, postbacks; redeliveries deduplicated by
//! their ids), the client that replies and pushes, checks the token, sets the
//! webhook endpoint and fetches content. With the `fake` feature, an
//! in-process Messaging API for tests.

pub mod channel;
pub mod client;
#[cfg(feature = "fake")]
pub mod fake;
pub mod signature;
pub mod webhook;

pub use channel::{Line, REPLY_TOKEN_LIFETIME, ReplyTokens};
pub use client::{DEFAULT_API_BASE, DEFAULT_DATA_BASE, LineClient, LineConfig, SentBy, message_objects};
#[cfg(feature = "fake")]
pub use fake::FakeLine;
pub use signature::{SIGNATURE_HEADER, compute_signature, verify_signature};
pub use webhook::{Parsed, ReplyToken, parse_webhook};
