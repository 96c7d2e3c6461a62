//! An inbox's consent settings: its keywords and the replies it sends to
//! STOP, START and HELP. Ingest hands the resulting policy to the store, which
//! acts on a keyword in the same transaction that stores the text.

use serde::Deserialize;
use textdesk_core::consent::{ConsentPolicy, KeywordAction, Keywords};
use textdesk_core::{Body, ConsentState, Invalid};
use textdesk_store::{ACCOUNT_SCOPE, ConsentEvent, Inbox, LedgerLine, RecordConsent, User};

use crate::services::error::{ServiceError, ServiceResult};

/// `settings.consent` of an inbox; anything left out takes the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentSettings {
    pub keywords: Keywords,
    pub opt_out_reply: Option<String>,
    pub opt_in_reply: Option<String>,
    pub join_reply: Option<String>,
    pub help_reply: Option<String>,
    /// A JOIN is confirmed by a YES before it counts.
    pub double_opt_in: bool,
    pub confirm_request: Option<String>,
}

impl ConsentSettings {
    /// `settings.consent` as an admin saves it: a mistake is an error, not a default.
    pub fn parse(settings: &serde_json::Value, business: &str) -> Result<Self, Invalid> {
        let me: ConsentSettings = match settings.get("consent") {
            None | Some(serde_json::Value::Null) => ConsentSettings::default(),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| Invalid::new(format!("consent: {e}")))?,
        };
        for (key, text) in [
            ("opt_out_reply", &me.opt_out_reply),
            ("opt_in_reply", &me.opt_in_reply),
            ("join_reply", &me.join_reply),
            ("help_reply", &me.help_reply),
            ("confirm_request", &me.confirm_request),
        ] {
            if let Some(t) = text {
                Body::parse(t).map_err(|e| Invalid::new(format!("consent.{key}: {e}")))?;
            }
        }
        me.policy(business)?;
        Ok(me)
    }

    pub fn of(inbox: &Inbox) -> Self {
        serde_json::from_value(inbox.settings.get("consent").cloned().unwrap_or_default()).unwrap_or_default()
    }

    /// The inbox's policy; its replies name the business, as carriers require.
    /// A custom reply that is not a valid text falls back to the default.
    pub fn policy(&self, business: &str) -> Result<ConsentPolicy, Invalid> {
        let reply = |custom: &Option<String>, action| match custom.as_deref().and_then(|t| Body::parse(t).ok()) {
            Some(body) => Ok(body),
            None => default_reply(action, business),
        };
        Ok(ConsentPolicy {
            keywords: self.keywords.clone(),
            opt_out_reply: reply(&self.opt_out_reply, KeywordAction::OptOut)?,
            opt_in_reply: reply(&self.opt_in_reply, KeywordAction::OptIn)?,
            join_reply: reply(&self.join_reply, KeywordAction::Join)?,
            help_reply: reply(&self.help_reply, KeywordAction::Help)?,
            double_opt_in: self.double_opt_in,
            confirm_request: match self.confirm_request.as_deref().and_then(|t| Body::parse(t).ok()) {
                Some(body) => body,
                None => Body::parse(&format!(
                    "{}: Reply YES to confirm you want texts from us. Msg & data rates may apply. Reply STOP to cancel.",
                    clip(business)
                ))?,
            },
        })
    }
}

/// The business's name, clipped so the default replies always fit in one request.
fn clip(business: &str) -> String {
    business.chars().take(100).collect()
}

fn default_reply(action: KeywordAction, business: &str) -> Result<Body, Invalid> {
    let business = clip(business);
    let text = match action {
        KeywordAction::OptOut => {
            format!(
                "{business}: You are unsubscribed and will get no more messages from us. Reply START to resubscribe."
            )
        }
        KeywordAction::OptIn => {
            format!("{business}: You are subscribed to our messages again. Reply HELP for help, STOP to opt out.")
        }
        KeywordAction::Join => format!(
            "{business}: You are subscribed to our messages. Msg & data rates may apply. Reply HELP for help, STOP to opt out."
        ),
        KeywordAction::Help => format!("{business}: Reply to this message to reach our team. Reply STOP to opt out."),
    };
    Body::parse(&text)
}

/// What a person tells the app about a customer's consent: an agent from a
/// conversation's page, or an API client. Both doors record through
/// `Services::record_consent`, so they accept and refuse the same things.
pub struct ConsentAsk<'a> {
    /// The contact it is about, or the conversation whose contact it is.
    pub about: ConsentAbout,
    /// `opted_in` or `opted_out`.
    pub state: &'a str,
    /// `account` (every number of the business, the default) or one inbox's scope.
    pub scope: Option<&'a str>,
    /// How the customer said it (`agent`, `verbal`, `web_form`, `api`…).
    pub source: &'a str,
    /// Their words or where they were given, kept with the record.
    pub evidence: &'a str,
}

#[derive(Clone, Copy)]
pub enum ConsentAbout {
    Contact(i64),
    /// Also puts the change on this conversation's timeline.
    Conversation(i64),
}

/// The most evidence kept with one record, in characters: longer is refused,
/// not cut, so nothing the agent typed is silently lost.
pub const MAX_EVIDENCE_CHARS: usize = 500;

