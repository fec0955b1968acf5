//! The JSON API over HTTP: bearer tokens and RFC 9457 problem documents.

use rollcall::domain::{AccessLevel, LabelName, Lifetime, Role};
use rollcall::services::Actor;
use rollcall::services::members::{self, MemberRef};
use rollcall::services::tokens::{self, TokenRequest};
use serde_json::Value;

use crate::helpers::as_user;
use crate::http::TestServer;

/// A GET with `token` as the bearer (none for `None`): status, content type, JSON.
fn call(base: &str, path: &str, token: Option<&str>) -> (u16, String, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let mut response = request.call().expect("an answer");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

#[track_caller]
fn assert_problem(answer: &(u16, String, Value), status: u16, kind: &str) {
    let (got, content_type, problem) = answer;
    assert_eq!(*got, status, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["type"], format!("/problems/{kind}"), "{problem}");
    assert_eq!(problem["status"], status);
    assert!(problem["title"].as_str().is_some_and(|title| !title.is_empty()));
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| !detail.is_empty())
    );
}

fn token(server: &TestServer, user: &rollcall::services::users::User, access: AccessLevel) -> String {
    let org = server.app.org("acme-ai");
    let request = TokenRequest {
        name: LabelName::parse("script").unwrap(),
        access,
        lifetime: Lifetime::DEFAULT,
        scope: Default::default(),
        limits: Default::default(),
    };
    tokens::create_personal(&mut server.app.conn(), &as_user(user), &org, None, &request)
        .expect("a token")
        .secret
        .expose()
        .to_owned()
}

fn the_api_takes_operations_tokens_and_answers_problems_otherwise() {
    let server = TestServer::start();
    let (org, _) = server.app.org_owned_by("Acme AI", "ada@example.com");
    let dev = server.app.member(&org, "dev@example.com", Role::DEVELOPER);
    let operations = token(&server, &dev, AccessLevel::Operations);
    let inference = token(&server, &dev, AccessLevel::Inference);
    let base = &server.base;

    assert_problem(&call(base, "/api/v1/me", None), 401, "unauthenticated");
    assert_problem(
        &call(base, "/api/v1/me", Some("rcp_nope")),
        401,
        "unauthenticated",
    );
    let mut typo = operations.clone().into_bytes();
    typo[10] = if typo[10] == b'x' { b'y' } else { b'x' };
    assert_problem(
        &call(base, "/api/v1/me", Some(&String::from_utf8(typo).unwrap())),
        401,
        "unauthenticated",
    );
    assert_problem(&call(base, "/api/v1/me", Some(&inference)), 403, "forbidden");

    let (status, _, me) = call(base, "/api/v1/me", Some(&operations));
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["kind"], "personal");
    assert_eq!(me["id"], dev.id.as_str());
    assert_eq!(me["org"], "acme-ai");
    assert_eq!(me["role"], "developer");
    assert_eq!(me["access"], "operations");

    let (status, _, roles) = call(base, "/api/v1/orgs/acme-ai/roles", Some(&operations));
    assert_eq!(status, 200, "{roles}");
    let rows = roles["permissions"].as_array().expect("the permission table");
    let policy = rollcall::domain::policy::current();
    assert_eq!(rows.len(), policy.permissions().len());
    for (row, expected) in rows.iter().zip(policy.permissions()) {
        assert_eq!(row["permission"], expected.description.as_str());
        assert_eq!(row["name"], expected.name.as_str());
    }
    assert_eq!(rows[0]["lowest_role"], "viewer", "members.view");
    assert_eq!(rows[1]["lowest_role"], "admin", "members.invite");
    assert_problem(
        &call(base, "/api/v1/orgs/other-org/roles", Some(&operations)),
        404,
        "not-found",
    );
    assert_problem(
        &call(base, "/api/v1/orgs/%00/roles", Some(&operations)),
        404,
        "not-found",
    );
    assert_problem(
        &call(base, "/api/v1/nothing-here", Some(&operations)),
        404,
        "not-found",
    );

    members::remove(
        &mut server.app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(dev.id.clone()),
    )
    .expect("remove");
    assert_problem(
        &call(base, "/api/v1/me", Some(&operations)),
        401,
        "unauthenticated",
    );
}

/// An answer from the API, whole.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub json: Value,
    pub headers: std::collections::HashMap<String, String>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    #[track_caller]
    pub fn problem(&self, status: u16, kind: &str) -> &Value {
        assert_problem(
            &(self.status, self.content_type.clone(), self.json.clone()),
            status,
            kind,
        );
        &self.json
    }
}

