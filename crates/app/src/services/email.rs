//! Escalating to email: the conversation's transcript, or a request for the
//! details, sent through the account's SMTP server with a `Reply-To` that
//! carries the conversation (`reply+<token>@` the reply domain).

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use textdesk_core::escalation::{EmailContent, SmtpTls};
use textdesk_core::{AttributeChanges, AttributeKey, AttributeValue, Email, Invalid};
use textdesk_store::{ContactPatch, EscalationAct, User};

use crate::services::Services;
use crate::services::account::{EmailSettings, smtp_password_name};
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::transcript::Entry;

/// The contact attribute that holds their email address.
pub const EMAIL_ATTRIBUTE: &str = textdesk_core::contact_row::EMAIL_ATTRIBUTE;

impl Services {
    /// Sends the email and says what to record; nothing is recorded when it was not sent.
    pub(crate) async fn email_escalation(
        &self,
        actor: &User,
        conversation_id: i64,
        to: Option<&str>,
        content: EmailContent,
    ) -> ServiceResult<EscalationAct> {
        let settings = self.account_settings(actor.account_id).await?.email;
        if !settings.configured() {
            return Err(Invalid::new(
                "email is not set up: an admin adds the mail server (settings.email in /api/v1/account)",
            )
            .into());
        }
        let conversation = self.store.conversation(actor.account_id, conversation_id).await?;
        let contact = self.store.contact(actor.account_id, conversation.contact_id).await?;
        let address = match to.map(str::trim).filter(|t| !t.is_empty()) {
            Some(given) => {
                let email = Email::parse(given)?;
                let key = AttributeKey::parse(EMAIL_ATTRIBUTE)?;
                let value = AttributeValue::parse(email.as_str())?;
                let patch = ContactPatch {
                    attributes: Some(AttributeChanges::one(key, Some(value))),
                    ..ContactPatch::default()
                };
                self.edit_contact(actor, contact.id, patch, Some(conversation_id)).await?;
                email
            }
            None => match contact.attribute_texts().get(EMAIL_ATTRIBUTE) {
                Some(stored) => Email::parse(stored)?,
                None => {
                    return Err(
                        Invalid::new("this customer has no email address yet: give `email` to use and keep").into()
                    );
                }
            },
        };
        let (message, reply_to) =
            self.escalation_email((actor.account_id, conversation_id), &address, content, Some(actor)).await?;
        self.deliver_email(actor.account_id, message).await.map_err(|e| {
            // The server's words, never the message (it holds the customer's).
            ServiceError::Invalid(format!("the mail server did not take the email: {}", e.words))
        })?;
        Ok(EscalationAct::Email { reply_to })
    }
}

/// Why the mail server did not take an email, in its words.
#[derive(Debug)]
pub(crate) struct MailRefused {
    pub words: String,
    /// Trying again will not help (a 5xx answer, an address it refuses).
    pub permanent: bool,
}

impl Services {
    /// An escalation's email to `address` and the `Reply-To` that carries the
    /// conversation (`reply+<token>@` the reply domain, a new token each
    /// time). Signed by the agent, or by the business when a rule sends it.
    pub(crate) async fn escalation_email(
        &self,
        (account_id, conversation_id): (i64, i64),
        address: &Email,
        content: EmailContent,
        agent: Option<&User>,
    ) -> ServiceResult<(Message, String)> {
        let settings = self.account_settings(account_id).await?.email;
        let token = hex::encode(rand::random::<[u8; 20]>());
        let reply_to = format!("reply+{token}@{}", settings.reply_domain);
        let (subject, body) = match content {
            EmailContent::Transcript => {
                // An agent's transcript is audited as theirs; a rule's is the business's own record.
                let t = match agent {
                    Some(a) => self.transcript((account_id, conversation_id), a.id, None).await?,
                    None => self.read_transcript(account_id, conversation_id).await?,
                };
                let mut lines =
                    vec![format!("Our conversation with {}, as it stands:", self.business_name), String::new()];
                for (at, entry) in t.entries() {
                    if let Entry::Message(m) = entry {
                        if m.private {
                            continue;
                        }
                        let who = match m.direction {
                            textdesk_core::Direction::Inbound => "You".to_owned(),
                            _ => m.author_name.clone().unwrap_or_else(|| self.business_name.clone()),
                        };
                        lines.push(format!("{} {who}: {}", at.strftime("%Y-%m-%d %H:%M UTC"), m.body));
                    }
                }
                lines.push(String::new());
                lines.push("Reply to this email to add to the conversation.".into());
                (format!("Your conversation with {}", self.business_name), lines.join("\n"))
            }
            EmailContent::Request => (
                format!("{}: could you send us the details?", self.business_name),
                format!(
                    "Hello,\n\nTo help you further, please reply to this email with the details (and any pictures or \
                     documents) of your request. Your reply goes straight into our conversation.\n\n{}",
                    agent.map(|a| a.name.clone()).unwrap_or_else(|| self.business_name.clone())
                ),
            ),
        };
        let bad = |e: String| ServiceError::Invalid(format!("the email could not be made: {e}"));
        let message = Message::builder()
            .from(settings.from.parse::<Mailbox>().map_err(|e| bad(e.to_string()))?)
            .reply_to(reply_to.parse::<Mailbox>().map_err(|e| bad(e.to_string()))?)
            .to(address.as_str().parse::<Mailbox>().map_err(|e| bad(e.to_string()))?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| bad(e.to_string()))?;
        Ok((message, reply_to))
    }

