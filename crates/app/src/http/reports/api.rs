//! `GET /api/v1/reports` (the report as JSON) and `GET /api/v1/reports/csv`
//! (one of its tables), for supervisors and admins.

use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::extract::{ApiSupervisor, Json, Query};
use crate::http::problem::{ApiResult, ProblemOut};
use crate::http::state::AppState;
use crate::services::reports::build::{Report, ReportAsk};

/// The report's filters; every one optional.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `2026-11` (month), `2026-Q4`, `2026-W45` (ISO week), `2026-11-03` (day), `2026` (year) or
    /// `2026-11-01..2026-11-15` (both days included); this month by default. Days are the business's.
    period: Option<String>,
    inbox_id: Option<String>,
    team_id: Option<String>,
    agent_id: Option<String>,
    /// The medium: `sms`, `whatsapp`…
    channel: Option<String>,
    /// A label of the catalogue: conversations that had it.
    label: Option<String>,
    /// For `/reports/csv`: `kpis` (default), `trend`, `agents`, `channels` or `hours`.
    table: Option<String>,
}

impl ReportQuery {
    fn ask(self) -> (ReportAsk, Option<String>) {
        let ask = ReportAsk {
            period: self.period,
            inbox_id: self.inbox_id,
            team_id: self.team_id,
            agent_id: self.agent_id,
            channel: self.channel,
            label: self.label,
        };
        (ask, self.table)
    }
}

/// One KPI: its value, the business's target, whether it is met, and the previous period's value.
#[derive(Serialize, ToSchema)]
pub struct KpiOut {
    /// `first_response_business`, `first_response`, `reply_business`, `reply`, `resolution_business`,
    /// `resolution`, `resolution_rate`, `conversations_per_agent`, `csat`, `csat_response_rate`, `nps`,
    /// `opt_in_adoption`, `sla_breaches`, `conversations`, `escalated`, `handoffs`.
    key: String,
    name: String,
    /// `duration` (milliseconds; the median), `percent` (0–100), `count` or `number`.
    unit: String,
    value: Option<f64>,
    target: Option<f64>,
    met: Option<bool>,
    previous: Option<f64>,
    /// `better`, `worse` or `same` against the previous period.
    trend: Option<String>,
    mean_ms: Option<i64>,
    median_ms: Option<i64>,
    p90_ms: Option<i64>,
    /// How many durations were measured.
    measured: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TrendOut {
    start: String,
    conversations: i64,
    resolved: i64,
    messages_in: i64,
    first_response_business_median_ms: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelOut {
    channel: String,
    conversations: i64,
    percent: f64,
}

#[derive(Serialize, ToSchema)]
pub struct AgentOut {
    agent_id: i64,
    name: String,
    resolved: i64,
    first_response_business_median_ms: Option<i64>,
    csat_percent: Option<f64>,
    /// Reviews of the agent scored in the period (with an overall score).
    reviews: i64,
    /// Their mean overall score, percent of the rubric's maximum.
    review_score_percent: Option<f64>,
    /// The same in the period before.
    review_score_previous: Option<f64>,
    /// `better`, `worse` or `same` against the period before.
    review_trend: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportOut {
    /// As written: `2026-11`.
    period: String,
    from: String,
    to: String,
    previous_from: String,
    previous_to: String,
    /// The business's clock days and hours are on.
    time_zone: String,
    kpis: Vec<KpiOut>,
    /// `day`, `week` or `month`.
    trend_step: String,
    trend: Vec<TrendOut>,
    channels: Vec<ChannelOut>,
    agents: Vec<AgentOut>,
    /// Customers' messages: 7 rows (Monday first) of 24 hours.
    hours: Vec<Vec<i64>>,
    /// Escalations by kind.
    escalations: Vec<EscalationCountOut>,
}

#[derive(Serialize, ToSchema)]
pub struct EscalationCountOut {
    /// `supervisor`, `call`, `callback`, `video` or `email`.
    kind: String,
    count: i64,
}

impl From<Report> for ReportOut {
    fn from(r: Report) -> Self {
        ReportOut {
            period: r.period_label,
            from: r.period.from.to_string(),
            to: r.period.to.to_string(),
            previous_from: r.previous.from.to_string(),
            previous_to: r.previous.to.to_string(),
            time_zone: r.time_zone,
            kpis: r
                .kpis
                .into_iter()
                .map(|k| KpiOut {
                    key: k.key.into(),
                    name: k.name.into(),
                    unit: serde_json::to_value(k.unit)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        .unwrap_or_default(),
                    value: k.value,
                    target: k.target,
                    met: k.met,
                    previous: k.previous,
                    trend: k.trend.map(String::from),
                    mean_ms: k.dist.and_then(|d| d.mean_ms),
                    median_ms: k.dist.and_then(|d| d.median_ms),
                    p90_ms: k.dist.and_then(|d| d.p90_ms),
                    measured: k.dist.map(|d| d.count),
                })
                .collect(),
            trend_step: r.trend_step.into(),
            trend: r
                .trend
                .into_iter()
                .map(|p| TrendOut {
                    start: p.start.to_string(),
                    conversations: p.conversations,
                    resolved: p.resolved,
                    messages_in: p.messages_in,
                    first_response_business_median_ms: p.first_response_business_median_ms,
                })
                .collect(),
            channels: r
                .channels
                .into_iter()
                .map(|c| ChannelOut { channel: c.channel, conversations: c.conversations, percent: c.percent })
                .collect(),
            agents: r
                .agents
                .into_iter()
                .map(|a| AgentOut {
                    agent_id: a.agent_id,
                    name: a.name,
                    resolved: a.resolved,
                    first_response_business_median_ms: a.first_response_business_median_ms,
                    csat_percent: a.csat_percent,
                    reviews: a.reviews,
                    review_score_percent: a.review_score_percent,
                    review_score_previous: a.review_score_previous,
                    review_trend: a.review_trend.map(String::from),
                })
                .collect(),
            hours: r.hours,
            escalations: r
                .escalations
                .into_iter()
                .map(|(kind, count)| EscalationCountOut { kind: kind.to_owned(), count })
                .collect(),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportQuery),
    responses((status = 200, body = ReportOut), (status = 403, body = ProblemOut, description = "Agents do not read reports"),
        (status = 404, body = ProblemOut, description = "An inbox, team or agent of another account"),
        (status = 422, body = ProblemOut, description = "A period or filter that does not read")),
    security(("bearer" = [])))]
pub async fn get_report(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<ReportOut>> {
    let (ask, _) = q.ask();
    Ok(Json(s.services.report(&u, &ask).await?.into()))
}

#[utoipa::path(get, path = "/api/v1/reports/csv", tag = "reports", params(ReportQuery),
    responses((status = 200, content_type = "text/csv", description = "One table of the report (durations in milliseconds)"),
        (status = 403, body = ProblemOut), (status = 422, body = ProblemOut)),
    security(("bearer" = [])))]
pub async fn get_report_csv(
    State(s): State<AppState>,
    ApiSupervisor(u): ApiSupervisor,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let (ask, table) = q.ask();
    super::csv_body(&s, &u, &ask, table.as_deref()).await
}