/// Any call: `body` is sent as JSON, `headers` beside the bearer token.
pub fn send(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header("Content-Type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.unwrap_or_default().to_vec())
        .expect("a request");
    let mut response = agent.run(request).expect("an answer");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect::<std::collections::HashMap<_, _>>();
    let content_type = headers.get("content-type").cloned().unwrap_or_default();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        content_type,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

pub fn get(base: &str, path: &str, token: &str) -> Answer {
    send(base, "GET", path, Some(token), None, &[])
}

pub fn json(base: &str, method: &str, path: &str, token: &str, body: &Value) -> Answer {
    let bytes = body.to_string().into_bytes();
    send(base, method, path, Some(token), Some(&bytes), &[])
}

/// Ada owns Acme AI; Bob is an admin, Carl a developer, Dave a viewer; each
/// has an operations token (Dave's is an inference one: viewers get no other).
struct Acme {
    server: TestServer,
    org: rollcall::services::Organization,
    ada: String,
    bob: String,
    carl: String,
    users: Vec<rollcall::services::users::User>,
}

fn acme() -> Acme {
    let server = TestServer::start();
    let (org, ada) = server.app.org_owned_by("Acme AI", "ada@example.com");
    let bob = server.app.member(&org, "bob@example.com", Role::ADMIN);
    let carl = server.app.member(&org, "carl@example.com", Role::DEVELOPER);
    let dave = server.app.member(&org, "dave@example.com", Role::VIEWER);
    Acme {
        ada: token(&server, &ada, AccessLevel::Operations),
        bob: token(&server, &bob, AccessLevel::Operations),
        carl: token(&server, &carl, AccessLevel::Operations),
        users: vec![ada, bob, carl, dave],
        server,
        org,
    }
}

fn a_retry_that_follows_a_rename_gets_the_first_answer() {
    let acme = acme();
    let base = &acme.server.base;
    let body =
        serde_json::json!({"invitations": [{"email": "lin@example.com", "role": "viewer"}]}).to_string();
    let key = [("Idempotency-Key", "rename-retry-1")];
    let first = send(
        base,
        "POST",
        "/api/v1/orgs/acme-ai/invitations",
        Some(&acme.bob),
        Some(body.as_bytes()),
        &key,
    );
    assert_eq!(first.status, 201, "{}", first.json);
    rollcall::services::organizations::rename(
        &mut acme.server.app.conn(),
        &rollcall::services::Actor::command_line(),
        &acme.org,
        &rollcall::services::organizations::Rename {
            name: None,
            slug: Some(rollcall::domain::Slug::parse("acme-labs").unwrap()),
        },
    )
    .expect("rename");
    let before = acme.server.app.snapshot();
    // The retry, sent where the first went: redirected, then followed.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let moved = agent
        .post(format!("{base}/api/v1/orgs/acme-ai/invitations"))
        .header("Authorization", &format!("Bearer {}", acme.bob))
        .header("Idempotency-Key", "rename-retry-1")
        .content_type("application/json")
        .send(body.as_bytes())
        .expect("an answer");
    assert_eq!(moved.status().as_u16(), 308);
    let location = moved
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .expect("where it moved")
        .to_owned();
    assert!(
        location.ends_with("/api/v1/orgs/acme-labs/invitations"),
        "{location}"
    );
    let path = location.trim_start_matches(base.as_str());
    let again = send(base, "POST", path, Some(&acme.bob), Some(body.as_bytes()), &key);
    assert_eq!(again.status, 201, "{}", again.json);
    assert_eq!(again.json, first.json, "the first answer, again");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(acme.server.app.snapshot(), before, "nobody was invited twice");
}

fn the_member_list_pages_by_cursor_without_skipping_or_repeating_anyone() {
    let acme = acme();
    let base = &acme.server.base;
    for n in 0..7 {
        acme.server
            .app
            .member(&acme.org, &format!("extra{n}@example.com"), Role::VIEWER);
    }
    let whole = get(base, "/api/v1/orgs/acme-ai/members?limit=200", &acme.carl);
    assert_eq!(whole.status, 200, "{}", whole.json);
    assert_eq!(whole.json["total"], 11);
    let everyone: Vec<String> = whole.json["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|member| member["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(everyone.len(), 11);
    assert!(whole.json.get("next_cursor").is_none(), "one page holds all");

    for (sort, order) in [
        ("name", "asc"),
        ("email", "desc"),
        ("joined", "asc"),
        ("joined", "desc"),
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/api/v1/orgs/acme-ai/members?limit=3&sort={sort}&order={order}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&cursor={cursor}"));
            }
            let page = get(base, &path, &acme.carl);
            assert_eq!(page.status, 200, "{path}: {}", page.json);
            pages += 1;
            for member in page.json["members"].as_array().unwrap() {
                seen.push(member["email"].as_str().unwrap().to_owned());
            }
            if pages == 2 {
                // Someone joins and someone leaves between two pages.
                acme.server
                    .app
                    .member(&acme.org, "aaron-late@example.com", Role::VIEWER);
            }
            match page.json["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{sort} {order}: nobody twice: {seen:?}");
        for email in &everyone {
            assert!(seen.contains(email), "{sort} {order}: {email} was skipped");
        }
        members::remove(
            &mut acme.server.app.conn(),
            &Actor::command_line(),
            &acme.org,
            &MemberRef::Email(rollcall::domain::EmailAddress::parse("aaron-late@example.com").unwrap()),
        )
        .expect("remove the latecomer");
    }

    let viewers = get(
        base,
        "/api/v1/orgs/acme-ai/members?role=viewer&limit=200",
        &acme.carl,
    );
    assert_eq!(viewers.json["total"], 8);
    assert!(
        viewers.json["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|member| member["role"] == "viewer")
    );
    let search = get(base, "/api/v1/orgs/acme-ai/members?search=CAR", &acme.carl);
    assert_eq!(search.json["total"], 1, "{}", search.json);
    assert_eq!(search.json["members"][0]["email"], "carl@example.com");

    let name_cursor = get(base, "/api/v1/orgs/acme-ai/members?limit=2", &acme.carl).json["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    for bad in [
        "cursor=nope!".to_owned(),
        "cursor=".to_owned() + &"A".repeat(3000),
        format!("cursor={name_cursor}&sort=email"),
        format!("cursor={name_cursor}&order=desc"),
        "cursor=am9pbmVkCg".to_owned(),
        format!(
            "sort=joined&cursor={}",
            forged("jax\n-100000-01-01T00:00:00.000000")
        ),
        format!(
            "sort=joined&cursor={}",
            forged("jax\n+200000-01-01T00:00:00.000000")
        ),
        format!(
            "sort=joined&order=desc&cursor={}",
            forged("jdx\n10000-01-01T00:00:00.000000")
        ),
        format!("cursor={}", forged("nax\u{0}\nbob")),
        "limit=0".to_owned(),
        "limit=201".to_owned(),
        "limit=ten".to_owned(),
        "limit=-1".to_owned(),
        "sort=salary".to_owned(),
        "order=sideways".to_owned(),
        "role=god".to_owned(),
        "search=%00".to_owned(),
        "unknown=1".to_owned(),
    ] {
        get(base, &format!("/api/v1/orgs/acme-ai/members?{bad}"), &acme.carl).problem(422, "invalid");
    }
}

/// A cursor as this server would write one, with any content.
fn forged(plain: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain)
}

fn role_changes_and_removals_over_the_api_keep_every_rule() {
    let acme = acme();
    let base = &acme.server.base;
    let app = &acme.server.app;
    let [ada, bob, carl, dave] = [0, 1, 2, 3].map(|i| acme.users[i].clone());
    let member = |user: &rollcall::services::users::User| format!("/api/v1/orgs/acme-ai/members/{}", user.id);

    // An admin changes a viewer to a developer: the same service, the same audit.
    let events = app.count("audit_events");
    let changed = json(
        base,
        "PATCH",
        &member(&dave),
        &acme.bob,
        &serde_json::json!({"role": "developer"}),
    );
    assert_eq!(changed.status, 200, "{}", changed.json);
    assert_eq!(changed.json["role"], "developer");
    assert_eq!(changed.json["email"], "dave@example.com");
    assert_eq!(app.role_of(&acme.org, &dave), Some(Role::DEVELOPER));
    assert_eq!(app.count("audit_events"), events + 1);

    // Refusals change nothing.
    let before = app.snapshot();
    let refusals: Vec<(Answer, u16, &str)> = vec![
        (
            json(
                base,
                "PATCH",
                &member(&carl),
                &acme.bob,
                &serde_json::json!({"role": "owner"}),
            ),
            403,
            "forbidden",
        ),
        (
            json(
                base,
                "PATCH",
                &member(&dave),
                &acme.carl,
                &serde_json::json!({"role": "admin"}),
            ),
            403,
            "forbidden",
        ),
        (
            json(
                base,
                "PATCH",
                &member(&ada),
                &acme.ada,
                &serde_json::json!({"role": "admin"}),
            ),
            403,
            "forbidden",
        ),
        (
            send(base, "DELETE", &member(&ada), Some(&acme.ada), None, &[]),
            403,
            "forbidden",
        ),
        (
            send(base, "DELETE", &member(&bob), Some(&acme.carl), None, &[]),
            403,
            "forbidden",
        ),
        (
            send(
                base,
                "DELETE",
                "/api/v1/orgs/acme-ai/members/no-such-user",
                Some(&acme.bob),
                None,
                &[],
            ),
            404,
            "not-found",
        ),
        (
            json(
                base,
                "PATCH",
                &member(&dave),
                &acme.bob,
                &serde_json::json!({"role": "god"}),
            ),
            422,
            "invalid",
        ),
        (
            json(
                base,
                "PATCH",
                &member(&dave),
                &acme.bob,
                &serde_json::json!({"role": 5}),
            ),
            422,
            "invalid",
        ),
        (
            json(
                base,
                "PATCH",
                &member(&dave),
                &acme.bob,
                &serde_json::json!({"role": "viewer", "admin": true}),
            ),
            422,
            "invalid",
        ),
        (
            json(base, "PATCH", &member(&dave), &acme.bob, &serde_json::json!({})),
            422,
            "invalid",
        ),
        (
            json(
                base,
                "PATCH",
                &member(&dave),
                &acme.bob,
                &serde_json::json!(["viewer"]),
            ),
            422,
            "invalid",
        ),
        (
            send(
                base,
                "PATCH",
                &member(&dave),
                Some(&acme.bob),
                Some(b"{\"role\": \"vie"),
                &[],
            ),
            422,
            "invalid",
        ),
        (
            send(
                base,
                "PATCH",
                &member(&dave),
                Some(&acme.bob),
                Some(b"\xff\xfe"),
                &[],
            ),
            422,
            "invalid",
        ),
        (
            send(
                base,
                "PATCH",
                &member(&dave),
                Some(&acme.bob),
                Some(&vec![b' '; (1 << 20) + 1024]),
                &[],
            ),
            413,
            "too-large",
        ),
        (
            json(
                base,
                "PATCH",
                "/api/v1/orgs/other-org/members/x",
                &acme.bob,
                &serde_json::json!({"role": "viewer"}),
            ),
            404,
            "not-found",
        ),
        (
            send(base, "DELETE", &member(&carl), None, None, &[]),
            401,
            "unauthenticated",
        ),
    ];
    for (answer, status, kind) in &refusals {
        answer.problem(*status, kind);
    }
    assert_eq!(app.snapshot(), before, "a refused call changed something");
    assert_eq!(app.role_of(&acme.org, &carl), Some(Role::DEVELOPER));
    assert_eq!(app.role_of(&acme.org, &ada), Some(Role::OWNER));

    // Two owners demoting each other at once, through two servers: one
    // change happens, and an owner stays.
    let eve = app.member(&acme.org, "eve@example.com", Role::OWNER);
    let eve_token = token(&acme.server, &eve, AccessLevel::Operations);
    let another = acme.server.another_server();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let racers: Vec<_> = [
        (base.clone(), acme.ada.clone(), member(&eve)),
        (another, eve_token, member(&ada)),
    ]
    .into_iter()
    .map(|(server, token, path)| {
        let barrier = barrier.clone();
        std::thread::spawn(move || {
            barrier.wait();
            json(
                &server,
                "PATCH",
                &path,
                &token,
                &serde_json::json!({"role": "admin"}),
            )
            .status
        })
    })
    .collect();
    let mut statuses: Vec<u16> = racers
        .into_iter()
        .map(|racer| racer.join().expect("a racer"))
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 403],
        "one demotion, then the demoted cannot demote"
    );
    let owners = [&ada, &eve]
        .iter()
        .filter(|user| app.role_of(&acme.org, user) == Some(Role::OWNER))
        .count();
    assert_eq!(owners, 1);

    // A removal takes the member's tokens with it, at once.
    let removed = send(base, "DELETE", &member(&carl), Some(&acme.bob), None, &[]);
    assert_eq!(removed.status, 204);
    assert_eq!(app.role_of(&acme.org, &carl), None);
    get(base, "/api/v1/me", &acme.carl).problem(401, "unauthenticated");
    send(base, "DELETE", &member(&carl), Some(&acme.bob), None, &[]).problem(404, "not-found");
}

