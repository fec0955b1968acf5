//! Invitation emails and acceptance by signing in with Google or GitHub,
//! through the real oauth2 client against fake providers, and real SMTP.

use std::net::TcpListener;
use std::time::Duration;

use diesel::prelude::*;
use rollcall::db::schema::invitations as invitations_table;

use crate::fakes::{Account, FakeProviders, SmtpSink};
use crate::http::{Browser, Page, TestServer};

struct World {
    server: TestServer,
    providers: FakeProviders,
    smtp: SmtpSink,
}

fn world() -> World {
    let providers = FakeProviders::start();
    let smtp = SmtpSink::start();
    let mut flags = providers.flags();
    flags.extend(["--smtp-url".to_owned(), smtp.url()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&flags);
    World {
        server,
        providers,
        smtp,
    }
}

const WAIT: Duration = Duration::from_secs(20);

/// Ada signs in (development sign-in), creates Acme AI and invites `email` as `role`.
fn ada_invites(world: &World, email: &str, role: &str) -> Browser {
    let mut ada = world.server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let sent = ada.post(
        "/orgs/acme-ai/invitations",
        &[("email", email), ("name", ""), ("row_role", role)],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    ada
}

/// Signs in at the fake provider as `account` and comes back.
fn sign_in_with(world: &World, browser: &mut Browser, provider: &str, account: Account) -> Page {
    world.providers.will_sign_in(account);
    let start = browser.get(&format!("/auth/{provider}?next=%2Finvitation"));
    assert_eq!(start.status, 303, "{}", start.body);
    browser.follow(start)
}

fn the_emailed_link_leads_through_github_to_membership() {
    let world = world();
    let mut ada = ada_invites(&world, "bob@example.com", "developer");

    let mail = world.smtp.wait_for("bob@example.com", WAIT);
    assert_eq!(mail.subject(), "ada invited you to Acme AI on Rollcall");
    let text = mail.text();
    assert!(text.contains("Content-Type: text/plain") && text.contains("Content-Type: text/html"));
    assert!(text.contains("as a Developer"));
    assert!(text.contains("expires on"));
    let link = mail.link().expect("a link in the email");
    let copy = world.smtp.wait_for("ada@example.com", WAIT);
    assert_eq!(
        copy.subject(),
        "You invited bob@example.com to Acme AI on Rollcall"
    );

    let mut bob = world.server.browser();
    let page = bob.get(&link);
    assert_eq!(page.status, 200);
    page.assert_contains("Join Acme AI on Rollcall");
    page.assert_contains("bob@example.com");
    page.assert_contains("Continue with GitHub");
    assert!(
        !page.contains("Accept invitation"),
        "opening the link accepts nothing"
    );

    let back = sign_in_with(
        &world,
        &mut bob,
        "github",
        Account::github(42, "bob", &[("bob@example.com", true, true)]),
    );
    assert_eq!(back.status, 200, "{}", back.body);
    back.assert_contains("Accept invitation");
    let accepted = bob.post("/invitation/accept", &[("invitation_id", &invitation_id(&back))]);
    assert_eq!(
        (accepted.status, accepted.location.as_deref()),
        (303, Some("/orgs/acme-ai/members"))
    );
    bob.get("/orgs/acme-ai/members")
        .assert_contains("Welcome to Acme AI. You joined as Developer.");

    let members = ada.get("/orgs/acme-ai/members");
    members.assert_contains("bob@example.com");
    members.assert_contains("2 members");

    let reused = world.server.browser().get(&link);
    assert_eq!(reused.status, 410);
    reused.assert_contains("has already been used");
}

fn invitation_id(page: &Page) -> String {
    let marker = "name=\"invitation_id\" value=\"";
    let start = page.body.find(marker).expect("an invitation form") + marker.len();
    page.body[start..start + 36].to_owned()
}

fn google_sign_in_with_a_verified_address_accepts() {
    let world = world();
    ada_invites(&world, "carol@example.com", "viewer");
    let link = world.smtp.wait_for("carol@example.com", WAIT).link().unwrap();
    let mut carol = world.server.browser();
    carol.get(&link);
    let back = sign_in_with(
        &world,
        &mut carol,
        "google",
        Account::google("g-7", "Carol@Example.com", true),
    );
    back.assert_contains("Accept invitation");
    let accepted = carol.post("/invitation/accept", &[("invitation_id", &invitation_id(&back))]);
    assert_eq!(accepted.location.as_deref(), Some("/orgs/acme-ai/members"));
}

fn a_different_account_is_told_plainly_and_cannot_accept() {
    let world = world();
    ada_invites(&world, "bob@example.com", "developer");
    let link = world.smtp.wait_for("bob@example.com", WAIT).link().unwrap();
    let mut browser = world.server.browser();
    browser.get(&link);
    let back = sign_in_with(
        &world,
        &mut browser,
        "google",
        Account::google("g-9", "mallory@example.com", true),
    );
    back.assert_contains("This invitation is for b…@example.com; you are signed in as m…@example.com.");
    back.assert_contains("Sign in with another account");
    assert!(!back.contains("Accept invitation"));
    let id: String = invitations_table::table
        .select(invitations_table::id)
        .first(&mut *world.server.app.conn())
        .unwrap();
    let forced = browser.post("/invitation/accept", &[("invitation_id", &id)]);
    assert_eq!(forced.status, 403);
    forced.assert_contains("This invitation is for b…@example.com");
    assert_eq!(world.server.app.count("memberships"), 1, "only Ada");

    let switched = browser.post("/invitation/switch", &[]);
    let page = browser.follow(switched);
    page.assert_contains("Continue with GitHub");
    let back = sign_in_with(
        &world,
        &mut browser,
        "github",
        Account::github(7, "bob", &[("bob@example.com", true, true)]),
    );
    back.assert_contains("Accept invitation");
}

fn an_unverified_github_address_does_not_count() {
    let world = world();
    ada_invites(&world, "bob@example.com", "developer");
    let link = world.smtp.wait_for("bob@example.com", WAIT).link().unwrap();

    let mut only_unverified = world.server.browser();
    only_unverified.get(&link);
    let refused = sign_in_with(
        &world,
        &mut only_unverified,
        "github",
        Account::github(8, "eve", &[("bob@example.com", false, true)]),
    );
    assert_eq!(refused.status, 422);
    refused.assert_contains("no verified email address");

    let mut mixed = world.server.browser();
    mixed.get(&link);
    let back = sign_in_with(
        &world,
        &mut mixed,
        "github",
        Account::github(
            9,
            "eve",
            &[("eve@example.com", true, true), ("bob@example.com", false, false)],
        ),
    );
    back.assert_contains("you are signed in as e…@example.com");
    assert!(!back.contains("Accept invitation"));

    let mut google = world.server.browser();
    google.get(&link);
    let unverified = sign_in_with(
        &world,
        &mut google,
        "google",
        Account::google("g-1", "bob@example.com", false),
    );
    assert_eq!(unverified.status, 422);
}

fn the_state_must_match_and_a_code_works_once() {
    let world = world();
    let mut browser = world.server.browser();
    world
        .providers
        .will_sign_in(Account::github(1, "bob", &[("bob@example.com", true, true)]));
    let start = browser.get("/auth/github");
    let authorize = browser.get(start.location.as_deref().unwrap());
    let callback = authorize.location.clone().unwrap();
    let forged = callback.replace("state=", "state=forged");
    let refused = browser.get(&forged);
    assert_eq!(refused.status, 400);
    refused.assert_contains("could not be verified");
    assert_eq!(browser.get("/profile").status, 303, "not signed in");

    // A fresh sign-in, then its code replayed in another attempt.
    let start = browser.get("/auth/github");
    let authorize = browser.get(start.location.as_deref().unwrap());
    let callback = authorize.location.clone().unwrap();
    let done = browser.get(&callback);
    assert_eq!(done.status, 303);
    assert_eq!(browser.get("/profile").status, 200);
    let replayed = browser.get(&callback);
    assert_eq!(replayed.status, 400, "the state is used up");

    let mut other = world.server.browser();
    let start = other.get("/auth/github");
    let state = start
        .location
        .as_deref()
        .unwrap()
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let code = callback
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let reused = other.get(&format!("/auth/github/callback?code={code}&state={state}"));
    assert_eq!(reused.status, 400);
    reused.assert_contains("did not accept this sign-in");
    assert_eq!(other.get("/profile").status, 303);
}

fn expired_revoked_and_replaced_links_each_say_so_with_410() {
    let world = world();
    let mut ada = ada_invites(&world, "bob@example.com", "developer");
    let first = world.smtp.wait_for("bob@example.com", WAIT).link().unwrap();
    let app = &world.server.app;
    let invitation = app.org("acme-ai");
    let id: String = invitations_table::table
        .filter(invitations_table::org_id.eq(&invitation.id))
        .select(invitations_table::id)
        .first(&mut *app.conn())
        .unwrap();

    diesel::update(invitations_table::table.find(&id))
        .set(invitations_table::expires_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::hours(1)))
        .execute(&mut *app.conn())
        .unwrap();
    let expired = world.server.browser().get(&first);
    assert_eq!(expired.status, 410);
    expired.assert_contains("This invitation to Acme AI has expired. Ask ada");

    let resent = ada.post(&format!("/orgs/acme-ai/invitations/{id}/resend"), &[]);
    assert_eq!(resent.status, 200);
    resent.assert_contains("the previous link no longer works");
    resent.assert_contains("/invite/");
    let replaced = world.server.browser().get(&first);
    assert_eq!(replaced.status, 410);
    replaced.assert_contains("replaced by a newer one");

    let second = world
        .smtp
        .wait_for_nth("bob@example.com", 2, WAIT)
        .link()
        .unwrap();
    assert_ne!(second, first);
    assert_eq!(
        world.server.browser().get(&second).status,
        200,
        "the new link works"
    );
    ada.post(&format!("/orgs/acme-ai/invitations/{id}/revoke"), &[]);
    let revoked = world.server.browser().get(&second);
    assert_eq!(revoked.status, 410);
    revoked.assert_contains("was withdrawn");

    let garbage = world.server.browser().get("/invite/not-a-token");
    assert_eq!(garbage.status, 404);
    garbage.assert_contains("not valid");
}

fn with_smtp_down_invitations_are_created_and_go_out_when_it_is_back() {
    let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    drop(reserved);
    let server = TestServer::start_with(&["--smtp-url", &format!("smtp://127.0.0.1:{port}")]);
    let mut ada = server.signed_in("ada@example.com");
    ada.post("/orgs", &[("name", "Acme AI")]);
    let sent = ada.post(
        "/orgs/acme-ai/invitations",
        &[("email", "bob@example.com"), ("name", ""), ("row_role", "viewer")],
    );
    assert_eq!(sent.status, 200);
    assert_eq!(
        server.app.count("invitations"),
        1,
        "created although SMTP is down"
    );

    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if ada
            .get("/orgs/acme-ai/members")
            .contains("Delivery pending, retrying")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pending list never said it was retrying"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let smtp = SmtpSink::start_on(TcpListener::bind(("127.0.0.1", port)).expect("the port is free again"));
    let mail = smtp.wait_for("bob@example.com", Duration::from_secs(30));
    assert!(mail.link().is_some());
    let deadline = std::time::Instant::now() + WAIT;
    while !ada.get("/orgs/acme-ai/members").contains(">Sent<") {
        assert!(
            std::time::Instant::now() < deadline,
            "delivery state never became Sent"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn declining_from_the_page_closes_the_invitation() {
    let world = world();
    ada_invites(&world, "bob@example.com", "developer");
    let link = world.smtp.wait_for("bob@example.com", WAIT).link().unwrap();
    let mut bob = world.server.browser();
    bob.get(&link);
    let back = sign_in_with(
        &world,
        &mut bob,
        "github",
        Account::github(5, "bob", &[("bob@example.com", true, true)]),
    );
    let declined = bob.post("/invitation/decline", &[("invitation_id", &invitation_id(&back))]);
    assert_eq!(
        (declined.status, declined.location.as_deref()),
        (303, Some("/profile"))
    );
    bob.get("/profile")
        .assert_contains("You declined the invitation to Acme AI.");
    let again = world.server.browser().get(&link);
    assert_eq!(again.status, 410);
    again.assert_contains("was declined");
    assert_eq!(world.server.app.count("memberships"), 1);
}

fn emails_queued_while_no_server_runs_go_out_when_one_starts() {
    let app = crate::helpers::TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let issued = app.invite(&org, "bob@example.com", rollcall::domain::Role::VIEWER);
    let smtp = SmtpSink::start();
    let _server = TestServer::start_on(app, &["--smtp-url", &smtp.url()]);
    let mail = smtp.wait_for("bob@example.com", WAIT);
    assert_eq!(
        mail.link(),
        Some(issued.link),
        "the email written before the server started"
    );
}

fn provider_profiles_are_parsed_like_form_input() {
    let world = world();
    let name = format!("Bob\r\nSet-Cookie: x\t{}", "b".repeat(300_000));
    let account = Account::github(
        77,
        "bob",
        &[("Bob@Example.com", true, true), ("bob@example.com", true, false)],
    )
    .named(&name);
    let mut bob = world.server.browser();
    let landed = sign_in_with(&world, &mut bob, "github", account.clone());
    assert_eq!(landed.status, 200, "{}", landed.body);
    let user = world.server.app.user_by_email("bob@example.com");
    assert!(
        user.name.chars().count() <= 100,
        "{} characters",
        user.name.chars().count()
    );
    assert!(!user.name.contains(['\r', '\n', '\t']), "{:?}", user.name);
    assert!(user.name.starts_with("Bob Set-Cookie: x b"));
    assert_eq!(world.server.app.count("identity_emails"), 1);

    // Signing in again (the name is then overwritten) keeps the same limits.
    let mut again = world.server.browser();
    assert_eq!(sign_in_with(&world, &mut again, "github", account).status, 200);
    let user = world.server.app.user_by_email("bob@example.com");
    assert!(user.name.chars().count() <= 100);
    assert_eq!(world.server.app.count("users"), 1);
}

fn a_provider_name_loses_what_would_hide_in_it_or_break_its_line() {
    let world = world();
    let name = "\u{202E}Ada\u{2028}Love\u{200B}lace\u{2029} \u{FEFF}👩\u{200D}💻\u{200D}\u{E0041}";
    let account = Account::github(78, "ada", &[("ada@example.com", true, true)]).named(name);
    let mut ada = world.server.browser();
    let landed = sign_in_with(&world, &mut ada, "github", account);
    assert_eq!(landed.status, 200, "{}", landed.body);
    let user = world.server.app.user_by_email("ada@example.com");
    // Line breaks become spaces; invisible characters go; a joiner stays
    // where it joins.
    assert_eq!(user.name, "Ada Lovelace 👩\u{200D}💻");
    assert!(rollcall::domain::text::fits_one_line(&user.name));
}

crate::tests![
    the_emailed_link_leads_through_github_to_membership,
    google_sign_in_with_a_verified_address_accepts,
    a_different_account_is_told_plainly_and_cannot_accept,
    an_unverified_github_address_does_not_count,
    the_state_must_match_and_a_code_works_once,
    expired_revoked_and_replaced_links_each_say_so_with_410,
    with_smtp_down_invitations_are_created_and_go_out_when_it_is_back,
    declining_from_the_page_closes_the_invitation,
    emails_queued_while_no_server_runs_go_out_when_one_starts,
    provider_profiles_are_parsed_like_form_input,
    a_provider_name_loses_what_would_hide_in_it_or_break_its_line,
];
