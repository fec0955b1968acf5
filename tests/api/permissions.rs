//! Every (actor role, target role, action) combination of the permission
//! table, through the services: allowed ones succeed, forbidden ones are
//! refused with a permission error and change nothing.

use rollcall::domain::{EmailAddress, Role};
use rollcall::error::Error;
use rollcall::services::Organization;
use rollcall::services::invitations::{self, Invitee, IssuedInvitation};
use rollcall::services::members::{self, MemberRef};
use rollcall::services::users::User;

use crate::helpers::{TestApp, as_user};

/// The DESIGN.md table, written out independently of the policy module.
fn may_manage(actor: Role, touches_owner: bool) -> bool {
    match actor {
        Role::OWNER => true,
        Role::ADMIN => !touches_owner,
        _ => false,
    }
}

struct Case {
    org: Organization,
    actor: User,
}

/// An organization with a spare owner (so the last-owner rule never decides
/// here) and the actor with `role`.
fn case(app: &TestApp, n: usize, role: Role) -> Case {
    let (org, _) = app.org_owned_by(&format!("Org {n}"), &format!("root{n}@example.com"));
    let actor = app.member(&org, &format!("actor{n}@example.com"), role);
    Case { org, actor }
}

fn expect(app: &TestApp, allowed: bool, result: Result<(), Error>, before: Vec<i64>, what: &str) {
    match (allowed, result) {
        (true, Ok(())) => assert_ne!(app.snapshot(), before, "{what}: allowed but nothing changed"),
        (false, Err(Error::Forbidden(_))) => {
            assert_eq!(app.snapshot(), before, "{what}: refused but changed something")
        }
        (allowed, result) => panic!("{what}: expected allowed={allowed}, got {result:?}"),
    }
}

fn inviting_with_each_role() {
    let app = TestApp::new();
    let mut n = 0;
    for actor_role in Role::all() {
        for role in Role::all() {
            n += 1;
            let Case { org, actor } = case(&app, n, actor_role);
            let before = app.snapshot();
            let invitee = Invitee {
                email: EmailAddress::parse(&format!("new{n}@example.com")).unwrap(),
                name: None,
                role,
                ends: None,
            };
            let result =
                invitations::invite(&mut app.conn(), &app.settings, &as_user(&actor), &org, &[invitee])
                    .map(|_| ());
            expect(
                &app,
                may_manage(actor_role, role == Role::OWNER),
                result,
                before,
                &format!("{actor_role:?} invites {role:?}"),
            );
        }
    }
}

fn resending_and_revoking_each_role() {
    let app = TestApp::new();
    let mut n = 0;
    for actor_role in Role::all() {
        for role in Role::all() {
            n += 1;
            let Case { org, actor } = case(&app, n, actor_role);
            let pending: IssuedInvitation = app.invite(&org, &format!("pending{n}@example.com"), role);
            let allowed = may_manage(actor_role, role == Role::OWNER);

            let before = app.snapshot();
            let result = invitations::resend(
                &mut app.conn(),
                &app.settings,
                &as_user(&actor),
                &org,
                &pending.invitation_id,
            )
            .map(|_| ());
            expect(
                &app,
                allowed,
                result,
                before,
                &format!("{actor_role:?} resends {role:?}"),
            );

            let before = app.snapshot();
            let result = invitations::revoke(&mut app.conn(), &as_user(&actor), &org, &pending.invitation_id)
                .map(|_| ());
            expect(
                &app,
                allowed,
                result,
                before,
                &format!("{actor_role:?} revokes {role:?}"),
            );
        }
    }
}

fn changing_each_role_to_each_other_role() {
    let app = TestApp::new();
    let mut n = 0;
    for actor_role in Role::all() {
        for from in Role::all() {
            for to in Role::all().into_iter().filter(|to| *to != from) {
                n += 1;
                let Case { org, actor } = case(&app, n, actor_role);
                let target = app.member(&org, &format!("target{n}@example.com"), from);
                let before = app.snapshot();
                let result = members::change_role(
                    &mut app.conn(),
                    &as_user(&actor),
                    &org,
                    &MemberRef::Id(target.id.clone()),
                    to,
                );
                let allowed = may_manage(actor_role, from == Role::OWNER || to == Role::OWNER);
                let what = format!("{actor_role:?} changes {from:?} to {to:?}");
                match (allowed, result) {
                    (true, Ok(member)) => {
                        assert_eq!(member.role, to, "{what}");
                        assert_eq!(app.role_of(&org, &target), Some(to), "{what}");
                    }
                    (false, Err(Error::Forbidden(_))) => {
                        assert_eq!(app.snapshot(), before, "{what}");
                        assert_eq!(app.role_of(&org, &target), Some(from), "{what}");
                    }
                    (allowed, result) => panic!("{what}: expected allowed={allowed}, got {result:?}"),
                }
            }
        }
    }
}

fn removing_each_role() {
    let app = TestApp::new();
    let mut n = 0;
    for actor_role in Role::all() {
        for role in Role::all() {
            n += 1;
            let Case { org, actor } = case(&app, n, actor_role);
            let target = app.member(&org, &format!("target{n}@example.com"), role);
            let before = app.snapshot();
            let result = members::remove(
                &mut app.conn(),
                &as_user(&actor),
                &org,
                &MemberRef::Id(target.id.clone()),
            )
            .map(|_| ());
            let allowed = may_manage(actor_role, role == Role::OWNER);
            expect(
                &app,
                allowed,
                result,
                before,
                &format!("{actor_role:?} removes {role:?}"),
            );
            let expected = if allowed { None } else { Some(role) };
            assert_eq!(app.role_of(&org, &target), expected);
        }
    }
}

fn every_role_may_view_members_and_leave() {
    let app = TestApp::new();
    for (n, role) in Role::all().into_iter().enumerate() {
        let Case { org, actor } = case(&app, n, role);
        let page = members::list(
            &mut app.conn(),
            &app.viewer(&as_user(&actor), &org).unwrap(),
            &Default::default(),
        )
        .unwrap();
        assert_eq!(page.total, 2);
        members::leave(&mut app.conn(), &as_user(&actor), &org).unwrap();
        assert_eq!(app.role_of(&org, &actor), None);
    }
}

crate::tests![
    inviting_with_each_role,
    resending_and_revoking_each_role,
    changing_each_role_to_each_other_role,
    removing_each_role,
    every_role_may_view_members_and_leave,
];
