use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use textdesk::{Application, Config, Options, demo};
use textdesk_core::{Email, Role};
use textdesk_store::Store;

mod account_cli;
mod contacts_cli;
mod inbox_cli;
mod privacy_cli;
mod report_cli;
mod vault_cli;

#[derive(Parser)]
#[command(name = "textdesk", version, about = "A self-hosted help desk for text messaging")]
struct Cli {
    /// A TOML config file (see `textdesk default-config`).
    #[arg(long, global = true, env = "TEXTDESK_CONFIG")]
    config: Option<PathBuf>,
    /// Where data lives (the SQLite database and media). Overrides the config.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a demo business on SQLite with the phone simulator.
    Demo {
        /// Start over with a new demo database.
        #[arg(long)]
        fresh: bool,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run the server from the configuration.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage accounts (businesses) on this database.
    Account {
        #[command(subcommand)]
        command: account_cli::AccountCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage inboxes (the numbers customers text).
    Inbox {
        #[command(subcommand)]
        command: InboxCommand,
    },
    #[command(flatten)]
    Vault(vault_cli::VaultCommand),
    /// Export or erase one person's data.
    Contact {
        #[command(subcommand)]
        command: privacy_cli::ContactCommand,
    },
    /// Import or export contacts as CSV.
    Contacts {
        #[command(subcommand)]
        command: contacts_cli::ContactsCommand,
    },
    /// Print a period's report (JSON or CSV), or `report rebuild` the rollups from the event log.
    Report(report_cli::ReportArgs),
    /// Run the account's retention policy now.
    Retention {
        /// Only count what it would remove.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a commented configuration file.
    DefaultConfig,
    /// Print the REST API's OpenAPI document.
    Openapi,
    /// Exit 0 when the server at the configured address is healthy, 1 otherwise.
    Healthcheck {
        /// Base URL to check instead of the configured one.
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; asks for the password unless --password-stdin.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["agent", "supervisor", "admin"])]
        role: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The account's id (`textdesk account list`); the first account when left out.
        #[arg(long)]
        account: Option<i64>,
    },
}

#[derive(Subcommand)]
enum InboxCommand {
    /// Add an inbox and print its id and the webhook URLs to give the provider.
    /// Credentials are checked with the provider unless --no-check.
    Add(Box<inbox_cli::InboxAdd>),
    /// List inboxes.
    List,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token for a user; it is printed once.
    Create {
        /// The user's e-mail.
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "cli")]
        name: String,
        /// The user's account, when their e-mail is in more than one.
        #[arg(long)]
        account: Option<i64>,
    },
}

