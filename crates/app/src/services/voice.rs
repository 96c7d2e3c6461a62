//! Calls: "call now" rings the agent's own phone through the inbox's provider
//! and, once they answer, connects the customer (the bridge served at a signed,
//! expiring URL); the provider's status callbacks move the call forward in the
//! thread. Call backs wait in a queue until an agent takes one and calls.

use hmac::{KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use textdesk_channels::provider::{Answer, InboundRequest, Refusal};
use textdesk_channels::voice::CallRequest;
use textdesk_core::E164;
use textdesk_core::hours::describe_opening;
use textdesk_store::{CallStart, Callback, NewCall, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// How long the answer URL handed to the provider works: the agent's phone
/// rings for a minute at most, so a link older than this is someone else's.
const ANSWER_LINK_LIFE: SignedDuration = SignedDuration::from_mins(15);

/// How far ahead a call back may be asked for.
const CALLBACK_HORIZON: SignedDuration = SignedDuration::from_hours(24 * 30);

/// A provider's request about a call, as it reached us.
pub struct CallHook<'a> {
    pub call_id: i64,
    /// The path and query as requested (the provider signed our public URL with them).
    pub path_and_query: &'a str,
    pub headers: &'a axum::http::HeaderMap,
    pub body: &'a [u8],
}

/// A provider's refusal of a request about a call, as the services say it:
/// not found, forbidden (a bad signature or link) or invalid (a bad request).
fn hook_refused(r: Refusal) -> ServiceError {
    match r {
        Refusal::NotFound(_) => ServiceError::NotFound("call"),
        Refusal::Forbidden(why) => ServiceError::Forbidden(why),
        Refusal::BadRequest(why) => ServiceError::Invalid(why),
    }
}

impl Services {
    /// Sets the person's own phone (E.164, with its country code), or removes it.
    pub async fn set_phone(&self, user: &User, phone: Option<&str>) -> ServiceResult<User> {
        let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
            None => None,
            Some(p) if !p.starts_with('+') => {
                return Err(ServiceError::invalid(
                    "write your phone number with its country code, starting with + (e.g. +14155550123)",
                ));
            }
            Some(p) => Some(E164::parse(p, None)?),
        };
        Ok(self.store.set_phone(user.id, phone.as_ref().map(E164::as_str)).await?)
    }

    /// Rings the agent's phone for a call to the conversation's customer, once
    /// the gate allows a call now. Returns the call's id and the provider's.
    pub(crate) async fn place_call(&self, actor: &User, conversation_id: i64) -> ServiceResult<(i64, String)> {
        let (inbox, caps) = self.conversation_channel(actor.account_id, conversation_id).await?;
        let channel = self.channel(&inbox).await?;
        let Some(voice) = channel.voice() else {
            return Err(ServiceError::invalid(format!(
                "this conversation's inbox ({}) cannot place phone calls; call from an inbox whose provider carries voice",
                inbox.name
            )));
        };
        let agent_phone = match (&actor.phone, voice.rings_agent()) {
            (Some(p), _) => p.clone(),
            (None, false) => String::new(),
            (None, true) => {
                return Err(ServiceError::invalid(
                    "add your own phone number to your profile first: textdesk rings it, then connects you to the customer",
                ));
            }
        };
        let now = Timestamp::now();
        let timing = self.clock_at(actor.account_id, conversation_id, now).await?;
        let zone = timing.zone.clone();
        let new =
            NewCall { account_id: actor.account_id, conversation_id, agent_id: actor.id, now, timing, channel: caps };
        let call_id = match self.store.start_call(new).await? {
            CallStart::Started(id) => id,
            CallStart::Blocked(reason) => return Err(ServiceError::Blocked(reason)),
            CallStart::Quiet(until) => {
                let local = now.to_zoned(zone.clone()).strftime("%-I:%M %p").to_string();
                return Err(ServiceError::Conflict(format!(
                    "It is {local} for the customer ({}): they may not be called in their quiet hours, which end at {}. \
                     Schedule a call back instead.",
                    zone.iana_name().unwrap_or("their time"),
                    describe_opening(until, &zone, now)
                )));
            }
        };
        let key = self.store.server_key("call_links").await?;
        let expires = (now + ANSWER_LINK_LIFE).as_second();
        let customer = self.store.contact_clock(conversation_id).await?.address;
        let request = CallRequest {
            from: inbox.sender.clone(),
            agent: agent_phone,
            customer,
            answer_url: format!(
                "{}/webhooks/calls/{call_id}/answer?expires={expires}&token={}",
                self.public_url,
                link_token(&key, call_id, expires)
            ),
            status_url: format!("{}/webhooks/calls/{call_id}/status", self.public_url),
        };
        match voice.place_call(&request).await {
            Ok(sid) => Ok((call_id, sid)),
            Err(e) => {
                self.store.forget_call(call_id).await?;
                tracing::warn!(call_id, error = %e, "the provider did not place a call");
                Err(ServiceError::invalid(format!("the call could not be placed: {e}")))
            }
        }
    }

    /// The provider asks what to do now the agent answered: the bridge to the
    /// customer, when the link's token is ours and fresh and the request is
    /// signed by the inbox's provider.
    pub async fn answer_call(
        &self,
        hook: &CallHook<'_>,
        expires: i64,
        token: &str,
        now: Timestamp,
    ) -> ServiceResult<Answer> {
        let key = self.store.server_key("call_links").await.map_err(ServiceError::Store)?;
        let expected = link_token(&key, hook.call_id, expires);
        let fresh = now.as_second() <= expires;
        if expected.is_empty() || !(constant_eq(expected.as_bytes(), token.as_bytes()) && fresh) {
            return Err(ServiceError::forbidden("the link is not valid, or has expired"));
        }
        let (call, voice_channel) = self.call_channel(hook.call_id).await?;
        let voice = voice_channel.voice().ok_or(ServiceError::NotFound("call"))?;
        let url = format!("{}{}", self.public_url, hook.path_and_query);
        let req = InboundRequest { hook: "answer", url: &url, headers: hook.headers, body: hook.body, now };
        let report = voice.verify_call(&req).map_err(hook_refused)?;
        if call.provider_id.as_deref().is_some_and(|p| p != report.provider_id) {
            return Err(ServiceError::forbidden("this is not the call the link was made for"));
        }
        // Asked again now: the customer may have opted out, or their quiet
        // hours begun, while the agent's phone rang.
        let timing = self.clock_at(call.account_id, call.conversation_id, now).await?;
        let (_, caps) = self.conversation_channel(call.account_id, call.conversation_id).await?;
        if let Some(stopped) = self.store.recheck_call(call.id, timing, caps, now).await? {
            tracing::info!(call_id = call.id, "the bridge was refused: the customer may no longer be called");
            return Ok(voice.refuse(stopped.spoken()));
        }
        let clock = self.store.contact_clock(call.conversation_id).await.map_err(ServiceError::Store)?;
        let inbox = self.store.inbox_by_id(call.inbox_id).await.map_err(ServiceError::Store)?;
        Ok(voice.bridge(&inbox.sender, &clock.address))
    }

    /// A status callback: the call moves forward in the thread (a late or
    /// repeated report changes nothing).
    pub async fn call_status(&self, hook: &CallHook<'_>, now: Timestamp) -> ServiceResult<()> {
        let (call, channel) = self.call_channel(hook.call_id).await?;
        let voice = channel.voice().ok_or(ServiceError::NotFound("call"))?;
        let url = format!("{}{}", self.public_url, hook.path_and_query);
        let req = InboundRequest { hook: "status", url: &url, headers: hook.headers, body: hook.body, now };
        let report = voice.verify_call(&req).map_err(hook_refused)?;
        if call.provider_id.as_deref().is_some_and(|p| p != report.provider_id) {
            return Err(ServiceError::forbidden("this report is about another call"));
        }
        self.store
            .record_call_status(call.id, report.status, report.duration_secs, now)
            .await
            .map_err(ServiceError::Store)?;
        Ok(())
    }

    async fn call_channel(
        &self,
        call_id: i64,
    ) -> ServiceResult<(textdesk_store::Call, std::sync::Arc<dyn textdesk_channels::Channel>)> {
        let call = match self.store.call(call_id).await {
            Ok(c) => c,
            Err(textdesk_store::StoreError::NotFound(_)) => return Err(ServiceError::NotFound("call")),
            Err(e) => return Err(ServiceError::Store(e)),
        };
        let inbox = self.store.inbox_by_id(call.inbox_id).await.map_err(ServiceError::Store)?;
        // Whatever keeps the inbox's channel from opening, the provider is told to try again.
        let channel = self.channel(&inbox).await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        Ok((call, channel))
    }

    /// Calls ringing or going on a simulated phone (the simulator page shows them).
    pub fn simulated_calls(&self, inbox_id: i64, number: &str) -> Vec<textdesk_channels::simulator_voice::SimCall> {
        self.carrier.calls_to(inbox_id, number)
    }

    /// A call back an agent asks for, at `at`: an instant (`2026-12-07T15:00:00Z`)
    /// or a wall time in the customer's zone (`2026-12-07T10:00`).
    pub(crate) async fn callback_time(
        &self,
        account_id: i64,
        conversation_id: i64,
        at: Option<&str>,
    ) -> ServiceResult<Timestamp> {
        let at = at.map(str::trim).filter(|a| !a.is_empty()).ok_or_else(|| {
            ServiceError::invalid("choose when to call back (a time in the customer's zone, e.g. 2026-12-07T10:00)")
        })?;
        let now = Timestamp::now();
        let zone = self.clock_at(account_id, conversation_id, now).await?.zone;
        let due = match at.parse::<Timestamp>() {
            Ok(t) => t,
            Err(_) => at
                .parse::<jiff::civil::DateTime>()
                .ok()
                .and_then(|dt| dt.to_zoned(zone).ok())
                .map(|z| z.timestamp())
                .ok_or_else(|| ServiceError::invalid(format!("{at:?} is not a time like 2026-12-07T10:00")))?,
        };
        if due <= now || due > now + CALLBACK_HORIZON {
            return Err(ServiceError::invalid("a call back is for a time within the next 30 days"));
        }
        Ok(due)
    }

    /// The account's call backs to make, soonest first.
    pub async fn callback_queue(&self, account_id: i64) -> ServiceResult<Vec<Callback>> {
        Ok(self.store.callback_queue(account_id).await?)
    }

    /// Reminds whoever should call of the call backs whose time came: each
    /// once, on whichever node marks it first. Housekeeping runs it; `now` is
    /// a parameter so tests can move the clock.
    pub async fn remind_due_callbacks(&self, now: Timestamp) -> ServiceResult<usize> {
        let mut reminded = 0;
        for id in self.store.due_callbacks(now, 200).await? {
            if self.store.remind_callback(id, now).await? {
                reminded += 1;
            }
        }
        Ok(reminded)
    }

    /// What the alert says about the conversation's call back that fell due,
    /// on the customer's clock, to the person looking.
    pub async fn due_callback_words(&self, user: &User, conversation_id: i64) -> ServiceResult<String> {
        let queue = self.store.callback_queue(user.account_id).await?;
        let cb = queue
            .into_iter()
            .find(|c| c.conversation_id == conversation_id)
            .ok_or(ServiceError::NotFound("call back"))?;
        let zone =
            cb.time_zone.as_deref().and_then(|z| jiff::tz::TimeZone::get(z).ok()).unwrap_or(jiff::tz::TimeZone::UTC);
        let when = cb.due_at.map(|t| t.to_zoned(zone.clone()).strftime("%-I:%M %p").to_string()).unwrap_or_default();
        let at = format!("{when}, {} time", zone.iana_name().unwrap_or("UTC"));
        Ok(match cb.taken_by {
            Some(taker) if taker == user.id => format!("It is time to call them back ({at}): you took this call back."),
            Some(_) => format!("Their call back is due ({at}); {} took it.", cb.taken_by_name.unwrap_or_default()),
            None => format!("Their call back is due ({at}) and nobody has taken it yet."),
        })
    }

    /// Takes a waiting call back; 409 when someone else took it first.
    pub async fn take_callback(&self, user: &User, id: i64) -> ServiceResult<Callback> {
        if !self.store.take_callback(user.account_id, id, user.id, Timestamp::now()).await? {
            let cb = self.store.callback(user.account_id, id).await?;
            let who = cb.taken_by_name.unwrap_or_else(|| "someone".into());
            return Err(ServiceError::Conflict(format!("{who} already took this call back")));
        }
        Ok(self.store.callback(user.account_id, id).await?)
    }

    /// The agent who took a call back places it: the call-now path, recorded as
    /// an escalation to a call on the conversation.
    pub async fn call_back(&self, user: &User, id: i64) -> ServiceResult<textdesk_store::Escalation> {
        let cb = self.store.callback(user.account_id, id).await?;
        if cb.state != "taken" || cb.taken_by != Some(user.id) {
            return Err(ServiceError::Conflict("take this call back before calling".into()));
        }
        let ask = crate::services::escalations::EscalationAsk {
            to: "call".into(),
            reason: Some("call back".into()),
            ..Default::default()
        };
        let e = self.escalate(user, cb.conversation_id, &ask).await?;
        if let Some(call) = self.store.calls(user.account_id, cb.conversation_id).await?.last() {
            self.store.callback_called(user.account_id, id, call.id).await?;
        }
        Ok(e)
    }
}

/// The answer link's token: HMAC-SHA256 of the call and its expiry.
fn link_token(key: &str, call_id: i64, expires: i64) -> String {
    // HMAC takes keys of any length; a key it refused could never match.
    let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(key.as_bytes()) else { return String::new() };
    mac.update(format!("call.{call_id}.{expires}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
