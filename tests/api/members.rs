use rollcall::domain::Role;
use rollcall::error::Error;
use rollcall::services::members::{self, Direction, MemberQuery, MemberRef, SortKey};

use crate::helpers::{TestApp, as_user};

fn names(page: &members::MemberPage) -> Vec<&str> {
    page.members.iter().map(|member| member.name.as_str()).collect()
}

fn the_member_list_searches_filters_sorts_and_pages_in_the_database() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    for (email, role) in [
        ("grace@example.com", Role::ADMIN),
        ("alan@example.com", Role::DEVELOPER),
        ("barbara@example.com", Role::VIEWER),
        ("alonzo@sample.org", Role::DEVELOPER),
        ("edsger@example.com", Role::CONTRIBUTOR),
    ] {
        app.member(&org, email, role);
    }
    let me = as_user(&ada);
    let list =
        |query: MemberQuery| members::list(&mut app.conn(), &app.viewer(&me, &org).unwrap(), &query).unwrap();

    let all = list(MemberQuery::default());
    assert_eq!(all.total, 6);
    assert_eq!(
        names(&all),
        ["Ada", "Alan", "Alonzo", "Barbara", "Edsger", "Grace"]
    );

    let search = list(MemberQuery {
        search: rollcall::domain::SearchText::parse("AL").unwrap(),
        ..Default::default()
    });
    assert_eq!(names(&search), ["Alan", "Alonzo"]);
    let by_email = list(MemberQuery {
        search: rollcall::domain::SearchText::parse("alonzo@sam").unwrap(),
        ..Default::default()
    });
    assert_eq!(names(&by_email), ["Alonzo"]);
    let nothing = list(MemberQuery {
        search: rollcall::domain::SearchText::parse("zz").unwrap(),
        ..Default::default()
    });
    assert_eq!((nothing.total, nothing.members.len()), (0, 0));

    let developers = list(MemberQuery {
        role: Some(Role::DEVELOPER),
        ..Default::default()
    });
    assert_eq!(names(&developers), ["Alan", "Alonzo"]);

    let by_email_desc = list(MemberQuery {
        sort: SortKey::Email,
        direction: Direction::Descending,
        ..Default::default()
    });
    assert_eq!(
        names(&by_email_desc),
        ["Grace", "Edsger", "Barbara", "Alonzo", "Alan", "Ada"]
    );

    let newest = list(MemberQuery {
        sort: SortKey::Joined,
        direction: Direction::Descending,
        ..Default::default()
    });
    assert_eq!(names(&newest)[0], "Edsger");

    let page2 = list(MemberQuery {
        per_page: 4,
        page: 2,
        ..Default::default()
    });
    assert_eq!(
        (names(&page2), page2.total, page2.page_count()),
        (vec!["Edsger", "Grace"], 6, 2)
    );
    let beyond = list(MemberQuery {
        per_page: 4,
        page: 99,
        ..Default::default()
    });
    assert!(beyond.members.is_empty());
}

fn a_non_member_cannot_list_members() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let stranger = app.sign_in("stranger@example.com");
    let refused = app.viewer(&as_user(&stranger), &org).unwrap_err();
    assert!(matches!(refused, Error::NotMember { .. }));
    assert_eq!(refused.status(), 403);
}

fn an_admin_changes_a_role_and_it_holds_on_the_next_request() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let admin = app.member(&org, "admin@example.com", Role::ADMIN);
    let bob = app.member(&org, "bob@example.com", Role::VIEWER);
    let updated = members::change_role(
        &mut app.conn(),
        &as_user(&admin),
        &org,
        &MemberRef::Id(bob.id.clone()),
        Role::DEVELOPER,
    )
    .unwrap();
    assert_eq!(updated.role, Role::DEVELOPER);
    assert_eq!(app.role_of(&org, &bob), Some(Role::DEVELOPER));
    // Bob's own powers follow at once: a developer still may not invite.
    let refused = members::change_role(
        &mut app.conn(),
        &as_user(&bob),
        &org,
        &MemberRef::Id(admin.id.clone()),
        Role::VIEWER,
    )
    .unwrap_err();
    assert_eq!(refused.status(), 403);
}

fn nobody_changes_their_own_role() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    app.member(&org, "olga@example.com", Role::OWNER);
    let before = app.snapshot();
    let refused = members::change_role(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        &MemberRef::Id(ada.id.clone()),
        Role::VIEWER,
    )
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "You cannot change your own role; ask another owner or admin."
    );
    assert_eq!(app.snapshot(), before);
}

