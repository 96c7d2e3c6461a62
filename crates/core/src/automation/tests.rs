use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::json;

use super::*;

fn facts<'a>(attrs: &'a BTreeMap<String, String>, labels: &'a [String], text: Option<&'a str>) -> Facts<'a> {
    Facts {
        inbox_id: 7,
        channel: "twilio",
        medium: Medium::Sms,
        text,
        open_now: false,
        attributes: attrs,
        consent: ConsentState::Unknown,
        status: ConversationStatus::Open,
        priority: Priority::None,
        labels,
        assignee_id: None,
        team_id: None,
        first_message: true,
        now: Timestamp::from_second(1_800_000_000).unwrap(),
    }
}

fn rule(v: serde_json::Value) -> Result<Rule, String> {
    let spec: RuleSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
    Rule::parse(spec).map_err(|e| e.0)
}

#[test]
fn a_rule_reads_from_json_and_writes_back_the_same() {
    let r = rule(json!({
        "name": "Invoices",
        "trigger": { "on": "message_received" },
        "conditions": [
            { "if": "text", "matches": { "regex": "invoice\\s*#?\\d+" } },
            { "if": "hours", "are": "open" },
            { "if": "attribute", "key": "plan", "is": { "equals": "gold" } },
            { "if": "assignee", "is": { "who": "nobody" } }
        ],
        "actions": [ { "do": "add_label", "label": "billing" }, { "do": "set_priority", "priority": "high" } ]
    }))
    .unwrap();
    assert!(r.enabled(), "a new rule is on unless said otherwise");
    assert!(!r.sends());
    let back: Rule = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
}

#[test]
fn mistakes_are_named_for_the_admin() {
    let base = |conditions: serde_json::Value, actions: serde_json::Value| {
        rule(
            json!({ "name": "R", "trigger": { "on": "message_received" }, "conditions": conditions, "actions": actions }),
        )
    };
    let reply = json!([{ "do": "reply", "text": "Hi" }]);
    assert_eq!(base(json!([]), json!([])).unwrap_err(), "a rule does at least one thing: add an action");
    let e = base(json!([{ "if": "text", "matches": { "regex": "(unclosed" } }]), reply.clone()).unwrap_err();
    assert!(e.contains("not a regular expression"), "{e}");
    let e = base(json!([{ "if": "text", "matches": { "keyword": ["  !! "] } }]), reply.clone()).unwrap_err();
    assert!(e.contains("condition 1") && e.contains("not a keyword"), "{e}");
    let e = base(json!([]), json!([{ "do": "reply", "text": "Hi {contact.first_name" }])).unwrap_err();
    assert!(e.starts_with("action 1"), "{e}");
    let e = base(json!([{ "if": "inbox", "any_of": [] }]), reply.clone()).unwrap_err();
    assert_eq!(e, "condition 1: choose at least one inbox");
    let e = base(json!([]), json!([{ "do": "snooze", "minutes": 0 }])).unwrap_err();
    assert!(e.contains("between 1 minute and 30 days"), "{e}");
    let waited = rule(json!({
        "name": "Waits", "trigger": { "on": "waited", "business_minutes": 15 },
        "conditions": [{ "if": "text", "matches": { "contains": "x" } }], "actions": reply
    }))
    .unwrap_err();
    assert!(waited.contains("needs the \"message received\" trigger"), "{waited}");
    let unknown = base(json!([{ "if": "moon_phase", "is": "full" }]), json!([{ "do": "resolve" }])).unwrap_err();
    assert!(unknown.contains("moon_phase"), "{unknown}");
}

