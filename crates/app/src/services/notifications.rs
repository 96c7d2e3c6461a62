//! The business starts an exchange: a notification by API, or an agent's
//! "New conversation". Either names a number (typed as people type it, read
//! in the inbox's country) or a contact, and goes through the one gate as a
//! business-initiated message: it needs a recorded opt-in and waits out the
//! customer's quiet hours. The contact and conversation are created with the
//! message, or continued.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use textdesk_core::gate::OutboundKind;
use textdesk_core::hours::describe_opening;
use textdesk_core::template::{Template, Var, Vars, first_name};
use textdesk_core::{Address, Body, ConsentState, Invalid};
use textdesk_store::{IdemKey, Inbox, Keyed, Message, NewOutbound, NotifyOutcome, User};

use crate::services::Services;
use crate::services::consent::{ConsentAbout, ConsentAsk};
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::idempotency::{Answer, Render};
use crate::services::metrics::Metrics;
use crate::services::schedule::{check_future, moment};
use crate::services::templates::{TemplateFill, filled};

/// Who a notification is for.
#[derive(Debug, Clone)]
pub enum Recipient {
    /// A number as typed: "+14155550123", "(415) 555-0123" (in the inbox's country).
    Number(String),
    Contact(i64),
}

/// What it says.
#[derive(Debug, Clone)]
pub enum Content {
    Text(String),
    /// A canned response (its id, or its shortcut with or without the `/`),
    /// with values for its `{variables}` that replace the ones the app knows.
    Template {
        canned: String,
        variables: BTreeMap<String, String>,
    },
    /// An approved provider template of the inbox (WhatsApp's), by name (and
    /// language where it has several), with its values: the only thing that
    /// reaches a customer outside the channel's reply window.
    ProviderTemplate {
        name: String,
        language: Option<String>,
        fill: TemplateFill,
    },
}

/// A customer's opt-in given outside the text channel (by phone, in person),
/// recorded in the consent ledger before the first text.
#[derive(Debug, Clone)]
pub struct GivenConsent {
    /// How it was given: `verbal`, `in_person`, `web_form`, `api`…
    pub source: String,
    /// Their words, or where and when they were given.
    pub evidence: String,
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub to: Recipient,
    pub inbox_id: i64,
    pub content: Content,
    /// An instant with its offset, or a local time ("2026-12-08T09:00") on the customer's clock.
    pub send_at: Option<String>,
    pub consent: Option<GivenConsent>,
}

/// A notification stored: queued now, or waiting (`message.send_at`) for the
/// time asked or for the end of the customer's quiet hours.
#[derive(Debug, Clone)]
pub struct NotificationSent {
    pub message: Message,
    pub contact_id: i64,
    pub conversation_id: i64,
    pub new_conversation: bool,
    /// The customer's zone, to say a waiting message's time on their clock.
    pub zone: TimeZone,
}

/// Where a notification goes, resolved before anything is stored.
struct Target {
    inbox: Inbox,
    to: Address,
    /// The contact when known already (None: created with the message).
    contact: Option<textdesk_store::Contact>,
    zone: TimeZone,
}

