use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::event::DomainEvent;
use textdesk_core::{Address, AttributeChanges, ConsentState, ContactName};

use crate::events::append_for_contact;
use crate::{Result, Store, StoreError, from_ms, is_unique_violation, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub id: i64,
    /// `phone` for SMS-like channels, else the channel kind.
    pub namespace: String,
    pub address: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Contact {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub time_zone: Option<String>,
    pub attributes: serde_json::Value,
    pub consent: ConsentState,
    pub identities: Vec<Identity>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Who changed a contact, and from which conversation (announced last, see
/// [`crate::events`]'s `append_for_contact`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin {
    pub actor_id: Option<i64>,
    pub shown_in: Option<i64>,
}

#[derive(Debug, Default)]
pub struct ContactPatch {
    pub name: Option<ContactName>,
    /// A checked IANA zone name; Some(None) goes back to the number's zone.
    pub time_zone: Option<Option<String>>,
    /// Keys set or removed; the others are kept.
    pub attributes: Option<AttributeChanges>,
}

impl Contact {
    /// The attributes as text, in key order (a value stored as other JSON is shown as JSON).
    pub fn attribute_texts(&self) -> std::collections::BTreeMap<String, String> {
        attribute_texts(&self.attributes)
    }

    /// What an agent calls the contact: their name, or their first address.
    pub fn display_name(&self) -> String {
        if !self.name.trim().is_empty() {
            return self.name.clone();
        }
        self.identities.first().map(|i| i.address.clone()).unwrap_or_else(|| format!("Contact {}", self.id))
    }
}

const COLUMNS: &str = "id, account_id, name, time_zone, attributes, consent, created_at, updated_at";

impl Store {
    async fn contact_from(&self, r: &sqlx::any::AnyRow) -> Result<Contact> {
        let id: i64 = r.try_get("id")?;
        let attributes: String = r.try_get("attributes")?;
        let consent: String = r.try_get("consent")?;
        Ok(Contact {
            id,
            account_id: r.try_get("account_id")?,
            name: r.try_get("name")?,
            time_zone: r.try_get("time_zone")?,
            attributes: serde_json::from_str(&attributes).unwrap_or_default(),
            consent: ConsentState::parse(&consent).unwrap_or(ConsentState::Unknown),
            identities: self.identities(id).await?,
            created_at: from_ms(r.try_get("created_at")?),
            updated_at: from_ms(r.try_get("updated_at")?),
        })
    }

    pub async fn identities(&self, contact_id: i64) -> Result<Vec<Identity>> {
        let rows =
            sqlx::query("SELECT id, namespace, address FROM contact_identities WHERE contact_id = $1 ORDER BY id")
                .bind(contact_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Identity {
                    id: r.try_get("id")?,
                    namespace: r.try_get("namespace")?,
                    address: r.try_get("address")?,
                })
            })
            .collect()
    }

    pub async fn contact(&self, account_id: i64, id: i64) -> Result<Contact> {
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE account_id = $1 AND id = $2 AND merged_into IS NULL");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&self.pool).await?;
        self.contact_from(&row.ok_or(StoreError::NotFound("contact"))?).await
    }

    pub async fn contact_by_address(&self, account_id: i64, address: &Address) -> Result<Option<Contact>> {
        let row = sqlx::query(
            "SELECT contact_id FROM contact_identities WHERE account_id = $1 AND namespace = $2 AND address = $3",
        )
        .bind(account_id)
        .bind(address.namespace())
        .bind(address.value())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(r) => Ok(Some(self.contact(account_id, r.try_get("contact_id")?).await?)),
            None => Ok(None),
        }
    }

    /// Contacts by name or address, newest first, `limit` at a time after `before_id`.
    pub async fn contacts(
        &self,
        account_id: i64,
        q: Option<&str>,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<Contact>> {
        let pattern = q.map(|q| format!("%{}%", q.to_lowercase()));
        let rows = sqlx::query(
            "SELECT id, account_id, name, time_zone, attributes, consent, created_at, updated_at FROM contacts c
             WHERE account_id = $1 AND merged_into IS NULL AND ($2 IS NULL OR id < $2)
               AND ($3 IS NULL OR LOWER(name) LIKE $3 OR EXISTS (SELECT 1 FROM contact_identities i WHERE i.contact_id = c.id AND LOWER(i.address) LIKE $3))
             ORDER BY id DESC LIMIT $4",
        )
        .bind(account_id)
        .bind(before_id)
        .bind(pattern)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.contact_from(r).await?);
        }
        Ok(out)
    }

    /// Creates a contact with its first identity; an address already known is a conflict.
    pub async fn create_contact(
        &self,
        account_id: i64,
        name: &str,
        address: &Address,
        time_zone: Option<&str>,
    ) -> Result<Contact> {
        let now = to_ms(Timestamp::now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("INSERT INTO contacts (account_id, name, time_zone, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id")
            .bind(account_id)
            .bind(name)
            .bind(time_zone)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        let id = returned_id(&row)?;
        let res = sqlx::query("INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(account_id)
            .bind(id)
            .bind(address.namespace())
            .bind(address.value())
            .bind(now)
            .execute(&mut *tx)
            .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!("{} already belongs to a contact", address.value())));
            }
            Err(e) => return Err(e.into()),
        }
        crate::privacy::carry_opt_outs(self, &mut tx, account_id, id, address, crate::from_ms(now)).await?;
        self.commit(tx).await?;
        self.contact(account_id, id).await
    }

    pub async fn add_identity(&self, account_id: i64, contact_id: i64, address: &Address) -> Result<Contact> {
        self.contact(account_id, contact_id).await?;
        let res = self.write_one(sqlx::query("INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(account_id)
            .bind(contact_id)
            .bind(address.namespace())
            .bind(address.value())
            .bind(to_ms(Timestamp::now()))
            )
            .await;
        match res {
            Ok(_) => {
                let mut conn = self.pool.acquire().await?;
                crate::privacy::carry_opt_outs(self, &mut conn, account_id, contact_id, address, Timestamp::now())
                    .await?;
                self.contact(account_id, contact_id).await
            }
            Err(e) if is_unique_violation(&e) => {
                Err(StoreError::Conflict(format!("{} already belongs to a contact", address.value())))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Applies `patch` in one write transaction, so two agents' attribute
    /// edits at once both land.
    pub async fn update_contact(&self, account_id: i64, id: i64, patch: ContactPatch, by: Origin) -> Result<Contact> {
        let mut tx = self.begin_write().await?;
        // SQLite's write transaction already holds the lock; PostgreSQL locks the row.
        let lock = if self.backend == crate::Backend::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!(
            "SELECT name, time_zone, attributes FROM contacts WHERE account_id = $1 AND id = $2 AND merged_into IS NULL{lock}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        let name = match patch.name {
            Some(n) => n.as_str().to_owned(),
            None => row.try_get("name")?,
        };
        let tz = match patch.time_zone {
            Some(z) => z,
            None => row.try_get("time_zone")?,
        };
        let stored: String = row.try_get("attributes")?;
        let attrs = match patch.attributes {
            Some(changes) => {
                let current = attribute_texts(&serde_json::from_str(&stored).unwrap_or_default());
                serde_json::to_string(&changes.apply(&current)?).map_err(|e| StoreError::Invalid(e.to_string()))?
            }
            None => stored,
        };
        sqlx::query("UPDATE contacts SET name = $1, time_zone = $2, attributes = $3, updated_at = $4 WHERE id = $5 AND account_id = $6")
            .bind(name)
            .bind(tz)
            .bind(attrs)
            .bind(to_ms(Timestamp::now()))
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let ev = DomainEvent::ContactChanged { contact_id: id };
        append_for_contact(&mut tx, (account_id, id, by.shown_in), &ev, by.actor_id, Timestamp::now()).await?;
        self.commit(tx).await?;
        self.contact(account_id, id).await
    }
}

pub(crate) fn attribute_texts(v: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))).collect()
        })
        .unwrap_or_default()
}

