//! Organization settings over HTTP, the services and the command line, on
//! one or two servers: rename with old links answering 301, deletion that
//! cuts everything off at once and restoring it, the purge, allowed email
//! domains, the two-step transfer of ownership and memberships that end.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use rollcall::db::schema::{memberships, organization_slugs, organizations};
use rollcall::domain::{AccessLevel, EmailAddress, LabelName, Lifetime, MembershipEnd, Role};
use rollcall::error::Error;
use rollcall::mail;
use rollcall::services::invitations::{self, AcceptOutcome, Invitee};
use rollcall::services::members::{self, MemberChange, MemberRef};
use rollcall::services::organizations::{self as orgs, Afterwards};
use rollcall::services::tokens::{self, TokenRequest};
use rollcall::services::{Actor, Organization, introspection};
use serde_json::Value;

use crate::helpers::{TestApp, as_user, rollcall, token_of};
use crate::http::TestServer;

/// An answer to a request that is not followed: status, Location, body.
fn request(method: &str, url: &str, bearer: Option<&str>) -> (u16, Option<String>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if let Some(token) = bearer {
        builder = builder.header("Authorization", format!("Bearer {token}"));
    }
    if method != "GET" {
        builder = builder.header("Content-Type", "application/json");
    }
    let body = if method == "GET" {
        Vec::new()
    } else {
        b"{\"role\":\"viewer\"}".to_vec()
    };
    let mut response = agent
        .run(builder.body(body).expect("a request"))
        .expect("an answer");
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    (
        status,
        location,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

fn operations_token(app: &TestApp, user: &rollcall::services::users::User, org: &Organization) -> String {
    let request = TokenRequest {
        name: LabelName::parse("script").unwrap(),
        access: AccessLevel::Operations,
        lifetime: Lifetime::DEFAULT,
        scope: Default::default(),
        limits: Default::default(),
    };
    tokens::create_personal(&mut app.conn(), &as_user(user), org, None, &request)
        .expect("a token")
        .secret
        .expose()
        .to_owned()
}

fn introspect(base: &str, client: &str, token: &str) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{base}/api/v1/tokens/introspect"))
        .header("Authorization", &format!("Bearer {client}"))
        .send_form([("token", token)])
        .expect("an answer");
    serde_json::from_str(&response.body_mut().read_to_string().unwrap_or_default()).unwrap_or(Value::Null)
}

fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

fn actions(app: &TestApp, org: &Organization) -> Vec<String> {
    app.audit_events(org)
        .into_iter()
        .map(|event| event.action)
        .collect()
}

fn emails_to(app: &TestApp, to: &str) -> Vec<String> {
    mail::queued(&mut app.conn())
        .expect("the outbox")
        .into_iter()
        .filter(|email| email.recipient == to)
        .map(|email| email.subject)
        .collect()
}

fn a_rename_keeps_old_links_working_on_every_server_and_reserves_the_old_slug() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::ADMIN);
    let pending = app.invite(&org, "carol@example.com", Role::VIEWER);
    let bob_token = operations_token(app, &bob, &org);

    // An admin may not rename: 403, and nothing changes.
    let mut bob_browser = server.signed_in("bob@example.com");
    bob_browser
        .get("/orgs/acme-ai/settings")
        .assert_contains("Only owners can change these settings.");
    let before = app.snapshot();
    let refused = bob_browser.post(
        "/orgs/acme-ai/settings/rename",
        &[("name", "Evil"), ("slug", "evil")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(app.snapshot(), before);

    let mut browser = server.signed_in("ada@example.com");
    browser
        .get("/orgs/acme-ai/settings")
        .assert_contains("Save name and address");
    let bad = browser.post(
        "/orgs/acme-ai/settings/rename",
        &[("name", "Acme Labs"), ("slug", "Not A Slug")],
    );
    assert_eq!(bad.status, 422);
    bad.assert_contains("is not a valid organization slug");
    let renamed = browser.post(
        "/orgs/acme-ai/settings/rename",
        &[("name", "Acme Labs"), ("slug", "acme-labs")],
    );
    assert_eq!(renamed.status, 303, "{}", renamed.body);
    assert_eq!(renamed.location.as_deref(), Some("/orgs/acme-labs/settings"));
    browser
        .get("/orgs/acme-labs/settings")
        .assert_contains("Acme Labs");

    // The old address answers 301 to the same place under the new one, on
    // a second server too; changes keep their method (308).
    let second = server.another_server();
    let mut on_second = crate::http::Browser::at(&second);
    on_second.sign_in("bob@example.com");
    for page in [
        bob_browser.get("/orgs/acme-ai/members?role=admin"),
        on_second.get("/orgs/acme-ai/members?role=admin"),
    ] {
        assert_eq!(
            (page.status, page.location.as_deref()),
            (301, Some("/orgs/acme-labs/members?role=admin"))
        );
    }
    // A visitor signs in first, and comes back to the old address.
    let (status, location, _) = request("GET", &format!("{}/orgs/acme-ai/members", server.base), None);
    assert_eq!(status, 303);
    assert!(location.is_some_and(|to| to.starts_with("/login?next=")));
    for base in [&server.base, &second] {
        let (status, location, _) = request(
            "GET",
            &format!("{base}/api/v1/orgs/acme-ai/members"),
            Some(&bob_token),
        );
        assert_eq!(
            (status, location.as_deref()),
            (301, Some("/api/v1/orgs/acme-labs/members"))
        );
        let path = format!("{base}/api/v1/orgs/acme-ai/members/{}", ada.id);
        let (status, location, _) = request("PATCH", &path, Some(&bob_token));
        assert_eq!(status, 308);
        assert_eq!(
            location,
            Some(format!("/api/v1/orgs/acme-labs/members/{}", ada.id))
        );
    }
    let (status, _, body) = request(
        "GET",
        &format!("{}/api/v1/orgs/acme-labs/members", server.base),
        Some(&bob_token),
    );
    assert_eq!(status, 200, "{body}");
    // A signed-in member following an old bookmark lands on the page.
    let moved = browser.get("/orgs/acme-ai/members");
    let followed = browser.follow(moved);
    assert_eq!(followed.status, 200);
    followed.assert_contains("Acme Labs");
    // The invitation link names no slug, and still works.
    let (_, accepted) = app.accept(&pending, "carol@example.com");
    assert!(matches!(accepted, AcceptOutcome::Joined { .. }), "{accepted:?}");

    // Nobody else takes the old slug while it is reserved.
    let (other, _) = app.org_owned_by("Acme AI", "dan@example.com");
    assert_eq!(other.slug, "acme-ai-2");
    let taken = orgs::rename(
        &mut app.conn(),
        &Actor::command_line(),
        &other,
        &orgs::Rename {
            name: None,
            slug: Some(rollcall::domain::Slug::parse("acme-ai").unwrap()),
        },
    )
    .unwrap_err();
    assert!(matches!(taken, Error::Conflict(_)), "{taken:?}");
    assert!(taken.to_string().contains("still reserved"), "{taken}");

    let event = app
        .audit_events(&app.org("acme-labs"))
        .into_iter()
        .find(|event| event.action == "organization.renamed")
        .expect("the rename is recorded");
    assert_eq!(
        event.summary(),
        "renamed the organization from Acme AI to Acme Labs (its address moved from /orgs/acme-ai to /orgs/acme-labs)"
    );

    // After 90 days the old slug is nobody's: 404, and free to take.
    diesel::update(organization_slugs::table.filter(organization_slugs::slug.eq("acme-ai")))
        .set(organization_slugs::retired_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::days(91)))
        .execute(&mut *app.conn())
        .unwrap();
    assert_eq!(browser.get("/orgs/acme-ai/members").status, 404);
    let out = rollcall(app, &["org", "rename", "acme-ai-2", "--slug", "acme-ai"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.org("acme-ai").id, other.id);
}

fn a_deletion_cuts_off_members_invitations_and_tokens_at_once_and_a_restore_brings_them_back() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::ADMIN);
    app.member(&org, "erin@example.com", Role::OWNER);
    let pending = app.invite(&org, "carol@example.com", Role::VIEWER);
    let secret = operations_token(app, &bob, &org);
    let gateway = introspection::create_client(&mut app.conn(), &LabelName::parse("gateway").unwrap())
        .unwrap()
        .expose()
        .to_owned();
    let second = server.another_server();
    assert_eq!(introspect(&second, &gateway, &secret)["active"], true);

    let mut ada = server.signed_in("ada@example.com");
    let mut bob_browser = server.signed_in("bob@example.com");
    let before = app.snapshot();
    let refused = bob_browser.post("/orgs/acme-ai/settings/delete", &[("confirm", "acme-ai")]);
    assert_eq!(refused.status, 403);
    let mistyped = ada.post("/orgs/acme-ai/settings/delete", &[("confirm", "acme")]);
    assert_eq!(mistyped.status, 422);
    mistyped.assert_contains("type its slug, acme-ai, exactly");
    assert_eq!(app.snapshot(), before, "refusals change nothing");

    let deleted = ada.post("/orgs/acme-ai/settings/delete", &[("confirm", "acme-ai")]);
    assert_eq!(
        (deleted.status, deleted.location.as_deref()),
        (303, Some("/profile"))
    );
    let profile = ada.get("/profile");
    profile.assert_contains("Deleted organizations");
    profile.assert_contains("Restore Acme AI");

    // Members, on either server, get a clear 410 that says when and by whom.
    let mut on_second = crate::http::Browser::at(&second);
    on_second.sign_in("bob@example.com");
    for page in [
        bob_browser.get("/orgs/acme-ai/members"),
        on_second.get("/orgs/acme-ai/tokens"),
    ] {
        assert_eq!(page.status, 410, "{}", page.body);
        page.assert_contains("This organization was deleted");
        page.assert_contains("Acme AI was deleted on");
        page.assert_contains("by Ada");
    }
    assert!(
        !bob_browser.get("/profile").contains("/orgs/acme-ai/members"),
        "gone from the switcher"
    );
    // Changes in its name are refused, through the services too.
    let change = members::change_role(
        &mut app.conn(),
        &as_user(&bob),
        &org,
        &MemberRef::Id(bob.id.clone()),
        Role::VIEWER,
    );
    assert!(
        matches!(change, Err(Error::OrganizationDeleted { .. })),
        "{change:?}"
    );
    // Its tokens stop: the token check on both servers, and the API.
    assert!(eventually(
        || introspect(&server.base, &gateway, &secret)["active"] == false
    ));
    assert!(eventually(
        || introspect(&second, &gateway, &secret)["active"] == false
    ));
    let (status, _, _) = request(
        "GET",
        &format!("{}/api/v1/orgs/acme-ai/members", server.base),
        Some(&secret),
    );
    assert_eq!(status, 401);
    // The pending invitation was revoked.
    let link = pending.link.replace("http://127.0.0.1:9", &server.base);
    assert_eq!(crate::http::Browser::at(&server.base).get(&link).status, 410);
    // Every owner was told.
    for owner in ["ada@example.com", "erin@example.com"] {
        assert!(
            emails_to(app, owner)
                .iter()
                .any(|subject| subject == "Ada deleted Acme AI on Rollcall"),
            "{owner}: {:?}",
            emails_to(app, owner)
        );
    }

    // To anyone else it is an organization they are not in.
    let mut stranger = server.signed_in("mallory@example.com");
    for page in [
        stranger.get("/orgs/acme-ai/members"),
        stranger.post("/orgs/acme-ai/restore", &[]),
        stranger.post(
            "/orgs/acme-ai/settings/rename",
            &[("name", "Mine"), ("slug", "mine")],
        ),
    ] {
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(!page.contains("deleted"), "{}", page.body);
    }
    // Only an owner restores it.
    assert_eq!(bob_browser.post("/orgs/acme-ai/restore", &[]).status, 403);
    let restored = ada.post("/orgs/acme-ai/restore", &[]);
    assert_eq!(
        (restored.status, restored.location.as_deref()),
        (303, Some("/orgs/acme-ai/members"))
    );
    assert_eq!(bob_browser.get("/orgs/acme-ai/members").status, 200);
    assert!(eventually(
        || introspect(&second, &gateway, &secret)["active"] == true
    ));
    let link_status = crate::http::Browser::at(&server.base).get(&link).status;
    assert_eq!(link_status, 410, "revoked invitations stay revoked");
    let log = actions(app, &org);
    assert!(log.iter().any(|action| action == "organization.deleted"));
    assert!(log.iter().any(|action| action == "organization.restored"));
    assert_eq!(
        ada.post("/orgs/acme-ai/restore", &[]).status,
        422,
        "it is not deleted"
    );
}

