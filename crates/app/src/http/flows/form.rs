//! The flow page's forms, read into changes of a flow's spec. Each form edits
//! one part (the settings, one step, the keyword answers); the whole flow is
//! checked by `core::flow` before it is kept, so a form never saves a flow
//! that traps a customer or points at a missing step.

use textdesk_core::flow::{Answer, FlowSpec, Handoff, Lookup, MenuOption, Step};

/// Posted fields, in order (names repeat for each row).
pub type Pairs = Vec<(String, String)>;

fn one(f: &Pairs, key: &str) -> String {
    f.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned()).unwrap_or_default()
}

fn all(f: &Pairs, key: &str) -> Vec<String> {
    f.iter().filter(|(k, _)| k == key).map(|(_, v)| v.trim().to_owned()).collect()
}

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Name, the words that ask for a person, the timeout and the two messages.
pub fn settings(spec: &mut FlowSpec, f: &Pairs) -> Result<(), String> {
    spec.name = one(f, "name");
    spec.handoff_words = one(f, "handoff_words")
        .split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect();
    spec.timeout_minutes =
        one(f, "timeout_minutes").parse().map_err(|_| "timeout: a number of minutes, 1 to 1440".to_owned())?;
    spec.closing_message = one(f, "closing_message");
    spec.handoff_message = one(f, "handoff_message");
    Ok(())
}

/// What an option or a lookup does next, as the form's select says it:
/// `end`, `step:NAME`, `person`, `team:ID` or (an option's) `callback`.
fn then(v: &str) -> Result<(Option<String>, Option<Handoff>), String> {
    Ok(match v.split_once(':') {
        Some(("step", name)) => (Some(name.to_owned()), None),
        Some(("team", id)) => {
            let id = id.parse().map_err(|_| "choose a team from the list".to_owned())?;
            (None, Some(Handoff { team_id: Some(id) }))
        }
        _ if v == "person" => (None, Some(Handoff::default())),
        _ => (None, None),
    })
}

/// One step: its text, its options (a row with no key is left out, so the
/// blank rows add options), and its lookup.
pub fn step(spec: &mut FlowSpec, index: usize, f: &Pairs) -> Result<(), String> {
    let s = spec.steps.get_mut(index).ok_or("that step is no longer there; reload the page")?;
    s.text = one(f, "text");
    let (keys, labels, replies, thens) = (all(f, "key"), all(f, "label"), all(f, "reply"), all(f, "then"));
    let mut options = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if key.is_empty() {
            continue;
        }
        let chosen = thens.get(i).map(String::as_str).unwrap_or("end");
        let (goto, handoff) = then(chosen)?;
        options.push(MenuOption {
            key: key.clone(),
            label: labels.get(i).cloned().unwrap_or_default(),
            reply: replies.get(i).cloned().and_then(opt),
            goto,
            handoff,
            callback: chosen == "callback",
        });
    }
    s.options = options;
    let url = one(f, "lookup_url");
    s.lookup = if url.is_empty() {
        None
    } else {
        let (goto, _) = then(&one(f, "lookup_then"))?;
        Some(Lookup { url, field: one(f, "lookup_field"), reply: one(f, "lookup_reply"), goto })
    };
    Ok(())
}

/// A new step at the end: a menu (with its way to a person already in it),
/// a question whose answer is looked up, or a last message.
pub fn add_step(spec: &mut FlowSpec, f: &Pairs) -> Result<(), String> {
    let name: String = one(f, "name").to_lowercase().split_whitespace().collect::<Vec<_>>().join("-");
    if name.is_empty() {
        return Err("give the step a short name, like billing".into());
    }
    let text = one(f, "text");
    let mut step = Step { name, text, options: Vec::new(), lookup: None };
    match one(f, "kind").as_str() {
        "menu" => step.options.push(MenuOption {
            key: "0".into(),
            label: "A person".into(),
            reply: None,
            goto: None,
            handoff: Some(Handoff::default()),
            callback: false,
        }),
        "question" => {
            step.lookup = Some(Lookup {
                url: one(f, "lookup_url"),
                field: one(f, "lookup_field"),
                reply: one(f, "lookup_reply"),
                goto: None,
            })
        }
        _ => {}
    }
    spec.steps.push(step);
    Ok(())
}

pub fn delete_step(spec: &mut FlowSpec, index: usize) -> Result<(), String> {
    if index == 0 {
        return Err("the first step is where the flow starts; change it rather than delete it".into());
    }
    if index >= spec.steps.len() {
        return Err("that step is no longer there; reload the page".into());
    }
    spec.steps.remove(index);
    Ok(())
}

/// The keyword answers (a row with no keywords is left out).
pub fn answers(spec: &mut FlowSpec, f: &Pairs) -> Result<(), String> {
    let (keywords, replies) = (all(f, "keywords"), all(f, "answer"));
    spec.answers = keywords
        .iter()
        .enumerate()
        .filter(|(_, k)| !k.is_empty())
        .map(|(i, k)| Answer {
            keywords: k.split(',').map(|w| w.trim().to_owned()).filter(|w| !w.is_empty()).collect(),
            reply: replies.get(i).cloned().unwrap_or_default(),
        })
        .collect();
    Ok(())
}

/// The select's value for what an option does next.
pub fn then_value(o: &MenuOption) -> String {
    if o.callback {
        return "callback".into();
    }
    match (&o.goto, &o.handoff) {
        (Some(g), _) => format!("step:{g}"),
        (None, Some(Handoff { team_id: Some(t) })) => format!("team:{t}"),
        (None, Some(_)) => "person".into(),
        (None, None) => "end".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use textdesk_core::flow::Flow;

    fn pairs(p: &[(&str, &str)]) -> Pairs {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_menu_is_built_from_rows_and_checked_as_a_whole() {
        let mut spec: FlowSpec = serde_json::from_value(serde_json::json!({
            "name": "M", "steps": [{ "name": "start", "text": "Hi", "options": [{ "key": "0", "label": "A person", "handoff": {} }] }]
        }))
        .unwrap();
        add_step(&mut spec, &pairs(&[("name", "Billing Help"), ("kind", "message"), ("text", "Pay online.")])).unwrap();
        let form = pairs(&[
            ("text", "Reply with a number"),
            ("key", "1"),
            ("label", "Billing"),
            ("reply", ""),
            ("then", "step:billing-help"),
            ("key", "0"),
            ("label", "A person"),
            ("reply", ""),
            ("then", "team:4"),
            ("key", ""),
            ("label", ""),
            ("reply", ""),
            ("then", "end"),
        ]);
        step(&mut spec, 0, &form).unwrap();
        let flow = Flow::parse(spec.clone()).unwrap();
        assert_eq!(flow.first_step().message(), "Reply with a number\n1: Billing\n0: A person");
        assert_eq!(flow.teams(), vec![4]);
        assert_eq!(then_value(&flow.first_step().options[0]), "step:billing-help");

        // Taking the way to a person out of a menu is refused when the flow is checked.
        let trapped =
            pairs(&[("text", "Hi"), ("key", "1"), ("label", "B"), ("reply", ""), ("then", "step:billing-help")]);
        step(&mut spec, 0, &trapped).unwrap();
        assert!(Flow::parse(spec).unwrap_err().0.contains("every menu offers a way to a person"));
    }
}
