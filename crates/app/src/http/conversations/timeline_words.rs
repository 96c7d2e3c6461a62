//! The conversation timeline's entries in words, shared by the thread and
//! the transcript.

use textdesk_core::survey::SurveyKind;
use textdesk_core::{ConsentState, ConversationStatus, Priority, snooze};
use textdesk_store::{Team, TimelineEvent, User};

/// A timeline entry in words, from its typed event. Times say whose clock
/// they are on: a snooze's on the clock it was chosen on (the agent's), else
/// the business's, named.
pub(crate) fn describe_event(e: &TimelineEvent, users: &[User], teams: &[Team], tz: &jiff::tz::TimeZone) -> String {
    use textdesk_core::escalation::EscalationKind;
    use textdesk_core::event::{DomainEvent as E, ScheduleAction};
    let who = e.actor_name.clone().unwrap_or_else(|| "textdesk".into());
    let name_of =
        |id: i64| users.iter().find(|u| u.id == id).map(|u| u.name.clone()).unwrap_or_else(|| "someone".into());
    match &e.event {
        E::ConversationCreated { .. } => "Conversation started".into(),
        E::Assigned { assignee_id, why: Some(why) } => format!("Assigned to {}: {why}", name_of(*assignee_id)),
        E::Assigned { assignee_id, .. } if Some(*assignee_id) == e.actor_id => format!("{who} took this"),
        E::Assigned { assignee_id, .. } => format!("{who} assigned this to {}", name_of(*assignee_id)),
        E::Unassigned {} => format!("{who} unassigned this"),
        E::RoutingNote { note } => note.clone(),
        E::StatusChanged { reason: Some(r), .. } => format!("Reopened: {}", r.as_str()),
        E::StatusChanged { to: ConversationStatus::Snoozed, until: Some(t), zone, .. } => {
            let zone = zone.as_deref().and_then(|z| jiff::tz::TimeZone::get(z).ok()).unwrap_or_else(|| tz.clone());
            let clock = zone.iana_name().unwrap_or("UTC").to_owned();
            format!("{who} snoozed this until {} ({clock} time)", snooze::describe_until(*t, e.created_at, &zone))
        }
        E::StatusChanged { to: ConversationStatus::Resolved, .. } => format!("{who} resolved this"),
        E::StatusChanged { to: ConversationStatus::Open, .. } => format!("{who} reopened this"),
        E::StatusChanged { to, .. } => format!("{who} marked this {}", to.as_str()),
        E::Escalated { to: EscalationKind::Supervisor, supervisor_id, kept_agent, reason, .. } => {
            let sup = supervisor_id.map(name_of).unwrap_or_else(|| "a supervisor".into());
            let how = if *kept_agent { format!("{sup} is watching") } else { format!("assigned to {sup}") };
            let why = reason.as_deref().map(|r| format!(": “{r}”")).unwrap_or_default();
            format!("{who} escalated this to a supervisor ({how}, priority urgent){why}")
        }
        E::Escalated { to: EscalationKind::Video, link, reason, .. } => {
            let why = reason.as_deref().map(|r| format!(": “{r}”")).unwrap_or_default();
            format!("{who} escalated this to a video call and texted the link {}{why}", link.as_deref().unwrap_or(""))
        }
        E::Escalated { to: EscalationKind::Email, reason, .. } => {
            let why = reason.as_deref().map(|r| format!(": “{r}”")).unwrap_or_default();
            format!("{who} escalated this to email; the customer's reply will come back here{why}")
        }
        E::Escalated { to: EscalationKind::Call, reason, .. } => {
            let why = reason.as_deref().map(|r| format!(": “{r}”")).unwrap_or_default();
            format!("{who} called the customer by phone{why}")
        }
        E::Escalated { to, .. } => format!("{who} escalated this to {}", to.words()),
        E::CallStatusChanged { reason: Some(why), .. } => format!("📞 {why}"),
        E::CallStatusChanged { status, duration_secs, .. } => format!("📞 {}", status.words(*duration_secs)),
        E::CallbackRequested { due_at, by_customer, .. } => {
            let by = if *by_customer { "The customer".to_owned() } else { who.clone() };
            let clock = tz.iana_name().unwrap_or("UTC");
            let at = due_at.to_zoned(tz.clone()).strftime("%a %b %-d, %-I:%M %p");
            format!("{by} asked for a call back at {at} ({clock} time); it waits in the call back queue")
        }
        E::CallbackTaken { .. } => format!("{who} took the call back"),
        E::CallbackDue { due_at, taken_by, .. } => {
            let clock = tz.iana_name().unwrap_or("UTC");
            let at = due_at.to_zoned(tz.clone()).strftime("%-I:%M %p");
            match taken_by {
                Some(id) => format!("⏰ The call back is due ({at}, {clock} time): {} was reminded", name_of(*id)),
                None => {
                    format!("⏰ The call back is due ({at}, {clock} time) and nobody has taken it: agents were alerted")
                }
            }
        }
        E::EmailFailed { attempts, error, .. } => {
            let tries = if *attempts == 1 { "1 attempt".to_owned() } else { format!("{attempts} attempts") };
            format!("✉ The rule's email to the customer was not sent ({tries}): {error}")
        }
        E::PriorityChanged { priority: Priority::None } => format!("{who} cleared the priority"),
        E::PriorityChanged { priority } => format!("{who} set priority to {}", priority.as_str()),
        E::LabelsChanged { labels } if labels.is_empty() => format!("{who} removed the labels"),
        E::LabelsChanged { labels } => format!("{who} set the labels: {}", labels.join(", ")),
        E::TeamChanged { team_id: None, .. } => format!("{who} took this off its team"),
        E::TeamChanged { team_id: Some(id), team_name } => {
            match team_name.clone().or_else(|| teams.iter().find(|t| t.id == *id).map(|t| t.name.clone())) {
                Some(n) => format!("{who} moved this to {n}"),
                None => format!("{who} moved this to another team"),
            }
        }
        E::ConsentChanged { to, source, .. } => {
            let what = if *to == ConsentState::OptedOut { "Opted out" } else { "Opted in" };
            match source.as_str() {
                "keyword" => format!("{what} by texting a keyword; confirmation sent"),
                source => format!("{who} recorded: {} ({})", what.to_lowercase(), source.replace('_', " ")),
            }
        }
        E::StopRequested { .. } => "Asked to stop in their own words: a person should decide".into(),
        E::AutomationFired { rule, did, silenced, .. } => {
            textdesk_core::automation::describe_firing(rule, did, silenced.as_deref())
        }
        E::MessageScheduled { .. } => format!("{who} scheduled a message"),
        E::ScheduleChanged { action: ScheduleAction::Cancelled, body, .. } => {
            format!("{who} cancelled a scheduled message: “{}”", body.as_deref().unwrap_or(""))
        }
        E::ScheduleChanged { action: ScheduleAction::SendNow, .. } => format!("{who} sent a scheduled message now"),
        E::ScheduleChanged { .. } => format!("{who} changed a scheduled message"),
        E::FlowStarted { flow, .. } => {
            format!("The bot took the conversation: self-service flow \u{201c}{flow}\u{201d}")
        }
        E::HandedOff { reason, team_id } => {
            let team = team_id.and_then(|id| teams.iter().find(|t| t.id == id)).map(|t| format!(", for {}", t.name));
            format!("The bot handed over to a person{}: {}", team.unwrap_or_default(), reason.describe())
        }
        E::FlowEnded { reason } => format!("The bot's flow ended: {}", reason.describe()),
        E::SurveySent { kind, .. } => format!("Satisfaction poll sent ({})", kind_words(*kind)),
        E::SurveyAnswered { kind, score, .. } => {
            let low = if kind.is_low(*score) { " — a low score; supervisors were alerted" } else { "" };
            match kind {
                SurveyKind::YesNo if *score == 1 => format!("Customer answered the poll: yes, solved{low}"),
                SurveyKind::YesNo => format!("Customer answered the poll: no, not solved{low}"),
                k => format!("Customer answered {score} of {}{low}", k.range().1),
            }
        }
        E::SurveyCommented { .. } => "Customer said what went wrong (the poll's comment)".into(),
        E::SurveyExpired { .. } => "Satisfaction poll expired without an answer".into(),
        E::ChannelMoved { to_medium, consent_id, .. } => {
            let to = textdesk_core::Medium::parse(to_medium).map(|m| m.label()).unwrap_or("another channel");
            match consent_id {
                Some(_) => format!(
                    "Moved from web chat to {to}: the visitor left their number and agreed to be texted (the words are in the consent record). Replies now go by {to}."
                ),
                None => format!("{who} answered on {to}: the conversation continues there."),
            }
        }
        E::ContactsMerged { merged_id, .. } => {
            format!(
                "{who} merged contact {merged_id} into this contact (their conversations, addresses and consent history moved here)"
            )
        }
        E::ContactsUnmerged { merged_id, .. } => {
            format!(
                "{who} undid the merge: contact {merged_id} has their own conversations, addresses and consent history again"
            )
        }
        other => other.kind().replace('_', " "),
    }
}

/// The question a poll asked, in a few words.
fn kind_words(kind: SurveyKind) -> &'static str {
    match kind {
        SurveyKind::Csat => "how did we do, 1 to 5",
        SurveyKind::Nps => "would they recommend us, 0 to 10",
        SurveyKind::YesNo => "was the problem solved, yes or no",
    }
}
