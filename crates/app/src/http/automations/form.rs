//! The rule form on `/settings/automations`: a rule without JSON. Each kind of
//! condition and action has its own fields (a checkbox list, a select, a
//! comma-separated list of labels), so the form reads top to bottom as the
//! rule does. A rule written through the API that says more than the form can
//! hold (two attribute tests, actions in another order) is shown, not edited,
//! so saving the form never quietly changes what a rule does.

use textdesk_core::automation::{
    Action, AssigneeIs, AttributeTest, AutoEscalation, Condition, HoursAre, Once, Pattern, RuleSpec, TextMatch, Trigger,
};
use textdesk_core::escalation::EmailContent;
use textdesk_core::{ConsentState, ConversationStatus, Invalid, Medium, Priority};

/// What the form holds, field by field, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleForm {
    pub name: String,
    pub enabled: bool,
    /// `message_received`, `conversation_created`, …, `waited`, `scheduled`.
    pub trigger: String,
    pub wait_minutes: String,
    pub days: Vec<String>,
    pub at: String,
    pub inboxes: Vec<String>,
    pub channels: Vec<String>,
    /// Media (`sms`, `whatsapp`…) whichever provider carries them.
    pub media: Vec<String>,
    /// `any`, `keyword`, `contains` or `regex`.
    pub text_test: String,
    pub text: String,
    /// `any`, `open` or `closed`.
    pub hours: String,
    /// `any`, `yes` or `no`.
    pub first: String,
    pub consent: Vec<String>,
    pub status: Vec<String>,
    pub priority: Vec<String>,
    pub has_labels: String,
    pub lacks_labels: String,
    /// `any`, `nobody`, `anybody`, `user:ID` or `team:ID`.
    pub assignee: String,
    pub attr_key: String,
    /// `any`, `equals`, `not_equals`, `present` or `absent`.
    pub attr_test: String,
    pub attr_value: String,
    pub add_labels: String,
    pub set_priority: String,
    pub assign_team: String,
    pub assign_user: String,
    pub reply: String,
    pub snooze_minutes: String,
    pub resolve: bool,
    /// An outgoing webhook's id, or empty.
    pub call_webhook: String,
    /// A self-service flow's id, or empty.
    pub start_flow: String,
    pub send_survey: bool,
    /// Minutes after the resolve the poll goes (empty: at once).
    pub survey_minutes: String,
    /// Take the customer from the bot to a person (when a flow is answering).
    pub hand_off: bool,
    /// Empty, `lead` (the team's lead), `user:ID` (a supervisor) or `callback` (offer a call back).
    pub escalate: String,
    pub once: String,
}

impl RuleForm {
    /// A new rule's starting point: on, answering messages, every time.
    pub fn blank() -> RuleForm {
        RuleForm {
            enabled: true,
            trigger: "message_received".into(),
            text_test: "any".into(),
            hours: "any".into(),
            first: "any".into(),
            assignee: "any".into(),
            attr_test: "any".into(),
            once: "every_time".into(),
            ..RuleForm::default()
        }
    }