fn the_last_owner_cannot_be_demoted_removed_or_leave() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let before = app.snapshot();

    let leave = members::leave(&mut app.conn(), &as_user(&ada), &org).unwrap_err();
    assert!(matches!(leave, Error::LastOwner { .. }));
    assert_eq!(
        leave.to_string(),
        "Acme AI must keep at least one owner: make another member an owner first."
    );

    // The command line acts as an owner but obeys the same rule.
    let cli = rollcall::services::Actor::command_line();
    let demote = members::change_role(
        &mut app.conn(),
        &cli,
        &org,
        &MemberRef::Id(ada.id.clone()),
        Role::ADMIN,
    )
    .unwrap_err();
    assert!(matches!(demote, Error::LastOwner { .. }));
    let remove = members::remove(&mut app.conn(), &cli, &org, &MemberRef::Id(ada.id.clone())).unwrap_err();
    assert!(matches!(remove, Error::LastOwner { .. }));
    assert_eq!(app.snapshot(), before);
    assert_eq!(app.role_of(&org, &ada), Some(Role::OWNER));

    // With a second owner, the first may go.
    let olga = app.member(&org, "olga@example.com", Role::OWNER);
    members::leave(&mut app.conn(), &as_user(&ada), &org).unwrap();
    assert_eq!(app.role_of(&org, &ada), None);
    let last = members::leave(&mut app.conn(), &as_user(&olga), &org).unwrap_err();
    assert!(matches!(last, Error::LastOwner { .. }));
}

fn any_member_may_leave_and_a_removed_member_loses_access_at_once() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let viewer = app.member(&org, "viewer@example.com", Role::VIEWER);
    let dev = app.member(&org, "dev@example.com", Role::DEVELOPER);
    members::leave(&mut app.conn(), &as_user(&viewer), &org).unwrap();
    assert_eq!(app.role_of(&org, &viewer), None);

    members::remove(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        &MemberRef::Id(dev.id.clone()),
    )
    .unwrap();
    let refused = app.viewer(&as_user(&dev), &org).unwrap_err();
    assert!(matches!(refused, Error::NoLongerMember { .. }));
}

fn removing_yourself_is_leaving() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let admin = app.member(&org, "admin@example.com", Role::ADMIN);
    let refused = members::remove(
        &mut app.conn(),
        &as_user(&admin),
        &org,
        &MemberRef::Id(admin.id.clone()),
    )
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "You cannot remove yourself; use “Leave organization” instead."
    );
    assert_eq!(app.role_of(&org, &admin), Some(Role::ADMIN));
}

