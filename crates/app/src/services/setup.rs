//! The first run: a checklist on the inbox that leads an admin through what a
//! new help desk needs (a number, business hours with an away message, a
//! colleague, a first text), each step ticking itself from what the account
//! holds; and the away message's preview as the settings page shows it.

use jiff::Timestamp;
use textdesk_core::Role;
use textdesk_core::hours::describe_opening;
use textdesk_core::segments::{self, SegmentCount};
use textdesk_core::template::{Template, Vars};
use textdesk_store::{Inbox, User};

use crate::services::Services;
use crate::services::error::ServiceResult;
use crate::services::hours::{DEFAULT_OFF_HOURS, InboxHours};

/// One step of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupStep {
    pub title: &'static str,
    /// What doing it means, in a sentence.
    pub hint: &'static str,
    /// Where it is done.
    pub href: String,
    pub done: bool,
}

/// The steps, while some are left and nobody dismissed the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupChecklist {
    pub steps: Vec<SetupStep>,
}

impl SetupChecklist {
    pub fn done_count(&self) -> usize {
        self.steps.iter().filter(|s| s.done).count()
    }
}

/// An away message as it would go out now, and what it costs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AwayPreview {
    pub text: String,
    #[serde(flatten)]
    pub count: SegmentCount,
}

impl Services {
    /// The checklist for `user`: only admins set an account up, and it is gone
    /// once every step is done or someone dismissed it.
    pub async fn setup_checklist(&self, user: &User) -> ServiceResult<Option<SetupChecklist>> {
        if user.role != Role::Admin {
            return Ok(None);
        }
        let facts = self.store.setup_facts(user.account_id).await?;
        if facts.dismissed {
            return Ok(None);
        }
        let inboxes = self.store.inboxes(user.account_id).await?;
        // Hours and the test text are set on an inbox's page: the real number's, else the first.
        let main = inboxes.iter().find(|i| i.provider != "simulator").or(inboxes.first());
        let inbox_href = |section: &str| match main {
            Some(i) => format!("/settings/inboxes/{}#{section}", i.id),
            None => "/settings/inboxes".to_owned(),
        };
        let business = self.business_zone(user.account_id).await?;
        let hours_set = inboxes.iter().any(|i| {
            let h = InboxHours::of(i, &business);
            let weekly = i.settings["hours"]["weekly"].as_object().is_some_and(|w| !w.is_empty());
            weekly && !h.hours.is_always_open() && h.off_hours.enabled
        });
        let steps = vec![
            SetupStep {
                title: "Connect a number",
                hint: "Add your Twilio number or SMPP link, so customers can text you.",
                href: "/settings/inboxes#add".into(),
                done: facts.numbers > 0,
            },
            SetupStep {
                title: "Set business hours and an away message",
                hint: "Say when someone answers; texts after hours get a reply naming the next opening.",
                href: inbox_href("hours"),
                done: hours_set,
            },
            SetupStep {
                title: "Invite a colleague",
                hint: "Share the inbox with the people who answer customers.",
                href: "/settings/users".into(),
                done: facts.people > 1,
            },
            SetupStep {
                title: "Send a test text",
                hint: "Text your own phone to see a message go out and its delivery come back.",
                href: inbox_href("test"),
                done: facts.texted,
            },
        ];
        if steps.iter().all(|s| s.done) {
            return Ok(None);
        }
        Ok(Some(SetupChecklist { steps }))
    }

    /// Puts the checklist away for the whole account (the page lets admins only).
    pub async fn dismiss_setup(&self, user: &User) -> ServiceResult<()> {
        Ok(self.store.dismiss_setup(user.account_id, Timestamp::now()).await?)
    }

    /// The away message (`text`, or the default when empty) as a customer
    /// would read it now, with the next opening of `inbox` named in the
    /// business's zone, and its length in texts (core's one count).
    pub async fn away_preview(&self, inbox: &Inbox, text: &str, now: Timestamp) -> ServiceResult<AwayPreview> {
        let business = self.business_name_of(inbox.account_id).await?;
        let business = business.as_str();
        let zone = &self.business_zone(inbox.account_id).await?;
        let template = if text.trim().is_empty() { DEFAULT_OFF_HOURS } else { text.trim() };
        let hours = InboxHours::of(inbox, zone).hours;
        // An inbox open around the clock never sends it: show it as it would read for 9:00 tomorrow.
        let sample = || {
            let tomorrow = now.to_zoned(zone.clone()).date().tomorrow().ok()?;
            tomorrow.at(9, 0, 0, 0).to_zoned(zone.clone()).ok().map(|z| z.timestamp())
        };
        let opening = hours.next_opening(now).or_else(sample).map(|at| describe_opening(at, zone, now));
        let vars = Vars::new("", "", business, opening);
        let text = Template::parse(template)?.render(&vars).text;
        Ok(AwayPreview { count: segments::count(&text), text })
    }
}