fn init_logs(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TEXTDESK_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// jemalloc rather than glibc's malloc: glibc kept what 10,000 closed live
/// streams had used (its arenas give memory back only from their top), while
/// jemalloc's background thread returns freed pages within seconds
/// (docs/decisions.md, "Memory per live stream").
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::DefaultConfig => {
            print!("{}", textdesk::config::DEFAULT_CONFIG);
            return Ok(());
        }
        Command::Openapi => {
            print!("{}", textdesk::http::openapi::openapi_document());
            return Ok(());
        }
        _ => {}
    }
    let mut cfg = Config::load(cli.config.as_deref(), cli.data_dir.as_deref())?;
    match cli.command {
        Command::DefaultConfig | Command::Openapi => Ok(()),
        Command::Demo { fresh, listen } => {
            init_logs(&cfg);
            cfg.simulator = true;
            if cfg.account_name == Config::default().account_name {
                cfg.account_name = "Harbor Dental".into();
            }
            if cfg.time_zone == Config::default().time_zone {
                cfg.time_zone = "America/Los_Angeles".into();
            }
            if let Some(l) = listen {
                cfg.listen = l;
                cfg.public_url = format!("http://{}", l);
            }
            if fresh {
                if !cfg.is_sqlite() {
                    bail!(
                        "--fresh only deletes the demo's own SQLite database; it will not touch {}",
                        textdesk::config::redact_url(&cfg.database_url)
                    );
                }
                for suffix in ["", "-wal", "-shm"] {
                    let p = cfg.data_dir.join(format!("textdesk.db{suffix}"));
                    if p.exists() {
                        std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
                    }
                }
            }
            // Seed before the workers start, so the history's replies are not
            // picked up and sent again by the dispatcher.
            let seeder = Application::build(
                Config { listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)), ..cfg.clone() },
                Options { workers: false, ..Options::default() },
            )
            .await?;
            let account = seeder.services.store.ensure_account(&seeder.config.account_name).await?;
            let seeded = demo::seed(&seeder.services, account.id).await?;
            seeder.services.store.close().await;
            drop(seeder);
            let app = Application::build(cfg, Options::default()).await?;
            let url = app.config.public_url.clone();
            println!(
                "\n  textdesk demo for {} is running{}.\n",
                app.config.account_name,
                if seeded { " (freshly seeded)" } else { "" }
            );
            println!("  Inbox:           {url}/login");
            println!("  Phone simulator: {url}/simulator");
            println!("  Data:            {}\n", app.config.data_dir.display());
            println!("  Sign in as (password {}):", demo::DEMO_PASSWORD);
            for l in demo::LOGINS {
                println!("    {:<28} {}", l.email, l.role);
            }
            println!(
                "\n  Press Ctrl+C to stop; run `textdesk demo` again to continue, or add --fresh to start over.\n"
            );
            app.run().await
        }
        Command::Serve => {
            init_logs(&cfg);
            let app = Application::build(cfg, Options::default()).await?;
            tracing::info!(address = %app.local_addr(), public_url = %app.config.public_url, "textdesk is serving");
            app.run().await
        }
        Command::Migrate => {
            if cfg.is_sqlite() {
                cfg.prepare_data_dir()?;
            }
            let store = Store::connect(&cfg.database_url).await?;
            store.close().await;
            println!("migrations applied to {}", textdesk::config::redact_url(&cfg.database_url));
            Ok(())
        }
        Command::User { command: UserCommand::Add { email, role, name, password_stdin, account } } => {
            let email = Email::parse(&email)?;
            let role = Role::parse(&role)?;
            let password = account_cli::read_password(password_stdin)?;
            let store = open_store(&cfg).await?;
            let first = store.ensure_account(&cfg.account_name).await?;
            let account = account.unwrap_or(first.id);
            let user = textdesk::services::auth::create_user(&store, account, email, &name, role, &password).await?;
            println!("added {} ({}) as user {}", user.email, user.role, user.id);
            Ok(())
        }
        Command::Account { command } => account_cli::run(&cfg, command).await,
        Command::Token { command: TokenCommand::Create { user, name, account } } => {
            let store = open_store(&cfg).await?;
            let email = Email::parse(&user)?;
            let mut found = store.users_by_email(&email).await?;
            found.retain(|u| account.is_none_or(|a| u.account_id == a));
            if found.len() > 1 {
                let ids: Vec<String> = found.iter().map(|u| u.account_id.to_string()).collect();
                bail!("{email} is a user in accounts {}: say which with --account", ids.join(", "));
            }
            let Some(u) = found.pop() else { bail!("no user with e-mail {email}") };
            if !u.active {
                bail!("{email} is deactivated");
            }
            let (_, secret) = textdesk::services::auth::create_token(&store, u.id, &name).await?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{secret}")?;
            eprintln!("This token is shown once. Send it as: Authorization: Bearer <token>");
            Ok(())
        }
        Command::Inbox { command } => {
            if cfg.is_sqlite() {
                cfg.prepare_data_dir()?;
            }
            let (carrier, _) = textdesk_channels::simulator::Carrier::new(std::time::Duration::ZERO);
            let (services, account_id) = textdesk::Services::connect(&cfg, carrier).await?;
            match command {
                InboxCommand::List => {
                    for i in services.store.inboxes(account_id).await? {
                        println!("{}	{}	{}	{}", i.id, i.provider, i.sender, i.name);
                    }
                }
                InboxCommand::Add(a) => {
                    let (new, made_up) = inbox_cli::new_channel(*a)?;
                    let registers = new.check && new.provider.registers_webhook();
                    let label = new.provider.label();
                    let inbox = services.add_inbox(account_id, new).await?;
                    println!("added inbox {} ({}, {})", inbox.id, inbox.provider, inbox.sender);
                    for (hook, url) in services.webhook_urls(&inbox) {
                        println!("  {}: {url}", hook.label);
                    }
                    if registers {
                        // add_inbox has told the provider; a failure is in the log above.
                        println!(
                            "  {label} was asked to post there (Register webhook in the inbox's settings repeats it)"
                        );
                    }
                    // Shown this once: it is kept as a secret.
                    for (label, value) in made_up {
                        println!("  {label}: {value}");
                    }
                }
            }
            services.store.close().await;
            Ok(())
        }
        Command::Vault(command) => vault_cli::run(&cfg, command).await,
        Command::Contact { command } => {
            let (services, account_id) = operator_services(&cfg).await?;
            let result = privacy_cli::contact(&services, account_id, command).await;
            services.store.close().await;
            result
        }
        Command::Contacts { command } => {
            let (services, account_id) = operator_services(&cfg).await?;
            let result = contacts_cli::run(&services, account_id, command).await;
            services.store.close().await;
            result
        }
        Command::Report(args) => {
            let (services, account_id) = operator_services(&cfg).await?;
            let result = report_cli::run(&services, account_id, args).await;
            services.store.close().await;
            result
        }
        Command::Retention { dry_run } => {
            let (services, account_id) = operator_services(&cfg).await?;
            let result = privacy_cli::retention(&services, account_id, dry_run).await;
            services.store.close().await;
            result
        }
        Command::Healthcheck { url } => {
            let base = url.unwrap_or_else(|| format!("http://{}", cfg.listen));
            match textdesk::http::ops::probe(&base).await {
                Ok(()) => {
                    println!("healthy");
                    Ok(())
                }
                Err(e) => bail!("not healthy: {e}"),
            }
        }
    }
}

/// The services as an operator's command uses them (no simulated carrier).
async fn operator_services(cfg: &Config) -> anyhow::Result<(textdesk::Services, i64)> {
    if cfg.is_sqlite() {
        cfg.prepare_data_dir()?;
    }
    let (carrier, _) = textdesk_channels::simulator::Carrier::new(std::time::Duration::ZERO);
    textdesk::Services::connect(cfg, carrier).await
}

async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    if cfg.is_sqlite() {
        cfg.prepare_data_dir()?;
    }
    Ok(Store::connect(&cfg.database_url).await?)
}
