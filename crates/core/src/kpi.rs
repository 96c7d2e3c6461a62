//! The KPIs (F11) read from summed rollups: each with its value, the
//! business's target, whether it is met, and the previous period's value.
//! Definitions: docs/metrics.md.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::report::{bucket_floor, metric};

/// Rollups summed over a period: (metric, bucket) → (count, total ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals(pub BTreeMap<(String, i64), (i64, i64)>);

/// A distribution of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dist {
    pub count: i64,
    pub mean_ms: Option<i64>,
    pub median_ms: Option<i64>,
    pub p90_ms: Option<i64>,
}

impl Totals {
    pub fn add(&mut self, metric: &str, bucket: i64, count: i64, total_ms: i64) {
        let e = self.0.entry((metric.to_owned(), bucket)).or_default();
        e.0 += count;
        e.1 += total_ms;
    }

    /// How many were counted under `metric`, every bucket.
    pub fn count(&self, metric: &str) -> i64 {
        self.buckets(metric).map(|(_, c, _)| c).sum()
    }

    /// How many under `metric` in buckets `pick` accepts.
    pub fn count_where(&self, metric: &str, pick: impl Fn(i64) -> bool) -> i64 {
        self.buckets(metric).filter(|(b, _, _)| pick(*b)).map(|(_, c, _)| c).sum()
    }

    /// (bucket, count, total ms) in bucket order.
    pub fn buckets<'a>(&'a self, metric: &'a str) -> impl Iterator<Item = (i64, i64, i64)> + 'a {
        self.0.iter().filter(move |((m, _), _)| m == metric).map(|((_, b), (c, t))| (*b, *c, *t))
    }

    /// Mean (exact) and nearest-rank median and 90th percentile (the
    /// floor of the bucket holding that rank; see `report::bucket_of`).
    pub fn dist(&self, metric: &str) -> Dist {
        let rows: Vec<(i64, i64, i64)> = self.buckets(metric).collect();
        let count: i64 = rows.iter().map(|r| r.1).sum();
        let total: i64 = rows.iter().map(|r| r.2).sum();
        let rank = |p: i64| {
            if count == 0 {
                return None;
            }
            // Nearest rank: the smallest value with at least p% of the values at or below it.
            let want = ((count * p + 99) / 100).max(1);
            let mut seen = 0;
            rows.iter()
                .find(|r| {
                    seen += r.1;
                    seen >= want
                })
                .map(|r| bucket_floor(r.0).as_millis() as i64)
        };
        Dist { count, mean_ms: (count > 0).then(|| total / count), median_ms: rank(50), p90_ms: rank(90) }
    }
}

/// The business's targets, one per KPI that has one (account settings
/// `targets`). Durations are in business time, compared with the median.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Targets {
    /// Minutes a customer may wait for the first answer (the inbox marks them late after it).
    pub first_response_minutes: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_hours: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution_rate_percent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csat_percent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nps: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_in_percent: Option<u32>,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            first_response_minutes: 15,
            reply_minutes: None,
            resolution_hours: None,
            resolution_rate_percent: None,
            csat_percent: None,
            nps: None,
            opt_in_percent: None,
        }
    }
}

/// A day; a longer first-response target would never mark anyone late on a working shift.
pub const MAX_TARGET_MINUTES: u32 = 24 * 60;

impl Targets {
    pub fn validated(self) -> Result<Self, Invalid> {
        let range = |name: &str, v: Option<i64>, lo: i64, hi: i64| match v {
            Some(v) if !(lo..=hi).contains(&v) => {
                Err(Invalid::new(format!("settings.targets.{name} must be {lo} to {hi} (got {v})")))
            }
            _ => Ok(()),
        };
        range("first_response_minutes", Some(self.first_response_minutes.into()), 1, MAX_TARGET_MINUTES.into())?;
        range("reply_minutes", self.reply_minutes.map(i64::from), 1, MAX_TARGET_MINUTES.into())?;
        range("resolution_hours", self.resolution_hours.map(i64::from), 1, 24 * 90)?;
        range("resolution_rate_percent", self.resolution_rate_percent.map(i64::from), 0, 100)?;
        range("csat_percent", self.csat_percent.map(i64::from), 0, 100)?;
        range("nps", self.nps.map(i64::from), -100, 100)?;
        range("opt_in_percent", self.opt_in_percent.map(i64::from), 0, 100)?;
        Ok(self)
    }

    /// What the fold marks breaches against.
    pub fn sla(&self) -> crate::report::SlaTargets {
        crate::report::SlaTargets {
            first_response: Some(SignedDuration::from_mins(self.first_response_minutes.into())),
            reply: self.reply_minutes.map(|m| SignedDuration::from_mins(m.into())),
            resolution: self.resolution_hours.map(|h| SignedDuration::from_hours(h.into())),
        }
    }
}

