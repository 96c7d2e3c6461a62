//! What the engine reads about a read of the log's events before it handles
//! them: for every customer's message whether it answered a poll and what it
//! says, and for its conversation the call back being chosen, the flow
//! running and the situation, a statement each for all of them
//! (`Consumer::prepare`). Handling an event one at a time read each of these
//! alone: eight statements a customer's message (docs/performance.md,
//! "Session 22").
//!
//! A conversation's data is good until an event of it takes a path that may
//! change it (`spend`): its later events in the same batch read afresh.
//! A message's data (its text, whether it answered a poll) does not change.

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::AnyConnection;
use textdesk_core::event::DomainEvent;
use textdesk_store::flows::FlowSession;
use textdesk_store::{LoggedEvent, Received, Situation, StoreError, automations as db};

use super::engine::{Engine, moment_of};
use crate::services::batch_state as cached;

/// A call back being chosen: its id and the times offered.
type Choosing = (i64, Vec<Timestamp>);

/// What one batch read ahead; emptied when the next batch begins. A key
/// present means read (its value may say there is nothing).
#[derive(Default)]
pub(super) struct Ahead {
    polls: HashMap<i64, bool>,
    received: HashMap<i64, Option<Received>>,
    choosing: HashMap<i64, Option<Choosing>>,
    sessions: HashMap<i64, Option<FlowSession>>,
    situations: HashMap<i64, Option<Situation>>,
}

impl Ahead {
    /// Forgets a conversation's data, and the situations of its contact's
    /// other conversations (a flow may save an attribute of the contact).
    fn spend(&mut self, s: &Situation) {
        let (id, contact_id) = (s.conversation.id, s.conversation.contact_id);
        self.choosing.remove(&id);
        self.sessions.remove(&id);
        self.situations.retain(|&other, read| {
            other != id && read.as_ref().is_none_or(|r| r.conversation.contact_id != contact_id)
        });
    }
}

impl Engine {
    /// Reads ahead for `events` what [`Engine::handle`](textdesk_store::Consumer::handle)
    /// will ask of them, but what an earlier read of this batch read and is
    /// still good. A conversation spent since is read again: the event that
    /// spent it has been handled, its writes are there to be read.
    pub(super) async fn read_ahead(
        &self,
        tx: &mut AnyConnection,
        events: &[LoggedEvent],
    ) -> textdesk_store::Result<()> {
        let now = Timestamp::now();
        let (mut messages, mut talking, mut deciding) = (Vec::new(), Vec::new(), Vec::new());
        for e in events {
            let Some(moment) = moment_of(&e.event) else { continue };
            if let DomainEvent::MessageReceived { message_id, .. } = e.event {
                messages.push(message_id);
                talking.push(e.conversation_id);
            }
            let rules = self.rules_of(tx, e.account_id).await?;
            if rules.iter().any(|r| r.rule.enabled() && r.rule.trigger().fires_on(moment)) {
                deciding.push(e.conversation_id);
            }
        }
        {
            let ahead = cached(&self.ahead);
            messages.retain(|id| !ahead.received.contains_key(id));
            talking.retain(|id| !ahead.sessions.contains_key(id));
            deciding.retain(|id| !ahead.situations.contains_key(id));
        }
        for list in [&mut messages, &mut talking, &mut deciding] {
            list.sort_unstable();
            list.dedup();
        }
        let polls = textdesk_store::surveys::answered_polls(tx, &messages).await?;
        let mut received = db::received_all(tx, &messages).await?;
        let mut choosing = textdesk_store::voice::choosing_all(tx, &talking).await?;
        let mut sessions = textdesk_store::flows::sessions_in(tx, &talking).await?;
        let mut situations = db::situations(tx, &deciding, now).await?;
        let mut ahead = cached(&self.ahead);
        for id in messages {
            ahead.polls.insert(id, polls.contains(&id));
            ahead.received.insert(id, received.remove(&id));
        }
        for id in talking {
            ahead.choosing.insert(id, choosing.remove(&id));
            ahead.sessions.insert(id, sessions.remove(&id));
        }
        for id in deciding {
            ahead.situations.insert(id, situations.remove(&id));
        }
        Ok(())
    }

    /// Forgets what was read ahead (a new batch begins).
    pub(super) fn forget_ahead(&self) {
        *cached(&self.ahead) = Ahead::default();
    }

    /// From here on the event may change its conversation (whose situation
    /// `s` is): its later events in this batch read it afresh.
    pub(super) fn spend(&self, s: &Situation) {
        cached(&self.ahead).spend(s);
    }

    /// What was read ahead, if `pick` finds it there.
    fn ahead<T>(&self, pick: impl FnOnce(&Ahead) -> Option<T>) -> Option<T> {
        pick(&cached(&self.ahead))
    }

    pub(super) async fn answered_poll(&self, tx: &mut AnyConnection, message_id: i64) -> textdesk_store::Result<bool> {
        match self.ahead(|a| a.polls.get(&message_id).copied()) {
            Some(answered) => Ok(answered),
            None => textdesk_store::surveys::answered_poll(tx, message_id).await,
        }
    }

    pub(super) async fn received(&self, tx: &mut AnyConnection, id: i64) -> textdesk_store::Result<Option<Received>> {
        match self.ahead(|a| a.received.get(&id).cloned()) {
            Some(received) => Ok(received),
            None => db::received(tx, id).await,
        }
    }

    pub(super) async fn choosing(&self, tx: &mut AnyConnection, id: i64) -> textdesk_store::Result<Option<Choosing>> {
        match self.ahead(|a| a.choosing.get(&id).cloned()) {
            Some(choosing) => Ok(choosing),
            None => textdesk_store::voice::choosing_in(tx, id).await,
        }
    }

    pub(super) async fn session(&self, tx: &mut AnyConnection, id: i64) -> textdesk_store::Result<Option<FlowSession>> {
        match self.ahead(|a| a.sessions.get(&id).cloned()) {
            Some(session) => Ok(session),
            None => textdesk_store::flows::session_in(tx, id).await,
        }
    }

    /// The conversation's situation, read ahead or now. Taken: the rules it
    /// is read for may change the conversation.
    pub(super) async fn situation(
        &self,
        tx: &mut AnyConnection,
        conversation_id: i64,
        now: Timestamp,
    ) -> textdesk_store::Result<Situation> {
        let ahead = cached(&self.ahead).situations.remove(&conversation_id);
        match ahead {
            Some(Some(s)) => Ok(s),
            Some(None) => Err(StoreError::NotFound("conversation")),
            None => db::situation(tx, conversation_id, now).await,
        }
    }
}
