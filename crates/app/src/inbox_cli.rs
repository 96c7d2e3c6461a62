//! `textdesk inbox add`: its flags are made from every provider's setup
//! description (`--account-sid`, `--host`…). A secret may be given as a flag,
//! but is better given in its environment variable (`TEXTDESK_TWILIO_AUTH_TOKEN`),
//! which keeps it out of the process list.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use textdesk::services::channels::{self, Door, NewChannel};
use textdesk_channels::provider::{FieldKind, SetupField};
use textdesk_channels::registry;

#[derive(clap::Args)]
pub struct InboxAdd {
    /// The provider.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(registry::keys()))]
    kind: String,
    #[arg(long)]
    name: String,
    /// The number customers text, in E.164 (+14155550100). Messenger and
    /// WeChat inboxes may leave it out: the Page ID or AppID is used.
    #[arg(long)]
    number: Option<String>,
    /// Save without asking the provider whether the credentials work (offline setups).
    #[arg(long)]
    no_check: bool,
    #[command(flatten)]
    setup: SetupFlags,
}

/// Each provider's setup fields as flags, as given: (field name, text).
#[derive(Debug, Default)]
pub struct SetupFlags(Vec<(&'static str, String)>);

/// Every field of every provider once, with the providers that have it.
fn all_fields() -> Vec<(&'static SetupField, Vec<&'static str>)> {
    let mut out: Vec<(&'static SetupField, Vec<&'static str>)> = Vec::new();
    for p in registry::all() {
        for f in p.setup() {
            match out.iter_mut().find(|(g, _)| g.name == f.name) {
                Some((_, owners)) => owners.push(p.label()),
                None => out.push((f, vec![p.label()])),
            }
        }
    }
    out
}

impl FromArgMatches for SetupFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut given = Vec::new();
        for (f, _) in all_fields() {
            if f.kind == FieldKind::Flag {
                if m.get_flag(f.name) {
                    given.push((f.name, "true".to_owned()));
                }
            } else if let Some(v) = m.get_one::<String>(f.name) {
                given.push((f.name, v.clone()));
            }
        }
        Ok(SetupFlags(given))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for SetupFlags {
    fn augment_args(mut cmd: Command) -> Command {
        for (f, owners) in all_fields() {
            let mut help = format!("{}: {}", owners.join(", "), f.help);
            if f.secret {
                let vars: Vec<String> = registry::all()
                    .iter()
                    .filter(|p| p.setup().iter().any(|g| g.name == f.name))
                    .map(|p| f.env_var(p.key()))
                    .collect();
                help.push_str(&format!(" Better in {}, which keeps it out of the process list.", vars.join(" or ")));
            }
            if let Some(d) = f.default {
                help.push_str(&format!(" [default: {d}]"));
            }
            let arg = Arg::new(f.name).long(f.flag_name()).help(help);
            let arg = match f.kind {
                FieldKind::Flag => arg.action(ArgAction::SetTrue),
                _ => arg.action(ArgAction::Set).value_name(f.name.to_ascii_uppercase()),
            };
            cmd = cmd.arg(arg);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The new inbox the flags describe; a provider's secret missing from the
/// flags is read from its environment variable. A field the admin makes up
/// (WhatsApp's verify token) is made when not given; every such value is
/// returned with its label, to be printed for the provider's console.
pub fn new_channel(a: InboxAdd) -> anyhow::Result<(NewChannel, Vec<(&'static str, String)>)> {
    let provider = channels::provider(&a.kind)?;
    let given = a.setup.0;
    let mut made_up = Vec::new();
    let setup = channels::read_text_setup(provider, Door::Cli, |f| {
        let flag = given.iter().find(|(name, _)| *name == f.name).map(|(_, v)| v.clone());
        let value = match flag {
            None if f.secret => std::env::var(f.env_var(provider.key())).ok(),
            other => other,
        };
        match value {
            None if f.generated => {
                // 32 characters: WeChat takes at most that many in its Token.
                let v = hex::encode(rand::random::<[u8; 16]>());
                made_up.push((f.label, v.clone()));
                Some(v)
            }
            Some(v) if f.generated => {
                made_up.push((f.label, v.clone()));
                Some(v)
            }
            other => other,
        }
    })?;
    // A flag of another provider is a mistake worth naming, not ignoring.
    if let Some((name, _)) = given.iter().find(|(name, _)| !provider.setup().iter().any(|f| f.name == *name)) {
        anyhow::bail!("--{} is not a setting of a {} inbox", name.replace('_', "-"), provider.key());
    }
    let new = NewChannel {
        name: a.name,
        sender: a.number.unwrap_or_default(),
        provider,
        medium: None,
        setup,
        check: !a.no_check,
    };
    Ok((new, made_up))
}
