//! What happened, as one typed value: every change anyone else cares about
//! (the timeline, live screens, later automations, webhooks and reports) is a
//! [`DomainEvent`], written once in the change's own transaction.
//!
//! Serialised as JSON `{"v": 1, "type": "status_changed", …fields}`. The
//! `type` names and field names of the conversation-timeline variants are the
//! ones the free-form timeline rows used before the log existed, so those rows
//! read as these variants (migration 0012 copies them with their `type`), and
//! the API's timeline keeps its shape.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::escalation::EscalationKind;
use crate::survey::SurveyKind;
use crate::voice::CallStatus;
use crate::{ConsentState, ConversationStatus, DeliveryStatus, Priority};

/// The version written with every event. Rows copied from before the log have
/// none and read as version 0 (same shapes).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DomainEvent {
    /// A customer's message was stored.
    MessageReceived {
        message_id: i64,
        /// It was a consent keyword (STOP, HELP, START…) or a stop request in
        /// the customer's own words: answered by the consent rules, never by
        /// automations.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        keyword: bool,
    },
    /// An outbound message was written with its outbox row, to go as soon as
    /// the gate allows.
    MessageQueued {
        message_id: i64,
        /// Written by no person (a consent confirmation, an off-hours reply).
        #[serde(default)]
        automatic: bool,
    },
    /// An outbound message its author asked to go later.
    #[serde(rename = "scheduled")]
    MessageScheduled {
        message_id: i64,
        send_at: Timestamp,
    },
    /// A private note for colleagues (never sent).
    NoteAdded {
        message_id: i64,
    },
    /// The provider accepted the message.
    MessageSent {
        message_id: i64,
    },
    /// The provider reported it delivered.
    MessageDelivered {
        message_id: i64,
    },
    /// The send failed; `will_retry` when the outbox tries again.
    MessageFailed {
        message_id: i64,
        will_retry: bool,
    },
    /// Any other change of a message's state: deferred or blocked by the
    /// gate's second look, requeued, retried, a provider's report.
    MessageStatusChanged {
        message_id: i64,
        status: DeliveryStatus,
    },
    /// An attachment of the message was fetched (or given up on).
    MediaFetched {
        message_id: i64,
    },
    /// A waiting message was edited, moved, sent now or cancelled.
    ScheduleChanged {
        action: ScheduleAction,
        message_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        send_at: Option<Timestamp>,
        /// What a cancelled message said (it is deleted; the timeline keeps its words).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    /// A conversation began (a customer's first text, or a test message).
    #[serde(rename = "created")]
    ConversationCreated {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Open / pending / snoozed / resolved. A reopen by the customer's reply
    /// or the end of a snooze carries its `reason`.
    StatusChanged {
        from: ConversationStatus,
        to: ConversationStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
        /// The clock (IANA zone) the snooze was chosen on: the agent's own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zone: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<StatusReason>,
    },
    Assigned {
        assignee_id: i64,
        /// Why, when nobody chose it by hand: "round-robin in Billing",
        /// "Dana helped them last time", "Dana replied".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    Unassigned {},
    TeamChanged {
        team_id: Option<i64>,
        /// The name as it was, so the timeline reads the same after a rename.
        #[serde(default)]
        team_name: Option<String>,
    },
    PriorityChanged {
        priority: Priority,
    },
    LabelsChanged {
        labels: Vec<String>,
    },
    /// A label of the catalogue was renamed (`renamed_to`) or deleted, and
    /// with it this conversation's labels.
    LabelCatalogueChanged {
        label: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        renamed_to: Option<String>,
    },
    ConsentChanged {
        to: ConsentState,
        /// keyword, provider, agent, verbal, web_form… as recorded in the ledger.
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<i64>,
    },
    /// The customer asked to stop in their own words (no keyword): a person decides.
    StopRequested {
        message_id: i64,
    },
    /// An agent opened it (it was unread).
    ConversationRead {},
    /// An agent marked it unread to come back to it.
    ConversationUnread {},
    /// The contact's name, zone or attributes changed.
    ContactChanged {
        contact_id: i64,
    },
    ContactNoteAdded {
        contact_id: i64,
        note_id: i64,
    },
    ContactNoteDeleted {
        contact_id: i64,
        note_id: i64,
    },
    /// An automation rule acted on the conversation: `did` says what, in
    /// words for the timeline; `silenced` why it did not write to the
    /// customer when it would have (the loop guard's reason).
    AutomationFired {
        rule_id: i64,
        rule: String,
        did: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        silenced: Option<String>,
        /// The outgoing webhooks the rule called: the webhooks consumer delivers
        /// the firing to these, in its own transaction.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        webhooks: Vec<i64>,
    },
    /// Why the router did what it did where an assignment alone does not say
    /// it: "Dana, who helped last time, is away", "handed back to the team".
    RoutingNote {
        note: String,
    },
    /// The conversation was escalated (to a supervisor, a video call…); the
    /// `escalations` row `escalation_id` holds the same, listed per conversation.
    Escalated {
        escalation_id: i64,
        to: EscalationKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The supervisor it went to (alerted live).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        supervisor_id: Option<i64>,
        /// The agent stayed assigned and the supervisor watches.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        kept_agent: bool,
        /// The meeting link of a video escalation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        /// The text that carried it to the customer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_id: Option<i64>,
    },
    /// A self-service flow began answering the customer: the conversation is
    /// the bot's until it ends or hands over.
    FlowStarted {
        flow_id: i64,
        flow: String,
    },
    /// The flow handed the customer to a person (and, by its choice, to a team).
    HandedOff {
        reason: HandoffReason,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team_id: Option<i64>,
    },
    /// The flow ended without a person: finished, no answer in time, a STOP,
    /// or a person stepped in.
    FlowEnded {
        reason: FlowEndReason,
    },
    /// A satisfaction poll went to the customer (its text is `message_id`).
    SurveySent {
        survey_id: i64,
        kind: SurveyKind,
        message_id: i64,
    },
    /// The customer's reply `message_id` answered the poll with `score`; the
    /// agent and team are the ones the conversation had when it was resolved.
    SurveyAnswered {
        survey_id: i64,
        kind: SurveyKind,
        score: u8,
        message_id: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team_id: Option<i64>,
    },
    /// The customer said what went wrong after a low score.
    SurveyCommented {
        survey_id: i64,
        message_id: i64,
    },
    /// Nobody answered the poll in time.
    SurveyExpired {
        survey_id: i64,
    },
    /// The conversation joined the supervisors' review queue (a low score,
    /// an escalation, a breached target, or the weekly sample).
    ReviewQueued {
        review_id: i64,
        why: String,
    },
    /// The customer has waited longer than the business's target for a first
    /// or a next reply and still waits: found by the periodic sweep, and
    /// counted as a missed target now rather than when the answer comes.
    SlaMissed {
        target: crate::report::MissedTarget,
        /// The start of the wait (as reporting's clock has it): the answer to
        /// this wait is not counted as missed a second time.
        waiting_since: Timestamp,
    },
    /// A supervisor scored the conversation against the rubric.
    ReviewScored {
        review_id: i64,
        reviewer_id: i64,
        /// Percent of the weighted maximum, when any criterion was scored.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overall: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent_id: Option<i64>,
    },
    /// A phone call for the conversation moved on (ringing, answered, ended…),
    /// as the provider reported it; `calls` row `call_id` holds the latest.
    #[serde(rename = "call_status")]
    CallStatusChanged {
        call_id: i64,
        status: CallStatus,
        /// How long it lasted, once completed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_secs: Option<u32>,
        /// Why textdesk itself stopped it (the customer opted out, or their
        /// quiet hours began, between the click and the agent answering).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A call back was asked for at `due_at`, by the customer's text or by an agent.
    CallbackRequested {
        callback_id: i64,
        due_at: Timestamp,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_customer: bool,
    },
    /// An agent took a call back from the queue (the actor).
    CallbackTaken {
        callback_id: i64,
    },
    /// A call back's time came: the agent who took it is alerted live, or,
    /// while nobody has, everyone who may answer the conversation.
    CallbackDue {
        callback_id: i64,
        due_at: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        taken_by: Option<i64>,
    },
    /// An email a rule asked for was not sent: the mail server refused it, or
    /// kept failing until the last attempt. `error` is the server's words.
    EmailFailed {
        job_id: i64,
        attempts: u32,
        error: String,
    },
    /// The customer asked to continue on another channel (a web visitor who
    /// left their number): the conversation now belongs to `to_inbox_id`, and
    /// replies go there. `consent_id` is the ledger entry with their words.
    ChannelMoved {
        from_inbox_id: i64,
        to_inbox_id: i64,
        /// The medium it moved to (`sms`), for the timeline's words.
        to_medium: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        consent_id: Option<i64>,
    },
    /// Two contacts were found to be one person: `merged_id`'s addresses,
    /// conversations, notes and consent ledger moved to `survivor_id`.
    ContactsMerged {
        merge_id: i64,
        survivor_id: i64,
        merged_id: i64,
    },
    /// A merge was undone: what moved went back to `merged_id`.
    ContactsUnmerged {
        merge_id: i64,
        survivor_id: i64,
        merged_id: i64,
    },
    /// An outgoing webhook kept failing for days and was switched off. About
    /// the account, not a conversation: logged with conversation id 0, so
    /// admins' open pages can alert them at once.
    WebhookSwitchedOff {
        subscription_id: i64,
    },
    /// An inbox's settings or provider connection changed. About the
    /// account, logged with conversation id 0: every node drops what it
    /// keeps of the inbox (its settings, its open channel and verifier) and
    /// reads it again on next use.
    InboxChanged {
        inbox_id: i64,
    },
}

/// Why a flow handed the customer to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The customer asked (AGENT, HUMAN, 0…).
    Asked,
    /// Two replies in a row the flow did not understand.
    NotUnderstood,
    /// A menu option hands over (the flow's choice of team, if it names one).
    Chosen,
    /// An automation rule took the customer from the bot (a word like
    /// "complaint", a label, a VIP): the rule's firing names it.
    Rule,
}

impl HandoffReason {
    pub fn describe(self) -> &'static str {
        match self {
            HandoffReason::Asked => "the customer asked for a person",
            HandoffReason::NotUnderstood => "the bot did not understand the customer twice",
            HandoffReason::Chosen => "the customer chose to talk to a person",
            HandoffReason::Rule => "an automation rule handed the customer over",
        }
    }
}

/// Why a flow ended without a handoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowEndReason {
    Finished,
    TimedOut,
    /// The customer opted out (STOP).
    OptedOut,
    /// A person replied or took the conversation.
    PersonStepped,
    /// The customer chose a call back: they were offered times, and their
    /// choice joins the call back queue (the conversation stays open).
    CallbackOffered,
}

