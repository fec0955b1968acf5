use std::time::{Duration, Instant};

use diesel::prelude::*;
use rollcall::db::schema::invitations as invitations_table;
use rollcall::domain::{EmailAddress, Role, parse_address_list};
use rollcall::error::Error;
use rollcall::mail;
use rollcall::services::invitations::{
    self, AcceptOutcome, DeclineOutcome, InvitationRef, InvitationStatus, InviteOutcome, Invitee, Refusal,
    Standing, Unavailable,
};
use rollcall::services::members;

use crate::fakes::SmtpSink;
use crate::helpers::{TestApp, as_user, token_of};
use crate::http::TestServer;

fn invitees(text: &str, role: Role) -> Vec<Invitee> {
    parse_address_list(text)
        .into_iter()
        .map(|parsed| Invitee {
            email: parsed.expect("valid in this test"),
            name: None,
            role,
            ends: None,
        })
        .collect()
}

fn inviting_many_reports_each_address_and_queues_their_emails_together() {
    let app = TestApp::new();
    let (org, owner) = app.org_owned_by("Acme AI", "ada@example.com");
    app.member(&org, "member@example.com", Role::VIEWER);
    let pending = app.invite(&org, "pending@example.com", Role::VIEWER);
    let emails_before = app.count("email_outbox");

    let pasted = "new1@example.com, Member@Example.com\npending@example.com not-an-address new2@example.com new1@example.com";
    let parsed = parse_address_list(pasted);
    assert_eq!(
        parsed.iter().filter(|p| p.is_err()).count(),
        1,
        "the invalid one is found at the edge"
    );
    let batch: Vec<Invitee> = parsed
        .into_iter()
        .flatten()
        .map(|email| Invitee {
            email,
            name: None,
            role: Role::DEVELOPER,
            ends: None,
        })
        .collect();

    let outcomes =
        invitations::invite(&mut app.conn(), &app.settings, &as_user(&owner), &org, &batch).unwrap();
    let summary: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|(email, outcome)| {
            let word = match outcome {
                InviteOutcome::Invited(_) => "invited",
                InviteOutcome::AlreadyMember => "member",
                InviteOutcome::AlreadyInvited { invitation_id } => {
                    assert_eq!(invitation_id, &pending.invitation_id);
                    "already invited"
                }
                InviteOutcome::Duplicate => "duplicate",
                InviteOutcome::DomainNotAllowed => "domain not allowed",
            };
            (email.as_str(), word)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("new1@example.com", "invited"),
            ("member@example.com", "member"),
            ("pending@example.com", "already invited"),
            ("new2@example.com", "invited"),
            ("new1@example.com", "duplicate"),
        ]
    );
    // Two invitation emails and one confirmation copy for the inviter.
    assert_eq!(app.count("email_outbox"), emails_before + 3);
    let queued = mail::queued(&mut app.conn()).unwrap();
    let copy = queued
        .iter()
        .find(|email| email.recipient == "ada@example.com")
        .expect("a copy for the inviter");
    assert_eq!(copy.subject, "You invited 2 people to Acme AI on Rollcall");
    let invitation = queued
        .iter()
        .find(|email| email.recipient == "new2@example.com")
        .unwrap();
    assert_eq!(invitation.subject, "Ada invited you to Acme AI on Rollcall");
    assert!(invitation.body_text.contains("http://127.0.0.1:9/invite/"));
    assert!(invitation.body_text.contains("as a Developer"));
}

fn the_database_keeps_only_the_hash_of_a_token() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);
    let token = issued.link.rsplit('/').next().unwrap().to_owned();
    let hashes: Vec<String> = rollcall::db::schema::invitation_tokens::table
        .select(rollcall::db::schema::invitation_tokens::token_hash)
        .load(&mut *app.conn())
        .unwrap();
    assert_eq!(hashes.len(), 1);
    assert_ne!(hashes[0], token);
    assert!(!hashes[0].contains(&token));
}

fn a_thousand_addresses_are_invited_in_one_go() {
    let app = TestApp::new();
    let (org, owner) = app.org_owned_by("Acme AI", "ada@example.com");
    let text: Vec<String> = (0..1000).map(|i| format!("person{i}@example.com")).collect();
    let batch = invitees(&text.join("\n"), Role::VIEWER);
    let outcomes =
        invitations::invite(&mut app.conn(), &app.settings, &as_user(&owner), &org, &batch).unwrap();
    assert!(
        outcomes
            .iter()
            .all(|(_, outcome)| matches!(outcome, InviteOutcome::Invited(_)))
    );
    assert_eq!(app.count("invitations"), 1000);
    assert_eq!(app.count("email_outbox"), 1001);
    let last = invitations::pending_for_org(
        &mut app.conn(),
        &app.viewer(&as_user(&owner), &org).unwrap(),
        20,
        50,
    )
    .unwrap();
    assert_eq!(
        (last.invitations.len(), last.total, last.page_count()),
        (50, 1000, 20)
    );
}