fn a_deleted_organization_is_purged_after_its_restore_window_and_not_before() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    app.member(&org, "bob@example.com", Role::DEVELOPER);
    let kept = app.org_owned_by("Other", "zed@example.com").0;
    orgs::delete(&mut app.conn(), &app.settings, &as_user(&ada), &org, "acme-ai").unwrap();
    assert_eq!(orgs::purge_due(&mut app.conn()).unwrap(), 0, "still restorable");
    diesel::update(organizations::table.find(&org.id))
        .set(organizations::purge_after.eq(chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1)))
        .execute(&mut *app.conn())
        .unwrap();
    let late = orgs::restore(
        &mut app.conn(),
        &app.settings,
        &as_user(&ada),
        &rollcall::domain::Slug::parse("acme-ai").unwrap(),
    );
    assert!(matches!(late, Err(Error::Gone(_))), "{late:?}");
    assert_eq!(orgs::purge_due(&mut app.conn()).unwrap(), 1);
    assert_eq!(orgs::purge_due(&mut app.conn()).unwrap(), 0);
    assert_eq!(app.count(&format!("memberships WHERE org_id = '{}'", org.id)), 0);
    assert_eq!(app.count(&format!("audit_events WHERE org_id = '{}'", org.id)), 0);
    assert_eq!(
        app.count(&format!("organization_slugs WHERE org_id = '{}'", org.id)),
        0
    );
    assert_eq!(
        app.count("audit_events WHERE action = 'organization.purged' AND org_id IS NULL"),
        1
    );
    assert_eq!(app.org("other").id, kept.id, "other organizations are untouched");
    let gone = rollcall::services::organizations::find_by_slug(
        &mut app.conn(),
        &Actor::command_line(),
        &rollcall::domain::Slug::parse("acme-ai").unwrap(),
    );
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
}

