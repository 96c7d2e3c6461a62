//! Delivering webhooks. [`Deliverer`] is a consumer of the event log: inside
//! the transaction that moves its cursor it writes one `webhook_deliveries`
//! row per active subscription that asked for the event's type, and nothing
//! else, so a slow or dead receiver never slows what produced the event.
//! [`Services::send_webhooks_due`] claims due rows (a lease, one node at a
//! time), posts them signed per Standard Webhooks, and records the answer:
//! delivered; tried again with backoff after a timeout, a connection error, a
//! 5xx or a 429 (its `Retry-After` honoured) for a day; failed at once on any
//! other answer or a refused address. A subscription failing for
//! `webhook_disable_after_hours` in a row is switched off, with an audit entry.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sqlx::AnyConnection;
use textdesk_channels::net::Refused;
use textdesk_core::event::DomainEvent;
use textdesk_core::webhook::{AUTOMATION_FIRED, event_type, next_attempt};
use textdesk_store::webhooks::{self as db, NewDelivery};
use textdesk_store::{AttemptEnd, Consumer, DueDelivery, LoggedEvent, NewAudit, StoreError};

use crate::services::Services;
use crate::services::error::ServiceResult;

/// The cursor row's name.
pub const CURSOR: &str = "webhooks";

/// How long a claimed delivery is held before another sender may take it
/// (well past an attempt's timeout).
const LEASE: SignedDuration = SignedDuration::from_secs(60);

/// How long a finished delivery stays in the log.
pub const KEEP_LOG: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Deliveries attempted side by side per pass.
pub const BATCH: i64 = 20;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The `webhook-signature` value's signature: base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`, keyed with the base64-decoded part of the secret
/// after `whsec_`. None for a secret that is not base64 (never made here).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret)).ok()?;
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&key).ok()?;
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(STANDARD.encode(mac.finalize().into_bytes()))
}

/// The consumer. It holds nothing: what it reads, it reads in its transaction.
pub struct Deliverer;

impl Consumer for Deliverer {
    fn name(&self) -> &str {
        CURSOR
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        event: &'a LoggedEvent,
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        on_event(tx, event)
    }
}

async fn on_event(tx: &mut AnyConnection, event: &LoggedEvent) -> textdesk_store::Result<()> {
    // A rule's "call a webhook" goes to the subscriptions it names (if still on), whatever they subscribe to.
    let (kind, called) = match &event.event {
        DomainEvent::AutomationFired { webhooks, .. } if !webhooks.is_empty() => (AUTOMATION_FIRED, Some(webhooks)),
        e => match event_type(e) {
            Some(kind) => (kind, None),
            None => return Ok(()),
        },
    };
    let subs: Vec<i64> = db::active_webhooks_in(tx, event.account_id, event.created_at)
        .await?
        .into_iter()
        .filter(|(id, events)| match called {
            Some(ids) => ids.contains(id),
            None => events.iter().any(|e| e == kind),
        })
        .map(|(id, _)| id)
        .collect();
    if subs.is_empty() {
        return Ok(());
    }
    let Some((data, once)) = payload_data(tx, event).await? else { return Ok(()) };
    let contact_id = data["contact_id"].as_i64();
    let body = json!({ "type": kind, "timestamp": event.created_at.to_string(), "data": data }).to_string();
    for sub in subs {
        // The same change logged in several conversations (a contact's
        // consent) is one delivery: its id names the change, not the row.
        let msg_id = format!("msg_{sub}_{once}");
        let d = NewDelivery {
            subscription_id: sub,
            account_id: event.account_id,
            event_id: Some(event.id),
            contact_id,
            msg_id: &msg_id,
            event_type: kind,
            payload: &body,
            now: Timestamp::now(),
        };
        db::queue_webhook_delivery(tx, d).await?;
    }
    Ok(())
}

