//! Idempotency-Key on the sends (`POST /api/v1/notifications`, `POST
//! /api/v1/conversations/{id}/messages`): a client retrying after a timeout
//! gets the first answer again, and never a second message. The key is
//! claimed in the transaction that stores the message (see the store's
//! `idempotency`); the answer is kept for the repeats right after.

use std::time::Duration;

use sha2::{Digest, Sha256};
use textdesk_store::{IdemKey, Keyed, Message, MessagePage, User};

use crate::services::Services;
use crate::services::conversations::Draft;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::notifications::NotificationSent;

/// The longest key accepted (a UUID is 36 characters).
const MAX_KEY_CHARS: usize = 255;
/// How long a repeat waits for the first request's answer (written
/// milliseconds after its commit) before building it again itself: the first
/// may have died between storing the message and keeping its answer.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(5);

/// How an operation renders its answer, for a repeat that must build it again
/// (the first request stored its message but died before keeping its answer).
#[derive(Clone, Copy)]
pub enum Render<'a> {
    Message(&'a (dyn Fn(Message) -> String + Send + Sync)),
    Notification(&'a (dyn Fn(&NotificationSent) -> String + Send + Sync)),
}

/// An answer to a keyed request, exactly as the first one was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// JSON.
    pub body: String,
}

impl Services {
    /// The key a request carries (None without the header), bound to the
    /// account, the operation and a fingerprint of what was asked: `request`
    /// serialized with its fields in a fixed order, so spacing and key order
    /// in the client's JSON do not matter.
    pub fn idempotency_key(
        user: &User,
        endpoint: &str,
        header: Option<&str>,
        request: &impl serde::Serialize,
    ) -> ServiceResult<Option<IdemKey>> {
        let Some(key) = header else { return Ok(None) };
        let key = key.trim();
        if key.is_empty() || key.chars().count() > MAX_KEY_CHARS || key.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(ServiceError::invalid(format!(
                "Idempotency-Key is 1 to {MAX_KEY_CHARS} printable ASCII characters (a UUID is a good choice)"
            )));
        }
        let canonical = serde_json::to_vec(request).map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok(Some(IdemKey {
            account_id: user.account_id,
            endpoint: endpoint.to_owned(),
            key: key.to_owned(),
            fingerprint: hex::encode(Sha256::digest(&canonical)),
        }))
    }

    /// The first answer to this key, when it has one: a repeat is answered
    /// before anything is read or checked again (the request may have become
    /// invalid since, a time now past, and still deserves the first answer).
    pub async fn replay(&self, key: Option<&IdemKey>, render: Render<'_>) -> ServiceResult<Option<Answer>> {
        let Some(key) = key else { return Ok(None) };
        match self.store.idempotency_record(key).await? {
            None => Ok(None),
            Some(_) => self.first_answer(key, render).await.map(Some),
        }
    }

    /// The answer of the request that took the key: refused if this one asks
    /// something else with it, waited for while the first is still answering.
    pub(crate) async fn first_answer(&self, key: &IdemKey, render: Render<'_>) -> ServiceResult<Answer> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
        loop {
            let record = self.store.idempotency_record(key).await?.ok_or_else(|| {
                ServiceError::Conflict(
                    "this Idempotency-Key's message is gone (cancelled or erased); use a new key".into(),
                )
            })?;
            if record.fingerprint != key.fingerprint {
                return Err(ServiceError::invalid(
                    "this Idempotency-Key was used with a different request; use a new key for a new request",
                ));
            }
            if let Some((status, body)) = record.response {
                return Ok(Answer { status, body });
            }
            if tokio::time::Instant::now() >= deadline {
                let Some(message_id) = record.message_id else {
                    return Err(ServiceError::Conflict(
                        "a request with this Idempotency-Key is still in progress; retry in a few seconds".into(),
                    ));
                };
                // Kept only if nobody kept one meanwhile; the next look returns whichever was.
                let body = self.render_again(key.account_id, message_id, render).await?;
                self.store.remember_response(key, 201, &body).await?;
                continue;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Keeps a fresh answer for the key's repeats.
    pub(crate) async fn remember(&self, key: Option<&IdemKey>, answer: &Answer) -> ServiceResult<()> {
        if let Some(key) = key {
            self.store.remember_response(key, answer.status, &answer.body).await?;
        }
        Ok(())
    }

    /// An agent's or API client's message (`send`) under an idempotency key:
    /// stored once, answered (201, `render` of the message) the same every time.
    pub async fn send_once(
        &self,
        user: &User,
        conversation_id: i64,
        draft: Draft,
        key: Option<&IdemKey>,
        render: impl Fn(Message) -> String + Send + Sync,
    ) -> ServiceResult<Answer> {
        match self.send_keyed(user, conversation_id, draft, key).await? {
            Keyed::Fresh(m) => {
                let answer = Answer { status: 201, body: render(m) };
                self.remember(key, &answer).await?;
                Ok(answer)
            }
            Keyed::Taken => match key {
                Some(key) => self.first_answer(key, Render::Message(&render)).await,
                None => Err(ServiceError::Internal("an unkeyed send found a key taken".into())),
            },
        }
    }

    /// The answer for a key's stored message, built from what is stored now.
    async fn render_again(&self, account_id: i64, message_id: i64, render: Render<'_>) -> ServiceResult<String> {
        let message = self.store.message(message_id).await?;
        let render = match render {
            Render::Message(f) => return Ok(f(message)),
            Render::Notification(f) => f,
        };
        let conversation = self.store.conversation(account_id, message.conversation_id).await?;
        let clock = self.store.contact_clock(conversation.id).await?;
        let first = self.store.messages(account_id, conversation.id, MessagePage::After(None), 1).await?;
        let sent = NotificationSent {
            new_conversation: first.first().is_some_and(|m| m.id == message_id),
            zone: self.timing_for(account_id).await?.zone_for(clock.time_zone.as_deref(), &clock.address),
            contact_id: conversation.contact_id,
            conversation_id: conversation.id,
            message,
        };
        Ok(render(&sent))
    }
}
