//! Ingest: the one way in. Provider webhooks, the simulator and (later) web
//! chat hand their parsed events here.

use textdesk_channels::{ConsentSignal, InboundEvent};
use textdesk_core::consent::KeywordAction;

use textdesk_store::{InboundMessage, Inbox, IngestOutcome, StatusReport};

use crate::services::Services;
use crate::services::consent::ConsentSettings;
use crate::services::error::ServiceResult;
use crate::services::metrics::Metrics;

#[derive(Debug)]
pub enum Ingested {
    Message(IngestOutcome),
    Status {
        changed: bool,
    },
    /// Whether the contact took the name they use in the app.
    Profile {
        named: bool,
    },
    /// Whether the phone number joined the customer's contact.
    PhoneShared {
        linked: bool,
    },
}

impl Services {
    /// Stores an inbound event for `inbox_id` (its events in the same
    /// transaction). The provider may be acknowledged once this returns `Ok`:
    /// it is on disk.
    pub async fn ingest(&self, inbox_id: i64, event: InboundEvent) -> ServiceResult<Ingested> {
        self.ingest_with(inbox_id, None, event).await
    }

    /// [`Services::ingest`] for an inbox the caller has just read (a
    /// webhook's), which is not read again.
    pub async fn ingest_into(&self, inbox: &Inbox, event: InboundEvent) -> ServiceResult<Ingested> {
        self.ingest_with(inbox.id, Some(inbox), event).await
    }

    async fn ingest_with(&self, inbox_id: i64, read: Option<&Inbox>, event: InboundEvent) -> ServiceResult<Ingested> {
        match event {
            InboundEvent::Message { from, provider_id, body, media, received_at, consent_signal } => {
                let cached;
                let inbox = match read {
                    Some(inbox) => inbox,
                    None => {
                        cached = self.cached_inbox(inbox_id).await?;
                        &*cached
                    }
                };
                // Confirmations name the inbox's own business, never another account's.
                let business = self.cached_business_name(inbox.account_id).await?;
                let policy = ConsentSettings::of(inbox).policy(&business)?;
                let media: Vec<_> = media
                    .into_iter()
                    .map(|m| textdesk_store::NewMedia { url: m.url, content_type: m.content_type })
                    .collect();
                let provider_handled = consent_signal.map(|c| match c {
                    ConsentSignal::OptOut => KeywordAction::OptOut,
                    ConsentSignal::OptIn => KeywordAction::OptIn,
                    ConsentSignal::Help => KeywordAction::Help,
                });
                let has_media = !media.is_empty();
                let channel = self.capabilities(&inbox.provider, inbox.medium);
                let msg = InboundMessage {
                    from: from.clone(),
                    provider_id,
                    body,
                    media,
                    received_at,
                    provider_handled,
                    channel,
                };
                let outcome = self.store.record_inbound(inbox, &msg, self.reopen_window, &policy).await?;
                match &outcome {
                    IngestOutcome::Stored { contact_id, .. } => {
                        Metrics::inc(&self.metrics.inbound_messages);
                        if self.wants_profile(inbox, *contact_id).await {
                            // Asked beside the provider's answer, the message already stored: kept whatever the profile call does.
                            let (services, inbox) = (self.clone(), inbox.clone());
                            tokio::spawn(async move { services.name_from_provider(&inbox, &from).await });
                        }
                        if has_media {
                            // Fetched now, after the provider has its answer; retried by housekeeping.
                            let services = self.clone();
                            tokio::spawn(async move {
                                if let Err(e) = services.fetch_due_media(jiff::Timestamp::now()).await {
                                    tracing::error!(error = %e, "fetching attachments failed");
                                }
                            });
                        }
                    }
                    IngestOutcome::Duplicate { .. } => Metrics::inc(&self.metrics.inbound_duplicates),
                }
                Ok(Ingested::Message(outcome))
            }
            InboundEvent::Status { provider_id, status, error } => {
                let opted_out = error.as_ref().filter(|e| e.recipient_opted_out).map(|e| e.explanation.clone());
                let error = error.map(|e| match e.code {
                    Some(code) => format!("{} (error {code})", e.explanation),
                    None => e.explanation,
                });
                let report = StatusReport { inbox_id, provider_id, status, error };
                let changed = self.store.apply_status(&report).await?;
                if let (Some((account_id, m)), Some(why)) = (&changed, opted_out) {
                    self.provider_reports_opt_out(*account_id, inbox_id, m.conversation_id, &why).await?;
                }
                Ok(Ingested::Status { changed: changed.is_some() })
            }
            InboundEvent::StatusUpTo { to, status, until } => {
                let mut changed = false;
                for provider_id in self.store.sent_up_to(inbox_id, &to, until, status).await? {
                    let report = StatusReport { inbox_id, provider_id, status, error: None };
                    changed |= self.store.apply_status(&report).await?.is_some();
                }
                Ok(Ingested::Status { changed })
            }
            InboundEvent::Profile { from, name } => {
                let inbox = self.store.inbox_by_id(inbox_id).await?;
                let named = self.store.name_if_unnamed(inbox.account_id, &from, &name).await?;
                Ok(Ingested::Profile { named })
            }
            InboundEvent::PhoneShared { from, phone } => {
                let inbox = self.store.inbox_by_id(inbox_id).await?;
                let linked = self.store.link_phone(inbox.account_id, &from, &phone).await?;
                Ok(Ingested::PhoneShared { linked })
            }
        }
    }
}
