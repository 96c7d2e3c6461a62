//! A WeChat Official Account: the server address's signature check and
//! `echostr` handshake, the safe-mode AES encryption (`crypto`), XML messages
//! and events read with quick-xml (`xml`, `webhook`), and the API client
//! (access tokens kept and refreshed, customer-service messages, media). With
//! the `fake` feature, an in-process WeChat API for tests. Pictures, voice and
//! video go out as uploaded temporary media (`media`).

pub mod channel;
pub mod client;
pub mod crypto;
#[cfg(feature = "fake")]
pub mod fake;
pub mod media;
pub mod webhook;
pub mod xml;

pub use channel::Wechat;
pub use client::{WechatClient, WechatConfig};
pub use crypto::{AesKey, sign, signature_matches};
#[cfg(feature = "fake")]
pub use fake::FakeWechat;
pub use media::WechatMedia;