fn every_change_is_in_the_audit_log() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::VIEWER);
    members::change_role(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        &MemberRef::Id(bob.id.clone()),
        Role::ADMIN,
    )
    .unwrap();
    members::remove(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        &MemberRef::Id(bob.id.clone()),
    )
    .unwrap();
    let events = app.audit_events(&org);
    let actions: Vec<(&str, &str, &str)> = events
        .iter()
        .rev()
        .map(|e| {
            (
                e.action.as_str(),
                e.actor_email.as_deref().unwrap_or(&e.actor_name),
                e.target_email.as_deref().unwrap_or(&e.target_name),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("organization.created", "ada@example.com", "Acme AI"),
            ("invitation.created", "command line", "bob@example.com"),
            ("invitation.accepted", "bob@example.com", "bob@example.com"),
            ("member.role_changed", "ada@example.com", "bob@example.com"),
            ("member.removed", "ada@example.com", "bob@example.com"),
        ]
    );
    let role_change = &events[1];
    assert_eq!(role_change.before_state.as_deref(), Some(r#"{"role":"viewer"}"#));
    assert_eq!(role_change.after_state.as_deref(), Some(r#"{"role":"admin"}"#));
}

/// Pages past the middle are read from the other end; every page, in every
/// order, with and without a filter, must still be the same slice of the list.
fn every_page_is_the_same_slice_of_the_list_from_either_end() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    rollcall::services::seed::members(&mut app.conn(), &org, 37).unwrap();
    let me = as_user(&ada);
    let list =
        |query: &MemberQuery| members::list(&mut app.conn(), &app.viewer(&me, &org).unwrap(), query).unwrap();
    for sort in [SortKey::Name, SortKey::Email, SortKey::Joined] {
        for direction in [Direction::Ascending, Direction::Descending] {
            for (search, role) in [(None, None), (None, Some(Role::DEVELOPER)), (Some("ada"), None)] {
                let query = MemberQuery {
                    search: search.and_then(|s| rollcall::domain::SearchText::parse(s).unwrap()),
                    role,
                    sort,
                    direction,
                    page: 1,
                    per_page: 200,
                    step: None,
                };
                let whole = list(&query);
                assert_eq!(whole.members.len() as i64, whole.total);
                let mut paged = Vec::new();
                for page in 1..=(whole.total as u32).div_ceil(5) {
                    let slice = list(&MemberQuery {
                        page,
                        per_page: 5,
                        ..query.clone()
                    });
                    assert_eq!(slice.total, whole.total);
                    paged.extend(slice.members);
                }
                let names =
                    |list: &[members::Member]| list.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
                assert_eq!(
                    names(&paged),
                    names(&whole.members),
                    "{sort:?} {direction:?} {search:?} {role:?}"
                );
                assert_eq!(paged, whole.members);

                // Following Next from the first page, then Previous back,
                // walks the same list: each page by keyset.
                let step_to = |step: &Option<members::Step>, page: u32| {
                    step.clone().map(|step| {
                        list(&MemberQuery {
                            page,
                            per_page: 5,
                            step: Some(step),
                            ..query.clone()
                        })
                    })
                };
                let mut page = list(&MemberQuery {
                    per_page: 5,
                    ..query.clone()
                });
                assert!(page.previous.is_none());
                let mut walked = page.members.clone();
                let mut pages = vec![page.members.clone()];
                while let Some(next) = step_to(&page.next, page.page + 1) {
                    walked.extend(next.members.clone());
                    pages.push(next.members.clone());
                    page = next;
                }
                assert_eq!(
                    walked, whole.members,
                    "Next: {sort:?} {direction:?} {search:?} {role:?}"
                );
                pages.pop();
                while let Some(previous) = step_to(&page.previous, page.page - 1) {
                    assert_eq!(
                        Some(&previous.members),
                        pages.last(),
                        "Previous: {sort:?} {direction:?}"
                    );
                    pages.pop();
                    page = previous;
                }
                assert!(pages.is_empty(), "Previous walks back to the first page");
            }
        }
    }
}

/// A member who joins or leaves between two clicks moves nobody across the
/// page boundary: Next starts right after the last member shown.
fn next_and_previous_survive_a_change_between_two_clicks() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    rollcall::services::seed::members(&mut app.conn(), &org, 20).unwrap();
    let me = as_user(&ada);
    let list =
        |query: &MemberQuery| members::list(&mut app.conn(), &app.viewer(&me, &org).unwrap(), query).unwrap();
    let query = MemberQuery {
        per_page: 5,
        ..Default::default()
    };
    let first = list(&query);
    let shown_last = first.members.last().unwrap().clone();
    // Someone who sorts first joins, and a member on the first page leaves.
    app.member(&org, "aaron@example.com", Role::VIEWER);
    members::remove(
        &mut app.conn(),
        &me,
        &org,
        &MemberRef::Id(first.members[1].user_id.clone()),
    )
    .unwrap();
    let second = list(&MemberQuery {
        page: 2,
        step: first.next.clone(),
        ..query.clone()
    });
    let whole = list(&MemberQuery {
        per_page: 200,
        ..Default::default()
    });
    let after = whole
        .members
        .iter()
        .position(|m| m.user_id == shown_last.user_id)
        .unwrap();
    assert_eq!(second.members, whole.members[after + 1..after + 6].to_vec());
    let back = list(&MemberQuery {
        page: 1,
        step: second.previous.clone(),
        ..query.clone()
    });
    assert_eq!(back.members.last().unwrap().user_id, shown_last.user_id);
}

/// The totals come from counts the database keeps; they follow every change.
fn member_and_invitation_totals_follow_every_change() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let me = as_user(&ada);
    let bob = app.member(&org, "bob@example.com", Role::VIEWER);
    let cleo = app.member(&org, "cleo@example.com", Role::VIEWER);
    let total = |role: Option<Role>| {
        let query = MemberQuery {
            role,
            ..Default::default()
        };
        members::list(&mut app.conn(), &app.viewer(&me, &org).unwrap(), &query)
            .unwrap()
            .total
    };
    let pending = || {
        rollcall::services::invitations::pending_for_org(
            &mut app.conn(),
            &app.viewer(&me, &org).unwrap(),
            1,
            0,
        )
        .unwrap()
        .total
    };
    assert_eq!(
        (total(None), total(Some(Role::VIEWER)), total(Some(Role::OWNER))),
        (3, 2, 1)
    );

    members::change_role(
        &mut app.conn(),
        &me,
        &org,
        &MemberRef::Id(bob.id.clone()),
        Role::ADMIN,
    )
    .unwrap();
    assert_eq!(
        (total(None), total(Some(Role::VIEWER)), total(Some(Role::ADMIN))),
        (3, 1, 1)
    );

    members::remove(&mut app.conn(), &me, &org, &MemberRef::Id(cleo.id.clone())).unwrap();
    assert_eq!((total(None), total(Some(Role::VIEWER))), (2, 0));

    members::leave(&mut app.conn(), &as_user(&bob), &org).unwrap();
    assert_eq!((total(None), total(Some(Role::ADMIN))), (1, 0));

    assert_eq!(pending(), 0);
    let dan = app.invite(&org, "dan@example.com", Role::DEVELOPER);
    app.invite(&org, "eve@example.com", Role::DEVELOPER);
    assert_eq!(pending(), 2);
    app.accept(&dan, "dan@example.com");
    assert_eq!((pending(), total(None), total(Some(Role::DEVELOPER))), (1, 2, 1));
}

crate::tests![
    the_member_list_searches_filters_sorts_and_pages_in_the_database,
    a_non_member_cannot_list_members,
    an_admin_changes_a_role_and_it_holds_on_the_next_request,
    nobody_changes_their_own_role,
    the_last_owner_cannot_be_demoted_removed_or_leave,
    any_member_may_leave_and_a_removed_member_loses_access_at_once,
    removing_yourself_is_leaving,
    every_change_is_in_the_audit_log,
    every_page_is_the_same_slice_of_the_list_from_either_end,
    next_and_previous_survive_a_change_between_two_clicks,
    member_and_invitation_totals_follow_every_change,
];
