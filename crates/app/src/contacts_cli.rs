//! `textdesk contacts import|export`: contacts in bulk as CSV, with a
//! progress bar on standard error (standard output stays the answer).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use textdesk::Services;
use textdesk::services::contact_csv::ImportOptions;
use textdesk::services::privacy::Progress;

use crate::privacy_cli::Reporter;

#[derive(Subcommand)]
pub enum ContactsCommand {
    /// Import contacts from a CSV file (columns: name, phone, email, time_zone,
    /// consent_state, consent_source, consent_evidence, consent_recorded_at,
    /// and any other column as an attribute). A number already known merges
    /// into its contact. Bad rows are listed and skipped.
    Import {
        file: PathBuf,
        /// Check every row and say what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The country numbers without their country code are in (like US).
        #[arg(long)]
        region: Option<String>,
    },
    /// Export every contact as CSV with the import's columns.
    Export {
        /// The file to write (standard output when left out).
        #[arg(long)]
        to: Option<PathBuf>,
    },
}

pub async fn run(services: &Services, account_id: i64, command: ContactsCommand) -> anyhow::Result<()> {
    let mut bar = Reporter::stderr();
    match command {
        ContactsCommand::Import { file, dry_run, region } => {
            let f = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
            let total = f.metadata().map(|m| m.len()).unwrap_or(0).max(1) as usize;
            let opts = ImportOptions {
                dry_run,
                region,
                file_name: file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            };
            let step = if dry_run { "checking rows" } else { "importing rows" };
            let input = std::io::BufReader::new(f);
            let report = services
                .import_contacts(account_id, None, input, &opts, &mut |done| {
                    bar.show(Progress { done: (done as usize).min(total), total, step })
                })
                .await?;
            print!("{}", report.describe());
            if report.bad_rows > 0 {
                bail!("{} bad rows", report.bad_rows);
            }
        }
        ContactsCommand::Export { to } => {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
            let mut out: Box<dyn Write + Send> = match &to {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
                )),
                None => Box::new(std::io::stdout()),
            };
            let writer = async move {
                while let Some(chunk) = rx.recv().await {
                    out.write_all(&chunk)?;
                }
                out.flush()
            };
            let mut shown =
                |n: u64| bar.show(Progress { done: n as usize, total: n as usize + 1, step: "exporting contacts" });
            let export = services.export_contacts(account_id, None, tx, &mut shown);
            let (n, written) = tokio::join!(export, writer);
            written.context("writing the export")?;
            let n = n?;
            eprintln!("exported {n} contacts");
        }
    }
    Ok(())
}
