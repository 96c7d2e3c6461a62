//! A report: the KPIs of a period against the business's targets and the
//! period before, its trend, channels, agents and hours, read from summed
//! rollups; and the same as CSV tables.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;
use textdesk_core::kpi::{AgentWork, Kpi, Totals, kpis};
use textdesk_core::period::Period;
use textdesk_core::report::metric;
use textdesk_core::{LabelName, Role};
use textdesk_store::{DayRange, GroupBy, ReportFilter, ReportRow, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// A report as asked for (from a query string, a form or the CLI): every
/// part optional, checked by [`Services::report`].
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct ReportAsk {
    /// `2026-11`, `2026-Q4`, `2026-W45`, `2026-11-03`, `2026`, `2026-11-01..2026-11-15`; this month by default.
    pub period: Option<String>,
    pub inbox_id: Option<String>,
    pub team_id: Option<String>,
    pub agent_id: Option<String>,
    /// The medium: sms, whatsapp…
    pub channel: Option<String>,
    pub label: Option<String>,
}

/// One step of the trend.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub start: Date,
    pub conversations: i64,
    pub resolved: i64,
    pub messages_in: i64,
    pub first_response_business_median_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelShare {
    pub channel: String,
    pub conversations: i64,
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgentRow {
    pub agent_id: i64,
    pub name: String,
    pub resolved: i64,
    pub first_response_business_median_ms: Option<i64>,
    pub csat_percent: Option<f64>,
    /// Reviews scored in the period with an overall score, and their mean overall percentage.
    pub reviews: i64,
    pub review_score_percent: Option<f64>,
    /// The same for the period before, and how the mean moved (`better`, `worse`, `same`).
    pub review_score_previous: Option<f64>,
    pub review_trend: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub period: Period,
    pub period_label: String,
    pub previous: Period,
    /// The clock days and hours are on (the business's).
    pub time_zone: String,
    pub kpis: Vec<Kpi>,
    /// By day up to two months, by week up to half a year, by month beyond.
    pub trend: Vec<Point>,
    pub trend_step: &'static str,
    pub channels: Vec<ChannelShare>,
    pub agents: Vec<AgentRow>,
    /// Customers' messages by weekday (Monday first) × hour of the day.
    pub hours: Vec<Vec<i64>>,
    /// Escalations by kind.
    pub escalations: Vec<(&'static str, i64)>,
}

fn totals(rows: impl IntoIterator<Item = ReportRow>) -> Totals {
    let mut t = Totals::default();
    for r in rows {
        t.add(&r.metric, r.bucket, r.count, r.total_ms);
    }
    t
}

fn id(v: &Option<String>, what: &str) -> ServiceResult<Option<i64>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| ServiceError::invalid(format!("{what} must be a number"))),
    }
}

fn range(p: &Period) -> DayRange {
    DayRange { from: p.from, to: p.to }
}

/// The period's instants on the business's clock: its first day's start to the start of the day after its last.
fn instants(p: &Period, zone: &TimeZone) -> ServiceResult<(Timestamp, Timestamp)> {
    let start = |d: Date| {
        d.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|e| ServiceError::Internal(format!("the period's days do not fit the clock: {e}")))
    };
    let after = p.to.tomorrow().map_err(|e| ServiceError::invalid(format!("the period ends too late: {e}")))?;
    Ok((start(p.from)?, start(after)?))
}

/// Reviews per agent: (how many, mean overall percentage).
fn review_means(rows: Vec<(i64, i64, i64)>) -> BTreeMap<i64, (i64, f64)> {
    rows.into_iter().filter(|r| r.1 > 0).map(|(agent, n, total)| (agent, (n, total as f64 / n as f64))).collect()
}

/// The first day of the trend's step holding `d`.
fn step_start(d: Date, step: &str) -> Date {
    match step {
        "week" => d - i64::from(d.weekday().to_monday_zero_offset()).days(),
        "month" => d.first_of_month(),
        _ => d,
    }
}

