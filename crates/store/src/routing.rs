//! Routing as stored: each team's way of assigning and capacity, each
//! person's presence and when a tab of theirs was last open, each member's
//! turn; and the writes the router makes (an automatic assignment with its
//! reason, a release back to the team), each with its event in one transaction.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use textdesk_core::event::DomainEvent;
use textdesk_core::routing::{Assignment, Candidate, Capacity, Presence, pick};

use crate::events::append;
use crate::{Backend, Result, Store, StoreError, from_ms, to_ms};

/// A team and how it hands out its conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRouting {
    pub id: i64,
    pub name: String,
    pub assignment: Assignment,
    pub capacity: Capacity,
}

/// A person's presence as they set it, and when a tab of theirs was last open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceRow {
    pub presence: Presence,
    pub presence_at: Option<Timestamp>,
    pub seen_at: Option<Timestamp>,
}

/// What one pass of the router did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routed {
    /// (conversation, agent) pairs assigned.
    pub assigned: Vec<(i64, i64)>,
}

fn team_from(r: &sqlx::any::AnyRow) -> Result<TeamRouting> {
    let assignment: String = r.try_get("assignment")?;
    let capacity: i64 = r.try_get("capacity")?;
    Ok(TeamRouting {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        assignment: Assignment::parse(&assignment).unwrap_or_default(),
        capacity: Capacity::new(u32::try_from(capacity).unwrap_or(0)).unwrap_or(Capacity::DEFAULT),
    })
}

impl Store {
    pub async fn team_routing(&self, account_id: i64) -> Result<Vec<TeamRouting>> {
        let rows = sqlx::query("SELECT id, name, assignment, capacity FROM teams WHERE account_id = $1 ORDER BY name")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(team_from).collect()
    }