/// The payload's `data`, and what makes its delivery unique; None when what
/// it was about is gone (deleted since), so there is nothing to say.
async fn payload_data(tx: &mut AnyConnection, event: &LoggedEvent) -> textdesk_store::Result<Option<(Value, String)>> {
    let once = event.id.to_string();
    let message_id = match &event.event {
        DomainEvent::MessageReceived { message_id, .. }
        | DomainEvent::MessageSent { message_id }
        | DomainEvent::MessageDelivered { message_id }
        | DomainEvent::MessageFailed { message_id, .. }
        | DomainEvent::MessageStatusChanged { message_id, .. } => Some(*message_id),
        _ => None,
    };
    if let Some(id) = message_id {
        let Some(m) = db::message_facts_in(tx, id).await? else { return Ok(None) };
        let c = &m.conversation;
        let mut data = json!({
            "message_id": m.message_id,
            "conversation_id": c.conversation_id,
            "inbox_id": c.inbox_id,
            "contact_id": c.contact_id,
            "contact_address": c.contact_address,
            "direction": m.direction,
            "body": m.body,
            "status": m.status,
            "created_at": m.created_at.to_string(),
        });
        match &event.event {
            DomainEvent::MessageDelivered { .. } => data["status"] = json!("delivered"),
            DomainEvent::MessageFailed { will_retry, .. } => {
                data["status"] = json!("failed");
                data["will_retry"] = json!(will_retry);
                data["error"] = json!(m.error);
            }
            DomainEvent::MessageStatusChanged { status, .. } => {
                data["status"] = json!(status.as_str());
                data["error"] = json!(m.error);
            }
            _ => {}
        }
        return Ok(Some((data, once)));
    }
    let Some(c) = db::conversation_facts_in(tx, event.conversation_id).await? else { return Ok(None) };
    let mut data = json!({
        "conversation_id": c.conversation_id,
        "inbox_id": c.inbox_id,
        "contact_id": c.contact_id,
        "contact_address": c.contact_address,
        "status": c.status,
        "assignee_id": c.assignee_id,
        "team_id": c.team_id,
    });
    match &event.event {
        DomainEvent::Assigned { assignee_id, why } => {
            data["assignee_id"] = json!(assignee_id);
            if let Some(why) = why {
                data["why"] = json!(why);
            }
        }
        DomainEvent::Unassigned {} => data["assignee_id"] = Value::Null,
        DomainEvent::Escalated { escalation_id, to, reason, supervisor_id, kept_agent, link, message_id } => {
            data["escalation_id"] = json!(escalation_id);
            data["to"] = json!(to.as_str());
            data["reason"] = json!(reason);
            data["supervisor_id"] = json!(supervisor_id);
            data["kept_agent"] = json!(kept_agent);
            data["link"] = json!(link);
            data["message_id"] = json!(message_id);
            data["escalated_by"] = json!(event.actor_id);
        }
        DomainEvent::SurveyAnswered { survey_id, kind, score, message_id, agent_id, team_id } => {
            // The words that came with the score, read again from the reply (the row may
            // hold a later comment by now; that comment has no webhook type of its own yet).
            let reply = db::message_facts_in(tx, *message_id).await?;
            let comment =
                reply.and_then(|m| textdesk_core::survey::read_answer(*kind, &m.body)).and_then(|a| a.comment);
            data["survey_id"] = json!(survey_id);
            data["kind"] = json!(kind.as_str());
            data["score"] = json!(score);
            data["low"] = json!(kind.is_low(*score));
            data["comment"] = json!(comment);
            data["message_id"] = json!(message_id);
            data["agent_id"] = json!(agent_id);
            data["team_id"] = json!(team_id);
        }
        DomainEvent::AutomationFired { rule_id, rule, did, .. } => {
            data["rule_id"] = json!(rule_id);
            data["rule"] = json!(rule);
            data["did"] = json!(did);
        }
        DomainEvent::ConsentChanged { to, source, scope, message_id } => {
            // About the person, not one conversation: logged once per conversation of theirs.
            let data = json!({
                "contact_id": c.contact_id,
                "contact_address": c.contact_address,
                "consent": to.as_str(),
                "source": source,
                "scope": scope,
                "message_id": message_id,
            });
            let once = format!("consent_{}_{}", c.contact_id, event.created_at.as_millisecond());
            return Ok(Some((data, once)));
        }
        _ => {}
    }
    Ok(Some((data, once)))
}

/// What the receiver's `Retry-After` asks for: seconds, or an HTTP date.
fn retry_after(value: Option<&reqwest::header::HeaderValue>, now: Timestamp) -> Option<SignedDuration> {
    let v = value?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return Some(SignedDuration::from_secs(secs.max(0)));
    }
    let at = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    Some(at.duration_since(now).max(SignedDuration::ZERO))
}

/// Whether the error came from the address guard (a private address).
fn refused(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        // The resolver's refusal may arrive boxed by the connector: its words then tell.
        if s.downcast_ref::<Refused>().is_some() || s.to_string().contains(textdesk_channels::net::UNREACHABLE) {
            return true;
        }
        source = s.source();
    }
    false
}

const PRIVATE: &str = "refused: the address is private or local, and webhooks go to public addresses only";

impl Services {
    /// Starts the consumer at the end of the log the first time, so
    /// subscriptions hear of what happens from now on, not of the history.
    pub async fn start_webhooks(&self) -> ServiceResult<()> {
        Ok(self.store.start_consumer_at_end(CURSOR).await?)
    }

    /// Turns every event not handled yet into deliveries. Returns how many
    /// events it passed. The worker runs this when events are written; tests
    /// call it to drive the consumer a step at a time.
    pub async fn run_webhooks(&self) -> ServiceResult<usize> {
        Ok(self.store.consume_all(&Deliverer, 100).await?)
    }

    /// What the worker runs: [`Services::run_webhooks`] while any
    /// subscription is on. With none (most installations), reading the log
    /// would only move the cursor, a write per batch that competes with every
    /// incoming text for SQLite's lock; instead, when `skip_due`, the cursor
    /// jumps to the end in one statement that checks again that nothing is
    /// subscribed.
    pub async fn tend_webhooks(&self, skip_due: bool) -> ServiceResult<usize> {
        if self.store.any_active_webhook().await? {
            return self.run_webhooks().await;
        }
        if skip_due {
            self.store.skip_idle_webhook_cursor(CURSOR).await?;
        }
        Ok(0)
    }

