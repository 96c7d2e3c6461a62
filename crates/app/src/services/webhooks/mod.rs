//! Outgoing webhooks: the account's subscriptions, kept by admins (read by
//! supervisors too), each with a signing secret shown once. Delivery is in
//! [`deliver`]: a consumer of the event log writes one delivery per matching
//! subscription, and a sender posts due deliveries, signed per Standard
//! Webhooks, retrying for a day.

pub mod deliver;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jiff::{SignedDuration, Timestamp};
use textdesk_channels::net::FetchPolicy;
use textdesk_core::Role;
use textdesk_core::webhook::{MAX_URL, parse_description, parse_events};
use textdesk_store::{User, WebhookDelivery, WebhookFields, WebhookSubscription};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// How long one attempt may take, connection and answer together.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the sender needs on every node: where it may post, its client, and
/// when a failing subscription is switched off.
pub struct Hooks {
    pub policy: FetchPolicy,
    pub client: reqwest::Client,
    pub disable_after: SignedDuration,
}

impl Hooks {
    pub fn new(policy: FetchPolicy, disable_after: SignedDuration) -> anyhow::Result<Hooks> {
        let client = policy.client(ATTEMPT_TIMEOUT).map_err(anyhow::Error::msg)?;
        Ok(Hooks { policy, client, disable_after })
    }
}

/// What a subscription is to be, as typed (checked by [`Services::check_webhook`]).
#[derive(Debug, Clone, Default)]
pub struct WebhookDraft {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

const ADMINS_ONLY: &str = "webhooks are set up by admins";
const READERS: &str = "webhooks are seen by supervisors and admins";

fn require(u: &User, role: Role, why: &str) -> ServiceResult<()> {
    if u.role.at_least(role) { Ok(()) } else { Err(ServiceError::forbidden(why)) }
}

impl Services {
    /// Checks a draft: an https URL (http only to a private host the operator
    /// allowed), no address that is private unless allowed, known event types.
    pub fn check_webhook(&self, d: &WebhookDraft) -> ServiceResult<WebhookFields> {
        let raw = d.url.trim();
        if raw.len() > MAX_URL {
            return Err(ServiceError::invalid(format!("the URL is longer than {MAX_URL} characters")));
        }
        let url =
            url::Url::parse(raw).map_err(|_| ServiceError::invalid("the URL is not a web address (https://…)"))?;
        let allowed_private = self.webhooks.policy.allows_host_of(&url);
        match url.scheme() {
            "https" => {}
            "http" if allowed_private => {}
            _ => return Err(ServiceError::invalid("the URL must start with https://")),
        }
        if url.fragment().is_some() {
            return Err(ServiceError::invalid("the URL must not have a #fragment"));
        }
        // An address given as a private IP is refused here already; a name is
        // checked on every delivery, after it is resolved.
        if self.webhooks.policy.check_url(&url).is_err() || url.host_str() == Some("localhost") && !allowed_private {
            return Err(ServiceError::invalid(
                "the URL points at a private or local address; webhooks go to public addresses only",
            ));
        }
        Ok(WebhookFields {
            url: url.to_string(),
            description: parse_description(&d.description)?,
            events: parse_events(&d.events)?,
            active: d.active,
        })
    }

    /// How many webhooks were switched off for failing, for an admin's pages
    /// to say so (0 for anyone else: only admins can switch them on again).
    pub async fn webhooks_switched_off(&self, u: &User) -> ServiceResult<u32> {
        if !u.role.at_least(Role::Admin) {
            return Ok(0);
        }
        Ok(self.store.switched_off_webhooks(u.account_id).await?)
    }

    pub async fn list_webhooks(&self, u: &User) -> ServiceResult<Vec<WebhookSubscription>> {
        require(u, Role::Supervisor, READERS)?;
        Ok(self.store.webhooks(u.account_id).await?)
    }

    pub async fn get_webhook(&self, u: &User, id: i64) -> ServiceResult<WebhookSubscription> {
        require(u, Role::Supervisor, READERS)?;
        Ok(self.store.webhook(u.account_id, id).await?)
    }

    /// Adds a subscription; returns it with its secret, the one time it is shown.
    pub async fn create_webhook(&self, u: &User, d: &WebhookDraft) -> ServiceResult<(WebhookSubscription, String)> {
        require(u, Role::Admin, ADMINS_ONLY)?;
        let fields = self.check_webhook(d)?;
        let secret = new_secret();
        let sub = self.store.create_webhook(u.account_id, &fields, &secret).await?;
        Ok((sub, secret))
    }

    /// Saves a subscription's fields (`edit` changes the current ones).
    pub async fn update_webhook(
        &self,
        u: &User,
        id: i64,
        edit: impl FnOnce(&mut WebhookDraft),
    ) -> ServiceResult<WebhookSubscription> {
        require(u, Role::Admin, ADMINS_ONLY)?;
        let current = self.store.webhook(u.account_id, id).await?;
        let mut d = WebhookDraft {
            url: current.url,
            description: current.description,
            events: current.events,
            active: current.active,
        };
        edit(&mut d);
        let fields = self.check_webhook(&d)?;
        Ok(self.store.update_webhook(u.account_id, id, &fields).await?)
    }

    pub async fn delete_webhook(&self, u: &User, id: i64) -> ServiceResult<()> {
        require(u, Role::Admin, ADMINS_ONLY)?;
        self.store.delete_webhook(u.account_id, id).await?;
        self.audit(u, "webhook.deleted", &format!("webhook:{id}"), None, "").await
    }

    /// A new secret for the subscription, shown this once; the old one stops signing at once.
    pub async fn rotate_webhook_secret(&self, u: &User, id: i64) -> ServiceResult<String> {
        require(u, Role::Admin, ADMINS_ONLY)?;
        let secret = new_secret();
        self.store.set_webhook_secret(u.account_id, id, &secret).await?;
        Ok(secret)
    }

    /// The subscription's deliveries, newest first.
    pub async fn webhook_log(&self, u: &User, id: i64, limit: i64) -> ServiceResult<Vec<WebhookDelivery>> {
        require(u, Role::Supervisor, READERS)?;
        let sub = self.store.webhook(u.account_id, id).await?;
        Ok(self.store.webhook_deliveries(sub.id, limit).await?)
    }

    /// Sends a delivery again (due now, a fresh day of retries, the same `webhook-id`).
    pub async fn resend_webhook(&self, u: &User, id: i64, delivery_id: i64) -> ServiceResult<()> {
        require(u, Role::Admin, ADMINS_ONLY)?;
        let sub = self.store.webhook(u.account_id, id).await?;
        Ok(self.store.resend_webhook_delivery(sub.id, delivery_id, Timestamp::now()).await?)
    }
}