fn an_admin_cannot_invite_an_owner_and_nothing_is_created() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let admin = app.member(&org, "admin@example.com", Role::ADMIN);
    let before = app.snapshot();
    let mut batch = invitees("dev@example.com", Role::DEVELOPER);
    batch.extend(invitees("boss@example.com", Role::OWNER));
    let refused =
        invitations::invite(&mut app.conn(), &app.settings, &as_user(&admin), &org, &batch).unwrap_err();
    assert!(matches!(refused, Error::Forbidden(_)), "{refused:?}");
    assert_eq!(refused.status(), 403);
    assert_eq!(
        refused.to_string(),
        "Only owners can invite, promote, demote or remove owners."
    );
    assert_eq!(app.snapshot(), before, "not even the developer was invited");
}

fn classify_tells_step_two_where_each_address_stands() {
    let app = TestApp::new();
    let (org, owner) = app.org_owned_by("Acme AI", "ada@example.com");
    let pending = app.invite(&org, "pending@example.com", Role::VIEWER);
    let emails: Vec<EmailAddress> = ["ada@example.com", "pending@example.com", "new@example.com"]
        .iter()
        .map(|e| EmailAddress::parse(e).unwrap())
        .collect();
    let standings = invitations::classify(&mut app.conn(), &as_user(&owner), &org, &emails).unwrap();
    assert_eq!(
        standings,
        [
            Standing::AlreadyMember,
            Standing::AlreadyInvited {
                invitation_id: pending.invitation_id
            },
            Standing::New
        ]
    );
}

fn accepting_makes_a_member_once_and_only_once() {
    let app = TestApp::new();
    let (org, owner) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::CONTRIBUTOR);
    let (bob, outcome) = app.accept(&issued, "bob@example.com");
    assert!(
        matches!(
            outcome,
            AcceptOutcome::Joined {
                role: Role::CONTRIBUTOR,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(app.role_of(&org, &bob), Some(Role::CONTRIBUTOR));

    let again = invitations::accept(&mut app.conn(), &as_user(&bob), &token_of(&issued)).unwrap();
    assert!(
        matches!(
            again,
            AcceptOutcome::Unavailable(Refusal {
                reason: Unavailable::AlreadyAccepted,
                ..
            })
        ),
        "{again:?}"
    );
    let page = members::list(
        &mut app.conn(),
        &app.viewer(&as_user(&owner), &org).unwrap(),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(page.total, 2);
}

fn only_someone_with_the_invited_address_verified_can_accept_or_decline() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);
    let before = app.snapshot();
    let (mallory, outcome) = app.accept(&issued, "mallory@example.com");
    match outcome {
        AcceptOutcome::Unavailable(Refusal {
            reason:
                Unavailable::WrongAccount {
                    invited,
                    signed_in_as,
                },
            ..
        }) => {
            assert_eq!(invited, "b…@example.com");
            assert_eq!(signed_in_as, "m…@example.com");
        }
        other => panic!("mallory got in: {other:?}"),
    }
    let declined = invitations::decline(&mut app.conn(), &as_user(&mallory), &token_of(&issued)).unwrap();
    assert!(matches!(
        declined,
        DeclineOutcome::Unavailable(Refusal {
            reason: Unavailable::WrongAccount { .. },
            ..
        })
    ));
    // Only mallory's own sign-in rows were written.
    assert_eq!(app.snapshot(), before);
    assert_eq!(app.role_of(&org, &mallory), None);
}

fn an_expired_invitation_is_refused() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);
    diesel::update(invitations_table::table.find(&issued.invitation_id))
        .set(invitations_table::expires_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1)))
        .execute(&mut *app.conn())
        .unwrap();
    let (bob, outcome) = app.accept(&issued, "bob@example.com");
    assert!(
        matches!(
            outcome,
            AcceptOutcome::Unavailable(Refusal {
                reason: Unavailable::Expired,
                ..
            })
        ),
        "{outcome:?}"
    );
    assert_eq!(app.role_of(&org, &bob), None);
}

