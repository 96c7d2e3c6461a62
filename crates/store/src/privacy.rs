//! Privacy (F14): everything held about one contact, read for an export, and
//! erasing it. An erased contact keeps a row with its fields cleared (its
//! conversations and the consent ledger point at it), its messages say
//! [`ERASED`], its files and notes are gone, and its addresses survive only as
//! keyed hashes in `erased_identities`: the ledger must still prove consent,
//! and an opt-out must still hold when the same number comes back
//! ([`carry_opt_outs`]).

use jiff::Timestamp;
use serde::Serialize;
use sha2::Digest;
use sqlx::Row;
use textdesk_core::event::{DomainEvent, Versioned};
use textdesk_core::{Address, ConsentState};

use crate::{ConsentEvent, Contact, ContactNote, Result, Store, StoreError, from_ms, to_ms};

/// What an erased message's text becomes.
pub const ERASED: &str = "[erased]";

/// The name of the key the address hashes are made with (in `server_keys`).
pub(crate) const HASH_KEY: &str = "erasure_hash";

/// Subqueries naming a contact's conversations and their messages ($1: the contact).
const CONVERSATIONS: &str = "SELECT id FROM conversations WHERE contact_id = $1";
const MESSAGES: &str =
    "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.contact_id = $1";

/// What an erasure will take (shown before it is confirmed) or took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErasureSummary {
    pub conversations: i64,
    pub messages: i64,
    /// Attachments (rows; their files go with them).
    pub files: i64,
    pub notes: i64,
    /// Phone numbers and other addresses.
    pub identities: i64,
}

/// What an erasure did.
#[derive(Debug, Clone, Default)]
pub struct Erased {
    pub summary: ErasureSummary,
    /// Queued messages to them that will not go.
    pub cancelled: i64,
    /// Files in the media store to delete now that no row names them.
    pub files: Vec<String>,
}