impl crate::services::Services {
    /// Records an opt-in or opt-out a person vouches for.
    pub async fn record_consent(&self, user: &User, ask: ConsentAsk<'_>) -> ServiceResult<ConsentEvent> {
        let state = match ConsentState::parse(ask.state) {
            Some(st @ (ConsentState::OptedIn | ConsentState::OptedOut)) => st,
            _ => return Err(ServiceError::Invalid("state must be opted_in or opted_out".into())),
        };
        let source = ask.source.trim();
        if source.is_empty() || source.chars().count() > 50 {
            return Err(ServiceError::Invalid("source is 1 to 50 characters (web_form, verbal, api, …)".into()));
        }
        let evidence = ask.evidence.trim();
        if evidence.chars().count() > MAX_EVIDENCE_CHARS {
            return Err(ServiceError::Invalid(format!(
                "evidence is at most {MAX_EVIDENCE_CHARS} characters; keep the customer's words and where they were given"
            )));
        }
        let (contact_id, conversation_id) = match ask.about {
            ConsentAbout::Contact(id) => (id, None),
            ConsentAbout::Conversation(id) => {
                (self.store.conversation(user.account_id, id).await?.contact_id, Some(id))
            }
        };
        let record = RecordConsent {
            contact_id,
            conversation_id,
            scope: ask.scope.unwrap_or(ACCOUNT_SCOPE),
            state,
            source,
            evidence,
            actor_id: Some(user.id),
        };
        let event = self.store.record_consent(user.account_id, record).await?;
        let detail = format!("{} ({source}).", if state == ConsentState::OptedIn { "Opted in" } else { "Opted out" });
        self.audit(user, "consent.recorded", &format!("contact:{contact_id}"), None, &detail).await?;
        Ok(event)
    }
}

/// One CSV field: quoted when it must be, and a leading `=`, `+`, `-` or `@`
/// defused so a spreadsheet never runs a customer's text as a formula.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_owned() };
    if v.contains([',', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

/// The consent ledger as CSV for an audit: one line per event, oldest first, times in UTC.
pub fn ledger_csv(lines: &[textdesk_store::LedgerLine]) -> String {
    let mut out = String::from(
        "event_id,time_utc,contact_id,contact_name,address,scope,change,source,evidence,recorded_by,message_id,message_text\r\n",
    );
    for l in lines {
        let e = &l.event;
        let fields = [
            e.id.to_string(),
            e.created_at.to_string(),
            e.contact_id.to_string(),
            l.contact_name.clone(),
            l.address.clone().unwrap_or_default(),
            e.scope.clone(),
            e.kind.clone(),
            e.source.clone(),
            e.evidence.clone(),
            l.actor_name
                .clone()
                .unwrap_or_else(|| if e.actor_id.is_none() { "customer".into() } else { String::new() }),
            e.message_id.map(|m| m.to_string()).unwrap_or_default(),
            l.message_body.clone().unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

impl crate::services::Services {
    /// A contact's opt-ins and opt-outs (404 for a contact of another account).
    pub async fn consent_history(&self, account_id: i64, contact_id: i64) -> ServiceResult<Vec<ConsentEvent>> {
        self.store.contact(account_id, contact_id).await?;
        Ok(self.store.consent_history(contact_id).await?)
    }

    /// The account's consent ledger between `from` and `to`, one contact's
    /// when given, exported by `by` (an audit entry says so).
    pub async fn consent_ledger(
        &self,
        by: &User,
        contact_id: Option<i64>,
        from: Option<jiff::Timestamp>,
        to: Option<jiff::Timestamp>,
    ) -> ServiceResult<Vec<LedgerLine>> {
        let lines = self.store.consent_ledger(by.account_id, contact_id, from, to).await?;
        let subject = contact_id.map(|c| format!("contact:{c}")).unwrap_or_else(|| "consent ledger".into());
        let detail = format!("{} lines as CSV.", lines.len());
        self.audit(by, "consent.exported", &subject, None, &detail).await?;
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("STOP"), "STOP");
        assert_eq!(csv_field("Stop, please"), "\"Stop, please\"");
        assert_eq!(csv_field("say \"no\""), "\"say \"\"no\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn replies_name_the_business_and_can_be_replaced() {
        let p = ConsentSettings::default().policy("Harbor Dental").unwrap();
        assert!(p.opt_out_reply.as_str().starts_with("Harbor Dental:"));
        assert!(p.opt_out_reply.as_str().contains("START"));
        let custom: ConsentSettings = serde_json::from_value(
            serde_json::json!({ "help_reply": "Call 555-0100", "opt_in_reply": "  ", "keywords": { "opt_out": ["BAJA"] } }),
        )
        .unwrap();
        let p = custom.policy("X").unwrap();
        assert_eq!(p.help_reply.as_str(), "Call 555-0100");
        assert!(p.opt_in_reply.as_str().starts_with("X:"), "a blank custom reply falls back");
        assert_eq!(p.keywords.classify("baja"), Some(KeywordAction::OptOut));
        assert_eq!(p.keywords.classify("STOP"), None, "an inbox that lists its own words uses them");
        assert_eq!(p.keywords.classify("HELP"), Some(KeywordAction::Help), "lists not given keep their defaults");
    }
}
