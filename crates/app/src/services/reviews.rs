//! Quality review (F12): who may see the queue and scorecards, the rubric and
//! weekly sample size an admin sets, scoring against the rubric, the weekly
//! sample, and [`Queuer`], the event-log consumer that queues every
//! conversation with a low poll score or an escalation.

use std::future::Future;

use jiff::{Span, Timestamp, civil::ISOWeekDate, civil::Weekday};
use sqlx::AnyConnection;
use textdesk_core::Role;
use textdesk_core::event::DomainEvent;
use textdesk_core::review::{self, Criterion, ReviewReason, Rubric};
use textdesk_store::reviews::enqueue;
use textdesk_store::{Consumer, LoggedEvent, Review, ReviewFilter, ReviewState, Scorecard, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// The consumer's cursor row.
pub const CURSOR: &str = "reviews";

/// Conversations per agent per week the sample takes until an admin chooses.
pub const DEFAULT_SAMPLE_SIZE: u32 = 2;

/// A reviewer's comment, at most this many characters.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// How reviews are done in the account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewSettings {
    /// Resolved conversations per agent per week put in the queue (0: none).
    pub sample_size: u32,
    pub rubric: Rubric,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings { sample_size: DEFAULT_SAMPLE_SIZE, rubric: Rubric::default_rubric() }
    }
}

/// Queues what a supervisor should look at as it happens: a low score (the
/// agent the poll names) and an escalation (the agent who escalated).
pub struct Queuer;

impl Consumer for Queuer {
    fn name(&self) -> &str {
        CURSOR
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        event: &'a LoggedEvent,
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        on_event(tx, event)
    }
}

async fn on_event(tx: &mut AnyConnection, event: &LoggedEvent) -> textdesk_store::Result<()> {
    let (why, agent) = match &event.event {
        DomainEvent::SurveyAnswered { kind, score, agent_id, .. } if kind.is_low(*score) => {
            (ReviewReason::LowScore, *agent_id)
        }
        // A supervisor escalation reassigns before it is logged: the agent is the one who escalated.
        DomainEvent::Escalated { .. } => (ReviewReason::Escalated, event.actor_id),
        _ => return Ok(()),
    };
    enqueue(tx, (event.account_id, event.conversation_id), why, agent, event.created_at).await?;
    Ok(())
}

/// The ISO week before the one `now` falls in, on the business's clock: its
/// name (`2026-W49`) and its bounds.
pub fn previous_week(now: Timestamp, tz: &jiff::tz::TimeZone) -> Option<(String, Timestamp, Timestamp)> {
    let last_week = now.to_zoned(tz.clone()).date().checked_sub(Span::new().days(7)).ok()?;
    let w = last_week.iso_week_date();
    let monday = ISOWeekDate::new(w.year(), w.week(), Weekday::Monday).ok()?.date();
    let start = monday.to_zoned(tz.clone()).ok()?;
    let end = start.checked_add(Span::new().weeks(1)).ok()?;
    Some((format!("{}-W{:02}", w.year(), w.week()), start.timestamp(), end.timestamp()))
}

fn require_supervisor(u: &User, what: &str) -> ServiceResult<()> {
    if u.role.at_least(Role::Supervisor) {
        Ok(())
    } else {
        Err(ServiceError::forbidden(format!("{what} is for supervisors and admins")))
    }
}

impl Services {
    /// Starts the consumer at the end of the log: the queue is about what
    /// happens from now on, not an installation's whole history.
    pub async fn start_reviews(&self) -> ServiceResult<()> {
        Ok(self.store.start_consumer_at_end(CURSOR).await?)
    }

    /// Queues the conversations that events since the last call call for;
    /// returns how many events it passed (the worker runs it, tests drive it).
    pub async fn run_reviews(&self) -> ServiceResult<usize> {
        Ok(self.store.consume_all(&Queuer, 200).await?)
    }

    /// Puts a conversation in the queue for `why` (once per waiting review).
    pub async fn queue_for_review(
        &self,
        account_id: i64,
        conversation_id: i64,
        why: ReviewReason,
    ) -> ServiceResult<Option<i64>> {
        Ok(self.store.queue_review((account_id, conversation_id), why, None, Timestamp::now()).await?)
    }

    /// Draws each account's sample for the last complete week (on its own
    /// clock), once: returns (account, week, queued) for the weeks drawn now.
    pub async fn sample_reviews(&self, now: Timestamp) -> ServiceResult<Vec<(i64, String, usize)>> {
        let mut drawn = Vec::new();
        for a in self.store.accounts().await? {
            let tz = self.business_zone(a.id).await?;
            let Some((week, from, to)) = previous_week(now, &tz) else { continue };
            let n = self.review_settings(a.id).await?.sample_size as usize;
            let seed = review::sample_seed(a.id, &week);
            let pick = |ids: &[i64]| review::sample(ids, n, &seed);
            if let Some(queued) = self.store.draw_review_sample(a.id, &week, (from, to), pick, now).await? {
                drawn.push((a.id, week, queued));
            }
        }
        Ok(drawn)
    }

