//! Names for customers whose provider's webhooks carry none (LINE, Messenger):
//! asked of the provider's profile API after the message is stored, so a
//! slow or failing profile call never delays or loses the message. A
//! contact still unnamed is asked about again on their next message; an
//! agent's name for them always wins (only an unnamed contact is named).

use std::time::Duration;

use textdesk_channels::registry;
use textdesk_core::Address;
use textdesk_store::Inbox;

use crate::services::Services;

/// How long a profile call may take before it is given up (till the next message).
const PROFILE_TIMEOUT: Duration = Duration::from_secs(15);

impl Services {
    /// Whether a message just stored from `contact_id` should be followed by
    /// a profile lookup: the provider names customers only through its API,
    /// and nobody has named this one.
    pub(crate) async fn wants_profile(&self, inbox: &Inbox, contact_id: i64) -> bool {
        if !registry::find(&inbox.provider).is_some_and(|p| p.looks_up_names()) {
            return false;
        }
        match self.store.contact(inbox.account_id, contact_id).await {
            Ok(c) => c.name.trim().is_empty(),
            Err(_) => false,
        }
    }

    /// Asks the inbox's provider for the customer's name and gives it to
    /// their contact if nobody has named them meanwhile. Failures are logged
    /// without the customer's id or name. Returns whether the contact was named.
    pub async fn name_from_provider(&self, inbox: &Inbox, from: &Address) -> bool {
        let channel = match self.channel(inbox).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(inbox = inbox.id, error = %e, "the inbox cannot ask for a customer's profile");
                return false;
            }
        };
        let name = match tokio::time::timeout(PROFILE_TIMEOUT, channel.profile_name(from.value())).await {
            Ok(Ok(Some(name))) => name,
            Ok(Ok(None)) => return false,
            Ok(Err(why)) => {
                tracing::warn!(inbox = inbox.id, provider = %inbox.provider, why = %why, "a customer's profile was not read; asked again on their next message");
                return false;
            }
            Err(_) => {
                tracing::warn!(inbox = inbox.id, provider = %inbox.provider, "a customer's profile call timed out; asked again on their next message");
                return false;
            }
        };
        match self.store.name_if_unnamed(inbox.account_id, from, &name).await {
            Ok(named) => named,
            Err(e) => {
                tracing::error!(inbox = inbox.id, error = %e, "naming a contact from their profile failed");
                false
            }
        }
    }
}
