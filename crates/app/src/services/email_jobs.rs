//! The email worker: sends the emails automations queued (a request for the
//! details, or the transcript), each claimed by one node with a lease, sent
//! with no transaction open, and retried on the mail server's passing
//! failures; the thread shows it once sent, or why it never was.

use jiff::{SignedDuration, Timestamp};
use textdesk_core::Email;
use textdesk_store::EmailJob;

use crate::services::Services;
use crate::services::email::{EMAIL_ATTRIBUTE, MailRefused};
use crate::services::error::ServiceResult;

/// A node's claim on a job: longer than the mail server's 20 s timeout, so
/// a job is another node's only once its sender has surely given up.
const EMAIL_LEASE: SignedDuration = SignedDuration::from_mins(2);

/// Tries before a job is given up (the thread then says why).
pub const EMAIL_ATTEMPTS: u32 = 5;

/// The wait before try `attempts + 1`: 1, 5, 15, then 60 minutes.
fn retry_after(attempts: u32) -> SignedDuration {
    SignedDuration::from_mins(match attempts {
        0 | 1 => 1,
        2 => 5,
        3 => 15,
        _ => 60,
    })
}

impl Services {
    /// Sends the due email jobs. Returns how many went. Housekeeping runs it;
    /// `now` is a parameter so tests can move the clock to a retry.
    pub async fn run_email_jobs(&self, now: Timestamp) -> ServiceResult<usize> {
        let mut sent = 0;
        for job in self.store.claim_email_jobs(now, EMAIL_LEASE, 20).await? {
            match self.send_email_job(&job).await {
                Ok(reply_to) => {
                    if self.store.email_job_sent(&job, &reply_to, now).await? {
                        sent += 1;
                    }
                }
                Err(refused) => {
                    let retry =
                        (!refused.permanent && job.attempts < EMAIL_ATTEMPTS).then(|| now + retry_after(job.attempts));
                    // Not the server's words: a refusal often quotes the customer's address. They are kept with
                    // the job, and the thread shows them to the agents.
                    tracing::warn!(
                        job = job.id,
                        attempts = job.attempts,
                        retry = retry.is_some(),
                        permanent = refused.permanent,
                        "an automation's email was not sent"
                    );
                    self.store.email_job_failed(&job, &refused.words, retry, now).await?;
                }
            }
        }
        Ok(sent)
    }

    /// Makes and sends one job's email; its `Reply-To` once the server took it.
    async fn send_email_job(&self, job: &EmailJob) -> Result<String, MailRefused> {
        let final_words = |words: &str| MailRefused { words: words.to_owned(), permanent: true };
        let passing = |e: crate::services::error::ServiceError| MailRefused { words: e.to_string(), permanent: false };
        let settings = self.account_settings(job.account_id).await.map_err(passing)?.email;
        if !settings.configured() {
            return Err(final_words("email is not set up: an admin adds the mail server on the account page"));
        }
        let conversation =
            self.store.conversation(job.account_id, job.conversation_id).await.map_err(|e| passing(e.into()))?;
        let contact =
            self.store.contact(job.account_id, conversation.contact_id).await.map_err(|e| passing(e.into()))?;
        // Read now, not when the rule fired: an agent may have corrected it since.
        let address = contact
            .attribute_texts()
            .get(EMAIL_ATTRIBUTE)
            .and_then(|a| Email::parse(a).ok())
            .ok_or_else(|| final_words("the customer's contact has no valid email address"))?;
        let (message, reply_to) = self
            .escalation_email((job.account_id, job.conversation_id), &address, job.content, None)
            .await
            .map_err(|e| final_words(&e.to_string()))?;
        self.deliver_email(job.account_id, message).await?;
        Ok(reply_to)
    }
}
