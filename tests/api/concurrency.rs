//! Real concurrency: the last-owner rule (two transactions that each remove,
//! demote or let go of one of the last two owners must never both win), and
//! the outbox worker beside a bulk invite.

use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use rollcall::db;
use rollcall::domain::{EmailAddress, Role};
use rollcall::error::Error;
use rollcall::services::Actor;
use rollcall::services::invitations::{self, Invitee};
use rollcall::services::members::{self, MemberQuery, MemberRef};
use rollcall::services::outbox;

use crate::harness::Needs;
use crate::helpers::{TestApp, as_user};

const ROUNDS: usize = 40;

#[derive(Clone, Copy, Debug)]
enum Move {
    /// Each owner demotes the other.
    DemoteEachOther,
    /// Each owner removes the other.
    RemoveEachOther,
    /// Both owners leave.
    BothLeave,
    /// The command line demotes one owner while the other owner leaves.
    DemoteAndLeave,
}

fn race(app: &Arc<TestApp>, play: Move) {
    for round in 0..ROUNDS {
        let (org, ada) = app.org_owned_by(&format!("Race {round}"), &format!("ada{round}@example.com"));
        let olga = app.member(&org, &format!("olga{round}@example.com"), Role::OWNER);
        let barrier = Arc::new(Barrier::new(2));
        let contenders = [(ada.clone(), olga.clone()), (olga.clone(), ada.clone())];
        let handles: Vec<_> = contenders
            .into_iter()
            .enumerate()
            .map(|(i, (me, other))| {
                let app = Arc::clone(app);
                let org = org.clone();
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let mut conn = app.conn();
                    barrier.wait();
                    let other_ref = MemberRef::Id(other.id.clone());
                    match play {
                        Move::DemoteEachOther => {
                            members::change_role(&mut conn, &as_user(&me), &org, &other_ref, Role::ADMIN)
                                .map(|_| ())
                        }
                        Move::RemoveEachOther => {
                            members::remove(&mut conn, &as_user(&me), &org, &other_ref).map(|_| ())
                        }
                        Move::BothLeave => members::leave(&mut conn, &as_user(&me), &org),
                        Move::DemoteAndLeave if i == 0 => members::change_role(
                            &mut conn,
                            &Actor::command_line(),
                            &org,
                            &other_ref,
                            Role::VIEWER,
                        )
                        .map(|_| ()),
                        // The owner the command line is not demoting leaves.
                        Move::DemoteAndLeave => members::leave(&mut conn, &as_user(&other), &org),
                    }
                })
            })
            .collect();
        let results: Vec<Result<(), Error>> =
            handles.into_iter().map(|h| h.join().expect("no panic")).collect();
        let wins = results.iter().filter(|r| r.is_ok()).count();
        for result in &results {
            match result {
                Ok(()) => {}
                // The loser is refused by the rule, or (when the winner removed
                // it first) finds itself no longer a member.
                Err(
                    Error::LastOwner { .. }
                    | Error::NotMember { .. }
                    | Error::NoLongerMember { .. }
                    | Error::Forbidden(_)
                    | Error::NotFound(_),
                ) => {}
                Err(other) => panic!("{play:?} round {round}: unexpected {other:?}"),
            }
        }
        let owners = members::list(
            &mut app.conn(),
            &app.viewer(&Actor::command_line(), &org).unwrap(),
            &MemberQuery {
                role: Some(Role::OWNER),
                ..Default::default()
            },
        )
        .unwrap()
        .total;
        assert_eq!(owners, 1, "{play:?} round {round}: {wins} won, {results:?}");
        assert_eq!(wins, 1, "{play:?} round {round}: {results:?}");
    }
}

fn two_owners_demoting_each_other_leave_one_owner() {
    race(&Arc::new(TestApp::new()), Move::DemoteEachOther);
}

fn two_owners_removing_each_other_leave_one_owner() {
    race(&Arc::new(TestApp::new()), Move::RemoveEachOther);
}

fn two_owners_leaving_at_once_leave_one_owner() {
    race(&Arc::new(TestApp::new()), Move::BothLeave);
}

fn a_demotion_racing_a_departure_leaves_one_owner() {
    race(&Arc::new(TestApp::new()), Move::DemoteAndLeave);
}

