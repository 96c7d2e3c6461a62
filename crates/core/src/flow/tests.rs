use serde_json::json;

use super::*;
use crate::event::HandoffReason;

fn spec(v: serde_json::Value) -> FlowSpec {
    serde_json::from_value(v).unwrap()
}

fn menu() -> Flow {
    Flow::parse(spec(json!({
        "name": "Main menu",
        "answers": [{ "keywords": ["hours", "open"], "reply": "We open {next_open}." }],
        "steps": [
            { "name": "start", "text": "Hi! Reply with a number.", "options": [
                { "key": "1", "label": "Billing", "goto": "billing" },
                { "key": "2", "label": "An appointment", "goto": "appointment" },
                { "key": "0", "label": "A person", "handoff": {} }
            ]},
            { "name": "billing", "text": "Billing:", "options": [
                { "key": "1", "label": "Pay by card", "reply": "Pay at example.com/pay." },
                { "key": "2", "label": "Billing team", "handoff": { "team_id": 4 } },
                { "key": "0", "label": "A person", "handoff": {} }
            ]},
            { "name": "appointment", "text": "What is your booking number?",
              "lookup": { "url": "https://api.example.com/b?phone={phone}&ref={input}", "field": "time",
                          "reply": "Your appointment is at {value}.", "goto": "bye" } },
            { "name": "bye", "text": "See you then!" }
        ]
    })))
    .unwrap()
}

fn at(step: &str) -> Session {
    Session { step: step.into(), misses: 0 }
}

#[test]
fn a_menu_is_written_from_its_options() {
    let f = menu();
    let start = f.start();
    assert_eq!(start.replies, vec!["Hi! Reply with a number.\n1: Billing\n2: An appointment\n0: A person"]);
    assert_eq!(start.next, Next::Stay { step: "start".into(), misses: 0 });
}

#[test]
fn a_choice_is_read_the_ways_people_type_it() {
    let f = menu();
    for typed in ["1", " 1.", "1)", "#1", "one", "ONE!", "billing", "Billing."] {
        assert_eq!(f.read(&at("start"), typed), Choice::Option(0), "{typed:?}");
    }
    // A sentence with a digit in it is not a choice.
    assert_eq!(f.read(&at("start"), "I paid 1 bill"), Choice::NotUnderstood);
    assert_eq!(f.read(&at("start"), "11"), Choice::NotUnderstood);
}

#[test]
fn nested_steps_then_an_answer_ends_the_flow() {
    let f = menu();
    let o = f.respond(&at("start"), "1");
    assert_eq!(o.replies, vec!["Billing:\n1: Pay by card\n2: Billing team\n0: A person"]);
    assert_eq!(o.next, Next::Stay { step: "billing".into(), misses: 0 });
    let o = f.respond(&at("billing"), "1");
    assert_eq!(o.replies, vec!["Pay at example.com/pay."]);
    assert_eq!(o.next, Next::End);
}

#[test]
fn the_way_to_a_person_by_word_by_choice_and_after_two_misses() {
    let f = menu();
    for word in ["agent", "HUMAN", "Person.", "representative", "0"] {
        let o = f.respond(&at("start"), word);
        assert!(matches!(o.next, Next::Handoff { .. }), "{word}");
    }
    let o = f.respond(&at("billing"), "2");
    assert_eq!(o.next, Next::Handoff { reason: HandoffReason::Chosen, team_id: Some(4) });
    let o = f.respond(&at("billing"), "AGENT");
    assert_eq!(o.next, Next::Handoff { reason: HandoffReason::Asked, team_id: None });

    let first = f.respond(&at("start"), "what?");
    assert!(first.replies[0].starts_with("Sorry, I did not understand that.\nHi!"), "{first:?}");
    assert_eq!(first.next, Next::Stay { step: "start".into(), misses: 1 });
    let second = f.respond(&Session { step: "start".into(), misses: 1 }, "huh");
    assert_eq!(second.next, Next::Handoff { reason: HandoffReason::NotUnderstood, team_id: None });
}

#[test]
fn keyword_answers_are_heard_at_every_step_and_reset_the_misses() {
    let f = menu();
    let o = f.respond(&Session { step: "billing".into(), misses: 1 }, "When are you open?");
    assert_eq!(o.replies, vec!["We open {next_open}."]);
    assert_eq!(o.next, Next::Stay { step: "billing".into(), misses: 0 });
}

#[test]
fn a_lookup_takes_what_was_typed_and_answers_with_the_value_or_a_way_out() {
    let f = menu();
    let o = f.respond(&at("appointment"), " AB-123 ");
    assert_eq!(o.next, Next::Lookup { step: "appointment".into(), input: "AB-123".into() });
    // The way to a person still works at a question.
    assert!(matches!(f.respond(&at("appointment"), "agent").next, Next::Handoff { .. }));
    let ok = f.looked_up("appointment", Some("3:30 PM {x}"));
    assert_eq!(ok.replies, vec!["Your appointment is at 3:30 PM {{x}}.", "See you then!"]);
    assert_eq!(ok.next, Next::End);
    let failed = f.looked_up("appointment", None);
    assert_eq!(
        failed.replies,
        vec!["Sorry, we could not look that up right now. Reply AGENT to talk to a person, or try again."]
    );
    assert_eq!(failed.next, Next::Stay { step: "appointment".into(), misses: 0 });
}

