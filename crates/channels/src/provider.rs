//! What every provider does, behind one trait. A `Provider` describes itself
//! (the media it carries, what it can do on each, the fields an admin fills in
//! to set it up, the webhooks it posts to) and opens a `Channel` for one inbox
//! from that inbox's stored setup. The `Channel` verifies and parses what the
//! provider posts, sends, says whether a send was accepted after a crash,
//! fetches media and checks credentials. The app drives every provider through
//! these two traits alone; `registry` lists the providers.
//!
//! Methods that do I/O return boxed futures so both traits stay object-safe
//! (`&dyn Provider`, `Arc<dyn Channel>`) without an extra macro crate.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::Value;
use textdesk_core::{Address, Capabilities, Medium};
use tokio::sync::mpsc;

use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A kind of messaging provider (Twilio, an SMSC over SMPP, the simulator).
pub trait Provider: Send + Sync {
    /// Its name in URLs, the API, the CLI and the database (`twilio`).
    fn key(&self) -> &'static str;
    /// Its name for people (`Twilio`).
    fn label(&self) -> &'static str;
    /// A few words beside the label on the add-inbox form.
    fn blurb(&self) -> &'static str;
    /// The media it can carry; the first is the default for a new inbox.
    fn media(&self) -> &'static [Medium];
    /// What it can do on `medium`.
    fn capabilities(&self, medium: Medium) -> Capabilities;
    /// What an admin fills in to connect an inbox.
    fn setup(&self) -> &'static [SetupField];
    /// The addresses it posts to, under `/webhooks/{key}/{inbox}`.
    fn webhooks(&self) -> &'static [Webhook];
    /// Whether it keeps a connection open to receive (SMPP binds), which only
    /// a server holds, rather than posting webhooks.
    fn keeps_connection(&self) -> bool;
    /// Whether carriers meter its senders (a real number is paced; a simulated one is not).
    fn metered(&self) -> bool;
    /// The business's address on `medium` as stored, from what an admin typed.
    fn sender(&self, stored: &StoredSetup, medium: Medium, raw: &str) -> Result<String, String>;
    /// Where it connects, in a few words for the inbox page (`smsc.example.com:2775`).
    fn summary(&self, stored: &StoredSetup) -> Option<String>;
    /// Whether it can carry this attachment (a stored file's type and size) on
    /// `medium`, checked before a message is queued; the reason in words if
    /// not. Only for providers with `Capabilities::media`; the media store's
    /// own limits apply to all.
    fn check_attachment(&self, _medium: Medium, _content_type: &str, _size: u64) -> Result<(), String> {
        Ok(())
    }
    /// Whether it holds message templates an admin syncs (WhatsApp's).
    fn has_templates(&self) -> bool {
        false
    }
    /// Whether textdesk tells the provider its webhook address itself
    /// (Telegram's `setWebhook`, LINE's endpoint API) rather than an admin
    /// pasting it into the provider's console.
    fn registers_webhook(&self) -> bool {
        false
    }
    /// Where an admin pastes its webhook addresses in the provider's console,
    /// in words (or, for a provider that registers its own, what else to
    /// switch on there). None for providers without webhooks.
    fn webhook_help(&self) -> Option<&'static str> {
        None
    }
    /// Whether its webhooks leave customers unnamed and it has an API that
    /// names them (`Channel::profile_name`: LINE's profile, Messenger's user profile).
    fn looks_up_names(&self) -> bool {
        false
    }
    /// Whether its inboxes can place phone calls (`Channel::voice`).
    fn voice(&self) -> bool {
        false
    }
    /// The inbox's channel, from its stored setup: the one place a provider's
    /// settings and secrets are read. Opening does no I/O.
    fn open(&self, ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String>;
}