/// An admin's change between two roles below Owner races an owner who
/// promotes that member and then leaves (which the promotion allows):
/// whatever the order, an owner stays, and an owner who left left someone an
/// owner.
fn a_change_below_owner_racing_a_promotion_and_a_departure_keeps_an_owner() {
    let app = Arc::new(TestApp::new());
    for round in 0..ROUNDS {
        let (org, ada) = app.org_owned_by(&format!("Below {round}"), &format!("ada{round}@example.com"));
        let bob = app.member(&org, &format!("bob{round}@example.com"), Role::ADMIN);
        let carl = app.member(&org, &format!("carl{round}@example.com"), Role::DEVELOPER);
        let barrier = Arc::new(Barrier::new(2));
        let demote = {
            let (app, org, barrier, bob, carl) = (
                Arc::clone(&app),
                org.clone(),
                Arc::clone(&barrier),
                bob.clone(),
                carl.clone(),
            );
            thread::spawn(move || {
                let mut conn = app.conn();
                barrier.wait();
                members::change_role(
                    &mut conn,
                    &as_user(&bob),
                    &org,
                    &MemberRef::Id(carl.id),
                    Role::VIEWER,
                )
                .map(|_| ())
            })
        };
        let promote_and_leave = {
            let (app, org, barrier, ada, carl) = (
                Arc::clone(&app),
                org.clone(),
                Arc::clone(&barrier),
                ada.clone(),
                carl.clone(),
            );
            thread::spawn(move || {
                let mut conn = app.conn();
                barrier.wait();
                members::change_role(
                    &mut conn,
                    &as_user(&ada),
                    &org,
                    &MemberRef::Id(carl.id),
                    Role::OWNER,
                )?;
                members::leave(&mut conn, &as_user(&ada), &org)
            })
        };
        let demoted = demote.join().expect("no panic");
        let left = promote_and_leave.join().expect("no panic");
        let owners: Vec<Option<Role>> = [&ada, &carl].iter().map(|user| app.role_of(&org, user)).collect();
        let owner_count = owners.iter().filter(|role| **role == Some(Role::OWNER)).count();
        assert!(
            owner_count >= 1,
            "round {round}: no owner left: {demoted:?} {left:?} {owners:?}"
        );
        if left.is_ok() {
            assert_eq!(
                owners[1],
                Some(Role::OWNER),
                "round {round}: Ada left and Carl is not an owner"
            );
        }
        // Refused when the promotion came first: an admin may not touch an
        // owner, and a change read before it finds the role changed.
        match demoted {
            Ok(()) | Err(Error::Forbidden(_) | Error::Conflict(_)) => {}
            Err(other) => panic!("round {round}: unexpected {other:?}"),
        }
    }
}

/// The outbox worker marks emails sent while an invite holds the organization:
/// neither may wait for the other (on Postgres they once deadlocked over the
/// count of pending invitations, until the deadlock check killed one). SQLite
/// has one writer at a time by design, so there is no race to run there.
fn marking_emails_sent_does_not_wait_for_an_invite_in_progress() {
    let app = Arc::new(TestApp::new());
    let (org, ada) = app.org_owned_by("Outbox", "ada@example.com");
    app.invite(&org, "bob@example.com", Role::DEVELOPER);
    let claimed = outbox::claim_due(&mut app.conn(), 50, chrono::Duration::minutes(2)).expect("claim");
    assert!(!claimed.is_empty(), "the invitation's email is due");

    let (held_tx, held_rx) = mpsc::channel();
    let (sent_tx, sent_rx) = mpsc::channel();
    let inviter = {
        let app = Arc::clone(&app);
        let org = org.clone();
        thread::spawn(move || {
            let mut conn = app.conn();
            db::write(&mut conn, |conn| {
                db::lock_organization(conn, &org.id)?;
                held_tx.send(()).expect("the worker listens");
                let worker_done_first = sent_rx.recv_timeout(Duration::from_secs(10)).is_ok();
                invitations::invite(
                    conn,
                    &app.settings,
                    &as_user(&ada),
                    &org,
                    &[Invitee {
                        email: EmailAddress::parse("carol@example.com").expect("an address"),
                        name: None,
                        role: Role::VIEWER,
                        ends: None,
                    }],
                )?;
                Ok(worker_done_first)
            })
        })
    };
    held_rx.recv().expect("the organization is held");
    let mut conn = app.conn();
    for email in &claimed {
        outbox::mark_sent(&mut conn, email, "An invitation").expect("marked sent");
    }
    sent_tx.send(()).expect("the inviter listens");
    let worker_done_first = inviter
        .join()
        .expect("no panic")
        .expect("the invite went through");
    assert!(worker_done_first, "the worker waited for the invite");

    let viewer = app
        .viewer(&Actor::command_line(), &org)
        .expect("the organization");
    let pending = invitations::pending_for_org(&mut conn, &viewer, 1, 10).expect("pending");
    assert_eq!(pending.total, 2);
    let bob = pending
        .invitations
        .iter()
        .find(|invitation| invitation.email == "bob@example.com")
        .expect("bob's invitation");
    assert_eq!(bob.delivery, "sent");
}

crate::tests![
    two_owners_demoting_each_other_leave_one_owner,
    two_owners_removing_each_other_leave_one_owner,
    two_owners_leaving_at_once_leave_one_owner,
    a_demotion_racing_a_departure_leaves_one_owner,
    a_change_below_owner_racing_a_promotion_and_a_departure_keeps_an_owner,
    marking_emails_sent_does_not_wait_for_an_invite_in_progress: Needs::Postgres,
];
