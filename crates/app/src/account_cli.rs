//! `textdesk account add`, `account host` and `account list`: another business
//! served by the same server, without SQL; see docs/decisions.md, "Accounts:
//! every one served by one server".

use std::io::{BufRead, IsTerminal};

use anyhow::bail;
use clap::Subcommand;
use textdesk::config::Config;
use textdesk_core::{Email, HostName, Password};

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
        /// A host name the account is reached at (support.acme.example); repeat for more.
        /// Signing in there is for its people only, and the sign-in page names the business.
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
    /// Add a host name to an account.
    Host {
        /// The account's id (`textdesk account list`).
        #[arg(long)]
        account: i64,
        #[arg(long)]
        host: String,
    },
    /// List accounts: id, name, host names (comma-separated) and active people.
    List,
}

pub async fn run(cfg: &Config, command: AccountCommand) -> anyhow::Result<()> {
    if cfg.is_sqlite() {
        cfg.prepare_data_dir()?;
    }
    let store = textdesk_store::Store::connect(&cfg.database_url).await?;
    let result = match command {
        AccountCommand::Add { name, admin_email, admin_name, password_stdin, hosts } => {
            let email = Email::parse(&admin_email)?;
            let hosts = hosts.iter().map(|h| HostName::parse(h)).collect::<Result<Vec<_>, _>>()?;
            let password = read_password(password_stdin)?;
            // The installation's own account comes first: the demo's, and public pages' at no host name.
            store.ensure_account(&cfg.account_name).await?;
            let (account, admin) =
                textdesk::services::auth::create_account(&store, &name, email, &admin_name, Some(&password), &hosts)
                    .await?;
            println!("added account {} ({}) with admin {} (user {})", account.id, account.name, admin.email, admin.id);
            Ok(())
        }
        AccountCommand::Host { account, host } => {
            let host = HostName::parse(&host)?;
            store.add_account_host(account, &host).await?;
            println!("account {account} is reached at {host} too");
            Ok(())
        }
        AccountCommand::List => {
            for a in store.account_overviews().await? {
                println!("{}\t{}\t{}\t{}", a.id, a.name, a.hosts.join(","), a.active_users);
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
