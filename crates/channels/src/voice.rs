//! Calls, for the providers that can place them (the `voice` capability): ring
//! the agent's phone, and once they answer, connect the customer with the
//! inbox's number as caller id. A channel offers this through
//! `Channel::voice`; the provider's reports about a call come back verified
//! through `Voice::verify_call`.

use textdesk_core::voice::CallStatus;

use crate::SendError;
use crate::provider::{Answer, BoxFuture, InboundRequest, Refusal};

/// A call to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    /// The inbox's number: the caller id both phones see.
    pub from: String,
    /// The agent's own phone, rung first.
    pub agent: String,
    /// The customer's number, dialled once the agent answers (Twilio reads it
    /// from the bridge at `answer_url`; the simulator rings it directly).
    pub customer: String,
    /// Where the provider asks what to do once the agent answers (signed, expiring).
    pub answer_url: String,
    /// Where the provider reports the call's progress.
    pub status_url: String,
}

/// What the provider said about a call, once its signature is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport {
    /// The provider's id for the call (Twilio's CallSid).
    pub provider_id: String,
    pub status: CallStatus,
    /// Seconds, on a completed call.
    pub duration_secs: Option<u32>,
}

pub trait Voice: Send + Sync {
    /// Asks the provider to ring the agent; its id for the call.
    fn place_call<'a>(&'a self, call: &'a CallRequest) -> BoxFuture<'a, Result<String, SendError>>;
    /// Checks that a request about a call came from the provider, and reads it.
    fn verify_call(&self, req: &InboundRequest<'_>) -> Result<CallReport, Refusal>;
    /// The answer once the agent picked up: dial `customer`, showing `caller_id`.
    fn bridge(&self, caller_id: &str, customer: &str) -> Answer;
    /// The answer when the customer may no longer be called: `words` said to
    /// the agent, then the call ends without dialling anyone.
    fn refuse(&self, words: &str) -> Answer;
    /// Whether the agent's own phone rings first (so they need one in their profile).
    fn rings_agent(&self) -> bool {
        true
    }
}