#[test]
fn conditions_decide_against_the_moment() {
    let r = rule(json!({
        "name": "Billing words",
        "trigger": { "on": "message_received" },
        "conditions": [
            { "if": "text", "matches": { "contains": "Invoice" } },
            { "if": "lacks_label", "label": "Billing" }
        ],
        "actions": [{ "do": "add_label", "label": "billing" }]
    }))
    .unwrap();
    let attrs = BTreeMap::new();
    let none: Vec<String> = vec![];
    let labelled = vec!["billing".to_owned()];
    let f = facts(&attrs, &none, Some("where is my INVOICE?"));
    assert!(matches!(r.decide(Moment::MessageReceived, &f), Decision::Fire(a) if a.len() == 1));
    assert_eq!(r.decide(Moment::ConversationCreated, &f), Decision::Skip(Skip::OtherTrigger));
    let f = facts(&attrs, &labelled, Some("invoice again"));
    assert_eq!(r.decide(Moment::MessageReceived, &f), Decision::Skip(Skip::Condition(1)), "labels match in any case");
    let f = facts(&attrs, &none, Some("hello"));
    assert_eq!(r.decide(Moment::MessageReceived, &f), Decision::Skip(Skip::Condition(0)));
}

#[test]
fn keywords_match_whole_messages_only() {
    let t = TextMatch::Keyword(vec!["agent".into(), "talk to a person".into()]);
    assert!(t.matches("Agent!"));
    assert!(t.matches("  talk   to a PERSON. "));
    assert!(!t.matches("is an agent free?"));
    assert!(!t.matches(""));
}

#[test]
fn attribute_tests() {
    let mut attrs = BTreeMap::new();
    attrs.insert("plan".to_owned(), "Gold".to_owned());
    let none: Vec<String> = vec![];
    let f = facts(&attrs, &none, None);
    let holds = |test: AttributeTest, key: &str| Condition::Attribute { key: key.into(), is: test }.holds(&f);
    assert!(holds(AttributeTest::Equals("gold".into()), "plan"));
    assert!(!holds(AttributeTest::NotEquals("gold".into()), "plan"));
    assert!(holds(AttributeTest::NotEquals("gold".into()), "tier"), "an unset attribute is not gold");
    assert!(holds(AttributeTest::Present, "plan"));
    assert!(holds(AttributeTest::Absent, "tier"));
}

#[test]
fn a_switched_off_rule_does_nothing() {
    let r = Rule::off_hours_reply("Back {next_open}.", false).unwrap();
    let attrs = BTreeMap::new();
    let none: Vec<String> = vec![];
    assert_eq!(r.decide(Moment::MessageReceived, &facts(&attrs, &none, Some("hi"))), Decision::Skip(Skip::Disabled));
}

#[test]
fn the_builtin_rules_say_what_they_always_did() {
    let attrs = BTreeMap::new();
    let none: Vec<String> = vec![];
    let off = Rule::off_hours_reply("Back {next_open}.", true).unwrap();
    assert_eq!(off.builtin(), Some(Builtin::OffHoursReply));
    assert_eq!(off.once(), Once::PerClosedPeriod);
    assert!(off.sends());
    let mut f = facts(&attrs, &none, Some("hi"));
    assert!(matches!(off.decide(Moment::MessageReceived, &f), Decision::Fire(_)), "closed: it answers");
    f.open_now = true;
    assert!(matches!(off.decide(Moment::MessageReceived, &f), Decision::Skip(_)), "open: a person will");

    let hold = Rule::holding_message(15, "Thanks for waiting.", true).unwrap();
    assert_eq!(hold.once(), Once::PerWait);
    assert!(matches!(hold.decide(Moment::Waited, &f), Decision::Fire(_)));
    f.status = ConversationStatus::Pending;
    assert!(matches!(hold.decide(Moment::Waited, &f), Decision::Skip(_)), "only open conversations wait");
    assert!(Rule::holding_message(0, "x", true).is_err());
}

#[test]
fn a_runaway_pattern_is_refused_when_saved() {
    // Short to type, enormous to compile: refused, with a reason, not run.
    let e = Pattern::parse(r"(\w{100}){100}").unwrap_err();
    assert_eq!(e.0, "this pattern is too complex; make it simpler");
    assert!(Pattern::parse(r"order\s+#?\d{4,}").unwrap().is_match("Order #12345 late"));
}

struct Book;
impl Names for Book {
    fn inbox(&self, id: i64) -> Option<String> {
        (id == 7).then(|| "Main line".into())
    }
    fn user(&self, id: i64) -> Option<String> {
        (id == 3).then(|| "Dana".into())
    }
    fn team(&self, id: i64) -> Option<String> {
        (id == 4).then(|| "Billing".into())
    }
    fn channel(&self, kind: &str) -> Option<String> {
        (kind == "twilio").then(|| "Twilio SMS".into())
    }
}