/// One inbox's connection to its provider.
pub trait Channel: Send + Sync {
    /// Checks that a request to one of the provider's webhooks came from the
    /// provider (before anything in it is trusted), and parses it.
    fn verify(&self, req: &InboundRequest<'_>) -> Result<Inbound, Refusal>;
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>>;
    /// After a crash between handing a message over and recording it: the
    /// provider's ids of messages matching `q`, or that it cannot be asked.
    fn find_sent<'a>(&'a self, q: SentQuery<'a>) -> BoxFuture<'a, FindSent>;
    /// An attachment the provider announced, at most `max_bytes`.
    fn fetch_media<'a>(&'a self, url: &'a str, max_bytes: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>>;
    /// Whether the credentials work, in words an admin can act on.
    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>>;
    /// Starts receiving over a kept connection (see `Provider::keeps_connection`):
    /// what arrives comes out of the receiver. None for webhook providers.
    fn listen(&self) -> Result<Option<mpsc::Receiver<InboundEvent>>, String>;
    /// The kept connection's state (`bound`, `down`…) and whether it is up.
    fn link(&self) -> Option<(String, bool)>;
    /// Answers a GET to one of its webhooks (Meta's subscription handshake),
    /// given the request's query string. Most providers only POST.
    fn handshake(&self, _hook: &str, _query: &str) -> Result<Answer, Refusal> {
        Err(Refusal::NotFound("this webhook takes POST only".into()))
    }
    /// Tells the provider to post to this inbox's webhook (see
    /// `Provider::registers_webhook`), with whatever secret it signs with.
    fn register_webhook(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(async {
            Err(CheckFailure::Rejected("this provider's webhook address is pasted into its console".into()))
        })
    }
    /// The name a customer shows in the app, asked of the provider (see
    /// `Provider::looks_up_names`) by their address on it. `Ok(None)`: the
    /// provider has no name for them; an error is in words, without the address.
    fn profile_name<'a>(&'a self, _who: &'a str) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async { Ok(None) })
    }
    /// The message templates the provider holds for this account (WhatsApp's),
    /// each with its approval status. None for providers without templates.
    fn templates(&self) -> BoxFuture<'_, Result<Option<Vec<ProviderTemplate>>, CheckFailure>> {
        Box::pin(async { Ok(None) })
    }
    /// Phone calls through the same credentials, for providers with the voice capability.
    fn voice(&self) -> Option<&dyn crate::voice::Voice> {
        None
    }
}

/// A message template as the provider holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderTemplate {
    pub name: String,
    /// The language code (`en_US`).
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`… as the provider says it.
    pub status: String,
    /// `UTILITY`, `MARKETING`, `AUTHENTICATION`… as the provider says it.
    pub category: String,
    /// The body's text, with `{{1}}`-style variables.
    pub body: String,
    /// Its header and buttons.
    pub parts: textdesk_core::channel_template::TemplateParts,
}

/// What a provider is opened with besides its stored setup.
pub struct Context<'a> {
    /// 0 while an inbox is being set up and has no id yet.
    pub inbox_id: i64,
    /// Where providers reach this server (webhooks are signed over it).
    pub public_url: &'a str,
    /// Things a provider may need from the process, by type (the simulated carrier).
    pub resources: &'a http::Extensions,
    /// Where media may be fetched from on a customer's say-so (public
    /// addresses, and the private hosts the operator named).
    pub media_policy: &'a crate::net::FetchPolicy,
}

impl Context<'_> {
    /// This inbox's address for one of the provider's webhooks.
    pub fn webhook_url(&self, provider: &str, hook: &Webhook) -> String {
        webhook_url(self.public_url, provider, self.inbox_id, hook)
    }
}

/// An address a provider posts to: `/webhooks/{provider}/{inbox}{path}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Webhook {
    /// Its name in the API's `webhook_urls`, and the path's last segment (empty for the first).
    pub name: &'static str,
    /// Where to paste it in the provider's console.
    pub label: &'static str,
    /// What the address is for, in a few words ("incoming-message").
    pub about: &'static str,
}

