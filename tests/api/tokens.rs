//! API tokens, service accounts and the token check, through the services and
//! over HTTP on one or two servers: every rule, and what must not happen.

use std::time::{Duration, Instant};

use rollcall::domain::{AccessLevel, EmailAddress, LabelName, Lifetime, Role};
use rollcall::error::Error;
use rollcall::services::members::{self, MemberRef};
use rollcall::services::service_accounts::{self, AccountRequest, KeyRequest};
use rollcall::services::tokens::{self, TokenRequest};
use rollcall::services::{Actor, introspection};
use serde_json::Value;

use crate::helpers::{TestApp, as_user, rollcall};
use crate::http::TestServer;

pub fn request(access: AccessLevel) -> TokenRequest {
    TokenRequest {
        name: LabelName::parse("CI deploys").unwrap(),
        access,
        lifetime: Lifetime::DEFAULT,
        scope: Default::default(),
        limits: Default::default(),
    }
}

fn key(access: AccessLevel) -> KeyRequest {
    KeyRequest {
        name: None,
        access,
        lifetime: Lifetime::DEFAULT,
        limits: Default::default(),
    }
}

fn account(name: &str, role: Role) -> AccountRequest {
    AccountRequest {
        name: LabelName::parse(name).unwrap(),
        description: Default::default(),
        role,
    }
}

/// The gateway: asks the server at `base` about `token` with `client`'s secret.
fn introspect(base: &str, client: &str, token: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{base}/api/v1/tokens/introspect"))
        .header("Authorization", &format!("Bearer {client}"))
        .send_form([("token", token)])
        .expect("an answer");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

pub fn gateway(app: &TestApp) -> String {
    introspection::create_client(&mut app.conn(), &LabelName::parse("gateway").unwrap())
        .expect("a client")
        .expose()
        .to_owned()
}

/// Waits (a little over the promised second at most) until `check` holds.
pub fn within_a_second(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

fn a_viewer_cannot_create_an_operations_token_and_nothing_is_created() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let vera = app.member(&org, "vera@example.com", Role::VIEWER);
    let before = app.count("api_tokens");
    let refused = tokens::create_personal(
        &mut app.conn(),
        &as_user(&vera),
        &org,
        None,
        &request(AccessLevel::Operations),
    );
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    assert_eq!(app.count("api_tokens"), before);
    let made = tokens::create_personal(
        &mut app.conn(),
        &as_user(&vera),
        &org,
        None,
        &request(AccessLevel::Inference),
    );
    assert!(made.is_ok(), "{made:?}");
}

fn service_accounts_are_never_owners_nor_above_their_creator() {
    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let alan = app.member(&org, "alan@example.com", Role::ADMIN);
    let dev = app.member(&org, "dev@example.com", Role::DEVELOPER);
    let before = app.snapshot();
    for (who, role) in [(&ada, Role::OWNER), (&alan, Role::OWNER), (&dev, Role::VIEWER)] {
        let refused = service_accounts::create(&mut app.conn(), &as_user(who), &org, &account("ci", role));
        assert!(
            matches!(refused, Err(Error::Forbidden(_))),
            "{role:?}: {refused:?}"
        );
    }
    assert_eq!(app.snapshot(), before, "nothing created");
    assert_eq!(app.count("service_accounts"), 0);
    let made = service_accounts::create(
        &mut app.conn(),
        &as_user(&alan),
        &org,
        &account("ci", Role::ADMIN),
    );
    assert!(made.is_ok(), "{made:?}");
    // A service account is not a member: the last-owner rule still counts people.
    let refused = members::leave(&mut app.conn(), &as_user(&ada), &org);
    assert!(matches!(refused, Err(Error::LastOwner { .. })), "{refused:?}");
}

fn the_token_check_answers_for_live_tokens_only() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let carl = app.member(&org, "carl@example.com", Role::CONTRIBUTOR);
    let client = gateway(app);
    let issued = tokens::create_personal(
        &mut app.conn(),
        &as_user(&carl),
        &org,
        None,
        &request(AccessLevel::Operations),
    )
    .expect("a token");
    let secret = issued.secret.expose().to_owned();

    let (status, answer) = introspect(&server.base, &client, &secret);
    assert_eq!(status, 200);
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["org"], "acme-ai");
    assert_eq!(answer["sub"], carl.id.as_str());
    assert_eq!(answer["kind"], "personal");
    assert_eq!(answer["role"], "contributor");
    assert_eq!(answer["scope"], "operations inference");
    assert!(answer["exp"].as_i64().is_some());

    // One changed character: refused by the checksum.
    let mut changed = secret.clone().into_bytes();
    let last = changed.len() - 1;
    changed[last] = if changed[last] == b'a' { b'b' } else { b'a' };
    let changed = String::from_utf8(changed).unwrap();
    assert_eq!(
        introspect(&server.base, &client, &changed).1,
        serde_json::json!({ "active": false })
    );
    for junk in ["", "nope", &format!("{secret}x"), &secret.replace("rcp_", "rcs_")] {
        assert_eq!(
            introspect(&server.base, &client, junk).1,
            serde_json::json!({ "active": false })
        );
    }

    // Without a client, or with a token instead of a client's secret: 401.
    assert_eq!(introspect(&server.base, "wrong", &secret).0, 401);
    assert_eq!(introspect(&server.base, &secret, &secret).0, 401);

    // A JSON body is refused, not read as an empty form (which would say a
    // live token is not active).
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut refused = agent
        .post(format!("{}/api/v1/tokens/introspect", server.base))
        .header("Authorization", &format!("Bearer {client}"))
        .content_type("application/json")
        .send(serde_json::json!({ "token": secret }).to_string())
        .expect("an answer");
    assert_eq!(refused.status().as_u16(), 400);
    let refusal: Value = serde_json::from_str(&refused.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(refusal["error"], "invalid_request", "{refusal}");
    assert_eq!(introspect(&server.base, &client, &secret).1["active"], true);

    // Carl's role drops to Viewer: an operations token stops at once.
    members::change_role(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(carl.id.clone()),
        Role::VIEWER,
    )
    .expect("demote");
    assert!(within_a_second(
        || introspect(&server.base, &client, &secret).1["active"] == false
    ));
}