/// A text's sender, as [`contact_for`] found or made them.
pub(crate) struct Sender {
    pub identity_id: i64,
    pub contact_id: i64,
    /// A contact made just now with no past at all (no consent, conversation
    /// or poll to read): ingest skips those reads.
    pub fresh: bool,
}

impl Sender {
    /// (identity, contact).
    pub(crate) fn pair(&self) -> (i64, i64) {
        (self.identity_id, self.contact_id)
    }
}

/// The identity and contact of `address`, both created on first contact, in
/// the caller's transaction (so a message and its new contact land together).
pub(crate) async fn contact_for(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    account_id: i64,
    address: &Address,
    now_ms: i64,
) -> Result<Sender> {
    let mut one = senders_for(store, tx, &[(account_id, address, now_ms)]).await?;
    one.pop().ok_or(StoreError::NotFound("contact"))
}

/// [`contact_for`] for many addresses at once, in order: a handful of
/// statements whatever their number (one read, then the new contacts and
/// identities in one insert each). The addresses must be apart: no two with
/// the same value in the same account, as the second would have to find the
/// contact the first made (the caller writes those in later rounds).
///
/// An address's own identity comes first; a phone number the account knows
/// on another medium that uses phone numbers (first seen on WhatsApp, now on
/// SMS) is the same person, the oldest such identity's contact.
pub(crate) async fn senders_for(
    store: &Store,
    tx: &mut sqlx::AnyConnection,
    who: &[(i64, &Address, i64)],
) -> Result<Vec<Sender>> {
    use crate::multirow::{self, Value};
    use std::collections::{BTreeSet, HashMap};
    let accounts: BTreeSet<i64> = who.iter().map(|w| w.0).collect();
    let mut namespaces: BTreeSet<&str> = who.iter().map(|w| w.1.namespace()).collect();
    if who.iter().any(|w| w.1.medium().uses_phone_numbers()) {
        namespaces.extend(phone_namespaces());
    }
    let values: BTreeSet<&str> = who.iter().map(|w| w.1.value()).collect();
    let sql = format!(
        "SELECT id, contact_id, account_id, namespace, address FROM contact_identities
         WHERE account_id IN ({}) AND namespace IN ({}) AND address IN ({{in}})",
        crate::placeholders(1, accounts.len()),
        crate::placeholders(1 + accounts.len(), namespaces.len()),
    );
    let fixed: Vec<Value> = accounts
        .iter()
        .map(|&a| Value::Int(a))
        .chain(namespaces.iter().map(|n| Value::Text((*n).to_owned())))
        .collect();
    let keys: Vec<Value> = values.iter().map(|v| Value::Text((*v).to_owned())).collect();
    // (account, address) -> its identities.
    let mut known: HashMap<(i64, String), Vec<KnownIdentity>> = HashMap::new();
    for r in multirow::select_in(tx, &sql, &fixed, &keys).await? {
        let key = (r.try_get::<i64, _>("account_id")?, r.try_get::<String, _>("address")?);
        known.entry(key).or_default().push((r.try_get("id")?, r.try_get("contact_id")?, r.try_get("namespace")?));
    }

    // Per address: its own identity, else the contact of the same number, else nothing yet.
    let mut found: Vec<(Option<i64>, Option<i64>)> = Vec::with_capacity(who.len());
    let phones = phone_namespaces();
    for &(account_id, address, _) in who {
        let rows = known.get(&(account_id, address.value().to_owned())).map(Vec::as_slice).unwrap_or_default();
        let own = rows.iter().find(|(_, _, n)| n == address.namespace());
        let same_phone = || {
            let phone = address.medium().uses_phone_numbers();
            rows.iter().filter(|(_, _, n)| phone && phones.contains(&n.as_str())).min_by_key(|(id, _, _)| *id)
        };
        found.push(match own {
            Some(&(id, contact, _)) => (Some(id), Some(contact)),
            None => (None, same_phone().map(|r| r.1)),
        });
    }

    let needs_contact: Vec<usize> = (0..who.len()).filter(|&i| found[i].1.is_none()).collect();
    let rows: Vec<Vec<Value>> = needs_contact
        .iter()
        .map(|&i| vec![Value::Int(who[i].0), Value::Text(String::new()), Value::Int(who[i].2), Value::Int(who[i].2)])
        .collect();
    let sql = "INSERT INTO contacts (account_id, name, created_at, updated_at) VALUES {values} RETURNING id";
    let new_contacts = inserted_ids(multirow::run(tx, sql, &rows).await?, needs_contact.len())?;
    for (&i, id) in needs_contact.iter().zip(new_contacts) {
        found[i].1 = Some(id);
    }

    let needs_identity: Vec<usize> = (0..who.len()).filter(|&i| found[i].0.is_none()).collect();
    let mut rows = Vec::with_capacity(needs_identity.len());
    for &i in &needs_identity {
        let (account_id, address, now_ms) = who[i];
        let contact_id = found[i].1.ok_or(StoreError::NotFound("contact"))?;
        rows.push(vec![
            Value::Int(account_id),
            Value::Int(contact_id),
            Value::Text(address.namespace().to_owned()),
            Value::Text(address.value().to_owned()),
            Value::Int(now_ms),
        ]);
    }
    let sql = "INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES {values} RETURNING id";
    let new_identities = inserted_ids(multirow::run(tx, sql, &rows).await?, needs_identity.len())?;
    for (&i, id) in needs_identity.iter().zip(new_identities) {
        found[i].0 = Some(id);
    }

    // Opt-outs an erased contact with the same address had hold for its new contact.
    let mut carried: BTreeSet<usize> = BTreeSet::new();
    for &account_id in &accounts {
        let mine: Vec<usize> = needs_contact.iter().copied().filter(|&i| who[i].0 == account_id).collect();
        if mine.is_empty() {
            continue;
        }
        let addresses: Vec<&Address> = mine.iter().map(|&i| who[i].1).collect();
        let scopes = crate::privacy::opt_outs_to_carry(store, tx, account_id, &addresses).await?;
        for &i in &mine {
            for scope in scopes.get(who[i].1.value()).into_iter().flatten() {
                let c = crate::consent::NewConsent {
                    contact_id: found[i].1.ok_or(StoreError::NotFound("contact"))?,
                    scope,
                    state: ConsentState::OptedOut,
                    source: "erasure",
                    evidence: "opted out before their earlier data was erased",
                    actor_id: None,
                    message_id: None,
                };
                crate::consent::record(tx, c, crate::from_ms(who[i].2)).await?;
                carried.insert(i);
            }
        }
    }
    let new_contact: BTreeSet<usize> = needs_contact.into_iter().collect();
    found
        .into_iter()
        .enumerate()
        .map(|(i, (identity, contact))| {
            Ok(Sender {
                identity_id: identity.ok_or(StoreError::NotFound("identity"))?,
                contact_id: contact.ok_or(StoreError::NotFound("contact"))?,
                fresh: new_contact.contains(&i) && !carried.contains(&i),
            })
        })
        .collect()
}