#[test]
fn a_rule_reads_as_a_sentence_with_the_accounts_names() {
    let r = rule(json!({
        "name": "Invoices",
        "trigger": { "on": "message_received" },
        "conditions": [
            { "if": "inbox", "any_of": [7, 9] },
            { "if": "channel", "any_of": ["twilio"] },
            { "if": "text", "matches": { "keyword": ["invoice", "bill"] } },
            { "if": "hours", "are": "closed" }
        ],
        "actions": [
            { "do": "assign_team", "team_id": 4 },
            { "do": "assign", "user_id": 3 },
            { "do": "snooze", "minutes": 90 },
            { "do": "reply", "text": "Billing will answer." }
        ],
        "once": "per_conversation"
    }))
    .unwrap();
    assert_eq!(
        r.words(&Book).sentence(),
        "When a customer's message arrives, if it came to Main line or inbox #9 (deleted), it came through \
         Twilio SMS, the whole message is INVOICE or BILL and the inbox is closed: give it to the team Billing, \
         assign it to Dana, snooze it for 1 hour 30 minutes then reply \u{201c}Billing will answer.\u{201d}. \
         At most once per conversation."
    );
    let waited = Rule::holding_message(1500, "Seen it", true).unwrap().words(&Book);
    assert_eq!(waited.when, "When a conversation has waited 1 day 1 hour of business hours for a reply");
    assert_eq!(waited.once.as_deref(), Some("At most once while a customer waits"));
}

#[test]
fn a_channel_condition_picks_the_inboxs_kind() {
    let attrs = BTreeMap::new();
    let labels = [];
    let only = |kinds: serde_json::Value| {
        rule(json!({
            "name": "SMPP only",
            "trigger": { "on": "message_received" },
            "conditions": [{ "if": "channel", "any_of": kinds }],
            "actions": [{ "do": "resolve" }]
        }))
    };
    let f = facts(&attrs, &labels, Some("hi"));
    assert!(matches!(only(json!(["smpp"])).unwrap().decide(Moment::MessageReceived, &f), Decision::Skip(_)));
    assert!(matches!(only(json!(["smpp", "twilio"])).unwrap().decide(Moment::MessageReceived, &f), Decision::Fire(_)));
    assert_eq!(only(json!([])).unwrap_err(), "condition 1: choose at least one channel");
    assert_eq!(only(json!(["Fax Machine"])).unwrap_err(), "condition 1: \"Fax Machine\" is not a kind of channel");
}

#[test]
fn consent_priority_assignee_and_first_message_decide() {
    let attrs = BTreeMap::new();
    let none: Vec<String> = vec![];
    let mut f = facts(&attrs, &none, Some("hi"));
    let holds = |c: serde_json::Value, f: &Facts<'_>| {
        let c: Condition = serde_json::from_value(c).unwrap();
        c.holds(f)
    };

    let only_opted_in = json!({ "if": "consent", "any_of": ["opted_in"] });
    assert!(!holds(only_opted_in.clone(), &f), "no answer on consent is not an opt-in");
    f.consent = ConsentState::OptedIn;
    assert!(holds(only_opted_in.clone(), &f));
    f.consent = ConsentState::OptedOut;
    assert!(!holds(only_opted_in, &f));
    assert!(holds(json!({ "if": "consent", "any_of": ["opted_out", "unknown"] }), &f));

    let pressing = json!({ "if": "priority", "any_of": ["high", "urgent"] });
    assert!(!holds(pressing.clone(), &f), "no priority is not high");
    f.priority = Priority::Urgent;
    assert!(holds(pressing.clone(), &f));
    f.priority = Priority::Medium;
    assert!(!holds(pressing, &f));

    let nobody = json!({ "if": "assignee", "is": { "who": "nobody" } });
    let anybody = json!({ "if": "assignee", "is": { "who": "anybody" } });
    let dana = json!({ "if": "assignee", "is": { "who": "user", "id": 3 } });
    let billing = json!({ "if": "assignee", "is": { "who": "team", "id": 4 } });
    assert!(holds(nobody.clone(), &f) && !holds(anybody.clone(), &f));
    assert!(!holds(dana.clone(), &f) && !holds(billing.clone(), &f));
    f.assignee_id = Some(3);
    assert!(!holds(nobody.clone(), &f) && holds(anybody.clone(), &f) && holds(dana.clone(), &f));
    f.assignee_id = Some(5);
    assert!(holds(anybody, &f) && !holds(dana, &f), "someone else is not Dana");
    assert!(!holds(billing.clone(), &f), "a person without the team is not the team");
    f.assignee_id = None;
    f.team_id = Some(4);
    assert!(holds(billing.clone(), &f) && holds(nobody, &f), "with the team, nobody in particular");
    f.team_id = Some(9);
    assert!(!holds(billing, &f));

    let first = json!({ "if": "first_message", "is": true });
    let later = json!({ "if": "first_message", "is": false });
    assert!(holds(first.clone(), &f) && !holds(later.clone(), &f));
    f.first_message = false;
    assert!(!holds(first, &f) && holds(later, &f));
    let r = rule(json!({
        "name": "First words", "trigger": { "on": "conversation_resolved" },
        "conditions": [{ "if": "first_message", "is": true }], "actions": [{ "do": "resolve" }]
    }));
    assert!(r.unwrap_err().contains("needs the \"message received\" trigger"));
}

