//! The services that wire the flow: ingest (everything that comes in), the
//! dispatcher (everything that goes out), and the conversation actions agents
//! take. HTTP handlers and the CLI call these; they never reach past them.

pub mod account;
pub mod audit;
pub mod auth;
pub mod automations;
pub mod canned;
pub mod channels;
pub mod compose;
pub mod consent;
pub mod contact_csv;
pub mod contacts;
pub mod conversations;
pub mod dispatcher;
pub mod email;
pub mod email_jobs;
pub mod error;
pub mod escalations;
pub mod flows;
pub mod hours;
pub mod idempotency;
pub mod inboxes;
pub mod ingest;
pub mod labels;
pub mod limits;
pub mod list;
pub mod live;
pub mod media;
pub mod merge;
pub mod messages;
pub mod metrics;
pub mod notifications;
pub mod operator;
pub mod phone_check;
pub mod privacy;
pub mod profiles;
pub mod reach;
pub mod reports;
pub mod retention;
pub mod reviews;
pub mod routing;
pub mod schedule;
pub mod sessions;
pub mod setup;
pub mod surveys;
pub mod templates;
pub mod thread;
pub mod transcript;
pub mod users;
pub mod voice;
pub mod webchat;
pub mod webhooks;

use std::sync::Arc;

use textdesk_channels::simulator::Carrier;
use textdesk_core::ReopenWindow;
use textdesk_core::timing::TimingPolicy;
use textdesk_store::Store;

use crate::services::metrics::Metrics;

#[derive(Clone)]
pub struct Services {
    /// The services' own: the HTTP layer never reaches it (a test reads `http/` to
    /// hold that); the operator's commands and the tests may.
    pub store: Store,
    pub carrier: Carrier,
    pub metrics: Arc<Metrics>,
    pub reopen_window: ReopenWindow,
    /// The name a new database's first account gets (`account_name`); automatic
    /// replies name each account's own (`Services::business_name`).
    pub business_name: String,
    /// Quiet hours and live exchanges, for the gate.
    pub timing: Arc<TimingPolicy>,
    /// The providers' clients and links.
    pub channels: Arc<channels::Channels>,
    /// The address providers reach this server at (webhooks, status callbacks).
    pub public_url: String,
    /// Attachments' files and signed links.
    pub media: Arc<media::MediaStore>,
    /// How long a claim may go without an answer before it is settled (`claim_lease_secs`).
    pub claim_lease: jiff::SignedDuration,
    /// Failed sign-ins per address on this node, and the cap on password checks at once.
    pub limits: Arc<limits::LoginLimits>,
    /// When failed sign-ins for one e-mail lock it (shared by every node through the database).
    pub lockout: textdesk_store::LockoutRule,
    /// Outgoing webhooks: where they may go, the client, when a failing one is switched off.
    pub webhooks: Arc<webhooks::Hooks>,
    /// Who has a tab open on this node (their live streams), for presence.
    pub tabs: Arc<routing::Tabs>,
    /// The SHA-256 of the operator's token; None turns the operator's routes off.
    pub operator_token: Option<[u8; 32]>,
    /// Set when this node begins to stop (SIGTERM).
    pub shutdown: crate::shutdown::Shutdown,
    /// Web chat visitors' tokens and request budgets.
    pub widget: Arc<webchat::Widget>,
}

impl Services {
    /// Connects to the database (migrating it) and assembles the services for
    /// `config`, as the server and the operator's commands use them. Returns
    /// the first account too (made on a new database): the one public pages
    /// at a host name no account claims belong to (the demo, the simulator).
    pub async fn connect(config: &crate::Config, carrier: Carrier) -> anyhow::Result<(Services, i64)> {
        let store = Store::connect(&config.database_url).await?;
        crate::secrets::unlock(&store, config).await?;
        store.events().hold_delivery(std::time::Duration::from_millis(config.hold_delivery_ms));
        let account = store.ensure_account(&config.account_name).await?;
        let media_key = store.server_key("media_links").await?;
        let services = Services {
            store,
            channels: Arc::new(channels::Channels::new(carrier.clone())),
            carrier,
            metrics: Arc::default(),
            reopen_window: ReopenWindow::hours(config.reopen_window_hours)?,
            business_name: config.account_name.clone(),
            timing: Arc::new(config.timing_policy()?),
            public_url: config.public_url.clone(),
            media: Arc::new(media::MediaStore::new(
                config.data_dir.join("media"),
                &media_key,
                config.media_max_bytes,
                config.media_fetch_policy()?,
            )),
            claim_lease: config.claim_lease(),
            limits: Arc::new(limits::LoginLimits::from_config(config)),
            lockout: textdesk_store::LockoutRule {
                failures: config.login_account_attempts,
                window: jiff::SignedDuration::from_secs(config.login_account_window_secs),
                lock_for: jiff::SignedDuration::from_secs(config.login_lockout_secs),
            },
            webhooks: Arc::new(webhooks::Hooks::new(
                config.webhook_policy()?,
                jiff::SignedDuration::from_hours(config.webhook_disable_after_hours),
            )?),
            tabs: Arc::default(),
            operator_token: config.operator_token_hash()?,
            shutdown: Default::default(),
            // Its own key, derived from the media links' (one server key fewer to seal and rotate).
            widget: Arc::new(webchat::Widget::new(&format!("webchat visitors {media_key}"))),
        };
        channels::follow_inbox_changes(&services.store, &services.channels);
        services.start_automations().await?;
        services.start_webhooks().await?;
        services.start_surveys().await?;
        services.start_reviews().await?;
        for a in services.store.accounts().await? {
            services.ensure_builtin_rules(a.id).await?;
        }
        Ok((services, account.id))
    }
}

/// A consumer's per-batch state behind its mutex. A panic that left the
/// mutex poisoned only left the state of a batch that was rolled back, which
/// `Consumer::begin` forgets, so the state is used as it is.
pub(crate) fn batch_state<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
