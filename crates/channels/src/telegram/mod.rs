//! Telegram through the Bot API: the webhook's secret header, parsing the
//! updates Telegram posts (text, photos, documents, voice, location, a shared
//! contact, the customer blocking the bot), and the client that sends, checks
//! the token, sets the webhook and fetches files. With the `fake` feature, an
//! in-process Bot API for tests.

pub mod channel;
pub mod client;
#[cfg(feature = "fake")]
pub mod fake;
pub mod webhook;

pub use channel::{SECRET_HEADER, Telegram, secret_matches, webhook_secret};
pub use client::{DEFAULT_API_BASE, TelegramClient, TelegramConfig};
#[cfg(feature = "fake")]
pub use fake::FakeTelegram;
pub use webhook::{Parsed, parse_update};
