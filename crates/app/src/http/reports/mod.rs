//! Reports (F11): the `/reports` page for supervisors and admins (KPIs
//! against targets and the period before, SVG charts, CSV downloads) and
//! `GET /api/v1/reports` (+ `/csv`). Every door reads the same
//! `Services::report`.

pub mod api;
pub mod charts;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use textdesk_core::Role;
use textdesk_core::kpi::Kpi;

use crate::http::extract::{Query, UiUser};
use crate::http::layout::{Chrome, chrome};
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::reports::build::{AgentRow, CSV_TABLES, Report, ReportAsk, csv};
use crate::services::reports::summary::value_text;

/// A choice in a filter.
pub(crate) struct Choice {
    value: String,
    name: String,
}

pub(crate) struct KpiRow {
    key: &'static str,
    name: &'static str,
    value: String,
    target: String,
    /// `met`, `missed` or empty (no target or nothing measured).
    met: &'static str,
    previous: String,
    /// `better`, `worse`, `same` or empty.
    trend: &'static str,
    /// Mean and 90th percentile for durations.
    spread: String,
}

pub(crate) struct AgentLine {
    name: String,
    resolved: i64,
    first_response: String,
    csat: String,
    /// "80% (2 reviews)", or empty.
    review: String,
    /// The period before's mean and the trend, in words.
    review_before: String,
    review_trend: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports.html")]
pub(crate) struct ReportsPage {
    chrome: Chrome,
    zone: String,
    period: String,
    period_label: String,
    previous_label: String,
    from: String,
    to: String,
    ask: ReportAsk,
    inboxes: Vec<Choice>,
    teams: Vec<Choice>,
    agents: Vec<Choice>,
    channels: Vec<Choice>,
    labels: Vec<Choice>,
    kpis: Vec<KpiRow>,
    trend_svg: String,
    trend_step: &'static str,
    channels_svg: String,
    hours_svg: String,
    agent_rows: Vec<AgentLine>,
    escalations: Vec<(&'static str, i64)>,
    /// The filters as a query string, for the CSV links.
    query: String,
    tables: Vec<&'static str>,
}

impl ReportsPage {
    fn selected(&self, which: &str, value: &str) -> bool {
        let v = match which {
            "inbox" => &self.ask.inbox_id,
            "team" => &self.ask.team_id,
            "agent" => &self.ask.agent_id,
            "channel" => &self.ask.channel,
            _ => &self.ask.label,
        };
        v.as_deref() == Some(value)
    }
}

fn kpi_row(k: &Kpi) -> KpiRow {
    KpiRow {
        key: k.key,
        name: k.name,
        value: value_text(k.unit, k.value),
        target: k.target.map(|t| value_text(k.unit, Some(t))).unwrap_or_default(),
        met: match k.met {
            Some(true) => "met",
            Some(false) => "missed",
            None => "",
        },
        previous: value_text(k.unit, k.previous),
        trend: k.trend.unwrap_or_default(),
        spread: k
            .dist
            .filter(|d| d.count > 0)
            .map(|d| {
                format!(
                    "{} measured · mean {} · 90% within {}",
                    d.count,
                    value_text(k.unit, d.mean_ms.map(|v| v as f64)),
                    value_text(k.unit, d.p90_ms.map(|v| v as f64))
                )
            })
            .unwrap_or_default(),
    }
}

fn agent_line(a: &AgentRow) -> AgentLine {
    AgentLine {
        name: a.name.clone(),
        resolved: a.resolved,
        first_response: value_text(
            textdesk_core::kpi::Unit::Duration,
            a.first_response_business_median_ms.map(|v| v as f64),
        ),
        csat: value_text(textdesk_core::kpi::Unit::Percent, a.csat_percent),
        review: match a.review_score_percent {
            Some(v) if a.reviews == 1 => format!("{v:.0}% (1 review)"),
            Some(v) => format!("{v:.0}% ({} reviews)", a.reviews),
            None => "—".into(),
        },
        review_before: value_text(textdesk_core::kpi::Unit::Percent, a.review_score_previous),
        review_trend: a.review_trend.unwrap_or_default(),
    }
}

/// The ask as a query string (empty parts left out).
pub(crate) fn query_of(ask: &ReportAsk, period: &str) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("period", period);
    for (k, v) in [
        ("inbox_id", &ask.inbox_id),
        ("team_id", &ask.team_id),
        ("agent_id", &ask.agent_id),
        ("channel", &ask.channel),
        ("label", &ask.label),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
            q.append_pair(k, v.trim());
        }
    }
    q.finish()
}

