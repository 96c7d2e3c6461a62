//! Quality review (F12): the rubric a business scores conversations against,
//! a scorecard's overall score, and which resolved conversations a
//! supervisor is given to review each week.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Invalid;

/// The points a criterion is scored on: 1 (poor) to 5 (excellent).
pub const SCALE: (u8, u8) = (1, 5);

/// One thing a reviewer scores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    pub label: String,
    /// What the reviewer looks for, shown beside the score.
    #[serde(default)]
    pub help: String,
    /// How much it counts against the others (1 to 10).
    pub weight: u8,
}

/// The business's rubric: the criteria, in the order they are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rubric {
    pub criteria: Vec<Criterion>,
}

impl Rubric {
    /// Taken from what the product asks of text support: answer the question,
    /// in a professional tone, at text size, escalating when text is the
    /// wrong medium, and resolving.
    pub fn default_rubric() -> Rubric {
        let c = |label: &str, help: &str, weight| Criterion { label: label.into(), help: help.into(), weight };
        Rubric {
            criteria: vec![
                c("Answered the question", "The customer's actual question got a correct, complete answer.", 3),
                c(
                    "Professional tone",
                    "Friendly and clear; no slang, ALL CAPS or emoji the business would not use.",
                    2,
                ),
                c("Text-sized replies", "Short messages a phone shows whole; long answers split or moved to email.", 2),
                c(
                    "Escalated when right",
                    "Moved to a call, video, email or a supervisor when text was the wrong medium.",
                    1,
                ),
                c("Resolved", "The customer's problem was solved, or they were told exactly what happens next.", 2),
            ],
        }
    }

    /// Checks a rubric the business wrote: 1 to 20 criteria, each with a
    /// label (up to 80 characters, no two the same) and a weight of 1 to 10.
    pub fn parse(criteria: Vec<Criterion>) -> Result<Rubric, Invalid> {
        if criteria.is_empty() || criteria.len() > 20 {
            return Err(Invalid("a rubric has between 1 and 20 criteria".into()));
        }
        let mut seen: Vec<String> = Vec::with_capacity(criteria.len());
        let mut out = Vec::with_capacity(criteria.len());
        for (i, mut c) in criteria.into_iter().enumerate() {
            let n = i + 1;
            c.label = c.label.trim().to_owned();
            c.help = c.help.trim().to_owned();
            if c.label.is_empty() {
                return Err(Invalid(format!("criterion {n} needs a name")));
            }
            if c.label.chars().count() > 80 || c.help.chars().count() > 300 {
                return Err(Invalid(format!("criterion {n}: names are at most 80 characters, explanations 300")));
            }
            if !(1..=10).contains(&c.weight) {
                return Err(Invalid(format!("“{}”: the weight is a number from 1 to 10", c.label)));
            }
            let key = c.label.to_lowercase();
            if seen.contains(&key) {
                return Err(Invalid(format!("“{}” is in the rubric twice", c.label)));
            }
            seen.push(key);
            out.push(c);
        }
        Ok(Rubric { criteria: out })
    }
}

/// A reviewer's scores, one per criterion in the rubric's order; `None` is
/// "does not apply" (a conversation that never needed escalating), which
/// leaves the criterion out of the overall score rather than scoring it.
pub fn check_scores(rubric: &Rubric, scores: &[Option<u8>]) -> Result<(), Invalid> {
    if scores.len() != rubric.criteria.len() {
        return Err(Invalid(format!(
            "score each of the {} criteria (or mark it as not applying)",
            rubric.criteria.len()
        )));
    }
    for (c, s) in rubric.criteria.iter().zip(scores) {
        if let Some(s) = s
            && !(SCALE.0..=SCALE.1).contains(s)
        {
            return Err(Invalid(format!("“{}”: scores go from 1 to 5", c.label)));
        }
    }
    if scores.iter().all(Option::is_none) {
        return Err(Invalid("score at least one criterion".into()));
    }
    Ok(())
}

