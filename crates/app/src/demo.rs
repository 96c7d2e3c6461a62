//! `textdesk demo`: a believable small business on the phone simulator, so a
//! first-time visitor sees a working inbox at once.

use jiff::{SignedDuration, Timestamp};
use textdesk_channels::{InboundEvent, Provider};
use textdesk_core::{Address, Body, ConversationStatus, Email, Medium, Password, Role};
use textdesk_store::{ContactPatch, IngestOutcome, NewInbox, NewOutbound, StatusReport};

use crate::Services;
use crate::services::auth;
use crate::services::ingest::Ingested;

pub const DEMO_PASSWORD: &str = "textdesk-demo";
pub const BUSINESS_NUMBER: &str = "+14155550100";

pub struct DemoLogin {
    pub email: &'static str,
    pub role: Role,
}

pub const LOGINS: [DemoLogin; 3] = [
    DemoLogin { email: "dana@harbordental.example", role: Role::Agent },
    DemoLogin { email: "sam@harbordental.example", role: Role::Agent },
    DemoLogin { email: "alex@harbordental.example", role: Role::Admin },
];

const NAMES: [&str; 3] = ["Dana Reyes", "Sam Okafor", "Alex Morgan"];

/// Seeds the demo business unless it is already there. Returns true when it seeded.
pub async fn seed(services: &Services, account_id: i64) -> anyhow::Result<bool> {
    let store = &services.store;
    if !store.users(account_id).await?.is_empty() {
        return Ok(false);
    }
    let password = Password::parse(DEMO_PASSWORD)?;
    let mut users = Vec::new();
    for (login, name) in LOGINS.iter().zip(NAMES) {
        users
            .push(auth::create_user(store, account_id, Email::parse(login.email)?, name, login.role, &password).await?);
    }
    let team = store.create_team(account_id, "Front desk").await?;
    for u in &users {
        store.add_team_member(team.id, u.id).await?;
    }
    let inbox = store
        .create_inbox(NewInbox {
            account_id,
            name: "Front desk SMS".into(),
            provider: textdesk_channels::simulator::Simulator.key().into(),
            medium: Medium::Sms,
            sender: BUSINESS_NUMBER.into(),
            // Weekdays 8 to 5 in the business's zone: customers who write after hours
            // hear when someone will answer, and a wait of 15 working minutes gets a note.
            settings: serde_json::json!({
                "hours": { "weekly": {
                    "mon": ["08:00-17:00"], "tue": ["08:00-17:00"], "wed": ["08:00-17:00"],
                    "thu": ["08:00-17:00"], "fri": ["08:00-17:00"]
                } },
                "acknowledge": { "after_minutes": 15 }
            }),
            secrets: serde_json::json!({}),
        })
        .await?;
    let (dana, sam) = (&users[0], &users[1]);
    seed_canned(services, &users[2]).await?;
    let now = Timestamp::now();
    let ago = |mins: i64| now - SignedDuration::from_mins(mins);

    // Each line: minutes ago, who speaks (None = the customer), text.
    type Line = (i64, Option<usize>, &'static str);
    let stories: [(&str, &str, &[Line]); 5] = [
        (
            "Karen Whitfield",
            "+14155550111",
            &[
                (2 * 24 * 60, None, "Hi, this is Karen. Can I move my cleaning on Thursday to next week?"),
                (2 * 24 * 60 - 20, Some(0), "Hi Karen, of course. Next Tuesday at 2:30 PM or Wednesday at 4:00 PM?"),
                (35, None, "Sorry for the slow reply! Afternoons don't work after all, do you have any mornings?"),
            ],
        ),
        (
            "Marcus Lee",
            "+14155550122",
            &[
                (26 * 60, None, "Does my plan cover the crown Dr. Patel mentioned?"),
                (25 * 60, Some(0), "Good question, Marcus. I'm checking with your insurer and will text you tomorrow."),
                (25 * 60 - 2, Some(0), "Called Delta Dental, waiting on the pre-authorization number."),
                (40, None, "Thanks, any news?"),
            ],
        ),
        (
            "Priya Nair",
            "+14155550133",
            &[
                (4 * 24 * 60, None, "Is there parking near the office?"),
                (4 * 24 * 60 - 5, Some(1), "Yes! Free parking behind the building, entrance on Pine St."),
                (4 * 24 * 60 - 3, None, "Perfect, thank you"),
            ],
        ),
        (
            "Tom Becker",
            "+14155550144",
            &[
                (3 * 60, None, "I need to reschedule but I'm not sure of my work shifts yet"),
                (3 * 60 - 10, Some(1), "No problem, Tom. Text us when you know and we'll find a time."),
            ],
        ),
        (
            "Jordan Miles",
            "+14155550155",
            &[
                (6 * 60, None, "Who is this?"),
                (6 * 60 - 15, Some(1), "Hi, this is Harbor Dental confirming your appointment on Friday at 10 AM."),
                (5 * 60, None, "STOP"),
            ],
        ),
    ];

    let mut conversations = Vec::new();
    for (name, number, lines) in stories {
        let mut conversation_id = 0;
        let mut contact_id = 0;
        for (i, (mins, speaker, text)) in lines.iter().enumerate() {
            match speaker {
                None => {
                    let event = InboundEvent::Message {
                        from: Address::parse(Medium::Sms, number)?,
                        provider_id: format!("demo-{number}-{i}"),
                        body: (*text).into(),
                        media: vec![],
                        received_at: ago(*mins),
                        consent_signal: None,
                    };
                    if let Ingested::Message(IngestOutcome::Stored { conversation_id: c, contact_id: k, .. }) =
                        services.ingest(inbox.id, event).await?
                    {
                        conversation_id = c;
                        contact_id = k;
                    }
                }
                Some(u) => {
                    let private = text.starts_with("Called");
                    store
                        .send_outbound(NewOutbound {
                            account_id,
                            conversation_id,
                            author_id: Some(users[*u].id),
                            body: Body::parse(text)?,
                            private,
                            kind: textdesk_core::gate::OutboundKind::Reply,
                            now: ago(*mins),
                            // History: these went out when they were written.
                            timing: None,
                            channel: services.capabilities(&inbox.provider, inbox.medium),
                            send_at: None,
                            media: Vec::new(),
                            template: None,
                        })
                        .await?;
                }
            }
        }
        store
            .update_contact(
                account_id,
                contact_id,
                ContactPatch { name: Some(textdesk_core::ContactName::parse(name)?), ..Default::default() },
                textdesk_store::Origin::default(),
            )
            .await?;
        conversations.push((conversation_id, contact_id));
    }
    // The history's replies were delivered long ago: settle them through the
    // outbox as the dispatcher would have.
    for row in store.claim_due("demo-seed", now, 100).await? {
        let pid = format!("demo-sent-{}", row.message_id);
        store.mark_sent(row.outbox_id, std::slice::from_ref(&pid), now).await?;
        store
            .apply_status(&StatusReport {
                inbox_id: inbox.id,
                provider_id: pid,
                status: textdesk_core::DeliveryStatus::Delivered,
                error: None,
            })
            .await?;
    }
    let [karen, marcus, priya, tom, jordan] =
        [conversations[0], conversations[1], conversations[2], conversations[3], conversations[4]];
    let _ = karen;
    store.assign(account_id, marcus.0, Some(dana.id), Some(dana.id)).await?;
    store.set_status(account_id, marcus.0, ConversationStatus::Pending, None, Some(dana.id)).await?;
    for (name, color, description) in [
        ("insurance", "#0f766e", "Coverage and claims"),
        ("billing", "#a16207", "Invoices and payments"),
        ("urgent-care", "#b91c1c", "Pain or an emergency"),
    ] {
        let fields = textdesk_store::LabelFields {
            name: textdesk_core::LabelName::parse(name)?,
            color: textdesk_core::LabelColor::parse(color)?,
            description: description.into(),
        };
        store.create_label(account_id, &fields).await?;
    }
    store.set_labels(account_id, marcus.0, &["insurance".into()], Some(dana.id)).await?;
    store.assign(account_id, priya.0, Some(sam.id), Some(sam.id)).await?;
    store.set_status(account_id, priya.0, ConversationStatus::Resolved, None, Some(sam.id)).await?;
    store.assign(account_id, tom.0, Some(sam.id), Some(sam.id)).await?;
    store
        .set_status(
            account_id,
            tom.0,
            ConversationStatus::Snoozed,
            Some((now + SignedDuration::from_hours(20)).into()),
            Some(sam.id),
        )
        .await?;
    store.assign(account_id, jordan.0, Some(sam.id), Some(sam.id)).await?;
    for (c, _) in [priya, tom] {
        store.mark_read(account_id, c, None).await?;
    }
    Ok(true)
}

/// Canned responses an admin at a dental office would write first.
async fn seed_canned(services: &Services, admin: &textdesk_store::User) -> anyhow::Result<()> {
    let responses = [
        (
            "hours",
            "Office hours",
            "Thanks for texting {business.name}! We're closed right now; someone will reply {next_open|as soon as we open}.",
        ),
        (
            "confirm",
            "Confirm an appointment",
            "Hi {contact.first_name|there}, this is {agent.first_name} at {business.name}: you're confirmed. Reply C to confirm or R to reschedule.",
        ),
        (
            "thanks",
            "Thanks and goodbye",
            "Thanks {contact.first_name|there}, glad we could help. Have a great day! – {agent.first_name}",
        ),
        (
            "parking",
            "Parking and directions",
            "Free parking is behind the building; the entrance is on Pine St. See you soon!",
        ),
    ];
    for (shortcut, title, body) in responses {
        let draft =
            crate::services::canned::CannedDraft { shortcut: shortcut.into(), title: title.into(), body: body.into() };
        services.create_canned(admin, &draft).await?;
    }
    Ok(())
}
