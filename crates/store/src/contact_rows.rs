//! Contacts in bulk: rows of an imported file written a batch at a time, and
//! the account's contacts read a page at a time for an export, so neither
//! ever holds a whole file or table.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};
use textdesk_core::contact_row::{ContactRow, EMAIL_ATTRIBUTE, ImportedConsent};
use textdesk_core::{Address, ConsentState, Medium};

use crate::consent::{NewConsent, record};
use crate::{ACCOUNT_SCOPE, Result, Store, StoreError, from_ms, returned_id, to_ms};

/// What importing one row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowOutcome {
    /// A new contact (else the row was merged into the one with its number).
    pub created: bool,
    /// Its consent evidence went into the ledger (false: none, or the ledger
    /// already says the same or has a later opt-out).
    pub consent_recorded: bool,
}

/// One contact as an export writes it.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: i64,
    pub name: String,
    /// Their first phone number, if any.
    pub phone: Option<String>,
    pub time_zone: Option<String>,
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The latest opt-in or opt-out in any scope, with its source, evidence and time.
    pub consent: Option<(ConsentState, String, String, Timestamp)>,
}

/// The contact whose number this is, on any medium that uses phone numbers.
async fn contact_with_phone(tx: &mut AnyConnection, account_id: i64, phone: &str) -> Result<Option<i64>> {
    let namespaces: Vec<&str> =
        Medium::ALL.iter().filter(|m| m.uses_phone_numbers()).map(|m| m.identity_namespace()).collect();
    let sql = format!(
        "SELECT contact_id FROM contact_identities WHERE account_id = $1 AND address = $2 AND namespace IN ({})
         ORDER BY CASE WHEN namespace = 'phone' THEN 0 ELSE 1 END, id LIMIT 1",
        crate::placeholders(3, namespaces.len())
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(phone);
    for n in namespaces {
        q = q.bind(n);
    }
    Ok(q.fetch_optional(&mut *tx).await?.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

/// Whether imported evidence adds to the ledger: never a repeat of the
/// account-wide state, and never an opt-in older than an opt-out the ledger holds.
async fn consent_adds(tx: &mut AnyConnection, contact_id: i64, c: &ImportedConsent) -> Result<bool> {
    let latest: Option<String> = sqlx::query(
        "SELECT kind FROM consent_events WHERE contact_id = $1 AND scope = $2 AND kind IN ('opt_in', 'opt_out') ORDER BY id DESC LIMIT 1",
    )
    .bind(contact_id)
    .bind(ACCOUNT_SCOPE)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.try_get("kind"))
    .transpose()?;
    if crate::consent::state_of(latest.as_deref()) == c.state {
        return Ok(false);
    }
    if c.state == ConsentState::OptedIn {
        let later_out: i64 = sqlx::query(
            "SELECT COUNT(*) FROM consent_events WHERE contact_id = $1 AND kind = 'opt_out' AND created_at > $2",
        )
        .bind(contact_id)
        .bind(to_ms(c.recorded_at))
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        return Ok(later_out == 0);
    }
    Ok(true)
}

impl Store {
    /// Writes `rows` in one transaction: a number the account knows merges
    /// into its contact (the file's non-empty values set, the others kept),
    /// a new one makes a contact. `source` names the file for the evidence.
    pub async fn import_contact_rows(
        &self,
        account_id: i64,
        rows: &[ContactRow],
        source: &str,
        actor_id: Option<i64>,
        now: Timestamp,
    ) -> Result<Vec<RowOutcome>> {
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let found = contact_with_phone(&mut tx, account_id, row.phone.as_str()).await?;
            let (contact_id, created) = match found {
                Some(id) => (id, false),
                None => {
                    let r = sqlx::query(
                        "INSERT INTO contacts (account_id, name, created_at, updated_at) VALUES ($1, '', $2, $2) RETURNING id",
                    )
                    .bind(account_id)
                    .bind(to_ms(now))
                    .fetch_one(&mut *tx)
                    .await?;
                    let id = returned_id(&r)?;
                    let address = Address::parse(Medium::Sms, row.phone.as_str())?;
                    sqlx::query("INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(account_id)
                        .bind(id)
                        .bind(address.namespace())
                        .bind(address.value())
                        .bind(to_ms(now))
                        .execute(&mut *tx)
                        .await?;
                    crate::privacy::carry_opt_outs(self, &mut tx, account_id, id, &address, now).await?;
                    (id, true)
                }
            };
            let r = sqlx::query("SELECT name, time_zone, attributes FROM contacts WHERE id = $1")
                .bind(contact_id)
                .fetch_one(&mut *tx)
                .await?;
            let stored: String = r.try_get("attributes")?;
            let mut attributes = crate::contacts::attribute_texts(&serde_json::from_str(&stored).unwrap_or_default());
            for (k, v) in &row.attributes {
                attributes.insert(k.as_str().to_owned(), v.as_str().to_owned());
            }
            let name = if row.name.is_empty() { r.try_get::<String, _>("name")? } else { row.name.clone() };
            let zone = row.time_zone.clone().or(r.try_get::<Option<String>, _>("time_zone")?);
            let attrs = serde_json::to_string(&attributes).map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query(
                "UPDATE contacts SET name = $1, time_zone = $2, attributes = $3, updated_at = $4 WHERE id = $5",
            )
            .bind(name)
            .bind(zone)
            .bind(attrs)
            .bind(to_ms(now))
            .bind(contact_id)
            .execute(&mut *tx)
            .await?;
            let mut consent_recorded = false;
            if let Some(c) = &row.consent
                && consent_adds(&mut tx, contact_id, c).await?
            {
                let evidence = format!(
                    "{}: {} (recorded {}; {source}, line {})",
                    c.source,
                    if c.evidence.is_empty() { "no evidence given" } else { &c.evidence },
                    c.recorded_at,
                    row.line
                );
                let new = NewConsent {
                    contact_id,
                    scope: ACCOUNT_SCOPE,
                    state: c.state,
                    source: "imported",
                    evidence: &evidence,
                    actor_id,
                    message_id: None,
                };
                record(&mut tx, new, now).await?;
                consent_recorded = true;
            }
            out.push(RowOutcome { created, consent_recorded });
        }
        self.commit(tx).await?;
        Ok(out)
    }

    /// Whether the account has a contact with this number (for a dry run).
    pub async fn knows_phone(&self, account_id: i64, phone: &str) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        Ok(contact_with_phone(&mut conn, account_id, phone).await?.is_some())
    }

    /// The attribute names the account's contacts use, email aside (the export's extra columns).
    pub async fn attribute_names(&self, account_id: i64) -> Result<Vec<String>> {
        let mut names = std::collections::BTreeSet::new();
        let mut after = 0;
        loop {
            let page = self.export_rows(account_id, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            names.extend(page.into_iter().flat_map(|r| r.attributes.into_keys()));
        }
        names.remove(EMAIL_ATTRIBUTE);
        Ok(names.into_iter().collect())
    }

    /// Up to `limit` live contacts with an id above `after`, in id order.
    pub async fn export_rows(&self, account_id: i64, after: i64, limit: i64) -> Result<Vec<ExportRow>> {
        let rows = sqlx::query(
            "SELECT c.id, c.name, c.time_zone, c.attributes,
               (SELECT i.address FROM contact_identities i WHERE i.contact_id = c.id AND i.namespace IN ('phone', 'whatsapp') ORDER BY CASE WHEN i.namespace = 'phone' THEN 0 ELSE 1 END, i.id LIMIT 1) AS phone,
               e.kind, e.source, e.evidence, e.created_at AS consent_at
             FROM contacts c
             LEFT JOIN consent_events e ON e.id = (SELECT MAX(x.id) FROM consent_events x WHERE x.contact_id = c.id AND x.kind IN ('opt_in', 'opt_out'))
             WHERE c.account_id = $1 AND c.id > $2 AND c.merged_into IS NULL AND c.erased_at IS NULL
             ORDER BY c.id LIMIT $3",
        )
        .bind(account_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let attrs: String = r.try_get("attributes")?;
                let kind: Option<String> = r.try_get("kind")?;
                let consent = match kind {
                    Some(k) => Some((
                        crate::consent::state_of(Some(&k)),
                        r.try_get("source")?,
                        r.try_get("evidence")?,
                        from_ms(r.try_get("consent_at")?),
                    )),
                    None => None,
                };
                Ok(ExportRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    phone: r.try_get("phone")?,
                    time_zone: r.try_get("time_zone")?,
                    attributes: crate::contacts::attribute_texts(&serde_json::from_str(&attrs).unwrap_or_default()),
                    consent,
                })
            })
            .collect()
    }
}
