//! Inbox settings as an admin saves them: every part is checked before any is
//! stored, so a typo is an error naming the entry, never a silent default.

use textdesk_core::{E164, Invalid};
use textdesk_store::{Inbox, User};

use crate::services::Services;
use crate::services::automations::BUILTIN_KEYS;
use crate::services::consent::ConsentSettings;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::hours::InboxHours;

/// The settings an inbox knows; anything else is refused so a misspelt key is noticed.
const KEYS: &[&str] = &[
    "consent",
    "hours",
    "off_hours_reply",
    "acknowledge",
    "price_per_segment",
    "currency",
    "rate_limit",
    // The satisfaction poll after a resolve (core::survey_settings).
    "survey",
    // The web chat widget's look and sites: changed like any other setting.
    "webchat",
];

/// A provider's connection (`twilio`, `smpp`… any provider this build has),
/// stored under its key when the inbox is added (see services::channels): an
/// inbox's setting that only a new inbox changes. The web chat widget's look
/// is a provider's key too, and is an ordinary setting (in KEYS).
fn is_connection(key: &str) -> bool {
    textdesk_channels::registry::find(key).is_some() && !KEYS.contains(&key)
}

impl Services {
    pub async fn inboxes(&self, account_id: i64) -> ServiceResult<Vec<Inbox>> {
        Ok(self.store.inboxes(account_id).await?)
    }

    /// The country a phone number typed without its code is read in
    /// ("(415) 555-0199"): the inbox's own (its number's), else the account's
    /// (its first phone inbox's, else its time zone's). Every form and API
    /// that takes a typed number reads it with `Address::parse_in` in this.
    pub async fn home_country(&self, account_id: i64, inbox: Option<&Inbox>) -> ServiceResult<Option<String>> {
        let of = |i: &Inbox| E164::parse(&i.sender, None).ok().and_then(|n| n.region());
        if let Some(country) = inbox.and_then(of) {
            return Ok(Some(country));
        }
        if let Some(country) = self.store.inboxes(account_id).await?.iter().find_map(of) {
            return Ok(Some(country));
        }
        let zone = self.business_zone(account_id).await?;
        Ok(zone.iana_name().and_then(textdesk_core::numbering::country_of_zone).map(str::to_owned))
    }

    /// An inbox of the account (404 for any other).
    pub async fn inbox(&self, account_id: i64, id: i64) -> ServiceResult<Inbox> {
        Ok(self.store.inbox(account_id, id).await?)
    }

    /// The inbox a provider's webhook address names; the address carries no
    /// account. As this node keeps it (see `Channels`).
    pub async fn webhook_inbox(&self, id: i64) -> ServiceResult<std::sync::Arc<Inbox>> {
        self.cached_inbox(id).await
    }

    /// The scope the inbox shares consent under with other inboxes, if any.
    pub async fn inbox_shared_scope(&self, inbox: &Inbox) -> ServiceResult<Option<String>> {
        Ok(self.store.inbox_shared_scope(inbox.account_id, inbox.id).await?)
    }

