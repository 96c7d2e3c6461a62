//! The account's settings: `compose`, the tone rules the composer's preview
//! applies (`core::compose::ToneRules`), `targets`, the response times the
//! inbox measures waiting customers against, and `quiet_hours`, the window in
//! the contact's local time when texts may go (the server's `quiet_hours` until
//! an admin sets one), and `time_zone`, the business's own clock (the server's
//! `time_zone` until an admin sets one).

use serde_json::{Map, Value, json};
use textdesk_core::Invalid;
use textdesk_core::QuietHours;
use textdesk_core::compose::ToneRules;
use textdesk_core::escalation::{DEFAULT_VIDEO_TEMPLATE, SmtpTls, VideoTemplate};
use textdesk_core::timing::TimingPolicy;

use crate::services::Services;
use crate::services::error::ServiceResult;

/// The sections an account's settings may hold.
const SECTIONS: &[&str] = &["compose", "targets", "quiet_hours", "routing", "escalation", "email", "time_zone"];

/// The settings as they apply: every section present, defaults filled in.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountSettings {
    pub compose: ToneRules,
    pub targets: Targets,
    pub routing: Routing,
    pub escalation: EscalationSettings,
    pub email: EmailSettings,
    /// The account's own window, or the server's when none is stored.
    #[serde(serialize_with = "as_text")]
    pub quiet_hours: QuietHours,
    /// Whether the account has its own window; only then is it stored, so a
    /// changed server default reaches accounts that never chose one.
    #[serde(skip)]
    own_quiet_hours: bool,
    /// The business's zone (IANA name): times shown to its people, business hours
    /// that name no zone, "tomorrow" in automatic replies and schedules.
    pub time_zone: String,
    #[serde(skip)]
    own_time_zone: bool,
}

/// How soon customers should hear from a person, and the other KPIs' targets (reports).
pub use textdesk_core::kpi::Targets;

/// How conversations find their person (teams' own way of assigning is on each team).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// A reply to an unassigned conversation assigns it to the person who replied.
    pub reply_assigns: bool,
    /// A returning customer goes to the agent who last handled them within this many days (0: never).
    pub sticky_days: u32,
    /// An agent "online" with no tab open for this long counts as away.
    pub away_after_minutes: u32,
    /// An agent away or offline this long has their waiting conversations handed back to the team.
    pub release_after_minutes: u32,
}

impl Default for Routing {
    fn default() -> Self {
        Routing { reply_assigns: true, sticky_days: 7, away_after_minutes: 5, release_after_minutes: 10 }
    }
}

impl Routing {
    fn validated(self) -> Result<Self, Invalid> {
        if self.sticky_days > 90 {
            return Err(Invalid::new(
                "settings.routing.sticky_days (days a returning customer goes to their last agent) must be 0 to 90",
            ));
        }
        if !(1..=240).contains(&self.away_after_minutes) {
            return Err(Invalid::new(
                "settings.routing.away_after_minutes (minutes without the app open before an agent counts as away) must be 1 to 240",
            ));
        }
        if !(1..=1440).contains(&self.release_after_minutes) {
            return Err(Invalid::new(
                "settings.routing.release_after_minutes (minutes before an absent agent's waiting customers go back to the team) must be 1 to 1440",
            ));
        }
        Ok(self)
    }
}

/// How escalations are made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EscalationSettings {
    /// The meeting link a video escalation texts: an https URL with `{room}`,
    /// where a random id goes.
    pub video_link: String,
    /// What a customer texts to ask for a call back (`CALL`); empty switches it off.
    pub callback_keyword: String,
}

/// The call back keyword a new account has.
pub const DEFAULT_CALLBACK_KEYWORD: &str = "CALL";

impl Default for EscalationSettings {
    fn default() -> Self {
        EscalationSettings {
            video_link: DEFAULT_VIDEO_TEMPLATE.to_owned(),
            callback_keyword: DEFAULT_CALLBACK_KEYWORD.to_owned(),
        }
    }
}

