//! Automation rules as admins keep them, and the built-in rules every inbox
//! starts with (the off-hours reply and the holding message). The engine that
//! runs them is [`engine`].

mod ahead;
mod bot;
mod callback;
pub mod engine;
mod mail;
pub mod screen;

use textdesk_core::Invalid;
use textdesk_core::automation::{Builtin, Rule, RuleSpec};
use textdesk_store::{Inbox, StoredRule, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::hours::{Acknowledge, DEFAULT_ACKNOWLEDGE, DEFAULT_OFF_HOURS, OffHoursReply};

/// The holding message's wait when an inbox never set one (it starts off).
pub const DEFAULT_HOLDING_MINUTES: u32 = 15;

/// The two inbox settings that became built-in rules; still accepted on the
/// inbox (API and settings page) and written to the rules.
pub const BUILTIN_KEYS: [&str; 2] = ["off_hours_reply", "acknowledge"];

impl Services {
    /// Every inbox of the account has its two built-in rules, made from its
    /// old settings on first start after the upgrade (the settings keys are
    /// then dropped: the rules are the one place they live).
    pub async fn ensure_builtin_rules(&self, account_id: i64) -> ServiceResult<()> {
        for inbox in self.store.inboxes(account_id).await? {
            self.ensure_inbox_builtins(&inbox).await?;
        }
        Ok(())
    }

    pub(crate) async fn ensure_inbox_builtins(&self, inbox: &Inbox) -> ServiceResult<()> {
        let part = |key: &str| inbox.settings.get(key).filter(|v| !v.is_null()).cloned();
        let off: OffHoursReply =
            part("off_hours_reply").and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        let ack: Acknowledge = part("acknowledge").and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default();
        let s = &self.store;
        // Read first: this runs on every housekeeping pass, and writes only once.
        if s.builtin_rule(inbox.id, Builtin::OffHoursReply).await?.is_none() {
            let rule = off_hours_rule(inbox.id, &off)?;
            s.ensure_builtin_rule(inbox.account_id, inbox.id, &rule, Some("off_hours_replied_for")).await?;
        }
        if s.builtin_rule(inbox.id, Builtin::HoldingMessage).await?.is_none() {
            let rule = holding_rule(inbox.id, &ack)?;
            s.ensure_builtin_rule(inbox.account_id, inbox.id, &rule, Some("acknowledged_wait")).await?;
        }
        if BUILTIN_KEYS.iter().any(|k| inbox.settings.get(*k).is_some()) {
            let mut settings = inbox.settings.as_object().cloned().unwrap_or_default();
            for k in BUILTIN_KEYS {
                settings.remove(k);
            }
            let settings = serde_json::Value::Object(settings);
            s.update_inbox(inbox.account_id, inbox.id, None, Some(&settings)).await?;
        }
        Ok(())
    }

    /// The inbox's built-in replies as the inbox settings used to say them
    /// (the settings page's "Automatic replies" section shows these).
    pub async fn builtin_replies(&self, inbox: &Inbox) -> ServiceResult<(OffHoursReply, Acknowledge, bool)> {
        self.ensure_inbox_builtins(inbox).await?;
        let off = self.store.builtin_rule(inbox.id, Builtin::OffHoursReply).await?;
        let hold = self.store.builtin_rule(inbox.id, Builtin::HoldingMessage).await?;
        let reply_text = |r: &StoredRule| {
            r.rule.actions().iter().find_map(|a| match a {
                textdesk_core::automation::Action::Reply { text } => Some(text.clone()),
                _ => None,
            })
        };
        let off = match off {
            Some(r) => {
                OffHoursReply { enabled: r.rule.enabled(), text: reply_text(&r).filter(|t| t != DEFAULT_OFF_HOURS) }
            }
            None => OffHoursReply::default(),
        };
        let (ack, hold_on) = match hold {
            Some(r) => {
                let minutes = match r.rule.trigger() {
                    textdesk_core::automation::Trigger::Waited { business_minutes } => Some(*business_minutes),
                    _ => None,
                };
                let text = reply_text(&r).filter(|t| t != DEFAULT_ACKNOWLEDGE);
                (Acknowledge { after_minutes: minutes.filter(|_| r.rule.enabled()), text }, r.rule.enabled())
            }
            None => (Acknowledge::default(), false),
        };
        Ok((off, ack, hold_on))
    }

    /// Writes the old inbox-settings form of a built-in rule (`off_hours_reply`
    /// or `acknowledge`, as the inbox API and settings page send it) to the rule.
    pub(crate) async fn save_builtin_setting(
        &self,
        inbox: &Inbox,
        key: &str,
        value: &serde_json::Value,
    ) -> ServiceResult<()> {
        self.ensure_inbox_builtins(inbox).await?;
        let bad = |e: serde_json::Error| ServiceError::Invalid(format!("{key}: {e}"));
        let (builtin, rule) = match key {
            "off_hours_reply" => {
                let off: OffHoursReply = if value.is_null() {
                    OffHoursReply::default()
                } else {
                    serde_json::from_value(value.clone()).map_err(bad)?
                };
                (Builtin::OffHoursReply, off_hours_rule(inbox.id, &off)?)
            }
            "acknowledge" => {
                let ack: Acknowledge = if value.is_null() {
                    Acknowledge::default()
                } else {
                    serde_json::from_value(value.clone()).map_err(bad)?
                };
                (Builtin::HoldingMessage, holding_rule(inbox.id, &ack)?)
            }
            _ => return Err(ServiceError::Invalid(format!("{key} is not a built-in rule"))),
        };
        let current =
            self.store.builtin_rule(inbox.id, builtin).await?.ok_or(ServiceError::NotFound("built-in rule"))?;
        // A holding message switched off keeps the wait it had, for when it is switched back on.
        let rule = match (builtin, value.get("after_minutes")) {
            (Builtin::HoldingMessage, None) => {
                let mut spec = RuleSpec::from(rule);
                spec.trigger = current.rule.trigger().clone();
                Rule::parse(spec)?
            }
            _ => rule,
        };
        self.store.update_automation_rule(inbox.account_id, current.id, &rule).await?;
        Ok(())
    }

    pub async fn automation_rules(&self, user: &User) -> ServiceResult<Vec<StoredRule>> {
        self.ensure_builtin_rules(user.account_id).await?;
        Ok(self.store.automation_rules(user.account_id).await?)
    }

    pub async fn automation_rule(&self, user: &User, id: i64) -> ServiceResult<StoredRule> {
        Ok(self.store.automation_rule(user.account_id, id).await?)
    }

    /// A new rule from an admin (checked, and its users, teams, labels and
    /// inboxes must exist in the account).
    pub async fn create_automation_rule(&self, admin: &User, spec: serde_json::Value) -> ServiceResult<StoredRule> {
        let rule = Rule::parse(read_spec(spec)?)?;
        check_channels(&rule)?;
        self.store.check_rule_references(admin.account_id, &rule).await?;
        Ok(self.store.create_automation_rule(admin.account_id, &rule).await?)
    }

    /// Replaces a rule. A built-in rule keeps its inbox: its conditions stay
    /// tied to that inbox whatever is sent.
    pub async fn update_automation_rule(
        &self,
        admin: &User,
        id: i64,
        spec: serde_json::Value,
    ) -> ServiceResult<StoredRule> {
        let spec = read_spec(spec)?;
        let current = self.store.automation_rule(admin.account_id, id).await?;
        let spec = match (current.rule.builtin(), current.inbox_id) {
            (Some(b), Some(inbox)) => pin_to_inbox(RuleSpec { builtin: Some(b), ..spec }, inbox),
            _ => spec,
        };
        let rule = Rule::parse(spec)?;
        check_channels(&rule)?;
        self.store.check_rule_references(admin.account_id, &rule).await?;
        Ok(self.store.update_automation_rule(admin.account_id, id, &rule).await?)
    }

    pub async fn set_automation_enabled(&self, admin: &User, id: i64, enabled: bool) -> ServiceResult<StoredRule> {
        let current = self.store.automation_rule(admin.account_id, id).await?;
        let spec = RuleSpec { enabled, ..RuleSpec::from(current.rule) };
        Ok(self.store.update_automation_rule(admin.account_id, id, &Rule::parse(spec)?).await?)
    }

    pub async fn move_automation_rule(&self, admin: &User, id: i64, position: usize) -> ServiceResult<()> {
        Ok(self.store.move_automation_rule(admin.account_id, id, position).await?)
    }

    pub async fn delete_automation_rule(&self, admin: &User, id: i64) -> ServiceResult<()> {
        self.store.delete_automation_rule(admin.account_id, id).await?;
        self.audit(admin, "automation.deleted", &format!("rule:{id}"), None, "").await
    }
}

/// A rule as an admin sent it: a shape serde refuses (an unknown trigger, a
/// pattern that does not compile) is a value that is not valid, said in words.
fn read_spec(value: serde_json::Value) -> Result<RuleSpec, Invalid> {
    serde_json::from_value(value).map_err(|e| Invalid::new(format!("the rule: {e}")))
}

/// A channel condition names kinds this build has (`twilio`, `smpp`…).
fn check_channels(rule: &Rule) -> Result<(), Invalid> {
    use textdesk_core::automation::Condition;
    for c in rule.conditions() {
        if let Condition::Channel { any_of } = c
            && let Some(k) = any_of.iter().find(|k| textdesk_channels::registry::find(k).is_none())
        {
            return Err(Invalid::new(format!(
                "{k:?} is not a channel of this version: one of {}",
                textdesk_channels::registry::keys().join(", ")
            )));
        }
    }
    Ok(())
}

/// A built-in rule always names its own inbox first among its conditions.
fn pin_to_inbox(mut spec: RuleSpec, inbox_id: i64) -> RuleSpec {
    use textdesk_core::automation::Condition;
    spec.conditions.retain(|c| !matches!(c, Condition::Inbox { .. }));
    spec.conditions.insert(0, Condition::Inbox { any_of: vec![inbox_id] });
    spec
}

fn off_hours_rule(inbox_id: i64, off: &OffHoursReply) -> Result<Rule, Invalid> {
    let text = off.text.as_deref().unwrap_or(DEFAULT_OFF_HOURS);
    let rule =
        Rule::off_hours_reply(text, off.enabled).map_err(|e| Invalid::new(format!("off_hours_reply: {}", e.0)))?;
    Rule::parse(pin_to_inbox(rule.into(), inbox_id))
}

fn holding_rule(inbox_id: i64, ack: &Acknowledge) -> Result<Rule, Invalid> {
    let text = ack.text.as_deref().unwrap_or(DEFAULT_ACKNOWLEDGE);
    let minutes = ack.after_minutes.unwrap_or(DEFAULT_HOLDING_MINUTES);
    let rule = Rule::holding_message(minutes, text, ack.after_minutes.is_some())
        .map_err(|e| Invalid::new(format!("acknowledge: {}", e.0)))?;
    Rule::parse(pin_to_inbox(rule.into(), inbox_id))
}