    /// Checks a whole settings object.
    pub fn check_inbox_settings(&self, settings: &serde_json::Value) -> Result<(), Invalid> {
        let obj = settings.as_object().ok_or_else(|| Invalid::new("settings must be an object"))?;
        if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str()) && !is_connection(k)) {
            return Err(Invalid::new(format!("{k:?} is not an inbox setting; known: {}", KEYS.join(", "))));
        }
        if let Some(w) = obj.get(textdesk_channels::webchat::KEY) {
            let settings =
                w.as_object().cloned().ok_or_else(|| Invalid::new("webchat: an object of the widget's settings"))?;
            let stored = textdesk_channels::provider::StoredSetup { settings, secrets: Default::default() };
            textdesk_channels::webchat::WidgetSettings::of(&stored)?;
        }
        ConsentSettings::parse(settings, &self.business_name)?;
        InboxHours::parse(settings, &self.timing.fallback_zone)?;
        crate::services::dispatcher::rate_setting(settings)?;
        match obj.get("survey") {
            None | Some(serde_json::Value::Null) => {}
            Some(v) => {
                textdesk_core::survey_settings::SurveySettings::parse(v)?;
            }
        }
        match obj.get("price_per_segment") {
            None | Some(serde_json::Value::Null) => {}
            Some(p) if p.as_f64().is_some_and(|p| p.is_finite() && (0.0..=100.0).contains(&p)) => {}
            Some(_) => return Err(Invalid::new("price_per_segment: a number from 0 to 100")),
        }
        match obj.get("currency") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(c)) if c.len() == 3 && c.chars().all(|c| c.is_ascii_uppercase()) => {}
            Some(_) => return Err(Invalid::new("currency: a three-letter code such as USD")),
        }
        Ok(())
    }

    /// Puts the inbox's sender in a shared consent scope (`pool:main`), or back in its own.
    /// A STOP to any sender of a shared scope then silences all of them.
    pub async fn set_consent_scope(&self, admin: &User, id: i64, scope: Option<&str>) -> ServiceResult<()> {
        if let Some(sc) = scope {
            let ok = (1..=64).contains(&sc.len())
                && sc.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ":_.-".contains(c))
                && sc != textdesk_store::ACCOUNT_SCOPE
                && !sc.starts_with("inbox:");
            if !ok {
                return Err(ServiceError::Invalid(format!(
                    "consent_scope {sc:?}: 1 to 64 lowercase letters, digits or : _ . -, such as pool:main (not account or inbox:…)"
                )));
            }
        }
        self.store.set_inbox_consent_scope(admin.account_id, id, scope).await?;
        // This node at once; the others when their relay reads the log.
        self.channels.forget(Some(id));
        Ok(())
    }

    /// Renames an inbox and/or changes settings: each top-level key given replaces
    /// the stored one (null removes it); keys not given are kept.
    pub async fn update_inbox(
        &self,
        admin: &User,
        id: i64,
        name: Option<&str>,
        changes: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> ServiceResult<Inbox> {
        let inbox = self.store.inbox(admin.account_id, id).await?;
        if let Some(n) = name
            && (n.trim().is_empty() || n.trim().chars().count() > 100)
        {
            return Err(ServiceError::Invalid("an inbox name is 1 to 100 characters".into()));
        }
        let settings = match changes {
            None => None,
            Some(changes) => {
                if let Some(k) = changes.keys().find(|k| is_connection(k)) {
                    return Err(ServiceError::Invalid(format!(
                        "{k}: the provider connection is set when the inbox is added; add a new inbox to change it"
                    )));
                }
                let mut merged = inbox.settings.as_object().cloned().unwrap_or_default();
                for (k, v) in changes {
                    if v.is_null() {
                        merged.remove(k);
                    } else {
                        merged.insert(k.clone(), v.clone());
                    }
                }
                let merged = serde_json::Value::Object(merged);
                self.check_inbox_settings(&merged)?;
                Some(merged)
            }
        };
        // The automatic replies live in the inbox's built-in rules: written
        // there (after the whole object was checked), not in the settings.
        let settings = match settings {
            Some(serde_json::Value::Object(mut merged)) => {
                for key in BUILTIN_KEYS {
                    if let Some(v) = changes.and_then(|c| c.get(key)) {
                        self.save_builtin_setting(&inbox, key, v).await?;
                    }
                    merged.remove(key);
                }
                Some(serde_json::Value::Object(merged))
            }
            other => other,
        };
        let updated = self.store.update_inbox(admin.account_id, id, name.map(str::trim), settings.as_ref()).await?;
        self.channels.forget(Some(id));
        let mut what: Vec<String> = name.map(|_| "name".to_owned()).into_iter().collect();
        what.extend(changes.into_iter().flat_map(|c| c.keys().cloned()));
        let detail = format!("Changed: {}.", if what.is_empty() { "nothing".into() } else { what.join(", ") });
        self.audit(admin, "settings.inbox", &format!("inbox:{id} ({})", updated.name), None, &detail).await?;
        Ok(updated)
    }
}