fn a_revocation_holds_on_a_second_server_within_a_second() {
    let server = TestServer::start();
    let second = server.another_server();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let client = gateway(app);
    let issued = tokens::create_personal(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        None,
        &request(AccessLevel::Inference),
    )
    .expect("a token");
    let secret = issued.secret.expose().to_owned();
    for base in [&server.base, &second] {
        assert_eq!(introspect(base, &client, &secret).1["active"], true);
    }
    tokens::revoke(&mut app.conn(), &as_user(&ada), &org, &issued.id).expect("revoke");
    for base in [&server.base, &second] {
        assert!(
            within_a_second(|| introspect(base, &client, &secret).1["active"] == false),
            "{base}"
        );
    }
    // Revoking again says so; the client itself can be revoked too.
    assert!(matches!(
        tokens::revoke(&mut app.conn(), &as_user(&ada), &org, &issued.id),
        Err(Error::Conflict(_))
    ));
    introspection::revoke_client(&mut app.conn(), "gateway").expect("revoke the client");
    assert!(within_a_second(|| introspect(&second, &client, &secret).0 == 401));
}

/// A call to this server's JSON API with `token`; the status it answered.
fn api_call(base: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json");
    let answer = match body {
        Some(body) => agent.run(request.body(body.to_string()).expect("a request")),
        None => agent.run(request.body(()).expect("a request")),
    };
    answer.expect("an answer").status().as_u16()
}

