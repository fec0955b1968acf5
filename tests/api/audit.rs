//! The audit log: every action leaves exactly one event with the right actor,
//! target, before and after; the tab, its filters and pages; the downloads
//! (formula-safe CSV, JSON Lines); who may read it; retention; the command line.

use std::process::Command;

use diesel::prelude::*;
use rollcall::domain::{AccessLevel, EmailAddress, LabelName, Lifetime, Role};
use rollcall::services::audit::{self, AuditAction, AuditFilter, AuditPlace, RecordedEvent};
use rollcall::services::invitations::{self, InviteOutcome, Invitee};
use rollcall::services::members::{self, MemberRef};
use rollcall::services::service_accounts::{self, AccountRequest, KeyRequest};
use rollcall::services::tokens::{self, TokenRequest};
use rollcall::services::users::{self, Provider, SignIn};
use rollcall::services::{Actor, Organization};
use serde_json::{Value, json};

use crate::helpers::{TestApp, as_user, token_of};
use crate::http::TestServer;

/// Every event of the organization, newest first.
fn events(app: &TestApp, org: &Organization) -> Vec<RecordedEvent> {
    app.audit_events(org)
}

/// Runs `change` and returns the one event it recorded (failing if it
/// recorded none or more than one).
#[track_caller]
fn only_event_of(app: &TestApp, org: &Organization, change: impl FnOnce()) -> RecordedEvent {
    let before = events(app, org).len();
    change();
    let after = events(app, org);
    assert_eq!(
        after.len(),
        before + 1,
        "one new event: {:#?}",
        &after[..after.len() - before]
    );
    after.into_iter().next().expect("an event")
}

fn state(text: &Option<String>) -> Value {
    text.as_deref()
        .map(|text| serde_json::from_str(text).expect("JSON"))
        .unwrap_or(Value::Null)
}

#[track_caller]
fn assert_event(
    event: &RecordedEvent,
    action: AuditAction,
    actor_email: Option<&str>,
    target: (&str, &str),
    summary: &str,
) {
    assert_eq!(event.action, action.as_str(), "{event:#?}");
    assert_eq!(event.actor_email.as_deref(), actor_email, "{event:#?}");
    assert_eq!(
        (event.target_kind.as_str(), event.target_name.as_str()),
        target,
        "{event:#?}"
    );
    assert_eq!(event.summary(), summary, "{event:#?}");
}

fn named_sign_in(app: &TestApp, email: &str, name: &str) -> users::User {
    let sign_in = SignIn::new(
        Provider::Dev,
        email,
        Some(name),
        None,
        [EmailAddress::parse(email).unwrap()],
    )
    .expect("a sign-in");
    users::sign_in(&mut app.conn(), &sign_in).expect("sign in")
}