    /// Attempts the deliveries due at `now` (the scheduler's clock: tests
    /// move it; the signature's timestamp is always the real time), side by
    /// side. Returns how many were attempted.
    pub async fn send_webhooks_due(&self, now: Timestamp) -> ServiceResult<usize> {
        let due = self.store.claim_webhook_deliveries(now, LEASE, BATCH).await?;
        let ends = futures_util::future::join_all(due.iter().map(|d| self.attempt(d, now))).await;
        for (d, end) in due.iter().zip(ends) {
            let sub = self.store.finish_webhook_attempt(&d.delivery, &end, now).await?;
            let failing_for = sub.failing_since.map(|t| now.duration_since(t));
            if sub.active && failing_for.is_some_and(|f| f >= self.webhooks.disable_after) {
                self.switch_off(&sub, now).await?;
            }
        }
        Ok(due.len())
    }

    /// Drops finished deliveries older than [`KEEP_LOG`] from the log (their
    /// payloads quote customers). Run hourly by housekeeping.
    pub async fn prune_webhook_log(&self, now: Timestamp) -> ServiceResult<u64> {
        Ok(self.store.prune_webhook_deliveries(now - KEEP_LOG).await?)
    }

    async fn switch_off(&self, sub: &textdesk_store::WebhookSubscription, now: Timestamp) -> Result<(), StoreError> {
        let hours = self.webhooks.disable_after.as_hours();
        let reason = format!("Switched off: every delivery failed for {hours} hours in a row.");
        if !self.store.disable_failing_webhook(sub.account_id, sub.id, &reason, now).await? {
            return Ok(());
        }
        tracing::warn!(webhook = sub.id, "a webhook subscription kept failing and was switched off");
        let subject = format!("webhook:{}", sub.id);
        let detail = format!("{reason} Check the receiver at {}, then switch it on again.", sub.url);
        let entry = NewAudit {
            account_id: sub.account_id,
            actor_user_id: None,
            action: "webhook.disabled",
            subject: &subject,
            ip: None,
            detail: &detail,
        };
        self.store.record_audit(entry, now).await?;
        Ok(())
    }

    /// One attempt: how it ended, and when to try again.
    async fn attempt(&self, d: &DueDelivery, now: Timestamp) -> AttemptEnd {
        let attempt = u32::try_from(d.delivery.attempts + 1).unwrap_or(u32::MAX);
        let retry = |status: Option<u16>, error: String, asked: Option<SignedDuration>| {
            let next = next_attempt(now, attempt, asked);
            AttemptEnd::Failed { status, error, next: (next <= d.delivery.give_up_at).then_some(next) }
        };
        let give_up = |status: Option<u16>, error: &str| AttemptEnd::Failed { status, error: error.into(), next: None };
        let Ok(url) = url::Url::parse(&d.url) else { return give_up(None, "the URL is not valid") };
        if self.webhooks.policy.check_url(&url).is_err() {
            return give_up(None, PRIVATE);
        }
        let ts = Timestamp::now().as_second();
        let Some(signature) = sign(&d.secret, &d.delivery.msg_id, ts, &d.delivery.payload) else {
            return give_up(None, "the signing secret is damaged; rotate it");
        };
        let sent = self
            .webhooks
            .client
            .post(url)
            .timeout(super::ATTEMPT_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &d.delivery.msg_id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", format!("v1,{signature}"))
            .body(d.delivery.payload.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => AttemptEnd::Delivered { status: r.status().as_u16() },
            Ok(r) => {
                let status = r.status().as_u16();
                if status == 429 || status >= 500 {
                    let asked = retry_after(r.headers().get(reqwest::header::RETRY_AFTER), Timestamp::now());
                    retry(Some(status), format!("answered {status}"), asked)
                } else {
                    give_up(Some(status), &format!("answered {status}; not retried"))
                }
            }
            Err(e) if refused(&e) => give_up(None, PRIVATE),
            Err(e) if e.is_timeout() => retry(None, "no answer within 10 seconds".into(), None),
            Err(_) => retry(None, "could not connect".into(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_example() {
        // The example in the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig.as_deref(), Some("g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = Timestamp::from_second(1_000_000_000).unwrap();
        let v = reqwest::header::HeaderValue::from_static("120");
        assert_eq!(retry_after(Some(&v), now), Some(SignedDuration::from_secs(120)));
        let v = reqwest::header::HeaderValue::from_static("Sun, 09 Sep 2001 01:48:40 GMT");
        assert_eq!(retry_after(Some(&v), now), Some(SignedDuration::from_secs(120)));
        let v = reqwest::header::HeaderValue::from_static("soon");
        assert_eq!(retry_after(Some(&v), now), None);
    }
}