fn a_change_on_this_server_holds_on_its_own_token_check_at_once() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let mut console = server.signed_in("ada@example.com");
    let client = gateway(app);
    let mint = |user: &rollcall::services::users::User| {
        let issued = tokens::create_personal(
            &mut app.conn(),
            &as_user(user),
            &org,
            None,
            &request(AccessLevel::Operations),
        )
        .expect("a token");
        (issued.id.clone(), issued.secret.expose().to_owned())
    };
    let (_, owner_token) = mint(&ada);
    for round in 0..12 {
        let bob = app.member(&org, &format!("bob{round}@example.com"), Role::DEVELOPER);
        let (bob_token_id, bob_token) = mint(&bob);
        // Checked once, so that this server keeps the answer.
        assert_eq!(introspect(&server.base, &client, &bob_token).1["active"], true);
        let (what, status) = match round % 3 {
            0 => (
                "removal",
                api_call(
                    &server.base,
                    "DELETE",
                    &format!("/api/v1/orgs/acme-ai/members/{}", bob.id),
                    &owner_token,
                    None,
                ),
            ),
            1 => (
                "role change",
                api_call(
                    &server.base,
                    "PATCH",
                    &format!("/api/v1/orgs/acme-ai/members/{}", bob.id),
                    &owner_token,
                    Some(serde_json::json!({ "role": "viewer" })),
                ),
            ),
            _ => {
                let (ada_token_id, ada_token) = mint(&ada);
                assert_eq!(introspect(&server.base, &client, &ada_token).1["active"], true);
                let revoked = console.post(&format!("/orgs/acme-ai/tokens/{ada_token_id}/revoke"), &[]);
                assert_eq!(revoked.status, 303, "{}", revoked.body);
                assert_eq!(
                    introspect(&server.base, &client, &ada_token).1,
                    serde_json::json!({ "active": false }),
                    "round {round}: the revoked token"
                );
                let revoked = console.post(&format!("/orgs/acme-ai/tokens/{bob_token_id}/revoke"), &[]);
                ("revocation", revoked.status)
            }
        };
        assert!(matches!(status, 200 | 204 | 303), "{what}: {status}");
        assert_eq!(
            introspect(&server.base, &client, &bob_token).1,
            serde_json::json!({ "active": false }),
            "round {round}: the {what} was not seen by this server's token check at once"
        );
    }
}

fn a_removed_member_loses_their_tokens_in_the_same_transaction() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let bob = app.member(&org, "bob@example.com", Role::DEVELOPER);
    let client = gateway(app);
    let issued = tokens::create_personal(
        &mut app.conn(),
        &as_user(&bob),
        &org,
        None,
        &request(AccessLevel::Operations),
    )
    .expect("a token");
    let secret = issued.secret.expose().to_owned();
    assert_eq!(introspect(&server.base, &client, &secret).1["active"], true);
    members::remove(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(bob.id.clone()),
    )
    .expect("remove");
    assert_eq!(
        app.count("api_tokens WHERE revoked_at IS NULL"),
        0,
        "revoked with the removal"
    );
    let events = app.audit_events(&org);
    assert_eq!(events[0].action, "member.removed");
    assert_eq!(events[0].after_state.as_deref(), Some(r#"{"tokens_revoked":1}"#));
    assert!(within_a_second(
        || introspect(&server.base, &client, &secret).1["active"] == false
    ));
}

fn service_account_keys_stop_when_the_account_is_disabled_or_deleted() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let client = gateway(app);
    service_accounts::create(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        &account("ci", Role::VIEWER),
    )
    .expect("an account");
    let refused = service_accounts::create_key(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        "ci",
        &key(AccessLevel::Operations),
    );
    assert!(
        matches!(refused, Err(Error::Invalid(_))),
        "a viewer account's key with operations: {refused:?}"
    );
    let key = service_accounts::create_key(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        "ci",
        &key(AccessLevel::Inference),
    )
    .expect("a key");
    let secret = key.secret.expose().to_owned();
    assert!(secret.starts_with("rcs_"));
    let (_, answer) = introspect(&server.base, &client, &secret);
    assert_eq!(answer["kind"], "service_account");
    assert_eq!(answer["role"], "viewer");
    service_accounts::disable(&mut app.conn(), &as_user(&ada), &org, "ci").expect("disable");
    assert!(within_a_second(
        || introspect(&server.base, &client, &secret).1["active"] == false
    ));
    service_accounts::delete(&mut app.conn(), &as_user(&ada), &org, "ci").expect("delete");
    assert_eq!(app.count("api_tokens"), 0);
}