fn resend_rotates_the_link_and_restarts_the_expiry() {
    let app = TestApp::new();
    let (org, owner) = app.org_owned_by("Acme AI", "ada@example.com");
    let first = app.invite(&org, "bob@example.com", Role::VIEWER);
    let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::days(30);
    diesel::update(invitations_table::table.find(&first.invitation_id))
        .set(invitations_table::expires_at.eq(long_ago))
        .execute(&mut *app.conn())
        .unwrap();

    let second = invitations::resend(
        &mut app.conn(),
        &app.settings,
        &as_user(&owner),
        &org,
        &first.invitation_id,
    )
    .unwrap();
    assert_ne!(first.link, second.link);
    assert!(second.expires_at > chrono::Utc::now().naive_utc() + chrono::Duration::days(6));

    let old = invitations::open(&mut app.conn(), &token_of(&first))
        .unwrap()
        .unwrap();
    assert_eq!(old.status, InvitationStatus::Replaced);
    let queued = mail::queued(&mut app.conn()).unwrap();
    let to_bob: Vec<_> = queued
        .iter()
        .filter(|email| email.recipient == "bob@example.com")
        .collect();
    assert_eq!(
        to_bob.iter().map(|e| e.state.as_str()).collect::<Vec<_>>(),
        ["cancelled", "queued"]
    );
    assert!(to_bob[1].body_text.contains(&second.link));

    let (bob, refused) = app.accept(&first, "bob@example.com");
    assert!(matches!(
        refused,
        AcceptOutcome::Unavailable(Refusal {
            reason: Unavailable::Replaced,
            ..
        })
    ));
    let joined = invitations::accept(&mut app.conn(), &as_user(&bob), &token_of(&second)).unwrap();
    assert!(matches!(joined, AcceptOutcome::Joined { .. }));
}

fn a_revoked_invitation_cannot_be_accepted() {
    let app = TestApp::new();
    let (org, owner) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);
    invitations::revoke(&mut app.conn(), &as_user(&owner), &org, &issued.invitation_id).unwrap();
    let (bob, outcome) = app.accept(&issued, "bob@example.com");
    assert!(matches!(
        outcome,
        AcceptOutcome::Unavailable(Refusal {
            reason: Unavailable::Revoked,
            ..
        })
    ));
    assert_eq!(app.role_of(&org, &bob), None);
    let again =
        invitations::revoke(&mut app.conn(), &as_user(&owner), &org, &issued.invitation_id).unwrap_err();
    assert_eq!(again.status(), 409);
}

fn declining_closes_the_invitation() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);
    let bob = app.sign_in("bob@example.com");
    let declined = invitations::decline(&mut app.conn(), &as_user(&bob), &token_of(&issued)).unwrap();
    assert!(matches!(declined, DeclineOutcome::Declined { .. }));
    let outcome = invitations::accept(&mut app.conn(), &as_user(&bob), &token_of(&issued)).unwrap();
    assert!(matches!(
        outcome,
        AcceptOutcome::Unavailable(Refusal {
            reason: Unavailable::Declined,
            ..
        })
    ));
    assert_eq!(app.role_of(&org, &bob), None);
}

fn an_unknown_token_is_not_an_invitation() {
    let app = TestApp::new();
    let bob = app.sign_in("bob@example.com");
    let token = InvitationRef::Token(rollcall::domain::InviteToken::generate());
    let outcome = invitations::accept(&mut app.conn(), &as_user(&bob), &token).unwrap();
    assert!(matches!(
        outcome,
        AcceptOutcome::Unavailable(Refusal {
            reason: Unavailable::Unknown,
            invitation: None
        })
    ));
}

fn the_profile_lists_invitations_to_any_verified_address_and_accepts_by_id() {
    let app = TestApp::new();
    let (acme, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let (other, _) = app.org_owned_by("Other Co", "olga@example.com");
    app.invite(&acme, "bob@example.com", Role::VIEWER);
    app.invite(&other, "bob@example.com", Role::ADMIN);
    app.invite(&other, "someone@example.com", Role::ADMIN);
    let bob = app.sign_in("bob@example.com");
    let pending = invitations::pending_for_user(&mut app.conn(), &bob.id).unwrap();
    let mut orgs: Vec<&str> = pending.iter().map(|(_, org)| org.name.as_str()).collect();
    orgs.sort();
    assert_eq!(orgs, ["Acme AI", "Other Co"]);
    let (invitation, _) = &pending[0];
    let outcome = invitations::accept(
        &mut app.conn(),
        &as_user(&bob),
        &InvitationRef::Id(invitation.id.clone()),
    )
    .unwrap();
    assert!(matches!(outcome, AcceptOutcome::Joined { .. }));
    assert_eq!(
        invitations::pending_for_user(&mut app.conn(), &bob.id)
            .unwrap()
            .len(),
        1
    );
}

fn accepted_invitations_cancel_their_unsent_email() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);
    app.accept(&issued, "bob@example.com");
    let states: Vec<String> = mail::queued(&mut app.conn())
        .unwrap()
        .into_iter()
        .filter(|email| email.recipient == "bob@example.com")
        .map(|email| email.state)
        .collect();
    assert_eq!(states, ["cancelled"]);
}

