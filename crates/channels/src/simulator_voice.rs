//! The simulator's voice side. A call placed through a simulator inbox rings
//! the simulated phone at once (there is no agent's phone to ring in a demo:
//! the agent's leg counts as answered). The simulator page sees it ringing
//! and posts its progress (ringing, answered, declined, hung up) to the same
//! status callback address a provider uses, where `verify_call` checks the
//! call is one this carrier placed; a completed call's duration is the
//! carrier's own count from the answer, not what the page says.

use jiff::Timestamp;
use textdesk_core::voice::CallStatus;

use crate::SendError;
use crate::provider::{Answer, BoxFuture, InboundRequest, Refusal};
use crate::simulator::{Carrier, SimulatedChannel, new_id};
use crate::voice::{CallReport, CallRequest, Voice};

/// A call on a simulated phone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SimCall {
    pub sid: String,
    #[serde(skip)]
    pub inbox_id: i64,
    /// The business's number, shown as the caller.
    pub from: String,
    /// The simulated phone that rings.
    pub to: String,
    /// Where the page reports the call's progress.
    pub status_url: String,
    /// The latest status reported.
    pub status: CallStatus,
    #[serde(skip)]
    pub answered_at: Option<Timestamp>,
}

/// Calls are forgotten once this many have been placed since (a demo's memory).
const KEPT: usize = 200;

impl Carrier {
    /// Calls to `number` from `inbox_id` that are not over, oldest first.
    pub fn calls_to(&self, inbox_id: i64, number: &str) -> Vec<SimCall> {
        let calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.iter().filter(|c| c.inbox_id == inbox_id && c.to == number && !c.status.is_final()).cloned().collect()
    }

    fn ring(&self, inbox_id: i64, call: &CallRequest) -> String {
        let sid = new_id("SIMCA");
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        if calls.len() >= KEPT {
            calls.remove(0);
        }
        calls.push(SimCall {
            sid: sid.clone(),
            inbox_id,
            from: call.from.clone(),
            to: call.customer.clone(),
            status_url: call.status_url.clone(),
            status: CallStatus::Queued,
            answered_at: None,
        });
        sid
    }

    /// The page's report about `sid`, checked against what the carrier knows:
    /// the call must be one it placed for this inbox, and move forward.
    fn report(&self, inbox_id: i64, sid: &str, status: CallStatus, now: Timestamp) -> Result<CallReport, Refusal> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let call = calls
            .iter_mut()
            .find(|c| c.sid == sid && c.inbox_id == inbox_id)
            .ok_or_else(|| Refusal::Forbidden("no such call on this simulated phone".into()))?;
        if !call.status.may_become(status) {
            return Err(Refusal::BadRequest(format!("the call is {} already", call.status.as_str())));
        }
        call.status = status;
        if status == CallStatus::InProgress {
            call.answered_at = Some(now);
        }
        let duration_secs = match (status, call.answered_at) {
            (CallStatus::Completed, Some(at)) => u32::try_from(now.duration_since(at).as_secs().max(0)).ok(),
            (CallStatus::Completed, None) => Some(0),
            _ => None,
        };
        Ok(CallReport { provider_id: sid.to_owned(), status, duration_secs })
    }
}

impl Voice for SimulatedChannel {
    fn place_call<'a>(&'a self, call: &'a CallRequest) -> BoxFuture<'a, Result<String, SendError>> {
        Box::pin(async move {
            textdesk_core::Address::parse(textdesk_core::Medium::Sms, &call.customer)
                .map_err(|e| SendError::Permanent(e.0))?;
            Ok(self.carrier.ring(self.inbox_id, call))
        })
    }

    fn verify_call(&self, req: &InboundRequest<'_>) -> Result<CallReport, Refusal> {
        let params: Vec<(String, String)> = url::form_urlencoded::parse(req.body).into_owned().collect();
        let one = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
        let status = CallStatus::parse(one("CallStatus")).map_err(|e| Refusal::BadRequest(e.0))?;
        self.carrier.report(self.inbox_id, one("CallSid"), status, req.now)
    }

    fn bridge(&self, _caller_id: &str, _customer: &str) -> Answer {
        // The simulated phone rings directly: nobody asks for a bridge.
        Answer { status: 404, content_type: None, body: "".into() }
    }

    fn refuse(&self, _words: &str) -> Answer {
        Answer { status: 404, content_type: None, body: "".into() }
    }

    fn rings_agent(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_page_moves_only_calls_the_carrier_placed() {
        let (carrier, _rx) = Carrier::new(Duration::ZERO);
        let req = CallRequest {
            from: "+14155550100".into(),
            agent: "+14155550199".into(),
            customer: "+14155550123".into(),
            answer_url: String::new(),
            status_url: "http://x/webhooks/calls/1/status".into(),
        };
        let sid = carrier.ring(7, &req);
        assert_eq!(carrier.calls_to(7, "+14155550123").len(), 1);
        let t0: Timestamp = "2026-12-04T10:00:00Z".parse().unwrap();
        assert!(carrier.report(8, &sid, CallStatus::Ringing, t0).is_err(), "another inbox");
        assert!(carrier.report(7, "SIMCAnope", CallStatus::Ringing, t0).is_err());
        carrier.report(7, &sid, CallStatus::Ringing, t0).unwrap();
        carrier.report(7, &sid, CallStatus::InProgress, t0).unwrap();
        assert!(carrier.report(7, &sid, CallStatus::Ringing, t0).is_err(), "backwards");
        let done = carrier.report(7, &sid, CallStatus::Completed, t0 + jiff::SignedDuration::from_secs(42)).unwrap();
        assert_eq!(done.duration_secs, Some(42));
        assert!(carrier.calls_to(7, "+14155550123").is_empty(), "over");
    }
}
