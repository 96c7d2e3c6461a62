//! Twilio Voice: creating a call (`POST …/Calls.json`), the TwiML that bridges
//! the agent to the customer, and reading the call's status callbacks.

use serde::Deserialize;
use textdesk_core::voice::CallStatus;

use super::client::{MAX_ERROR_BODY, TwilioClient, classify_failure, read_limited, transport};
use super::webhook::is_sid;
use crate::SendError;
use crate::voice::{CallReport, CallRequest};

/// The progress Twilio is asked to report (every one it offers).
pub const STATUS_EVENTS: [&str; 4] = ["initiated", "ringing", "answered", "completed"];

impl TwilioClient {
    /// Asks Twilio to ring `call.agent` from `call.from`; Twilio fetches
    /// `answer_url` (POST) when they answer. Returns the CallSid.
    pub async fn create_call(&self, call: &CallRequest) -> Result<String, SendError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("To", call.agent.as_str()),
            ("From", call.from.as_str()),
            ("Url", call.answer_url.as_str()),
            ("Method", "POST"),
            ("StatusCallback", call.status_url.as_str()),
            ("StatusCallbackMethod", "POST"),
        ];
        for e in STATUS_EVENTS {
            form.push(("StatusCallbackEvent", e));
        }
        let url = self.url(&format!("/2010-04-01/Accounts/{}/Calls.json", self.cfg.account_sid));
        let resp = self
            .http
            .post(url)
            .timeout(self.timeouts.request)
            .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| SendError::Retryable(transport("placing a call with Twilio", &e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(classify_failure(status, resp).await);
        }
        #[derive(Deserialize)]
        struct Created {
            sid: String,
        }
        let body = read_limited(resp, MAX_ERROR_BODY)
            .await
            .map_err(|_| SendError::Permanent("Twilio took the call but its answer could not be read".into()))?;
        match serde_json::from_slice::<Created>(&body) {
            Ok(c) if is_sid(&c.sid, Some("CA")) => Ok(c.sid),
            _ => Err(SendError::Permanent("Twilio took the call but its answer has no call id".into())),
        }
    }
}

/// TwiML that dials `number`, showing `caller_id`.
pub fn dial_twiml(caller_id: &str, number: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial callerId=\"{}\"><Number>{}</Number></Dial></Response>",
        escape(caller_id),
        escape(number)
    )
}

/// Says `words` to whoever answered, then hangs up: nobody is dialled.
pub fn say_and_hang_up_twiml(words: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>{}</Say><Hangup/></Response>", escape(words))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

/// A status callback's (or the answer URL's) parameters, read.
pub fn parse_call_report(params: &[(String, String)]) -> Result<CallReport, String> {
    let one = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let sid =
        one("CallSid").filter(|s| is_sid(s, Some("CA"))).ok_or("CallSid is missing or not CA… (34 characters)")?;
    let status = CallStatus::parse(one("CallStatus").unwrap_or_default()).map_err(|e| e.0)?;
    let duration_secs = match one("CallDuration").map(str::trim).filter(|d| !d.is_empty()) {
        None => None,
        Some(d) => Some(d.parse::<u32>().map_err(|_| format!("CallDuration {d:?} is not a number of seconds"))?),
    };
    Ok(CallReport { provider_id: sid.to_owned(), status, duration_secs })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_bridge_dials_the_customer_from_the_inbox_number() {
        assert_eq!(
            dial_twiml("+14155550100", "+14155550111"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial callerId=\"+14155550100\"><Number>+14155550111</Number></Dial></Response>"
        );
        assert!(dial_twiml("\"><Hangup/>", "1").contains("&quot;&gt;&lt;Hangup/&gt;"));
    }

    #[test]
    fn reports_are_read_strictly() {
        let sid = "CA0123456789abcdef0123456789abcdef";
        let r = parse_call_report(&p(&[("CallSid", sid), ("CallStatus", "completed"), ("CallDuration", "65")]));
        assert_eq!(
            r,
            Ok(CallReport { provider_id: sid.into(), status: CallStatus::Completed, duration_secs: Some(65) })
        );
        assert!(parse_call_report(&p(&[("CallSid", sid), ("CallStatus", "answered")])).is_err());
        assert!(parse_call_report(&p(&[("CallSid", "SM0123"), ("CallStatus", "ringing")])).is_err());
        assert!(
            parse_call_report(&p(&[("CallSid", sid), ("CallStatus", "completed"), ("CallDuration", "-1")])).is_err()
        );
    }
}