impl Services {
    /// Sends a notification once per idempotency key; the answer is `render`
    /// of what was stored (201), the same for every repeat of the key.
    pub async fn notify(
        &self,
        user: &User,
        n: Notification,
        reason: &str,
        key: Option<&IdemKey>,
        render: impl Fn(&NotificationSent) -> String + Send + Sync,
    ) -> ServiceResult<Answer> {
        if let Some(answer) = self.replay(key, Render::Notification(&render)).await? {
            return Ok(answer);
        }
        let target = self.target(user, &n.to, n.inbox_id).await?;
        let now = Timestamp::now();
        let send_at = match n.send_at.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => Some(check_future(moment(t, &target.zone)?, now)?).filter(|t| *t > now),
            None => None,
        };
        let (body, template) = match &n.content {
            Content::ProviderTemplate { name, language, fill } => {
                let t = self.template_by_name(target.inbox.id, name, language.as_deref()).await?;
                let (body, template) = filled(t, fill)?;
                (body, Some(template))
            }
            other => (self.notification_body(user, &target, other, now).await?, None),
        };
        let channel = self.capabilities(&target.inbox.provider, target.inbox.medium);
        channel.check_length(body.as_str())?;
        if let Some(given) = &n.consent {
            let contact_id = self.store.contact_for_address(user.account_id, &target.to).await?;
            let ask = ConsentAsk {
                about: ConsentAbout::Contact(contact_id),
                state: "opted_in",
                scope: None,
                source: &given.source,
                evidence: &given.evidence,
            };
            self.record_consent(user, ask).await?;
        }
        let policy = self.timing_for(user.account_id).await?;
        let explicit_zone = target.contact.as_ref().and_then(|c| c.time_zone.as_deref());
        // A business-started message never counts as a live exchange: no last inbound.
        let timing = policy.timing(explicit_zone, target.to.value(), None, send_at.unwrap_or(now));
        let new = NewOutbound {
            account_id: user.account_id,
            conversation_id: 0,
            author_id: Some(user.id),
            body,
            private: false,
            kind: OutboundKind::Notification,
            now,
            timing: Some(timing),
            channel,
            send_at,
            media: Vec::new(),
            template,
        };
        let outcome = self.store.send_notification(target.inbox.id, &target.to, reason, new, key).await?;
        match outcome {
            Keyed::Taken => match key {
                Some(key) => self.first_answer(key, Render::Notification(&render)).await,
                None => Err(ServiceError::Internal("an unkeyed notification found a key taken".into())),
            },
            Keyed::Fresh(NotifyOutcome::Blocked(reason)) => {
                Metrics::inc(&self.metrics.outbound_blocked);
                Err(ServiceError::Blocked(reason))
            }
            Keyed::Fresh(NotifyOutcome::Stored(n)) => {
                let sent = NotificationSent {
                    message: n.message,
                    contact_id: n.contact_id,
                    conversation_id: n.conversation_id,
                    new_conversation: n.new_conversation,
                    zone: target.zone,
                };
                let answer = Answer { status: 201, body: render(&sent) };
                self.remember(key, &answer).await?;
                Ok(answer)
            }
        }
    }

    /// The consent that counts for this recipient on this inbox, before
    /// anything is sent (a number nobody has texted yet has none).
    pub async fn consent_before_sending(
        &self,
        user: &User,
        to: &Recipient,
        inbox_id: i64,
    ) -> ServiceResult<ConsentState> {
        let target = self.target(user, to, inbox_id).await?;
        Ok(match target.contact {
            Some(c) => self.store.consent_on_inbox(c.id, inbox_id).await?,
            None => ConsentState::Unknown,
        })
    }

    /// The inbox, the address on its medium and the contact, if known.
    async fn target(&self, user: &User, to: &Recipient, inbox_id: i64) -> ServiceResult<Target> {
        let inbox = self.store.inbox(user.account_id, inbox_id).await?;
        let (to, contact) = match to {
            Recipient::Number(raw) => {
                // Typed as people write numbers, in the inbox's own country unless it says another.
                let region = self.home_country(user.account_id, Some(&inbox)).await?;
                let to = Address::parse_in(inbox.medium, raw, region.as_deref())
                    .map_err(|e| ServiceError::invalid(format!("to: {}", e.0)))?;
                let contact = self.store.contact_by_address(user.account_id, &to).await?;
                (to, contact)
            }
            Recipient::Contact(id) => {
                let contact = self.store.contact(user.account_id, *id).await?;
                let namespace = inbox.medium.identity_namespace();
                let identity = contact.identities.iter().find(|i| i.namespace == namespace).ok_or_else(|| {
                    ServiceError::invalid(format!(
                        "contact {id} has no address this inbox can reach ({}); give `to` instead",
                        inbox.medium.label()
                    ))
                })?;
                (Address::parse(inbox.medium, &identity.address)?, Some(contact))
            }
        };
        let policy = self.timing_for(inbox.account_id).await?;
        let zone = policy.zone_for(contact.as_ref().and_then(|c| c.time_zone.as_deref()), to.value());
        Ok(Target { inbox, to, contact, zone })
    }

    /// The text: as given, or a canned response filled in (the caller's
    /// values first, then what the app knows); a variable left with no value
    /// and no fallback is refused, since nobody reads it before it goes.
    async fn notification_body(
        &self,
        user: &User,
        t: &Target,
        content: &Content,
        now: Timestamp,
    ) -> ServiceResult<Body> {
        let (canned, variables) = match content {
            Content::Text(text) => return Ok(Body::parse(text)?),
            Content::Template { canned, variables } => (canned.trim(), variables),
            Content::ProviderTemplate { .. } => {
                return Err(ServiceError::Internal("a provider template has no canned body".into()));
            }
        };
        let found = match canned.parse::<i64>() {
            Ok(id) => self.store.canned(user.account_id, id).await?,
            Err(_) => {
                let shortcut = canned.trim_start_matches('/');
                let all = self.store.canned_list(user.account_id, Some(shortcut)).await?;
                all.into_iter()
                    .find(|c| c.shortcut == shortcut)
                    .ok_or_else(|| ServiceError::invalid(format!("no canned response has the shortcut /{shortcut}")))?
            }
        };
        let template = Template::parse(&found.body)?;
        let hours = self.hours_of(&t.inbox).await?.hours;
        let next_open =
            if hours.is_open(now) { None } else { hours.next_opening(now).map(|o| describe_opening(o, &t.zone, now)) };
        let contact_name = t.contact.as_ref().map(|c| c.name.as_str()).unwrap_or("");
        let business = self.business_name_of(user.account_id).await?;
        let mut vars = Vars::new(contact_name, &user.name, &business, next_open);
        for (name, value) in variables {
            let var = Var::ALL.into_iter().find(|v| v.name() == name).ok_or_else(|| {
                let known: Vec<&str> = Var::ALL.iter().map(|v| v.name()).collect();
                ServiceError::invalid(format!("variables: {name:?} is not a variable; use {}", known.join(", ")))
            })?;
            set_var(&mut vars, var, value);
        }
        // A full name given without its first name brings the first name too.
        for (full, first) in [("contact.name", "contact.first_name"), ("agent.name", "agent.first_name")] {
            if let (Some(name), false) = (variables.get(full), variables.contains_key(first)) {
                let var = if first == "contact.first_name" { Var::ContactFirstName } else { Var::AgentFirstName };
                set_var(&mut vars, var, &first_name(name).unwrap_or_default());
            }
        }
        let rendered = template.render(&vars);
        if let Some(missing) = rendered.missing.first() {
            return Err(Invalid::new(format!(
                "the template needs {{{}}}: give it in variables (or a fallback in the template)",
                missing.name()
            ))
            .into());
        }
        Ok(Body::parse(&rendered.text)?)
    }
}

fn set_var(vars: &mut Vars, var: Var, value: &str) {
    let v = Some(value.to_owned());
    match var {
        Var::ContactFirstName => vars.contact_first_name = v,
        Var::ContactName => vars.contact_name = v,
        Var::AgentName => vars.agent_name = v,
        Var::AgentFirstName => vars.agent_first_name = v,
        Var::BusinessName => vars.business_name = v,
        Var::NextOpen => vars.next_open = v,
    }
}

/// What the "New conversation" form offers: the account's inboxes, and its
/// most recent contacts (the rest are reached by typing their number).
pub struct Choices {
    pub inboxes: Vec<Inbox>,
    pub contacts: Vec<textdesk_store::Contact>,
}

/// How many recent contacts the form lists.
const RECENT_CONTACTS: i64 = 100;

impl Services {
    pub async fn new_conversation_choices(&self, user: &User) -> ServiceResult<Choices> {
        Ok(Choices {
            inboxes: self.store.inboxes(user.account_id).await?,
            contacts: self.store.contacts(user.account_id, None, None, RECENT_CONTACTS).await?,
        })
    }
}