impl EscalationSettings {
    fn validated(self) -> Result<Self, Invalid> {
        let t =
            VideoTemplate::parse(&self.video_link).map_err(|e| Invalid::new(format!("settings.escalation: {e}")))?;
        let keyword = self.callback_keyword.trim().to_ascii_uppercase();
        if keyword.len() > 20 || !keyword.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Invalid::new(
                "settings.escalation: callback_keyword is one word of letters and digits (at most 20), or empty to switch it off",
            ));
        }
        if textdesk_core::consent::Keywords::default().classify(&keyword).is_some() {
            return Err(Invalid::new(format!(
                "settings.escalation: callback_keyword {keyword:?} is a consent keyword (STOP, START, HELP…)"
            )));
        }
        Ok(EscalationSettings { video_link: t.as_str().to_owned(), callback_keyword: keyword })
    }

    /// The template, checked when it was stored.
    pub fn video_template(&self) -> VideoTemplate {
        VideoTemplate::parse(&self.video_link).unwrap_or_default()
    }
}

/// Outgoing email (SMTP) for email escalations. The password is write-only:
/// `settings.email.password` in a patch is sealed apart (`server_keys`), never
/// stored here nor shown.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailSettings {
    /// The SMTP server; empty while email is not set up.
    pub host: String,
    /// 0 for the mode's usual port (25 plain, 587 STARTTLS, 465 TLS).
    pub port: u16,
    pub tls: SmtpTls,
    pub username: String,
    /// The sender, like help@example.com.
    pub from: String,
    /// Replies go to reply+<token>@ this domain (its inbound parse webhook posts them back).
    pub reply_domain: String,
}

impl EmailSettings {
    fn validated(self) -> Result<Self, Invalid> {
        let bad = |e: Invalid| Invalid::new(format!("settings.email: {e}"));
        if self.host.trim().is_empty() {
            return Ok(EmailSettings::default());
        }
        let host = self.host.trim();
        if host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c == '/' || c == '@') {
            return Err(Invalid::new("settings.email.host must be a host name or address"));
        }
        let from = textdesk_core::Email::parse(&self.from).map_err(bad)?;
        let reply_domain = textdesk_core::escalation::parse_reply_domain(&self.reply_domain).map_err(bad)?;
        Ok(EmailSettings {
            host: host.to_owned(),
            from: from.as_str().to_owned(),
            reply_domain,
            username: self.username.trim().to_owned(),
            ..self
        })
    }

    pub fn configured(&self) -> bool {
        !self.host.is_empty()
    }
}

/// The stored zone: absent is the server's; anything else must be an IANA name.
fn time_zone_of(v: Option<&Value>, default: &str) -> Result<(String, bool), Invalid> {
    match v {
        None => Ok((default.to_owned(), false)),
        Some(Value::String(name)) => match jiff::tz::TimeZone::get(name.trim()) {
            Ok(_) => Ok((name.trim().to_owned(), true)),
            Err(_) => Err(Invalid::new(format!(
                "time_zone: {name:?} is not a time zone; use an IANA name such as Europe/Paris"
            ))),
        },
        Some(_) => Err(Invalid::new("time_zone must be text like \"America/Chicago\"")),
    }
}

fn as_text<S: serde::Serializer>(q: &QuietHours, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(q)
}

/// The stored window: absent is the server's default; anything else must read.
fn quiet_hours_of(v: Option<&Value>, default: QuietHours) -> Result<(QuietHours, bool), Invalid> {
    match v {
        None => Ok((default, false)),
        Some(Value::String(text)) => {
            QuietHours::parse(text).map(|q| (q, true)).map_err(|e| Invalid::new(format!("quiet hours: {}", e.0)))
        }
        Some(_) => Err(Invalid::new("quiet hours must be text like \"08:00-21:00\"")),
    }
}

/// A settings section that checks its own values.
trait Section: serde::de::DeserializeOwned + Default {
    fn checked(self) -> Result<Self, Invalid>;
}

impl Section for ToneRules {
    fn checked(self) -> Result<Self, Invalid> {
        self.validated()
    }
}

impl Section for Targets {
    fn checked(self) -> Result<Self, Invalid> {
        self.validated()
    }
}

impl Section for Routing {
    fn checked(self) -> Result<Self, Invalid> {
        self.validated()
    }
}

impl Section for EscalationSettings {
    fn checked(self) -> Result<Self, Invalid> {
        self.validated()
    }
}

