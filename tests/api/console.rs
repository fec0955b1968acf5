//! The members console over HTTP, with and without htmx: every flow and
//! every refusal, on whichever database the suite runs on.

use rollcall::domain::Role;

use crate::http::{Browser, TestServer};

/// A server with "Acme AI" owned by ada@example.com, and Ada's browser.
fn acme() -> (TestServer, Browser) {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    let created = ada.post("/orgs", &[("name", "Acme AI")]);
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location.as_deref(), Some("/orgs/acme-ai/members"));
    (server, ada)
}

/// Adds `email` as a member with `role` and returns their signed-in browser.
fn join(server: &TestServer, email: &str, role: Role) -> Browser {
    let org = server.app.org("acme-ai");
    let issued = server.app.invite(&org, email, role);
    let (_, outcome) = server.app.accept(&issued, email);
    assert!(matches!(
        outcome,
        rollcall::services::invitations::AcceptOutcome::Joined { .. }
    ));
    server.signed_in(email)
}

fn user_id(server: &TestServer, email: &str) -> String {
    server.app.user_by_email(email).id
}

fn signing_in_and_out() {
    let server = TestServer::start();
    let mut browser = server.browser();
    let home = browser.get("/");
    assert_eq!((home.status, home.location.as_deref()), (303, Some("/login")));
    let members = browser.get("/orgs/acme-ai/members");
    assert_eq!(members.status, 303);
    assert_eq!(
        members.location.as_deref(),
        Some("/login?next=%2Forgs%2Facme-ai%2Fmembers")
    );

    let login = browser.get("/login");
    login.assert_contains("Continue with Google");
    login.assert_contains("Continue with GitHub");
    login.assert_contains("Development sign-in");
    login.assert_contains("dev-banner");

    let bad = browser.post("/login/dev", &[("email", "not an address"), ("next", "/")]);
    assert_eq!(bad.status, 422);
    bad.assert_contains("is not a valid email address");

    let offsite = browser.post(
        "/login/dev",
        &[("email", "ada@example.com"), ("next", "//evil.example/")],
    );
    assert_eq!((offsite.status, offsite.location.as_deref()), (303, Some("/")));

    let profile = browser.get("/profile");
    profile.assert_contains("Signed in as ada@example.com");
    profile.assert_contains("Sign out");
    let out = browser.post("/logout", &[]);
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    assert_eq!(browser.get("/profile").status, 303);
}

fn a_session_whose_account_is_gone_is_signed_out() {
    use diesel::prelude::*;
    let (server, mut ada) = acme();
    let ada_id = user_id(&server, "ada@example.com");
    diesel::delete(rollcall::db::schema::users::table.find(&ada_id))
        .execute(&mut server.app.conn())
        .expect("delete the account");

    let members = ada.get("/orgs/acme-ai/members");
    assert_eq!(members.status, 303);
    assert_eq!(
        members.location.as_deref(),
        Some("/login?next=%2Forgs%2Facme-ai%2Fmembers")
    );
    let profile = ada.get("/profile");
    assert_eq!(profile.location.as_deref(), Some("/login?next=%2Fprofile"));
    let created = ada.post("/orgs", &[("name", "Acme Two")]);
    assert_ne!(created.status, 200);
    assert_ne!(created.location.as_deref(), Some("/orgs/acme-two/members"));
    assert_eq!(server.app.count("organizations"), 1, "nothing was created");
}

fn development_sign_in_is_off_when_asked() {
    let server = TestServer::start_with(&["--dev-login", "off"]);
    let mut browser = server.browser();
    let login = browser.get("/login");
    assert!(!login.contains("Development sign-in"));
    assert!(!login.contains("dev-banner"));
    // No page offers a form, so there is no CSRF token either: refused twice over.
    let refused = browser.post("/login/dev", &[("email", "ada@example.com")]);
    assert!(
        refused.status == 403 || refused.status == 404,
        "{}",
        refused.status
    );
    assert_eq!(server.app.count("users"), 0);
}