fn each_action_leaves_exactly_one_event_with_its_actor_target_before_and_after() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let by_ada = Actor::user(&ada.id, "203.0.113.7".parse().ok());
    let created = events(&app, &org);
    assert_eq!(created.len(), 1);
    assert_event(
        &created[0],
        AuditAction::OrganizationCreated,
        Some("ada@example.com"),
        ("organization", "Acme AI"),
        "created the organization Acme AI",
    );
    assert_eq!(created[0].credential, "console session");

    let mut bob_invitation = None;
    let invited = only_event_of(&app, &org, || {
        let outcomes = invitations::invite(
            &mut app.conn(),
            &app.settings,
            &by_ada,
            &org,
            &[Invitee {
                email: EmailAddress::parse("bob@example.com").unwrap(),
                name: Some(rollcall::domain::PersonName::parse("Bob Kahn").unwrap()),
                role: Role::DEVELOPER,
                ends: None,
            }],
        )
        .expect("invite");
        if let Some((_, InviteOutcome::Invited(issued))) = outcomes.into_iter().next() {
            bob_invitation = Some(issued);
        }
    });
    assert_event(
        &invited,
        AuditAction::InvitationCreated,
        Some("ada@example.com"),
        ("invitation", "Bob Kahn"),
        "invited Bob Kahn (bob@example.com) as Developer",
    );
    assert_eq!(invited.client_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(state(&invited.after_state)["role"], "developer");
    let bob_invitation = bob_invitation.expect("an invitation");

    let mut fresh = None;
    let resent = only_event_of(&app, &org, || {
        fresh = Some(
            invitations::resend(
                &mut app.conn(),
                &app.settings,
                &by_ada,
                &org,
                &bob_invitation.invitation_id,
            )
            .expect("resend"),
        );
    });
    assert_event(
        &resent,
        AuditAction::InvitationResent,
        Some("ada@example.com"),
        ("invitation", "Bob Kahn"),
        "resent the invitation to Bob Kahn (bob@example.com)",
    );
    assert_eq!(state(&resent.before_state)["send_count"], 1);
    assert_eq!(state(&resent.after_state)["send_count"], 2);

    let bob = named_sign_in(&app, "bob@example.com", "Bob Kahn");
    let by_bob = as_user(&bob);
    let fresh = fresh.expect("a new link");
    let accepted = only_event_of(&app, &org, || {
        invitations::accept(&mut app.conn(), &by_bob, &token_of(&fresh)).expect("accept");
    });
    assert_event(
        &accepted,
        AuditAction::InvitationAccepted,
        Some("bob@example.com"),
        ("invitation", "Bob Kahn"),
        "accepted the invitation and joined as Developer",
    );

    let promoted = only_event_of(&app, &org, || {
        members::change_role(
            &mut app.conn(),
            &by_ada,
            &org,
            &MemberRef::Id(bob.id.clone()),
            Role::ADMIN,
        )
        .expect("change");
    });
    assert_event(
        &promoted,
        AuditAction::RoleChanged,
        Some("ada@example.com"),
        ("member", "Bob Kahn"),
        "changed Bob Kahn’s role from Developer to Admin",
    );
    assert_eq!(state(&promoted.before_state), json!({ "role": "developer" }));
    assert_eq!(state(&promoted.after_state), json!({ "role": "admin" }));
    assert_eq!(promoted.target_email.as_deref(), Some("bob@example.com"));
    assert_eq!(promoted.target_id.as_deref(), Some(bob.id.as_str()));

    let carol = app.invite(&org, "carol@example.com", Role::VIEWER);
    let revoked = only_event_of(&app, &org, || {
        invitations::revoke(&mut app.conn(), &by_bob, &org, &carol.invitation_id).expect("revoke");
    });
    assert_event(
        &revoked,
        AuditAction::InvitationRevoked,
        Some("bob@example.com"),
        ("invitation", ""),
        "revoked the invitation of carol@example.com as Viewer",
    );

    let dave = app.invite(&org, "dave@example.com", Role::VIEWER);
    let dave_user = app.sign_in("dave@example.com");
    let declined = only_event_of(&app, &org, || {
        invitations::decline(&mut app.conn(), &as_user(&dave_user), &token_of(&dave)).expect("decline");
    });
    assert_event(
        &declined,
        AuditAction::InvitationDeclined,
        Some("dave@example.com"),
        ("invitation", ""),
        "declined the invitation",
    );

    let request = TokenRequest {
        name: LabelName::parse("CI deploys").unwrap(),
        access: AccessLevel::Operations,
        lifetime: Lifetime::DEFAULT,
        scope: Default::default(),
        limits: Default::default(),
    };
    let mut token = None;
    let made = only_event_of(&app, &org, || {
        token = Some(tokens::create_personal(&mut app.conn(), &by_bob, &org, None, &request).expect("token"));
    });
    assert_event(
        &made,
        AuditAction::TokenCreated,
        Some("bob@example.com"),
        ("token", "CI deploys"),
        "created the API token “CI deploys” (operations access)",
    );
    let token = token.expect("a token");
    assert_eq!(state(&made.after_state)["last_four"], token.secret.last_four());
    assert!(
        !made
            .after_state
            .as_deref()
            .unwrap_or("")
            .contains(token.secret.expose()),
        "the secret is never recorded"
    );
    let revoked_token = only_event_of(&app, &org, || {
        tokens::revoke(&mut app.conn(), &by_ada, &org, &token.id).expect("revoke");
    });
    assert_event(
        &revoked_token,
        AuditAction::TokenRevoked,
        Some("ada@example.com"),
        ("token", "CI deploys"),
        "revoked the API token “CI deploys” of Bob Kahn",
    );

    let account = AccountRequest {
        name: LabelName::parse("deployer").unwrap(),
        description: Default::default(),
        role: Role::DEVELOPER,
    };
    let made_account = only_event_of(&app, &org, || {
        service_accounts::create(&mut app.conn(), &by_ada, &org, &account).expect("account");
    });
    assert_event(
        &made_account,
        AuditAction::ServiceAccountCreated,
        Some("ada@example.com"),
        ("service_account", "deployer"),
        "created the service account deployer as Developer",
    );
    let key = KeyRequest {
        name: None,
        access: AccessLevel::Operations,
        lifetime: Lifetime::DEFAULT,
        limits: Default::default(),
    };
    let keyed = only_event_of(&app, &org, || {
        service_accounts::create_key(&mut app.conn(), &by_ada, &org, "deployer", &key).expect("key");
    });
    assert_eq!(keyed.action, AuditAction::ServiceAccountKeyCreated.as_str());
    assert!(
        keyed.summary().ends_with("for the service account deployer"),
        "{}",
        keyed.summary()
    );
    let disabled = only_event_of(&app, &org, || {
        service_accounts::disable(&mut app.conn(), &by_ada, &org, "deployer").expect("disable");
    });
    assert_eq!(disabled.summary(), "disabled the service account deployer");
    let deleted = only_event_of(&app, &org, || {
        service_accounts::delete(&mut app.conn(), &by_ada, &org, "deployer").expect("delete");
    });
    assert_eq!(deleted.summary(), "deleted the service account deployer");

    let eve = app.member(&org, "eve@example.com", Role::VIEWER);
    let left = only_event_of(&app, &org, || {
        members::leave(&mut app.conn(), &as_user(&eve), &org).expect("leave");
    });
    assert_event(
        &left,
        AuditAction::MemberLeft,
        Some("eve@example.com"),
        ("member", "Eve"),
        "left the organization (Viewer)",
    );

    tokens::create_personal(&mut app.conn(), &by_bob, &org, None, &request).expect("another token");
    let removed = only_event_of(&app, &org, || {
        members::remove(
            &mut app.conn(),
            &Actor::command_line(),
            &org,
            &MemberRef::Id(bob.id.clone()),
        )
        .expect("remove");
    });
    assert_event(
        &removed,
        AuditAction::MemberRemoved,
        None,
        ("member", "Bob Kahn"),
        "removed Bob Kahn (Admin); 1 API token revoked",
    );
    assert_eq!(removed.actor_kind, "command_line");
    assert_eq!(removed.credential, "command line");
    assert_eq!(removed.actor(), "The command line");

    // The snapshot keeps the names as they were: Bob renames himself later,
    // and the events about him still say "Bob Kahn".
    named_sign_in(&app, "bob@example.com", "Robert K.");
    let promoted_again = events(&app, &org)
        .into_iter()
        .find(|event| event.action == AuditAction::RoleChanged.as_str())
        .expect("the role change");
    assert_eq!(
        promoted_again.summary(),
        "changed Bob Kahn’s role from Developer to Admin"
    );
}

