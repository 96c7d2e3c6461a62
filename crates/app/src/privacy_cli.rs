//! `textdesk contact export|erase` and `textdesk retention`: the operator's
//! privacy commands, with a progress bar on a terminal (plain lines otherwise).

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use textdesk::Services;
use textdesk::services::privacy::{Progress, Requester};

#[derive(Subcommand)]
pub enum ContactCommand {
    /// Write everything held about a contact to a ZIP file (JSON and their files).
    Export {
        #[arg(long)]
        id: i64,
        /// The ZIP file to write.
        #[arg(long)]
        to: PathBuf,
    },
    /// Erase a contact: messages redacted, files, notes and numbers deleted, the
    /// consent ledger kept with numbers hashed. Asks first unless --yes.
    Erase {
        #[arg(long)]
        id: i64,
        #[arg(long)]
        yes: bool,
    },
}

/// Draws `Progress` as a bar that redraws itself on a terminal, or as one
/// plain line per step change (and at the end) when the output is not one.
pub struct Reporter {
    terminal: bool,
    last_step: &'static str,
}

impl Reporter {
    /// For standard error (where progress goes, so stdout stays the command's answer).
    pub fn stderr() -> Self {
        Reporter { terminal: std::io::stderr().is_terminal(), last_step: "" }
    }

    pub fn show(&mut self, p: Progress) {
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let width = 30;
            let filled = (p.done * width).checked_div(p.total).unwrap_or(width).min(width);
            let _ = write!(
                err,
                "\r[{}{}] {}/{} {:<24}",
                "#".repeat(filled),
                "-".repeat(width - filled),
                p.done,
                p.total,
                p.step
            );
            if p.done >= p.total {
                let _ = writeln!(err);
            }
        } else if p.step != self.last_step || p.done >= p.total {
            let _ = writeln!(err, "{}: {}/{}", p.step, p.done, p.total);
        }
        self.last_step = p.step;
    }
}

pub async fn contact(services: &Services, account_id: i64, command: ContactCommand) -> anyhow::Result<()> {
    let mut bar = Reporter::stderr();
    match command {
        ContactCommand::Export { id, to } => {
            // Written beside the destination and renamed when whole: a failed
            // export never leaves a file that looks finished.
            let part =
                to.with_file_name(format!(".{}.part", to.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
            let _ = std::fs::remove_file(&part);
            let len =
                services.export_contact((account_id, id), Requester::default(), &part, &mut |p| bar.show(p)).await?;
            std::fs::rename(&part, &to).with_context(|| format!("writing {}", to.display()))?;
            println!("exported contact {id} to {} ({len} bytes)", to.display());
        }
        ContactCommand::Erase { id, yes } => {
            let s = services.erasure_summary(account_id, id).await?;
            println!(
                "Erasing contact {id} removes {} messages in {} conversations, {} files, {} notes and {} numbers; \
                 their consent history is kept with the numbers hashed.",
                s.messages, s.conversations, s.files, s.notes, s.identities
            );
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("nothing erased: pass --yes to erase without a terminal to confirm on");
                }
                print!("Type ERASE to confirm: ");
                std::io::stdout().flush()?;
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                if line.trim() != "ERASE" {
                    bail!("nothing erased");
                }
            }
            let e = services.erase_contact(account_id, id, Requester::default(), &mut |p| bar.show(p)).await?;
            println!(
                "erased contact {id}: {} messages, {} files, {} notes, {} numbers; {} queued messages cancelled",
                e.summary.messages, e.summary.files, e.summary.notes, e.summary.identities, e.cancelled
            );
        }
    }
    Ok(())
}

/// Runs the account's policy now (or, with `dry_run`, counts what it would take).
pub async fn retention(services: &Services, account_id: i64, dry_run: bool) -> anyhow::Result<()> {
    let Some(stored) = services.store.retention_policy(account_id).await? else {
        println!("no retention policy: everything is kept (set one in Settings → Retention or PUT /api/v1/retention)");
        return Ok(());
    };
    let p = stored.policy;
    let now = jiff::Timestamp::now();
    let c = if dry_run {
        services.retention_dry_run(account_id, p, now).await?
    } else {
        services.run_retention(account_id, p, now).await?
    };
    let verb = match (dry_run, p.action) {
        (true, textdesk_store::RetentionAction::Delete) => "would delete",
        (true, textdesk_store::RetentionAction::Redact) => "would redact",
        (false, textdesk_store::RetentionAction::Delete) => "deleted",
        (false, textdesk_store::RetentionAction::Redact) => "redacted",
    };
    println!(
        "{verb} {} messages in {} resolved conversations older than {} months, {} files, {} history entries",
        c.messages, c.conversations, p.months, c.files, c.events
    );
    Ok(())
}
