//! Provider templates (WhatsApp's): synced from the provider per inbox by an
//! admin, offered in the composer of a conversation on that inbox, and sent
//! as a `Draft` like any other message, through the one gate and outbox.

use textdesk_channels::OutgoingTemplate;
use textdesk_core::Body;
use textdesk_core::Role;
use textdesk_core::channel_template::{TemplateParts, TemplateStatus, TemplateText};
use textdesk_store::{ChannelTemplate, Conversation, SyncedTemplate, User};

use crate::services::Services;
use crate::services::conversations::Draft;
use crate::services::error::{ServiceError, ServiceResult};
use textdesk_channels::provider::CheckFailure;

impl Services {
    /// Asks the inbox's provider for its templates and keeps them (admins).
    /// Returns how many it holds now.
    pub async fn sync_templates(&self, user: &User, inbox_id: i64) -> ServiceResult<usize> {
        if !user.role.at_least(Role::Admin) {
            return Err(ServiceError::forbidden("only an admin can sync an inbox's templates"));
        }
        let inbox = self.store.inbox(user.account_id, inbox_id).await?;
        let channel = self.channel(&inbox).await?;
        let listed = channel.templates().await.map_err(|e| match e {
            CheckFailure::Rejected(words) | CheckFailure::Unreachable(words) => ServiceError::Credentials(words),
        })?;
        let Some(listed) = listed else {
            return Err(ServiceError::invalid(format!("{} inboxes have no message templates", inbox.provider)));
        };
        let synced: Vec<SyncedTemplate> = listed
            .into_iter()
            .map(|t| SyncedTemplate {
                name: t.name,
                language: t.language,
                status: t.status,
                category: t.category,
                body: t.body,
                parts: serde_json::to_string(&t.parts).unwrap_or_else(|_| "{}".into()),
            })
            .collect();
        Ok(self.store.replace_templates(inbox.id, &synced, jiff::Timestamp::now()).await?)
    }

    /// An inbox's templates as last synced (everyone in the account may see them).
    pub async fn inbox_templates(&self, account_id: i64, inbox_id: i64) -> ServiceResult<Vec<ChannelTemplate>> {
        let inbox = self.store.inbox(account_id, inbox_id).await?;
        Ok(self.store.templates(inbox.id).await?)
    }

    /// The approved templates a conversation may be answered with.
    pub async fn conversation_templates(&self, conversation: &Conversation) -> ServiceResult<Vec<ChannelTemplate>> {
        let all = self.store.templates(conversation.inbox_id).await?;
        Ok(all.into_iter().filter(|t| TemplateStatus::parse(&t.status) == TemplateStatus::Approved).collect())
    }

    /// The message a template makes for a conversation, filled with `fill`,
    /// ready to `send`. Only an approved template of the conversation's
    /// inbox; every variable, header and URL button's ending filled.
    pub async fn template_draft(
        &self,
        account_id: i64,
        conversation_id: i64,
        template_id: i64,
        fill: &TemplateFill,
    ) -> ServiceResult<Draft> {
        let conversation = self.store.conversation(account_id, conversation_id).await?;
        let t = self.store.template(conversation.inbox_id, template_id).await?;
        let (body, template) = filled(t, fill)?;
        let mut draft = Draft::reply(body);
        draft.template = Some(template);
        Ok(draft)
    }

    /// An inbox's approved template by name (and language, where the name
    /// has several), for a notification.
    pub async fn template_by_name(
        &self,
        inbox_id: i64,
        name: &str,
        language: Option<&str>,
    ) -> ServiceResult<ChannelTemplate> {
        let all = self.store.templates(inbox_id).await?;
        let named: Vec<ChannelTemplate> = all
            .into_iter()
            .filter(|t| t.name == name.trim() && language.is_none_or(|l| t.language.eq_ignore_ascii_case(l.trim())))
            .collect();
        match named.len() {
            0 => Err(ServiceError::invalid(format!(
                "the inbox has no template {name:?}{}: sync its templates, or check the name",
                language.map(|l| format!(" in {l}")).unwrap_or_default()
            ))),
            1 => Ok(named.into_iter().next().ok_or_else(|| ServiceError::Internal("a template vanished".into()))?),
            _ => {
                let languages: Vec<&str> = named.iter().map(|t| t.language.as_str()).collect();
                Err(ServiceError::invalid(format!(
                    "the template {name:?} is in several languages ({}): give language",
                    languages.join(", ")
                )))
            }
        }
    }
}

/// The values a template is sent with: its body's in order, its header's (a
/// text variable's value, or the link of its picture, video or document),
/// and its buttons' by index (a quick reply's payload, a URL's ending).
#[derive(Debug, Clone, Default)]
pub struct TemplateFill {
    pub values: Vec<String>,
    pub header: Option<String>,
    pub buttons: Vec<(usize, String)>,
}

/// A synced template's header and buttons.
pub fn parts_of(t: &ChannelTemplate) -> TemplateParts {
    // Written by `sync_templates` only; a row from before migration 0049 has none.
    serde_json::from_str(&t.parts).unwrap_or_default()
}

/// A template filled in for sending: the text the customer reads (its
/// header's words over its body), for the record, and the JSON of what
/// goes to the provider. Only an approved template.
pub fn filled(t: ChannelTemplate, fill: &TemplateFill) -> ServiceResult<(Body, String)> {
    if TemplateStatus::parse(&t.status) != TemplateStatus::Approved {
        return Err(ServiceError::invalid(format!(
            "the template {} is {} at WhatsApp, not approved: it cannot be sent",
            t.name,
            t.status.to_lowercase()
        )));
    }
    let text = TemplateText::new(&t.body);
    let values = text.check_values(&fill.values)?;
    let parts = parts_of(&t);
    let (header, buttons) = parts.check(fill.header.as_deref(), &fill.buttons)?;
    let rendered = match parts.header_text(header.as_ref()) {
        Some(h) => format!("{h}\n\n{}", text.render(&values)),
        None => text.render(&values),
    };
    let body = Body::parse(&rendered)?;
    let template = OutgoingTemplate { name: t.name, language: t.language, values, header, buttons };
    let json = serde_json::to_string(&template).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok((body, json))
}

/// Where a conversation stands with its channel's reply window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyWindow {
    /// The medium whose rule it is (the words differ: WhatsApp's templates, Messenger's tag).
    pub medium: textdesk_core::Medium,
    /// When free-form messages stop (None: the customer never wrote).
    pub closes_at: Option<jiff::Timestamp>,
    pub open: bool,
    /// When a person's reply stops too, where the channel lets one go after
    /// the window (Messenger's human agent tag); None otherwise.
    pub person_until: Option<jiff::Timestamp>,
}

impl Services {
    /// The reply window of a conversation's channel, as of `now`; None for a
    /// channel without one (SMS).
    pub async fn reply_window(
        &self,
        conversation: &Conversation,
        now: jiff::Timestamp,
    ) -> ServiceResult<Option<ReplyWindow>> {
        let (inbox, caps) = self.channel_of(conversation).await?;
        let Some(window) = caps.reply_window else { return Ok(None) };
        let last = self.store.contact_clock(conversation.id).await?.last_inbound;
        let closes_at = last.map(|t| t + window);
        let person_until = last.zip(caps.human_agent_window).map(|(t, w)| t + w);
        Ok(Some(ReplyWindow {
            medium: inbox.medium,
            closes_at,
            open: closes_at.is_some_and(|c| now < c),
            person_until,
        }))
    }
}