/// One conversation with its messages, as exported.
#[derive(Debug, Clone, Serialize)]
pub struct ExportConversation {
    pub id: i64,
    pub inbox_id: i64,
    pub inbox_name: String,
    pub status: String,
    pub created_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub messages: Vec<ExportMessage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportMessage {
    pub id: i64,
    pub direction: String,
    /// A colleague's note, never sent to them.
    pub private: bool,
    pub author_name: Option<String>,
    pub body: String,
    pub status: String,
    pub error: Option<String>,
    pub created_at: Timestamp,
    /// Ids of the attachments (files under `media/` in the export).
    pub media_ids: Vec<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportMedia {
    pub id: i64,
    pub message_id: i64,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub state: String,
    /// The file in the media store (not exported: the export names its own).
    #[serde(skip)]
    pub stored_name: Option<String>,
}

/// One event of the log about one of their conversations.
#[derive(Debug, Clone, Serialize)]
pub struct ExportEvent {
    pub id: i64,
    pub conversation_id: i64,
    pub kind: String,
    pub actor_id: Option<i64>,
    pub data: serde_json::Value,
    pub created_at: Timestamp,
}

/// Everything held about a contact.
#[derive(Debug, Clone)]
pub struct ContactExport {
    pub contact: Contact,
    pub erased_at: Option<Timestamp>,
    pub conversations: Vec<ExportConversation>,
    pub notes: Vec<ContactNote>,
    pub consent: Vec<ConsentEvent>,
    pub events: Vec<ExportEvent>,
    pub media: Vec<ExportMedia>,
}

/// An address as kept after an erasure: SHA-256 over a key of this
/// installation and the address. Phone numbers are few enough to guess, so the
/// key (kept in the database) is what stops a lookup table made elsewhere.
pub fn address_hash(key: &str, namespace: &str, address: &str) -> String {
    let mut h = sha2::Sha256::new();
    h.update(key.as_bytes());
    h.update(b"\n");
    h.update(namespace.as_bytes());
    h.update(b"\n");
    h.update(address.as_bytes());
    hex::encode(h.finalize())
}

/// Runs of seven or more digits (phone numbers, with spaces, dots, dashes,
/// brackets or a leading +) in free text, replaced: the ledger's evidence is
/// kept after an erasure, the numbers in it are not.
pub fn scrub_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let mut j = i;
            let mut digits = 0;
            while j < chars.len() && (chars[j].is_ascii_digit() || " +-.()".contains(chars[j])) {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                }
                j += 1;
            }
            // Trailing separators belong to the text around the number.
            while j > i && !chars[j - 1].is_ascii_digit() {
                j -= 1;
            }
            if digits >= 7 {
                out.push_str("[number]");
            } else {
                out.extend(&chars[i..j]);
            }
            i = j.max(i + 1);
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The key erased addresses are hashed with; None before it is made (at the
/// vault's unlock, or the first erasure). Read once a process: a key is never
/// replaced (a new secret key seals the same value again), and the inbound
/// writer asked for it in every batch with a new sender.
async fn erasure_key(store: &Store, tx: &mut sqlx::AnyConnection) -> Result<Option<String>> {
    if let Some(key) = store.erasure_key.get() {
        return Ok(Some(key.clone()));
    }
    let row =
        sqlx::query("SELECT value FROM server_keys WHERE name = $1").bind(HASH_KEY).fetch_optional(&mut *tx).await?;
    let Some(row) = row else { return Ok(None) };
    // Sealed at rest like every server key (store::vault).
    let key = store.open_server_key(HASH_KEY, row.try_get(0)?)?;
    Ok(Some(store.erasure_key.get_or_init(|| key).clone()))
}

/// When a new address joins an account: the opt-outs an erased contact with
/// the same address had (the latest change in each scope, if an opt-out) are
/// recorded for its new contact, in the caller's transaction. Nothing to do
/// before the first erasure (no key yet). Returns whether it recorded any.
pub(crate) async fn carry_opt_outs(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    account_id: i64,
    contact_id: i64,
    address: &Address,
    now: Timestamp,
) -> Result<bool> {
    let Some(key) = erasure_key(store, tx).await? else { return Ok(false) };
    let hash = address_hash(&key, address.namespace(), address.value());
    let rows = sqlx::query(
        "SELECT e.scope, e.kind FROM consent_events e
         WHERE e.kind IN ('opt_in', 'opt_out')
           AND e.contact_id IN (SELECT x.contact_id FROM erased_identities x WHERE x.account_id = $1 AND x.address_hash = $2)
         ORDER BY e.id",
    )
    .bind(account_id)
    .bind(&hash)
    .fetch_all(&mut *tx)
    .await?;
    let mut latest: std::collections::BTreeMap<String, String> = Default::default();
    for r in rows {
        latest.insert(r.try_get("scope")?, r.try_get("kind")?);
    }
    let mut carried = false;
    for (scope, kind) in latest {
        if kind != "opt_out" {
            continue;
        }
        let c = crate::consent::NewConsent {
            contact_id,
            scope: &scope,
            state: ConsentState::OptedOut,
            source: "erasure",
            evidence: "opted out before their earlier data was erased",
            actor_id: None,
            message_id: None,
        };
        crate::consent::record(tx, c, now).await?;
        carried = true;
    }
    Ok(carried)
}

/// [`carry_opt_outs`] for many new addresses at once, without writing: for
/// each address an erased contact had, the scopes whose latest change was an
/// opt-out (in scope order), for the caller to record. Empty before the first
/// erasure.
pub(crate) async fn opt_outs_to_carry(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    account_id: i64,
    addresses: &[&Address],
) -> Result<std::collections::HashMap<String, Vec<String>>> {
    use crate::multirow::{Value, select_in};
    let mut out = std::collections::HashMap::new();
    if addresses.is_empty() {
        return Ok(out);
    }
    let Some(key) = erasure_key(store, tx).await? else { return Ok(out) };
    let by_hash: std::collections::HashMap<String, &Address> =
        addresses.iter().map(|a| (address_hash(&key, a.namespace(), a.value()), *a)).collect();
    let hashes: Vec<Value> = by_hash.keys().map(|h| Value::Text(h.clone())).collect();
    let rows = select_in(
        tx,
        "SELECT x.address_hash, e.scope, e.kind FROM consent_events e
         JOIN erased_identities x ON x.contact_id = e.contact_id
         WHERE x.account_id = $1 AND x.address_hash IN ({in}) AND e.kind IN ('opt_in', 'opt_out')
         ORDER BY e.id",
        &[Value::Int(account_id)],
        &hashes,
    )
    .await?;
    let mut latest: std::collections::BTreeMap<(String, String), String> = Default::default();
    for r in rows {
        latest.insert((r.try_get("address_hash")?, r.try_get("scope")?), r.try_get("kind")?);
    }
    for ((hash, scope), kind) in latest {
        if let Some(a) = by_hash.get(&hash)
            && kind == "opt_out"
        {
            out.entry(a.value().to_owned()).or_insert_with(Vec::new).push(scope);
        }
    }
    Ok(out)
}

async fn count(tx: &mut sqlx::AnyConnection, sql: &str, contact_id: i64) -> Result<i64> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).bind(contact_id).fetch_one(&mut *tx).await?.try_get(0)?)
}

