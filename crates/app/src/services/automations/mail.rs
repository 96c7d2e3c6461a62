//! A rule's email to the customer (a request for the details, or the
//! transcript): written as a job in the engine's transaction and sent by the
//! email worker ([`crate::services::email_jobs`]) once it has committed.

use jiff::Timestamp;
use sqlx::AnyConnection;
use textdesk_core::ConsentState;
use textdesk_core::escalation::EmailContent;
use textdesk_store::Situation;

use super::engine::Engine;

impl Engine {
    /// A rule's email to the customer: a job written in this transaction, sent
    /// by the email worker afterwards (an SMTP server must never hold the
    /// engine's transaction open). Returns what the timeline says.
    pub(super) async fn queue_email(
        &self,
        tx: &mut AnyConnection,
        rule_id: i64,
        send: Option<EmailContent>,
        s: &Situation,
        now: Timestamp,
    ) -> textdesk_store::Result<String> {
        if s.consent == ConsentState::OptedOut {
            return Ok("did not email the customer: they opted out".into());
        }
        if !s.attributes.contains_key(textdesk_core::contact_row::EMAIL_ATTRIBUTE) {
            return Ok("did not email the customer: their contact has no email address".into());
        }
        let content = send.unwrap_or(EmailContent::Request);
        let ids = (s.conversation.account_id, s.conversation.id, rule_id);
        textdesk_store::email_jobs::queue_email(tx, ids, content, now).await?;
        Ok(match content {
            EmailContent::Request => "is asking the customer by email for the details".into(),
            EmailContent::Transcript => "is emailing the customer the transcript".into(),
        })
    }
}