fn a_service_account_acts_as_itself_within_its_role() {
    use rollcall::services::service_accounts::{self, AccountRequest, KeyRequest};
    let acme = acme();
    let base = &acme.server.base;
    let app = &acme.server.app;
    let ada = as_user(&acme.users[0]);
    let mut conn = app.conn();
    let request = |name: &str, role| AccountRequest {
        name: LabelName::parse(name).unwrap(),
        description: Default::default(),
        role,
    };
    service_accounts::create(&mut conn, &ada, &acme.org, &request("ci-bot", Role::ADMIN))
        .expect("an account");
    service_accounts::create(&mut conn, &ada, &acme.org, &request("reader", Role::DEVELOPER))
        .expect("an account");
    let key = |account: &str| {
        let key = KeyRequest {
            name: None,
            access: AccessLevel::Operations,
            lifetime: Lifetime::DEFAULT,
            limits: Default::default(),
        };
        service_accounts::create_key(&mut app.conn(), &ada, &acme.org, account, &key)
            .expect("a key")
            .secret
            .expose()
            .to_owned()
    };
    let (ci, reader) = (key("ci-bot"), key("reader"));
    drop(conn);

    let me = get(base, "/api/v1/me", &ci);
    assert_eq!(me.json["kind"], "service_account", "{}", me.json);
    assert_eq!(me.json["role"], "admin");

    let dave = &acme.users[3];
    let path = format!("/api/v1/orgs/acme-ai/members/{}", dave.id);
    let changed = json(
        base,
        "PATCH",
        &path,
        &ci,
        &serde_json::json!({"role": "developer"}),
    );
    assert_eq!(changed.status, 200, "{}", changed.json);
    let before = app.snapshot();
    json(
        base,
        "PATCH",
        &path,
        &reader,
        &serde_json::json!({"role": "viewer"}),
    )
    .problem(403, "forbidden");
    json(base, "PATCH", &path, &ci, &serde_json::json!({"role": "owner"})).problem(403, "forbidden");
    let invite = serde_json::json!({"invitations": [{"email": "new@example.com", "role": "viewer"}]});
    json(base, "POST", "/api/v1/orgs/acme-ai/invitations", &reader, &invite).problem(403, "forbidden");
    assert_eq!(app.snapshot(), before);
    assert_eq!(app.role_of(&acme.org, dave), Some(Role::DEVELOPER));

    let changed = app
        .audit_events(&acme.org)
        .into_iter()
        .find(|event| event.action == "member.role_changed")
        .expect("the event");
    assert_eq!(
        (changed.actor_kind.as_str(), changed.actor().as_str()),
        ("service_account", "ci-bot (service account)")
    );
    assert!(
        changed.credential.starts_with("service account key rcs_…"),
        "{}",
        changed.credential
    );

    service_accounts::disable(&mut app.conn(), &ada, &acme.org, "ci-bot").expect("disable");
    get(base, "/api/v1/me", &ci).problem(401, "unauthenticated");
}