/// The overall score as a percentage (0 = every scored criterion at 1, 100 =
/// all at 5), weighted by the rubric; `None` when nothing was scored.
pub fn overall_percent(rubric: &Rubric, scores: &[Option<u8>]) -> Option<u8> {
    let (mut sum, mut weights) = (0u32, 0u32);
    for (c, s) in rubric.criteria.iter().zip(scores) {
        if let Some(s) = s {
            let s = u32::from((*s).clamp(SCALE.0, SCALE.1) - SCALE.0);
            sum += s * u32::from(c.weight);
            weights += u32::from(c.weight);
        }
    }
    let span = u32::from(SCALE.1 - SCALE.0);
    // Rounded to the nearest point.
    (weights > 0).then(|| u8::try_from((sum * 100 * 2 + weights * span) / (weights * span * 2)).unwrap_or(100))
}

/// Why a conversation is in the review queue. One review holds each reason
/// at most once, however often it recurs while the review waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// Picked by the weekly random sample of the agent's resolved conversations.
    Sample,
    /// The customer answered the satisfaction poll with a low score.
    LowScore,
    /// An agent escalated it.
    Escalated,
    /// A response-time target was missed.
    SlaBreach,
}

impl ReviewReason {
    pub const ALL: [ReviewReason; 4] =
        [ReviewReason::Sample, ReviewReason::LowScore, ReviewReason::Escalated, ReviewReason::SlaBreach];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::Sample => "sample",
            ReviewReason::LowScore => "low_score",
            ReviewReason::Escalated => "escalated",
            ReviewReason::SlaBreach => "sla_breach",
        }
    }

    pub fn parse(s: &str) -> Result<ReviewReason, Invalid> {
        Self::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| {
            Invalid(format!("{s:?} is not a review reason; the reasons are sample, low_score, escalated, sla_breach"))
        })
    }

    /// In words, for the queue.
    pub fn describe(self) -> &'static str {
        match self {
            ReviewReason::Sample => "Weekly sample",
            ReviewReason::LowScore => "Low satisfaction score",
            ReviewReason::Escalated => "Escalated",
            ReviewReason::SlaBreach => "Missed a response target",
        }
    }

    /// Reads a stored set (`"low_score,escalated"`), skipping what this version does not know.
    pub fn read_set(stored: &str) -> Vec<ReviewReason> {
        stored.split(',').filter_map(|r| ReviewReason::parse(r).ok()).collect()
    }

    /// The stored form of a set, each reason once, in the order given.
    pub fn write_set(reasons: &[ReviewReason]) -> String {
        let mut out: Vec<&str> = Vec::with_capacity(reasons.len());
        for r in reasons {
            if !out.contains(&r.as_str()) {
                out.push(r.as_str());
            }
        }
        out.join(",")
    }
}

/// How many resolved conversations per agent a week's sample takes (0 turns it off).
pub const MAX_SAMPLE_SIZE: u32 = 50;

/// Checks the weekly sample size an admin set.
pub fn parse_sample_size(n: u32) -> Result<u32, Invalid> {
    if n > MAX_SAMPLE_SIZE {
        return Err(Invalid(format!("the weekly sample is 0 to {MAX_SAMPLE_SIZE} conversations per agent")));
    }
    Ok(n)
}

/// The sample's seed for an account and an ISO week (`2026-W49`): the same on every node.
pub fn sample_seed(account_id: i64, week: &str) -> String {
    format!("account {account_id}, week {week}")
}