fn nothing_can_change_a_recorded_event() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let before = events(&app, &org);
    let changed =
        diesel::sql_query("UPDATE audit_events SET actor_name = 'someone else'").execute(&mut *app.conn());
    assert!(changed.is_err(), "the database refuses to change an event");
    let after = events(&app, &org);
    assert_eq!(
        before.iter().map(|event| &event.actor_name).collect::<Vec<_>>(),
        after.iter().map(|event| &event.actor_name).collect::<Vec<_>>()
    );
}

/// An organization with `count` role changes on top of its first events.
fn busy_org(app: &TestApp, count: usize) -> (Organization, users::User) {
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::DEVELOPER);
    for n in 0..count {
        let role = if n % 2 == 0 { Role::ADMIN } else { Role::DEVELOPER };
        members::change_role(
            &mut app.conn(),
            &as_user(&ada),
            &org,
            &MemberRef::Id(bob.id.clone()),
            role,
        )
        .expect("change");
    }
    (org, ada)
}

fn keyset_pages_walk_the_whole_log_once_even_while_it_grows() {
    let app = TestApp::new();
    let (org, ada) = busy_org(&app, 120);
    let viewer = app.viewer(&as_user(&ada), &org).expect("viewer");
    let all = events(&app, &org);
    let filter = AuditFilter::default();
    let first = audit::page(&mut app.conn(), &viewer, &filter, &AuditPlace::Newest).expect("page");
    assert_eq!(first.events.len(), 50);
    assert!(first.newer.is_none());
    // New events arrive between two clicks: the next page carries on where
    // the first ended, skipping nothing and repeating nothing.
    busy_org_more(&app, &org, &ada, 3);
    let second = audit::page(
        &mut app.conn(),
        &viewer,
        &filter,
        &AuditPlace::Older(first.older.clone().unwrap()),
    )
    .expect("page");
    let third = audit::page(
        &mut app.conn(),
        &viewer,
        &filter,
        &AuditPlace::Older(second.older.clone().unwrap()),
    )
    .expect("page");
    assert!(third.older.is_none(), "the last page has no older link");
    let walked: Vec<&str> = first
        .events
        .iter()
        .chain(&second.events)
        .chain(&third.events)
        .map(|event| event.id.as_str())
        .collect();
    let expected: Vec<&str> = all.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(walked, expected);
    // And back: "Newer" from the third page is the second page again.
    let back = audit::page(
        &mut app.conn(),
        &viewer,
        &filter,
        &AuditPlace::Newer(third.newer.clone().unwrap()),
    )
    .expect("page");
    let ids = |events: &[RecordedEvent]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&back.events), ids(&second.events));
}