impl Webhook {
    /// The path segment after the inbox id: none for the main hook.
    pub fn segment(&self) -> Option<&'static str> {
        (self.name != "inbound").then_some(self.name)
    }
}

pub fn webhook_url(public_url: &str, provider: &str, inbox_id: i64, hook: &Webhook) -> String {
    match hook.segment() {
        None => format!("{public_url}/webhooks/{provider}/{inbox_id}"),
        Some(s) => format!("{public_url}/webhooks/{provider}/{inbox_id}/{s}"),
    }
}

/// A request to one of a provider's webhooks, as received.
pub struct InboundRequest<'a> {
    /// Which webhook (`Webhook::name`).
    pub hook: &'a str,
    /// The full address the provider called, as the public sees it (with the query).
    pub url: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
    pub now: Timestamp,
}

/// A verified request: what it carried, and what to answer once that is stored.
#[derive(Debug)]
pub struct Inbound {
    pub events: Vec<InboundEvent>,
    pub answer: Answer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<&'static str>,
    /// Fixed for most answers; a handshake echoes what it was sent.
    pub body: Cow<'static, str>,
}

impl Answer {
    pub const NO_CONTENT: Answer = Answer { status: 204, content_type: None, body: Cow::Borrowed("") };
}

/// Why a webhook request was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// This provider has no such webhook (or takes nothing over webhooks).
    NotFound(String),
    /// It did not come from the provider, or not for this inbox.
    Forbidden(String),
    /// It came from the provider but could not be read.
    BadRequest(String),
}

/// A message looked for after a crash.
#[derive(Debug, Clone, Copy)]
pub struct SentQuery<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub body: &'a str,
    /// Created at or after this.
    pub since: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindSent {
    /// The provider cannot be asked (SMPP has no lookup by content; the
    /// simulated carrier dies with the process): a person decides.
    Unsupported,
    /// The provider's ids of matching messages, newest first (may be empty).
    Found(Vec<String>),
    /// It can be asked, but not now (network, credentials).
    AskLater(String),
}

/// A fetched attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFailure {
    pub reason: String,
    pub retryable: bool,
}

/// Why credentials were not confirmed, in plain words for the admin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckFailure {
    /// The provider answered and said no.
    #[error("{0}")]
    Rejected(String),
    /// The provider could not be reached, or did not answer sensibly.
    #[error("{0}")]
    Unreachable(String),
}

/// A provider's setup as stored: what may be shown (kept in the inbox's
/// settings under the provider's key) and the write-only secrets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredSetup {
    pub settings: serde_json::Map<String, Value>,
    pub secrets: serde_json::Map<String, Value>,
}

impl StoredSetup {
    /// Sorts read values into settings and secrets by the fields' description.
    pub fn split(fields: &[SetupField], values: SetupValues) -> StoredSetup {
        let mut stored = StoredSetup::default();
        for (name, value) in values {
            let secret = fields.iter().any(|f| f.name == name && f.secret);
            let side = if secret { &mut stored.secrets } else { &mut stored.settings };
            side.insert(name, value);
        }
        stored
    }

    /// From an inbox's settings and secrets as the database holds them.
    pub fn of(provider: &str, settings: &Value, secrets: &Value) -> StoredSetup {
        let object = |v: &Value| v.as_object().cloned().unwrap_or_default();
        StoredSetup { settings: object(&settings[provider]), secrets: object(secrets) }
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.settings.get(name).or_else(|| self.secrets.get(name)).and_then(Value::as_str).filter(|s| !s.is_empty())
    }
}

/// Values read from a form, flags or a JSON body, keyed by field name.
pub type SetupValues = serde_json::Map<String, Value>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    Text,
    /// A whole number within the bounds.
    Whole {
        min: i64,
        max: i64,
    },
    /// A positive number.
    Decimal,
    /// On or off.
    Flag,
}