/// How a KPI's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Milliseconds.
    Duration,
    Percent,
    Count,
    /// A score (NPS, −100 to 100; conversations per agent).
    Number,
}

/// One KPI of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpi {
    pub key: &'static str,
    pub name: &'static str,
    pub unit: Unit,
    /// None when nothing was measured.
    pub value: Option<f64>,
    pub target: Option<f64>,
    /// Whether the value meets the target (None without either).
    pub met: Option<bool>,
    pub previous: Option<f64>,
    /// `better`, `worse`, `same`, or None without both values.
    pub trend: Option<&'static str>,
    /// Mean, median and 90th percentile for durations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dist: Option<Dist>,
}

fn pct(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

/// What agents resolved in a period: conversations resolved while assigned, and how many agents resolved any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentWork {
    pub resolved: i64,
    pub agents: i64,
}

/// The KPIs of a period from its totals, the previous period's, and what
/// agents resolved in each.
pub fn kpis(cur: &Totals, prev: &Totals, agents: (AgentWork, AgentWork), targets: &Targets) -> Vec<Kpi> {
    let mins = |m: u32| f64::from(m) * 60_000.0;
    let mut out = Vec::new();
    // (key, name, unit, value fn, target, lower is better)
    type ValueOf = Box<dyn Fn(&Totals, AgentWork) -> Option<f64>>;
    let median = |m: &'static str| -> ValueOf { Box::new(move |t: &Totals, _| t.dist(m).median_ms.map(|v| v as f64)) };
    // (key, name, unit, value, target, lower is better)
    type Def = (&'static str, &'static str, Unit, ValueOf, Option<f64>, bool);
    let rows: Vec<Def> = vec![
        (
            metric::FIRST_RESPONSE_BUSINESS,
            "First response (business hours)",
            Unit::Duration,
            median(metric::FIRST_RESPONSE_BUSINESS),
            Some(mins(targets.first_response_minutes)),
            true,
        ),
        (
            metric::FIRST_RESPONSE,
            "First response (wall clock)",
            Unit::Duration,
            median(metric::FIRST_RESPONSE),
            None,
            true,
        ),
        (
            metric::REPLY_BUSINESS,
            "Reply time (business hours)",
            Unit::Duration,
            median(metric::REPLY_BUSINESS),
            targets.reply_minutes.map(mins),
            true,
        ),
        (metric::REPLY, "Reply time (wall clock)", Unit::Duration, median(metric::REPLY), None, true),
        (
            metric::RESOLUTION_BUSINESS,
            "Resolution time (business hours)",
            Unit::Duration,
            median(metric::RESOLUTION_BUSINESS),
            targets.resolution_hours.map(|h| f64::from(h) * 3_600_000.0),
            true,
        ),
        (metric::RESOLUTION, "Resolution time (wall clock)", Unit::Duration, median(metric::RESOLUTION), None, true),
        (
            "resolution_rate",
            "Resolution rate",
            Unit::Percent,
            Box::new(|t: &Totals, _| {
                pct(t.count(metric::RESOLVED), t.count(metric::CONVERSATIONS) + t.count(metric::REOPENED))
            }),
            targets.resolution_rate_percent.map(f64::from),
            false,
        ),
        (
            "conversations_per_agent",
            "Resolved conversations per agent",
            Unit::Number,
            Box::new(|_: &Totals, w: AgentWork| (w.agents > 0).then(|| w.resolved as f64 / w.agents as f64)),
            None,
            false,
        ),
        (
            "csat",
            "CSAT (4s and 5s)",
            Unit::Percent,
            Box::new(|t: &Totals, _| pct(t.count_where(metric::CSAT, |b| b >= 4), t.count(metric::CSAT))),
            targets.csat_percent.map(f64::from),
            false,
        ),
        (
            "csat_response_rate",
            "CSAT response rate",
            Unit::Percent,
            Box::new(|t: &Totals, _| pct(t.count(metric::CSAT), t.count_where(metric::SURVEY_SENT, |b| b == 0))),
            None,
            false,
        ),
        (
            "nps",
            "NPS",
            Unit::Number,
            Box::new(|t: &Totals, _| {
                let n = t.count(metric::NPS);
                let promoters = pct(t.count_where(metric::NPS, |b| b >= 9), n)?;
                let detractors = pct(t.count_where(metric::NPS, |b| b <= 6), n)?;
                Some(promoters - detractors)
            }),
            targets.nps.map(f64::from),
            false,
        ),
        (
            "opt_in_adoption",
            "Opt-in adoption",
            Unit::Percent,
            Box::new(|t: &Totals, _| pct(t.count(metric::CONTACTS_OPTED_IN), t.count(metric::CONTACTS_TEXTED))),
            targets.opt_in_percent.map(f64::from),
            false,
        ),
        (
            "sla_breaches",
            "Targets missed",
            Unit::Count,
            Box::new(|t: &Totals, _| {
                let missed = [metric::SLA_FIRST_RESPONSE, metric::SLA_REPLY, metric::SLA_RESOLUTION];
                Some(missed.iter().map(|m| t.count(m)).sum::<i64>() as f64)
            }),
            None,
            true,
        ),
        (
            metric::CONVERSATIONS,
            "New conversations",
            Unit::Count,
            Box::new(|t: &Totals, _| Some(t.count(metric::CONVERSATIONS) as f64)),
            None,
            false,
        ),
        (
            metric::ESCALATED,
            "Escalations",
            Unit::Count,
            Box::new(|t: &Totals, _| Some(t.count(metric::ESCALATED) as f64)),
            None,
            true,
        ),
        (
            metric::HANDOFFS,
            "Handoffs from self-service",
            Unit::Count,
            Box::new(|t: &Totals, _| Some(t.count(metric::HANDOFFS) as f64)),
            None,
            false,
        ),
    ];
    for (key, name, unit, value_of, target, lower_better) in rows {
        let value = value_of(cur, agents.0);
        let previous = value_of(prev, agents.1);
        let met = match (value, target) {
            (Some(v), Some(t)) => Some(if lower_better { v <= t } else { v >= t }),
            _ => None,
        };
        let trend = trend(value, previous, lower_better);
        let dist = (unit == Unit::Duration).then(|| cur.dist(key));
        out.push(Kpi { key, name, unit, value, target, met, previous, trend, dist });
    }
    out
}

