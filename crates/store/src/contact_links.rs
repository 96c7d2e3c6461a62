//! A customer telling us their phone number from inside a chat app (a
//! Telegram contact of their own): their chat identity and their phone are
//! one customer, one history.

use sqlx::Row;
use textdesk_core::{Address, E164, Medium};

use crate::{Result, Store, to_ms};

impl Store {
    /// Links the phone to the contact of `from` (a chat identity), in one
    /// transaction. When no contact has the number yet, it becomes one of
    /// this contact's identities. When another contact has it (they texted
    /// by SMS first) and this one is only the chat identity, the chat
    /// identity moves there with its conversations, consent record and
    /// notes, and the emptied contact goes. A contact an agent gave other
    /// identities is left as it is (a merge is a person's decision then).
    /// Returns whether anything changed.
    pub async fn link_phone(&self, account_id: i64, from: &Address, phone: &E164) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let now = to_ms(jiff::Timestamp::now());
        let Some(chat) = sqlx::query(
            "SELECT id, contact_id FROM contact_identities WHERE account_id = $1 AND namespace = $2 AND address = $3",
        )
        .bind(account_id)
        .bind(from.namespace())
        .bind(from.value())
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(false);
        };
        let (chat_identity, contact): (i64, i64) = (chat.try_get("id")?, chat.try_get("contact_id")?);
        // The number as any phone-numbered medium knows it (SMS first, then WhatsApp).
        let namespaces: Vec<&str> = Medium::ALL
            .iter()
            .filter(|m| m.uses_phone_numbers())
            .map(|m| m.identity_namespace())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let sql = format!(
            "SELECT contact_id FROM contact_identities WHERE account_id = $1 AND address = $2 AND namespace IN ({})
             ORDER BY CASE WHEN namespace = 'phone' THEN 0 ELSE 1 END, id LIMIT 1",
            crate::placeholders(3, namespaces.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(phone.as_str());
        for n in &namespaces {
            q = q.bind(*n);
        }
        let owner: Option<i64> = q.fetch_optional(&mut *tx).await?.map(|r| r.try_get("contact_id")).transpose()?;
        let changed = match owner {
            Some(o) if o == contact => false,
            None => {
                let address =
                    Address::parse(Medium::Sms, phone.as_str()).map_err(|e| crate::StoreError::Conflict(e.0))?;
                sqlx::query(
                    "INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(account_id)
                .bind(contact)
                .bind(address.namespace())
                .bind(address.value())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                crate::privacy::carry_opt_outs(self, &mut tx, account_id, contact, &address, crate::from_ms(now))
                    .await?;
                true
            }
            Some(owner) => {
                let others: i64 =
                    sqlx::query("SELECT COUNT(*) AS n FROM contact_identities WHERE contact_id = $1 AND id <> $2")
                        .bind(contact)
                        .bind(chat_identity)
                        .fetch_one(&mut *tx)
                        .await?
                        .try_get("n")?;
                if others > 0 {
                    false
                } else {
                    for sql in [
                        "UPDATE contact_identities SET contact_id = $1 WHERE contact_id = $2",
                        "UPDATE conversations SET contact_id = $1 WHERE contact_id = $2",
                        "UPDATE consent_events SET contact_id = $1 WHERE contact_id = $2",
                        "UPDATE contact_notes SET contact_id = $1 WHERE contact_id = $2",
                        "UPDATE webhook_deliveries SET contact_id = $1 WHERE contact_id = $2",
                    ] {
                        sqlx::query(sql).bind(owner).bind(contact).execute(&mut *tx).await?;
                    }
                    // The app's name for them names a contact nobody named.
                    sqlx::query(
                        "UPDATE contacts SET name = (SELECT c.name FROM contacts c WHERE c.id = $2), updated_at = $3
                         WHERE id = $1 AND name = ''",
                    )
                    .bind(owner)
                    .bind(contact)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM contacts WHERE id = $1 AND account_id = $2")
                        .bind(contact)
                        .bind(account_id)
                        .execute(&mut *tx)
                        .await?;
                    true
                }
            }
        };
        self.commit(tx).await?;
        Ok(changed)
    }
}