#[test]
fn checks_say_which_field_is_wrong() {
    let base = || {
        json!({ "name": "M", "steps": [
            { "name": "start", "text": "Hi", "options": [
                { "key": "1", "label": "Billing", "goto": "billing" },
                { "key": "0", "label": "A person", "handoff": {} } ] },
            { "name": "billing", "text": "Bye" } ] })
    };
    assert!(Flow::parse(spec(base())).is_ok());
    let err = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut v = base();
        edit(&mut v);
        Flow::parse(spec(v)).unwrap_err().0
    };
    assert_eq!(
        err(&|v| v["steps"][0]["options"][0]["goto"] = json!("bill")),
        "steps[0].options[0].goto: no step named 'bill'"
    );
    assert!(
        err(&|v| v["steps"][0]["options"].as_array_mut().unwrap().truncate(1))
            .starts_with("steps[0].options: every menu offers a way to a person")
    );
    assert_eq!(
        err(&|v| v["steps"][0]["options"][1]["key"] = json!("1.")),
        "steps[0].options[1].key: two options use the key '1.'"
    );
    assert_eq!(err(&|v| v["steps"][1]["name"] = json!("start")), "steps[1].name: two steps are named 'start'");
    assert!(err(&|v| v["timeout_minutes"] = json!(0)).starts_with("timeout_minutes:"));
    assert!(err(&|v| v["steps"] = json!([])).starts_with("steps:"));
    assert!(err(&|v| v["handoff_words"] = json!([" "])).starts_with("handoff_words:"));
}

#[test]
fn a_file_round_trips_and_a_bad_one_names_line_and_field() {
    let f = menu();
    let text = export(&f);
    assert!(text.starts_with("{\n  \"version\": 1,"), "{text}");
    assert_eq!(import(&text).unwrap(), f);

    let bad_goto = text.replacen("\"goto\": \"billing\"", "\"goto\": \"bills\"", 1);
    let e = import(&bad_goto).unwrap_err();
    let line = bad_goto.lines().position(|l| l.contains("\"bills\"")).unwrap() + 1;
    assert_eq!(e.path, "steps[0].options[0].goto");
    assert_eq!(e.line, line);
    assert_eq!(e.to_string(), format!("line {line}, steps[0].options[0].goto: no step named 'bills'"));

    let bad_type = "{\n  \"version\": 1,\n  \"name\": \"M\",\n  \"timeout_minutes\": \"ten\",\n  \"steps\": []\n}";
    let e = import(bad_type).unwrap_err();
    assert_eq!((e.line, e.path.as_str()), (4, "timeout_minutes"), "{e}");

    let unknown = "{\"version\": 1, \"name\": \"M\",\n \"stepz\": []}";
    let e = import(unknown).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("unknown field `stepz`"), "{e}");

    let e = import("{\"version\": 2, \"name\": \"M\", \"steps\": []}").unwrap_err();
    assert_eq!(e.to_string(), "line 1, version: this is a version 2 file; this server reads version 1");
    let e = import("{\"version\": 1,\n\n \"name\": }").unwrap_err();
    assert_eq!(e.line, 3, "{e}");
}

#[test]
fn a_yaml_file_round_trips_and_a_bad_one_names_line_and_field() {
    let f = menu();
    let text = export_yaml(&f);
    assert!(text.starts_with("version: 1\nname: Main menu\n"), "{text}");
    assert_eq!(import(&text).unwrap(), f);

    let bad_goto = text.replacen("goto: billing", "goto: bills", 1);
    let e = import(&bad_goto).unwrap_err();
    let line = bad_goto.lines().position(|l| l.contains("goto: bills")).unwrap() + 1;
    assert_eq!(e.to_string(), format!("line {line}, steps[0].options[0].goto: no step named 'bills'"));

    let typed = "version: 1\nname: M\ntimeout_minutes: soon\nsteps: []\n";
    let e = import(typed).unwrap_err();
    assert_eq!((e.line, e.path.as_str()), (3, "timeout_minutes"), "{e}");
    assert!(e.message.starts_with("invalid type"), "{e}");

    let trapped = "version: 1\nname: M\nsteps:\n  - name: start\n    text: Hi\n    options:\n      - key: '1'\n        label: B\n        reply: Bye\n";
    let e = import(trapped).unwrap_err();
    assert_eq!(e.path, "steps[0].options");
    assert_eq!(e.line, 6, "{e}");
    let e = import("version: 1\nname: [unclosed\n").unwrap_err();
    assert!(e.line >= 2, "{e}");
}

#[test]
fn a_call_back_choice_ends_the_flow_with_an_offer() {
    let f = Flow::parse(spec(json!({
        "name": "Main menu",
        "steps": [{ "name": "start", "text": "Hi!", "options": [
            { "key": "1", "label": "A call back", "callback": true },
            { "key": "0", "label": "A person", "handoff": {} }
        ]}]
    })))
    .unwrap();
    let o = f.respond(&at("start"), "1");
    assert_eq!((o.replies, o.next), (Vec::<String>::new(), Next::Callback));
    let both = json!({ "name": "M", "steps": [{ "name": "start", "text": "Hi!", "options": [
        { "key": "1", "label": "Call", "callback": true, "handoff": {} }] }] });
    let e = Flow::parse(spec(both)).unwrap_err();
    assert!(e.0.contains("steps[0].options[0]") && e.0.contains("only one of them"), "{}", e.0);
}