impl Services {
    /// Reads an ask into a period and filters of this account (an id of
    /// another account's inbox, team or agent is not found).
    async fn report_filter(&self, account_id: i64, ask: &ReportAsk) -> ServiceResult<(Period, ReportFilter)> {
        let zone = self.business_zone(account_id).await?;
        let period = match ask.period.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => Period::parse(p)?,
            None => Period::month_of(jiff::Timestamp::now().to_zoned(zone).date()),
        };
        let filter = ReportFilter {
            inbox_id: id(&ask.inbox_id, "inbox_id")?,
            team_id: id(&ask.team_id, "team_id")?,
            agent_id: id(&ask.agent_id, "agent_id")?,
            medium: match ask.channel.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(c) if c.len() <= 20 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
                    Some(c.to_owned())
                }
                Some(_) => return Err(ServiceError::invalid("channel must be a medium such as sms or whatsapp")),
            },
            label: match ask.label.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => None,
                Some(l) => Some(LabelName::parse(l)?.as_str().to_owned()),
            },
        };
        if let Some(i) = filter.inbox_id {
            self.store.inbox(account_id, i).await?;
        }
        if let Some(t) = filter.team_id
            && !self.store.teams(account_id).await?.iter().any(|x| x.id == t)
        {
            return Err(ServiceError::NotFound("team"));
        }
        if let Some(a) = filter.agent_id
            && !self.store.users(account_id).await?.iter().any(|u| u.id == a)
        {
            return Err(ServiceError::NotFound("user"));
        }
        Ok((period, filter))
    }

    /// The report a supervisor or admin asked for (agents may not read reports).
    pub async fn report(&self, user: &User, ask: &ReportAsk) -> ServiceResult<Report> {
        if !user.role.at_least(Role::Supervisor) {
            return Err(ServiceError::forbidden("reports are for supervisors and admins"));
        }
        self.report_for(user.account_id, ask).await
    }

    /// The report of an account, for the operator's command and the monthly summary.
    pub async fn report_for(&self, account_id: i64, ask: &ReportAsk) -> ServiceResult<Report> {
        let (period, filter) = self.report_filter(account_id, ask).await?;
        let previous = period.previous();
        let st = &self.store;
        let cur = totals(st.report_rows(account_id, &filter, range(&period), GroupBy::Nothing, &[]).await?);
        let prev = totals(st.report_rows(account_id, &filter, range(&previous), GroupBy::Nothing, &[]).await?);
        let by_agent = st
            .report_rows(
                account_id,
                &filter,
                range(&period),
                GroupBy::Agent,
                &[metric::RESOLVED, metric::FIRST_RESPONSE_BUSINESS, metric::CSAT],
            )
            .await?;
        let prev_agents =
            st.report_rows(account_id, &filter, range(&previous), GroupBy::Agent, &[metric::RESOLVED]).await?;
        // Resolved while assigned, and by how many agents.
        let resolving = |rows: &[ReportRow]| {
            let mut ids: Vec<&str> = Vec::new();
            let mut resolved = 0;
            for r in rows.iter().filter(|r| r.metric == metric::RESOLVED && r.key != "0") {
                ids.push(&r.key);
                resolved += r.count;
            }
            ids.sort_unstable();
            ids.dedup();
            AgentWork { resolved, agents: ids.len() as i64 }
        };
        let settings = self.account_settings(account_id).await?;
        let kpis = kpis(&cur, &prev, (resolving(&by_agent), resolving(&prev_agents)), &settings.targets);

        let days = period.days();
        let trend_step = if days <= 62 {
            "day"
        } else if days <= 190 {
            "week"
        } else {
            "month"
        };
        let trend_metrics =
            [metric::CONVERSATIONS, metric::RESOLVED, metric::MESSAGES_IN, metric::FIRST_RESPONSE_BUSINESS];
        let mut steps: BTreeMap<Date, Totals> = BTreeMap::new();
        let mut d = step_start(period.from, trend_step);
        while d <= period.to {
            steps.insert(d, Totals::default());
            d = match trend_step {
                "week" => d + 7.days(),
                "month" => d + 1.month(),
                _ => d + 1.day(),
            };
        }
        // By month, the monthly rows answer (a year is twelve months' rows, not 365 days').
        let by = if trend_step == "month" { GroupBy::Month } else { GroupBy::Day };
        for r in st.report_rows(account_id, &filter, range(&period), by, &trend_metrics).await? {
            let key = if by == GroupBy::Month { format!("{}-01", r.key) } else { r.key.clone() };
            let Ok(day) = key.parse::<Date>() else { continue };
            steps.entry(step_start(day, trend_step)).or_default().add(&r.metric, r.bucket, r.count, r.total_ms);
        }
        let trend = steps
            .into_iter()
            .map(|(start, t)| Point {
                start,
                conversations: t.count(metric::CONVERSATIONS),
                resolved: t.count(metric::RESOLVED),
                messages_in: t.count(metric::MESSAGES_IN),
                first_response_business_median_ms: t.dist(metric::FIRST_RESPONSE_BUSINESS).median_ms,
            })
            .collect();

        let by_medium =
            st.report_rows(account_id, &filter, range(&period), GroupBy::Medium, &[metric::CONVERSATIONS]).await?;
        let all: i64 = by_medium.iter().map(|r| r.count).sum();
        let mut channels: Vec<ChannelShare> = by_medium
            .into_iter()
            .map(|r| ChannelShare {
                channel: r.key,
                conversations: r.count,
                percent: if all > 0 { 100.0 * r.count as f64 / all as f64 } else { 0.0 },
            })
            .collect();
        channels.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.channel.cmp(&b.channel)));

        let names: BTreeMap<i64, String> = st.users(account_id).await?.into_iter().map(|u| (u.id, u.name)).collect();
        let zone = self.business_zone(account_id).await?;
        let reviews = review_means(st.review_scores(account_id, &filter, instants(&period, &zone)?).await?);
        let reviews_before = review_means(st.review_scores(account_id, &filter, instants(&previous, &zone)?).await?);
        let mut per_agent: BTreeMap<i64, Totals> = BTreeMap::new();
        // An agent whose work was only reviewed in the period has a row too.
        for agent in reviews.keys() {
            per_agent.entry(*agent).or_default();
        }
        for r in by_agent {
            if let Ok(a) = r.key.parse::<i64>()
                && a > 0
            {
                per_agent.entry(a).or_default().add(&r.metric, r.bucket, r.count, r.total_ms);
            }
        }
        let mut agents: Vec<AgentRow> = per_agent
            .into_iter()
            .map(|(agent_id, t)| {
                let answers = t.count(metric::CSAT);
                let reviewed = reviews.get(&agent_id).copied();
                let score = reviewed.map(|r| r.1);
                let before = reviews_before.get(&agent_id).map(|r| r.1);
                AgentRow {
                    agent_id,
                    name: names.get(&agent_id).cloned().unwrap_or_else(|| format!("user {agent_id}")),
                    resolved: t.count(metric::RESOLVED),
                    first_response_business_median_ms: t.dist(metric::FIRST_RESPONSE_BUSINESS).median_ms,
                    csat_percent: (answers > 0)
                        .then(|| 100.0 * t.count_where(metric::CSAT, |b| b >= 4) as f64 / answers as f64),
                    reviews: reviewed.map(|r| r.0).unwrap_or(0),
                    review_score_percent: score,
                    review_score_previous: before,
                    review_trend: textdesk_core::kpi::trend(score, before, false),
                }
            })
            .collect();
        agents.sort_by(|a, b| b.resolved.cmp(&a.resolved).then(a.name.cmp(&b.name)));

        let mut hours = vec![vec![0; 24]; 7];
        for (b, count, _) in cur.buckets(metric::MESSAGES_IN) {
            if (0..168).contains(&b) {
                hours[(b / 24) as usize][(b % 24) as usize] += count;
            }
        }
        let escalations = textdesk_core::escalation::EscalationKind::ALL
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), cur.count_where(metric::ESCALATED, |b| b == i as i64)))
            .collect();
        Ok(Report {
            period_label: period.label(),
            period,
            previous,
            time_zone: settings.time_zone,
            kpis,
            trend,
            trend_step,
            channels,
            agents,
            hours,
            escalations,
        })
    }
}