async fn page(s: &AppState, ui: &UiUser, ask: ReportAsk) -> Result<ReportsPage, Problem> {
    let r: Report = s.services.report(&ui.user, &ask).await?;
    let account = ui.user.account_id;
    let inboxes = s.services.inboxes(account).await?;
    let mut channels: Vec<String> = inboxes.iter().map(|i| i.medium.as_str().to_owned()).collect();
    channels.sort();
    channels.dedup();
    let choice = |value: String, name: String| Choice { value, name };
    let period_label = r.period_label.clone();
    Ok(ReportsPage {
        chrome: chrome(s, ui),
        zone: r.time_zone.clone(),
        query: query_of(&ask, &period_label),
        period: period_label.clone(),
        previous_label: r.previous.label(),
        from: r.period.from.strftime("%b %-d, %Y").to_string(),
        to: r.period.to.strftime("%b %-d, %Y").to_string(),
        period_label,
        inboxes: inboxes.into_iter().map(|i| choice(i.id.to_string(), i.name)).collect(),
        teams: s.services.teams(account).await?.into_iter().map(|t| choice(t.id.to_string(), t.name)).collect(),
        agents: s.services.users(account).await?.into_iter().map(|u| choice(u.id.to_string(), u.name)).collect(),
        channels: channels.into_iter().map(|c| choice(c.clone(), c)).collect(),
        labels: s.services.labels(&ui.user).await?.into_iter().map(|l| choice(l.name.clone(), l.name)).collect(),
        kpis: r.kpis.iter().map(kpi_row).collect(),
        trend_svg: charts::trend(&r.trend, r.trend_step),
        trend_step: r.trend_step,
        channels_svg: charts::channels(&r.channels),
        hours_svg: charts::heat_map(&r.hours),
        agent_rows: r.agents.iter().map(agent_line).collect(),
        escalations: r.escalations.clone(),
        ask,
        tables: CSV_TABLES.to_vec(),
    })
}

/// `/reports`: supervisors and admins (agents get the 403 page).
pub(crate) async fn reports_page(State(s): State<AppState>, ui: UiUser, Query(ask): Query<ReportAsk>) -> Response {
    if !ui.user.role.at_least(Role::Supervisor) {
        return Problem::forbidden("reports are for supervisors and admins").into_response();
    }
    match page(&s, &ui, ask).await {
        Ok(p) => p.into_response(),
        Err(p) => p.into_response(),
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct CsvQuery {
    #[serde(flatten)]
    ask: ReportAsk,
    table: Option<String>,
}

/// `/reports.csv?table=…`: one table of the report the page shows.
pub(crate) async fn reports_csv(State(s): State<AppState>, ui: UiUser, Query(q): Query<CsvQuery>) -> Response {
    match csv_body(&s, &ui.user, &q.ask, q.table.as_deref()).await {
        Ok(r) => r,
        Err(p) => p.into_response(),
    }
}

/// A CSV table as a download named after the period and table.
pub(crate) async fn csv_body(
    s: &AppState,
    user: &textdesk_store::User,
    ask: &ReportAsk,
    table: Option<&str>,
) -> Result<Response, Problem> {
    let table = table.unwrap_or("kpis");
    let r = s.services.report(user, ask).await?;
    let body = csv(&r, table)?;
    let name = format!("attachment; filename=\"report-{}-{table}.csv\"", r.period_label.replace("..", "_"));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response())
}