async fn summary(tx: &mut sqlx::AnyConnection, contact_id: i64) -> Result<ErasureSummary> {
    Ok(ErasureSummary {
        conversations: count(tx, "SELECT COUNT(*) FROM conversations WHERE contact_id = $1", contact_id).await?,
        messages: count(
            tx,
            &format!("SELECT COUNT(*) FROM messages WHERE id IN ({MESSAGES}) AND body <> '{ERASED}'"),
            contact_id,
        )
        .await?,
        files: count(tx, &format!("SELECT COUNT(*) FROM media WHERE message_id IN ({MESSAGES})"), contact_id).await?,
        notes: count(tx, "SELECT COUNT(*) FROM contact_notes WHERE contact_id = $1", contact_id).await?,
        identities: count(
            tx,
            "SELECT COUNT(*) FROM contact_identities WHERE contact_id = $1 AND namespace <> 'erased'",
            contact_id,
        )
        .await?,
    })
}

impl Store {
    async fn check_contact(&self, conn: &mut sqlx::AnyConnection, account_id: i64, contact_id: i64) -> Result<()> {
        sqlx::query("SELECT id FROM contacts WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(contact_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        Ok(())
    }

    /// What erasing the contact would take now.
    pub async fn erasure_summary(&self, account_id: i64, contact_id: i64) -> Result<ErasureSummary> {
        let mut conn = self.pool.acquire().await?;
        self.check_contact(&mut conn, account_id, contact_id).await?;
        summary(&mut conn, contact_id).await
    }

    /// When the contact was erased, if it was.
    pub async fn erased_at(&self, account_id: i64, contact_id: i64) -> Result<Option<Timestamp>> {
        let row = sqlx::query("SELECT erased_at FROM contacts WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(contact_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        Ok(row.try_get::<Option<i64>, _>(0)?.map(from_ms))
    }

    /// Everything held about the contact, read in one transaction.
    pub async fn contact_export(&self, account_id: i64, contact_id: i64) -> Result<ContactExport> {
        let contact = self.contact(account_id, contact_id).await?;
        let erased_at = self.erased_at(account_id, contact_id).await?;
        let notes = self.contact_notes(account_id, contact_id).await?;
        let consent = self.consent_history(contact_id).await?;
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT c.id, c.inbox_id, i.name AS inbox_name, c.status, c.created_at, c.resolved_at
             FROM conversations c JOIN inboxes i ON i.id = c.inbox_id WHERE c.contact_id = $1 ORDER BY c.id",
        )
        .bind(contact_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut conversations = Vec::with_capacity(rows.len());
        for r in &rows {
            conversations.push(ExportConversation {
                id: r.try_get("id")?,
                inbox_id: r.try_get("inbox_id")?,
                inbox_name: r.try_get("inbox_name")?,
                status: r.try_get("status")?,
                created_at: from_ms(r.try_get("created_at")?),
                resolved_at: r.try_get::<Option<i64>, _>("resolved_at")?.map(from_ms),
                messages: Vec::new(),
            });
        }
        let media_rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, message_id, content_type, size_bytes, state, stored_name FROM media
             WHERE message_id IN ({MESSAGES}) ORDER BY message_id, position"
        )))
        .bind(contact_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut media = Vec::with_capacity(media_rows.len());
        for r in &media_rows {
            media.push(ExportMedia {
                id: r.try_get("id")?,
                message_id: r.try_get("message_id")?,
                content_type: r.try_get("content_type")?,
                size_bytes: r.try_get("size_bytes")?,
                state: r.try_get("state")?,
                stored_name: r.try_get("stored_name")?,
            });
        }
        let rows = sqlx::query(
            "SELECT m.id, m.conversation_id, m.direction, m.private, u.name AS author_name, m.body, m.status, m.error, m.created_at
             FROM messages m JOIN conversations c ON c.id = m.conversation_id LEFT JOIN users u ON u.id = m.author_id
             WHERE c.contact_id = $1 ORDER BY m.id",
        )
        .bind(contact_id)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let conversation_id: i64 = r.try_get("conversation_id")?;
            let m = ExportMessage {
                id,
                direction: r.try_get("direction")?,
                private: r.try_get::<i64, _>("private")? != 0,
                author_name: r.try_get("author_name")?,
                body: r.try_get("body")?,
                status: r.try_get("status")?,
                error: r.try_get("error")?,
                created_at: from_ms(r.try_get("created_at")?),
                media_ids: media.iter().filter(|x| x.message_id == id).map(|x| x.id).collect(),
            };
            if let Some(c) = conversations.iter_mut().find(|c| c.id == conversation_id) {
                c.messages.push(m);
            }
        }
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, conversation_id, kind, actor_id, data, created_at FROM event_log
             WHERE conversation_id IN ({CONVERSATIONS}) ORDER BY id"
        )))
        .bind(contact_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            let data: String = r.try_get("data")?;
            events.push(ExportEvent {
                id: r.try_get("id")?,
                conversation_id: r.try_get("conversation_id")?,
                kind: r.try_get("kind")?,
                actor_id: r.try_get("actor_id")?,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
                created_at: from_ms(r.try_get("created_at")?),
            });
        }
        tx.rollback().await?;
        Ok(ContactExport { contact, erased_at, conversations, notes, consent, events, media })
    }

    /// Erases the contact in one transaction (see the module's comment) and
    /// returns what went; the caller deletes the files. Erasing again finds
    /// nothing more to take.
    pub async fn erase_contact(
        &self,
        account_id: i64,
        contact_id: i64,
        actor_id: Option<i64>,
        now: Timestamp,
    ) -> Result<Erased> {
        let key = self.server_key(HASH_KEY).await?;
        let now_ms = to_ms(now);
        let mut tx = self.begin_write().await?;
        self.check_contact(&mut tx, account_id, contact_id).await?;
        let summary = summary(&mut tx, contact_id).await?;

        // Who they were before a merge goes too (its addresses moved here; any left are erased as theirs).
        let merged = crate::contact_merges::erase_merged(&mut tx, contact_id, now).await?;
        for id in std::iter::once(contact_id).chain(merged) {
            erase_identities(&mut tx, (key.as_str(), account_id, contact_id), id, now_ms).await?;
        }

        let queued =
            format!("SELECT o.message_id FROM outbox o WHERE o.state = 'queued' AND o.message_id IN ({MESSAGES})");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE messages SET status = 'failed', error = 'cancelled: the contact was erased', updated_at = $2 WHERE id IN ({queued})"
        )))
        .bind(contact_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let cancelled = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE outbox SET state = 'failed', last_error = 'cancelled: the contact was erased', updated_at = $2
             WHERE state = 'queued' AND message_id IN ({MESSAGES})"
        )))
        .bind(contact_id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected() as i64;

        let files = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT stored_name FROM media WHERE stored_name IS NOT NULL AND message_id IN ({MESSAGES})"
        )))
        .bind(contact_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
        for sql in [
            format!("DELETE FROM media WHERE message_id IN ({MESSAGES})"),
            format!(
                "UPDATE messages SET body = '{ERASED}', media = '[]', error = NULL, template = NULL WHERE id IN ({MESSAGES})"
            ),
            "UPDATE conversations SET preview = '' WHERE contact_id = $1".to_owned(),
            "DELETE FROM contact_notes WHERE contact_id = $1".to_owned(),
            // An escalation's reason may quote the customer.
            format!("UPDATE escalations SET reason = NULL WHERE conversation_id IN ({CONVERSATIONS})"),
            // A poll's comment is the customer's words; the score stays (it is no one's words).
            "UPDATE surveys SET comment = NULL WHERE contact_id = $1".to_owned(),
            // A reviewer's comment on their conversations may quote them; the scores stay, as figures.
            format!(
                "UPDATE reviews SET comment = '{ERASED}' WHERE comment <> '' AND conversation_id IN ({CONVERSATIONS})"
            ),
            // Outgoing webhooks' payloads quote their texts and number.
            "DELETE FROM webhook_deliveries WHERE contact_id = $1".to_owned(),
            // A running flow keeps what they typed for a lookup: the bot lets go of them.
            "DELETE FROM flow_sessions WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)"
                .to_owned(),
            "UPDATE conversations SET bot = 0 WHERE contact_id = $1".to_owned(),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(contact_id).execute(&mut *tx).await?;
        }
        scrub_events(&mut tx, contact_id).await?;
        let ledger = sqlx::query("SELECT id, evidence FROM consent_events WHERE contact_id = $1")
            .bind(contact_id)
            .fetch_all(&mut *tx)
            .await?;
        for r in &ledger {
            let evidence: String = r.try_get("evidence")?;
            let scrubbed = scrub_numbers(&evidence);
            if scrubbed != evidence {
                sqlx::query("UPDATE consent_events SET evidence = $1 WHERE id = $2")
                    .bind(scrubbed)
                    .bind(r.try_get::<i64, _>("id")?)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        sqlx::query(
            "UPDATE contacts SET name = '', time_zone = NULL, attributes = '{}', erased_at = COALESCE(erased_at, $1), updated_at = $1 WHERE id = $2",
        )
        .bind(now_ms)
        .bind(contact_id)
        .execute(&mut *tx)
        .await?;
        let ev = DomainEvent::ContactChanged { contact_id };
        crate::events::append_for_contact(&mut tx, (account_id, contact_id, None), &ev, actor_id, now).await?;
        self.commit(tx).await?;
        Ok(Erased { summary, cancelled, files })
    }
}

/// Replaces `owner`'s addresses by keyed hashes filed under `contact_id` (the
/// erased person): the row stays (conversations point at it); the address does not.
async fn erase_identities(
    tx: &mut sqlx::AnyConnection,
    (key, account_id, contact_id): (&str, i64, i64),
    owner: i64,
    now_ms: i64,
) -> Result<()> {
    let ids = sqlx::query(
        "SELECT id, namespace, address FROM contact_identities WHERE contact_id = $1 AND namespace <> 'erased'",
    )
    .bind(owner)
    .fetch_all(&mut *tx)
    .await?;
    for r in &ids {
        let id: i64 = r.try_get("id")?;
        let namespace: String = r.try_get("namespace")?;
        let address: String = r.try_get("address")?;
        sqlx::query("INSERT INTO erased_identities (account_id, contact_id, namespace, address_hash, erased_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(account_id)
            .bind(contact_id)
            .bind(&namespace)
            .bind(address_hash(key, &namespace, &address))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE contact_identities SET namespace = 'erased', address = $1 WHERE id = $2")
            .bind(format!("erased-{id}"))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Takes the words out of the log's events about their conversations (a
/// cancelled message's text is the only text an event carries).
async fn scrub_events(tx: &mut sqlx::AnyConnection, contact_id: i64) -> Result<()> {
    let select = format!("SELECT id, data FROM event_log WHERE conversation_id IN ({CONVERSATIONS})");
    scrub_selected_events(tx, &select, &[contact_id]).await
}

/// Takes the words out of the event rows `select` names (it reads `id, data`
/// and binds `binds` in order): erasure and retention's redaction keep the
/// history of who did what, when, without what anybody wrote.
pub(crate) async fn scrub_selected_events(tx: &mut sqlx::AnyConnection, select: &str, binds: &[i64]) -> Result<()> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(format!(
        "{select} AND (data LIKE '%\"body\"%' OR data LIKE '%\"type\":\"escalated\"%')"
    )));
    for b in binds {
        q = q.bind(*b);
    }
    let rows = q.fetch_all(&mut *tx).await?;
    for r in &rows {
        let data: String = r.try_get("data")?;
        let scrubbed = scrub_event(&data);
        sqlx::query("UPDATE event_log SET data = $1 WHERE id = $2")
            .bind(scrubbed)
            .bind(r.try_get::<i64, _>("id")?)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// An event's stored JSON without words: a cancelled message's `body` and an
/// escalation's `reason` go;
/// anything unreadable is left as it is minus the field.
pub(crate) fn scrub_event(data: &str) -> String {
    if let Ok(mut v) = serde_json::from_str::<Versioned>(data) {
        match &mut v.event {
            DomainEvent::ScheduleChanged { body, .. } => *body = None,
            DomainEvent::Escalated { reason, .. } => *reason = None,
            _ => {}
        }
        if let Ok(s) = serde_json::to_string(&v) {
            return s;
        }
    }
    match serde_json::from_str::<serde_json::Value>(data) {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.remove("body");
            }
            v.to_string()
        }
        Err(_) => "{}".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_evidence_are_scrubbed_and_other_words_kept() {
        assert_eq!(scrub_numbers("said yes on a call to +1 (415) 555-0134."), "said yes on a call to [number].");
        assert_eq!(scrub_numbers("STOP"), "STOP");
        assert_eq!(scrub_numbers("form 2024-11, ref 12345"), "form 2024-11, ref 12345");
        assert_eq!(scrub_numbers("14155550134 and 415.555.0135"), "[number] and [number]");
    }

    #[test]
    fn a_cancelled_messages_words_leave_the_event() {
        let ev = DomainEvent::ScheduleChanged {
            action: textdesk_core::event::ScheduleAction::Cancelled,
            message_id: 4,
            send_at: None,
            body: Some("your results are in".into()),
        };
        let scrubbed = scrub_event(&ev.to_json());
        assert!(!scrubbed.contains("results"), "{scrubbed}");
        assert!(scrubbed.contains("cancelled"), "{scrubbed}");
    }

    #[test]
    fn hashes_depend_on_the_key_and_the_address() {
        let a = address_hash("k1", "phone", "+14155550134");
        assert_eq!(a, address_hash("k1", "phone", "+14155550134"));
        assert_ne!(a, address_hash("k2", "phone", "+14155550134"));
        assert_ne!(a, address_hash("k1", "phone", "+14155550135"));
        assert!(!a.contains("4155550134"));
    }
}