fn last_use_is_written_at_most_once_a_minute_and_secrets_are_stored_nowhere() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let client = gateway(app);
    let issued = tokens::create_personal(
        &mut app.conn(),
        &as_user(&ada),
        &org,
        None,
        &request(AccessLevel::Inference),
    )
    .expect("a token");
    let secret = issued.secret.expose().to_owned();
    let viewer = app.viewer(&as_user(&ada), &org).expect("a viewer");
    for _ in 0..20 {
        assert_eq!(introspect(&server.base, &client, &secret).1["active"], true);
    }
    assert!(within_a_second(|| {
        tokens::list(&mut app.conn(), &viewer, &as_user(&ada)).expect("tokens")[0]
            .last_used_at
            .is_some()
    }));
    let first_use = tokens::list(&mut app.conn(), &viewer, &as_user(&ada)).expect("tokens")[0].last_used_at;
    std::thread::sleep(Duration::from_millis(300));
    introspect(&server.base, &client, &secret);
    std::thread::sleep(Duration::from_millis(300));
    let later = tokens::list(&mut app.conn(), &viewer, &as_user(&ada)).expect("tokens")[0].last_used_at;
    assert_eq!(later, first_use, "written again within a minute");

    // The secret is in no table: neither the token's row nor the audit trail.
    for table in ["api_tokens", "audit_events"] {
        let holding = app.count(&format!(
            "{table} WHERE {} LIKE '%{}%'",
            if table == "api_tokens" {
                "token_hash || name || last_four"
            } else {
                "COALESCE(after_state, '') || COALESCE(before_state, '')"
            },
            &secret[4..]
        ));
        assert_eq!(holding, 0, "the secret is in {table}");
    }
    let email = EmailAddress::parse("ada@example.com").unwrap();
    let from_cli = tokens::create_personal(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        Some(&email),
        &request(AccessLevel::Operations),
    );
    assert!(from_cli.is_ok(), "{from_cli:?}");
}

