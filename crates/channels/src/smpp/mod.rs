//! SMPP 3.4: a direct bind to an SMSC as a transceiver. `SmppLink` keeps the
//! bind alive and sends; what the SMSC delivers (texts, receipts) comes out as
//! `InboundEvent`s. `check_bind` tries credentials once, for the settings page.

pub mod coding;
#[cfg(feature = "fake")]
pub mod fake;
pub mod pdu;
pub mod receipt;
mod session;

pub use session::{LinkState, LinkStats, SmppConfig, SmppLink, SmppPassword, check_bind};