/// One thing an admin fills in to connect an inbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SetupField {
    /// Its name in the API's JSON, the form and (with `-`) the CLI's flag.
    pub name: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    pub kind: FieldKind,
    /// Write-only: never shown again, never echoed back; on the command line
    /// it comes from an environment variable so it stays out of `ps`.
    pub secret: bool,
    pub required: bool,
    /// What leaving it empty means, shown as the placeholder.
    pub default: Option<&'static str>,
    /// Rarely changed: folded away on the form.
    pub advanced: bool,
    /// A secret the admin makes up and pastes into the provider's console
    /// (Meta's verify token): `textdesk inbox add` makes one when none is
    /// given, and prints it.
    pub generated: bool,
}

impl SetupField {
    pub const fn text(name: &'static str, label: &'static str, help: &'static str) -> SetupField {
        SetupField {
            name,
            label,
            help,
            kind: FieldKind::Text,
            secret: false,
            required: false,
            default: None,
            advanced: false,
            generated: false,
        }
    }
    pub const fn whole(self, min: i64, max: i64) -> SetupField {
        SetupField { kind: FieldKind::Whole { min, max }, ..self }
    }
    pub const fn decimal(self) -> SetupField {
        SetupField { kind: FieldKind::Decimal, ..self }
    }
    pub const fn flag(self) -> SetupField {
        SetupField { kind: FieldKind::Flag, ..self }
    }
    pub const fn secret(self) -> SetupField {
        SetupField { secret: true, ..self }
    }
    pub const fn required(self) -> SetupField {
        SetupField { required: true, ..self }
    }
    pub const fn default(self, text: &'static str) -> SetupField {
        SetupField { default: Some(text), ..self }
    }
    pub const fn advanced(self) -> SetupField {
        SetupField { advanced: true, ..self }
    }
    pub const fn generated(self) -> SetupField {
        SetupField { generated: true, ..self }
    }

    /// The command-line flag (`--account-sid`).
    pub fn flag_name(&self) -> String {
        self.name.replace('_', "-")
    }

    /// The environment variable a secret is read from on the command line.
    pub fn env_var(&self, provider: &str) -> String {
        format!("TEXTDESK_{}_{}", provider.to_ascii_uppercase(), self.name.to_ascii_uppercase())
    }

    /// A value typed into a form or given on the command line; empty is absent.
    pub fn read_text(&self, raw: &str) -> Result<Option<Value>, String> {
        let t = raw.trim();
        if t.is_empty() {
            return Ok(None);
        }
        match self.kind {
            FieldKind::Text => self.checked_text(t).map(Some),
            FieldKind::Whole { min, max } => match t.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(Some(Value::from(n))),
                _ => Err(format!("{t:?} is not a whole number from {min} to {max}")),
            },
            FieldKind::Decimal => match t.parse::<f64>() {
                Ok(n) if n.is_finite() && n > 0.0 => Ok(Some(Value::from(n))),
                _ => Err(format!("{t:?} is not a number above 0")),
            },
            FieldKind::Flag => match t.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" | "1" => Ok(Some(Value::Bool(true))),
                "off" | "false" | "no" | "0" => Ok(Some(Value::Bool(false))),
                _ => Err(format!("{t:?} is not on or off")),
            },
        }
    }

    /// A value in a JSON body; null is absent.
    pub fn read_json(&self, v: &Value) -> Result<Option<Value>, String> {
        match (self.kind, v) {
            (_, Value::Null) => Ok(None),
            (FieldKind::Text, Value::String(s)) => self.read_text(s),
            (FieldKind::Whole { .. } | FieldKind::Decimal, Value::Number(n)) => self.read_text(&n.to_string()),
            (FieldKind::Flag, Value::Bool(b)) => Ok(Some(Value::Bool(*b))),
            (FieldKind::Text, _) => Err("must be a string".into()),
            (FieldKind::Whole { .. } | FieldKind::Decimal, _) => Err("must be a number".into()),
            (FieldKind::Flag, _) => Err("must be true or false".into()),
        }
    }

    fn checked_text(&self, t: &str) -> Result<Value, String> {
        if t.chars().count() > 500 || t.chars().any(char::is_control) {
            return Err("is at most 500 printable characters".into());
        }
        Ok(Value::String(t.to_owned()))
    }
}