/// How a value moved from the period before: `better`, `worse`, `same`, or
/// None without both.
pub fn trend(value: Option<f64>, previous: Option<f64>, lower_better: bool) -> Option<&'static str> {
    match (value, previous) {
        (Some(v), Some(p)) if (v - p).abs() < 1e-9 => Some("same"),
        (Some(v), Some(p)) => Some(if (v < p) == lower_better { "better" } else { "worse" }),
        _ => None,
    }
}

/// A duration in words for people: "4 min", "2 h 5 min", "3 d 4 h".
pub fn describe_ms(ms: f64) -> String {
    let s = (ms / 1000.0).round() as i64;
    match s {
        ..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => match (s % 3600) / 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => match (s % 86_400) / 3600 {
            0 => format!("{} d", s / 86_400),
            h => format!("{} d {h} h", s / 86_400),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_merge_across_cells_by_nearest_rank() {
        let mut t = Totals::default();
        // 1, 2, 3, 4, 10 minutes, spread over buckets.
        for m in [1, 2, 3, 4, 10] {
            t.add("x", crate::report::bucket_of(SignedDuration::from_mins(m)), 1, m * 60_000);
        }
        let d = t.dist("x");
        assert_eq!(d.count, 5);
        assert_eq!(d.mean_ms, Some(4 * 60_000));
        assert_eq!(d.median_ms, Some(3 * 60_000));
        assert_eq!(d.p90_ms, Some(10 * 60_000));
        assert_eq!(Totals::default().dist("x").median_ms, None);
    }

    #[test]
    fn targets_are_met_or_not_and_trends_read_the_right_way() {
        let mut cur = Totals::default();
        cur.add(metric::CSAT, 5, 3, 0);
        cur.add(metric::CSAT, 2, 1, 0);
        let mut prev = Totals::default();
        prev.add(metric::CSAT, 5, 1, 0);
        prev.add(metric::CSAT, 1, 1, 0);
        let t = Targets { csat_percent: Some(80), ..Targets::default() };
        let k = kpis(&cur, &prev, Default::default(), &t);
        let csat = k.iter().find(|k| k.key == "csat").unwrap();
        assert_eq!(
            (csat.value, csat.previous, csat.met, csat.trend),
            (Some(75.0), Some(50.0), Some(false), Some("better"))
        );
        let fr = k.iter().find(|k| k.key == metric::FIRST_RESPONSE_BUSINESS).unwrap();
        assert_eq!((fr.value, fr.target, fr.met), (None, Some(900_000.0), None));
    }

    #[test]
    fn targets_out_of_range_are_refused_by_name() {
        let bad = Targets { csat_percent: Some(101), ..Targets::default() }.validated().unwrap_err();
        assert!(bad.0.contains("csat_percent"), "{bad}");
        assert!(Targets { first_response_minutes: 0, ..Targets::default() }.validated().is_err());
        assert!(Targets { nps: Some(-100), ..Targets::default() }.validated().is_ok());
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(describe_ms(45_000.0), "45 s");
        assert_eq!(describe_ms(300_000.0), "5 min");
        assert_eq!(describe_ms(7_500_000.0), "2 h 5 min");
        assert_eq!(describe_ms(2.0 * 86_400_000.0 + 3_600_000.0), "2 d 1 h");
    }
}
