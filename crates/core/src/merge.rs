//! Merging two contacts who are one person: which value each field keeps,
//! what consent the merged person has in each scope, and how long a merge can
//! be undone. The store moves the rows; the decisions are here.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::{ConsentState, Invalid};

/// How long after a merge it can be undone (while nothing new has happened
/// to the merged person: see docs/decisions.md "Contacts: merge and undo").
pub const UNDO_WINDOW: SignedDuration = SignedDuration::from_hours(24 * 7);

/// Whose value a field keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The contact that stays (the one merged into).
    Survivor,
    /// The contact that is merged away.
    Other,
}

impl Keep {
    pub fn parse(s: &str) -> Result<Keep, Invalid> {
        match s {
            "survivor" => Ok(Keep::Survivor),
            "other" => Ok(Keep::Other),
            _ => Err(Invalid::new(format!("{s:?} is not a side: survivor or other"))),
        }
    }
}

/// The fields an agent chooses between.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields {
    pub name: String,
    pub time_zone: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// The agent's picks; a field not named keeps the survivor's value, or the
/// other's when the survivor has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Picks {
    pub name: Option<Keep>,
    pub time_zone: Option<Keep>,
    pub attributes: BTreeMap<String, Keep>,
}

/// One field as the preview shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChoice {
    pub field: String,
    pub survivor: Option<String>,
    pub other: Option<String>,
    pub keep: Keep,
    /// Both have a value and they differ: the agent should look.
    pub conflict: bool,
}

fn choose(field: String, survivor: Option<String>, other: Option<String>, pick: Option<Keep>) -> FieldChoice {
    let keep = pick.unwrap_or(if survivor.is_some() || other.is_none() { Keep::Survivor } else { Keep::Other });
    let conflict = matches!((&survivor, &other), (Some(a), Some(b)) if a != b);
    FieldChoice { field, survivor, other, keep, conflict }
}

fn present(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Every field of the two contacts with the value it keeps, name first, then
/// the zone, then the attributes in key order. A pick for an attribute
/// neither has is refused (a typo would otherwise vanish silently).
pub fn choices(survivor: &Fields, other: &Fields, picks: &Picks) -> Result<Vec<FieldChoice>, Invalid> {
    let keys: BTreeSet<&String> = survivor.attributes.keys().chain(other.attributes.keys()).collect();
    if let Some(k) = picks.attributes.keys().find(|k| !keys.contains(k)) {
        return Err(Invalid::new(format!("neither contact has an attribute named {k:?}")));
    }
    let mut out = vec![
        choose("name".into(), present(&survivor.name), present(&other.name), picks.name),
        choose("time_zone".into(), survivor.time_zone.clone(), other.time_zone.clone(), picks.time_zone),
    ];
    for k in keys {
        let pick = picks.attributes.get(k).copied();
        out.push(choose(
            format!("attributes.{k}"),
            survivor.attributes.get(k).cloned(),
            other.attributes.get(k).cloned(),
            pick,
        ));
    }
    Ok(out)
}

/// The fields the survivor has after the merge.
pub fn merged_fields(choices: &[FieldChoice]) -> Fields {
    let mut f = Fields::default();
    for c in choices {
        let v = match c.keep {
            Keep::Survivor => c.survivor.clone(),
            Keep::Other => c.other.clone(),
        };
        match c.field.as_str() {
            "name" => f.name = v.unwrap_or_default(),
            "time_zone" => f.time_zone = v,
            key => {
                if let (Some(k), Some(v)) = (key.strip_prefix("attributes."), v) {
                    f.attributes.insert(k.to_owned(), v);
                }
            }
        }
    }
    f
}

/// An opt-in or opt-out in the ledger, as the merge reads it. `id` is the
/// ledger's order (commit order), which is what the gate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerMark {
    pub id: i64,
    pub scope: String,
    pub state: ConsentState,
    pub at: Timestamp,
}

/// One scope's consent before and after a merge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeOutcome {
    pub scope: String,
    pub survivor: ConsentState,
    pub other: ConsentState,
    pub result: ConsentState,
    /// The two sides said different things.
    pub conflict: bool,
}

fn latest<'a>(marks: &'a [LedgerMark], scope: &str) -> Option<&'a LedgerMark> {
    marks.iter().filter(|m| m.scope == scope && m.state != ConsentState::Unknown).max_by_key(|m| m.id)
}