/// Picks `n` of `ids` for review, the same ones on every node and every run
/// for the same `seed` (the account and the week), and unpredictable to an
/// agent who knows the rule: each id is ranked by a hash of the seed and the
/// id, the lowest `n` are taken, returned in the order given.
pub fn sample(ids: &[i64], n: usize, seed: &str) -> Vec<i64> {
    let rank = |id: i64| {
        let mut h = Sha256::new();
        h.update(seed.as_bytes());
        h.update(b"\n");
        h.update(id.to_be_bytes());
        let d = h.finalize();
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    };
    let mut ranked: Vec<(u64, i64)> = ids.iter().map(|&id| (rank(id), id)).collect();
    ranked.sort_unstable();
    ranked.dedup_by_key(|r| r.1);
    let chosen: Vec<i64> = ranked.into_iter().take(n).map(|(_, id)| id).collect();
    let mut out = Vec::with_capacity(chosen.len());
    for id in ids {
        if chosen.contains(id) && !out.contains(id) {
            out.push(*id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rubric_is_valid() {
        let r = Rubric::default_rubric();
        assert_eq!(Rubric::parse(r.criteria.clone()).unwrap(), r);
        assert_eq!(r.criteria.len(), 5);
    }

    #[test]
    fn bad_rubrics_are_named() {
        let c = |label: &str, weight| Criterion { label: label.into(), help: String::new(), weight };
        assert!(Rubric::parse(vec![]).unwrap_err().0.contains("between 1 and 20"));
        assert!(Rubric::parse(vec![c("  ", 1)]).unwrap_err().0.contains("criterion 1 needs a name"));
        assert!(Rubric::parse(vec![c("Tone", 0)]).unwrap_err().0.contains("“Tone”: the weight"));
        assert!(Rubric::parse(vec![c("Tone", 11)]).is_err());
        assert!(Rubric::parse(vec![c("Tone", 1), c("tone ", 2)]).unwrap_err().0.contains("twice"));
        assert!(Rubric::parse(vec![c(&"x".repeat(81), 1)]).is_err());
        assert_eq!(Rubric::parse(vec![c(" Tone ", 3)]).unwrap().criteria[0].label, "Tone");
    }

    #[test]
    fn the_overall_score_weighs_what_was_scored() {
        let r = Rubric::default_rubric(); // weights 3, 2, 2, 1, 2
        assert_eq!(overall_percent(&r, &[Some(5); 5]), Some(100));
        assert_eq!(overall_percent(&r, &[Some(1); 5]), Some(0));
        assert_eq!(overall_percent(&r, &[Some(3); 5]), Some(50));
        // "Escalated when right" does not apply: left out, not counted as 1.
        assert_eq!(overall_percent(&r, &[Some(5), Some(5), Some(5), None, Some(5)]), Some(100));
        // Answered (weight 3) at 1, the rest (weight 7) at 5: 70%.
        assert_eq!(overall_percent(&r, &[Some(1), Some(5), Some(5), Some(5), Some(5)]), Some(70));
        assert_eq!(overall_percent(&r, &[None; 5]), None);
    }

    #[test]
    fn scores_are_checked_against_the_rubric() {
        let r = Rubric::default_rubric();
        assert!(check_scores(&r, &[Some(5); 5]).is_ok());
        assert!(check_scores(&r, &[Some(5); 4]).unwrap_err().0.contains("each of the 5"));
        assert!(check_scores(&r, &[Some(6), None, None, None, None]).unwrap_err().0.contains("1 to 5"));
        assert!(check_scores(&r, &[None; 5]).unwrap_err().0.contains("at least one"));
    }

    #[test]
    fn reasons_are_stored_as_a_set() {
        use ReviewReason::*;
        assert_eq!(ReviewReason::write_set(&[LowScore, Escalated, LowScore]), "low_score,escalated");
        assert_eq!(ReviewReason::read_set("low_score,escalated,later_kind"), vec![LowScore, Escalated]);
        for r in ReviewReason::ALL {
            assert_eq!(ReviewReason::parse(r.as_str()).unwrap(), r);
        }
        assert!(ReviewReason::parse("angry").unwrap_err().0.contains("sla_breach"));
        assert!(parse_sample_size(MAX_SAMPLE_SIZE + 1).is_err());
        assert_eq!(parse_sample_size(0).unwrap(), 0);
    }

    #[test]
    fn a_sample_is_stable_for_its_seed_and_differs_between_weeks() {
        let ids: Vec<i64> = (1..=40).collect();
        let a = sample(&ids, 3, "account 1, week 2026-W49");
        assert_eq!(a.len(), 3);
        assert_eq!(a, sample(&ids, 3, "account 1, week 2026-W49"), "every node picks the same");
        let mut reversed = ids.clone();
        reversed.reverse();
        let mut b = sample(&reversed, 3, "account 1, week 2026-W49");
        b.reverse();
        assert_eq!(a, b, "whatever order they were read in");
        let weeks: Vec<Vec<i64>> = (40..52).map(|w| sample(&ids, 3, &format!("account 1, week 2026-W{w}"))).collect();
        assert!(weeks.iter().any(|w| *w != a), "another week, another sample");
        assert_eq!(sample(&ids[..2], 3, "s"), vec![1, 2], "fewer than asked: all of them");
        assert_eq!(sample(&[7, 7, 8], 5, "s"), vec![7, 8]);
        assert!(sample(&ids, 0, "s").is_empty());
    }
}
