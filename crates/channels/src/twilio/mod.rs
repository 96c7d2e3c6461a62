//! Twilio and the providers that copy its interface: the webhook signature,
//! parsing what Twilio posts to us, the REST client that sends, and what its
//! error codes mean. With the `fake` feature, an in-process Twilio for tests.

pub mod channel;
pub mod client;
pub mod errors;
#[cfg(feature = "fake")]
pub mod fake;
#[cfg(feature = "fake")]
pub mod fake_voice;
pub mod signature;
pub mod voice;
pub mod webhook;

pub use client::{ConfigError, CredentialError, Downloaded, MediaError, Timeouts, TwilioClient, TwilioConfig};
pub use errors::{ErrorClass, ErrorInfo, explain, provider_error};
#[cfg(feature = "fake")]
pub use fake::{FakeSent, FakeTwilio};
#[cfg(feature = "fake")]
pub use fake_voice::FakeCall;
pub use signature::{SIGNATURE_HEADER, compute_signature, json_url, validate_form, validate_json};
pub use webhook::{EMPTY_TWIML, TWIML_CONTENT_TYPE, TwilioInbound, TwilioStatus, is_sid, parse_inbound, parse_status};
