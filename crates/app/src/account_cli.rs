//! `textdesk account add` and `account list`: a second business on the same
//! database without SQL. The server keeps serving the first account (the one
//! `account_name` named when the database was made); see docs/decisions.md,
//! "Accounts: one per installation, more from the command line".

use std::io::{BufRead, IsTerminal};

use anyhow::bail;
use clap::Subcommand;
use textdesk::config::Config;
use textdesk_core::{Email, Password};

#[derive(Subcommand)]
pub enum AccountCommand {
    /// Add an account with its first admin; asks for the admin's password
    /// unless --password-stdin.
    Add {
        /// The business's name, as its people see it.
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
        #[arg(long, default_value = "")]
        admin_name: String,
        /// Read the admin's password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts: id and name.
    List,
}

pub async fn run(cfg: &Config, command: AccountCommand) -> anyhow::Result<()> {
    if cfg.is_sqlite() {
        cfg.prepare_data_dir()?;
    }
    let store = textdesk_store::Store::connect(&cfg.database_url).await?;
    let result = match command {
        AccountCommand::Add { name, admin_email, admin_name, password_stdin } => {
            let email = Email::parse(&admin_email)?;
            let password = read_password(password_stdin)?;
            // The installation's own account comes first, so it stays the one served.
            store.ensure_account(&cfg.account_name).await?;
            let (account, admin) =
                textdesk::services::auth::create_account(&store, &name, email, &admin_name, &password).await?;
            println!("added account {} ({}) with admin {} (user {})", account.id, account.name, admin.email, admin.id);
            Ok(())
        }
        AccountCommand::List => {
            for a in store.accounts().await? {
                println!("{}\t{}", a.id, a.name);
            }
            Ok(())
        }
    };
    store.close().await;
    result
}

/// A password from standard input's first line, or asked twice on the terminal.
pub fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for a password: pass --password-stdin and pipe it in");
        }
        let a = rpassword::prompt_password("Password: ")?;
        let b = rpassword::prompt_password("Again: ")?;
        if a != b {
            bail!("the two passwords differ");
        }
        a
    };
    Ok(Password::parse(&password)?)
}