impl FlowEndReason {
    pub fn describe(self) -> &'static str {
        match self {
            FlowEndReason::Finished => "the flow finished",
            FlowEndReason::TimedOut => "the customer did not answer in time",
            FlowEndReason::OptedOut => "the customer opted out",
            FlowEndReason::PersonStepped => "a person took over",
            FlowEndReason::CallbackOffered => "the customer chose a call back and was offered times",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleAction {
    Moved,
    SendNow,
    Cancelled,
}

/// Why a conversation opened without a person asking (as the old rows said it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatusReason {
    #[serde(rename = "customer replied")]
    CustomerReplied,
    #[serde(rename = "snooze ended")]
    SnoozeEnded,
}

impl StatusReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusReason::CustomerReplied => "customer replied",
            StatusReason::SnoozeEnded => "snooze ended",
        }
    }
}

/// The live kind of a conversation entering the review queue: for supervisors' screens only.
pub const REVIEW_QUEUED: &str = "review.queued";

/// How a live screen hears of an event: the wire kinds `static/app.js`
/// understands. Screens re-fetch what they show, so only ids travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveNotice {
    pub kind: &'static str,
    pub message_id: Option<i64>,
    /// A customer's message: what may deserve a browser notification.
    pub inbound: bool,
    /// The person it is addressed to (an escalation's supervisor), whose
    /// screen alerts them; everyone else's just refreshes.
    pub for_user: Option<i64>,
}

