//! Self-service flows as admins keep them (supervisors read them), their
//! files (export, import with the line and field of what is wrong), and the
//! two things that happen outside the automations engine's event: a lookup's
//! outgoing call (made with no transaction open, through the `FetchPolicy`
//! client, then answered in a transaction of its own) and a flow's timeout.
//! The bot itself runs in the engine: `services::automations::bot`.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use textdesk_core::flow::{self, Flow, FlowSpec, LOOKUP_VARS};
use textdesk_store::{FlowSession, StoredFlow, User};

use crate::services::Services;
use crate::services::automations::engine::Engine;
use crate::services::error::{ServiceError, ServiceResult};

/// How long a lookup may take, connection and answer together.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);
/// A node's claim on a lookup; another node takes it over after this.
const LOOKUP_LEASE: SignedDuration = SignedDuration::from_secs(30);
/// The longest value put into a reply (the rest is cut).
const MAX_VALUE_CHARS: usize = 200;
/// The largest answer read from a lookup.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

impl Services {
    pub async fn flows(&self, user: &User) -> ServiceResult<Vec<StoredFlow>> {
        Ok(self.store.flows(user.account_id).await?)
    }

    pub async fn flow(&self, user: &User, id: i64) -> ServiceResult<StoredFlow> {
        Ok(self.store.flow(user.account_id, id).await?)
    }

    /// A flow from the API's JSON (the fields of [`FlowSpec`]); the error
    /// names the field.
    pub fn read_flow(&self, spec: serde_json::Value) -> ServiceResult<Flow> {
        let spec: FlowSpec = serde_path_to_error::deserialize(spec).map_err(|e| {
            let path = e.path().to_string();
            ServiceError::invalid(format!("{path}: {}", e.into_inner()))
        })?;
        let flow = Flow::parse(spec)?;
        self.check_lookups(&flow)?;
        Ok(flow)
    }

    /// Lookups go over https, or http to a host the operator allowed (a
    /// local test server); the address is checked again on every call.
    fn check_lookups(&self, flow: &Flow) -> ServiceResult<()> {
        for (i, step) in flow.spec().steps.iter().enumerate() {
            let Some(l) = &step.lookup else { continue };
            let probe = LOOKUP_VARS.iter().fold(l.url.trim().to_owned(), |u, v| u.replace(v, "x"));
            let url = url::Url::parse(&probe)
                .map_err(|_| ServiceError::invalid(format!("steps[{i}].lookup.url: not a web address")))?;
            let allowed = self.webhooks.policy.allows_host_of(&url);
            if url.scheme() != "https" && !allowed {
                return Err(ServiceError::invalid(format!("steps[{i}].lookup.url: the URL must start with https://")));
            }
            if self.webhooks.policy.check_url(&url).is_err() {
                return Err(ServiceError::invalid(format!(
                    "steps[{i}].lookup.url: that address is private; lookups go to public addresses"
                )));
            }
        }
        Ok(())
    }

    pub async fn create_flow(&self, admin: &User, flow: &Flow) -> ServiceResult<StoredFlow> {
        Ok(self.store.create_flow(admin.account_id, flow).await?)
    }

    pub async fn update_flow(&self, admin: &User, id: i64, flow: &Flow) -> ServiceResult<StoredFlow> {
        Ok(self.store.update_flow(admin.account_id, id, flow).await?)
    }

    pub async fn delete_flow(&self, admin: &User, id: i64) -> ServiceResult<()> {
        self.store.delete_flow(admin.account_id, id).await?;
        self.audit(admin, "flow.deleted", &format!("flow:{id}"), None, "").await
    }

    /// A new flow from its name alone: a menu whose choices are a person and a
    /// call back (the times offered as after texting CALL), for the admin to
    /// add to on the settings page.
    pub async fn start_new_flow(&self, admin: &User, name: &str) -> ServiceResult<StoredFlow> {
        let spec = serde_json::json!({
            "name": name,
            "steps": [{ "name": "start", "text": "Hi! How can we help? Reply with a number.",
                        "options": [{ "key": "0", "label": "A person", "handoff": {} },
                                    { "key": "1", "label": "A call back", "callback": true }] }]
        });
        let flow = self.read_flow(spec).map_err(|e| match e {
            ServiceError::Invalid(d) => ServiceError::Invalid(d.replace("name: ", "")),
            other => other,
        })?;
        self.create_flow(admin, &flow).await
    }

    /// Changes a saved flow as `edit` says, checked as a whole before it is kept.
    pub async fn edit_flow(
        &self,
        admin: &User,
        id: i64,
        edit: impl FnOnce(&mut FlowSpec) -> Result<(), String>,
    ) -> ServiceResult<StoredFlow> {
        let current = self.store.flow(admin.account_id, id).await?;
        let mut spec = current.flow.spec().clone();
        edit(&mut spec).map_err(ServiceError::Invalid)?;
        let flow = Flow::parse(spec)?;
        self.check_lookups(&flow)?;
        self.update_flow(admin, id, &flow).await
    }

    /// The flow as a file (`{"version":1,…}`, or the same in YAML): its name and text.
    pub async fn export_flow(&self, user: &User, id: i64, yaml: bool) -> ServiceResult<(String, String)> {
        let f = self.store.flow(user.account_id, id).await?;
        Ok(if yaml {
            (file_name(f.flow.name()).replace(".json", ".yaml"), flow::export_yaml(&f.flow))
        } else {
            (file_name(f.flow.name()), flow::export(&f.flow))
        })
    }