fn allowed_domains_mark_other_addresses_and_acceptance_checks_them_again() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@acme.com");
    app.member(&org, "bob@acme.com", Role::ADMIN);
    let earlier = app.invite(&org, "eve@gmail.com", Role::VIEWER);

    let mut bob = server.signed_in("bob@acme.com");
    assert_eq!(
        bob.post("/orgs/acme-ai/settings/domains", &[("domains", "acme.com")])
            .status,
        403
    );
    let mut ada = server.signed_in("ada@acme.com");
    let bad = ada.post(
        "/orgs/acme-ai/settings/domains",
        &[("domains", "acme.com, not a domain")],
    );
    assert_eq!(bad.status, 422);
    bad.assert_contains("is not an email domain");
    let saved = ada.post(
        "/orgs/acme-ai/settings/domains",
        &[("domains", "Acme.com\nacme.io")],
    );
    assert_eq!(saved.status, 303, "{}", saved.body);
    ada.get("/orgs/acme-ai/settings")
        .assert_contains("acme.com\nacme.io");
    bob.get("/orgs/acme-ai/settings")
        .assert_contains("only to addresses at <strong>acme.com</strong>, <strong>acme.io</strong>");

    // The invite dialog marks the other addresses, row by row.
    bob.get("/orgs/acme-ai/members");
    let review = bob.post(
        "/orgs/acme-ai/invitations/review",
        &[
            ("emails", "carol@acme.com eve@gmail.com dan@eu.acme.com"),
            ("role", "viewer"),
        ],
    );
    assert_eq!(review.status, 200);
    review.assert_contains("Acme AI does not accept addresses at gmail.com");
    review.assert_contains("Acme AI does not accept addresses at eu.acme.com");
    let before = app.count("invitations");
    let sent = bob.post(
        "/orgs/acme-ai/invitations",
        &[("email", "eve@gmail.com"), ("name", ""), ("row_role", "viewer")],
    );
    assert_eq!(sent.status, 422);
    assert_eq!(app.count("invitations"), before);
    // The API and the command line refuse the same way.
    let refused = invitations::invite_all(
        &mut app.conn(),
        &app.settings,
        &Actor::command_line(),
        &org,
        &[Invitee {
            email: EmailAddress::parse("eve2@gmail.com").unwrap(),
            name: None,
            role: Role::VIEWER,
            ends: None,
        }],
    );
    match refused {
        Err(Error::Rows(rows)) => assert_eq!(rows[0].kind, "domain-not-allowed"),
        other => panic!("{other:?}"),
    }
    let out = rollcall(
        app,
        &["user", "create", "--org", "acme-ai", "--email", "x@gmail.com"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not accept addresses at gmail.com"));

    // An invitation made before the rule: acceptance is refused, and it still waits.
    let eve = app.sign_in("eve@gmail.com");
    let accepted = invitations::accept(&mut app.conn(), &as_user(&eve), &token_of(&earlier));
    assert!(
        matches!(&accepted, Err(Error::Gone(message)) if message.contains("gmail.com")),
        "{accepted:?}"
    );
    assert_eq!(app.role_of(&org, &eve), None);
    assert_eq!(
        app.count("invitations WHERE state = 'pending' AND email = 'eve@gmail.com'"),
        1
    );

    let cleared = rollcall(app, &["org", "domains", "acme-ai", "--clear"]);
    assert!(String::from_utf8_lossy(&cleared.stdout).contains("any domain"));
    let (_, accepted) = app.accept(&earlier, "eve@gmail.com");
    assert!(matches!(accepted, AcceptOutcome::Joined { .. }));
    assert!(
        actions(app, &org)
            .iter()
            .filter(|a| *a == "organization.domains_changed")
            .count()
            == 2
    );
}

fn ownership_moves_in_two_steps_and_the_organization_always_keeps_an_owner() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::DEVELOPER);
    app.member(&org, "carol@example.com", Role::ADMIN);
    let ada_token = operations_token(app, &ada, &org);

    let mut carol = server.signed_in("carol@example.com");
    assert_eq!(
        carol
            .post(
                "/orgs/acme-ai/settings/transfer",
                &[("to", "bob@example.com"), ("afterwards", "admin")]
            )
            .status,
        403
    );
    let mut ada_browser = server.signed_in("ada@example.com");
    let stranger = ada_browser.post(
        "/orgs/acme-ai/settings/transfer",
        &[("to", "nobody@example.com"), ("afterwards", "admin")],
    );
    assert_eq!(stranger.status, 404);
    stranger.assert_contains("nobody@example.com is not a member of Acme AI.");
    let asked = ada_browser.post(
        "/orgs/acme-ai/settings/transfer",
        &[("to", "bob@example.com"), ("afterwards", "admin")],
    );
    assert_eq!(asked.status, 303, "{}", asked.body);
    assert!(
        emails_to(app, "bob@example.com")
            .iter()
            .any(|s| s == "Ada asks you to become an owner of Acme AI on Rollcall")
    );
    assert!(
        emails_to(app, "ada@example.com")
            .iter()
            .any(|s| s == "You asked Bob to become an owner of Acme AI on Rollcall")
    );
    assert_eq!(
        app.role_of(&org, &bob),
        Some(Role::DEVELOPER),
        "nothing changes before the confirmation"
    );

    // Only Bob confirms; Carol cannot.
    assert_eq!(
        carol.post("/orgs/acme-ai/settings/transfer/confirm", &[]).status,
        404
    );
    let mut bob_browser = server.signed_in("bob@example.com");
    bob_browser
        .get("/orgs/acme-ai/settings")
        .assert_contains("Accept ownership");
    // Ada cancels, then asks again, this time to leave afterwards.
    assert_eq!(
        ada_browser
            .post("/orgs/acme-ai/settings/transfer/cancel", &[])
            .status,
        303
    );
    assert_eq!(
        bob_browser
            .post("/orgs/acme-ai/settings/transfer/confirm", &[])
            .status,
        404
    );
    ada_browser.post(
        "/orgs/acme-ai/settings/transfer",
        &[("to", "bob@example.com"), ("afterwards", "leave")],
    );
    let confirmed = bob_browser.post("/orgs/acme-ai/settings/transfer/confirm", &[]);
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    assert_eq!(app.role_of(&org, &bob), Some(Role::OWNER));
    assert_eq!(app.role_of(&org, &ada), None, "Ada left, as she chose");
    assert_eq!(
        app.count(&format!(
            "api_tokens WHERE user_id = '{}' AND revoked_at IS NULL",
            ada.id
        )),
        0
    );
    assert!(
        emails_to(app, "ada@example.com")
            .iter()
            .any(|s| s == "Bob is now an owner of Acme AI on Rollcall")
    );
    let _ = ada_token;
    let event = app
        .audit_events(&org)
        .into_iter()
        .find(|event| event.action == "organization.ownership_transferred")
        .unwrap();
    assert_eq!(event.summary(), "took over ownership from Ada, who left");

    // A transfer whose former owner lost ownership meanwhile is void.
    let dan = app.member(&org, "dan@example.com", Role::VIEWER);
    let carol_user = app.user_by_email("carol@example.com");
    orgs::request_transfer(
        &mut app.conn(),
        &app.settings,
        &as_user(&bob),
        &org,
        &MemberRef::Id(dan.id.clone()),
        Afterwards::Stay(Role::OWNER),
    )
    .unwrap();
    members::change_role(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(carol_user.id.clone()),
        Role::OWNER,
    )
    .unwrap();
    members::change_role(
        &mut app.conn(),
        &as_user(&carol_user),
        &org,
        &MemberRef::Id(bob.id.clone()),
        Role::ADMIN,
    )
    .unwrap();
    // Void for good, even once Bob is an owner again.
    members::change_role(
        &mut app.conn(),
        &as_user(&carol_user),
        &org,
        &MemberRef::Id(bob.id.clone()),
        Role::OWNER,
    )
    .unwrap();
    let void = orgs::confirm_transfer(&mut app.conn(), &app.settings, &as_user(&dan), &org);
    assert!(matches!(void, Err(Error::NotFound(_))), "{void:?}");
    // So is one whose member was removed and invited back.
    orgs::request_transfer(
        &mut app.conn(),
        &app.settings,
        &as_user(&bob),
        &org,
        &MemberRef::Id(dan.id.clone()),
        Afterwards::Leave,
    )
    .unwrap();
    members::remove(
        &mut app.conn(),
        &as_user(&bob),
        &org,
        &MemberRef::Id(dan.id.clone()),
    )
    .unwrap();
    let dan = app.member(&org, "dan@example.com", Role::VIEWER);
    let void = orgs::confirm_transfer(&mut app.conn(), &app.settings, &as_user(&dan), &org);
    assert!(matches!(void, Err(Error::NotFound(_))), "{void:?}");
    assert_eq!(app.role_of(&org, &bob), Some(Role::OWNER));
    assert_eq!(app.role_of(&org, &dan), Some(Role::VIEWER));
    // The command line makes a member an owner at once.
    let out = rollcall(app, &["org", "transfer", "acme-ai", "--to", "dan@example.com"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(app.role_of(&org, &dan), Some(Role::OWNER));
}

fn memberships_end_as_set_and_the_worker_removes_them_but_never_the_last_owner() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::ADMIN);
    let carol = app.member(&org, "carol@example.com", Role::DEVELOPER);
    let now = chrono::Utc::now().naive_utc();
    let in_ten_days = MembershipEnd::parse_argument("10d", now).unwrap();
    let set = |actor: &Actor, who: &rollcall::services::users::User, ends| {
        members::update(
            &mut app.conn(),
            actor,
            &org,
            &MemberRef::Id(who.id.clone()),
            &MemberChange {
                role: None,
                ends: Some(ends),
            },
        )
    };
    // Admins set non-owners' ends, not owners' nor their own.
    assert!(set(&as_user(&bob), &carol, in_ten_days).is_ok());
    assert!(matches!(
        set(&as_user(&bob), &ada, in_ten_days),
        Err(Error::Forbidden(_))
    ));
    assert!(matches!(
        set(&as_user(&bob), &bob, in_ten_days),
        Err(Error::Forbidden(_))
    ));
    assert!(
        actions(&app, &org)
            .iter()
            .any(|action| action == "member.end_changed")
    );

    // Within a week of the end: one reminder to the member and one to the owners.
    let in_three_days = MembershipEnd::parse_argument("3d", now).unwrap();
    set(&as_user(&ada), &carol, in_three_days).unwrap();
    assert_eq!(members::remind_ending(&mut app.conn(), &app.settings).unwrap(), 1);
    assert_eq!(
        members::remind_ending(&mut app.conn(), &app.settings).unwrap(),
        0,
        "once"
    );
    assert!(
        emails_to(&app, "carol@example.com")
            .iter()
            .any(|s| s.starts_with("Your access to Acme AI ends after"))
    );
    assert!(
        emails_to(&app, "ada@example.com")
            .iter()
            .any(|s| s.starts_with("Carol’s access to Acme AI ends after"))
    );

    // Once it has passed, the worker removes her, with her tokens.
    let secret = operations_token(&app, &carol, &org);
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    diesel::update(memberships::table.find((&org.id, &carol.id)))
        .set(memberships::expires_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
    // And the last owner's end passes too.
    diesel::update(memberships::table.find((&org.id, &ada.id)))
        .set(memberships::expires_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
    let server = TestServer::start_on(app, &[]);
    let app = &server.app;
    assert!(
        eventually(|| app.role_of(&org, &carol).is_none()),
        "the worker removes her"
    );
    let _ = secret;
    assert_eq!(
        app.count(&format!(
            "api_tokens WHERE user_id = '{}' AND revoked_at IS NULL",
            carol.id
        )),
        0
    );
    let expired = app
        .audit_events(&org)
        .into_iter()
        .find(|event| event.action == "member.expired")
        .expect("recorded");
    assert_eq!(expired.actor(), "Rollcall");
    assert!(
        expired.summary().contains("1 API token revoked"),
        "{}",
        expired.summary()
    );
    assert!(eventually(|| emails_to(app, "ada@example.com")
        .iter()
        .any(|s| s.contains("keeps its last owner"))));
    assert_eq!(app.role_of(&org, &ada), Some(Role::OWNER), "the last owner stays");
}

fn end_dates_come_through_the_dialogs_and_the_command_line() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::DEVELOPER);
    let mut ada = server.signed_in("ada@example.com");
    ada.get("/orgs/acme-ai/members");
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string();
    let dialog = ada.get(&format!("/orgs/acme-ai/members/{}/role", bob.id));
    dialog.assert_contains("Access ends after (optional)");
    let past = ada.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "developer"), ("ends", "2001-01-01")],
    );
    assert_eq!(past.status, 422);
    let changed = ada.post(
        &format!("/orgs/acme-ai/members/{}/role", bob.id),
        &[("role", "viewer"), ("ends", &day)],
    );
    assert_eq!(changed.status, 303, "{}", changed.body);
    let ends = members::find(&mut app.conn(), &org, &MemberRef::Id(bob.id.clone()))
        .unwrap()
        .ends
        .unwrap();
    assert_eq!(ends.last_day().to_string(), day);
    ada.get("/orgs/acme-ai/members").assert_contains("until ");
    let owner = app.user_by_email("ada@example.com");
    let token = operations_token(app, &owner, &org);
    let (status, _, body) = request(
        "GET",
        &format!("{}/api/v1/orgs/acme-ai/members", server.base),
        Some(&token),
    );
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap();
    let bob_json = listed["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|member| member["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(bob_json["access_ends_after"], Value::from(day.clone()));

    // Invited with an end: the membership ends then.
    let review = ada.post(
        "/orgs/acme-ai/invitations/review",
        &[
            ("emails", "carol@example.com"),
            ("role", "viewer"),
            ("ends", &day),
        ],
    );
    review.assert_contains(&format!("Their access ends after {day}"));
    let sent = ada.post(
        "/orgs/acme-ai/invitations",
        &[
            ("email", "carol@example.com"),
            ("name", ""),
            ("row_role", "viewer"),
            ("ends", &day),
        ],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    let start = sent.body.find("/invite/").expect("the link is shown once");
    let token: String = sent.body[start + "/invite/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let shown = crate::http::Browser::at(&server.base).get(&format!("/invite/{token}"));
    shown.assert_contains("Access until");
    let bad = ada.post(
        "/orgs/acme-ai/invitations/review",
        &[
            ("emails", "dan@example.com"),
            ("role", "viewer"),
            ("ends", "soon"),
        ],
    );
    assert_eq!(bad.status, 422);
    bad.assert_contains("is not a date");

    let out = rollcall(
        app,
        &[
            "user",
            "update",
            "--org",
            "acme-ai",
            "bob@example.com",
            "--expires",
            "never",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        members::find(&mut app.conn(), &org, &MemberRef::Id(bob.id.clone()))
            .unwrap()
            .ends,
        None
    );
    let out = rollcall(
        app,
        &[
            "user",
            "create",
            "--org",
            "acme-ai",
            "--email",
            "erin@example.com",
            "--expires",
            "90d",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = rollcall(
        app,
        &[
            "user",
            "update",
            "--org",
            "acme-ai",
            "bob@example.com",
            "--expires",
            "yesterday",
        ],
    );
    assert!(!bad.status.success());
    let said = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("--expires"), "{said}");
}

fn the_command_line_renames_deletes_and_restores_under_the_same_rules() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let run = |args: &[&str]| {
        let out = rollcall(&app, args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, said) = run(&["org", "rename", "acme-ai", "--name", "Acme Labs"]);
    assert!(ok, "{said}");
    assert_eq!(app.org("acme-ai").name, "Acme Labs");
    let (ok, said) = run(&["org", "rename", "acme-ai"]);
    assert!(!ok && said.contains("Say what changes"), "{said}");
    let (ok, said) = run(&["org", "delete", "acme-ai", "--confirm", "wrong"]);
    assert!(!ok && said.contains("type its slug"), "{said}");
    let (ok, said) = run(&["org", "delete", "acme-ai", "--confirm", "acme-ai"]);
    assert!(ok && said.contains("can restore it until"), "{said}");
    let (ok, said) = run(&["user", "list", "--org", "acme-ai"]);
    assert!(!ok && said.contains("was deleted on"), "{said}");
    let (ok, said) = run(&["org", "restore", "acme-ai"]);
    assert!(ok, "{said}");
    let (ok, said) = run(&["org", "domains", "acme-ai", "--allow", "acme.com", "acme.io"]);
    assert!(
        ok && said.contains("only to addresses at acme.com, acme.io"),
        "{said}"
    );
    let (ok, said) = run(&["org", "domains", "acme-ai", "--allow", "nope"]);
    assert!(!ok && said.lines().count() == 1, "{said}");
    assert_eq!(
        actions(&app, &org)
            .iter()
            .filter(|a| a.starts_with("organization."))
            .count(),
        5,
        "created, renamed, deleted, restored, domains changed"
    );
}

/// A deletion racing acceptances of the organization's invitations: each
/// acceptance either joins before the deletion or finds the invitation
/// revoked, and neither waits for the other in a deadlock (they once did,
/// on Postgres, taking the invitation and the organization in opposite orders).
fn a_deletion_racing_acceptances_neither_deadlocks_nor_lets_anyone_in_after() {
    use std::sync::{Arc, Barrier};
    let app = Arc::new(TestApp::new());
    for round in 0..5 {
        let (org, ada) = app.org_owned_by(&format!("Race {round}"), &format!("ada{round}@example.com"));
        let invited: Vec<_> = (0..4)
            .map(|n| {
                let email = format!("p{n}.{round}@example.com");
                let issued = app.invite(&org, &email, Role::VIEWER);
                (app.sign_in(&email), issued)
            })
            .collect();
        let barrier = Arc::new(Barrier::new(invited.len() + 1));
        let accepts: Vec<_> = invited
            .into_iter()
            .map(|(user, issued)| {
                let (app, barrier) = (Arc::clone(&app), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let mut conn = app.conn();
                    barrier.wait();
                    invitations::accept(&mut conn, &as_user(&user), &token_of(&issued)).map(|_| ())
                })
            })
            .collect();
        let deletion = {
            let (app, barrier, org, ada) = (Arc::clone(&app), Arc::clone(&barrier), org.clone(), ada.clone());
            std::thread::spawn(move || {
                let mut conn = app.conn();
                barrier.wait();
                orgs::delete(&mut conn, &app.settings, &as_user(&ada), &org, &org.slug).map(|_| ())
            })
        };
        for accepted in accepts {
            let accepted = accepted.join().expect("no panic");
            assert!(
                !matches!(accepted, Err(Error::Conflict(_))),
                "round {round}: {accepted:?}"
            );
        }
        let deleted = deletion.join().expect("no panic");
        assert!(deleted.is_ok(), "round {round}: {deleted:?}");
        let joined_after = app.count(&format!(
            "memberships m JOIN organizations o ON o.id = m.org_id WHERE o.id = '{}' AND m.joined_at > o.deleted_at",
            org.id
        ));
        assert_eq!(
            joined_after, 0,
            "round {round}: someone joined after the deletion"
        );
    }
}

fn a_refused_settings_form_shows_what_is_in_force_in_every_other_field() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@globex.test");
    assert_eq!(ada.post("/orgs", &[("name", "Globex")]).status, 303);
    let saved = ada.post("/orgs/globex/settings/domains", &[("domains", "globex.test")]);
    assert_eq!(saved.status, 303, "{}", saved.body);
    let in_force = |page: &crate::http::Page| {
        page.assert_contains(">globex.test</textarea>");
        page.assert_contains("name=\"name\" value=\"Globex\"");
        page.assert_contains("name=\"slug\" value=\"globex\"");
    };

    // A mistyped deletion, with JavaScript off (the page) and on (htmx).
    for htmx in [false, true] {
        let confirm = [("confirm", "globe")];
        let refused = if htmx {
            ada.hx_post("/orgs/globex/settings/delete", &confirm)
        } else {
            ada.post("/orgs/globex/settings/delete", &confirm)
        };
        assert_eq!(refused.status, 422, "htmx {htmx}: {}", refused.body);
        refused.assert_contains("type its slug, globex, exactly");
        in_force(&refused);
        // Pressing "Save domains" on that page sends what it shows, and the
        // list stays as it was.
        let shown = refused
            .body
            .split("name=\"domains\"")
            .nth(1)
            .and_then(|rest| rest.split('>').nth(1))
            .and_then(|rest| rest.split("</textarea").next())
            .expect("the domains field")
            .to_owned();
        assert_eq!(
            ada.post("/orgs/globex/settings/domains", &[("domains", &shown)])
                .status,
            303
        );
        in_force(&ada.get("/orgs/globex/settings"));
    }

    // Each refused form shows what was typed into it, and only into it.
    let rename = ada.post(
        "/orgs/globex/settings/rename",
        &[("name", "Globex 2"), ("slug", "Not A Slug")],
    );
    assert_eq!(rename.status, 422, "{}", rename.body);
    rename.assert_contains("name=\"slug\" value=\"Not A Slug\"");
    rename.assert_contains("name=\"name\" value=\"Globex 2\"");
    rename.assert_contains(">globex.test</textarea>");

    let domains = ada.post(
        "/orgs/globex/settings/domains",
        &[("domains", "globex.test, not a domain")],
    );
    assert_eq!(domains.status, 422, "{}", domains.body);
    domains.assert_contains(">globex.test, not a domain</textarea>");
    domains.assert_contains("name=\"name\" value=\"Globex\"");
    domains.assert_contains("name=\"slug\" value=\"globex\"");

    let transfer = ada.post(
        "/orgs/globex/settings/transfer",
        &[("to", "nobody@globex.test"), ("afterwards", "leave")],
    );
    assert!(
        transfer.status >= 400 && transfer.status < 500,
        "{}",
        transfer.body
    );
    transfer.assert_contains("value=\"nobody@globex.test\"");
    transfer.assert_contains("<option value=\"leave\" selected>");
    in_force(&transfer);

    let cancel = ada.post("/orgs/globex/settings/transfer/cancel", &[]);
    assert!(cancel.status >= 400 && cancel.status < 500, "{}", cancel.body);
    in_force(&cancel);

    let org = server.app.org("globex");
    assert_eq!(org.name, "Globex");
    let allowed = rollcall::services::organizations::overview(
        &mut server.app.conn(),
        &server
            .app
            .viewer(&Actor::command_line(), &org)
            .expect("the organization"),
    )
    .expect("the settings")
    .domains;
    assert_eq!(allowed.len(), 1, "the allowed domains are still in force");
}

fn an_ended_membership_opens_nothing_at_once_though_the_worker_has_not_been_by() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::ADMIN);
    let secret = operations_token(app, &bob, &org);
    let gateway = introspection::create_client(&mut app.conn(), &LabelName::parse("gateway").unwrap())
        .unwrap()
        .expose()
        .to_owned();
    let mut bob_browser = server.signed_in("bob@example.com");
    // Bob's access ends in two seconds, as it would at midnight after his last day.
    let ends = chrono::Utc::now().naive_utc() + chrono::Duration::seconds(2);
    diesel::update(memberships::table.find((&org.id, &bob.id)))
        .set(memberships::expires_at.eq(ends))
        .execute(&mut *app.conn())
        .unwrap();
    let members_api = format!("{}/api/v1/orgs/acme-ai/members", server.base);
    assert_eq!(bob_browser.get("/orgs/acme-ai/members").status, 200);
    assert_eq!(request("GET", &members_api, Some(&secret)).0, 200);
    // The token check now keeps its answer about Bob's token.
    assert_eq!(introspect(&server.base, &gateway, &secret)["active"], true);

    let past_the_end = ends + chrono::Duration::milliseconds(200) - chrono::Utc::now().naive_utc();
    std::thread::sleep(past_the_end.to_std().unwrap_or_default());
    let page = bob_browser.get("/orgs/acme-ai/members");
    assert_eq!(page.status, 403, "{}", page.body);
    page.assert_contains("You are no longer a member of Acme AI.");
    let profile = bob_browser.get("/profile");
    assert!(
        !profile.contains("/orgs/acme-ai"),
        "still listed: {}",
        profile.body
    );
    let (status, _, body) = request("GET", &members_api, Some(&secret));
    assert_eq!(status, 401, "{body}");
    let remove_ada = format!("{}/api/v1/orgs/acme-ai/members/{}", server.base, ada.id);
    assert_eq!(request("DELETE", &remove_ada, Some(&secret)).0, 401);
    assert_eq!(
        introspect(&server.base, &gateway, &secret)["active"],
        false,
        "the kept answer ends with the membership"
    );
    assert_eq!(
        app.role_of(&org, &ada),
        Some(Role::OWNER),
        "nothing was done in his name"
    );
    // The worker has not been by: Bob is still on the list until it removes him.
    assert_eq!(app.role_of(&org, &bob), Some(Role::ADMIN));

    // The organization's only owner keeps access past her end: the worker
    // keeps an organization's last owner, and so does every request.
    let past = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    diesel::update(memberships::table.find((&org.id, &ada.id)))
        .set(memberships::expires_at.eq(past))
        .execute(&mut *app.conn())
        .unwrap();
    let mut ada_browser = server.signed_in("ada@example.com");
    assert_eq!(ada_browser.get("/orgs/acme-ai/members").status, 200);
}