/// One event with its version, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versioned {
    #[serde(default)]
    pub v: u32,
    #[serde(flatten)]
    pub event: DomainEvent,
}

impl DomainEvent {
    /// A message now has `status` (a provider's report, a release of its claim).
    pub fn message_status(message_id: i64, status: DeliveryStatus) -> DomainEvent {
        match status {
            DeliveryStatus::Sent => DomainEvent::MessageSent { message_id },
            DeliveryStatus::Delivered => DomainEvent::MessageDelivered { message_id },
            DeliveryStatus::Failed => DomainEvent::MessageFailed { message_id, will_retry: false },
            status => DomainEvent::MessageStatusChanged { message_id, status },
        }
    }

    /// The stored form: `{"v":1,"type":…}`.
    pub fn to_json(&self) -> String {
        let versioned = Versioned { v: SCHEMA_VERSION, event: self.clone() };
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string(&versioned).unwrap_or_default()
    }

    /// Reads a stored event of any version this code knows.
    pub fn from_json(text: &str) -> Result<DomainEvent, crate::Invalid> {
        serde_json::from_str::<Versioned>(text)
            .map(|v| v.event)
            .map_err(|e| crate::Invalid::new(format!("an event this version cannot read: {e}")))
    }

    /// The `type` it is stored under.
    pub fn kind(&self) -> &'static str {
        use DomainEvent::*;
        match self {
            MessageReceived { .. } => "message_received",
            MessageQueued { .. } => "message_queued",
            MessageScheduled { .. } => "scheduled",
            NoteAdded { .. } => "note_added",
            MessageSent { .. } => "message_sent",
            MessageDelivered { .. } => "message_delivered",
            MessageFailed { .. } => "message_failed",
            MessageStatusChanged { .. } => "message_status_changed",
            MediaFetched { .. } => "media_fetched",
            ScheduleChanged { .. } => "schedule_changed",
            ConversationCreated { .. } => "created",
            StatusChanged { .. } => "status_changed",
            Assigned { .. } => "assigned",
            Unassigned {} => "unassigned",
            TeamChanged { .. } => "team_changed",
            PriorityChanged { .. } => "priority_changed",
            LabelsChanged { .. } => "labels_changed",
            LabelCatalogueChanged { .. } => "label_catalogue_changed",
            ConsentChanged { .. } => "consent_changed",
            StopRequested { .. } => "stop_requested",
            ConversationRead {} => "conversation_read",
            ConversationUnread {} => "conversation_unread",
            ContactChanged { .. } => "contact_changed",
            ContactNoteAdded { .. } => "contact_note_added",
            ContactNoteDeleted { .. } => "contact_note_deleted",
            AutomationFired { .. } => "automation_fired",
            RoutingNote { .. } => "routing_note",
            Escalated { .. } => "escalated",
            FlowStarted { .. } => "flow_started",
            HandedOff { .. } => "handed_off",
            FlowEnded { .. } => "flow_ended",
            SurveySent { .. } => "survey_sent",
            SurveyAnswered { .. } => "survey_answered",
            SurveyCommented { .. } => "survey_commented",
            SurveyExpired { .. } => "survey_expired",
            ReviewQueued { .. } => "review_queued",
            ReviewScored { .. } => "review_scored",
            SlaMissed { .. } => "sla_missed",
            CallStatusChanged { .. } => "call_status",
            CallbackRequested { .. } => "callback_requested",
            CallbackTaken { .. } => "callback_taken",
            CallbackDue { .. } => "callback_due",
            EmailFailed { .. } => "email_failed",
            ChannelMoved { .. } => "channel_moved",
            ContactsMerged { .. } => "contacts_merged",
            ContactsUnmerged { .. } => "contacts_unmerged",
            WebhookSwitchedOff { .. } => "webhook_switched_off",
            InboxChanged { .. } => "inbox_changed",
        }
    }

    /// The message it is about, if any.
    pub fn message_id(&self) -> Option<i64> {
        use DomainEvent::*;
        match self {
            MessageReceived { message_id, .. }
            | MessageQueued { message_id, .. }
            | MessageScheduled { message_id, .. }
            | NoteAdded { message_id }
            | MessageSent { message_id }
            | MessageDelivered { message_id }
            | MessageFailed { message_id, .. }
            | MessageStatusChanged { message_id, .. }
            | MediaFetched { message_id }
            | ScheduleChanged { message_id, .. }
            | StopRequested { message_id } => Some(*message_id),
            ConsentChanged { message_id, .. } => *message_id,
            _ => None,
        }
    }

    /// Whether the conversation's timeline shows it. Messages show as
    /// messages, and reads, catalogue edits and contact edits are not things
    /// that happened to the conversation. Reviews are about the agent, not the
    /// customer: the queue and "My reviews" show them, and an agent must not
    /// learn from the thread that a conversation was picked for review.
    pub fn on_timeline(&self) -> bool {
        use DomainEvent::*;
        matches!(
            self,
            MessageScheduled { .. }
                | ScheduleChanged { .. }
                | ConversationCreated { .. }
                | StatusChanged { .. }
                | Assigned { .. }
                | Unassigned {}
                | TeamChanged { .. }
                | PriorityChanged { .. }
                | LabelsChanged { .. }
                | ConsentChanged { .. }
                | StopRequested { .. }
                | AutomationFired { .. }
                | RoutingNote { .. }
                | Escalated { .. }
                | FlowStarted { .. }
                | HandedOff { .. }
                | FlowEnded { .. }
                | SurveySent { .. }
                | SurveyAnswered { .. }
                | SurveyCommented { .. }
                | SurveyExpired { .. }
                | CallStatusChanged { .. }
                | CallbackRequested { .. }
                | CallbackTaken { .. }
                | CallbackDue { .. }
                | EmailFailed { .. }
                | ChannelMoved { .. }
                | ContactsMerged { .. }
                | ContactsUnmerged { .. }
        )
    }

    /// What open screens are told. A new conversation and a reopen are told
    /// by the message that caused them, so they say nothing themselves.
    pub fn live(&self) -> Option<LiveNotice> {
        use DomainEvent::*;
        let notice = |kind, message_id| Some(LiveNotice { kind, message_id, inbound: false, for_user: None });
        match self {
            MessageReceived { message_id, .. } => Some(LiveNotice {
                kind: "message.created",
                message_id: Some(*message_id),
                inbound: true,
                for_user: None,
            }),
            MessageQueued { message_id, .. } | MessageScheduled { message_id, .. } | NoteAdded { message_id } => {
                notice("message.created", Some(*message_id))
            }
            MessageSent { message_id }
            | MessageDelivered { message_id }
            | MessageFailed { message_id, .. }
            | MessageStatusChanged { message_id, .. }
            | MediaFetched { message_id } => notice("message.updated", Some(*message_id)),
            ScheduleChanged { action: ScheduleAction::Cancelled, message_id, .. } => {
                notice("message.deleted", Some(*message_id))
            }
            ScheduleChanged { message_id, .. } => notice("message.updated", Some(*message_id)),
            ConversationCreated { .. } => None,
            StatusChanged { reason: Some(StatusReason::CustomerReplied), .. } => None,
            ConversationRead {} => notice("conversation.read", None),
            ConversationUnread {} => notice("conversation.unread", None),
            StopRequested { .. } => None,
            Escalated { supervisor_id, .. } => Some(LiveNotice {
                kind: "conversation.escalated",
                message_id: None,
                inbound: false,
                for_user: *supervisor_id,
            }),
            // The taker's screen alerts them; untaken, every screen that shows the conversation does.
            CallbackDue { taken_by, .. } => {
                Some(LiveNotice { kind: "callback.due", message_id: None, inbound: false, for_user: *taken_by })
            }
            // Supervisors' screens alert them (the page decides who is one).
            SurveyAnswered { kind, score, .. } if kind.is_low(*score) => notice("survey.low_score", None),
            // Supervisors' screens alert them; an agent's stream hears it as an update
            // (the live stream rewrites it: which conversation is reviewed is not theirs to know).
            ReviewQueued { .. } => notice(REVIEW_QUEUED, None),
            StatusChanged { .. }
            | Assigned { .. }
            | Unassigned {}
            | TeamChanged { .. }
            | PriorityChanged { .. }
            | LabelsChanged { .. }
            | LabelCatalogueChanged { .. }
            | ConsentChanged { .. }
            | ContactChanged { .. }
            | ContactNoteAdded { .. }
            | ContactNoteDeleted { .. }
            | AutomationFired { .. }
            | RoutingNote { .. }
            | FlowStarted { .. }
            | HandedOff { .. }
            | FlowEnded { .. }
            | SurveySent { .. }
            | SurveyAnswered { .. }
            | SurveyCommented { .. }
            | SurveyExpired { .. }
            | ReviewScored { .. }
            | SlaMissed { .. }
            | CallStatusChanged { .. }
            | CallbackRequested { .. }
            | CallbackTaken { .. }
            | EmailFailed { .. } => notice("conversation.updated", None),
            ChannelMoved { .. } => notice("conversation.updated", None),
            ContactsMerged { .. } | ContactsUnmerged { .. } => notice("conversation.updated", None),
            // Admins' screens alert them (the page decides who is one).
            WebhookSwitchedOff { .. } => notice("webhook.switched_off", None),
            // For the nodes' caches, not for people.
            InboxChanged { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn every_variant() -> Vec<DomainEvent> {
        use DomainEvent::*;
        vec![
            MessageReceived { message_id: 1, keyword: false },
            MessageReceived { message_id: 1, keyword: true },
            MessageQueued { message_id: 2, automatic: true },
            MessageScheduled { message_id: 2, send_at: at("2026-12-04T14:00:00Z") },
            NoteAdded { message_id: 3 },
            MessageSent { message_id: 4 },
            MessageDelivered { message_id: 4 },
            MessageFailed { message_id: 4, will_retry: true },
            MessageStatusChanged { message_id: 4, status: DeliveryStatus::Blocked },
            MediaFetched { message_id: 5 },
            ScheduleChanged {
                action: ScheduleAction::Cancelled,
                message_id: 6,
                send_at: None,
                body: Some("Hi".into()),
            },
            ConversationCreated { reason: None },
            StatusChanged {
                from: ConversationStatus::Open,
                to: ConversationStatus::Snoozed,
                until: Some(at("2026-12-04T14:00:00Z")),
                zone: Some("America/New_York".into()),
                reason: None,
            },
            Assigned { assignee_id: 7, why: Some("round-robin in Billing".into()) },
            RoutingNote { note: "Dana, who helped last time, is away".into() },
            Unassigned {},
            TeamChanged { team_id: Some(8), team_name: Some("Billing".into()) },
            PriorityChanged { priority: Priority::Urgent },
            LabelsChanged { labels: vec!["vip".into()] },
            LabelCatalogueChanged { label: "vip".into(), renamed_to: Some("VIP".into()) },
            ConsentChanged { to: ConsentState::OptedOut, source: "keyword".into(), scope: None, message_id: Some(9) },
            StopRequested { message_id: 9 },
            ConversationRead {},
            ConversationUnread {},
            ContactChanged { contact_id: 10 },
            ContactNoteAdded { contact_id: 10, note_id: 11 },
            ContactNoteDeleted { contact_id: 10, note_id: 11 },
            AutomationFired {
                rule_id: 12,
                rule: "After hours".into(),
                did: vec!["replied".into()],
                silenced: None,
                webhooks: vec![],
            },
            Escalated {
                escalation_id: 13,
                to: EscalationKind::Supervisor,
                reason: Some("wants a refund".into()),
                supervisor_id: Some(7),
                kept_agent: true,
                link: None,
                message_id: None,
            },
            Escalated {
                escalation_id: 14,
                to: EscalationKind::Video,
                reason: None,
                supervisor_id: None,
                kept_agent: false,
                link: Some("https://meet.jit.si/textdesk-ab".into()),
                message_id: Some(15),
            },
            FlowStarted { flow_id: 13, flow: "Main menu".into() },
            HandedOff { reason: HandoffReason::NotUnderstood, team_id: Some(8) },
            HandedOff { reason: HandoffReason::Asked, team_id: None },
            HandedOff { reason: HandoffReason::Rule, team_id: None },
            FlowEnded { reason: FlowEndReason::TimedOut },
            SurveySent { survey_id: 16, kind: SurveyKind::Csat, message_id: 17 },
            SurveyAnswered {
                survey_id: 16,
                kind: SurveyKind::Csat,
                score: 2,
                message_id: 18,
                agent_id: Some(7),
                team_id: None,
            },
            SurveyCommented { survey_id: 16, message_id: 19 },
            SurveyExpired { survey_id: 16 },
            ReviewQueued { review_id: 20, why: "a low score".into() },
            ReviewScored { review_id: 20, reviewer_id: 7, overall: Some(85), agent_id: Some(3) },
            CallStatusChanged { call_id: 4, status: CallStatus::Completed, duration_secs: Some(95), reason: None },
            CallStatusChanged { call_id: 4, status: CallStatus::Ringing, duration_secs: None, reason: None },
            CallStatusChanged {
                call_id: 4,
                status: CallStatus::Canceled,
                duration_secs: None,
                reason: Some("the customer opted out".into()),
            },
            SlaMissed { target: crate::report::MissedTarget::Reply, waiting_since: at("2026-12-04T14:00:00Z") },
            CallbackRequested { callback_id: 2, due_at: at("2026-12-07T14:00:00Z"), by_customer: true },
            CallbackTaken { callback_id: 2 },
            CallbackDue { callback_id: 2, due_at: at("2026-12-07T14:00:00Z"), taken_by: Some(7) },
            CallbackDue { callback_id: 2, due_at: at("2026-12-07T14:00:00Z"), taken_by: None },
            EmailFailed { job_id: 3, attempts: 5, error: "550 mailbox unavailable".into() },
            ChannelMoved { from_inbox_id: 1, to_inbox_id: 2, to_medium: "sms".into(), consent_id: Some(9) },
            ContactsMerged { merge_id: 21, survivor_id: 10, merged_id: 22 },
            ContactsUnmerged { merge_id: 21, survivor_id: 10, merged_id: 22 },
            WebhookSwitchedOff { subscription_id: 23 },
            InboxChanged { inbox_id: 24 },
        ]
    }

    #[test]
    fn every_variant_round_trips_with_its_version_and_kind() {
        for ev in every_variant() {
            let text = ev.to_json();
            let raw: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(raw["v"], SCHEMA_VERSION, "{text}");
            assert_eq!(raw["type"], ev.kind(), "kind() names the stored type: {text}");
            assert_eq!(DomainEvent::from_json(&text).unwrap(), ev, "{text}");
        }
    }

    /// The shapes `conversation_events.data` held before the log (migration
    /// 0012 copies them with `"type"` set to the old `kind`).
    #[test]
    fn reads_every_old_timeline_row_shape() {
        let old = |kind: &str, mut data: Value| {
            data["type"] = json!(kind);
            DomainEvent::from_json(&data.to_string()).unwrap_or_else(|e| panic!("{kind}: {e}"))
        };
        use DomainEvent::*;
        assert_eq!(old("created", json!({})), ConversationCreated { reason: None });
        assert_eq!(
            old("created", json!({ "reason": "test message" })),
            ConversationCreated { reason: Some("test message".into()) }
        );
        assert_eq!(old("assigned", json!({ "assignee_id": 3 })), Assigned { assignee_id: 3, why: None });
        assert_eq!(old("unassigned", json!({})), Unassigned {});
        assert_eq!(
            old("status_changed", json!({ "from": "resolved", "to": "open", "reason": "customer replied" })),
            StatusChanged {
                from: ConversationStatus::Resolved,
                to: ConversationStatus::Open,
                until: None,
                zone: None,
                reason: Some(StatusReason::CustomerReplied)
            }
        );
        assert_eq!(
            old("status_changed", json!({ "from": "open", "to": "snoozed", "until": "2026-12-04T14:00:00Z" })),
            StatusChanged {
                from: ConversationStatus::Open,
                to: ConversationStatus::Snoozed,
                until: Some(at("2026-12-04T14:00:00Z")),
                zone: None,
                reason: None
            }
        );
        assert!(matches!(
            old("status_changed", json!({ "from": "snoozed", "to": "open", "reason": "snooze ended" })),
            StatusChanged { reason: Some(StatusReason::SnoozeEnded), .. }
        ));
        assert_eq!(
            old("priority_changed", json!({ "priority": "high" })),
            PriorityChanged { priority: Priority::High }
        );
        assert_eq!(
            old("labels_changed", json!({ "labels": ["Billing", "vip"] })),
            LabelsChanged { labels: vec!["Billing".into(), "vip".into()] }
        );
        assert_eq!(
            old("team_changed", json!({ "team_id": null, "team_name": null })),
            TeamChanged { team_id: None, team_name: None }
        );
        assert_eq!(
            old("consent_changed", json!({ "to": "opted_out", "source": "keyword", "message_id": 12 })),
            ConsentChanged { to: ConsentState::OptedOut, source: "keyword".into(), scope: None, message_id: Some(12) }
        );
        assert_eq!(
            old("consent_changed", json!({ "to": "opted_in", "source": "agent", "scope": "account" })),
            ConsentChanged {
                to: ConsentState::OptedIn,
                source: "agent".into(),
                scope: Some("account".into()),
                message_id: None
            }
        );
        assert_eq!(old("stop_requested", json!({ "message_id": 4 })), StopRequested { message_id: 4 });
        assert_eq!(
            old("scheduled", json!({ "message_id": 5, "send_at": "2026-12-04T14:00:00Z" })),
            MessageScheduled { message_id: 5, send_at: at("2026-12-04T14:00:00Z") }
        );
        assert_eq!(
            old(
                "schedule_changed",
                json!({ "action": "moved", "message_id": 5, "send_at": "2026-12-04T15:00:00Z", "edited": true, "status": "scheduled" })
            ),
            ScheduleChanged {
                action: ScheduleAction::Moved,
                message_id: 5,
                send_at: Some(at("2026-12-04T15:00:00Z")),
                body: None
            }
        );
        assert_eq!(
            old("schedule_changed", json!({ "action": "cancelled", "message_id": 5, "body": "See you" })),
            ScheduleChanged {
                action: ScheduleAction::Cancelled,
                message_id: 5,
                send_at: None,
                body: Some("See you".into())
            }
        );
    }

    #[test]
    fn an_unknown_event_is_an_error_not_a_panic() {
        assert!(DomainEvent::from_json(r#"{"v":1,"type":"teleported"}"#).is_err());
        assert!(DomainEvent::from_json("not json").is_err());
    }

    #[test]
    fn live_screens_hear_the_wire_kinds_they_know() {
        use DomainEvent::*;
        let kind = |ev: DomainEvent| ev.live().map(|n| (n.kind, n.message_id, n.inbound));
        assert_eq!(kind(MessageReceived { message_id: 1, keyword: false }), Some(("message.created", Some(1), true)));
        assert_eq!(kind(NoteAdded { message_id: 2 }), Some(("message.created", Some(2), false)));
        assert_eq!(kind(MessageDelivered { message_id: 2 }), Some(("message.updated", Some(2), false)));
        let cancelled = ScheduleChanged { action: ScheduleAction::Cancelled, message_id: 3, send_at: None, body: None };
        assert_eq!(kind(cancelled), Some(("message.deleted", Some(3), false)));
        assert_eq!(kind(ConversationRead {}), Some(("conversation.read", None, false)));
        assert_eq!(kind(ConversationUnread {}), Some(("conversation.unread", None, false)));
        assert_eq!(kind(Assigned { assignee_id: 1, why: None }), Some(("conversation.updated", None, false)));
        // Told by the message that caused them.
        assert_eq!(kind(ConversationCreated { reason: None }), None);
        assert!(!MessageReceived { message_id: 1, keyword: false }.on_timeline());
        assert!(StopRequested { message_id: 1 }.on_timeline());
        assert!(!ConversationRead {}.on_timeline());
        assert!(!ReviewQueued { review_id: 1, why: "sample".into() }.on_timeline());
        assert_eq!(kind(ReviewQueued { review_id: 1, why: "sample".into() }), Some((REVIEW_QUEUED, None, false)));
        let up = Escalated {
            escalation_id: 1,
            to: EscalationKind::Supervisor,
            reason: None,
            supervisor_id: Some(4),
            kept_agent: false,
            link: None,
            message_id: None,
        };
        assert!(up.on_timeline());
        let answered = |score| SurveyAnswered {
            survey_id: 1,
            kind: SurveyKind::Csat,
            score,
            message_id: 2,
            agent_id: None,
            team_id: None,
        };
        assert_eq!(kind(answered(2)), Some(("survey.low_score", None, false)));
        assert_eq!(kind(answered(4)), Some(("conversation.updated", None, false)));
        assert_eq!(up.live().map(|n| (n.kind, n.for_user)), Some(("conversation.escalated", Some(4))));
    }
}
