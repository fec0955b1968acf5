//! Kept fragments of the Members page: every change to the memberships or
//! the invitations shows on the next page, whichever server, command or
//! background delivery made it, and an invitation shows as expired once its
//! time is up.

use rollcall::domain::{EmailAddress, Role};
use rollcall::services::members::{self, MemberRef};
use rollcall::services::users::{self, Provider, SignIn};
use rollcall::services::{Actor, invitations};

use std::time::{Duration, Instant};

use crate::http::{Browser, Page, TestServer};

const MEMBERS: &str = "/orgs/acme-ai/members";

/// Bob's row in a page of the member table, or None when he is not listed.
fn row_of<'a>(page: &'a Page, user_id: &str) -> Option<&'a str> {
    let start = page.body.find(&format!("<tr id=\"member-{user_id}\">"))?;
    let rest = &page.body[start..];
    Some(&rest[..rest.find("</tr>").unwrap_or(rest.len())])
}

fn version(server: &TestServer) -> i64 {
    use diesel::prelude::*;
    use rollcall::db::schema::member_list_versions;
    let org = server.app.org("acme-ai");
    member_list_versions::table
        .find(&org.id)
        .select(member_list_versions::version)
        .first(&mut server.app.conn())
        .optional()
        .expect("read the version")
        .unwrap_or(0)
}

/// Acme AI owned by Ada, with Bob as a developer; Ada's browser on the server.
fn acme_with_bob() -> (TestServer, Browser, String) {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = server.app.org("acme-ai");
    server.app.member(&org, "bob@example.com", Role::DEVELOPER);
    let bob = server.app.user_by_email("bob@example.com").id;
    (server, ada, bob)
}

fn a_change_made_through_another_server_shows_on_the_next_page() {
    let (server, mut ada, bob) = acme_with_bob();
    let before = ada.get(MEMBERS);
    assert!(row_of(&before, &bob).is_some_and(|row| row.contains("role-developer")));
    let table = ada.hx_get(MEMBERS, "members-table");
    assert!(row_of(&table, &bob).is_some_and(|row| row.contains("role-developer")));

    let mut ada_elsewhere = Browser::at(&server.another_server());
    ada_elsewhere.sign_in("ada@example.com");
    let changed = ada_elsewhere.post(&format!("{MEMBERS}/{bob}/role"), &[("role", "admin")]);
    assert_eq!(changed.status, 303, "{}", changed.body);

    let after = ada.get(MEMBERS);
    let row = row_of(&after, &bob).expect("Bob is listed");
    assert!(row.contains("role-admin"), "{row}");
    assert!(!row.contains("role-developer"), "{row}");
    let table = ada.hx_get(MEMBERS, "members-table");
    assert!(row_of(&table, &bob).is_some_and(|row| row.contains("role-admin")));
    after.assert_contains("2 members");
}

fn changes_from_the_command_line_and_from_sign_in_show_on_the_next_page() {
    let (server, mut ada, bob) = acme_with_bob();
    let org = server.app.org("acme-ai");
    assert!(row_of(&ada.get(MEMBERS), &bob).is_some());

    // Bob signs in with a new name: his row follows.
    users::sign_in(
        &mut server.app.conn(),
        &SignIn::new(
            Provider::Dev,
            "bob@example.com",
            Some("Robert Tables"),
            None,
            [EmailAddress::parse("bob@example.com").expect("an address")],
        )
        .expect("a sign-in"),
    )
    .expect("sign in");
    let renamed = ada.get(MEMBERS);
    assert!(row_of(&renamed, &bob).is_some_and(|row| row.contains("Robert Tables")));

    // Carol accepts an invitation: she is listed, and counted.
    let carol = server.app.member(&org, "carol@example.com", Role::VIEWER);
    let joined = ada.get(MEMBERS);
    assert!(row_of(&joined, &carol.id).is_some());
    joined.assert_contains("3 members");

    // The operator removes Bob: he is gone from the list at once.
    members::remove(
        &mut server.app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(bob.clone()),
    )
    .expect("remove Bob");
    let removed = ada.get(MEMBERS);
    assert!(row_of(&removed, &bob).is_none(), "Bob is still listed");
    removed.assert_contains("2 members");
}

fn what_leaves_the_memberships_alone_leaves_the_version_alone() {
    let (server, mut ada, bob) = acme_with_bob();
    let org = server.app.org("acme-ai");
    let kept = version(&server);
    assert!(kept > 0, "joining raised the version");

    // Reading, inviting and refused changes write no membership.
    ada.get(MEMBERS);
    ada.get(&format!("{MEMBERS}?q=bob"));
    server.app.invite(&org, "dave@example.com", Role::VIEWER);
    let refused = members::change_role(
        &mut server.app.conn(),
        &Actor::user(&bob, None),
        &org,
        &MemberRef::Email(EmailAddress::parse("ada@example.com").expect("an address")),
        Role::VIEWER,
    );
    assert!(refused.is_err(), "a developer changed the owner's role");
    assert_eq!(version(&server), kept);

    let pending = invitations::pending_for_org(
        &mut server.app.conn(),
        &server.app.viewer(&Actor::command_line(), &org).expect("open"),
        1,
        10,
    )
    .expect("pending");
    assert_eq!(pending.total, 1);
    ada.get(MEMBERS).assert_contains("dave@example.com");

    members::change_role(
        &mut server.app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(bob),
        Role::VIEWER,
    )
    .expect("change Bob's role");
    assert!(version(&server) > kept, "a role change raised the version");
}