fn busy_org_more(app: &TestApp, org: &Organization, ada: &users::User, count: usize) {
    let bob = app.user_by_email("bob@example.com");
    for n in 0..count {
        let role = if n % 2 == 0 { Role::VIEWER } else { Role::DEVELOPER };
        members::change_role(
            &mut app.conn(),
            &as_user(ada),
            org,
            &MemberRef::Id(bob.id.clone()),
            role,
        )
        .expect("change");
    }
}

fn filters_narrow_by_actor_action_target_and_dates() {
    let app = TestApp::new();
    let (org, ada) = busy_org(&app, 4);
    let viewer = app.viewer(&as_user(&ada), &org).expect("viewer");
    let read = |filter: AuditFilter| {
        audit::page(&mut app.conn(), &viewer, &filter, &AuditPlace::Newest)
            .expect("page")
            .events
    };
    let changes = read(AuditFilter::new("", "member.role_changed", "", None, None).unwrap());
    assert_eq!(changes.len(), 4);
    let by_ada = read(AuditFilter::new("ADA@example.com ", "", "", None, None).unwrap());
    assert!(
        by_ada
            .iter()
            .all(|event| event.actor_email.as_deref() == Some("ada@example.com"))
    );
    assert_eq!(by_ada.len(), 5, "the organization and four changes");
    let about_bob = read(AuditFilter::new("", "", "bob@example.com", None, None).unwrap());
    assert_eq!(
        about_bob.len(),
        6,
        "invited, accepted, four changes: {about_bob:#?}"
    );
    let by_command_line =
        read(AuditFilter::new("command line", "invitation.created", "", None, None).unwrap());
    assert_eq!(by_command_line.len(), 1);
    let tomorrow = chrono::Utc::now().naive_utc() + chrono::Duration::days(1);
    assert!(read(AuditFilter::new("", "", "", Some(tomorrow), None).unwrap()).is_empty());
    assert_eq!(
        read(AuditFilter::new("", "", "", None, Some(tomorrow)).unwrap()).len(),
        7
    );
    assert!(AuditFilter::new("", "member.exploded", "", None, None).is_err());
    assert!(AuditFilter::new("", "", "", Some(tomorrow), Some(tomorrow)).is_err());
}

