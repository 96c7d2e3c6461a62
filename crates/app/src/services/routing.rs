//! From a waiting customer to a person: a returning customer to the agent who
//! helped them last (when that agent is online and has room), a team's
//! waiting conversations to its members in turn or to the least busy, an
//! absent agent's waiting customers back to their team. One pass does all of
//! it (`route_waiting`), on a timer and when the log moves; every automatic
//! assignment is a timeline event that says why.

use jiff::{SignedDuration, Timestamp};
use textdesk_core::Role;
use textdesk_core::routing::{Assignment, Capacity, Presence};
use textdesk_store::User;
use textdesk_store::routing::TeamRouting;

use crate::services::Services;
use crate::services::account::Routing;
use crate::services::error::{ServiceError, ServiceResult};

/// The people with a live stream open on this node, counted per person.
#[derive(Debug, Default)]
pub struct Tabs(std::sync::Mutex<std::collections::HashMap<i64, usize>>);

/// Held by an open live stream; its drop closes the tab.
pub struct TabGuard {
    tabs: std::sync::Arc<Tabs>,
    user_id: i64,
}

impl Drop for TabGuard {
    fn drop(&mut self) {
        let mut open = self.tabs.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

impl Tabs {
    fn open(&self) -> Vec<i64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect()
    }
}

/// A person's presence as the app shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceView {
    /// What they chose.
    pub chosen: Presence,
    /// What counts now ("online" with no tab open for a while is away).
    pub now: Presence,
}

impl Services {
    pub async fn presence_of(&self, user: &User) -> ServiceResult<PresenceView> {
        let p = self.store.presence(user.id).await?;
        let away_after = minutes(self.account_settings(user.account_id).await?.routing.away_after_minutes);
        Ok(PresenceView { chosen: p.presence, now: p.presence.effective(p.seen_at, Timestamp::now(), away_after) })
    }

    /// An agent says whether conversations may come to them.
    pub async fn set_presence(&self, user: &User, presence: &str) -> ServiceResult<PresenceView> {
        let presence = Presence::parse(presence.trim())?;
        self.store.set_presence(user.id, presence, Timestamp::now()).await?;
        self.presence_of(user).await
    }

    /// A live stream opened: the person counts as here while it stays open.
    pub fn tab_opened(&self, user_id: i64) -> TabGuard {
        *self.tabs.0.lock().unwrap_or_else(|e| e.into_inner()).entry(user_id).or_default() += 1;
        TabGuard { tabs: self.tabs.clone(), user_id }
    }

    /// Writes "seen now" for everyone with a tab open on this node (the router calls it on its pass).
    pub async fn mark_tabs_seen(&self, now: Timestamp) -> ServiceResult<()> {
        let open = self.tabs.open();
        if !open.is_empty() {
            self.store.touch_seen(&open, now).await?;
        }
        Ok(())
    }

    pub async fn teams_routing(&self, user: &User) -> ServiceResult<Vec<TeamRouting>> {
        Ok(self.store.team_routing(user.account_id).await?)
    }

    /// An admin sets how a team hands out conversations, and each agent's room.
    pub async fn set_team_routing(
        &self,
        admin: &User,
        team_id: i64,
        assignment: &str,
        capacity: u32,
    ) -> ServiceResult<TeamRouting> {
        if !admin.role.at_least(Role::Admin) {
            return Err(ServiceError::forbidden("only admins change how a team assigns conversations"));
        }
        let assignment = Assignment::parse(assignment.trim())?;
        let capacity = Capacity::new(capacity)?;
        Ok(self.store.set_team_routing(admin.account_id, team_id, assignment, capacity).await?)
    }

    /// A reply to a conversation nobody has makes it the replier's (the
    /// account may switch this off); someone who took it first keeps it.
    pub(crate) async fn assign_replier(&self, user: &User, conversation_id: i64) -> ServiceResult<()> {
        if self.account_settings(user.account_id).await?.routing.reply_assigns {
            let why = format!("{} replied", user.name);
            self.store.route_one_if_unassigned(user.account_id, conversation_id, user.id, &why).await?;
        }
        Ok(())
    }

    /// One pass of the router over every account: returning customers first
    /// (to their last agent), then each team's queue, after handing back the
    /// waiting customers of agents who left. Returns how many it assigned.
    pub async fn route_waiting(&self, now: Timestamp) -> ServiceResult<usize> {
        let mut assigned = 0;
        for account in self.store.accounts().await? {
            let settings = self.account_settings(account.id).await?.routing;
            assigned += self.route_arrivals(account.id, &settings, now).await?;
            let away_after = minutes(settings.away_after_minutes);
            self.store.release_absent(account.id, now, away_after, minutes(settings.release_after_minutes)).await?;
            for team in self.store.team_routing(account.id).await? {
                if team.assignment != Assignment::Manual {
                    assigned += self.store.route_team(account.id, team.id, now, away_after).await?.assigned.len();
                }
            }
        }
        Ok(assigned)
    }

    /// Sticky agent: a customer who starts a new wait goes to the agent who
    /// last handled them (within the account's window) when that agent is
    /// online with room; otherwise the timeline says who helped last time and
    /// why they did not get it, once per conversation.
    async fn route_arrivals(&self, account_id: i64, settings: &Routing, now: Timestamp) -> ServiceResult<usize> {
        let mut assigned = 0;
        let arrivals = self.store.arrivals(account_id).await?;
        self.store.mark_routed(&arrivals.iter().map(|a| a.0).collect::<Vec<_>>(), now).await?;
        if settings.sticky_days == 0 || arrivals.is_empty() {
            return Ok(0);
        }
        let since = now - SignedDuration::from_hours(24 * i64::from(settings.sticky_days));
        let mut last = self.store.last_agents(&arrivals.iter().map(|a| a.0).collect::<Vec<_>>(), since).await?;
        for (conversation_id, looked_before) in arrivals {
            let Some((agent, name)) = last.remove(&conversation_id) else { continue };
            let p = self.store.presence(agent).await?;
            let presence = p.presence.effective(p.seen_at, now, minutes(settings.away_after_minutes));
            let room = self.store.open_assigned(agent).await? < self.store.capacity_of(agent).await?.get();
            let (to, why) = match (presence, room) {
                (Presence::Online, true) => (Some(agent), format!("{name} helped this customer last time")),
                (Presence::Online, false) => (None, format!("{name}, who helped last time, has no room for another")),
                (other, _) => (None, format!("{name}, who helped last time, is {}", other.as_str())),
            };
            if to.is_none() && looked_before {
                continue;
            }
            if self.store.route_one(account_id, conversation_id, to, &why, now).await? && to.is_some() {
                assigned += 1;
            }
        }
        Ok(assigned)
    }
}

fn minutes(m: u32) -> SignedDuration {
    SignedDuration::from_mins(i64::from(m))
}