impl Section for EmailSettings {
    fn checked(self) -> Result<Self, Invalid> {
        self.validated()
    }
}

/// A stored section as it applies: its defaults when it is missing, or no
/// longer reads or checks (edited by hand, written by another version); the
/// log names the section and the fault, never its values.
fn stored_section<T: Section>(stored: &Value, key: &str) -> T {
    match stored.get(key).map(|v| serde_json::from_value::<T>(v.clone())) {
        None => T::default(),
        Some(Ok(t)) => t.checked().unwrap_or_else(|e| {
            tracing::warn!(error = %e, section = key, "an account settings section is not valid; using its defaults");
            T::default()
        }),
        Some(Err(e)) => {
            tracing::warn!(error = %e, section = key, "an account settings section does not read; using its defaults");
            T::default()
        }
    }
}

impl AccountSettings {
    /// Reads stored settings. A section that no longer reads (edited by hand,
    /// written by another version) falls back to the defaults rather than
    /// breaking every preview; the log says so.
    fn from_stored(stored: &Value, default_quiet: QuietHours, default_zone: &str) -> Self {
        let compose: ToneRules = stored_section(stored, "compose");
        let targets: Targets = stored_section(stored, "targets");
        let routing: Routing = stored_section(stored, "routing");
        let escalation: EscalationSettings = stored_section(stored, "escalation");
        // Email's defaults are "off".
        let email: EmailSettings = stored_section(stored, "email");
        let (quiet_hours, own_quiet_hours) =
            quiet_hours_of(stored.get("quiet_hours"), default_quiet).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the account's quiet hours are not valid; using the server's");
                (default_quiet, false)
            });
        let (time_zone, own_time_zone) = time_zone_of(stored.get("time_zone"), default_zone).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the account's time zone is not valid; using the server's");
            (default_zone.to_owned(), false)
        });
        AccountSettings {
            compose,
            targets,
            routing,
            escalation,
            email,
            quiet_hours,
            own_quiet_hours,
            time_zone,
            own_time_zone,
        }
    }

    /// Validates a whole settings object as an admin would store it.
    fn parse(v: &Value, default_quiet: QuietHours, default_zone: &str) -> Result<Self, Invalid> {
        let obj = v.as_object().ok_or_else(|| Invalid::new("settings must be a JSON object"))?;
        if let Some(k) = obj.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(Invalid::new(format!(
                "settings has no section {k:?}; the sections are {}",
                SECTIONS.join(", ")
            )));
        }
        let compose = match obj.get("compose") {
            None => ToneRules::default(),
            Some(c) => serde_json::from_value::<ToneRules>(c.clone())
                .map_err(|e| Invalid::new(format!("settings.compose: {e}")))?
                .validated()?,
        };
        let targets = match obj.get("targets") {
            None => Targets::default(),
            Some(t) => serde_json::from_value::<Targets>(t.clone())
                .map_err(|e| Invalid::new(format!("settings.targets: {e}")))?
                .validated()?,
        };
        let routing = match obj.get("routing") {
            None => Routing::default(),
            Some(r) => serde_json::from_value::<Routing>(r.clone())
                .map_err(|e| Invalid::new(format!("settings.routing: {e}")))?
                .validated()?,
        };
        let escalation = match obj.get("escalation") {
            None => EscalationSettings::default(),
            Some(e) => serde_json::from_value::<EscalationSettings>(e.clone())
                .map_err(|e| Invalid::new(format!("settings.escalation: {e}")))?
                .validated()?,
        };
        let email = match obj.get("email") {
            None => EmailSettings::default(),
            Some(e) => serde_json::from_value::<EmailSettings>(e.clone())
                .map_err(|e| Invalid::new(format!("settings.email: {e}")))?
                .validated()?,
        };
        let (quiet_hours, own_quiet_hours) = quiet_hours_of(obj.get("quiet_hours"), default_quiet)?;
        let (time_zone, own_time_zone) = time_zone_of(obj.get("time_zone"), default_zone)?;
        Ok(AccountSettings {
            compose,
            targets,
            routing,
            escalation,
            email,
            quiet_hours,
            own_quiet_hours,
            time_zone,
            own_time_zone,
        })
    }

    /// The zone the account chose, None while the server's applies.
    pub fn own_time_zone(&self) -> Option<&str> {
        self.own_time_zone.then_some(self.time_zone.as_str())
    }

    /// The window the account chose, None while the server's applies.
    pub fn own_quiet_hours(&self) -> Option<QuietHours> {
        self.own_quiet_hours.then_some(self.quiet_hours)
    }

    /// What is stored: every section with its defaults written out, except a
    /// window the account never chose.
    fn stored(&self) -> Value {
        let mut v = json!({
            "compose": self.compose,
            "targets": self.targets,
            "routing": self.routing,
            "escalation": self.escalation,
            "email": self.email,
        });
        if self.own_quiet_hours {
            v["quiet_hours"] = json!(self.quiet_hours.to_string());
        }
        if self.own_time_zone {
            v["time_zone"] = json!(self.time_zone);
        }
        v
    }
}