fn invitations_over_the_api_are_all_or_nothing_and_safe_to_retry() {
    let acme = acme();
    let base = &acme.server.base;
    let app = &acme.server.app;
    let invitations = "/api/v1/orgs/acme-ai/invitations";

    let one = serde_json::json!({"invitations": [{"email": "Grace@Example.com", "role": "developer", "name": "Grace Hopper"}]});
    let sent = json(base, "POST", invitations, &acme.bob, &one);
    assert_eq!(sent.status, 201, "{}", sent.json);
    assert_eq!(sent.json["invitations"][0]["email"], "grace@example.com");
    assert_eq!(sent.json["invitations"][0]["name"], "Grace Hopper");
    assert_eq!(sent.json["invitations"][0]["role"], "developer");
    assert!(
        sent.json.to_string().find("/invite/").is_none(),
        "the link is only in the email"
    );
    let grace = sent.json["invitations"][0]["id"].as_str().unwrap().to_owned();
    let listed = get(base, invitations, &acme.carl);
    assert_eq!(listed.json["total"], 1, "{}", listed.json);
    assert_eq!(listed.json["invitations"][0]["id"], grace.as_str());
    // The server's own worker may have delivered it already.
    let delivery = listed.json["invitations"][0]["delivery"].as_str();
    assert!(matches!(delivery, Some("queued" | "sent")), "{}", listed.json);

    // A batch with problems: each named by its position, nobody invited.
    let before = app.snapshot();
    let batch = serde_json::json!({"invitations": [
        {"email": "fine@example.com", "role": "viewer"},
        {"email": "not an address", "role": "viewer"},
        {"email": "carl@example.com", "role": "viewer"},
        {"email": "grace@example.com", "role": "viewer"},
        {"email": "twice@example.com", "role": "viewer"},
        {"email": "TWICE@example.com", "role": "viewer"},
        {"email": "x@example.com", "role": "emperor"},
        {"email": "y@example.com", "role": "viewer", "name": "a\u{0}b"},
    ]});
    let refused = json(base, "POST", invitations, &acme.bob, &batch);
    let problem = refused.problem(422, "invalid-rows");
    let rows: Vec<(u64, String)> = problem["errors"]
        .as_array()
        .expect("each row's problem")
        .iter()
        .map(|row| {
            (
                row["index"].as_u64().unwrap(),
                row["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = [(1, "invalid-email"), (6, "invalid-role"), (7, "invalid-name")]
        .iter()
        .map(|(index, kind)| (*index, format!("/problems/{kind}")))
        .collect();
    assert_eq!(rows, expected, "the rows that cannot be read come first");
    let fixed = serde_json::json!({"invitations": [
        {"email": "fine@example.com", "role": "viewer"},
        {"email": "carl@example.com", "role": "viewer"},
        {"email": "grace@example.com", "role": "viewer"},
        {"email": "twice@example.com", "role": "viewer"},
        {"email": "TWICE@example.com", "role": "viewer"},
    ]});
    let refused = json(base, "POST", invitations, &acme.bob, &fixed);
    let rows: Vec<(u64, String)> = refused.problem(422, "invalid-rows")["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["index"].as_u64().unwrap(),
                row["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "/problems/already-a-member".to_owned()),
            (2, "/problems/already-invited".to_owned()),
            (4, "/problems/duplicate".to_owned()),
        ]
    );
    for (body, status, kind) in [
        (serde_json::json!({"invitations": []}), 422, "invalid"),
        (
            serde_json::json!({"invitations": [{"email": "a@example.com"}]}),
            422,
            "invalid",
        ),
        (
            serde_json::json!({"invitations": [{"email": "a@example.com", "role": "viewer", "team": "x"}]}),
            422,
            "invalid",
        ),
        (
            serde_json::json!({"email": "a@example.com", "role": "viewer"}),
            422,
            "invalid",
        ),
        (
            serde_json::json!({"invitations": [["a@example.com", "viewer"]]}),
            422,
            "invalid",
        ),
        (serde_json::json!([[["a@example.com", "viewer"]]]), 422, "invalid"),
        (
            serde_json::json!({"invitations": [{"email": "a@example.com", "role": "owner"}]}),
            403,
            "forbidden",
        ),
    ] {
        json(base, "POST", invitations, &acme.bob, &body).problem(status, kind);
    }
    json(
        base,
        "POST",
        invitations,
        &acme.carl,
        &serde_json::json!({"invitations": [{"email": "a@example.com", "role": "viewer"}]}),
    )
    .problem(403, "forbidden");
    let too_many: Vec<Value> = (0..2001)
        .map(|n| serde_json::json!({"email": format!("n{n}@example.com"), "role": "viewer"}))
        .collect();
    json(
        base,
        "POST",
        invitations,
        &acme.bob,
        &serde_json::json!({"invitations": too_many}),
    )
    .problem(422, "invalid");
    send(
        base,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(&vec![b'['; (1 << 20) + 1024]),
        &[],
    )
    .problem(413, "too-large");
    assert_eq!(app.snapshot(), before, "a refused batch invited somebody");

    // Retried with the same key, on this server or another: one invitation.
    let another = acme.server.another_server();
    let retried =
        serde_json::json!({"invitations": [{"email": "lin@example.com", "role": "viewer"}]}).to_string();
    let key = [("Idempotency-Key", "3f1d2c9e-retry")];
    let first = send(
        base,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(retried.as_bytes()),
        &key,
    );
    assert_eq!(first.status, 201, "{}", first.json);
    let again = send(
        &another,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(retried.as_bytes()),
        &key,
    );
    assert_eq!(again.status, 201);
    assert_eq!(again.json, first.json, "the first answer, again");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(get(base, invitations, &acme.bob).json["total"], 2);
    let other_body =
        serde_json::json!({"invitations": [{"email": "mo@example.com", "role": "viewer"}]}).to_string();
    send(
        base,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(other_body.as_bytes()),
        &key,
    )
    .problem(422, "invalid");
    send(
        base,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(other_body.as_bytes()),
        &[("Idempotency-Key", "")],
    )
    .problem(422, "invalid");
    send(
        base,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(other_body.as_bytes()),
        &[("Idempotency-Key", "a"), ("Idempotency-Key", "b")],
    )
    .problem(422, "invalid");
    // A field named twice: which would count depends on who reads it.
    send(
        base,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(br#"{"invitations":[{"email":"one@example.com","email":"two@example.com","role":"viewer"}]}"#),
        &[],
    )
    .problem(422, "invalid");
    // An answer kept past a day is forgotten: the key works afresh.
    {
        use diesel::prelude::*;
        use rollcall::db::schema::idempotent_requests;
        diesel::update(
            idempotent_requests::table.filter(idempotent_requests::idempotency_key.eq("3f1d2c9e-retry")),
        )
        .set(idempotent_requests::created_at.eq(chrono::Utc::now().naive_utc() - chrono::Duration::days(2)))
        .execute(&mut *app.conn())
        .expect("age the key");
    }
    let fresh_body =
        serde_json::json!({"invitations": [{"email": "fresh@example.com", "role": "viewer"}]}).to_string();
    let afresh = send(
        base,
        "POST",
        invitations,
        Some(&acme.bob),
        Some(fresh_body.as_bytes()),
        &key,
    );
    assert_eq!(afresh.status, 201, "{}", afresh.json);
    assert!(afresh.header("idempotent-replayed").is_none());
    // Keys belong to the token that sent them.
    let elsewhere = send(
        base,
        "POST",
        invitations,
        Some(&acme.ada),
        Some(other_body.as_bytes()),
        &key,
    );
    assert_eq!(elsewhere.status, 201, "{}", elsewhere.json);

    // Racing retries of one request across two servers: one invitation.
    let racing =
        serde_json::json!({"invitations": [{"email": "race@example.com", "role": "viewer"}]}).to_string();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let answers: Vec<Answer> = (0..8)
        .map(|n| {
            let base = if n % 2 == 0 { base.clone() } else { another.clone() };
            let (token, body, barrier) = (acme.bob.clone(), racing.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                send(
                    &base,
                    "POST",
                    "/api/v1/orgs/acme-ai/invitations",
                    Some(&token),
                    Some(body.as_bytes()),
                    &[("Idempotency-Key", "race-1")],
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().expect("a racer"))
        .collect();
    for answer in &answers {
        assert_eq!(answer.status, 201, "{}", answer.json);
        assert_eq!(answer.json, answers[0].json);
    }
    let pending = get(base, "/api/v1/orgs/acme-ai/invitations?per_page=200", &acme.bob);
    let races = pending.json["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|invitation| invitation["email"] == "race@example.com")
        .count();
    assert_eq!(races, 1, "racing retries invited once");

    // Resend and revoke.
    let resend = format!("{invitations}/{grace}/resend");
    let resent = send(base, "POST", &resend, Some(&acme.bob), None, &[]);
    assert_eq!(resent.status, 200, "{}", resent.json);
    assert_eq!(resent.json["name"], "Grace Hopper", "the name stays");
    assert_eq!(
        get(base, invitations, &acme.bob).json["invitations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == grace.as_str())
            .unwrap()["send_count"],
        2
    );
    send(base, "POST", &resend, Some(&acme.carl), None, &[]).problem(403, "forbidden");
    send(
        base,
        "DELETE",
        &format!("{invitations}/{grace}"),
        Some(&acme.carl),
        None,
        &[],
    )
    .problem(403, "forbidden");
    assert_eq!(
        send(
            base,
            "DELETE",
            &format!("{invitations}/{grace}"),
            Some(&acme.bob),
            None,
            &[]
        )
        .status,
        204
    );
    send(
        base,
        "DELETE",
        &format!("{invitations}/{grace}"),
        Some(&acme.bob),
        None,
        &[],
    )
    .problem(409, "conflict");
    send(base, "POST", &resend, Some(&acme.bob), None, &[]).problem(409, "conflict");
    send(
        base,
        "POST",
        &format!("{invitations}/nope/resend"),
        Some(&acme.bob),
        None,
        &[],
    )
    .problem(404, "not-found");
    for bad in ["page=0", "per_page=0", "per_page=1000", "page=x", "color=red"] {
        get(base, &format!("{invitations}?{bad}"), &acme.bob).problem(422, "invalid");
    }
}

fn the_openapi_document_lists_every_api_route_and_each_one_answers() {
    let acme = acme();
    let base = &acme.server.base;
    let document = send(base, "GET", "/api/v1/openapi.json", None, None, &[]);
    assert_eq!(document.status, 200);
    assert_eq!(document.json["openapi"], "3.1.0");
    let paths = document.json["paths"].as_object().expect("paths");
    let api_routes: Vec<(&str, &str)> = rollcall::web::ROUTES
        .iter()
        .copied()
        .filter(|(_, path)| path.starts_with("/api/"))
        .collect();
    for (method, path) in &api_routes {
        assert!(
            paths.get(*path).and_then(|item| item.get(*method)).is_some(),
            "{method} {path} is served but not in the OpenAPI document"
        );
    }
    let mut documented = 0;
    let invited = acme.server.app.invite(&acme.org, "doc@example.com", Role::VIEWER);
    let dave = &acme.users[3];
    // Reads first, then changes, so that each change has something to change.
    let mut operations: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    operations.sort_by_key(|(method, _)| {
        ["get", "post", "patch", "delete"]
            .iter()
            .position(|m| m == method)
    });
    for (method, template) in operations {
        assert!(
            api_routes.contains(&(method.as_str(), template.as_str())),
            "{method} {template} is documented but not served"
        );
        // A token other than Bob's own, which cannot change its own limits.
        let others_token = || {
            let listed = get(base, "/api/v1/orgs/acme-ai/tokens", &acme.bob).json;
            listed["tokens"]
                .as_array()
                .and_then(|tokens| {
                    tokens.iter().find(|token| {
                        token["hint"]
                            .as_str()
                            .is_some_and(|hint| !acme.bob.ends_with(&hint[hint.len() - 4..]))
                    })
                })
                .and_then(|token| token["id"].as_str().map(str::to_owned))
                .expect("another token")
        };
        let id = if template.contains("invitations") {
            invited.invitation_id.clone()
        } else if template.contains("tokens/") {
            others_token()
        } else {
            dave.id.clone()
        };
        let path = template.replace("{slug}", "acme-ai").replace("{id}", &id);
        let answer = match (method.as_str(), template.as_str()) {
            ("post", "/api/v1/tokens/introspect" | "/api/v1/authorize") => {
                send(base, "POST", &path, None, None, &[])
            }
            ("post", "/api/v1/orgs/{slug}/tokens") => json(
                base,
                "POST",
                &path,
                &acme.bob,
                &serde_json::json!({"name": "made by the document's test", "access": "inference"}),
            ),
            ("post", "/api/v1/orgs/{slug}/invitations") => json(
                base,
                "POST",
                &path,
                &acme.bob,
                &serde_json::json!({"invitations": [{"email": "more@example.com", "role": "viewer"}]}),
            ),
            ("patch", "/api/v1/orgs/{slug}/tokens/{id}") => json(
                base,
                "PATCH",
                &path,
                &acme.bob,
                &serde_json::json!({"networks": ["10.0.0.0/8"]}),
            ),
            ("patch", _) => json(
                base,
                "PATCH",
                &path,
                &acme.bob,
                &serde_json::json!({"role": "developer"}),
            ),
            (method, _) => send(
                base,
                &method.to_ascii_uppercase(),
                &path,
                Some(&acme.bob),
                None,
                &[],
            ),
        };
        // The gateway's calls, asked without an introspection client's secret.
        let expected = if ["/api/v1/tokens/introspect", "/api/v1/authorize"].contains(&template.as_str()) {
            401
        } else {
            answer.status.clamp(200, 299)
        };
        assert_eq!(answer.status, expected, "{method} {path}: {}", answer.json);
        documented += 1;
    }
    assert_eq!(documented, api_routes.len());
}

fn rate_limits_answer_429_with_headers_and_count_each_client_apart() {
    let server = TestServer::start_with(&[
        "--rate-limit-api",
        "3/min",
        "--rate-limit-sign-in",
        "2/min",
        "--trusted-proxies",
        "10.0.0.0/8",
    ]);
    let (org, ada) = server.app.org_owned_by("Acme AI", "ada@example.com");
    let bob = server.app.member(&org, "bob@example.com", Role::ADMIN);
    let (ada_token, bob_token) = (
        token(&server, &ada, AccessLevel::Operations),
        token(&server, &bob, AccessLevel::Operations),
    );
    let base = &server.base;
    // A token is counted on its own, from its first call.
    let remaining: Vec<String> = (0..3)
        .map(|_| {
            let answer = get(base, "/api/v1/me", &ada_token);
            assert_eq!(answer.status, 200);
            assert_eq!(answer.header("ratelimit-limit"), Some("3"));
            assert!(
                answer
                    .header("ratelimit-reset")
                    .is_some_and(|reset| reset.parse::<u64>().is_ok())
            );
            answer
                .header("ratelimit-remaining")
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(remaining, ["2", "1", "0"]);
    let before = server.app.snapshot();
    let refused = json(
        base,
        "PATCH",
        &format!("/api/v1/orgs/acme-ai/members/{}", bob.id),
        &ada_token,
        &serde_json::json!({"role": "viewer"}),
    );
    refused.problem(429, "rate-limited");
    let retry_after: u64 = refused
        .header("retry-after")
        .and_then(|s| s.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert_eq!(server.app.snapshot(), before);
    assert_eq!(
        server.app.role_of(&org, &bob),
        Some(Role::ADMIN),
        "a refused call did nothing"
    );
    assert_eq!(
        get(base, "/api/v1/me", &bob_token).status,
        200,
        "another token has its own count"
    );
    // Made-up tokens, however well-formed, and mistyped ones share their
    // address's count of refused calls…
    let made_up = || {
        rollcall::domain::ApiSecret::generate(rollcall::domain::SecretKind::Personal)
            .expose()
            .to_owned()
    };
    let mistyped = format!("{bob_token}x");
    get(base, "/api/v1/me", &made_up()).problem(401, "unauthenticated");
    get(base, "/api/v1/me", &mistyped).problem(401, "unauthenticated");
    get(base, "/api/v1/me", &made_up()).problem(429, "rate-limited");
    get(base, "/api/v1/me", &mistyped).problem(429, "rate-limited");
    // A made-up token does not become "working" by reaching what needs no
    // token (the document, an unknown path): it is counted all the same.
    assert_eq!(get(base, "/api/v1/openapi.json", &made_up()).status, 429);
    assert_eq!(
        get(base, "/api/v1/orgs/acme-ai/no-such-thing", &made_up()).status,
        429
    );
    // …which spends nothing of a real token's from the same address: one
    // that has worked, and one whose first call this is.
    let carl = server.app.member(&org, "carl@example.com", Role::DEVELOPER);
    let carl_token = token(&server, &carl, AccessLevel::Operations);
    for _ in 0..3 {
        assert_eq!(get(base, "/api/v1/me", &carl_token).status, 200);
    }
    assert_eq!(get(base, "/api/v1/me", &bob_token).status, 200);
    // The token check's callers likewise: a made-up client secret is refused
    // on its address's count, the real gateway is not.
    let gateway = rollcall::services::introspection::create_client(
        &mut server.app.conn(),
        &rollcall::domain::LabelName::parse("gateway").unwrap(),
    )
    .expect("a gateway")
    .expose()
    .to_owned();
    let introspect = |client: &str| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        agent
            .post(format!("{base}/api/v1/tokens/introspect"))
            .header("Authorization", &format!("Bearer {client}"))
            .send_form([("token", carl_token.as_str())])
            .expect("an answer")
            .status()
            .as_u16()
    };
    let fake_client = rollcall::domain::ApiSecret::generate(rollcall::domain::SecretKind::Introspection)
        .expose()
        .to_owned();
    assert_eq!(introspect(&fake_client), 429);
    assert_eq!(introspect(&gateway), 200);

    // The console's pages for people who are not signed in: a page, not JSON.
    let page = |forwarded: Option<&str>| {
        let headers: Vec<(&str, &str)> = forwarded.map(|ip| ("X-Forwarded-For", ip)).into_iter().collect();
        send(base, "GET", "/invite/not-a-real-link", None, None, &headers)
    };
    assert_ne!(page(None).status, 429);
    assert_ne!(
        page(Some("203.0.113.9")).status,
        429,
        "a forwarded address from an untrusted peer is ignored"
    );
    let slowed = page(None);
    assert_eq!(slowed.status, 429);
    assert!(
        slowed.content_type.starts_with("text/html"),
        "{}",
        slowed.content_type
    );
    assert!(slowed.header("retry-after").is_some());
}

fn behind_a_trusted_proxy_the_forwarded_address_is_the_client_everywhere() {
    let server = TestServer::start_with(&["--trusted-proxies", "127.0.0.1", "--rate-limit-sign-in", "2/min"]);
    let (org, ada) = server.app.org_owned_by("Acme AI", "ada@example.com");
    let bob = server.app.member(&org, "bob@example.com", Role::ADMIN);
    let ada_token = token(&server, &ada, AccessLevel::Operations);
    let base = &server.base;
    let open = |forwarded: &str| {
        send(
            base,
            "GET",
            "/invite/not-a-real-link",
            None,
            None,
            &[("X-Forwarded-For", forwarded)],
        )
        .status
    };
    assert_ne!(open("198.51.100.1"), 429);
    assert_ne!(open("198.51.100.1"), 429);
    assert_eq!(open("198.51.100.1"), 429);
    assert_ne!(
        open("198.51.100.2"),
        429,
        "each forwarded client is counted apart"
    );
    // The nearest untrusted hop is the client: what it claims before that is not believed.
    assert_eq!(open("198.51.100.2, 198.51.100.1"), 429);

    let changed = send(
        base,
        "PATCH",
        &format!("/api/v1/orgs/acme-ai/members/{}", bob.id),
        Some(&ada_token),
        Some(br#"{"role":"developer"}"#),
        &[("X-Forwarded-For", "192.0.2.77")],
    );
    assert_eq!(changed.status, 200, "{}", changed.json);
    let recorded: Option<String> = {
        use diesel::prelude::*;
        use rollcall::db::schema::audit_events;
        audit_events::table
            .filter(audit_events::action.eq("member.role_changed"))
            .select(audit_events::client_ip)
            .first(&mut *server.app.conn())
            .expect("the event")
    };
    assert_eq!(recorded.as_deref(), Some("192.0.2.77"));
}

crate::tests![
    the_api_takes_operations_tokens_and_answers_problems_otherwise,
    a_retry_that_follows_a_rename_gets_the_first_answer,
    the_member_list_pages_by_cursor_without_skipping_or_repeating_anyone,
    role_changes_and_removals_over_the_api_keep_every_rule,
    a_service_account_acts_as_itself_within_its_role,
    invitations_over_the_api_are_all_or_nothing_and_safe_to_retry,
    the_openapi_document_lists_every_api_route_and_each_one_answers,
    rate_limits_answer_429_with_headers_and_count_each_client_apart,
    behind_a_trusted_proxy_the_forwarded_address_is_the_client_everywhere,
];