#[test]
fn a_medium_condition_picks_whatsapp_whoever_carries_it() {
    let attrs = BTreeMap::new();
    let labels = [];
    let only = |media: serde_json::Value| {
        rule(json!({
            "name": "WhatsApp customers",
            "trigger": { "on": "message_received" },
            "conditions": [{ "if": "medium", "any_of": media }],
            "actions": [{ "do": "add_label", "label": "whatsapp" }]
        }))
    };
    let whatsapp = only(json!(["whatsapp"])).unwrap();
    let mut f = facts(&attrs, &labels, Some("hola"));
    assert!(matches!(whatsapp.decide(Moment::MessageReceived, &f), Decision::Skip(Skip::Condition(0))), "SMS");
    f.medium = Medium::Whatsapp;
    assert!(matches!(whatsapp.decide(Moment::MessageReceived, &f), Decision::Fire(_)), "the same provider, WhatsApp");
    assert_eq!(
        whatsapp.words(&Book).sentence(),
        "When a customer's message arrives, if the customer writes by WhatsApp: add the label whatsapp."
    );
    assert_eq!(only(json!([])).unwrap_err(), "condition 1: choose at least one medium");
    assert!(only(json!(["fax"])).unwrap_err().contains("fax"));
}

#[test]
fn a_poll_is_sent_by_a_rule_on_a_resolve_only() {
    let on = |trigger: &str, after: serde_json::Value| {
        rule(json!({
            "name": "Ask VIPs",
            "trigger": { "on": trigger },
            "conditions": [{ "if": "has_label", "label": "vip" }],
            "actions": [{ "do": "send_survey", "after_minutes": after }]
        }))
    };
    let r = on("conversation_resolved", json!(90)).unwrap();
    assert!(!r.sends(), "the poll goes later, by the polls' own rules, not as an answer now");
    assert_eq!(
        r.words(&Book).sentence(),
        "When a conversation is resolved, if it has the label vip: send the satisfaction poll 1 hour 30 minutes later."
    );
    let e = on("message_received", json!(0)).unwrap_err();
    assert_eq!(e, "action 1: a poll asks about a finished conversation: use the \"conversation resolved\" trigger");
    assert!(on("conversation_resolved", json!(10081)).unwrap_err().contains("a week"));
    let now: Rule = serde_json::from_value(json!({
        "name": "Ask", "trigger": { "on": "conversation_resolved" }, "actions": [{ "do": "send_survey" }]
    }))
    .unwrap();
    assert_eq!(now.actions(), &[Action::SendSurvey { after_minutes: 0 }], "no delay written: at once");
    assert_eq!(now.words(&Book).actions, vec!["send the satisfaction poll".to_owned()]);
}
