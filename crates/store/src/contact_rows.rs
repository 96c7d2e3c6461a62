//! Contacts in bulk: rows of an imported file written a batch at a time, and
//! the account's contacts read a page at a time for an export, so neither
//! ever holds a whole file or table.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};
use textdesk_core::contact_row::{ContactRow, EMAIL_ATTRIBUTE, ImportedConsent};
use textdesk_core::{Address, ConsentState, Medium};

use crate::consent::NewConsent;
use crate::multirow::{self, Value};
use crate::{ACCOUNT_SCOPE, Result, Store, StoreError, from_ms, to_ms};

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

/// The contact of each of these numbers the account knows, on any medium that
/// uses phone numbers (through its SMS identity first, else its oldest).
async fn contacts_with_phones(
    tx: &mut AnyConnection,
    account_id: i64,
    phones: &[&str],
) -> Result<HashMap<String, i64>> {
    let namespaces = crate::contacts::phone_namespaces();
    let sql = format!(
        "SELECT address, contact_id, namespace, id FROM contact_identities
         WHERE account_id = $1 AND namespace IN ({}) AND address IN ({{in}})",
        crate::placeholders(2, namespaces.len())
    );
    let fixed: Vec<Value> = std::iter::once(Value::Int(account_id))
        .chain(namespaces.iter().map(|n| Value::Text((*n).to_owned())))
        .collect();
    let keys: Vec<Value> = phones.iter().map(|p| Value::Text((*p).to_owned())).collect();
    let mut best: HashMap<String, ((bool, i64), i64)> = HashMap::new();
    for r in multirow::select_in(tx, &sql, &fixed, &keys).await? {
        let namespace: String = r.try_get("namespace")?;
        let rank = (namespace != "phone", r.try_get::<i64, _>("id")?);
        let contact_id: i64 = r.try_get("contact_id")?;
        let slot = best.entry(r.try_get("address")?).or_insert((rank, contact_id));
        if rank < slot.0 {
            *slot = (rank, contact_id);
        }
    }
    Ok(best.into_iter().map(|(phone, (_, id))| (phone, id)).collect())
}

/// What the ledger says of a contact, as far as imported evidence needs.
#[derive(Debug, Clone, Copy)]
struct Ledger {
    /// The latest opt-in or opt-out in the account's scope.
    account: ConsentState,
    /// When the latest opt-out in any scope was recorded (ms).
    last_opt_out: Option<i64>,
}

impl Ledger {
    const EMPTY: Ledger = Ledger { account: ConsentState::Unknown, last_opt_out: None };

    /// Whether imported evidence adds to the ledger: never a repeat of the
    /// account-wide state, and never an opt-in older than an opt-out the ledger holds.
    fn adds(&self, c: &ImportedConsent) -> bool {
        if self.account == c.state {
            return false;
        }
        if c.state == ConsentState::OptedIn {
            return self.last_opt_out.is_none_or(|out| out <= to_ms(c.recorded_at));
        }
        true
    }

    fn record(&mut self, scope: &str, state: ConsentState, now: Timestamp) {
        if scope == ACCOUNT_SCOPE {
            self.account = state;
        }
        if state == ConsentState::OptedOut {
            self.last_opt_out = Some(self.last_opt_out.map_or(to_ms(now), |t| t.max(to_ms(now))));
        }
    }
}

/// The ledger of each of these contacts that has one.
async fn ledgers(tx: &mut AnyConnection, contact_ids: &[i64]) -> Result<HashMap<i64, Ledger>> {
    let keys = multirow::ints(contact_ids);
    let rows = multirow::select_in(
        tx,
        "SELECT g.contact_id, e.kind, g.last_out FROM (
           SELECT contact_id, MAX(CASE WHEN scope = 'account' THEN id END) AS last_account,
                  MAX(CASE WHEN kind = 'opt_out' THEN created_at END) AS last_out
           FROM consent_events WHERE kind IN ('opt_in', 'opt_out') AND contact_id IN ({in}) GROUP BY contact_id
         ) g LEFT JOIN consent_events e ON e.id = g.last_account",
        &[],
        &keys,
    )
    .await?;
    let mut out = HashMap::new();
    for r in rows {
        let kind: Option<String> = r.try_get("kind")?;
        let ledger =
            Ledger { account: crate::consent::state_of(kind.as_deref()), last_opt_out: r.try_get("last_out")? };
        out.insert(r.try_get("contact_id")?, ledger);
    }
    Ok(out)
}

/// A contact as the rows of a batch leave it.
struct Slot {
    /// Known once written (a new contact's when it is inserted).
    id: Option<i64>,
    /// A new contact's number.
    new_address: Option<Address>,
    name: String,
    zone: Option<String>,
    attributes: BTreeMap<String, String>,
    /// The contact row's consent: the latest change in any scope.
    consent: String,
    ledger: Ledger,
    /// An opt-out in the account's scope was imported for it.
    opted_out: bool,
}