fn an_old_slug_tells_only_those_who_belong_where_the_organization_went() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _ada) = app.org_owned_by("Acme AI", "ada@example.com");
    app.member(&org, "bob@example.com", Role::VIEWER);
    orgs::rename(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        &orgs::Rename {
            name: Some(rollcall::domain::OrganizationName::parse("Hidden Labs").unwrap()),
            slug: Some(rollcall::domain::Slug::parse("hidden-labs").unwrap()),
        },
    )
    .unwrap();
    // Mallory is signed in, with an organization and a token of her own,
    // and is no member of it.
    let (globex, mallory) = app.org_owned_by("Globex", "mallory@example.com");
    let mallory_token = operations_token(app, &mallory, &globex);
    let mut outsider = server.signed_in("mallory@example.com");
    for path in [
        "/orgs/acme-ai/members",
        "/orgs/acme-ai/settings",
        "/orgs/acme-ai/audit",
    ] {
        let moved = outsider.get(path);
        let unknown = outsider.get(&path.replace("acme-ai", "never-was"));
        assert_eq!((moved.status, moved.location.as_deref()), (404, None), "{path}");
        assert_eq!(
            moved.body.replace("acme-ai", "never-was"),
            unknown.body,
            "{path} answers as for an organization that never was"
        );
        assert!(!moved.contains("hidden-labs") && !moved.contains("Hidden Labs"));
    }
    // A change sent to the old slug is not sent on either (no 308).
    let left = outsider.post("/orgs/acme-ai/leave", &[]);
    assert_eq!((left.status, left.location.as_deref()), (404, None));
    assert!(!left.contains("hidden-labs"));
    let (status, location, body) = request(
        "GET",
        &format!("{}/api/v1/orgs/acme-ai/members", server.base),
        Some(&mallory_token),
    );
    assert_eq!((status, location), (404, None));
    assert!(!body.contains("hidden-labs"), "{body}");

    // A member following the same old link is sent on.
    let mut member = server.signed_in("bob@example.com");
    let moved = member.get("/orgs/acme-ai/members");
    assert_eq!(
        (moved.status, moved.location.as_deref()),
        (301, Some("/orgs/hidden-labs/members"))
    );
}

crate::tests![
    a_rename_keeps_old_links_working_on_every_server_and_reserves_the_old_slug,
    a_deletion_cuts_off_members_invitations_and_tokens_at_once_and_a_restore_brings_them_back,
    a_deleted_organization_is_purged_after_its_restore_window_and_not_before,
    allowed_domains_mark_other_addresses_and_acceptance_checks_them_again,
    ownership_moves_in_two_steps_and_the_organization_always_keeps_an_owner,
    memberships_end_as_set_and_the_worker_removes_them_but_never_the_last_owner,
    end_dates_come_through_the_dialogs_and_the_command_line,
    the_command_line_renames_deletes_and_restores_under_the_same_rules,
    a_deletion_racing_acceptances_neither_deadlocks_nor_lets_anyone_in_after,
    a_refused_settings_form_shows_what_is_in_force_in_every_other_field,
    an_ended_membership_opens_nothing_at_once_though_the_worker_has_not_been_by,
    an_old_slug_tells_only_those_who_belong_where_the_organization_went,
];
