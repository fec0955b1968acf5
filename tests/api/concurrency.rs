//! The last-owner rule under real concurrency: two transactions that each
//! remove, demote or let go of one of the last two owners must never both win.

use std::sync::{Arc, Barrier};
use std::thread;

use rollcall::domain::Role;
use rollcall::error::Error;
use rollcall::services::Actor;
use rollcall::services::members::{self, MemberQuery, MemberRef};

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
        let olga = app.member(&org, &format!("olga{round}@example.com"), Role::Owner);
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
                            members::change_role(&mut conn, &as_user(&me), &org, &other_ref, Role::Admin)
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
                            Role::Viewer,
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
                role: Some(Role::Owner),
                ..Default::default()
            },
        )
        .unwrap()
        .total;
        assert_eq!(owners, 1, "{play:?} round {round}: {wins} won, {results:?}");
        assert_eq!(wins, 1, "{play:?} round {round}: {results:?}");
    }
}

#[test]
fn two_owners_demoting_each_other_leave_one_owner() {
    race(&Arc::new(TestApp::new()), Move::DemoteEachOther);
}

#[test]
fn two_owners_removing_each_other_leave_one_owner() {
    race(&Arc::new(TestApp::new()), Move::RemoveEachOther);
}

#[test]
fn two_owners_leaving_at_once_leave_one_owner() {
    race(&Arc::new(TestApp::new()), Move::BothLeave);
}

#[test]
fn a_demotion_racing_a_departure_leaves_one_owner() {
    race(&Arc::new(TestApp::new()), Move::DemoteAndLeave);
}
