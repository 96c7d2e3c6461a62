//! Answering on another channel the customer uses (F3): which of the account's
//! inboxes reach one of the contact's addresses, which is the default (the
//! conversation's own), and the route a reply takes through a choice.
//! The message still passes the one gate, judged by the chosen inbox's consent
//! scope, reply window and the customer's quiet hours (`Store::send_outbound_routed`).

use jiff::Timestamp;
use textdesk_core::Medium;
use textdesk_core::gate::OutboundKind;
use textdesk_store::{Conversation, Route};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// One way to reach the customer: an inbox and their address on its medium.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChannelOption {
    pub inbox_id: i64,
    pub inbox_name: String,
    pub medium: Medium,
    #[serde(skip)]
    pub identity_id: i64,
    /// When the customer last wrote through this inbox; None: never (a
    /// message through it is the business starting the exchange there).
    #[serde(skip)]
    pub last_inbound: Option<Timestamp>,
    /// The conversation's own channel now.
    pub current: bool,
}

impl ChannelOption {
    /// "SMS · Main line": what the picker and the API's documentation show.
    pub fn label(&self) -> String {
        format!("{} · {}", self.medium.label(), self.inbox_name)
    }
}

/// The channels a conversation's customer can be answered on.
#[derive(Debug, Clone)]
pub struct ChannelChoice {
    /// The conversation's own first, then by inbox name.
    pub options: Vec<ChannelOption>,
    /// The conversation's own inbox (where the customer or an agent last moved it).
    pub default_inbox: i64,
}

impl ChannelChoice {
    /// Worth a picker in the composer only when the customer is on more than
    /// one medium: another of the business's numbers on the same medium is
    /// still a choice over the API, but not worth a row of a phone's screen
    /// on every SMS conversation of a business with two numbers.
    pub fn has_choice(&self) -> bool {
        let Some(first) = self.options.first() else { return false };
        self.options.iter().any(|o| o.medium != first.medium)
    }
}

/// Media a conversation's reply cannot take: calls and email are not texts.
fn answers_in_text(medium: Medium) -> bool {
    !matches!(medium, Medium::Voice | Medium::Email)
}

impl Services {
    /// The inboxes that reach conversation `id`'s customer.
    pub async fn reply_channels(&self, account_id: i64, id: i64) -> ServiceResult<ChannelChoice> {
        let conv = self.store.conversation(account_id, id).await?;
        self.channels_of(&conv).await
    }

    pub(crate) async fn channels_of(&self, conv: &Conversation) -> ServiceResult<ChannelChoice> {
        let identities = self.store.identities(conv.contact_id).await?;
        let last = self.store.last_inbound_by_inbox(conv.contact_id).await?;
        let mut options = Vec::new();
        for inbox in self.store.inboxes(conv.account_id).await? {
            if !answers_in_text(inbox.medium) {
                continue;
            }
            let namespace = inbox.medium.identity_namespace();
            // The conversation's own address where it fits, else their newest on that medium.
            let identity =
                identities.iter().filter(|i| i.namespace == namespace).max_by_key(|i| (i.id == conv.identity_id, i.id));
            let Some(identity) = identity else { continue };
            options.push(ChannelOption {
                inbox_id: inbox.id,
                inbox_name: inbox.name,
                medium: inbox.medium,
                identity_id: identity.id,
                last_inbound: last.iter().find(|(i, _)| *i == inbox.id).map(|(_, t)| *t),
                current: inbox.id == conv.inbox_id,
            });
        }
        options.sort_by_key(|o| !o.current);
        // The conversation's own channel: it is where the last move took it (a
        // web visitor who chose to continue by text has written nothing by SMS
        // yet, and their answer would go back to the closed chat window).
        Ok(ChannelChoice { options, default_inbox: conv.inbox_id })
    }

    /// The route a message of `conv` takes through inbox `via`, and the kind
    /// it goes as: through an inbox the customer never wrote to, a reply is
    /// the business starting the exchange there (a notification: it needs
    /// their opt-in in that inbox's scope). None: the conversation's own channel.
    pub(crate) async fn route_via(
        &self,
        conv: &Conversation,
        via: Option<i64>,
        kind: OutboundKind,
    ) -> ServiceResult<(Option<Route>, OutboundKind)> {
        let Some(via) = via.filter(|v| *v != conv.inbox_id) else { return Ok((None, kind)) };
        let choice = self.channels_of(conv).await?;
        let option = choice.options.into_iter().find(|o| o.inbox_id == via).ok_or_else(|| {
            ServiceError::Invalid(format!(
                "inbox {via} does not reach this customer: choose one of the conversation's channels"
            ))
        })?;
        let kind = match (kind, option.last_inbound) {
            (OutboundKind::Reply, None) => OutboundKind::Notification,
            (k, _) => k,
        };
        Ok((Some(Route { inbox_id: option.inbox_id, identity_id: option.identity_id, medium: option.medium }), kind))
    }
}