fn a_developer_gets_403_on_the_page_and_the_download_and_no_download_is_recorded() {
    let server = TestServer::start();
    let (org, _) = server.app.org_owned_by("Acme AI", "ada@example.com");
    server.app.member(&org, "dev@example.com", Role::DEVELOPER);
    let mut dev = server.signed_in("dev@example.com");
    let members_page = dev.get("/orgs/acme-ai/members");
    assert!(
        !members_page.contains("/orgs/acme-ai/audit"),
        "no Audit log tab for a Developer"
    );
    let before = events(&server.app, &org).len();
    assert_eq!(dev.get("/orgs/acme-ai/audit").status, 403);
    assert_eq!(dev.get("/orgs/acme-ai/audit/download?format=csv").status, 403);
    assert_eq!(dev.get("/orgs/acme-ai/audit/download?format=jsonl").status, 403);
    assert_eq!(events(&server.app, &org).len(), before, "nothing recorded");

    let mut outsider = server.signed_in("mallory@example.com");
    assert_eq!(outsider.get("/orgs/acme-ai/audit/download").status, 403);
    assert_eq!(events(&server.app, &org).len(), before, "nothing recorded");

    let mut ada = server.signed_in("ada@example.com");
    let page = ada.get("/orgs/acme-ai/members");
    page.assert_contains("href=\"/orgs/acme-ai/audit\"");
    let log = ada.get("/orgs/acme-ai/audit");
    assert_eq!(log.status, 200);
    log.assert_contains("created the organization Acme AI");
    log.assert_contains("via console session");
}

fn the_csv_neutralises_formulas_and_the_page_escapes_markup() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let formula = "=HYPERLINK(\"http://x\",\"y\")";
    let markup = "<script>alert(1)</script>";
    for (email, name) in [("eve@example.com", formula), ("mal@example.com", markup)] {
        let issued = app.invite(&org, email, Role::VIEWER);
        let user = named_sign_in(app, email, name);
        invitations::accept(&mut app.conn(), &as_user(&user), &token_of(&issued)).expect("accept");
        let role = Role::DEVELOPER;
        members::change_role(
            &mut app.conn(),
            &as_user(&ada),
            &org,
            &MemberRef::Id(user.id),
            role,
        )
        .expect("change");
    }
    let mut browser = server.signed_in("ada@example.com");
    let page = browser.get("/orgs/acme-ai/audit");
    assert_eq!(page.status, 200);
    assert!(!page.contains(markup), "markup is never written as markup");
    page.assert_contains("alert(1)");

    let download = browser.get("/orgs/acme-ai/audit/download?format=csv");
    assert_eq!(download.status, 200, "{}", download.body);
    assert!(
        download
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/csv")
    );
    assert!(
        download
            .header("content-disposition")
            .unwrap_or("")
            .contains("attachment")
    );
    let mut reader = csv::Reader::from_reader(download.body.as_bytes());
    let header = reader.headers().expect("a header").clone();
    let name_column = header
        .iter()
        .position(|h| h == "target_name")
        .expect("target_name");
    let rows: Vec<csv::StringRecord> = reader.records().map(|row| row.expect("a row")).collect();
    assert!(rows.len() >= 7, "{rows:?}");
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell a spreadsheet would run: {cell:?}"
            );
        }
    }
    assert!(
        rows.iter().any(|row| row[name_column] == format!("'{formula}")),
        "the name is kept, as text"
    );

    let lines = browser.get("/orgs/acme-ai/audit/download?format=jsonl&action=member.role_changed");
    assert_eq!(lines.status, 200);
    let parsed: Vec<Value> = lines
        .body
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect();
    assert_eq!(parsed.len(), 2);
    assert!(parsed.iter().any(|event| event["target"]["name"] == formula));

    let downloads = events(app, &org)
        .into_iter()
        .filter(|event| event.action == AuditAction::AuditDownloaded.as_str())
        .collect::<Vec<_>>();
    assert_eq!(downloads.len(), 2, "each download is recorded once");
    assert_eq!(state(&downloads[0].after_state)["format"], "jsonl");
    assert_eq!(
        state(&downloads[0].after_state)["filter"]["action"],
        "member.role_changed"
    );
    assert_eq!(
        downloads[0].summary(),
        "downloaded filtered audit events as JSON Lines"
    );
}

