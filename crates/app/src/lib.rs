//! textdesk: a self-hosted help desk for text messaging.

pub mod config;
pub mod demo;
pub mod http;
pub mod open_files;
pub mod public_rate;
pub mod secrets;
pub mod serve;
pub mod services;
pub mod shutdown;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use textdesk_channels::simulator::{Carrier, Report};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use config::Config;
pub use services::Services;

/// How the background workers run. Tests turn them off to drive each step.
#[derive(Debug, Clone)]
pub struct Options {
    pub workers: bool,
    pub dispatch_interval: Duration,
    pub simulator_delivery_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: true,
            dispatch_interval: Duration::from_millis(250),
            simulator_delivery_delay: Duration::from_millis(400),
        }
    }
}

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    pub services: Services,
    pub config: Arc<Config>,
    workers: Vec<JoinHandle<()>>,
    /// Waited for at shutdown (its sends under way finish); the other workers are stopped.
    dispatcher: Option<JoinHandle<()>>,
}

/// How long a stopping node waits for the sends under way (each is bounded by
/// half the claim lease, and the providers' own timeouts, anyway).
const SEND_DRAIN: Duration = Duration::from_secs(20);

impl Application {
    /// Connects to the database, migrates, binds the port (0 picks a free one)
    /// and starts the workers. The server answers once `run` is awaited.
    pub async fn build(mut config: Config, opts: Options) -> anyhow::Result<Application> {
        if config.is_sqlite() {
            config.prepare_data_dir()?;
        }
        let listener = TcpListener::bind(config.listen).await?;
        // A public address derived from "any free port" names the port we got.
        if config.public_url.is_empty() || config.public_url.ends_with(":0") {
            config.public_url = format!("http://{}", listener.local_addr()?);
        }
        let (carrier, reports) = Carrier::new(opts.simulator_delivery_delay);
        let (services, account_id) = Services::connect(&config, carrier).await?;
        let config = Arc::new(config);
        let state = http::AppState {
            services: Arc::new(services.clone()),
            config: config.clone(),
            default_account: account_id,
        };
        let router = public_rate::layer(http::router(state), config.clone());
        let mut workers = vec![tokio::spawn(feed_simulator_reports(services.clone(), reports))];
        services.channels.start_serving();
        services.ensure_links().await?;
        let mut dispatcher = None;
        if opts.workers {
            dispatcher = Some(tokio::spawn(dispatcher_loop(services.clone(), opts.dispatch_interval)));
            workers.push(tokio::spawn(housekeeping_loop(services.clone(), config.clone())));
            workers.push(tokio::spawn(automations_loop(services.clone())));
            workers.push(tokio::spawn(flow_lookups_loop(services.clone())));
            workers.push(tokio::spawn(webhooks_loop(services.clone())));
            workers.push(tokio::spawn(reports_loop(services.clone())));
            workers.push(tokio::spawn(webhook_sender_loop(services.clone())));
            workers.push(tokio::spawn(routing_loop(services.clone())));
            workers.push(tokio::spawn(reviews_loop(services.clone())));
        }
        Ok(Application { listener, router, services, config, workers, dispatcher })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.listen)
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully: no new
    /// connections, requests under way and sends under way finish, live
    /// streams end with a reconnect hint, unsent claims are handed back.
    pub async fn run(self) -> anyhow::Result<()> {
        let Application { listener, router, workers, dispatcher, config, services } = self;
        let mut limits = serve::ServeLimits::from_config(&config);
        limits.max_connections = open_files::fit_connections(limits.max_connections);
        let stop = services.shutdown.clone();
        let signal = async move {
            shutdown_signal().await;
            tracing::info!("stopping: finishing requests and sends under way");
            stop.begin();
        };
        let result = serve::serve(listener, router, limits, signal).await;
        services.shutdown.begin();
        if let Some(d) = dispatcher
            && tokio::time::timeout(SEND_DRAIN, d).await.is_err()
        {
            tracing::warn!("sends were still under way when the node stopped; another node will settle them");
        }
        for w in workers {
            w.abort();
        }
        tracing::info!("stopped");
        Ok(result?)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Delivery reports from the simulated carrier enter through ingest, like a
/// provider's status callback.
async fn feed_simulator_reports(services: Services, mut reports: mpsc::UnboundedReceiver<Report>) {
    while let Some(r) = reports.recv().await {
        if let Err(e) = services.ingest(r.inbox_id, r.event).await {
            tracing::warn!(error = %e, "could not record a simulator delivery report");
        }
    }
}

/// Runs the automations engine whenever events are written on any node (this
/// node's relay hears them all), and every half second in case it missed one.
async fn automations_loop(services: Services) {
    let mut events = services.store.events().subscribe();
    loop {
        if let Err(e) = services.run_automations().await {
            tracing::error!(error = %e, "the automations engine failed; it will try again");
        }
        if let Err(e) = services.run_surveys().await {
            tracing::error!(error = %e, "arming satisfaction polls failed; it will try again");
        }
        wait_for_events(&mut events, Duration::from_millis(500)).await;
    }
}

/// Waits up to `within` for the next event, then passes over every event
/// already queued behind it: each loop's pass reads what is new in the
/// database, not the event, so a burst of texts needs one pass, not one a text
/// (a flood of texts ran the dispatcher's and the webhooks' reads once per text).
async fn wait_for_events(events: &mut tokio::sync::broadcast::Receiver<textdesk_store::LiveEvent>, within: Duration) {
    let _ = tokio::time::timeout(within, events.recv()).await;
    pass_queued(events);
}

/// Passes over the events queued on `events` (a lag is only more of them).
fn pass_queued(events: &mut tokio::sync::broadcast::Receiver<textdesk_store::LiveEvent>) {
    use tokio::sync::broadcast::error::TryRecvError;
    while matches!(events.try_recv(), Ok(_) | Err(TryRecvError::Lagged(_))) {}
}

/// Queues low scores and escalations for review. Once a second, not at every
/// event: on SQLite each pass that finds news takes the write lock, and the
/// queue can wait a second where a customer's text cannot.
async fn reviews_loop(services: Services) {
    loop {
        if let Err(e) = services.run_reviews().await {
            tracing::error!(error = %e, "queueing conversations for review failed; it will try again");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Keeps the report rollups up with the log: when events are written, at
/// most every two seconds (a report a moment behind is fine; the write lock
/// is every incoming text's), and every ten seconds in case one was missed.
async fn reports_loop(services: Services) {
    let mut events = services.store.events().subscribe();
    loop {
        if let Err(e) = services.run_reports().await {
            tracing::error!(error = %e, "updating the reports failed; it will try again");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        wait_for_events(&mut events, Duration::from_secs(10)).await;
    }
}

/// Makes the self-service flows' lookups as the engine asks for them (a
/// separate loop: a slow lookup must not hold up the engine).
async fn flow_lookups_loop(services: Services) {
    let mut events = services.store.events().subscribe();
    loop {
        if let Err(e) = services.run_flow_lookups().await {
            tracing::error!(error = %e, "making flow lookups failed; it will try again");
        }
        wait_for_events(&mut events, Duration::from_millis(500)).await;
    }
}

/// Turns new events into webhook deliveries as they are written (and every
/// half second in case one was missed). It only writes rows, so it keeps up
/// however slow the receivers are.
async fn webhooks_loop(services: Services) {
    let mut events = services.store.events().subscribe();
    let mut skipped: Option<std::time::Instant> = None;
    loop {
        // With no subscription on, the cursor only needs to keep up now and then (retention waits for it).
        let skip_due = skipped.is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
        if skip_due {
            skipped = Some(std::time::Instant::now());
        }
        if let Err(e) = services.tend_webhooks(skip_due).await {
            tracing::error!(error = %e, "turning events into webhook deliveries failed; it will try again");
        }
        wait_for_events(&mut events, Duration::from_millis(500)).await;
    }
}

/// Posts due webhook deliveries every half second. Passes run side by side
/// (up to four): a pass waiting on a receiver that does not answer (10 s at
/// most) does not hold up the deliveries to the others; the claim's lease
/// keeps two passes from taking the same delivery.
async fn webhook_sender_loop(services: Services) {
    let passes = Arc::new(tokio::sync::Semaphore::new(4));
    loop {
        if let Ok(permit) = passes.clone().try_acquire_owned() {
            let services = services.clone();
            tokio::spawn(async move {
                // A full pass means more may be due: go again at once.
                while let Ok(n) = services.send_webhooks_due(jiff::Timestamp::now()).await.inspect_err(|e| {
                    tracing::error!(error = %e, "sending webhooks failed; it will try again");
                }) {
                    if n < crate::services::webhooks::deliver::BATCH as usize {
                        break;
                    }
                }
                drop(permit);
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs the router when the log moves (a customer waits, a conversation is
/// resolved or handed to a team) and every two seconds (presence and room
/// change without an event), at most four times a second.
async fn routing_loop(services: Services) {
    let mut events = services.store.events().subscribe();
    let mut marked: Option<std::time::Instant> = None;
    loop {
        if marked.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
            marked = Some(std::time::Instant::now());
            if let Err(e) = services.mark_tabs_seen(jiff::Timestamp::now()).await {
                tracing::warn!(error = %e, "could not record who has a tab open");
            }
        }
        if let Err(e) = services.route_waiting(jiff::Timestamp::now()).await {
            tracing::error!(error = %e, "the router failed; it will try again");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        wait_for_events(&mut events, Duration::from_secs(2)).await;
    }
}

async fn dispatcher_loop(services: Services, every: Duration) {
    let worker = format!("{}-{}", std::process::id(), rand::random::<u32>());
    let mut events = services.store.events().subscribe();
    // Each sender's claimed rows go out in a lane of their own while the next
    // pass claims for the others (`Services::claim_pass`).
    let mut lanes = services::dispatcher::Lanes::default();
    // Interrupted sends are settled at start (a restart after a crash) and
    // then every few seconds.
    let mut settled_at: Option<std::time::Instant> = None;
    while !services.shutdown.is_stopping() {
        if settled_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            settled_at = Some(std::time::Instant::now());
            match services.settle_interrupted(jiff::Timestamp::now(), services.claim_lease).await {
                Ok(0) => {}
                Ok(n) => tracing::warn!(count = n, "settled outbound messages interrupted while sending"),
                Err(e) => tracing::error!(error = %e, "settling interrupted sends failed"),
            }
        }
        for done in lanes.reap() {
            if let Err(e) = done {
                tracing::error!(error = %e, "sending a sender's claimed rows failed");
            }
        }
        let mut wait = every;
        let mut on_lane = false;
        match services.claim_pass(&worker, 50, jiff::Timestamp::now, &mut lanes).await {
            // A paced sender goes again the moment its pace allows, not at the
            // next poll: each wait past that moment is lost from its rate.
            Ok(pass) => {
                if let Some(due) = pass.next_due {
                    let until = due.duration_since(jiff::Timestamp::now()).max(jiff::SignedDuration::ZERO);
                    wait = wait.min(until.unsigned_abs());
                }
                on_lane = pass.waiting_on_lane;
            }
            Err(e) => tracing::error!(error = %e, "dispatcher step failed"),
        }
        // Wake early when a message is created, a sender that is due finishes
        // its lane, or the node stops; otherwise poll for due rows.
        let stopping = services.shutdown.stopping();
        let _ = tokio::time::timeout(wait, async {
            tokio::pin!(stopping);
            loop {
                tokio::select! {
                    _ = &mut stopping => break,
                    Some(done) = lanes.next_done(), if on_lane => {
                        if let Err(e) = done {
                            tracing::error!(error = %e, "sending a sender's claimed rows failed");
                        }
                        break;
                    }
                    ev = events.recv() => match ev {
                        Ok(ev) if ev.kind == "message.created" => break,
                        Ok(_) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Err(_) => std::future::pending::<()>().await,
                    },
                }
            }
        })
        .await;
        // The pass reads every queued row: the messages created behind the one that woke it need no pass of their own.
        pass_queued(&mut events);
    }
    // Stopping: the sends under way finish, and each lane hands back what it had not sent yet.
    if let Err(e) = lanes.finish().await {
        tracing::error!(error = %e, "sending a sender's claimed rows failed");
    }
}

async fn housekeeping_loop(services: Services, config: Arc<Config>) {
    let mut next_sweep = tokio::time::Instant::now();
    let mut next_sla = tokio::time::Instant::now();
    loop {
        housekeep_once(&services).await;
        if tokio::time::Instant::now() >= next_sla {
            next_sla += Duration::from_secs(60);
            // Customers still waiting past a target: each wait counted once, on whichever node marks it first.
            if let Err(e) = services.sweep_missed_targets(jiff::Timestamp::now()).await {
                tracing::error!(error = %e, "sweeping for missed response targets failed");
            }
        }
        let _ = services.store.delete_expired_sessions(jiff::Timestamp::now(), config.session_idle()).await;
        if tokio::time::Instant::now() >= next_sweep {
            next_sweep += Duration::from_secs(3600);
            if let Err(e) = services.sweep_orphan_media(crate::services::media::ORPHAN_GRACE).await {
                tracing::error!(error = %e, "sweeping orphan media files failed");
            }
            if let Err(e) = services.prune_webhook_log(jiff::Timestamp::now()).await {
                tracing::error!(error = %e, "pruning the webhook delivery log failed");
            }
            // Each account's weekly sample, drawn once (its week's row is the lease).
            if let Err(e) = services.sample_reviews(jiff::Timestamp::now()).await {
                tracing::error!(error = %e, "drawing the weekly review sample failed");
            }
            // Once per account and month, on whichever node claims it first.
            if let Err(e) = services.send_monthly_summaries(jiff::Timestamp::now()).await {
                tracing::error!(error = %e, "sending the monthly report summaries failed");
            }
            // Daily per account, on one node (the policy's row is the lease).
            if let Err(e) = services.run_due_retention(jiff::Timestamp::now()).await {
                tracing::error!(error = %e, "running the retention policy failed");
            }
        }
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
}

/// One pass of housekeeping (the loop runs it every 15 s; tests call it).
pub async fn housekeep_once(services: &Services) {
    {
        if let Err(e) = services.wake_snoozed().await {
            tracing::error!(error = %e, "waking snoozed conversations failed");
        }
        if let Err(e) = services.ensure_links().await {
            tracing::error!(error = %e, "starting SMPP links failed");
        }
        if let Err(e) = services.fetch_due_media(jiff::Timestamp::now()).await {
            tracing::error!(error = %e, "fetching attachments failed");
        }
        if let Err(e) = services.run_timed_automations(jiff::Timestamp::now()).await {
            tracing::error!(error = %e, "running timed automations failed");
        }
        if let Err(e) = services.run_flow_timeouts(jiff::Timestamp::now()).await {
            tracing::error!(error = %e, "ending timed-out flows failed");
        }
        if let Err(e) = services.run_due_surveys(jiff::Timestamp::now()).await {
            tracing::error!(error = %e, "sending due satisfaction polls failed");
        }
        if let Err(e) = services.remind_due_callbacks(jiff::Timestamp::now()).await {
            tracing::error!(error = %e, "reminding of due call backs failed");
        }
        if let Err(e) = services.run_email_jobs(jiff::Timestamp::now()).await {
            tracing::error!(error = %e, "sending automations' emails failed");
        }
        let _ = services.store.prune_login_failures(jiff::Timestamp::now(), services.lockout.window).await;
        services.limits.sweep(std::time::Instant::now());
        // Events are kept as long as the account's retention policy says (`run_due_retention`).
        let _ = services.store.drop_stale_early_reports(jiff::Timestamp::now()).await;
        let _ = services.store.drop_old_phone_checks(jiff::Timestamp::now()).await;
    }
}