    /// The account's rubric and sample size (the defaults until an admin saves them).
    pub async fn review_settings(&self, account_id: i64) -> ServiceResult<ReviewSettings> {
        let Some((sample_size, rubric)) = self.store.review_settings(account_id).await? else {
            return Ok(ReviewSettings::default());
        };
        let rubric = serde_json::from_str::<Rubric>(&rubric)
            .ok()
            .and_then(|r| Rubric::parse(r.criteria).ok())
            .unwrap_or_else(|| {
                tracing::warn!(account_id, "the stored rubric does not read; using the default one");
                Rubric::default_rubric()
            });
        Ok(ReviewSettings { sample_size: u32::try_from(sample_size).unwrap_or(DEFAULT_SAMPLE_SIZE), rubric })
    }

    /// Saves the rubric and sample size (admins), with an audit entry.
    pub async fn set_review_settings(
        &self,
        admin: &User,
        sample_size: u32,
        criteria: Vec<Criterion>,
    ) -> ServiceResult<ReviewSettings> {
        if !admin.role.at_least(Role::Admin) {
            return Err(ServiceError::forbidden("changing the rubric needs the admin role"));
        }
        let sample_size = review::parse_sample_size(sample_size)?;
        let rubric = Rubric::parse(criteria)?;
        self.store.set_review_settings(admin.account_id, sample_size, &rubric).await?;
        let detail = format!("Weekly sample {sample_size} per agent; rubric of {} criteria.", rubric.criteria.len());
        self.audit(admin, "settings.reviews", "reviews", None, &detail).await?;
        Ok(ReviewSettings { sample_size, rubric })
    }

    /// The queue (or the scored reviews), for supervisors and admins.
    pub async fn review_queue(&self, u: &User, f: &ReviewFilter, limit: i64) -> ServiceResult<Vec<Review>> {
        require_supervisor(u, "the review queue")?;
        Ok(self.store.reviews(u.account_id, f, limit).await?)
    }

    /// The conversation's review waiting in the queue (for the supervisors' live alert).
    pub async fn waiting_review_of(&self, u: &User, conversation_id: i64) -> ServiceResult<Review> {
        require_supervisor(u, "the review queue")?;
        self.store.waiting_review(u.account_id, conversation_id).await?.ok_or(ServiceError::NotFound("review"))
    }

    /// The scorecards of the person's own conversations.
    pub async fn my_reviews(&self, u: &User, limit: i64) -> ServiceResult<Vec<Review>> {
        let f = ReviewFilter { state: ReviewState::Scored, agent_id: Some(u.id), reason: None };
        Ok(self.store.reviews(u.account_id, &f, limit).await?)
    }

    /// One review: any for supervisors; for an agent only a scorecard of
    /// their own (anything else does not exist for them: a waiting review
    /// would tell them which conversation is being looked at).
    pub async fn review_for(&self, u: &User, id: i64) -> ServiceResult<Review> {
        let r = self.store.review(u.account_id, id).await?;
        if u.role.at_least(Role::Supervisor) || (r.agent_id == Some(u.id) && r.scored_at.is_some()) {
            Ok(r)
        } else {
            Err(ServiceError::NotFound("review"))
        }
    }

    /// Scores a review against the account's rubric: one score (1–5) or None
    /// ("does not apply") per criterion, a comment; the overall percentage is
    /// computed here. Logged as `review_scored`.
    pub async fn score_review(&self, u: &User, id: i64, scores: &[Option<u8>], comment: &str) -> ServiceResult<Review> {
        require_supervisor(u, "scoring a review")?;
        self.store.review(u.account_id, id).await?;
        let rubric = self.review_settings(u.account_id).await?.rubric;
        review::check_scores(&rubric, scores)?;
        let comment = comment.trim();
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(ServiceError::invalid(format!("a comment is at most {MAX_COMMENT_CHARS} characters")));
        }
        let card = Scorecard {
            reviewer_id: u.id,
            rubric: &rubric,
            scores,
            comment,
            overall: review::overall_percent(&rubric, scores),
            now: Timestamp::now(),
        };
        Ok(self.store.score_review(u.account_id, id, card).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_week_is_on_the_business_clock() {
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        // Just after midnight on Monday 2026-11-09 in New York (05:30 UTC).
        let now: Timestamp = "2026-11-09T05:30:00Z".parse().unwrap();
        let (week, from, to) = previous_week(now, &ny).unwrap();
        assert_eq!(week, "2026-W45");
        assert_eq!(from.to_string(), "2026-11-02T05:00:00Z");
        assert_eq!(to.to_string(), "2026-11-09T05:00:00Z");
        // The week of the DST change (Sunday 2026-11-01) is 169 hours long in New York.
        let (week, from, to) = previous_week("2026-11-03T12:00:00Z".parse().unwrap(), &ny).unwrap();
        assert_eq!(week, "2026-W44");
        assert_eq!(to.duration_since(from).as_hours(), 169);
        // Sunday evening in New York is already Monday in UTC: still the same week there.
        let (week, ..) = previous_week("2026-11-09T03:00:00Z".parse().unwrap(), &ny).unwrap();
        assert_eq!(week, "2026-W44");
    }
}