/// Where an account's SMTP password is sealed (`server_keys`).
pub(crate) fn smtp_password_name(account_id: i64) -> String {
    format!("smtp_password:{account_id}")
}

/// RFC 7386 JSON merge patch: objects merge, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

impl Services {
    pub async fn account(&self, account_id: i64) -> ServiceResult<textdesk_store::Account> {
        Ok(self.store.account(account_id).await?)
    }

    /// The business's name as its customers read it in automatic replies: the account's own.
    pub async fn business_name_of(&self, account_id: i64) -> ServiceResult<String> {
        Ok(self.store.account(account_id).await?.name)
    }

    /// The one place the account's settings are read.
    pub async fn account_settings(&self, account_id: i64) -> ServiceResult<AccountSettings> {
        let stored = self.store.account_settings(account_id).await?;
        Ok(AccountSettings::from_stored(&stored, self.timing.quiet, self.server_zone()))
    }

    /// The gate's timing rules for this account: the server's, with the
    /// account's quiet hours and zone. Read per send (one small row), so a change
    /// applies to the next message, including ones already waiting.
    pub async fn timing_for(&self, account_id: i64) -> ServiceResult<TimingPolicy> {
        let settings = self.account_settings(account_id).await?;
        let fallback_zone =
            jiff::tz::TimeZone::get(&settings.time_zone).unwrap_or_else(|_| self.timing.fallback_zone.clone());
        Ok(TimingPolicy { quiet: settings.quiet_hours, fallback_zone, ..(*self.timing).clone() })
    }

    /// The business's clock: the account's `time_zone`, else the server's.
    pub async fn business_zone(&self, account_id: i64) -> ServiceResult<jiff::tz::TimeZone> {
        Ok(self.timing_for(account_id).await?.fallback_zone)
    }

    /// The server's zone (`time_zone` in the config): every account's until it chooses its own.
    fn server_zone(&self) -> &str {
        self.timing.fallback_zone.iana_name().unwrap_or("UTC")
    }

    /// The tone rules the composer applies for this account.
    pub async fn tone_rules(&self, account_id: i64) -> ServiceResult<ToneRules> {
        Ok(self.account_settings(account_id).await?.compose)
    }

    /// Applies a merge patch to the stored settings (callers check the admin
    /// role); stores them with defaults written out, so what is stored is what
    /// applies. The audit trail names the sections `by` changed, never their values.
    pub async fn patch_account_settings(
        &self,
        by: &textdesk_store::User,
        patch: &Value,
    ) -> ServiceResult<AccountSettings> {
        let account_id = by.account_id;
        let Some(sections) = patch.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()) else {
            return Err(Invalid::new("settings must be a JSON object").into());
        };
        // The SMTP password is write-only: sealed apart, never in the settings.
        let mut patch = patch.clone();
        let password = patch.get_mut("email").and_then(|e| e.as_object_mut()).and_then(|e| e.remove("password"));
        let mut settings = self.store.account_settings(account_id).await?;
        merge_patch(&mut settings, &patch);
        let parsed = AccountSettings::parse(&settings, self.timing.quiet, self.server_zone())?;
        match password {
            None => {}
            Some(Value::Null) => self.store.set_server_secret(&smtp_password_name(account_id), None).await?,
            Some(Value::String(p)) if p.len() <= 500 => {
                self.store.set_server_secret(&smtp_password_name(account_id), Some(&p)).await?
            }
            Some(_) => return Err(Invalid::new("settings.email.password must be text (null removes it)").into()),
        }
        self.store.set_account_settings(account_id, &parsed.stored()).await?;
        let detail = format!("Changed: {}.", if sections.is_empty() { "nothing".into() } else { sections.join(", ") });
        self.audit(by, "settings.account", "account settings", None, &detail).await?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_merges_objects_and_removes_nulls() {
        let mut v = json!({ "compose": { "checks": { "slang": true, "emoji": true }, "max_segments": 3 } });
        merge_patch(&mut v, &json!({ "compose": { "checks": { "slang": false }, "max_segments": null } }));
        assert_eq!(v, json!({ "compose": { "checks": { "slang": false, "emoji": true } } }));
    }