fn a_state_change_without_the_csrf_token_is_refused_and_changes_nothing() {
    let (server, mut ada) = acme();
    let before = server.app.snapshot();
    let forged = ada.post_without_csrf(
        "/orgs/acme-ai/invitations",
        &[("email", "eve@example.com"), ("row_role", "admin")],
    );
    assert_eq!(forged.status, 403);
    forged.assert_contains("This form has expired");
    let wrong = {
        let saved = std::mem::replace(&mut ada.csrf, "not-the-token".to_owned());
        let page = ada.post("/orgs", &[("name", "Evil Corp")]);
        ada.csrf = saved;
        page
    };
    assert_eq!(wrong.status, 403);
    assert_eq!(server.app.snapshot(), before);
}

fn security_headers_are_on_every_answer() {
    let server = TestServer::start();
    let mut browser = server.browser();
    for path in ["/login", "/nowhere", "/static/app.css"] {
        let page = browser.get(path);
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(page.header("referrer-policy"), Some("no-referrer"), "{path}");
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(page.header("x-frame-options"), Some("DENY"), "{path}");
    }
    let not_found = browser.get("/nowhere");
    assert_eq!(not_found.status, 404);
    not_found.assert_contains("There is nothing at /nowhere");
    for page in [browser.get("/login"), not_found] {
        let stylesheet = page
            .body
            .split("<link rel=\"stylesheet\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("a stylesheet link")
            .to_owned();
        assert!(
            stylesheet.starts_with("/static/app.css?v="),
            "the stylesheet's URL changes with its content: {stylesheet}"
        );
        let css = browser.get(&stylesheet);
        assert_eq!(css.status, 200);
        css.assert_contains(".member-list td:nth-child(1)::before");
    }
    assert_eq!(
        browser.get("/login").header("set-cookie"),
        None,
        "a session that has not changed is not sent again"
    );
    let cookie = server
        .browser()
        .get("/login")
        .header("set-cookie")
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
}

fn the_members_page_lists_searches_and_pages() {
    let (server, mut ada) = acme();
    for (email, role) in [
        ("alan@example.com", Role::DEVELOPER),
        ("grace@example.com", Role::ADMIN),
    ] {
        join(&server, email, role);
    }
    let page = ada.get("/orgs/acme-ai/members");
    assert_eq!(page.status, 200);
    page.assert_contains("3 members");
    page.assert_contains("alan@example.com");
    page.assert_contains("Invite members");
    page.assert_contains("Pending invitations");

    let search = ada.hx_get("/orgs/acme-ai/members?q=gr", "members-table");
    assert_eq!(search.status, 200);
    assert!(!search.contains("<html"), "htmx gets the table alone");
    search.assert_contains("grace@example.com");
    assert!(!search.contains("alan@example.com"));

    let admins = ada.get("/orgs/acme-ai/members?role=admin");
    admins.assert_contains("grace@example.com");
    assert!(!admins.contains("alan@example.com"));

    let paged = ada.get("/orgs/acme-ai/members?sort=email&dir=desc&page=1");
    let (g, a) = (
        paged.body.find("grace@").unwrap(),
        paged.body.find("alan@").unwrap(),
    );
    assert!(g < a, "sorted by email, descending");

    assert_eq!(ada.get("/orgs/acme-ai/members?role=wizard").status, 422);
    assert_eq!(ada.get("/orgs/acme-ai/members?page=-1").status, 422);
    assert_eq!(ada.get("/orgs/Not_A_Slug/members").status, 404);
    assert_eq!(ada.get("/orgs/nope/members").status, 404);
}

fn inviting_many_through_both_steps_without_javascript() {
    let (server, mut ada) = acme();
    join(&server, "member@example.com", Role::VIEWER);

    let step_one = ada.get("/orgs/acme-ai/invitations/new");
    assert_eq!(step_one.status, 200);
    step_one.assert_contains("<dialog class=\"invite-dialog\" aria-labelledby=\"invite-title\" open>");
    let empty = ada.post(
        "/orgs/acme-ai/invitations/review",
        &[("emails", "  "), ("role", "developer")],
    );
    assert_eq!(empty.status, 422);
    empty.assert_contains("Enter at least one email address.");

    let review = ada.post(
        "/orgs/acme-ai/invitations/review",
        &[
            (
                "emails",
                "bob@example.com, not-an-address\nmember@example.com bob@example.com",
            ),
            ("role", "viewer"),
        ],
    );
    assert_eq!(review.status, 200);
    review.assert_contains("Invite 4 people to Acme AI");
    review.assert_contains("This is not a valid email address.");
    review.assert_contains("Already a member of Acme AI.");
    review.assert_contains("Listed twice.");

    let before = server.app.snapshot();
    let blocked = ada.post(
        "/orgs/acme-ai/invitations",
        &[
            ("email", "bob@example.com"),
            ("name", "Bob"),
            ("row_role", "admin"),
            ("email", "not-an-address"),
            ("name", ""),
            ("row_role", "viewer"),
        ],
    );
    assert_eq!(blocked.status, 422);
    blocked.assert_contains("Fix or remove the highlighted rows");
    assert_eq!(
        server.app.snapshot(),
        before,
        "nothing is created while a row is invalid"
    );

    let removed = ada.post(
        "/orgs/acme-ai/invitations/review",
        &[
            ("email", "bob@example.com"),
            ("name", "Bob"),
            ("row_role", "admin"),
            ("email", "not-an-address"),
            ("name", ""),
            ("row_role", "viewer"),
            ("remove", "1"),
        ],
    );
    assert_eq!(removed.status, 200);
    removed.assert_contains("Invite 1 person to Acme AI");

    let sent = ada.post(
        "/orgs/acme-ai/invitations",
        &[
            ("email", "bob@example.com"),
            ("name", "Bob"),
            ("row_role", "admin"),
            ("email", "carol@example.com"),
            ("name", ""),
            ("row_role", "viewer"),
        ],
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    sent.assert_contains("Invited 2 people to Acme AI.");
    sent.assert_contains(&format!("{}/invite/", server.base));
    assert_eq!(sent.header("cache-control"), Some("no-store"));
    let members = ada.get("/orgs/acme-ai/members");
    assert!(!members.contains("/invite/"), "a link shown twice");
    members.assert_contains("bob@example.com");
    members.assert_contains("Pending invitations <span class=\"muted\">(2)</span>");
    assert!(
        !ada.get("/orgs/acme-ai/members").contains("/invite/"),
        "links are shown once"
    );
}

fn inviting_with_htmx_answers_with_dialogs() {
    let (server, mut ada) = acme();
    let step_one = ada.hx_get("/orgs/acme-ai/invitations/new", "modal");
    assert!(!step_one.contains("<html") && !step_one.contains(" open>"));
    let review = ada.hx_post(
        "/orgs/acme-ai/invitations/review",
        &[("emails", "bob@example.com"), ("role", "developer")],
    );
    assert_eq!(review.status, 200);
    review.assert_contains("Send invitations");
    let sent = ada.hx_post(
        "/orgs/acme-ai/invitations",
        &[
            ("email", "bob@example.com"),
            ("name", ""),
            ("row_role", "developer"),
        ],
    );
    assert_eq!(sent.status, 200);
    sent.assert_contains("Invited bob@example.com to Acme AI.");
    sent.assert_contains(&format!("{}/invite/", server.base));
    sent.assert_contains("id=\"pending-invitations\" aria-labelledby=\"pending-title\" hx-swap-oob=\"true\"");
    assert_eq!(server.app.count("invitations"), 1);
}

fn a_thousand_addresses_in_one_paste() {
    let (server, mut ada) = acme();
    let addresses: Vec<String> = (0..1000).map(|i| format!("person{i}@example.com")).collect();
    let pasted = addresses.join("\n");
    let review = ada.post(
        "/orgs/acme-ai/invitations/review",
        &[("emails", &pasted), ("role", "viewer")],
    );
    assert_eq!(review.status, 200);
    review.assert_contains("Invite 1000 people");
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for address in &addresses {
        rows.extend([("email", address.as_str()), ("name", ""), ("row_role", "viewer")]);
    }
    let sent = ada.post("/orgs/acme-ai/invitations", &rows);
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert_eq!(server.app.count("invitations"), 1000);
    // Every link is on the page the form lands on, none in the cookie.
    sent.assert_contains("Invited 1,000 people to Acme AI.");
    assert_eq!(
        sent.body.matches(&format!("{}/invite/", server.base)).count(),
        1000
    );
    let cookie = sent.header("set-cookie").unwrap_or_default();
    assert!(cookie.len() < 4096, "a {}-byte cookie", cookie.len());
}

fn pending_invitations_are_listed_a_page_at_a_time() {
    let (server, mut ada) = acme();
    let org = server.app.org("acme-ai");
    for n in 0..60 {
        server
            .app
            .invite(&org, &format!("invitee{n:02}@example.com"), Role::VIEWER);
    }
    let rows = |page: &crate::http::Page| page.body.matches("<tr id=\"invitation-").count();

    let members = ada.get("/orgs/acme-ai/members");
    assert_eq!(rows(&members), 10);
    members.assert_contains("invitee59@example.com");
    members.assert_contains("Showing the 10 most recent of 60.");
    members.assert_contains("href=\"/orgs/acme-ai/invitations\"");

    let newest = ada.get("/orgs/acme-ai/invitations");
    assert_eq!((newest.status, rows(&newest)), (200, 50));
    newest.assert_contains("Pending invitations <span class=\"muted\">(60)</span>");
    newest.assert_contains("Page 1 of 2");
    newest.assert_contains("href=\"/orgs/acme-ai/invitations?page=2\">Older</a>");
    assert!(newest.contains("invitee59@example.com") && !newest.contains("invitee00@example.com"));

    let oldest = ada.get("/orgs/acme-ai/invitations?page=2");
    assert_eq!((oldest.status, rows(&oldest)), (200, 10));
    oldest.assert_contains("invitee00@example.com");
    oldest.assert_contains("href=\"/orgs/acme-ai/invitations?page=1\">Newer</a>");
    ada.get("/orgs/acme-ai/invitations?page=9")
        .assert_contains("No pending invitations on this page.");
    for bad in ["0", "two", "-1"] {
        let refused = ada.get(&format!("/orgs/acme-ai/invitations?page={bad}"));
        assert_eq!(refused.status, 422, "page={bad}");
        refused.assert_contains("is not a page number");
    }

    let mut viewer = join(&server, "vera@example.com", Role::VIEWER);
    let seen = viewer.get("/orgs/acme-ai/invitations");
    assert_eq!((seen.status, rows(&seen)), (200, 50));
    assert!(!seen.contains("/revoke") && !seen.contains("/resend"));
    let outsider = server
        .signed_in("eve@example.com")
        .get("/orgs/acme-ai/invitations");
    assert_eq!(outsider.status, 403);
    assert!(!outsider.contains("invitee"));
}

fn oversized_bodies_are_refused_with_413() {
    let (server, mut ada) = acme();
    let before = server.app.snapshot();
    let huge = format!(
        "emails={}&role=viewer",
        "a".repeat(rollcall::web::MAX_FORM_BYTES + 10)
    );
    let refused = ada.post_bytes("/orgs/acme-ai/invitations/review", huge.into_bytes());
    assert_eq!(refused.status, 413);
    refused.assert_contains("too large");
    assert_eq!(server.app.snapshot(), before);
}

fn resending_rotates_the_link_and_revoking_withdraws_it() {
    let (server, mut ada) = acme();
    let org = server.app.org("acme-ai");
    let first = server.app.invite(&org, "bob@example.com", Role::VIEWER);
    let id = first.invitation_id.clone();

    let resent = ada.hx_post(&format!("/orgs/acme-ai/invitations/{id}/resend"), &[]);
    assert_eq!(resent.status, 200, "{}", resent.body);
    resent.assert_contains("Sent a new invitation to bob@example.com");
    resent.assert_contains(&format!("id=\"invitation-{id}\" hx-swap-oob=\"true\""));
    assert!(!resent.contains(&first.link), "a new link");
    let status =
        rollcall::services::invitations::open(&mut server.app.conn(), &crate::helpers::token_of(&first))
            .unwrap()
            .unwrap()
            .status;
    assert_eq!(
        status,
        rollcall::services::invitations::InvitationStatus::Replaced
    );

    let revoked = ada.post(&format!("/orgs/acme-ai/invitations/{id}/revoke"), &[]);
    assert_eq!(revoked.status, 303);
    ada.get("/orgs/acme-ai/members")
        .assert_contains("Revoked the invitation for bob@example.com");
    let again = ada.hx_post(&format!("/orgs/acme-ai/invitations/{id}/revoke"), &[]);
    assert_eq!(again.status, 409);
    assert_eq!(again.hx_retarget.as_deref(), Some("#notices"));
}

fn changing_a_role_updates_the_row_in_place() {
    let (server, mut ada) = acme();
    join(&server, "bob@example.com", Role::VIEWER);
    let bob = user_id(&server, "bob@example.com");
    let dialog = ada.hx_get(&format!("/orgs/acme-ai/members/{bob}/role"), "modal");
    dialog.assert_contains("Change role");
    dialog.assert_contains("<option value=\"owner\"");

    let updated = ada.hx_post(&format!("/orgs/acme-ai/members/{bob}/role"), &[("role", "admin")]);
    assert_eq!(updated.status, 200);
    assert_eq!(updated.header("hx-trigger"), Some("closeDialog"));
    updated.assert_contains(&format!("<tr id=\"member-{bob}\">"));
    updated.assert_contains("role-admin");
    updated.assert_contains("Bob is now Admin of Acme AI.");
    assert_eq!(
        server.app.role_of(
            &server.app.org("acme-ai"),
            &server.app.user_by_email("bob@example.com")
        ),
        Some(Role::ADMIN)
    );

    let bad = ada.post(
        &format!("/orgs/acme-ai/members/{bob}/role"),
        &[("role", "emperor")],
    );
    assert_eq!(bad.status, 422);
    bad.assert_contains("“emperor” is not a role");
}

fn removing_a_member_takes_away_access_at_once() {
    let (server, mut ada) = acme();
    let mut bob_browser = join(&server, "bob@example.com", Role::DEVELOPER);
    let bob = user_id(&server, "bob@example.com");
    let confirm = ada.get(&format!("/orgs/acme-ai/members/{bob}/remove"));
    confirm.assert_contains("Remove Bob from Acme AI?");
    confirm.assert_contains("Yes, remove");
    let removed = ada.hx_post(&format!("/orgs/acme-ai/members/{bob}/remove"), &[]);
    assert_eq!(removed.status, 200);
    removed.assert_contains("Bob no longer has access to Acme AI.");
    assert!(!removed.contains("<tr"), "the row is swapped for nothing");

    let locked_out = bob_browser.get("/orgs/acme-ai/members");
    assert_eq!(locked_out.status, 403);
    locked_out.assert_contains("You are no longer a member of Acme AI.");
}

fn the_last_owner_is_told_why_they_cannot_leave() {
    let (server, mut ada) = acme();
    let dialog = ada.get("/orgs/acme-ai/leave");
    dialog.assert_contains("Acme AI must keep at least one owner: make another member an owner first.");
    assert!(!dialog.contains("Yes, leave"));
    let before = server.app.snapshot();
    let refused = ada.post("/orgs/acme-ai/leave", &[]);
    assert_eq!(refused.status, 409);
    refused.assert_contains("make another member an owner first");
    let htmx = ada.hx_post("/orgs/acme-ai/leave", &[]);
    assert_eq!(
        (htmx.status, htmx.hx_retarget.as_deref()),
        (409, Some("#notices"))
    );
    assert_eq!(server.app.snapshot(), before);

    let mut olga = join(&server, "olga@example.com", Role::OWNER);
    let olga_id = user_id(&server, "olga@example.com");
    let demote = ada.post(
        &format!("/orgs/acme-ai/members/{olga_id}/role"),
        &[("role", "admin")],
    );
    assert_eq!(demote.status, 303);
    let ada_id = user_id(&server, "ada@example.com");
    let last = olga.post(
        &format!("/orgs/acme-ai/members/{ada_id}/role"),
        &[("role", "admin")],
    );
    assert_eq!(last.status, 403, "an admin cannot demote an owner");

    ada.post(
        &format!("/orgs/acme-ai/members/{olga_id}/role"),
        &[("role", "owner")],
    );
    let leave = ada.hx_post("/orgs/acme-ai/leave", &[]);
    assert_eq!(
        (leave.status, leave.hx_redirect.as_deref()),
        (200, Some("/profile"))
    );
    ada.get("/profile").assert_contains("You left Acme AI.");
}

fn the_roles_page_renders_the_policy() {
    let (_server, mut ada) = acme();
    let roles = ada.get("/orgs/acme-ai/roles");
    assert_eq!(roles.status, 200);
    let policy = rollcall::domain::policy::current();
    for row in policy.permissions() {
        roles.assert_contains(&row.description);
        roles.assert_contains(&row.name);
    }
    let allowed = roles.body.matches("<td class=\"yes\">").count();
    let expected: usize = policy
        .permissions()
        .iter()
        .map(|row| {
            Role::all()
                .iter()
                .filter(|role| row.permission.allows(**role))
                .count()
        })
        .sum();
    assert_eq!(allowed, expected);
}

fn the_profile_creates_organizations_and_answers_invitations() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    let empty = ada.post("/orgs", &[("name", "   ")]);
    assert_eq!(empty.status, 422);
    empty.assert_contains("Organization name: a name cannot be empty.");
    let html = ada.post("/orgs", &[("name", "<script>alert(1)</script>")]);
    assert_eq!(html.status, 303);
    let page = ada.get(html.location.as_deref().unwrap());
    assert!(!page.contains("<script>alert(1)</script>"), "names are escaped");
    page.assert_contains("&#60;script&#62;alert(1)&#60;/script&#62;");

    let (other, _) = server.app.org_owned_by("Other Co", "olga@example.com");
    server.app.invite(&other, "ada@example.com", Role::ADMIN);
    let profile = ada.get("/profile");
    profile.assert_contains("Other Co");
    let invitation_id = {
        let marker = "/profile/invitations/";
        let start = profile.body.find(marker).unwrap() + marker.len();
        profile.body[start..start + 36].to_owned()
    };
    let accepted = ada.post(&format!("/profile/invitations/{invitation_id}/accept"), &[]);
    assert_eq!(accepted.location.as_deref(), Some("/orgs/other-co/members"));
    ada.get("/orgs/other-co/members")
        .assert_contains("Welcome to Other Co. You joined as Admin.");
}

/// The independent reading of DESIGN.md's table used by the HTTP checks.
fn may_manage(actor: Role, touches_owner: bool) -> bool {
    actor == Role::OWNER || (actor == Role::ADMIN && !touches_owner)
}

fn each_role_is_offered_only_what_it_may_do_and_refused_the_rest() {
    for viewer_role in Role::all() {
        let (server, _ada) = acme();
        let targets: Vec<(Role, String)> = Role::all()
            .into_iter()
            .map(|role| {
                let email = format!("{}-target@example.com", role.as_str());
                join(&server, &email, role);
                (role, user_id(&server, &email))
            })
            .collect();
        let mut viewer = join(&server, "viewer@example.com", viewer_role);
        let page = viewer.get("/orgs/acme-ai/members");
        assert_eq!(page.status, 200, "{viewer_role:?}");
        let can_invite = may_manage(viewer_role, false);
        assert_eq!(
            page.contains(">Invite members</a>"),
            can_invite,
            "{viewer_role:?} invite button"
        );
        for (target_role, id) in &targets {
            let allowed = may_manage(viewer_role, *target_role == Role::OWNER);
            let what = format!("{viewer_role:?} on {target_role:?}");
            assert_eq!(
                page.contains(&format!("/members/{id}/role\"")),
                allowed,
                "{what}: Change role offered"
            );
            assert_eq!(
                page.contains(&format!("/members/{id}/remove\"")),
                allowed,
                "{what}: Remove access offered"
            );
            if !allowed {
                let before = server.app.snapshot();
                let to = if *target_role == Role::VIEWER {
                    "contributor"
                } else {
                    "viewer"
                };
                assert_eq!(
                    viewer.get(&format!("/orgs/acme-ai/members/{id}/role")).status,
                    403,
                    "{what}"
                );
                let changed = viewer.post(&format!("/orgs/acme-ai/members/{id}/role"), &[("role", to)]);
                assert_eq!(changed.status, 403, "{what}: change role");
                let removed = viewer.hx_post(&format!("/orgs/acme-ai/members/{id}/remove"), &[]);
                assert_eq!(removed.status, 403, "{what}: remove");
                assert_eq!(server.app.snapshot(), before, "{what}: nothing changed");
            }
        }
        let before = server.app.snapshot();
        let owner_invite = viewer.post(
            "/orgs/acme-ai/invitations",
            &[("email", "boss@example.com"), ("name", ""), ("row_role", "owner")],
        );
        if viewer_role == Role::OWNER {
            assert_eq!(owner_invite.status, 200, "{viewer_role:?} invites an owner");
        } else {
            assert_eq!(owner_invite.status, 403, "{viewer_role:?} invites an owner");
            assert_eq!(server.app.snapshot(), before, "{viewer_role:?}: nothing created");
        }
        let dialog = viewer.get("/orgs/acme-ai/invitations/new");
        assert_eq!(dialog.status == 200, can_invite, "{viewer_role:?}: invite dialog");
        assert_eq!(
            dialog.contains("<option value=\"owner\""),
            viewer_role == Role::OWNER,
            "{viewer_role:?}: owner offered"
        );
        let roles = viewer.get("/orgs/acme-ai/roles");
        assert_eq!(roles.status, 200, "everyone sees the roles");
    }
}

fn a_reloaded_invite_dialog_or_resend_sends_nothing_twice() {
    let (server, mut ada) = acme();
    let app = &server.app;
    let review = ada.post(
        "/orgs/acme-ai/invitations/review",
        &[
            ("emails", "bob@example.com carol@example.com"),
            ("role", "viewer"),
        ],
    );
    assert_eq!(review.status, 200, "{}", review.body);
    let once = review.field("once").expect("the dialog carries a one-time value");
    let rows = [
        ("email", "bob@example.com"),
        ("name", ""),
        ("row_role", "viewer"),
        ("email", "carol@example.com"),
        ("name", ""),
        ("row_role", "viewer"),
        ("once", once.as_str()),
    ];
    let sent = ada.post("/orgs/acme-ai/invitations", &rows);
    assert_eq!(sent.status, 200, "{}", sent.body);
    sent.assert_contains("Invited 2 people to Acme AI.");
    sent.assert_contains("/invite/");
    let before = (app.count("invitation_tokens"), app.count("email_outbox"));

    // The reload (without JavaScript) and a second press (with htmx) say
    // what was sent, show no link, and send nothing: not "already invited"
    // rows to fix.
    for again in [
        ada.post("/orgs/acme-ai/invitations", &rows),
        ada.hx_post("/orgs/acme-ai/invitations", &rows),
    ] {
        assert_eq!(again.status, 200, "{}", again.body);
        again.assert_contains("Invited 2 people to Acme AI. This form was already sent");
        assert!(!again.contains("/invite/"), "a link shown again");
        assert!(!again.contains("Fix or remove"));
    }
    assert_eq!(
        (app.count("invitation_tokens"), app.count("email_outbox")),
        before
    );

    // Resend, from the pending list: once per form, whatever the reloads.
    let members = ada.get("/orgs/acme-ai/members");
    let bob = app.org("acme-ai");
    let bob_id = rollcall::services::invitations::pending_for_org(
        &mut app.conn(),
        &app.viewer(&rollcall::services::Actor::command_line(), &bob)
            .expect("the organization"),
        1,
        10,
    )
    .expect("the pending invitations")
    .invitations
    .into_iter()
    .find(|pending| pending.email == "bob@example.com")
    .expect("Bob's invitation")
    .id;
    let resend_once = members
        .field_after(&format!("/invitations/{bob_id}/resend\""), "once")
        .expect("the Resend form carries a one-time value");
    let path = format!("/orgs/acme-ai/invitations/{bob_id}/resend");
    let resent = ada.post(&path, &[("once", resend_once.as_str())]);
    assert_eq!(resent.status, 200, "{}", resent.body);
    resent.assert_contains("Sent a new invitation to bob@example.com");
    let link_start = resent.body.find("/invite/").expect("the new link");
    let link: String = resent.body[link_start..]
        .chars()
        .take_while(|c| *c != '<' && *c != '"' && !c.is_whitespace())
        .collect();
    let tokens = app.count("invitation_tokens");
    for again in [
        ada.post(&path, &[("once", resend_once.as_str())]),
        ada.hx_post(&path, &[("once", resend_once.as_str())]),
    ] {
        assert_eq!(again.status, 200, "{}", again.body);
        again.assert_contains("was already sent again by this form");
        assert!(!again.contains("/invite/"), "a link shown again");
    }
    assert_eq!(app.count("invitation_tokens"), tokens, "no new link");
    let opened = server.browser().get(&link);
    assert_eq!(opened.status, 200, "the link shown still works: {}", opened.body);
}

fn error_pages_keep_the_header_for_someone_signed_in() {
    let (server, mut ada) = acme();
    let app = &server.app;
    let org = app.org("acme-ai");
    let issued = app.invite(&org, "bob@example.com", Role::VIEWER);
    let invite_path = format!("/invite/{}", issued.link.rsplit('/').next().unwrap());
    {
        use diesel::prelude::*;
        use rollcall::db::schema::invitations;
        diesel::update(invitations::table.filter(invitations::org_id.eq(&org.id)))
            .set(invitations::expires_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::hours(1)))
            .execute(&mut *app.conn())
            .unwrap();
    }
    let has_header = |page: &crate::http::Page| {
        page.contains("Sign out") && page.contains("ada@example.com") && page.contains("org-switcher")
    };
    let expired = ada.get(&invite_path);
    assert_eq!(expired.status, 410, "{}", expired.body);
    assert!(has_header(&expired), "{}", expired.body);
    let unknown = ada.get("/orgs/no-such-org/members");
    assert_eq!(unknown.status, 404);
    assert!(has_header(&unknown), "{}", unknown.body);
    unknown.assert_contains("There is no organization “no-such-org”.");
    let nowhere = ada.get("/no/such/page");
    assert_eq!(nowhere.status, 404);
    assert!(has_header(&nowhere), "{}", nowhere.body);

    let deleted = ada.post("/orgs/acme-ai/settings/delete", &[("confirm", "acme-ai")]);
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let gone = ada.get("/orgs/acme-ai/members");
    assert_eq!(gone.status, 410);
    gone.assert_contains("This organization was deleted");
    assert!(has_header(&gone), "{}", gone.body);
    // Signing out works from there.
    assert!(gone.csrf().is_some(), "the Sign out form");
    assert_eq!(ada.post("/logout", &[]).status, 303);
    assert_eq!(ada.get("/profile").status, 303, "signed out");

    // Nobody signed in: the plain page. htmx: a notice, not a page.
    let anonymous = server.browser().get("/no/such/page");
    assert_eq!(anonymous.status, 404);
    assert!(!anonymous.contains("Sign out"));
    let mut carol = server.signed_in("carol@example.com");
    let notice = carol.hx_get("/orgs/no-such-org/members", "members-table");
    assert_eq!(notice.status, 404);
    assert!(!notice.contains("Sign out"), "{}", notice.body);
}

crate::tests![
    signing_in_and_out,
    a_session_whose_account_is_gone_is_signed_out,
    development_sign_in_is_off_when_asked,
    a_state_change_without_the_csrf_token_is_refused_and_changes_nothing,
    security_headers_are_on_every_answer,
    the_members_page_lists_searches_and_pages,
    inviting_many_through_both_steps_without_javascript,
    inviting_with_htmx_answers_with_dialogs,
    a_thousand_addresses_in_one_paste,
    pending_invitations_are_listed_a_page_at_a_time,
    oversized_bodies_are_refused_with_413,
    resending_rotates_the_link_and_revoking_withdraws_it,
    changing_a_role_updates_the_row_in_place,
    removing_a_member_takes_away_access_at_once,
    the_last_owner_is_told_why_they_cannot_leave,
    the_roles_page_renders_the_policy,
    the_profile_creates_organizations_and_answers_invitations,
    each_role_is_offered_only_what_it_may_do_and_refused_the_rest,
    a_reloaded_invite_dialog_or_resend_sends_nothing_twice,
    error_pages_keep_the_header_for_someone_signed_in,
];