fn emails_queued_in_words_before_an_upgrade_still_go_out_and_sent_ones_keep_no_link() {
    use rollcall::db::schema::email_outbox;
    let smtp = SmtpSink::start();
    let url = smtp.url();
    let server = TestServer::start_with(&["--smtp-url", &url]);
    let app = &server.app;
    // A row as the previous version queued it: the words, no message.
    let at = chrono::Utc::now().naive_utc();
    diesel::insert_into(email_outbox::table)
        .values((
            email_outbox::id.eq("queued-before"),
            email_outbox::recipient.eq("old@example.com"),
            email_outbox::subject.eq("Queued before the upgrade"),
            email_outbox::body_text.eq("Words kept in the row."),
            email_outbox::body_html.eq("<p>Words kept in the row.</p>"),
            email_outbox::state.eq("queued"),
            email_outbox::attempts.eq(0),
            email_outbox::next_attempt_at.eq(at),
            email_outbox::created_at.eq(at),
        ))
        .execute(&mut *app.conn())
        .unwrap();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);

    let old = smtp.wait_for("old@example.com", Duration::from_secs(20));
    assert_eq!(old.subject(), "Queued before the upgrade");
    assert!(old.text().contains("Words kept in the row."));
    let new = smtp.wait_for("bob@example.com", Duration::from_secs(20));
    assert!(
        new.subject().contains("invited you to Acme AI on Rollcall"),
        "{}",
        new.subject()
    );
    assert_eq!(new.link(), Some(issued.link.clone()));

    // Once sent, the row holds neither the message nor the bodies: no link.
    let kept_link =
        "email_outbox WHERE state <> 'sent' OR message IS NOT NULL OR body_text <> '' OR body_html <> ''";
    let started = Instant::now();
    while app.count(kept_link) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still kept: {}",
            app.count(kept_link)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = mail::queued(&mut app.conn()).unwrap();
    let to_bob = sent
        .iter()
        .find(|email| email.recipient == "bob@example.com")
        .unwrap();
    assert_eq!(
        to_bob.subject,
        new.subject(),
        "the subject stays, to show what was sent"
    );
    assert_eq!((to_bob.body_text.as_str(), to_bob.body_html.as_str()), ("", ""));
}

fn an_answer_to_another_invitation_than_the_one_opened_last_changes_nothing() {
    let server = TestServer::start();
    let app = &server.app;
    let (acme, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let (globex, _) = app.org_owned_by("Globex", "hank@example.com");
    let first = app.invite(&acme, "bob@example.com", Role::DEVELOPER);
    let second = app.invite(&globex, "bob@example.com", Role::VIEWER);
    let path = |link: &str| link[link.find("/invite/").expect("an invitation link")..].to_owned();

    let mut bob = server.signed_in("bob@example.com");
    assert_eq!(bob.get(&path(&first.link)).status, 200);
    // Another tab: the session now remembers the second invitation.
    assert_eq!(bob.get(&path(&second.link)).status, 200);
    for answer in ["/invitation/accept", "/invitation/decline"] {
        let refused = bob.post(answer, &[("invitation_id", &first.invitation_id)]);
        assert_eq!(refused.status, 409, "{answer}: {}", refused.body);
        refused.assert_contains("You opened another invitation in the meantime.");
    }

    let bob_user = app.user_by_email("bob@example.com");
    assert_eq!(app.role_of(&acme, &bob_user), None);
    assert_eq!(app.role_of(&globex, &bob_user), None);
    for issued in [&first, &second] {
        let view = invitations::open(&mut app.conn(), &token_of(issued))
            .unwrap()
            .expect("the invitation");
        assert_eq!(view.status, InvitationStatus::Pending);
    }
}

crate::tests![
    inviting_many_reports_each_address_and_queues_their_emails_together,
    the_database_keeps_only_the_hash_of_a_token,
    a_thousand_addresses_are_invited_in_one_go,
    an_admin_cannot_invite_an_owner_and_nothing_is_created,
    classify_tells_step_two_where_each_address_stands,
    accepting_makes_a_member_once_and_only_once,
    only_someone_with_the_invited_address_verified_can_accept_or_decline,
    an_expired_invitation_is_refused,
    resend_rotates_the_link_and_restarts_the_expiry,
    a_revoked_invitation_cannot_be_accepted,
    declining_closes_the_invitation,
    an_unknown_token_is_not_an_invitation,
    the_profile_lists_invitations_to_any_verified_address_and_accepts_by_id,
    accepted_invitations_cancel_their_unsent_email,
    emails_queued_in_words_before_an_upgrade_still_go_out_and_sent_ones_keep_no_link,
    an_answer_to_another_invitation_than_the_one_opened_last_changes_nothing,
];