impl Slot {
    fn new(address: Address) -> Self {
        Slot {
            id: None,
            new_address: Some(address),
            name: String::new(),
            zone: None,
            attributes: BTreeMap::new(),
            consent: ConsentState::Unknown.as_str().to_owned(),
            ledger: Ledger::EMPTY,
            opted_out: false,
        }
    }

    fn stored(r: &sqlx::any::AnyRow) -> Result<Self> {
        let attributes: String = r.try_get("attributes")?;
        Ok(Slot {
            id: Some(r.try_get("id")?),
            new_address: None,
            name: r.try_get("name")?,
            zone: r.try_get("time_zone")?,
            attributes: crate::contacts::attribute_texts(&serde_json::from_str(&attributes).unwrap_or_default()),
            consent: r.try_get("consent")?,
            ledger: Ledger::EMPTY,
            opted_out: false,
        })
    }

    /// Name, zone, attributes, consent and the time, as the writes bind them.
    fn fields(&self, now: Timestamp) -> Result<Vec<Value>> {
        let attrs = serde_json::to_string(&self.attributes).map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(vec![
            Value::Text(self.name.clone()),
            Value::OptText(self.zone.clone()),
            Value::Text(attrs),
            Value::Text(self.consent.clone()),
            Value::Int(to_ms(now)),
        ])
    }
}

/// A ledger row to write for a slot.
struct Evidence {
    slot: usize,
    scope: String,
    state: ConsentState,
    source: &'static str,
    text: String,
    actor_id: Option<i64>,
}

