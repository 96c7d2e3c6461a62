//! The account's settings: `compose`, the tone rules the composer's preview
//! applies (`core::compose::ToneRules`), and `targets`, the response times the
//! inbox measures waiting customers against.

use serde_json::{Map, Value, json};
use textdesk_core::Invalid;
use textdesk_core::compose::ToneRules;
use textdesk_store::StoreError;

use crate::services::Services;

/// The sections an account's settings may hold.
const SECTIONS: &[&str] = &["compose", "targets"];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The settings as they apply: every section present, defaults filled in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountSettings {
    pub compose: ToneRules,
    pub targets: Targets,
}

/// How soon customers should hear from a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    /// Minutes a customer may wait for the first answer before the inbox marks them late.
    pub first_response_minutes: u32,
}

impl Default for Targets {
    fn default() -> Self {
        Targets { first_response_minutes: 15 }
    }
}

/// A day; a longer target would never mark anyone late on a working shift.
const MAX_TARGET_MINUTES: u32 = 24 * 60;

impl Targets {
    fn validated(self) -> Result<Self, Invalid> {
        if !(1..=MAX_TARGET_MINUTES).contains(&self.first_response_minutes) {
            return Err(Invalid::new(format!(
                "settings.targets.first_response_minutes must be 1 to {MAX_TARGET_MINUTES} (got {})",
                self.first_response_minutes
            )));
        }
        Ok(self)
    }
}

impl AccountSettings {
    /// Reads stored settings. A section that no longer reads (edited by hand,
    /// written by another version) falls back to the defaults rather than
    /// breaking every preview; the log says so.
    fn from_stored(stored: &Value) -> Self {
        let compose = match stored.get("compose") {
            None => ToneRules::default(),
            Some(v) => match serde_json::from_value::<ToneRules>(v.clone()).map_err(|e| Invalid::new(e.to_string())) {
                Ok(r) => r.validated().unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "the account's compose settings are not valid; using the defaults");
                    ToneRules::default()
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "the account's compose settings do not read; using the defaults");
                    ToneRules::default()
                }
            },
        };
        let targets = match stored.get("targets").map(|v| serde_json::from_value::<Targets>(v.clone())) {
            None => Targets::default(),
            Some(Ok(t)) => t.validated().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the account's targets are not valid; using the defaults");
                Targets::default()
            }),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the account's targets do not read; using the defaults");
                Targets::default()
            }
        };
        AccountSettings { compose, targets }
    }

    /// Validates a whole settings object as an admin would store it.
    fn parse(v: &Value) -> Result<Self, Invalid> {
        let obj = v.as_object().ok_or_else(|| Invalid::new("settings must be a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(Invalid::new(format!(
                "settings has no section {k:?}; the sections are {}",
                SECTIONS.join(", ")
            )));
        }
        let compose = match obj.get("compose") {
            None => ToneRules::default(),
            Some(c) => serde_json::from_value::<ToneRules>(c.clone())
                .map_err(|e| Invalid::new(format!("settings.compose: {e}")))?
                .validated()?,
        };
        let targets = match obj.get("targets") {
            None => Targets::default(),
            Some(t) => serde_json::from_value::<Targets>(t.clone())
                .map_err(|e| Invalid::new(format!("settings.targets: {e}")))?
                .validated()?,
        };
        Ok(AccountSettings { compose, targets })
    }
}

/// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

impl Services {
    /// The one place the account's settings are read.
    pub async fn account_settings(&self, account_id: i64) -> Result<AccountSettings, StoreError> {
        Ok(AccountSettings::from_stored(&self.store.account_settings(account_id).await?))
    }

    /// The tone rules the composer applies for this account.
    pub async fn tone_rules(&self, account_id: i64) -> Result<ToneRules, StoreError> {
        Ok(self.account_settings(account_id).await?.compose)
    }

    /// Applies a merge patch to the stored settings (callers check the admin
    /// role); stores them with defaults written out, so what is stored is what applies.
    pub async fn patch_account_settings(
        &self,
        account_id: i64,
        patch: &Value,
    ) -> Result<AccountSettings, SettingsError> {
        if !patch.is_object() {
            return Err(Invalid::new("settings must be a JSON object").into());
        }
        let mut settings = self.store.account_settings(account_id).await?;
        merge_patch(&mut settings, patch);
        let parsed = AccountSettings::parse(&settings)?;
        let stored = json!({ "compose": parsed.compose, "targets": parsed.targets });
        self.store.set_account_settings(account_id, &stored).await?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_merges_objects_and_removes_nulls() {
        let mut v = json!({ "compose": { "checks": { "slang": true, "emoji": true }, "max_segments": 3 } });
        merge_patch(&mut v, &json!({ "compose": { "checks": { "slang": false }, "max_segments": null } }));
        assert_eq!(v, json!({ "compose": { "checks": { "slang": false, "emoji": true } } }));
    }

    #[test]
    fn settings_are_checked_section_by_section() {
        assert!(AccountSettings::parse(&json!({ "compose": { "max_segments": 4 } })).is_ok());
        assert!(AccountSettings::parse(&json!({ "tone": {} })).unwrap_err().0.contains("compose"));
        assert!(AccountSettings::parse(&json!({ "compose": { "checks": { "slangs": false } } })).is_err());
        let bad = json!({ "compose": { "max_segments": "three" } });
        assert_eq!(AccountSettings::from_stored(&bad).compose, ToneRules::default());
        let t = AccountSettings::parse(&json!({ "targets": { "first_response_minutes": 5 } })).unwrap();
        assert_eq!(t.targets.first_response_minutes, 5);
        assert!(AccountSettings::parse(&json!({ "targets": { "first_response_minutes": 0 } })).is_err());
        assert!(AccountSettings::parse(&json!({ "targets": { "first_response": 5 } })).is_err());
        assert_eq!(AccountSettings::from_stored(&json!({})).targets.first_response_minutes, 15);
    }
}