/// An identity of an address [`senders_for`] looks up: (id, contact, namespace).
type KnownIdentity = (i64, i64, String);

/// The ids a multi-row insert returned, in insertion order: ids are handed
/// out in that order (SQLite's next rowid, PostgreSQL's sequence), whatever
/// order RETURNING lists them in.
pub(crate) fn inserted_ids(rows: Vec<sqlx::any::AnyRow>, expected: usize) -> Result<Vec<i64>> {
    let mut ids = rows.iter().map(returned_id).collect::<Result<Vec<i64>>>()?;
    if ids.len() != expected {
        return Err(StoreError::Unstored("a multi-row insert did not write every row".into()));
    }
    ids.sort_unstable();
    Ok(ids)
}

/// The identity namespaces of media that use phone numbers.
pub(crate) fn phone_namespaces() -> Vec<&'static str> {
    textdesk_core::Medium::ALL.iter().filter(|m| m.uses_phone_numbers()).map(|m| m.identity_namespace()).collect()
}

impl Store {
    /// Gives a contact nobody has named the name they use in a messaging app
    /// (WhatsApp's profile name); a name an agent gave is never replaced.
    pub async fn name_if_unnamed(&self, account_id: i64, address: &Address, name: &str) -> Result<bool> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Ok(false);
        }
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE contacts SET name = $1, updated_at = $2 WHERE name = '' AND account_id = $3 AND id IN
               (SELECT contact_id FROM contact_identities WHERE account_id = $3 AND namespace = $4 AND address = $5)",
        )
        .bind(name)
        .bind(crate::to_ms(jiff::Timestamp::now()))
        .bind(account_id)
        .bind(address.namespace())
        .bind(address.value())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        self.commit(tx).await?;
        Ok(done > 0)
    }
}