    /// The posted fields (a name repeats for each ticked box).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> RuleForm {
        let mut f = RuleForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "name" => f.name = v,
                "enabled" => f.enabled = true,
                "trigger" => f.trigger = v,
                "wait_minutes" => f.wait_minutes = v,
                "days" => f.days.push(v),
                "at" => f.at = v,
                "inbox" => f.inboxes.push(v),
                "channel" => f.channels.push(v),
                "medium" => f.media.push(v),
                "text_test" => f.text_test = v,
                "text" => f.text = v,
                "hours" => f.hours = v,
                "first" => f.first = v,
                "consent" => f.consent.push(v),
                "status" => f.status.push(v),
                "priority" => f.priority.push(v),
                "has_labels" => f.has_labels = v,
                "lacks_labels" => f.lacks_labels = v,
                "assignee" => f.assignee = v,
                "attr_key" => f.attr_key = v,
                "attr_test" => f.attr_test = v,
                "attr_value" => f.attr_value = v,
                "add_labels" => f.add_labels = v,
                "set_priority" => f.set_priority = v,
                "assign_team" => f.assign_team = v,
                "assign_user" => f.assign_user = v,
                "reply" => f.reply = v,
                "snooze_minutes" => f.snooze_minutes = v,
                "resolve" => f.resolve = true,
                "call_webhook" => f.call_webhook = v,
                "start_flow" => f.start_flow = v,
                "send_survey" => f.send_survey = true,
                "survey_minutes" => f.survey_minutes = v,
                "hand_off" => f.hand_off = true,
                "escalate" => f.escalate = v,
                "once" => f.once = v,
                _ => {}
            }
        }
        f
    }

    /// The rule the form describes; the error names the field in the admin's words.
    pub fn to_spec(&self) -> Result<RuleSpec, Invalid> {
        let trigger = match self.trigger.as_str() {
            "message_received" => Trigger::MessageReceived,
            "conversation_created" => Trigger::ConversationCreated,
            "conversation_resolved" => Trigger::ConversationResolved,
            "conversation_reopened" => Trigger::ConversationReopened,
            "waited" => Trigger::Waited { business_minutes: minutes(&self.wait_minutes, "the wait")? },
            "scheduled" => Trigger::Scheduled { days: self.days.clone(), at: self.at.trim().to_owned() },
            _ => return Err(Invalid::new("choose when the rule runs")),
        };
        let mut conditions = Vec::new();
        if !self.inboxes.is_empty() {
            let ids = self.inboxes.iter().map(|i| id(i, "inbox")).collect::<Result<_, _>>()?;
            conditions.push(Condition::Inbox { any_of: ids });
        }
        if !self.channels.is_empty() {
            conditions.push(Condition::Channel { any_of: self.channels.clone() });
        }
        if !self.media.is_empty() {
            let any_of = self.media.iter().map(|m| Medium::parse(m)).collect::<Result<_, _>>()?;
            conditions.push(Condition::Medium { any_of });
        }
        let text = self.text.trim();
        match self.text_test.as_str() {
            "keyword" => {
                let words: Vec<String> = list(text);
                if words.is_empty() {
                    return Err(Invalid::new("the message text: list the keywords, separated by commas"));
                }
                conditions.push(Condition::Text { matches: TextMatch::Keyword(words) });
            }
            "contains" => conditions.push(Condition::Text { matches: TextMatch::Contains(text.to_owned()) }),
            "regex" => conditions.push(Condition::Text { matches: TextMatch::Regex(Pattern::parse(text)?) }),
            _ => {}
        }
        match self.hours.as_str() {
            "open" => conditions.push(Condition::Hours { are: HoursAre::Open }),
            "closed" => conditions.push(Condition::Hours { are: HoursAre::Closed }),
            _ => {}
        }
        match self.first.as_str() {
            "yes" => conditions.push(Condition::FirstMessage { is: true }),
            "no" => conditions.push(Condition::FirstMessage { is: false }),
            _ => {}
        }
        if !self.consent.is_empty() {
            let any_of = self
                .consent
                .iter()
                .map(|c| ConsentState::parse(c).ok_or_else(|| Invalid::new("consent: choose from the list")))
                .collect::<Result<_, _>>()?;
            conditions.push(Condition::Consent { any_of });
        }
        if !self.status.is_empty() {
            let any_of = self.status.iter().map(|s| ConversationStatus::parse(s)).collect::<Result<_, _>>()?;
            conditions.push(Condition::Status { any_of });
        }
        if !self.priority.is_empty() {
            let any_of = self.priority.iter().map(|p| Priority::parse(p)).collect::<Result<_, _>>()?;
            conditions.push(Condition::Priority { any_of });
        }
        conditions.extend(list(&self.has_labels).into_iter().map(|label| Condition::HasLabel { label }));
        conditions.extend(list(&self.lacks_labels).into_iter().map(|label| Condition::LacksLabel { label }));
        let assignee = match self.assignee.as_str() {
            "" | "any" => None,
            "nobody" => Some(AssigneeIs::Nobody),
            "anybody" => Some(AssigneeIs::Anybody),
            other => match other.split_once(':') {
                Some(("user", n)) => Some(AssigneeIs::User { id: id(n, "person")? }),
                Some(("team", n)) => Some(AssigneeIs::Team { id: id(n, "team")? }),
                _ => return Err(Invalid::new("who it is assigned to: choose from the list")),
            },
        };
        if let Some(is) = assignee {
            conditions.push(Condition::Assignee { is });
        }
        let key = self.attr_key.trim();
        let value = self.attr_value.trim().to_owned();
        let test = match self.attr_test.as_str() {
            "equals" => Some(AttributeTest::Equals(value)),
            "not_equals" => Some(AttributeTest::NotEquals(value)),
            "present" => Some(AttributeTest::Present),
            "absent" => Some(AttributeTest::Absent),
            _ => None,
        };
        if let Some(is) = test {
            if key.is_empty() {
                return Err(Invalid::new("the contact detail: name the detail to test (for example plan)"));
            }
            conditions.push(Condition::Attribute { key: key.to_owned(), is });
        }

        let mut actions: Vec<Action> =
            list(&self.add_labels).into_iter().map(|label| Action::AddLabel { label }).collect();
        if !self.set_priority.is_empty() {
            actions.push(Action::SetPriority { priority: Priority::parse(&self.set_priority)? });
        }
        if !self.assign_team.is_empty() {
            actions.push(Action::AssignTeam { team_id: id(&self.assign_team, "team")? });
        }
        if !self.assign_user.is_empty() {
            actions.push(Action::Assign { user_id: id(&self.assign_user, "person")? });
        }
        // Before the reply: while the bot has the customer, only one voice answers.
        if self.hand_off {
            actions.push(Action::HandOff);
        }
        if !self.reply.trim().is_empty() {
            actions.push(Action::Reply { text: self.reply.trim().to_owned() });
        }
        if !self.snooze_minutes.trim().is_empty() {
            actions.push(Action::Snooze { minutes: minutes(&self.snooze_minutes, "the snooze")? });
        }
        if self.resolve {
            actions.push(Action::Resolve);
        }
        if !self.call_webhook.is_empty() {
            actions.push(Action::CallWebhook { webhook_id: id(&self.call_webhook, "webhook")? });
        }
        if !self.start_flow.is_empty() {
            actions.push(Action::StartFlow { flow_id: id(&self.start_flow, "flow")? });
        }
        if self.send_survey {
            let after_minutes = match self.survey_minutes.trim() {
                "" => 0,
                m => minutes(m, "the poll's delay")?,
            };
            actions.push(Action::SendSurvey { after_minutes });
        }
        match self.escalate.split_once(':') {
            _ if self.escalate.is_empty() => {}
            None if self.escalate == "lead" => {
                actions.push(Action::Escalate { to: AutoEscalation::Supervisor, supervisor_id: None, send: None });
            }
            None if self.escalate == "callback" => {
                actions.push(Action::Escalate { to: AutoEscalation::CallbackOffer, supervisor_id: None, send: None });
            }
            Some(("email", what)) => actions.push(Action::Escalate {
                to: AutoEscalation::Email,
                supervisor_id: None,
                send: Some(EmailContent::parse(Some(what))?),
            }),
            Some(("user", n)) => actions.push(Action::Escalate {
                to: AutoEscalation::Supervisor,
                supervisor_id: Some(id(n, "supervisor")?),
                send: None,
            }),
            _ => {
                return Err(Invalid::new(
                    "escalate: choose a supervisor, the team's lead, a call back offer or an email to the customer",
                ));
            }
        }
        let once = match self.once.as_str() {
            "per_closed_period" => Once::PerClosedPeriod,
            "per_wait" => Once::PerWait,
            "per_conversation" => Once::PerConversation,
            _ => Once::EveryTime,
        };
        Ok(RuleSpec {
            name: self.name.trim().to_owned(),
            enabled: self.enabled,
            trigger,
            conditions,
            actions,
            once,
            builtin: None,
        })
    }

    /// The form for a stored rule, or None when the rule says more than the
    /// form can hold (it was written through the API).
    pub fn from_spec(spec: &RuleSpec) -> Option<RuleForm> {
        let mut f = RuleForm::blank();
        f.name = spec.name.clone();
        f.enabled = spec.enabled;
        match &spec.trigger {
            Trigger::MessageReceived => f.trigger = "message_received".into(),
            Trigger::ConversationCreated => f.trigger = "conversation_created".into(),
            Trigger::ConversationResolved => f.trigger = "conversation_resolved".into(),
            Trigger::ConversationReopened => f.trigger = "conversation_reopened".into(),
            Trigger::Waited { business_minutes } => {
                f.trigger = "waited".into();
                f.wait_minutes = business_minutes.to_string();
            }
            Trigger::Scheduled { days, at } => {
                f.trigger = "scheduled".into();
                f.days = days.clone();
                f.at = at.clone();
            }
        }
        let (mut has, mut lacks) = (Vec::new(), Vec::new());
        for c in &spec.conditions {
            // A second condition of a kind the form shows once does not fit.
            let once = |taken: bool| (!taken).then_some(());
            match c {
                Condition::Inbox { any_of } => {
                    once(!f.inboxes.is_empty())?;
                    f.inboxes = any_of.iter().map(i64::to_string).collect();
                }
                Condition::Channel { any_of } => {
                    once(!f.channels.is_empty())?;
                    f.channels = any_of.clone();
                }
                Condition::Medium { any_of } => {
                    once(!f.media.is_empty())?;
                    f.media = any_of.iter().map(|m| m.as_str().to_owned()).collect();
                }
                Condition::Text { matches } => {
                    once(f.text_test != "any")?;
                    (f.text_test, f.text) = match matches {
                        TextMatch::Keyword(w) => ("keyword".into(), w.join(", ")),
                        TextMatch::Contains(t) => ("contains".into(), t.clone()),
                        TextMatch::Regex(p) => ("regex".into(), p.as_str().to_owned()),
                    };
                }
                Condition::Hours { are } => {
                    once(f.hours != "any")?;
                    f.hours = if *are == HoursAre::Open { "open" } else { "closed" }.into();
                }
                Condition::FirstMessage { is } => {
                    once(f.first != "any")?;
                    f.first = if *is { "yes" } else { "no" }.into();
                }
                Condition::Consent { any_of } => {
                    once(!f.consent.is_empty())?;
                    f.consent = any_of.iter().map(|c| c.as_str().to_owned()).collect();
                }
                Condition::Status { any_of } => {
                    once(!f.status.is_empty())?;
                    f.status = any_of.iter().map(|s| s.as_str().to_owned()).collect();
                }
                Condition::Priority { any_of } => {
                    once(!f.priority.is_empty())?;
                    f.priority = any_of.iter().map(|p| p.as_str().to_owned()).collect();
                }
                Condition::HasLabel { label } => has.push(label.clone()),
                Condition::LacksLabel { label } => lacks.push(label.clone()),
                Condition::Assignee { is } => {
                    once(f.assignee != "any")?;
                    f.assignee = match is {
                        AssigneeIs::Nobody => "nobody".into(),
                        AssigneeIs::Anybody => "anybody".into(),
                        AssigneeIs::User { id } => format!("user:{id}"),
                        AssigneeIs::Team { id } => format!("team:{id}"),
                    };
                }
                Condition::Attribute { key, is } => {
                    once(f.attr_test != "any")?;
                    f.attr_key = key.clone();
                    (f.attr_test, f.attr_value) = match is {
                        AttributeTest::Equals(v) => ("equals".into(), v.clone()),
                        AttributeTest::NotEquals(v) => ("not_equals".into(), v.clone()),
                        AttributeTest::Present => ("present".into(), String::new()),
                        AttributeTest::Absent => ("absent".into(), String::new()),
                    };
                }
            }
        }
        f.has_labels = has.join(", ");
        f.lacks_labels = lacks.join(", ");
        let mut labels = Vec::new();
        for a in &spec.actions {
            match a {
                Action::AddLabel { label } => labels.push(label.clone()),
                Action::SetPriority { priority } => f.set_priority = priority.as_str().into(),
                Action::AssignTeam { team_id } => f.assign_team = team_id.to_string(),
                Action::Assign { user_id } => f.assign_user = user_id.to_string(),
                Action::Reply { text } => f.reply = text.clone(),
                Action::Snooze { minutes } => f.snooze_minutes = minutes.to_string(),
                Action::Resolve => f.resolve = true,
                Action::CallWebhook { webhook_id } => f.call_webhook = webhook_id.to_string(),
                Action::StartFlow { flow_id } => f.start_flow = flow_id.to_string(),
                Action::SendSurvey { after_minutes } => {
                    f.send_survey = true;
                    f.survey_minutes = if *after_minutes == 0 { String::new() } else { after_minutes.to_string() };
                }
                Action::HandOff => f.hand_off = true,
                Action::Escalate { to: AutoEscalation::CallbackOffer, .. } => f.escalate = "callback".into(),
                Action::Escalate { to: AutoEscalation::Email, send, .. } => {
                    f.escalate = format!("email:{}", send.unwrap_or(EmailContent::Request).as_str());
                }
                Action::Escalate { supervisor_id: Some(id), .. } => f.escalate = format!("user:{id}"),
                Action::Escalate { supervisor_id: None, .. } => f.escalate = "lead".into(),
            }
        }
        f.add_labels = labels.join(", ");
        f.once = match spec.once {
            Once::EveryTime => "every_time",
            Once::PerClosedPeriod => "per_closed_period",
            Once::PerWait => "per_wait",
            Once::PerConversation => "per_conversation",
        }
        .into();
        // What the form would save must be the rule itself: the same actions in
        // the same order, no condition lost.
        let again = f.to_spec().ok()?;
        (again.conditions.len() == spec.conditions.len() && again.actions == spec.actions).then_some(f)
    }

    pub fn ticked(list: &[String], value: &str) -> bool {
        list.iter().any(|v| v == value)
    }
}