fn the_tab_filters_and_pages_with_plain_links_and_with_htmx() {
    let server = TestServer::start();
    let (org, _) = busy_org(&server.app, 60);
    let mut ada = server.signed_in("ada@example.com");
    let first = ada.get("/orgs/acme-ai/audit");
    assert_eq!(first.status, 200);
    let older = link_after(&first.body, "/orgs/acme-ai/audit?older=");
    let second = ada.get(&older);
    assert_eq!(second.status, 200);
    second.assert_contains("Newer");
    assert_eq!(
        second.body.matches("<tr>").count() - 1,
        events(&server.app, &org).len() - 50
    );

    let filtered =
        ada.get("/orgs/acme-ai/audit?action=invitation.created&actor=command+line&from=2020-01-01");
    assert_eq!(filtered.status, 200);
    filtered.assert_contains("invited bob@example.com as Developer");
    assert!(!filtered.contains("changed Bob"));
    filtered.assert_contains("/orgs/acme-ai/audit/download?actor=command+line&#38;action=invitation.created");

    let fragment = ada.hx_get("/orgs/acme-ai/audit?action=member.role_changed", "audit-events");
    assert_eq!(fragment.status, 200);
    assert!(!fragment.contains("<html"), "htmx gets the events alone");
    fragment.assert_contains("changed Bob");

    for bad in [
        "/orgs/acme-ai/audit?from=yesterday",
        "/orgs/acme-ai/audit?action=%3Cb%3E",
        "/orgs/acme-ai/audit?older=not-a-cursor",
        "/orgs/acme-ai/audit?older=x&newer=y",
        "/orgs/acme-ai/audit/download?format=xlsx",
        "/orgs/acme-ai/audit?from=2026-12-02&to=2026-12-01",
        "/orgs/acme-ai/audit?actor=%00",
        "/orgs/acme-ai/audit?target=a%0Ab",
        "/orgs/acme-ai/audit?from=1969-12-31",
        "/orgs/acme-ai/audit?from=%2B10000-01-01",
        "/orgs/acme-ai/audit?action=session.signed_in",
        "/orgs/acme-ai/audit/download?format=csv&actor=%00",
        "/orgs/acme-ai/audit/download?format=jsonl&from=0001-01-01",
        "/orgs/acme-ai/audit/download?format=csv&format=csv",
        "/orgs/acme-ai/audit/download?format=csv&older=x",
    ] {
        let page = ada.get(bad);
        assert_eq!(page.status, 422, "{bad}: {}", page.body);
        assert!(!page.contains("<b>"), "{bad}");
    }
}

