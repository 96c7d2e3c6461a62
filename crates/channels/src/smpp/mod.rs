//! SMPP 3.4: a direct bind to an SMSC as a transceiver. `SmppLink` keeps the
//! bind alive and sends; what the SMSC delivers (texts, receipts) comes out as
//! `InboundEvent`s. `check_bind` tries credentials once, for the settings page.
//!
//! How the app drives it:
//! - Store `SmppConfig` as JSON (durations are seconds, e.g. `"enquire_link_every": 30`);
//!   the password is skipped when serializing and kept with the other secrets,
//!   then set with `cfg.password = SmppPassword::new(..)` before use.
//! - On save: `cfg.validate()` then `check_bind(&cfg).await` for a readable error.
//! - At startup: `let (link, mut events) = SmppLink::start(cfg)?;` inside the
//!   tokio runtime, and feed `events` into ingest. Dropping every clone of the
//!   link unbinds and ends the session.
//! - `link.send(&outgoing)` gives one id per submitted part; receipts name the
//!   part, so record them all against the message (the first is the message's).
//! - `link.state()` / `link.stats()` for the UI and metrics.
//!
//! With the `fake` feature, `fake::FakeSmsc` is an SMSC inside the test process.

pub mod channel;
pub mod coding;
#[cfg(feature = "fake")]
pub mod fake;
pub mod pdu;
pub mod receipt;
mod session;

pub use session::{LinkState, LinkStats, SmppConfig, SmppLink, SmppPassword, check_bind};