fn with_no_room_kept_every_page_is_rendered() {
    let server = TestServer::start_with(&["--fragment-cache-mb", "0"]);
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    ada.get(MEMBERS).assert_contains("1 member");
    let org = server.app.org("acme-ai");
    server.app.member(&org, "bob@example.com", Role::DEVELOPER);
    server.app.invite(&org, "dave@example.com", Role::VIEWER);
    let page = ada.get(MEMBERS);
    page.assert_contains("2 members");
    assert!(pending_section(&page).contains("dave@example.com"));
}

/// The pending invitations section of a Members page.
fn pending_section(page: &Page) -> &str {
    let start = page
        .body
        .find("id=\"pending-invitations\"")
        .expect("a pending invitations section");
    let rest = &page.body[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// Invites `email` as a viewer through the invite dialog's last step.
fn invite_from_the_dialog(browser: &mut Browser, email: &str) {
    let sent = browser.post(
        "/orgs/acme-ai/invitations",
        &[("email", email), ("name", ""), ("row_role", "viewer")],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
}

fn pending_invitations_follow_every_change_whichever_server_made_it() {
    let (server, mut ada, _) = acme_with_bob();
    let org = server.app.org("acme-ai");
    assert!(pending_section(&ada.get(MEMBERS)).contains("No pending invitations."));

    let mut ada_elsewhere = Browser::at(&server.another_server());
    ada_elsewhere.sign_in("ada@example.com");
    invite_from_the_dialog(&mut ada_elsewhere, "dave@example.com");
    let page = ada.get(MEMBERS);
    let pending = pending_section(&page);
    assert!(pending.contains("dave@example.com"), "{pending}");
    assert!(pending.contains("(1)"), "{pending}");

    let dave = server.app.invite(&org, "erin@example.com", Role::DEVELOPER);
    assert!(pending_section(&ada.get(MEMBERS)).contains("erin@example.com"));
    invitations::revoke(
        &mut server.app.conn(),
        &Actor::command_line(),
        &org,
        &dave.invitation_id,
    )
    .expect("revoke");
    let page = ada.get(MEMBERS);
    let pending = pending_section(&page);
    assert!(!pending.contains("erin@example.com"), "{pending}");
    assert!(pending.contains("dave@example.com"), "{pending}");
}

fn each_session_gets_forms_with_its_own_token() {
    let (server, mut ada, _) = acme_with_bob();
    let org = server.app.org("acme-ai");
    let issued = server.app.invite(&org, "dave@example.com", Role::VIEWER);
    let mut ada_again = server.signed_in("ada@example.com");
    assert_ne!(ada.csrf, ada_again.csrf);
    for browser in [&mut ada, &mut ada_again] {
        let page = browser.get(MEMBERS);
        let token = format!("name=\"csrf_token\" value=\"{}\"", browser.csrf);
        assert!(
            pending_section(&page).contains(&token),
            "the forms carry another session's token"
        );
    }
    let revoked = ada_again.post(
        &format!("/orgs/acme-ai/invitations/{}/revoke", issued.invitation_id),
        &[],
    );
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert!(!pending_section(&ada.get(MEMBERS)).contains("dave@example.com"));
}

fn an_invitation_shows_as_expired_once_its_time_is_up() {
    let server = TestServer::start_with(&["--invite-ttl", "2s"]);
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    invite_from_the_dialog(&mut ada, "dave@example.com");
    let page = ada.get(MEMBERS);
    assert!(pending_section(&page).contains("dave@example.com"));
    assert!(!pending_section(&page).contains("Expired"));

    let deadline = Instant::now() + Duration::from_secs(10);
    while !pending_section(&ada.get(MEMBERS)).contains("<strong>Expired</strong>") {
        assert!(
            Instant::now() < deadline,
            "the invitation never showed as expired"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

crate::tests![
    a_change_made_through_another_server_shows_on_the_next_page,
    changes_from_the_command_line_and_from_sign_in_show_on_the_next_page,
    what_leaves_the_memberships_alone_leaves_the_version_alone,
    with_no_room_kept_every_page_is_rendered,
    pending_invitations_follow_every_change_whichever_server_made_it,
    each_session_gets_forms_with_its_own_token,
    an_invitation_shows_as_expired_once_its_time_is_up,
];
