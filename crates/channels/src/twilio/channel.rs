//! Twilio as a provider: its setup fields, its two webhooks (a message comes
//! in; a status callback), and a channel over `TwilioClient`.

use std::sync::Arc;

use serde_json::Value;
use textdesk_core::{Capabilities, Medium};
use tokio::sync::mpsc;

use super::client::{CredentialError, DEFAULT_API_BASE, TwilioClient, TwilioConfig};
use super::signature::{SIGNATURE_HEADER, validate_form, validate_json};
use super::voice::{dial_twiml, parse_call_report, say_and_hang_up_twiml};
use super::webhook::{EMPTY_TWIML, TWIML_CONTENT_TYPE, parse_inbound, parse_status};
use crate::provider::{
    self, Answer, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure,
    MediaFile, Provider, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::voice::{CallReport, CallRequest, Voice};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub struct Twilio;

const FIELDS: [SetupField; 4] = [
    SetupField::text("account_sid", "Account SID", "Starts with AC; on the Twilio console's home page.").required(),
    SetupField::text("auth_token", "Auth token", "Beside the account SID in the Twilio console.").secret().required(),
    SetupField::text(
        "messaging_service_sid",
        "Messaging service SID",
        "Optional: send through this messaging service (MG…) instead of the number.",
    ),
    SetupField::text(
        "api_base",
        "API address",
        "Optional: only for a provider that copies Twilio's API, or a test fake.",
    )
    .default(DEFAULT_API_BASE)
    .advanced(),
];

const HOOKS: [Webhook; 2] = [
    Webhook { name: "inbound", label: "A message comes in", about: "incoming-message" },
    Webhook { name: "status", label: "Status callback URL", about: "status callback" },
];

impl Provider for Twilio {
    fn key(&self) -> &'static str {
        "twilio"
    }
    fn label(&self) -> &'static str {
        "Twilio"
    }
    fn blurb(&self) -> &'static str {
        "or a Twilio-compatible provider"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Sms]
    }
    fn capabilities(&self, medium: Medium) -> Capabilities {
        Capabilities {
            media: true,
            max_chars: textdesk_core::Body::MAX_CHARS,
            reply_window: medium.reply_window(),
            human_agent_window: medium.human_agent_window(),
            delivery_receipts: true,
            read_receipts: medium == Medium::Whatsapp,
        }
    }
    fn setup(&self) -> &'static [SetupField] {
        &FIELDS
    }
    fn webhooks(&self) -> &'static [Webhook] {
        &HOOKS
    }
    fn keeps_connection(&self) -> bool {
        false
    }
    fn metered(&self) -> bool {
        true
    }
    fn voice(&self) -> bool {
        true
    }
    fn sender(&self, _stored: &StoredSetup, medium: Medium, raw: &str) -> Result<String, String> {
        // A messaging service picks the number itself; the sender is still the
        // number customers text, so it is required and checked.
        provider::address_sender(medium, raw)
    }
    fn summary(&self, _stored: &StoredSetup) -> Option<String> {
        None
    }
    fn webhook_help(&self) -> Option<&'static str> {
        Some("In the Twilio console, open this number (or its messaging service) and paste these.")
    }
    fn open(&self, ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        let mut cfg = TwilioConfig::new(
            stored.text("account_sid").ok_or("the inbox has no Twilio account SID")?,
            stored.text("auth_token").ok_or("the inbox has no Twilio auth token")?,
        );
        if let Some(base) = stored.text("api_base") {
            cfg.api_base = base.to_owned();
        }
        cfg.messaging_service_sid = stored.text("messaging_service_sid").map(str::to_owned);
        cfg.media_policy = ctx.media_policy.clone();
        let client = TwilioClient::new(cfg).map_err(|e| e.0)?;
        Ok(Arc::new(TwilioChannel { client, status_url: ctx.webhook_url(self.key(), &HOOKS[1]) }))
    }
}

struct TwilioChannel {
    client: TwilioClient,
    /// Set on every message sent, so Twilio reports delivery to this inbox.
    status_url: String,
}

