//! `textdesk report`: a period's report as JSON or CSV on standard output
//! (the rollups brought up to date first, with a progress bar on standard
//! error), and `textdesk report rebuild`: the rollups counted again from the
//! event log.

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use textdesk::Services;
use textdesk::services::reports::build::{ReportAsk, csv};

use crate::privacy_cli::Reporter;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    command: Option<ReportCommand>,
    /// 2026-11 (month), 2026-Q4, 2026-W45, 2026-11-03, 2026, or 2026-11-01..2026-11-15; this month by default.
    #[arg(long)]
    period: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
    /// With --format csv: kpis, trend, agents, channels or hours.
    #[arg(long, default_value = "kpis")]
    table: String,
    /// The account (the first one by default).
    #[arg(long)]
    account: Option<i64>,
    #[arg(long)]
    inbox: Option<i64>,
    #[arg(long)]
    team: Option<i64>,
    #[arg(long)]
    agent: Option<i64>,
    /// The medium: sms, whatsapp…
    #[arg(long)]
    channel: Option<String>,
    #[arg(long)]
    label: Option<String>,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Forget the rollups and count the whole event log again.
    Rebuild,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

pub async fn run(services: &Services, first_account: i64, args: ReportArgs) -> anyhow::Result<()> {
    let mut bar = Reporter::stderr();
    if let Some(ReportCommand::Rebuild) = args.command {
        let n = services.rebuild_reports(&mut |p| bar.show(p)).await?;
        println!("reports rebuilt from {n} events");
        return Ok(());
    }
    services.catch_up_reports(&mut |p| bar.show(p)).await?;
    let account = args.account.unwrap_or(first_account);
    if !services.store.accounts().await?.iter().any(|a| a.id == account) {
        bail!("there is no account {account}");
    }
    let ask = ReportAsk {
        period: args.period,
        inbox_id: args.inbox.map(|v| v.to_string()),
        team_id: args.team.map(|v| v.to_string()),
        agent_id: args.agent.map(|v| v.to_string()),
        channel: args.channel,
        label: args.label,
    };
    let report = services.report_for(account, &ask).await?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Csv => print!("{}", csv(&report, &args.table)?),
    }
    Ok(())
}
