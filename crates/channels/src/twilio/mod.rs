//! Twilio and the providers that copy its interface.