impl TwilioChannel {
    /// The request's parameters once its signature is proven.
    fn verified_params(&self, req: &InboundRequest<'_>) -> Result<Vec<(String, String)>, Refusal> {
        let signature = req
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Refusal::Forbidden("missing X-Twilio-Signature".into()))?;
        let token = &self.client.config().auth_token;
        // Twilio signs JSON bodies over a hash in the query instead of the parameters.
        let json_body = url::Url::parse(req.url).is_ok_and(|u| u.query_pairs().any(|(k, _)| k == "bodySHA256"));
        let (valid, params) = if json_body {
            let params = serde_json::from_slice::<serde_json::Map<String, Value>>(req.body)
                .map(|m| {
                    m.into_iter().map(|(k, v)| (k, v.as_str().map(str::to_owned).unwrap_or(v.to_string()))).collect()
                })
                .unwrap_or_default();
            (validate_json(token, req.url, req.body, signature), params)
        } else {
            let params: Vec<(String, String)> =
                url::form_urlencoded::parse(req.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
            (validate_form(token, req.url, &params, signature), params)
        };
        if !valid {
            return Err(Refusal::Forbidden("the X-Twilio-Signature does not match".into()));
        }
        // A valid signature from another account is impossible, but a copied
        // webhook address pointed at the wrong inbox is caught here.
        let sid = params.iter().find(|(k, _)| k == "AccountSid").map(|(_, v)| v.as_str()).unwrap_or_default();
        if sid != self.client.config().account_sid {
            return Err(Refusal::Forbidden("the AccountSid is not this inbox's account".into()));
        }
        Ok(params)
    }
}

impl Channel for TwilioChannel {
    fn verify(&self, req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        let hook =
            HOOKS.iter().find(|h| h.name == req.hook).ok_or_else(|| Refusal::NotFound("no such webhook".into()))?;
        let params = self.verified_params(req)?;
        let bad = |e: crate::ParseError| Refusal::BadRequest(e.0);
        let (event, answer) = match hook.name {
            "status" => (parse_status(&params).map_err(bad)?.event, Answer::NO_CONTENT),
            // Replies go out through the dispatcher, never inline.
            _ => (
                parse_inbound(&params, req.now).map_err(bad)?.event,
                Answer { status: 200, content_type: Some(TWIML_CONTENT_TYPE), body: EMPTY_TWIML.into() },
            ),
        };
        Ok(Inbound { events: vec![event], answer })
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(async move {
            let msg = Outgoing { status_callback: Some(self.status_url.clone()), ..msg.clone() };
            self.client.send(&msg).await
        })
    }

    fn find_sent<'a>(&'a self, q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        Box::pin(async move {
            match self.client.find_sent(q.from, q.to, q.body, q.since).await {
                Ok(ids) => FindSent::Found(ids),
                Err(e) => FindSent::AskLater(e.to_string()),
            }
        })
    }

    fn fetch_media<'a>(&'a self, url: &'a str, max_bytes: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        Box::pin(async move {
            self.client
                .download_media(url, max_bytes)
                .await
                .map(|d| MediaFile { content_type: d.content_type, bytes: d.bytes })
                .map_err(|e| MediaFailure { reason: e.reason, retryable: e.retryable })
        })
    }

    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(async move {
            self.client.check_credentials().await.map_err(|e| match e {
                CredentialError::Rejected => CheckFailure::Rejected(
                    "Twilio did not accept these credentials. Check the account SID and auth token in the Twilio console."
                        .into(),
                ),
                CredentialError::Unreachable(cause) => {
                    tracing::warn!(cause = %cause, "Twilio could not be reached to check credentials");
                    CheckFailure::Unreachable(
                        "Twilio could not be reached to check these credentials. Check the API address and this server's internet connection, then try again."
                            .into(),
                    )
                }
                CredentialError::Unexpected(cause) => {
                    tracing::warn!(cause = %cause, "Twilio answered a credential check unexpectedly");
                    CheckFailure::Unreachable(
                        "Twilio could not check these credentials just now. Try again in a few minutes.".into(),
                    )
                }
            })
        })
    }

    fn listen(&self) -> Result<Option<mpsc::Receiver<InboundEvent>>, String> {
        Ok(None)
    }

    fn link(&self) -> Option<(String, bool)> {
        None
    }

    fn voice(&self) -> Option<&dyn Voice> {
        Some(self)
    }
}

/// The same account SID and auth token place calls (Twilio Voice).
impl Voice for TwilioChannel {
    fn place_call<'a>(&'a self, call: &'a CallRequest) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(self.client.create_call(call))
    }

    fn verify_call(&self, req: &InboundRequest<'_>) -> Result<CallReport, Refusal> {
        let params = self.verified_params(req)?;
        parse_call_report(&params).map_err(Refusal::BadRequest)
    }

    fn bridge(&self, caller_id: &str, customer: &str) -> Answer {
        Answer { status: 200, content_type: Some(TWIML_CONTENT_TYPE), body: dial_twiml(caller_id, customer).into() }
    }

    fn refuse(&self, words: &str) -> Answer {
        Answer { status: 200, content_type: Some(TWIML_CONTENT_TYPE), body: say_and_hang_up_twiml(words).into() }
    }
}
