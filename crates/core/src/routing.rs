//! Who gets a conversation: a team's way of assigning (by hand, round-robin or
//! least-busy), each agent's room (a capacity of open conversations) and
//! presence (online, away, offline: set by the agent, and away by itself when
//! they have no tab open). Decided purely here; the store and the app apply it.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Invalid;

/// How a team hands out the conversations that come to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignment {
    /// Someone takes it (the team's queue is the "Team" view).
    #[default]
    Manual,
    /// In turn: the online member with room who was given one longest ago.
    RoundRobin,
    /// The online member with room who has the fewest open conversations.
    LeastBusy,
}

impl Assignment {
    pub const ALL: [Assignment; 3] = [Assignment::Manual, Assignment::RoundRobin, Assignment::LeastBusy];

    pub fn as_str(self) -> &'static str {
        match self {
            Assignment::Manual => "manual",
            Assignment::RoundRobin => "round_robin",
            Assignment::LeastBusy => "least_busy",
        }
    }

    pub fn parse(s: &str) -> Result<Assignment, Invalid> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| {
            Invalid::new(format!("{s:?} is not a way of assigning: use manual, round_robin or least_busy"))
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            Assignment::Manual => "by hand",
            Assignment::RoundRobin => "in turn (round-robin)",
            Assignment::LeastBusy => "to the least busy",
        }
    }
}

/// How many open conversations an agent of the team holds at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity(u32);

impl Capacity {
    pub const DEFAULT: Capacity = Capacity(10);

    pub fn new(n: u32) -> Result<Capacity, Invalid> {
        if (1..=500).contains(&n) {
            Ok(Capacity(n))
        } else {
            Err(Invalid::new("a capacity is 1 to 500 open conversations"))
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

/// Whether an agent can be given conversations now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    #[default]
    Offline,
}

impl Presence {
    pub const ALL: [Presence; 3] = [Presence::Online, Presence::Away, Presence::Offline];

    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Result<Presence, Invalid> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| Invalid::new(format!("{s:?} is not a presence: use online, away or offline")))
    }

    /// What counts now: an agent who said "online" but has had no tab open
    /// for `away_after` is away (they walked off); nobody is made online by
    /// activity alone, because "online" promises conversations will come.
    pub fn effective(self, seen_at: Option<Timestamp>, now: Timestamp, away_after: SignedDuration) -> Presence {
        match (self, seen_at) {
            (Presence::Online, Some(seen)) if now.duration_since(seen) <= away_after => Presence::Online,
            (Presence::Online, _) => Presence::Away,
            (other, _) => other,
        }
    }
}

/// A team member as the router sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub user_id: i64,
    pub presence: Presence,
    /// Open conversations assigned to them now.
    pub open: u32,
    /// When this team last gave them one (round-robin's turn).
    pub last_assigned: Option<Timestamp>,
}

impl Candidate {
    pub fn has_room(&self, capacity: Capacity) -> bool {
        self.presence == Presence::Online && self.open < capacity.get()
    }
}

/// The member to give the next conversation to, or None when everyone online
/// is full (or nobody is online): the conversation then waits for room.
pub fn pick(mode: Assignment, capacity: Capacity, candidates: &[Candidate]) -> Option<i64> {
    let with_room = candidates.iter().filter(|c| c.has_room(capacity));
    // Never given one sorts first (None < Some), then the longest ago; ties by id, so every node picks the same.
    let turn = |c: &&Candidate| (c.last_assigned, c.user_id);
    match mode {
        Assignment::Manual => None,
        Assignment::RoundRobin => with_room.min_by_key(turn).map(|c| c.user_id),
        Assignment::LeastBusy => with_room.min_by_key(|c| (c.open, turn(c))).map(|c| c.user_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn cand(user_id: i64, presence: Presence, open: u32, last: Option<i64>) -> Candidate {
        Candidate { user_id, presence, open, last_assigned: last.map(at) }
    }

    #[test]
    fn round_robin_takes_turns_among_those_online_with_room() {
        let cap = Capacity::new(2).unwrap();
        let team = [
            cand(1, Presence::Online, 0, Some(30)),
            cand(2, Presence::Online, 1, Some(10)),
            cand(3, Presence::Away, 0, None),
            cand(4, Presence::Online, 2, None),
        ];
        assert_eq!(
            pick(Assignment::RoundRobin, cap, &team),
            Some(2),
            "longest since their last, away and full skipped"
        );
        let fresh = [cand(5, Presence::Online, 0, None), cand(1, Presence::Online, 0, Some(1))];
        assert_eq!(pick(Assignment::RoundRobin, cap, &fresh), Some(5), "never given one goes first");
    }

    #[test]
    fn least_busy_takes_the_fewest_open_then_the_turn() {
        let cap = Capacity::DEFAULT;
        let team = [
            cand(1, Presence::Online, 3, None),
            cand(2, Presence::Online, 1, Some(50)),
            cand(3, Presence::Online, 1, Some(5)),
        ];
        assert_eq!(pick(Assignment::LeastBusy, cap, &team), Some(3));
    }

    #[test]
    fn nobody_with_room_means_the_conversation_waits() {
        let cap = Capacity::new(1).unwrap();
        let team = [cand(1, Presence::Online, 1, None), cand(2, Presence::Offline, 0, None)];
        assert_eq!(pick(Assignment::LeastBusy, cap, &team), None);
        assert_eq!(pick(Assignment::Manual, cap, &[cand(3, Presence::Online, 0, None)]), None);
    }

    #[test]
    fn online_without_a_tab_is_away() {
        let five = SignedDuration::from_mins(5);
        assert_eq!(Presence::Online.effective(Some(at(0)), at(299), five), Presence::Online);
        assert_eq!(Presence::Online.effective(Some(at(0)), at(301), five), Presence::Away);
        assert_eq!(Presence::Online.effective(None, at(0), five), Presence::Away);
        assert_eq!(Presence::Offline.effective(Some(at(0)), at(1), five), Presence::Offline);
    }

    #[test]
    fn names_and_limits_are_checked() {
        assert_eq!(Assignment::parse("least_busy").unwrap(), Assignment::LeastBusy);
        assert!(Assignment::parse("random").is_err());
        assert!(Capacity::new(0).is_err() && Capacity::new(501).is_err());
        assert_eq!(Presence::parse("away").unwrap(), Presence::Away);
    }
}