/// The merged person's consent per scope: an opt-out on either side holds
/// unless the other side opted in after it; the latest word in the ledger
/// wins. That is the rule the gate already applies to one contact's ledger,
/// so moving both ledgers onto the survivor gives exactly this state.
pub fn consent_outcome(survivor: &[LedgerMark], other: &[LedgerMark]) -> Vec<ScopeOutcome> {
    let scopes: BTreeSet<&str> = survivor.iter().chain(other).map(|m| m.scope.as_str()).collect();
    scopes
        .into_iter()
        .map(|scope| {
            let s = latest(survivor, scope);
            let o = latest(other, scope);
            let result = match (s, o) {
                (Some(a), Some(b)) => {
                    if a.id > b.id {
                        a.state
                    } else {
                        b.state
                    }
                }
                (Some(a), None) | (None, Some(a)) => a.state,
                (None, None) => ConsentState::Unknown,
            };
            let state = |m: Option<&LedgerMark>| m.map(|m| m.state).unwrap_or(ConsentState::Unknown);
            ScopeOutcome {
                scope: scope.to_owned(),
                survivor: state(s),
                other: state(o),
                result,
                conflict: matches!((s, o), (Some(a), Some(b)) if a.state != b.state),
            }
        })
        .collect()
}

/// Whether a merge made at `merged_at` may still be undone at `now`; `since`
/// names what happened to the person since, if anything, in plain words.
pub fn undo_allowed(merged_at: Timestamp, now: Timestamp, since: Option<&str>) -> Result<(), Invalid> {
    if now > merged_at + UNDO_WINDOW {
        return Err(Invalid::new("this merge is more than 7 days old and can no longer be undone"));
    }
    if let Some(what) = since {
        return Err(Invalid::new(format!(
            "this merge can no longer be undone: {what} since, and undoing would split it"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(id: i64, scope: &str, state: ConsentState) -> LedgerMark {
        LedgerMark { id, scope: scope.into(), state, at: Timestamp::UNIX_EPOCH }
    }

    #[test]
    fn an_opt_out_on_either_side_holds_unless_a_later_opt_in() {
        use ConsentState::*;
        let s = [mark(1, "inbox:1", OptedIn), mark(5, "account", OptedOut)];
        let o = [mark(3, "inbox:1", OptedOut), mark(7, "account", OptedIn), mark(2, "inbox:2", OptedIn)];
        let out = consent_outcome(&s, &o);
        let by: BTreeMap<_, _> = out.iter().map(|r| (r.scope.as_str(), r)).collect();
        assert_eq!(by["inbox:1"].result, OptedOut, "the other side's later opt-out wins");
        assert!(by["inbox:1"].conflict);
        assert_eq!(by["account"].result, OptedIn, "an opt-in after the opt-out wins");
        assert_eq!((by["inbox:2"].survivor, by["inbox:2"].result, by["inbox:2"].conflict), (Unknown, OptedIn, false));
    }

    #[test]
    fn fields_keep_the_survivors_value_unless_picked_or_missing() {
        let s = Fields {
            name: "Ana".into(),
            time_zone: None,
            attributes: [("plan".into(), "pro".into())].into_iter().collect(),
        };
        let o = Fields {
            name: "Ana Ruiz".into(),
            time_zone: Some("America/Chicago".into()),
            attributes: [("plan".into(), "basic".into()), ("city".into(), "Austin".into())].into_iter().collect(),
        };
        let c = choices(&s, &o, &Picks::default()).unwrap();
        let f = merged_fields(&c);
        assert_eq!(f.name, "Ana");
        assert_eq!(f.time_zone.as_deref(), Some("America/Chicago"), "the survivor had none");
        assert_eq!(f.attributes["plan"], "pro");
        assert_eq!(f.attributes["city"], "Austin");
        assert!(c[0].conflict && !c[1].conflict);

        let picks = Picks {
            name: Some(Keep::Other),
            time_zone: Some(Keep::Survivor),
            attributes: [("plan".into(), Keep::Other), ("city".into(), Keep::Survivor)].into_iter().collect(),
        };
        let f = merged_fields(&choices(&s, &o, &picks).unwrap());
        assert_eq!(f.name, "Ana Ruiz");
        assert_eq!(f.time_zone, None, "keeping the survivor's empty zone is a choice");
        assert_eq!(f.attributes["plan"], "basic");
        assert!(!f.attributes.contains_key("city"));

        let typo = Picks { attributes: [("paln".into(), Keep::Other)].into_iter().collect(), ..Picks::default() };
        assert!(choices(&s, &o, &typo).unwrap_err().0.contains("paln"));
    }

    #[test]
    fn undo_has_a_window_and_stops_when_something_new_happened() {
        let at: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        assert!(undo_allowed(at, at + SignedDuration::from_hours(24 * 7), None).is_ok());
        assert!(undo_allowed(at, at + SignedDuration::from_hours(24 * 7 + 1), None).unwrap_err().0.contains("7 days"));
        assert!(undo_allowed(at, at, Some("a new message arrived")).unwrap_err().0.contains("a new message"));
        assert_eq!(Keep::parse("other").unwrap(), Keep::Other);
        assert!(Keep::parse("both").is_err());
    }
}
