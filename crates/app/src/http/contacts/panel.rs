//! The contact panel beside a conversation: name, identities, zone,
//! attributes, notes and earlier conversations.

use jiff::Timestamp;
use textdesk_core::contact::channel_label;
use textdesk_store::ContactNote;

use crate::http::problem::Problem;
use crate::http::state::AppState;

/// What the contact panel shows, beside the conversation's own fields.
pub struct ContactPanel {
    /// The stored name (empty: shown by number).
    pub name: String,
    /// ("SMS", "+14155550111"), one per identity.
    pub identities: Vec<(&'static str, String)>,
    /// The zone an agent set, or empty when it is inferred from the number.
    pub zone_set: String,
    pub attributes: Vec<(String, String)>,
    pub previous: Vec<PreviousConversation>,
    pub notes: Vec<NoteView>,
    /// Why the last panel edit was refused, shown in the panel.
    pub error: Option<String>,
    /// Merges into this contact that can still be undone: id and what it was, in words.
    pub merges: Vec<(i64, String)>,
}

pub struct PreviousConversation {
    pub id: i64,
    pub status: &'static str,
    pub inbox: String,
    pub last_activity: String,
    pub preview: String,
}

pub struct NoteView {
    pub id: i64,
    pub author: String,
    pub body: String,
    pub when: String,
    pub may_delete: bool,
}

pub(crate) fn may_delete(note: &ContactNote, user: &textdesk_store::User) -> bool {
    note.author_id == Some(user.id) || user.role.at_least(textdesk_core::Role::Admin)
}

pub(crate) async fn contact_panel(
    s: &AppState,
    user: &textdesk_store::User,
    contact: &textdesk_store::Contact,
    conversation_id: i64,
) -> Result<ContactPanel, Problem> {
    let tz = &s.services.business_zone(user.account_id).await?;
    let when = |t: Timestamp| t.to_zoned(tz.clone()).strftime("%b %-d, %Y %-I:%M %p").to_string();
    let history = s.services.contact_history(user.account_id, contact.id, 11).await?;
    let previous = history
        .conversations
        .into_iter()
        .filter(|c| c.conversation.id != conversation_id)
        .take(10)
        .map(|c| PreviousConversation {
            id: c.conversation.id,
            status: c.conversation.status.as_str(),
            inbox: c.inbox_name,
            last_activity: when(c.conversation.last_activity_at),
            preview: if c.preview.trim().is_empty() {
                format!("Conversation {}", c.conversation.id)
            } else {
                c.preview
            },
        })
        .collect();
    let notes = history
        .notes
        .into_iter()
        .map(|n| NoteView {
            id: n.id,
            may_delete: may_delete(&n, user),
            author: n.author_name.clone().unwrap_or_else(|| "Someone".into()),
            body: n.body,
            when: when(n.created_at),
        })
        .collect();
    let now = Timestamp::now();
    let merges = s
        .services
        .merges_into(user.account_id, contact.id)
        .await?
        .into_iter()
        .filter(|m| m.undone_at.is_none() && now <= m.created_at + textdesk_core::merge::UNDO_WINDOW)
        .map(|m| (m.id, format!("Contact {} was merged in on {}", m.merged_id, when(m.created_at))))
        .collect();
    Ok(ContactPanel {
        name: contact.name.clone(),
        identities: contact.identities.iter().map(|i| (channel_label(&i.namespace), i.address.clone())).collect(),
        zone_set: contact.time_zone.clone().unwrap_or_default(),
        attributes: contact.attribute_texts().into_iter().collect(),
        previous,
        notes,
        error: None,
        merges,
    })
}

// ---------- UI forms ----------
