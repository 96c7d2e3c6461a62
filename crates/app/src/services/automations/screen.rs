//! What the automations settings screen shows besides the rules themselves:
//! the account's names for the ids in them, the choices the rule form offers,
//! and the consent keywords as the fixed rules they are (answered inside
//! ingest, with the message, as the law wants; changed on the inbox).

use std::collections::HashMap;

use textdesk_core::automation::{Names, RuleWords};
use textdesk_core::consent::Keywords;
use textdesk_store::{StoredRule, User};

use crate::services::Services;
use crate::services::consent::ConsentSettings;
use crate::services::error::ServiceResult;

/// The account's inboxes, people, teams and labels, and the channel kinds this
/// build has: the form's choices and the names a rule's words use.
#[derive(Debug, Clone, Default)]
pub struct RuleBook {
    pub inboxes: Vec<(i64, String)>,
    pub users: Vec<(i64, String)>,
    pub teams: Vec<(i64, String)>,
    pub labels: Vec<String>,
    /// The account's outgoing webhooks: (id, description or address).
    pub webhooks: Vec<(i64, String)>,
    /// (kind, label): `("twilio", "Twilio")`.
    pub channels: Vec<(&'static str, &'static str)>,
    /// The account's self-service flows: (id, name).
    pub flows: Vec<(i64, String)>,
}

impl Names for RuleBook {
    fn inbox(&self, id: i64) -> Option<String> {
        find(&self.inboxes, id)
    }
    fn user(&self, id: i64) -> Option<String> {
        find(&self.users, id)
    }
    fn team(&self, id: i64) -> Option<String> {
        find(&self.teams, id)
    }
    fn channel(&self, kind: &str) -> Option<String> {
        self.channels.iter().find(|(k, _)| *k == kind).map(|(_, l)| (*l).to_owned())
    }
    fn webhook(&self, id: i64) -> Option<String> {
        find(&self.webhooks, id)
    }
    fn flow(&self, id: i64) -> Option<String> {
        find(&self.flows, id)
    }
}

fn find(list: &[(i64, String)], id: i64) -> Option<String> {
    list.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone())
}

/// One fixed consent rule of one inbox, in words.
#[derive(Debug, Clone)]
pub struct FixedRule {
    /// "STOP, STOPALL, UNSUBSCRIBE…"
    pub words: Vec<String>,
    /// "The customer is opted out of every message from the business"
    pub does: &'static str,
    /// The reply they get.
    pub reply: String,
}

/// An inbox's fixed consent rules.
#[derive(Debug, Clone)]
pub struct FixedRules {
    pub inbox_id: i64,
    pub inbox: String,
    pub rules: Vec<FixedRule>,
}

/// A rule as the screen lists it.
#[derive(Debug, Clone)]
pub struct RuleRow {
    pub stored: StoredRule,
    pub words: RuleWords,
    /// For a built-in rule, the inbox it came with.
    pub came_with: Option<String>,
}

impl Services {
    pub async fn rule_book(&self, account_id: i64) -> ServiceResult<RuleBook> {
        let s = &self.store;
        Ok(RuleBook {
            inboxes: s.inboxes(account_id).await?.into_iter().map(|i| (i.id, i.name)).collect(),
            users: s.users(account_id).await?.into_iter().filter(|u| u.active).map(|u| (u.id, u.name)).collect(),
            teams: s.teams(account_id).await?.into_iter().map(|t| (t.id, t.name)).collect(),
            labels: s.labels(account_id).await?.into_iter().map(|l| l.name).collect(),
            webhooks: s
                .webhooks(account_id)
                .await?
                .into_iter()
                .map(|w| (w.id, if w.description.trim().is_empty() { w.url } else { w.description }))
                .collect(),
            channels: textdesk_channels::registry::all().iter().map(|p| (p.key(), p.label())).collect(),
            flows: s.flows(account_id).await?.into_iter().map(|f| (f.id, f.flow.name().to_owned())).collect(),
        })
    }

    /// Every rule in the order they run, each in words.
    pub async fn rule_rows(&self, user: &User, book: &RuleBook) -> ServiceResult<Vec<RuleRow>> {
        let rules = self.automation_rules(user).await?;
        let by_id: HashMap<i64, &str> = book.inboxes.iter().map(|(id, n)| (*id, n.as_str())).collect();
        Ok(rules
            .into_iter()
            .map(|r| RuleRow {
                words: r.rule.words(book),
                came_with: r.inbox_id.and_then(|id| by_id.get(&id).map(|n| (*n).to_owned())),
                stored: r,
            })
            .collect())
    }

    /// The consent keywords of each inbox, as fixed rules.
    pub async fn fixed_consent_rules(&self, account_id: i64) -> ServiceResult<Vec<FixedRules>> {
        let mut out = Vec::new();
        let business = self.business_name_of(account_id).await?;
        for inbox in self.store.inboxes(account_id).await? {
            let settings = ConsentSettings::of(&inbox);
            let policy = settings.policy(&business)?;
            let Keywords { opt_out, opt_in, join, help } = policy.keywords;
            let join_does = if policy.double_opt_in {
                "The customer is asked to confirm with YES; the YES opts them in"
            } else {
                "The customer is opted in to messages from the business"
            };
            let join_reply =
                if policy.double_opt_in { policy.confirm_request.as_str() } else { policy.join_reply.as_str() };
            out.push(FixedRules {
                inbox_id: inbox.id,
                inbox: inbox.name,
                rules: vec![
                    FixedRule {
                        words: opt_out,
                        does: "The customer is opted out of every message from the business, recorded with their text",
                        reply: policy.opt_out_reply.as_str().to_owned(),
                    },
                    FixedRule {
                        words: opt_in,
                        does: "The customer who had opted out is opted back in (YES counts only after an opt-out)",
                        reply: policy.opt_in_reply.as_str().to_owned(),
                    },
                    FixedRule { words: join, does: join_does, reply: join_reply.to_owned() },
                    FixedRule {
                        words: help,
                        does: "The customer gets the help text; nothing else changes",
                        reply: policy.help_reply.as_str().to_owned(),
                    },
                ],
            });
        }
        Ok(out)
    }
}
