//! The fake Twilio's voice side: `POST …/Calls.json` as Twilio answers it,
//! and the requests Twilio then makes to us, signed as it signs them: the
//! answer URL when the agent picks up, and the status callbacks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::fake::{FakeTwilio, Shared, hex32, is_e164, refuse, twilio_error};

/// A call the fake accepted, as the client asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub url: String,
    pub method: Option<String>,
    pub status_callback: Option<String>,
    pub status_callback_method: Option<String>,
    /// Every `StatusCallbackEvent` value, in order (Twilio takes the parameter repeated).
    pub status_callback_events: Vec<String>,
}

pub(super) async fn create_call(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = refuse(&shared, &headers, &account) {
        return r;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let one = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let to = one("To").unwrap_or_default();
    if !is_e164(&to) {
        return twilio_error(StatusCode::BAD_REQUEST, 21211, "Invalid 'To' Phone Number");
    }
    let from = one("From").unwrap_or_default();
    if !is_e164(&from) {
        return twilio_error(StatusCode::BAD_REQUEST, 21212, "Invalid 'From' Phone Number");
    }
    let Some(url) = one("Url").filter(|u| u.starts_with("http://") || u.starts_with("https://")) else {
        return twilio_error(StatusCode::BAD_REQUEST, 21205, "Url is not a valid URL");
    };
    let call = FakeCall {
        sid: format!("CA{}", hex32()),
        to,
        from,
        url,
        method: one("Method"),
        status_callback: one("StatusCallback"),
        status_callback_method: one("StatusCallbackMethod"),
        status_callback_events: form
            .iter()
            .filter(|(k, _)| k == "StatusCallbackEvent")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let body = json!({
        "sid": call.sid,
        "account_sid": shared.account_sid,
        "to": call.to,
        "from": call.from,
        "status": "queued",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{}/Calls/{}.json", shared.account_sid, call.sid),
    });
    shared.lock().calls.push(call);
    (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

impl FakeTwilio {
    /// Every call asked for so far, oldest first.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.shared.lock().calls.clone()
    }

    fn call_params(&self, sid: &str, status: &str) -> Vec<(String, String)> {
        let call = self.calls().into_iter().find(|c| c.sid == sid);
        let (from, to) = call.map(|c| (c.from, c.to)).unwrap_or_default();
        [
            ("AccountSid", self.shared.account_sid.as_str()),
            ("ApiVersion", "2010-04-01"),
            ("CallSid", sid),
            ("CallStatus", status),
            ("Called", &to),
            ("Caller", &from),
            ("Direction", "outbound-api"),
            ("From", &from),
            ("To", &to),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// The agent picked up: Twilio fetches the call's `Url` for its TwiML.
    pub async fn answer_call(&self, sid: &str) -> reqwest::Result<reqwest::Response> {
        let url = self.calls().into_iter().find(|c| c.sid == sid).map(|c| c.url).unwrap_or_default();
        self.post_signed(&url, &self.call_params(sid, "in-progress")).await
    }

    /// A status callback for call `sid` (with `CallDuration` when given), to
    /// the call's `StatusCallback`.
    pub async fn post_call_status(
        &self,
        sid: &str,
        status: &str,
        duration: Option<u32>,
    ) -> reqwest::Result<reqwest::Response> {
        let url = self.calls().into_iter().find(|c| c.sid == sid).and_then(|c| c.status_callback).unwrap_or_default();
        let mut params = self.call_params(sid, status);
        params.push(("CallbackSource".into(), "call-progress-events".into()));
        params.push(("Timestamp".into(), "Fri, 04 Dec 2026 23:00:00 +0000".into()));
        if let Some(d) = duration {
            params.push(("CallDuration".into(), d.to_string()));
            params.push(("Duration".into(), d.div_ceil(60).to_string()));
        }
        self.post_signed(&url, &params).await
    }
}