    /// A flow from a file (JSON, or YAML when it does not start with `{`):
    /// created, or with `replace`, written over the flow of that id. A bad file
    /// is refused with "line N, field: what".
    pub async fn import_flow(&self, admin: &User, text: &str, replace: Option<i64>) -> ServiceResult<StoredFlow> {
        let flow = flow::import(text).map_err(|e| ServiceError::invalid(e.to_string()))?;
        self.check_lookups(&flow)?;
        match replace {
            Some(id) => self.update_flow(admin, id, &flow).await,
            None => self.create_flow(admin, &flow).await,
        }
    }

    /// Makes the lookups that are waiting: each claimed with a lease, called
    /// with no transaction open, and answered in its own transaction. Returns
    /// how many were answered. The worker loop runs it; tests call it.
    pub async fn run_flow_lookups(&self) -> ServiceResult<usize> {
        let claimed = self.store.claim_flow_lookups(Timestamp::now(), LOOKUP_LEASE, 20).await?;
        let mut done = 0;
        for (session, account_id, address) in claimed {
            let value = self.look_up(&session, account_id, &address).await;
            let engine = Engine::load(self, account_id).await?;
            let mut tx = self.store.automation_tx().await?;
            engine.lookup_done(&mut tx, &session, value.as_deref()).await?;
            self.store.commit_automation(tx).await?;
            done += 1;
        }
        Ok(done)
    }

    /// The value the step's lookup finds, or None (the reason is logged
    /// without the customer's data).
    async fn look_up(&self, session: &FlowSession, account_id: i64, address: &str) -> Option<String> {
        let flow = self.store.flow(account_id, session.flow_id).await.ok()?;
        let lookup = flow.flow.step(&session.step)?.lookup.clone()?;
        let input = session.lookup_input.as_deref().unwrap_or_default();
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let raw = lookup.url.trim().replace("{phone}", &enc(address)).replace("{input}", &enc(input));
        let failed = |why: &str| {
            tracing::info!(flow = session.flow_id, step = %session.step, why, "a flow's lookup failed");
            None
        };
        let Ok(url) = url::Url::parse(&raw) else { return failed("the URL is not valid") };
        if url.scheme() != "https" && !self.webhooks.policy.allows_host_of(&url) {
            return failed("not https");
        }
        if self.webhooks.policy.check_url(&url).is_err() {
            return failed("a private address");
        }
        let call = self
            .webhooks
            .client
            .get(url)
            .timeout(LOOKUP_TIMEOUT)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let resp = match call {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => return failed(&format!("answered {}", r.status().as_u16())),
            Err(e) if e.is_timeout() => return failed("no answer in time"),
            Err(_) => return failed("could not connect"),
        };
        let body = match tokio::time::timeout(LOOKUP_TIMEOUT, resp.bytes()).await {
            Ok(Ok(b)) if b.len() <= MAX_ANSWER_BYTES => b,
            Ok(Ok(_)) => return failed("the answer is too large"),
            _ => return failed("the answer did not arrive"),
        };
        let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else { return failed("not JSON") };
        let Some(value) = field(&json, &lookup.field) else { return failed("no such field in the answer") };
        Some(value.chars().take(MAX_VALUE_CHARS).collect())
    }

    /// Ends, politely, the flows whose customer has not answered in time.
    /// Run by housekeeping; `now` is a parameter so tests can move the clock.
    pub async fn run_flow_timeouts(&self, now: Timestamp) -> ServiceResult<usize> {
        let due = self.store.timed_out_flows(now, 200).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let accounts: Vec<i64> = self.store.accounts().await?.into_iter().map(|a| a.id).collect();
        let engine = Engine::load_all(self, &accounts).await?;
        let mut ended = 0;
        for conversation_id in due {
            let mut tx = self.store.automation_tx().await?;
            if engine.flow_timed_out(&mut tx, conversation_id, now).await? {
                ended += 1;
            }
            self.store.commit_automation(tx).await?;
        }
        Ok(ended)
    }
}

/// `appointment.time`, `items.0.name`: a string, number or true/false there.
fn field(json: &serde_json::Value, path: &str) -> Option<String> {
    let mut at = json;
    for part in path.trim().split('.') {
        at = match at {
            serde_json::Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            serde_json::Value::Object(o) => o.get(part)?,
            _ => return None,
        };
    }
    match at {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// "Main menu" → "main-menu.flow.json".
fn file_name(name: &str) -> String {
    let slug: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    let slug = slug.split('-').filter(|p| !p.is_empty()).collect::<Vec<_>>().join("-");
    format!("{}.flow.json", if slug.is_empty() { "flow" } else { &slug })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_found_by_its_path() {
        let j = serde_json::json!({ "appointment": { "time": "3:30 PM" }, "items": [{ "n": 4 }], "ok": true });
        assert_eq!(field(&j, "appointment.time").as_deref(), Some("3:30 PM"));
        assert_eq!(field(&j, "items.0.n").as_deref(), Some("4"));
        assert_eq!(field(&j, "ok").as_deref(), Some("true"));
        assert_eq!(field(&j, "appointment"), None, "an object is not a value");
        assert_eq!(field(&j, "items.1.n"), None);
        assert_eq!(file_name("Main menu!"), "main-menu.flow.json");
    }
}