    /// Hands an email to the account's mail server.
    pub(crate) async fn deliver_email(&self, account_id: i64, message: Message) -> Result<(), MailRefused> {
        let unavailable = |words: String| MailRefused { words, permanent: false };
        let settings = self.account_settings(account_id).await.map_err(|e| unavailable(e.to_string()))?.email;
        let password =
            self.store.server_secret(&smtp_password_name(account_id)).await.map_err(|e| unavailable(e.to_string()))?;
        let mailer =
            transport(&settings, password).map_err(|e| MailRefused { words: e.to_string(), permanent: true })?;
        mailer
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailRefused { words: e.to_string(), permanent: e.is_permanent() })
    }

    /// Sends a plain-text email to `to` through the account's mail server
    /// (the caller checks it is set up).
    pub(crate) async fn send_plain_email(
        &self,
        account_id: i64,
        to: &[String],
        subject: &str,
        body: String,
    ) -> ServiceResult<()> {
        let settings = self.account_settings(account_id).await?.email;
        let bad = |e: String| ServiceError::Invalid(format!("the email could not be made: {e}"));
        let mut message = Message::builder().from(settings.from.parse::<Mailbox>().map_err(|e| bad(e.to_string()))?);
        for address in to {
            message = message.to(address.parse::<Mailbox>().map_err(|e| bad(e.to_string()))?);
        }
        let message =
            message.subject(subject).header(ContentType::TEXT_PLAIN).body(body).map_err(|e| bad(e.to_string()))?;
        self.deliver_email(account_id, message)
            .await
            .map_err(|e| ServiceError::Invalid(format!("the mail server did not take the email: {}", e.words)))
    }
}

fn transport(
    s: &EmailSettings,
    password: Option<String>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let builder = match s.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
    };
    let port = match (s.port, s.tls) {
        (0, SmtpTls::None) => 25,
        (0, SmtpTls::Starttls) => 587,
        (0, SmtpTls::Tls) => 465,
        (p, _) => p,
    };
    let mut builder = builder.port(port).timeout(Some(Duration::from_secs(20)));
    if !s.username.is_empty() {
        builder = builder.credentials(Credentials::new(s.username.clone(), password.unwrap_or_default()));
    }
    Ok(builder.build())
}

/// An inbound-parse post: the fields the common "inbound parse" webhooks send.
pub struct InboundEmail<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    /// Its attachments: declared content type and bytes.
    pub files: Vec<(&'a str, &'a [u8])>,
}

/// The most attachments an email reply keeps (as a composer's message may carry).
pub const MAX_EMAIL_FILES: usize = 10;

impl Services {
    /// The path an account's inbound-parse webhook posts to; the secret in it is the credential.
    pub async fn inbound_email_path(&self, account_id: i64) -> ServiceResult<String> {
        let secret = self.store.server_key(&inbound_secret_name(account_id)).await?;
        Ok(format!("/webhooks/email/{account_id}/{secret}"))
    }

    /// A customer's reply to an escalation's email: checked against the
    /// account's secret (403 otherwise), found by its `reply+<token>@` address
    /// (404 when no escalation gave it out), its quoted history cut, and
    /// threaded into the conversation as their message, once.
    pub async fn inbound_email(&self, account_id: i64, secret: &str, mail: &InboundEmail<'_>) -> ServiceResult<i64> {
        use subtle::ConstantTimeEq;
        let expected = self.store.server_key(&inbound_secret_name(account_id)).await?;
        if !bool::from(expected.as_bytes().ct_eq(secret.as_bytes())) {
            return Err(ServiceError::Forbidden("this inbound email address is not this account's".into()));
        }
        let Some(reply_to) = textdesk_core::escalation::reply_address(mail.to) else {
            return Err(Invalid::new("the email was not sent to a reply+<token>@ address").into());
        };
        let text = textdesk_core::escalation::strip_quoted(mail.text);
        if text.is_empty() {
            return Err(Invalid::new("the email has no words of its own (only quoted history)").into());
        }
        if mail.files.len() > MAX_EMAIL_FILES {
            return Err(Invalid::new(format!("an email reply keeps at most {MAX_EMAIL_FILES} attachments")).into());
        }
        // Every attachment is checked before anything is kept: one refused file refuses the email.
        let mut kinds = Vec::with_capacity(mail.files.len());
        for (i, (declared, bytes)) in mail.files.iter().enumerate() {
            if bytes.len() as u64 > self.media.max_bytes {
                return Err(Invalid::new(format!(
                    "attachment {}: larger than {}, the most a file may be",
                    i + 1,
                    crate::services::media::human_size(self.media.max_bytes)
                ))
                .into());
            }
            let kind = textdesk_core::media::check(declared, bytes)
                .map_err(|refused| Invalid::new(format!("attachment {}: {refused}", i + 1)))?;
            kinds.push(kind.essence);
        }
        // A provider posting the same email twice stores it once.
        let email_id = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            for part in [mail.from, mail.to, mail.subject, mail.text] {
                h.update(part.as_bytes());
                h.update([0u8]);
            }
            for (_, bytes) in &mail.files {
                h.update(sha2::Sha256::digest(bytes));
            }
            hex::encode(h.finalize())
        };
        let mut files = Vec::with_capacity(kinds.len());
        for ((_, bytes), kind) in mail.files.iter().zip(kinds) {
            files.push((self.store_media_bytes(bytes).await?, kind.to_owned(), bytes.len() as i64));
        }
        let now = jiff::Timestamp::now();
        let recorded = self.store.record_email_reply(account_id, &reply_to, (&email_id, &text, &files), now).await?;
        match recorded {
            Some((conversation_id, _)) => Ok(conversation_id),
            None => Err(ServiceError::NotFound("reply address")),
        }
    }
}

fn inbound_secret_name(account_id: i64) -> String {
    format!("email_inbound:{account_id}")
}