/// "vip, billing ,," → ["vip", "billing"].
fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn id(text: &str, what: &str) -> Result<i64, Invalid> {
    text.trim().parse().map_err(|_| Invalid::new(format!("choose the {what} from the list")))
}

fn minutes(text: &str, what: &str) -> Result<u32, Invalid> {
    text.trim().parse().map_err(|_| Invalid::new(format!("{what}: write a number of minutes, like 15")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use textdesk_core::automation::Rule;

    fn spec(v: serde_json::Value) -> RuleSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_rule_goes_to_the_form_and_back_unchanged() {
        let s = spec(serde_json::json!({
            "name": "VIP invoices",
            "trigger": { "on": "message_received" },
            "conditions": [
                { "if": "inbox", "any_of": [2, 5] },
                { "if": "channel", "any_of": ["twilio"] },
                { "if": "text", "matches": { "keyword": ["invoice", "bill"] } },
                { "if": "hours", "are": "open" },
                { "if": "first_message", "is": true },
                { "if": "consent", "any_of": ["opted_in"] },
                { "if": "status", "any_of": ["open", "pending"] },
                { "if": "priority", "any_of": ["high"] },
                { "if": "has_label", "label": "vip" },
                { "if": "lacks_label", "label": "spam" },
                { "if": "assignee", "is": { "who": "team", "id": 4 } },
                { "if": "attribute", "key": "plan", "is": { "equals": "gold" } }
            ],
            "actions": [
                { "do": "add_label", "label": "billing" },
                { "do": "set_priority", "priority": "urgent" },
                { "do": "assign_team", "team_id": 4 },
                { "do": "assign", "user_id": 3 },
                { "do": "hand_off" },
                { "do": "reply", "text": "On it, {contact.first_name|there}." },
                { "do": "snooze", "minutes": 30 }
            ],
            "once": "per_conversation"
        }));
        let form = RuleForm::from_spec(&s).expect("fits the form");
        assert_eq!(form.text, "invoice, bill");
        assert_eq!(form.assignee, "team:4");
        assert!(form.hand_off, "the way from the bot to a person is a box on the form");
        assert_eq!(form.to_spec().unwrap(), s);
        Rule::parse(form.to_spec().unwrap()).unwrap();
    }

    #[test]
    fn a_rule_that_says_more_than_the_form_is_not_edited_there() {
        let two_tests = spec(serde_json::json!({
            "name": "Two details",
            "trigger": { "on": "message_received" },
            "conditions": [
                { "if": "attribute", "key": "plan", "is": "present" },
                { "if": "attribute", "key": "city", "is": "absent" }
            ],
            "actions": [{ "do": "resolve" }]
        }));
        assert!(RuleForm::from_spec(&two_tests).is_none());
        let reply_first = spec(serde_json::json!({
            "name": "Reply then label",
            "trigger": { "on": "message_received" },
            "actions": [{ "do": "reply", "text": "Hi" }, { "do": "add_label", "label": "greeted" }]
        }));
        assert!(RuleForm::from_spec(&reply_first).is_none());
    }

    #[test]
    fn the_posted_fields_make_the_rule_and_mistakes_name_the_field() {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let f = RuleForm::from_pairs(pairs(&[
            ("name", "Weekly tidy"),
            ("enabled", "on"),
            ("trigger", "scheduled"),
            ("days", "mon"),
            ("days", "thu"),
            ("at", "07:30"),
            ("status", "pending"),
            ("text_test", "any"),
            ("resolve", "on"),
        ]));
        let s = f.to_spec().unwrap();
        assert_eq!(s.trigger, Trigger::Scheduled { days: vec!["mon".into(), "thu".into()], at: "07:30".into() });
        assert_eq!(s.conditions, vec![Condition::Status { any_of: vec![ConversationStatus::Pending] }]);
        assert_eq!(s.actions, vec![Action::Resolve]);
        assert!(s.enabled);
        let bad = RuleForm::from_pairs(pairs(&[("name", "x"), ("trigger", "waited"), ("wait_minutes", "soon")]));
        assert_eq!(bad.to_spec().unwrap_err().0, "the wait: write a number of minutes, like 15");
        let no_key =
            RuleForm::from_pairs(pairs(&[("name", "x"), ("trigger", "message_received"), ("attr_test", "present")]));
        assert!(no_key.to_spec().unwrap_err().0.starts_with("the contact detail"));
    }

    #[test]
    fn a_medium_and_a_poll_go_to_the_form_and_back() {
        let s = spec(serde_json::json!({
            "name": "Ask WhatsApp VIPs",
            "trigger": { "on": "conversation_resolved" },
            "conditions": [{ "if": "medium", "any_of": ["whatsapp", "sms"] }, { "if": "has_label", "label": "vip" }],
            "actions": [{ "do": "send_survey", "after_minutes": 60 }]
        }));
        let form = RuleForm::from_spec(&s).expect("fits the form");
        assert_eq!(form.media, vec!["whatsapp".to_owned(), "sms".to_owned()]);
        assert!(form.send_survey);
        assert_eq!(form.survey_minutes, "60");
        assert_eq!(form.to_spec().unwrap(), s);
        Rule::parse(form.to_spec().unwrap()).unwrap();

        let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let posted = RuleForm::from_pairs(pairs(&[
            ("name", "Ask"),
            ("trigger", "conversation_resolved"),
            ("medium", "whatsapp"),
            ("send_survey", "on"),
            ("survey_minutes", ""),
        ]));
        let s = posted.to_spec().unwrap();
        assert_eq!(s.conditions, vec![Condition::Medium { any_of: vec![Medium::Whatsapp] }]);
        assert_eq!(s.actions, vec![Action::SendSurvey { after_minutes: 0 }], "no minutes: at once");
        let fax = RuleForm::from_pairs(pairs(&[("name", "x"), ("trigger", "message_received"), ("medium", "fax")]));
        assert!(fax.to_spec().unwrap_err().0.contains("fax"));
    }
}