fn the_command_line_makes_lists_and_revokes_tokens_under_the_same_rules() {
    let app = TestApp::new();
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    app.member(&org, "vera@example.com", Role::VIEWER);
    let out = |output: &std::process::Output| String::from_utf8_lossy(&output.stdout).into_owned();
    let err = |output: &std::process::Output| String::from_utf8_lossy(&output.stderr).into_owned();

    let refused = rollcall(
        &app,
        &[
            "token",
            "create",
            "--org",
            &org.slug,
            "--user",
            "vera@example.com",
            "--access",
            "operations",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        err(&refused).contains(
            "Only owners, admins, developers and contributors can create API tokens with operations access."
        ),
        "{}",
        err(&refused)
    );
    let made = rollcall(
        &app,
        &[
            "token",
            "create",
            "--org",
            &org.slug,
            "--user",
            "vera@example.com",
            "--access",
            "inference",
            "--expires",
            "7d",
            "--name",
            "notebook",
        ],
    );
    assert!(made.status.success(), "{}", err(&made));
    let secret = out(&made).lines().last().unwrap_or_default().to_owned();
    assert!(rollcall_secret(&secret), "{}", out(&made));
    let too_long = rollcall(
        &app,
        &[
            "token",
            "create",
            "--org",
            &org.slug,
            "--user",
            "vera@example.com",
            "--access",
            "inference",
            "--expires",
            "367d",
        ],
    );
    assert!(!too_long.status.success());

    let listed = rollcall(&app, &["token", "list", "--org", &org.slug, "--json"]);
    let tokens: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(tokens.as_array().map(Vec::len), Some(1));
    let token = &tokens[0];
    assert_eq!(token["name"], "notebook");
    assert_eq!(token["kind"], "personal");
    assert_eq!(token["access"], "inference");
    assert_eq!(token["prefix"], "rcp_");
    assert!(
        token["holder"]
            .as_str()
            .is_some_and(|h| h.contains("vera@example.com"))
    );
    assert!(!out(&listed).contains(&secret[4..]), "the secret is listed");
    let id = token["id"].as_str().expect("an id").to_owned();

    let account = rollcall(
        &app,
        &[
            "service-account",
            "create",
            "--org",
            &org.slug,
            "--name",
            "ci",
            "--role",
            "developer",
        ],
    );
    assert!(account.status.success(), "{}", err(&account));
    let owner_account = rollcall(
        &app,
        &[
            "service-account",
            "create",
            "--org",
            &org.slug,
            "--name",
            "boss",
            "--role",
            "owner",
        ],
    );
    assert!(!owner_account.status.success());
    let key = rollcall(
        &app,
        &[
            "service-account",
            "key-create",
            "--org",
            &org.slug,
            "ci",
            "--access",
            "operations",
        ],
    );
    assert!(key.status.success(), "{}", err(&key));
    assert!(
        out(&key)
            .lines()
            .last()
            .is_some_and(|line| line.starts_with("rcs_"))
    );
    let accounts = rollcall(&app, &["service-account", "list", "--org", &org.slug, "--json"]);
    let accounts: Value = serde_json::from_slice(&accounts.stdout).expect("JSON");
    assert_eq!(accounts[0]["active_keys"], 1);

    let revoked = rollcall(&app, &["token", "revoke", "--org", &org.slug, &id]);
    assert!(revoked.status.success(), "{}", err(&revoked));
    let again = rollcall(&app, &["token", "revoke", "--org", &org.slug, &id]);
    assert!(err(&again).contains("already revoked"), "{}", err(&again));
    let disabled = rollcall(&app, &["service-account", "disable", "--org", &org.slug, "ci"]);
    assert!(disabled.status.success(), "{}", err(&disabled));
    let deleted = rollcall(&app, &["service-account", "delete", "--org", &org.slug, "ci"]);
    assert!(deleted.status.success(), "{}", err(&deleted));
    assert_eq!(app.count("service_accounts"), 0);

    let client = rollcall(&app, &["introspection-client", "create", "gateway"]);
    assert!(
        out(&client)
            .lines()
            .last()
            .is_some_and(|line| line.starts_with("rci_"))
    );
    assert!(
        rollcall(&app, &["introspection-client", "revoke", "gateway"])
            .status
            .success()
    );
    assert!(out(&rollcall(&app, &["introspection-client", "list"])).contains("revoked"));
}

fn rollcall_secret(text: &str) -> bool {
    rollcall::domain::ApiSecret::parse(text).is_ok()
}

fn the_tabs_refuse_what_the_policy_refuses_and_change_nothing() {
    let server = TestServer::start();
    let app = &server.app;
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = app.org("acme-ai");
    app.member(&org, "vera@example.com", Role::VIEWER);
    app.member(&org, "dev@example.com", Role::DEVELOPER);

    let mut vera = server.signed_in("vera@example.com");
    let tab = vera.get("/orgs/acme-ai/tokens");
    assert_eq!(tab.status, 200);
    assert!(
        !tab.contains("value=\"operations\""),
        "operations offered to a Viewer"
    );
    assert!(
        !tab.contains("/service-accounts\""),
        "the service accounts tab shown to a Viewer"
    );
    let before = app.snapshot();
    let tokens_before = app.count("api_tokens");
    let refused = vera.post(
        "/orgs/acme-ai/tokens",
        &[("name", "x"), ("access", "operations"), ("days", "30")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(app.count("api_tokens"), tokens_before, "nothing created");
    assert_eq!(app.snapshot(), before);
    let made = vera.post(
        "/orgs/acme-ai/tokens",
        &[("name", "notebook"), ("access", "inference"), ("days", "30")],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    made.assert_contains("id=\"new-secret\"");
    assert_eq!(made.header("cache-control"), Some("no-store"));
    let secret_start = made.body.find("value=\"rcp_").expect("the secret") + "value=\"".len();
    let secret = &made.body[secret_start..secret_start + 42];
    let later = vera.get("/orgs/acme-ai/tokens");
    assert!(!later.contains(&secret[4..]), "the secret shown again");
    for bad in [("days", "0"), ("days", "367"), ("access", "admin"), ("name", "")] {
        let mut fields = vec![("name", "n"), ("access", "inference"), ("days", "30")];
        fields.retain(|(key, _)| *key != bad.0);
        fields.push(bad);
        let page = vera.post("/orgs/acme-ai/tokens", &fields);
        assert_eq!(page.status, 422, "{bad:?}: {}", page.body);
    }

    let mut dev = server.signed_in("dev@example.com");
    assert_eq!(dev.get("/orgs/acme-ai/service-accounts").status, 403);
    let accounts_before = app.count("service_accounts");
    let refused = dev.post(
        "/orgs/acme-ai/service-accounts",
        &[("name", "ci"), ("role", "viewer"), ("description", "")],
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(app.count("service_accounts"), accounts_before);

    // Vera's token is hers: Dev cannot see or revoke it; Ada (owner) can.
    let vera_token = app.count("api_tokens");
    assert_eq!(vera_token, 1);
    let id: String = {
        use diesel::prelude::*;
        rollcall::db::schema::api_tokens::table
            .select(rollcall::db::schema::api_tokens::id)
            .first(&mut *app.conn())
            .expect("the token")
    };
    assert!(!dev.get("/orgs/acme-ai/tokens").contains(&id));
    dev.get("/orgs/acme-ai/tokens");
    assert_eq!(
        dev.post(&format!("/orgs/acme-ai/tokens/{id}/revoke"), &[]).status,
        403
    );
    ada.get("/orgs/acme-ai/tokens").assert_contains("notebook");
    let revoked = ada.post(&format!("/orgs/acme-ai/tokens/{id}/revoke"), &[]);
    assert_eq!(revoked.status, 303);
    assert_eq!(app.count("api_tokens WHERE revoked_at IS NOT NULL"), 1);
}

/// The secret on a page: `rcp_…` or `rcs_…` as the read-only field holds it.
fn secret_on(page: &crate::http::Page) -> Option<String> {
    let start = page.body.find("id=\"new-secret\"")?;
    let value = page.body[start..].find("value=\"")? + start + "value=\"".len();
    let end = page.body[value..].find('"')? + value;
    Some(page.body[value..end].to_owned())
}

fn a_reloaded_token_form_makes_one_token_and_never_shows_its_secret_again() {
    let server = TestServer::start();
    let app = &server.app;
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let tab = ada.get("/orgs/acme-ai/tokens");
    let once = tab.field("once").expect("the form carries a one-time value");
    let fields = [
        ("name", "CI deploys"),
        ("access", "operations"),
        ("days", "30"),
        ("once", once.as_str()),
    ];
    let first = ada.post("/orgs/acme-ai/tokens", &fields);
    assert_eq!(first.status, 200, "{}", first.body);
    let secret = secret_on(&first).expect("the secret, shown once");
    assert_eq!(app.count("api_tokens"), 1);

    // A reload sends the very same form again: nothing is made, and the
    // answer says what the first one made, without its secret.
    for reload in [
        ada.post("/orgs/acme-ai/tokens", &fields),
        ada.hx_post("/orgs/acme-ai/tokens", &fields),
    ] {
        assert_eq!(reload.status, 200, "{}", reload.body);
        reload.assert_contains("“CI deploys” was already created; its secret was shown once");
        assert!(secret_on(&reload).is_none(), "a secret shown again");
        assert!(!reload.contains(&secret[4..]), "the first secret shown again");
    }
    assert_eq!(
        app.count("api_tokens"),
        1,
        "one token, however often the form is sent"
    );
    let org = app.org("acme-ai");
    let created = app
        .audit_events(&org)
        .iter()
        .filter(|event| event.action == "token.created")
        .count();
    assert_eq!(created, 1, "one token.created event");

    // The answer's own form carries a fresh value: pressing Create again on
    // it makes another token, as it should.
    let next = first.field("once").expect("a fresh value");
    assert_ne!(next, once);
    let another = ada.post(
        "/orgs/acme-ai/tokens",
        &[
            ("name", "CI deploys"),
            ("access", "operations"),
            ("days", "30"),
            ("once", next.as_str()),
        ],
    );
    assert!(secret_on(&another).is_some(), "{}", another.body);
    assert_eq!(app.count("api_tokens"), 2);

    // A refusal uses nothing up: the same value works once the form is right.
    let fresh = ada.get("/orgs/acme-ai/tokens").field("once").expect("a value");
    let refused = ada.post(
        "/orgs/acme-ai/tokens",
        &[
            ("name", ""),
            ("access", "operations"),
            ("days", "30"),
            ("once", fresh.as_str()),
        ],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    let fixed = ada.post(
        "/orgs/acme-ai/tokens",
        &[
            ("name", "notebook"),
            ("access", "inference"),
            ("days", "30"),
            ("once", fresh.as_str()),
        ],
    );
    assert!(secret_on(&fixed).is_some(), "{}", fixed.body);
    assert_eq!(app.count("api_tokens"), 3);
}

fn a_reloaded_key_form_makes_one_key_for_its_account_only() {
    let server = TestServer::start();
    let app = &server.app;
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = app.org("acme-ai");
    let ada_user = app.user_by_email("ada@example.com");
    for name in ["deploy-bot", "eval-bot"] {
        service_accounts::create(
            &mut app.conn(),
            &as_user(&ada_user),
            &org,
            &account(name, Role::DEVELOPER),
        )
        .expect("an account");
    }
    let tab = ada.get("/orgs/acme-ai/service-accounts");
    let once = tab.field("once").expect("the key forms carry a one-time value");
    let fields = [("access", "inference"), ("days", "30"), ("once", once.as_str())];
    let first = ada.post("/orgs/acme-ai/service-accounts/deploy-bot/keys", &fields);
    assert_eq!(first.status, 200, "{}", first.body);
    let secret = secret_on(&first).expect("the key, shown once");
    let reload = ada.post("/orgs/acme-ai/service-accounts/deploy-bot/keys", &fields);
    assert_eq!(reload.status, 200, "{}", reload.body);
    reload.assert_contains("“deploy-bot key” was already created; its secret was shown once");
    assert!(secret_on(&reload).is_none() && !reload.contains(&secret[4..]));
    assert_eq!(app.count("api_tokens"), 1);
    // The same page's form for another account is another form.
    let other = ada.post("/orgs/acme-ai/service-accounts/eval-bot/keys", &fields);
    assert!(secret_on(&other).is_some(), "{}", other.body);
    assert_eq!(app.count("api_tokens"), 2);
}

fn one_time_values_that_are_malformed_too_old_or_someone_elses_make_nothing() {
    let server = TestServer::start();
    let app = &server.app;
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = app.org("acme-ai");
    app.member(&org, "bob@example.com", Role::DEVELOPER);
    let once = ada.get("/orgs/acme-ai/tokens").field("once").expect("a value");
    let made = ada.post(
        "/orgs/acme-ai/tokens",
        &[
            ("name", "Ada CI"),
            ("access", "inference"),
            ("days", "30"),
            ("once", once.as_str()),
        ],
    );
    assert!(secret_on(&made).is_some(), "{}", made.body);

    // Bob sends Ada's value (copied from her page): nothing is made, and he
    // is not told what it made.
    let mut bob = server.signed_in("bob@example.com");
    bob.get("/orgs/acme-ai/tokens");
    let copied = bob.post(
        "/orgs/acme-ai/tokens",
        &[
            ("name", "Bob CI"),
            ("access", "inference"),
            ("days", "30"),
            ("once", once.as_str()),
        ],
    );
    assert_eq!(copied.status, 409, "{}", copied.body);
    copied.assert_contains("already sent from another account");
    assert!(!copied.contains("Ada CI"), "what Ada's form made, told to Bob");
    assert!(secret_on(&copied).is_none());
    assert_eq!(app.count("api_tokens"), 1);

    let day_old = format!(
        "{}.0123456789abcdef0123456789abcdef",
        chrono::Utc::now().timestamp() - 25 * 3600
    );
    for (bad, words) in [
        ("not-a-value", "did not come from this page"),
        ("1.0123456789abcdef0123456789abcdef", "more than a day ago"),
        (day_old.as_str(), "more than a day ago"),
    ] {
        let refused = bob.post(
            "/orgs/acme-ai/tokens",
            &[
                ("name", "Bob CI"),
                ("access", "inference"),
                ("days", "30"),
                ("once", bad),
            ],
        );
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
        refused.assert_contains(words);
        refused.assert_contains("value=\"Bob CI\"");
        assert!(
            refused.field("once").is_some_and(|fresh| fresh != bad),
            "a fresh value"
        );
    }
    assert_eq!(app.count("api_tokens"), 1, "nothing made");

    // A form sent without a value (a script, not the page) is done as asked,
    // as the JSON API does a request without an Idempotency-Key.
    let scripted = bob.post(
        "/orgs/acme-ai/tokens",
        &[("name", "Bob CI"), ("access", "inference"), ("days", "30")],
    );
    assert!(secret_on(&scripted).is_some(), "{}", scripted.body);
    assert_eq!(app.count("api_tokens"), 2);
}

fn two_submissions_of_one_value_racing_in_the_database_make_one_token() {
    use rollcall::services::submissions::{self, OnceValue, Purpose, Submission, Submitted};
    use std::sync::{Arc, Barrier};

    let app = TestApp::new();
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let once = OnceValue::issue();
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, org, ada, once, barrier) = (
                app.pool.clone(),
                org.clone(),
                ada.clone(),
                once.clone(),
                Arc::clone(&barrier),
            );
            std::thread::spawn(move || {
                let mut conn = pool.get().expect("a connection");
                let submission = Submission {
                    user_id: &ada.id,
                    once: Some(&once),
                    purpose: Purpose::PersonalToken { org_id: &org.id },
                };
                barrier.wait();
                submissions::once(&mut conn, &submission, |conn| {
                    let issued = tokens::create_personal(
                        conn,
                        &as_user(&ada),
                        &org,
                        None,
                        &request(AccessLevel::Inference),
                    )?;
                    // Keep the transaction open long enough that the other
                    // submission is surely inside it meanwhile, past any
                    // check made before it.
                    std::thread::sleep(Duration::from_millis(300));
                    Ok((issued.id, issued.name))
                })
            })
        })
        .collect();
    let answers: Vec<_> = racers
        .into_iter()
        .map(|racer| racer.join().expect("a racer").expect("an answer"))
        .collect();
    let made_now = answers
        .iter()
        .filter(|answer| matches!(answer, Submitted::Now(_)))
        .count();
    assert_eq!(made_now, 1, "{answers:?}");
    assert!(
        answers.contains(&Submitted::Before("CI deploys".to_owned())),
        "{answers:?}"
    );
    assert_eq!(app.count("api_tokens"), 1);
    assert_eq!(app.count("form_submissions"), 1);
}

fn tokens_live_seven_to_366_days_on_every_path_in_the_same_words() {
    let server = TestServer::start();
    let app = &server.app;
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = app.org("acme-ai");
    let deployer = service_accounts::create(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        &account("deployer", Role::VIEWER),
    )
    .expect("an account");
    let words = "is not a lifetime: give 7 to 366 days, such as 30d";
    ada.get("/orgs/acme-ai/tokens");
    for days in ["1", "6", "0", "367"] {
        let page = ada.post(
            "/orgs/acme-ai/tokens",
            &[("name", "short"), ("access", "inference"), ("days", days)],
        );
        assert_eq!(page.status, 422, "{days} days: {}", page.body);
        page.assert_contains(words);
        let key = ada.post(
            &format!("/orgs/acme-ai/service-accounts/{}/keys", deployer.id),
            &[("access", "inference"), ("days", days)],
        );
        assert_eq!(key.status, 422, "a key of {days} days: {}", key.body);
        key.assert_contains(words);
    }
    for expires in ["1d", "6d", "6 days"] {
        let refused = rollcall(
            app,
            &[
                "token",
                "create",
                "--org",
                "acme-ai",
                "--user",
                "ada@example.com",
                "--access",
                "inference",
                "--expires",
                expires,
            ],
        );
        assert!(!refused.status.success(), "--expires {expires}");
        let said = String::from_utf8_lossy(&refused.stderr);
        assert!(said.contains(words), "{said}");
        let key = rollcall(
            app,
            &[
                "service-account",
                "key-create",
                "--org",
                "acme-ai",
                "deployer",
                "--access",
                "inference",
                "--expires",
                expires,
            ],
        );
        assert!(!key.status.success(), "a key with --expires {expires}");
    }
    assert_eq!(app.count("api_tokens"), 0, "nothing was made");

    // A week is the shortest, on every path.
    let week = ada.post(
        "/orgs/acme-ai/tokens",
        &[("name", "weekly"), ("access", "inference"), ("days", "7")],
    );
    assert_eq!(week.status, 200, "{}", week.body);
    let made = rollcall(
        app,
        &[
            "token",
            "create",
            "--org",
            "acme-ai",
            "--user",
            "ada@example.com",
            "--access",
            "inference",
            "--expires",
            "7d",
        ],
    );
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert_eq!(app.count("api_tokens"), 2);
}

crate::tests![
    a_viewer_cannot_create_an_operations_token_and_nothing_is_created,
    service_accounts_are_never_owners_nor_above_their_creator,
    the_token_check_answers_for_live_tokens_only,
    a_revocation_holds_on_a_second_server_within_a_second,
    a_change_on_this_server_holds_on_its_own_token_check_at_once,
    a_removed_member_loses_their_tokens_in_the_same_transaction,
    service_account_keys_stop_when_the_account_is_disabled_or_deleted,
    last_use_is_written_at_most_once_a_minute_and_secrets_are_stored_nowhere,
    the_command_line_makes_lists_and_revokes_tokens_under_the_same_rules,
    the_tabs_refuse_what_the_policy_refuses_and_change_nothing,
    a_reloaded_token_form_makes_one_token_and_never_shows_its_secret_again,
    a_reloaded_key_form_makes_one_key_for_its_account_only,
    one_time_values_that_are_malformed_too_old_or_someone_elses_make_nothing,
    two_submissions_of_one_value_racing_in_the_database_make_one_token,
    tokens_live_seven_to_366_days_on_every_path_in_the_same_words,
];