fn filters_out_of_bounds_are_refused_and_recorded_nowhere() {
    let server = TestServer::start();
    let (org, _) = busy_org(&server.app, 2);
    let mut ada = server.signed_in("ada@example.com");
    let long = "a".repeat(300);
    assert_eq!(ada.get(&format!("/orgs/acme-ai/audit?actor={long}")).status, 422);
    // "To" the last day there is means no end.
    let open_ended = ada.get("/orgs/acme-ai/audit?to=9999-12-31");
    assert_eq!(open_ended.status, 200);
    open_ended.assert_contains("changed Bob");
    let before = events(&server.app, &org).len();
    // A download another site started is refused, and not recorded.
    let forged = ada.get_with(
        "/orgs/acme-ai/audit/download?format=csv",
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(forged.status, 422);
    let ours = ada.get_with(
        "/orgs/acme-ai/audit/download?format=csv",
        &[("Sec-Fetch-Site", "same-origin")],
    );
    assert_eq!(ours.status, 200);
    assert_eq!(
        events(&server.app, &org).len(),
        before + 1,
        "the download from the tab is recorded, the forged one is not"
    );
    // A service account cannot pass for a person or for the command line.
    for name in ["ADA@example.com", "Command Line"] {
        let account = AccountRequest {
            name: LabelName::parse(name).unwrap(),
            description: Default::default(),
            role: Role::VIEWER,
        };
        assert!(
            service_accounts::create(&mut server.app.conn(), &Actor::command_line(), &org, &account).is_err()
        );
    }
}

/// The first link in `body` that starts with `prefix`, unescaped.
fn link_after(body: &str, prefix: &str) -> String {
    let start = body
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {body}"));
    let end = body[start..].find('"').expect("the link's end") + start;
    body[start..end].replace("&#38;", "&")
}

fn sign_ins_and_refused_sign_ins_are_recorded_with_the_address_they_came_from() {
    let providers = crate::fakes::FakeProviders::start();
    let flags = providers.flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&flags);
    let mut ada = server.signed_in("ada@example.com");
    // A callback nobody started (a forged or replayed link) is refused.
    let refused = server.browser().get("/auth/github/callback?state=forged&code=x");
    assert_eq!(refused.status, 400, "{}", refused.body);
    let sign_ins = |filter: AuditFilter| {
        let mut found = Vec::new();
        audit::walk_instance(&mut server.app.conn(), &filter, |event| {
            found.push(event.clone());
            Ok(true)
        })
        .expect("the sign-ins");
        found
    };
    let signed = sign_ins(AuditFilter::new("ada@example.com", "session.signed_in", "", None, None).unwrap());
    assert_eq!(signed.len(), 1, "{signed:#?}");
    assert_eq!(signed[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(signed[0].summary(), "signed in with the development sign-in");
    assert_eq!(signed[0].credential, "sign-in with the development sign-in");
    let refusals = sign_ins(AuditFilter::new("", "session.sign_in_refused", "", None, None).unwrap());
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert_eq!(refusals[0].client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(refusals[0].actor(), "Someone");
    assert!(
        refusals[0]
            .summary()
            .starts_with("could not sign in with GitHub: This sign-in has expired"),
        "{}",
        refusals[0].summary()
    );

    let csrf = ada.get("/profile").csrf().expect("a form");
    assert_eq!(
        ada.post("/profile/sessions/end", &[("csrf_token", &csrf)]).status,
        303
    );
    let ended = sign_ins(AuditFilter::new("ada@example.com", "session.all_ended", "", None, None).unwrap());
    assert_eq!(ended.len(), 1, "{ended:#?}");
    assert_eq!(ended[0].summary(), "signed out of every session");
}

fn retention_deletes_old_events_and_keeps_the_rest() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let kept = events(&app, &org).len();
    diesel::sql_query(
        "INSERT INTO audit_events (id, org_id, actor_label, action, target, created_at, actor_kind, actor_name, \
         credential, target_kind, target_name) \
         SELECT id || '-old', org_id, actor_label, action, target, created_at - INTERVAL_500_DAYS, actor_kind, \
         actor_name, credential, target_kind, target_name FROM audit_events"
            .replace("created_at - INTERVAL_500_DAYS", &old_time(&app))
            .as_str(),
    )
    .execute(&mut *app.conn())
    .expect("old events");
    assert!(events(&app, &org).len() > kept);
    let server = TestServer::start_on(app, &["--audit-retention", "400d"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while events(&server.app, &org).len() > kept && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        events(&server.app, &org).len(),
        kept,
        "old events are gone, new ones stay"
    );
}

/// A timestamp 500 days ago, written the way each backend compares it.
fn old_time(app: &TestApp) -> String {
    let at = chrono::Utc::now().naive_utc() - chrono::Duration::days(500);
    let text = at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
    if app.database_url().starts_with("postgres") {
        format!("TIMESTAMP '{text}'")
    } else {
        format!("'{text}'")
    }
}

fn the_command_line_lists_the_log_under_the_same_policy() {
    let app = TestApp::new();
    busy_org(&app, 2);
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args(args)
            .env("DATABASE_URL", app.database_url())
            .env("RUST_LOG", "warn")
            .output()
            .expect("run rollcall")
    };
    let listed = run(&[
        "audit",
        "list",
        "--org",
        "acme-ai",
        "--action",
        "member.role_changed",
    ]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines().all(|line| line.contains("changed Bob’s role")),
        "{text}"
    );

    let json = run(&[
        "audit", "list", "--org", "acme-ai", "--json", "--limit", "3", "--since", "1h",
    ]);
    let lines: Vec<Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["action"], "member.role_changed");
    assert_eq!(lines[0]["actor"]["email"], "ada@example.com");

    let sign_ins = run(&["audit", "list", "--instance", "--actor", "bob@example.com"]);
    assert!(String::from_utf8_lossy(&sign_ins.stdout).contains("signed in with the development sign-in"));
    assert!(
        run(&["introspection-client", "create", "gateway"])
            .status
            .success()
    );
    assert!(
        run(&["introspection-client", "revoke", "gateway"])
            .status
            .success()
    );
    let clients = run(&["audit", "list", "--instance", "--actor", "command line", "--json"]);
    let clients: Vec<Value> = String::from_utf8_lossy(&clients.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let actions: Vec<&str> = clients
        .iter()
        .filter_map(|event| event["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["introspection_client.revoked", "introspection_client.created"]
    );
    assert_eq!(clients[1]["after"]["prefix"], "rci_");

    for bad in [
        &["audit", "list", "--org", "acme-ai", "--action", "nope"][..],
        &["audit", "list", "--org", "acme-ai", "--since", "last tuesday"],
        &["audit", "list", "--org", "nowhere"],
    ] {
        let refused = run(bad);
        assert!(!refused.status.success(), "{bad:?}");
        assert_eq!(
            String::from_utf8_lossy(&refused.stderr).lines().count(),
            1,
            "{bad:?}"
        );
    }
}

/// What a reader that honours every Unicode line break splits a download into.
fn unicode_lines(text: &str) -> Vec<&str> {
    text.split(['\n', '\r', '\u{B}', '\u{C}', '\u{85}', '\u{2028}', '\u{2029}'])
        .filter(|line| !line.is_empty())
        .collect()
}

fn downloads_escape_line_breaks_and_hidden_characters_kept_from_older_rows() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::VIEWER);
    // A name kept from before names had to be one line in every sense.
    let old_name = "Bob\u{2028}\u{2029}\u{85}Tables\u{202E}\u{200B}";
    {
        use rollcall::db::schema::{memberships, users};
        diesel::update(users::table.find(&bob.id))
            .set(users::name.eq(old_name))
            .execute(&mut *app.conn())
            .unwrap();
        diesel::update(memberships::table.find((&org.id, &bob.id)))
            .set(memberships::name.eq(old_name))
            .execute(&mut *app.conn())
            .unwrap();
    }
    members::change_role(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        &MemberRef::Id(bob.id.clone()),
        Role::DEVELOPER,
    )
    .expect("change");
    let hidden = ['\u{85}', '\u{2028}', '\u{2029}', '\u{202E}', '\u{200B}'];
    let mut browser = server.signed_in("ada@example.com");
    let lines = browser.get("/orgs/acme-ai/audit/download?format=jsonl&action=member.role_changed");
    assert_eq!(lines.status, 200, "{}", lines.body);
    let split = unicode_lines(&lines.body);
    assert_eq!(split.len(), 1, "one event, one line: {:?}", lines.body);
    let event: Value = serde_json::from_str(split[0]).expect("JSON");
    assert_eq!(event["target"]["name"], old_name, "kept, escaped");
    assert!(!lines.body.contains(hidden), "{:?}", lines.body);

    let csv = browser.get("/orgs/acme-ai/audit/download?format=csv&action=member.role_changed");
    assert_eq!(csv.status, 200);
    assert!(!csv.body.contains(hidden), "{:?}", csv.body);
    csv.assert_contains("Bob\\u{2028}\\u{2029}\\u{85}Tables\\u{202e}\\u{200b}");
    assert_eq!(
        unicode_lines(&csv.body).len(),
        2,
        "a header and one row: {:?}",
        csv.body
    );

    for args in [&["--json"][..], &[]] {
        let listed = Command::new(env!("CARGO_BIN_EXE_rollcall"))
            .args([
                "audit",
                "list",
                "--org",
                "acme-ai",
                "--action",
                "member.role_changed",
            ])
            .args(args)
            .env("DATABASE_URL", app.database_url())
            .env("RUST_LOG", "warn")
            .output()
            .expect("run rollcall");
        let text = String::from_utf8_lossy(&listed.stdout).into_owned();
        assert!(
            listed.status.success(),
            "{}",
            String::from_utf8_lossy(&listed.stderr)
        );
        assert_eq!(unicode_lines(&text).len(), 1, "{args:?}: {text:?}");
        assert!(!text.contains(hidden), "{args:?}: {text:?}");
    }
}

crate::tests![
    each_action_leaves_exactly_one_event_with_its_actor_target_before_and_after,
    nothing_can_change_a_recorded_event,
    keyset_pages_walk_the_whole_log_once_even_while_it_grows,
    filters_narrow_by_actor_action_target_and_dates,
    a_developer_gets_403_on_the_page_and_the_download_and_no_download_is_recorded,
    the_csv_neutralises_formulas_and_the_page_escapes_markup,
    the_tab_filters_and_pages_with_plain_links_and_with_htmx,
    filters_out_of_bounds_are_refused_and_recorded_nowhere,
    sign_ins_and_refused_sign_ins_are_recorded_with_the_address_they_came_from,
    retention_deletes_old_events_and_keeps_the_rest,
    the_command_line_lists_the_log_under_the_same_policy,
    downloads_escape_line_breaks_and_hidden_characters_kept_from_older_rows,
];
