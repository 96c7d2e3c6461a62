//! The pure domain of textdesk. No I/O, no async, no SQL: everything here is a
//! value or a decision, tested beside the code.

pub mod automation;
pub mod channel_template;
pub mod compose;
pub mod consent;
pub mod contact;
pub mod contact_row;
pub mod conversation;
pub mod escalation;
pub mod event;
pub mod flow;
pub mod gate;
pub mod host;
pub mod hours;
pub mod identity;
pub mod kpi;
pub mod label;
pub mod list;
pub mod media;
pub mod merge;
pub mod message;
pub mod metrics;
pub mod numbering;
pub mod pacing;
pub mod period;
pub mod phone;
pub mod report;
pub mod review;
pub mod routing;
pub mod segments;
pub mod snooze;
pub mod survey;
pub mod survey_settings;
pub mod template;
pub mod timing;
pub mod user;
pub mod voice;
pub mod webchat;
pub mod webhook;

pub use contact::{AttributeChanges, AttributeKey, AttributeValue, ContactName, NoteBody};
pub use conversation::{ConversationStatus, InboundPlacement, LatestConversation, Priority, ReopenWindow};
pub use gate::{BlockReason, ConsentState, OutboundKind, OutboundRequest, Verdict};
pub use host::HostName;
pub use identity::{Address, Capabilities, Medium};
pub use label::{LabelColor, LabelName};
pub use message::{Body, DeliveryStatus, Direction};
pub use phone::E164;
pub use segments::{Encoding, SegmentCount};
pub use snooze::SnoozePreset;
pub use timing::{DayRule, QuietHours};
pub use user::{Email, Password, Role};

/// A value that failed validation, with a message fit to show the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(msg: impl Into<String>) -> Self {
        Invalid(msg.into())
    }
}