impl Store {
    /// Writes `rows` in one transaction: a number the account knows merges
    /// into its contact (the file's non-empty values set, the others kept),
    /// a new one makes a contact. `source` names the file for the evidence.
    /// The rows are applied in order in memory, then written a few hundred
    /// to a statement (`multirow`): a batch costs a handful of statements,
    /// not several a row (each a round trip on PostgreSQL).
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
        for chunk in rows.chunks(multirow::ROWS_PER_STATEMENT) {
            out.extend(self.import_chunk(&mut tx, account_id, chunk, (source, actor_id), now).await?);
        }
        self.commit(tx).await?;
        Ok(out)
    }

    async fn import_chunk(
        &self,
        tx: &mut AnyConnection,
        account_id: i64,
        rows: &[ContactRow],
        (source, actor_id): (&str, Option<i64>),
        now: Timestamp,
    ) -> Result<Vec<RowOutcome>> {
        // What the database knows: the numbers' contacts, their fields and ledgers.
        let phones: Vec<&str> = rows.iter().map(|r| r.phone.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
        let known = contacts_with_phones(tx, account_id, &phones).await?;
        let ids: Vec<Value> = known.values().collect::<BTreeSet<_>>().into_iter().map(|&id| Value::Int(id)).collect();
        let sql = "SELECT id, name, time_zone, attributes, consent FROM contacts WHERE id IN ({in})";
        let mut slots: Vec<Slot> = Vec::new();
        let mut slot_of_contact: HashMap<i64, usize> = HashMap::new();
        for r in multirow::select_in(tx, sql, &[], &ids).await? {
            slot_of_contact.insert(r.try_get("id")?, slots.len());
            slots.push(Slot::stored(&r)?);
        }
        let with_evidence: BTreeSet<i64> =
            rows.iter().filter(|r| r.consent.is_some()).filter_map(|r| known.get(r.phone.as_str()).copied()).collect();
        for (id, ledger) in ledgers(tx, &with_evidence.into_iter().collect::<Vec<_>>()).await? {
            if let Some(&i) = slot_of_contact.get(&id) {
                slots[i].ledger = ledger;
            }
        }
        let new_addresses: Vec<Address> = phones
            .iter()
            .filter(|p| !known.contains_key(**p))
            .map(|p| Address::parse(Medium::Sms, p))
            .collect::<std::result::Result<_, textdesk_core::Invalid>>()?;
        let carried =
            crate::privacy::opt_outs_to_carry(self, tx, account_id, &new_addresses.iter().collect::<Vec<_>>()).await?;

        // The rows applied in order, as writing them one after another would.
        let mut slot_of_new: HashMap<&str, usize> = HashMap::new();
        let mut evidence: Vec<Evidence> = Vec::new();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let phone = row.phone.as_str();
            let (slot, created) = if let Some(id) = known.get(phone) {
                (*slot_of_contact.get(id).ok_or(StoreError::NotFound("contact"))?, false)
            } else if let Some(&i) = slot_of_new.get(phone) {
                (i, false)
            } else {
                let i = slots.len();
                let mut s = Slot::new(Address::parse(Medium::Sms, phone)?);
                // Opt-outs an erased contact with this number had hold for the new one.
                for scope in carried.get(phone).into_iter().flatten() {
                    s.ledger.record(scope, ConsentState::OptedOut, now);
                    s.consent = ConsentState::OptedOut.as_str().to_owned();
                    evidence.push(Evidence {
                        slot: i,
                        scope: scope.clone(),
                        state: ConsentState::OptedOut,
                        source: "erasure",
                        text: "opted out before their earlier data was erased".into(),
                        actor_id: None,
                    });
                }
                slots.push(s);
                slot_of_new.insert(phone, i);
                (i, true)
            };
            let s = &mut slots[slot];
            for (k, v) in &row.attributes {
                s.attributes.insert(k.as_str().to_owned(), v.as_str().to_owned());
            }
            if !row.name.is_empty() {
                s.name = row.name.clone();
            }
            if row.time_zone.is_some() {
                s.zone = row.time_zone.clone();
            }
            let mut consent_recorded = false;
            if let Some(c) = &row.consent
                && s.ledger.adds(c)
            {
                let text = format!(
                    "{}: {} (recorded {}; {source}, line {})",
                    c.source,
                    if c.evidence.is_empty() { "no evidence given" } else { &c.evidence },
                    c.recorded_at,
                    row.line
                );
                s.ledger.record(ACCOUNT_SCOPE, c.state, now);
                s.consent = c.state.as_str().to_owned();
                s.opted_out |= c.state == ConsentState::OptedOut;
                let scope = ACCOUNT_SCOPE.into();
                evidence.push(Evidence { slot, scope, state: c.state, source: "imported", text, actor_id });
                consent_recorded = true;
            }
            out.push(RowOutcome { created, consent_recorded });
        }
        self.write_slots(tx, account_id, &mut slots, &evidence, now).await?;
        Ok(out)
    }

    /// New contacts with their numbers, the known ones' new fields, the ledger.
    async fn write_slots(
        &self,
        tx: &mut AnyConnection,
        account_id: i64,
        slots: &mut [Slot],
        evidence: &[Evidence],
        now: Timestamp,
    ) -> Result<()> {
        let fresh: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].id.is_none()).collect();
        let mut values = Vec::with_capacity(fresh.len());
        for &i in &fresh {
            values.push([vec![Value::Int(account_id)], slots[i].fields(now)?, vec![Value::Int(to_ms(now))]].concat());
        }
        let inserted = multirow::run(
            tx,
            "INSERT INTO contacts (account_id, name, time_zone, attributes, consent, updated_at, created_at)
             VALUES {values} RETURNING id",
            &values,
        )
        .await?;
        let new_ids = crate::contacts::inserted_ids(inserted, fresh.len())?;
        let mut values = Vec::with_capacity(fresh.len());
        for (&i, id) in fresh.iter().zip(new_ids) {
            slots[i].id = Some(id);
            if let Some(a) = &slots[i].new_address {
                values.push(vec![
                    Value::Int(account_id),
                    Value::Int(id),
                    Value::Text(a.namespace().to_owned()),
                    Value::Text(a.value().to_owned()),
                    Value::Int(to_ms(now)),
                ]);
            }
        }
        multirow::run(
            tx,
            "INSERT INTO contact_identities (account_id, contact_id, namespace, address, created_at) VALUES {values}",
            &values,
        )
        .await?;
        let mut values = Vec::new();
        for s in slots.iter().filter(|s| s.new_address.is_none()) {
            if let Some(id) = s.id {
                values.push([vec![Value::Int(id)], s.fields(now)?].concat());
            }
        }
        multirow::run(
            tx,
            "UPDATE contacts SET name = v.column2, time_zone = v.column3, attributes = v.column4, consent = v.column5,
               updated_at = v.column6
             FROM (VALUES {values}) AS v WHERE contacts.id = v.column1",
            &values,
        )
        .await?;
        let mut ledger = Vec::with_capacity(evidence.len());
        for e in evidence {
            ledger.push(NewConsent {
                contact_id: slots[e.slot].id.ok_or(StoreError::NotFound("contact"))?,
                scope: &e.scope,
                state: e.state,
                source: e.source,
                evidence: &e.text,
                actor_id: e.actor_id,
                message_id: None,
            });
        }
        crate::consent::append_many(tx, &ledger, now).await?;
        // Known contacts may have conversations an opt-out changes.
        let opted_out: Vec<i64> =
            slots.iter().filter(|s| s.opted_out && s.new_address.is_none()).filter_map(|s| s.id).collect();
        if !opted_out.is_empty() {
            crate::consent::account_opt_outs(tx, &opted_out, now).await?;
        }
        Ok(())
    }

    /// Which of these numbers the account has a contact with (a dry run's batch).
    pub async fn known_phones(&self, account_id: i64, phones: &[&str]) -> Result<HashSet<String>> {
        let mut conn = self.pool.acquire().await?;
        Ok(contacts_with_phones(&mut conn, account_id, phones).await?.into_keys().collect())
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