    pub async fn set_team_routing(
        &self,
        account_id: i64,
        team_id: i64,
        assignment: Assignment,
        capacity: Capacity,
    ) -> Result<TeamRouting> {
        let r = self
            .write_one(
                sqlx::query("UPDATE teams SET assignment = $1, capacity = $2 WHERE id = $3 AND account_id = $4")
                    .bind(assignment.as_str())
                    .bind(i64::from(capacity.get()))
                    .bind(team_id)
                    .bind(account_id),
            )
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("team"));
        }
        self.team_routing(account_id).await?.into_iter().find(|t| t.id == team_id).ok_or(StoreError::NotFound("team"))
    }

    /// The accounts that have a team assigning by itself (the router's work list).
    pub async fn accounts_routing(&self) -> Result<Vec<i64>> {
        let rows =
            sqlx::query("SELECT DISTINCT account_id FROM teams WHERE assignment <> 'manual' ORDER BY account_id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get("account_id")?)).collect()
    }

    pub async fn presence(&self, user_id: i64) -> Result<PresenceRow> {
        let r = sqlx::query("SELECT presence, presence_at, seen_at FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        presence_from(&r)
    }

    pub async fn set_presence(&self, user_id: i64, presence: Presence, now: Timestamp) -> Result<()> {
        // Saying "online" is also being here: the tab that said it is open.
        self.write_one(
            sqlx::query(
                "UPDATE users SET presence = $1, presence_at = $2,
                 seen_at = CASE WHEN $1 = 'online' THEN $2 ELSE seen_at END WHERE id = $3",
            )
            .bind(presence.as_str())
            .bind(to_ms(now))
            .bind(user_id),
        )
        .await?;
        Ok(())
    }

    /// These people have a tab open now (the live stream's heartbeat).
    pub async fn touch_seen(&self, user_ids: &[i64], now: Timestamp) -> Result<()> {
        for id in user_ids {
            self.write_one(sqlx::query("UPDATE users SET seen_at = $1 WHERE id = $2").bind(to_ms(now)).bind(*id))
                .await?;
        }
        Ok(())
    }

    /// Gives the team's waiting conversations (open, nobody assigned) to its
    /// members with room, oldest wait first, in one transaction. The team's
    /// row is locked first on PostgreSQL, so two nodes never both fill the
    /// same agent's last place.
    pub async fn route_team(
        &self,
        account_id: i64,
        team_id: i64,
        now: Timestamp,
        away_after: SignedDuration,
    ) -> Result<Routed> {
        // Nobody waiting (the usual answer) is found without the write lock.
        let waits: i64 = sqlx::query(
            "SELECT COUNT(*) FROM conversations WHERE account_id = $1 AND team_id = $2 AND assignee_id IS NULL
               AND status = 'open'",
        )
        .bind(account_id)
        .bind(team_id)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        if waits == 0 {
            return Ok(Routed::default());
        }
        let mut tx = self.begin_write().await?;
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT id, name, assignment, capacity FROM teams WHERE id = $1 AND account_id = $2{lock}");
        let Some(team) =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(team_id).bind(account_id).fetch_optional(&mut *tx).await?
        else {
            tx.rollback().await?;
            return Err(StoreError::NotFound("team"));
        };
        let team = team_from(&team)?;
        let waiting: Vec<i64> = sqlx::query(
            "SELECT id FROM conversations WHERE account_id = $1 AND team_id = $2 AND assignee_id IS NULL
               AND status = 'open' AND bot = 0 ORDER BY COALESCE(waiting_since, created_at), id LIMIT 100",
        )
        .bind(account_id)
        .bind(team_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
        let mut routed = Routed::default();
        if team.assignment == Assignment::Manual || waiting.is_empty() {
            tx.rollback().await?;
            return Ok(routed);
        }
        let rows = sqlx::query(
            "SELECT u.id, u.name, u.presence, u.seen_at, tm.last_assigned_at,
                    (SELECT COUNT(*) FROM conversations c WHERE c.assignee_id = u.id AND c.status IN ('open', 'pending')) AS open
               FROM team_members tm JOIN users u ON u.id = tm.user_id
              WHERE tm.team_id = $1 AND u.active <> 0",
        )
        .bind(team_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut candidates = Vec::with_capacity(rows.len());
        let mut names = Vec::with_capacity(rows.len());
        for r in &rows {
            let presence: String = r.try_get("presence")?;
            let seen: Option<i64> = r.try_get("seen_at")?;
            let last: Option<i64> = r.try_get("last_assigned_at")?;
            let open: i64 = r.try_get("open")?;
            let id: i64 = r.try_get("id")?;
            names.push((id, r.try_get::<String, _>("name")?));
            candidates.push(Candidate {
                user_id: id,
                presence: Presence::parse(&presence).unwrap_or_default().effective(seen.map(from_ms), now, away_after),
                open: u32::try_from(open).unwrap_or(u32::MAX),
                last_assigned: last.map(from_ms),
            });
        }
        let why = match team.assignment {
            Assignment::RoundRobin => format!("in turn in the team {}", team.name),
            _ => format!("the least busy in the team {}", team.name),
        };
        for conversation_id in waiting {
            let Some(user_id) = pick(team.assignment, team.capacity, &candidates) else { break };
            let took = sqlx::query("UPDATE conversations SET assignee_id = $1 WHERE id = $2 AND assignee_id IS NULL")
                .bind(user_id)
                .bind(conversation_id)
                .execute(&mut *tx)
                .await?;
            if took.rows_affected() == 0 {
                continue;
            }
            let ev = DomainEvent::Assigned { assignee_id: user_id, why: Some(why.clone()) };
            append(&mut tx, (account_id, conversation_id), &ev, None, now).await?;
            sqlx::query("UPDATE team_members SET last_assigned_at = $1 WHERE team_id = $2 AND user_id = $3")
                .bind(to_ms(now))
                .bind(team_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if let Some(c) = candidates.iter_mut().find(|c| c.user_id == user_id) {
                c.open += 1;
                c.last_assigned = Some(now);
            }
            routed.assigned.push((conversation_id, user_id));
        }
        self.commit(tx).await?;
        Ok(routed)
    }

    /// Hands back to their team the waiting conversations (the customer spoke
    /// last) of agents who have been away or offline longer than
    /// `release_after`; conversations without a team that assigns by itself
    /// stay where they are (there is nobody to hand them to).
    pub async fn release_absent(
        &self,
        account_id: i64,
        now: Timestamp,
        away_after: SignedDuration,
        release_after: SignedDuration,
    ) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT c.id AS conversation_id, u.id AS user_id, u.name, u.presence, u.presence_at, u.seen_at
               FROM conversations c JOIN users u ON u.id = c.assignee_id JOIN teams t ON t.id = c.team_id
              WHERE c.account_id = $1 AND c.status = 'open' AND c.waiting_since IS NOT NULL AND t.assignment <> 'manual'",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        let mut released = 0;
        for r in &rows {
            let p = presence_from(r)?;
            let gone_since = match p.presence.effective(p.seen_at, now, away_after) {
                Presence::Online => continue,
                // Away by no tab: since the tab closed (plus the wait that made them away).
                Presence::Away if p.presence == Presence::Online => p.seen_at.map(|s| s + away_after),
                _ => p.presence_at,
            };
            if gone_since.is_some_and(|t| now.duration_since(t) < release_after) {
                continue;
            }
            let conversation_id: i64 = r.try_get("conversation_id")?;
            let user_id: i64 = r.try_get("user_id")?;
            let name: String = r.try_get("name")?;
            let mut tx = self.begin_write().await?;
            let took = sqlx::query("UPDATE conversations SET assignee_id = NULL WHERE id = $1 AND assignee_id = $2")
                .bind(conversation_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if took.rows_affected() == 0 {
                tx.rollback().await?;
                continue;
            }
            let note = format!(
                "Handed back to the team: {name} is {}",
                p.presence.effective(p.seen_at, now, away_after).as_str()
            );
            append(&mut tx, (account_id, conversation_id), &DomainEvent::Unassigned {}, None, now).await?;
            append(&mut tx, (account_id, conversation_id), &DomainEvent::RoutingNote { note }, None, now).await?;
            self.commit(tx).await?;
            released += 1;
        }
        Ok(released)
    }

    /// For each of these conversations, the agent who last handled its
    /// customer in another conversation active since `since`, if any: one
    /// read for a router pass's arrivals, not one each.
    pub async fn last_agents(
        &self,
        conversation_ids: &[i64],
        since: Timestamp,
    ) -> Result<std::collections::HashMap<i64, (i64, String)>> {
        use crate::multirow::{Value, select_in};
        let mut conn = self.pool.acquire().await?;
        let ids = crate::multirow::ints(conversation_ids);
        let rows = select_in(
            &mut conn,
            "SELECT c.id AS for_id, u.id, u.name, p.last_activity_at, p.id AS past_id FROM conversations c
               JOIN conversations p ON p.contact_id = c.contact_id AND p.id <> c.id
               JOIN users u ON u.id = p.assignee_id
              WHERE p.last_activity_at >= $1 AND u.active <> 0 AND c.id IN ({in})",
            &[Value::Int(to_ms(since))],
            &ids,
        )
        .await?;
        // The latest past conversation of each (the newest first when two were active at the same moment).
        let mut latest: std::collections::HashMap<i64, PastAgent> = Default::default();
        for r in rows {
            let at = (r.try_get::<i64, _>("last_activity_at")?, r.try_get::<i64, _>("past_id")?);
            let agent = (r.try_get::<i64, _>("id")?, r.try_get::<String, _>("name")?);
            let slot = latest.entry(r.try_get("for_id")?).or_insert((at, agent.clone()));
            if at > slot.0 {
                *slot = (at, agent);
            }
        }
        Ok(latest.into_iter().map(|(id, (_, agent))| (id, agent)).collect())
    }

    /// Assigns an unassigned conversation with the reason, or says nothing
    /// changed (someone took it first). A `note` is recorded instead when
    /// `assignee` is None (the router says why it did not assign).
    pub async fn route_one(
        &self,
        account_id: i64,
        conversation_id: i64,
        assignee: Option<i64>,
        why: &str,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = match assignee {
            Some(user_id) => {
                let took = sqlx::query(
                    "UPDATE conversations SET assignee_id = $1 WHERE id = $2 AND account_id = $3 AND assignee_id IS NULL AND bot = 0",
                )
                .bind(user_id)
                .bind(conversation_id)
                .bind(account_id)
                .execute(&mut *tx)
                .await?;
                if took.rows_affected() == 1 {
                    let ev = DomainEvent::Assigned { assignee_id: user_id, why: Some(why.to_owned()) };
                    append(&mut tx, (account_id, conversation_id), &ev, None, now).await?;
                }
                took.rows_affected() == 1
            }
            None => {
                let ev = DomainEvent::RoutingNote { note: why.to_owned() };
                append(&mut tx, (account_id, conversation_id), &ev, None, now).await?;
                true
            }
        };
        self.commit(tx).await?;
        Ok(done)
    }

    /// Assigns a conversation nobody has, with the reason; reads first, so
    /// the usual case (it is already someone's) writes nothing.
    pub async fn route_one_if_unassigned(
        &self,
        account_id: i64,
        conversation_id: i64,
        user_id: i64,
        why: &str,
    ) -> Result<bool> {
        let unassigned = sqlx::query("SELECT 1 AS one FROM conversations WHERE id = $1 AND assignee_id IS NULL")
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await?
            .is_some();
        if !unassigned {
            return Ok(false);
        }
        self.route_one(account_id, conversation_id, Some(user_id), why, Timestamp::now()).await
    }

    /// Open conversations assigned to this person now.
    pub async fn open_assigned(&self, user_id: i64) -> Result<u32> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n FROM conversations WHERE assignee_id = $1 AND status IN ('open', 'pending')",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(u32::try_from(r.try_get::<i64, _>("n")?).unwrap_or(u32::MAX))
    }
}

fn presence_from(r: &sqlx::any::AnyRow) -> Result<PresenceRow> {
    let presence: String = r.try_get("presence")?;
    let at: Option<i64> = r.try_get("presence_at")?;
    let seen: Option<i64> = r.try_get("seen_at")?;
    Ok(PresenceRow {
        presence: Presence::parse(&presence).unwrap_or_default(),
        presence_at: at.map(from_ms),
        seen_at: seen.map(from_ms),
    })
}

impl Store {
    /// Open conversations nobody has, whose customer began a new wait since
    /// the router last looked at them: (id, looked at before).
    pub async fn arrivals(&self, account_id: i64) -> Result<Vec<(i64, bool)>> {
        let rows = sqlx::query(
            "SELECT id, routed_at FROM conversations
              WHERE account_id = $1 AND status = 'open' AND assignee_id IS NULL AND waiting_since IS NOT NULL
                AND (routed_at IS NULL OR routed_at < waiting_since)
              ORDER BY waiting_since, id LIMIT 100",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get::<Option<i64>, _>("routed_at")?.is_some()))).collect()
    }

    /// Marks a pass's arrivals as looked at, in one write (one per
    /// conversation took SQLite's write lock once for every new customer).
    pub async fn mark_routed(&self, conversation_ids: &[i64], now: Timestamp) -> Result<()> {
        if conversation_ids.is_empty() {
            return Ok(());
        }
        // Ids are integers from `arrivals`, never text from outside.
        let ids = conversation_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        self.write_one(
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE conversations SET routed_at = $1 WHERE id IN ({ids})")))
                .bind(to_ms(now)),
        )
        .await?;
        Ok(())
    }

    /// The most a person holds: the largest capacity of their teams that
    /// assign by themselves, or the default when they are in none.
    pub async fn capacity_of(&self, user_id: i64) -> Result<Capacity> {
        let r = sqlx::query(
            "SELECT MAX(t.capacity) AS cap FROM team_members tm JOIN teams t ON t.id = tm.team_id
              WHERE tm.user_id = $1 AND t.assignment <> 'manual'",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        let cap: Option<i64> = r.try_get("cap")?;
        Ok(cap.and_then(|c| u32::try_from(c).ok()).and_then(|c| Capacity::new(c).ok()).unwrap_or(Capacity::DEFAULT))
    }
}

/// A past conversation's (last activity, id) and its agent's (id, name).
type PastAgent = ((i64, i64), (i64, String));