/// A field that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldProblem {
    pub field: &'static SetupField,
    pub problem: String,
}

/// Reads a provider's fields from any front door: `get` gives each field's
/// value as that door received it (already read with `read_text` or
/// `read_json`). Missing required fields are named.
pub fn read_setup(
    fields: &'static [SetupField],
    mut get: impl FnMut(&SetupField) -> Result<Option<Value>, String>,
) -> Result<SetupValues, FieldProblem> {
    let mut values = SetupValues::new();
    for field in fields {
        match get(field) {
            Err(problem) => return Err(FieldProblem { field, problem }),
            Ok(None) if field.required => return Err(FieldProblem { field, problem: "is required".into() }),
            Ok(None) => {}
            Ok(Some(v)) => {
                values.insert(field.name.to_owned(), v);
            }
        }
    }
    Ok(values)
}

/// The usual sender rule: an address on the medium (E.164 for SMS).
pub fn address_sender(medium: Medium, raw: &str) -> Result<String, String> {
    Address::parse(medium, raw).map(|a| a.value().to_owned()).map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: SetupField = SetupField::text("port", "Port", "").whole(1, 65535).default("2775");
    const TOKEN: SetupField = SetupField::text("auth_token", "Auth token", "").secret().required();
    const TLS: SetupField = SetupField::text("tls", "TLS", "").flag();

    #[test]
    fn values_are_read_alike_from_text_and_json() {
        assert_eq!(PORT.read_text(" 2776 "), Ok(Some(Value::from(2776))));
        assert_eq!(PORT.read_json(&Value::from(2776)), Ok(Some(Value::from(2776))));
        assert_eq!(PORT.read_text(""), Ok(None));
        assert!(PORT.read_text("http").unwrap_err().contains("1 to 65535"));
        assert!(PORT.read_json(&Value::from("2776")).is_err(), "JSON says what type it is");
        assert!(PORT.read_json(&Value::Bool(true)).is_err());
        assert_eq!(TLS.read_text("on"), Ok(Some(Value::Bool(true))));
        assert_eq!(TLS.read_json(&Value::Bool(false)), Ok(Some(Value::Bool(false))));
        assert!(TOKEN.read_text("a\u{7}b").is_err());
    }

    #[test]
    fn a_missing_required_field_is_named_and_secrets_are_kept_apart() {
        static FIELDS: [SetupField; 2] = [PORT, TOKEN];
        let err = read_setup(&FIELDS, |_| Ok(None)).unwrap_err();
        assert_eq!((err.field.name, err.problem.as_str()), ("auth_token", "is required"));
        let values = read_setup(&FIELDS, |f| f.read_text(if f.secret { "s3cret" } else { "2775" })).unwrap();
        let stored = StoredSetup::split(&FIELDS, values);
        assert_eq!(stored.settings.get("port"), Some(&Value::from(2775)));
        assert!(!Value::Object(stored.settings.clone()).to_string().contains("s3cret"));
        assert_eq!(stored.text("auth_token"), Some("s3cret"));
        assert_eq!(TOKEN.flag_name(), "auth-token");
        assert_eq!(TOKEN.env_var("twilio"), "TEXTDESK_TWILIO_AUTH_TOKEN");
    }

    #[test]
    fn webhook_addresses_keep_the_first_hook_short() {
        let inbound = Webhook { name: "inbound", label: "A message comes in", about: "incoming-message" };
        let status = Webhook { name: "status", label: "Status callback URL", about: "status callback" };
        assert_eq!(webhook_url("https://x", "twilio", 7, &inbound), "https://x/webhooks/twilio/7");
        assert_eq!(webhook_url("https://x", "twilio", 7, &status), "https://x/webhooks/twilio/7/status");
    }
}
