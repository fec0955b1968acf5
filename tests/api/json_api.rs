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
    };
    tokens::create_personal(&mut server.app.conn(), &as_user(user), &org, None, &request)
        .expect("a token")
        .secret
        .expose()
        .to_owned()
}

#[test]
fn the_api_takes_operations_tokens_and_answers_problems_otherwise() {
    let server = TestServer::start();
    let (org, _) = server.app.org_owned_by("Acme AI", "ada@example.com");
    let dev = server.app.member(&org, "dev@example.com", Role::Developer);
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
    assert_eq!(rows.len(), rollcall::domain::policy::TABLE.len());
    for (row, grant) in rows.iter().zip(rollcall::domain::policy::TABLE.iter()) {
        assert_eq!(row["permission"], grant.description);
        assert_eq!(row["lowest_role"], grant.lowest.as_str());
    }
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