    #[test]
    fn settings_are_checked_section_by_section() {
        let d = QuietHours::default();
        assert!(AccountSettings::parse(&json!({ "compose": { "max_segments": 4 } }), d, "UTC").is_ok());
        assert!(AccountSettings::parse(&json!({ "tone": {} }), d, "UTC").unwrap_err().0.contains("compose"));
        assert!(AccountSettings::parse(&json!({ "compose": { "checks": { "slangs": false } } }), d, "UTC").is_err());
        let bad = json!({ "compose": { "max_segments": "three" }, "quiet_hours": "late" });
        let read = AccountSettings::from_stored(&bad, d, "UTC");
        assert_eq!((read.compose, read.quiet_hours), (ToneRules::default(), d));
        let t = AccountSettings::parse(&json!({ "targets": { "first_response_minutes": 5 } }), d, "UTC").unwrap();
        assert_eq!(t.targets.first_response_minutes, 5);
        assert!(AccountSettings::parse(&json!({ "targets": { "first_response_minutes": 0 } }), d, "UTC").is_err());
        assert!(AccountSettings::parse(&json!({ "targets": { "first_response": 5 } }), d, "UTC").is_err());
        assert_eq!(AccountSettings::from_stored(&json!({}), d, "UTC").targets.first_response_minutes, 15);
        let e =
            AccountSettings::parse(&json!({ "escalation": { "video_link": "https://v.example/{room}" } }), d, "UTC");
        assert_eq!(e.unwrap().escalation.video_template().link("r1").unwrap(), "https://v.example/r1");
        let e = AccountSettings::parse(&json!({ "escalation": { "video_link": "http://v.example/" } }), d, "UTC")
            .unwrap_err();
        assert!(e.0.contains("settings.escalation"), "{e}");
    }

    #[test]
    fn the_zone_is_the_servers_until_chosen() {
        let d = QuietHours::default();
        let none = AccountSettings::parse(&json!({}), d, "America/Chicago").unwrap();
        assert_eq!((none.time_zone.as_str(), none.stored().get("time_zone")), ("America/Chicago", None));
        let own = AccountSettings::parse(&json!({ "time_zone": "Europe/Paris" }), d, "UTC").unwrap();
        assert_eq!(own.stored()["time_zone"], "Europe/Paris");
        assert!(AccountSettings::parse(&json!({ "time_zone": "Mars/Olympus" }), d, "UTC").is_err());
        assert_eq!(AccountSettings::from_stored(&json!({ "time_zone": 3 }), d, "UTC").time_zone, "UTC");
    }

    #[test]
    fn quiet_hours_are_stored_only_when_chosen() {
        let d = QuietHours::default();
        let own = AccountSettings::parse(&json!({ "quiet_hours": "10:00-18:00" }), d, "UTC").unwrap();
        assert_eq!(own.stored()["quiet_hours"], "10:00-18:00");
        let none = AccountSettings::parse(&json!({}), d, "UTC").unwrap();
        assert!(none.stored().get("quiet_hours").is_none());
        let e = AccountSettings::parse(&json!({ "quiet_hours": "25:00-08:00" }), d, "UTC").unwrap_err();
        assert!(e.0.contains("25:00-08:00"), "{e}");
        assert!(AccountSettings::parse(&json!({ "quiet_hours": 8 }), d, "UTC").is_err());
    }
}
