//! What Meta's platforms (WhatsApp Cloud API, Messenger) share: the
//! subscription handshake a webhook answers with GET (`hub.mode`,
//! `hub.verify_token`, `hub.challenge`) and the `X-Hub-Signature-256` on
//! every POST. One implementation for both channels.

pub mod signature;

use std::borrow::Cow;

pub use signature::{SIGNATURE_HEADER, compute_signature, verify_signature, verify_token_matches};

use crate::provider::{Answer, InboundRequest, Refusal};

/// Checks that a POST carries Meta's signature of its body under `app_secret`.
pub fn check_signed(app_secret: &str, req: &InboundRequest<'_>) -> Result<(), Refusal> {
    let signature = req
        .headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Refusal::Forbidden("missing X-Hub-Signature-256".into()))?;
    if !verify_signature(app_secret, req.body, signature) {
        return Err(Refusal::Forbidden("the X-Hub-Signature-256 does not match".into()));
    }
    Ok(())
}

/// The plain `ok` Meta expects once a POST is stored.
pub fn ok() -> Answer {
    Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: Cow::Borrowed("ok") }
}

/// Answers Meta's subscription check (the query of a GET): the challenge
/// comes back only for `subscribe` with the inbox's verify token.
pub fn hub_handshake(verify_token: &str, query: &str) -> Result<Answer, Refusal> {
    let mut mode = None;
    let mut token = None;
    let mut challenge = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match k.as_ref() {
            "hub.mode" => &mut mode,
            "hub.verify_token" => &mut token,
            "hub.challenge" => &mut challenge,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return Err(Refusal::BadRequest(format!("{k} appears more than once")));
        }
    }
    if mode.as_deref() != Some("subscribe") {
        return Err(Refusal::BadRequest("hub.mode must be subscribe".into()));
    }
    let challenge = challenge.ok_or_else(|| Refusal::BadRequest("hub.challenge is missing".into()))?;
    // Meta sends a number; anything else is not echoed back.
    if challenge.is_empty()
        || challenge.len() > 128
        || !challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Refusal::BadRequest("hub.challenge is not a challenge".into()));
    }
    if !verify_token_matches(verify_token, token.as_deref().unwrap_or_default()) {
        return Err(Refusal::Forbidden("the verify token is not this inbox's".into()));
    }
    Ok(Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: Cow::Owned(challenge) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_echoes_only_a_challenge_for_the_right_token() {
        let q = |token: &str, challenge: &str| {
            format!("hub.mode=subscribe&hub.challenge={challenge}&hub.verify_token={token}")
        };
        assert_eq!(hub_handshake("tok", &q("tok", "1158201444")).unwrap().body, "1158201444");
        assert!(matches!(hub_handshake("tok", &q("guess", "1")), Err(Refusal::Forbidden(_))));
        assert!(matches!(hub_handshake("tok", &q("tok", "<script>")), Err(Refusal::BadRequest(_))));
        assert!(matches!(hub_handshake("tok", "hub.mode=unsubscribe&hub.challenge=1"), Err(Refusal::BadRequest(_))));
        let twice = format!("{}&hub.challenge=2", q("tok", "1"));
        assert!(matches!(hub_handshake("tok", &twice), Err(Refusal::BadRequest(_))));
    }
}