/// The CSV tables a report downloads as.
pub const CSV_TABLES: [&str; 5] = ["kpis", "trend", "agents", "channels", "hours"];

/// A field as CSV: quoted when it must be, and text a spreadsheet would run
/// as a formula (a name starting with `=`, `+`, `-`, `@`) kept as text.
fn field(s: &str) -> String {
    let s = match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if s.parse::<f64>().is_err() => format!("'{s}"),
        _ => s.to_owned(),
    };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}", v).trim_end_matches('0').trim_end_matches('.').to_owned()).unwrap_or_default()
}

fn ms(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// One table of the report as CSV (durations in milliseconds, percentages 0–100).
pub fn csv(r: &Report, table: &str) -> ServiceResult<String> {
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    };
    match table {
        "kpis" => {
            line(
                [
                    "kpi",
                    "name",
                    "unit",
                    "value",
                    "target",
                    "met",
                    "previous",
                    "trend",
                    "mean_ms",
                    "median_ms",
                    "p90_ms",
                ]
                .map(String::from)
                .to_vec(),
            );
            for k in &r.kpis {
                let d = k.dist;
                line(vec![
                    k.key.into(),
                    k.name.into(),
                    serde_json::to_value(k.unit).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                    num(k.value),
                    num(k.target),
                    k.met.map(|m| if m { "yes" } else { "no" }.to_owned()).unwrap_or_default(),
                    num(k.previous),
                    k.trend.unwrap_or_default().into(),
                    ms(d.and_then(|d| d.mean_ms)),
                    ms(d.and_then(|d| d.median_ms)),
                    ms(d.and_then(|d| d.p90_ms)),
                ]);
            }
        }
        "trend" => {
            line(
                ["start", "conversations", "resolved", "messages_in", "first_response_business_median_ms"]
                    .map(String::from)
                    .to_vec(),
            );
            for p in &r.trend {
                line(vec![
                    p.start.to_string(),
                    p.conversations.to_string(),
                    p.resolved.to_string(),
                    p.messages_in.to_string(),
                    ms(p.first_response_business_median_ms),
                ]);
            }
        }
        "agents" => {
            line(
                [
                    "agent_id",
                    "name",
                    "resolved",
                    "first_response_business_median_ms",
                    "csat_percent",
                    "reviews",
                    "review_score_percent",
                    "review_score_previous",
                    "review_trend",
                ]
                .map(String::from)
                .to_vec(),
            );
            for a in &r.agents {
                line(vec![
                    a.agent_id.to_string(),
                    a.name.clone(),
                    a.resolved.to_string(),
                    ms(a.first_response_business_median_ms),
                    num(a.csat_percent),
                    a.reviews.to_string(),
                    num(a.review_score_percent),
                    num(a.review_score_previous),
                    a.review_trend.unwrap_or_default().into(),
                ]);
            }
        }
        "channels" => {
            line(["channel", "conversations", "percent"].map(String::from).to_vec());
            for c in &r.channels {
                line(vec![c.channel.clone(), c.conversations.to_string(), num(Some(c.percent))]);
            }
        }
        "hours" => {
            let mut head = vec!["weekday".to_owned()];
            head.extend((0..24).map(|h| format!("{h:02}")));
            line(head);
            for (day, row) in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].iter().zip(&r.hours) {
                let mut cells = vec![day.to_string()];
                cells.extend(row.iter().map(|c| c.to_string()));
                line(cells);
            }
        }
        other => {
            return Err(ServiceError::invalid(format!(
                "{other:?} is not a report table; use one of {}",
                CSV_TABLES.join(", ")
            )));
        }
    }
    Ok(out)
}
