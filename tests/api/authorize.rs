//! "May this token do this?": `POST /api/v1/authorize`, and the permissions
//! the token check lists, over HTTP on one and two servers.

use rollcall::domain::{AccessLevel, Role};
use rollcall::services::Actor;
use rollcall::services::members::{self, MemberRef};
use rollcall::services::tokens;
use serde_json::{Value, json};

use crate::helpers::as_user;
use crate::http::TestServer;
use crate::tokens::{gateway, request, within_a_second};

/// Asks the server at `base`, with `client`'s secret: the status and the answer.
fn ask(base: &str, client: &str, question: &Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{base}/api/v1/authorize"))
        .header("Authorization", &format!("Bearer {client}"))
        .content_type("application/json")
        .send(question.to_string())
        .expect("an answer");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn introspected(base: &str, client: &str, token: &str) -> Value {
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

fn the_platform_asks_what_a_token_may_do_and_is_told_why() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let carl = app.member(&org, "carl@example.com", Role::CONTRIBUTOR);
    let dev = app.member(&org, "dev@example.com", Role::DEVELOPER);
    let client = gateway(app);
    let token_of = |who, access| {
        tokens::create_personal(&mut app.conn(), &as_user(who), &org, None, &request(access))
            .expect("a token")
            .secret
            .expose()
            .to_owned()
    };
    let carls = token_of(&carl, AccessLevel::Operations);
    let devs = token_of(&dev, AccessLevel::Operations);
    let carls_inference = token_of(&carl, AccessLevel::Inference);
    let base = server.base.as_str();

    // Carl, a contributor, may create, and change his own…
    let (status, answer) = ask(
        base,
        &client,
        &json!({ "token": carls, "permission": "platform.create" }),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["allowed"], true, "{answer}");
    assert_eq!(answer["active"], true);
    assert_eq!(
        answer["reason"],
        "Contributors may create deployments, models and datasets."
    );
    assert_eq!(answer["permission"], "platform.create");
    assert_eq!(
        (&answer["org"], &answer["sub"], &answer["kind"], &answer["role"]),
        (
            &json!("acme-ai"),
            &json!(carl.id),
            &json!("personal"),
            &json!("contributor")
        )
    );
    let own = json!({ "token": carls, "permission": "platform.create", "resource_owner": carl.id });
    assert_eq!(ask(base, &client, &own).1["allowed"], true);

    // …but not someone else's: that needs the permission over others'.
    let others = json!({ "token": carls, "permission": "platform.create", "resource_owner": dev.id });
    let (status, answer) = ask(base, &client, &others);
    assert_eq!((status, &answer["allowed"]), (200, &json!(false)), "{answer}");
    assert_eq!(answer["permission"], "platform.manage_others");
    assert_eq!(
        answer["reason"],
        "Only owners, admins and developers can manage others’ resources and view logs and monitoring."
    );
    // A developer may.
    let devs_question = json!({ "token": devs, "permission": "platform.create", "resource_owner": carl.id });
    let answer = ask(base, &client, &devs_question).1;
    assert_eq!(
        (&answer["allowed"], &answer["permission"]),
        (&json!(true), &json!("platform.manage_others"))
    );

    // Rollcall's own permissions are asked the same way.
    let invite = json!({ "token": carls, "permission": "members.invite" });
    let answer = ask(base, &client, &invite).1;
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(
        answer["reason"],
        "Only owners and admins can invite members and manage invitations."
    );

    // An inference token reaches inference alone, whatever its holder's role.
    let answer = ask(
        base,
        &client,
        &json!({ "token": carls_inference, "permission": "platform.use" }),
    )
    .1;
    assert_eq!(answer["allowed"], true, "{answer}");
    let answer = ask(
        base,
        &client,
        &json!({ "token": carls_inference, "permission": "platform.create" }),
    )
    .1;
    assert_eq!(answer["allowed"], false, "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("inference access only"),
        "{answer}"
    );

    // The token check lists the same permissions.
    let listed = introspected(base, &client, &carls);
    let permissions: Vec<&str> = listed["permissions"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        permissions.contains(&"platform.create") && permissions.contains(&"members.view"),
        "{listed}"
    );
    assert!(!permissions.contains(&"platform.manage_others") && !permissions.contains(&"members.invite"));
    assert_eq!(
        introspected(base, &client, &carls_inference)["permissions"],
        json!(["platform.use"])
    );

    // A token that is not live: not allowed, and nothing about anyone.
    for dead in ["", "nope", "rcp_0000", &carls.replace("rcp_", "rcs_")] {
        let (status, answer) = ask(
            base,
            &client,
            &json!({ "token": dead, "permission": "platform.use" }),
        );
        assert_eq!(status, 200);
        assert_eq!(answer["allowed"], false, "{answer}");
        assert_eq!(answer["active"], false);
        assert!(
            answer.get("sub").is_none() && answer.get("role").is_none(),
            "{answer}"
        );
    }

    // A permission that does not exist is the platform's mistake: 422, named.
    let (status, answer) = ask(
        base,
        &client,
        &json!({ "token": carls, "permission": "platform.delete_everything" }),
    );
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("“platform.delete_everything” is not a permission"),
        "{answer}"
    );
    for malformed in [
        json!({ "token": carls }),
        json!({ "token": carls, "permission": "platform.use", "role": "owner" }),
        json!(["platform.use"]),
    ] {
        assert_eq!(ask(base, &client, &malformed).0, 422, "{malformed}");
    }

    // Only an introspection client may ask: not a token, not a stranger.
    let question = json!({ "token": carls, "permission": "platform.use" });
    for stranger in ["", "wrong", carls.as_str()] {
        assert_eq!(ask(base, stranger, &question).0, 401, "{stranger}");
    }

    // Carl becomes a viewer: both servers say so within a second.
    let second = server.another_server();
    let create = json!({ "token": carls, "permission": "platform.create" });
    assert_eq!(ask(&second, &client, &create).1["allowed"], true);
    members::change_role(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(carl.id.clone()),
        Role::VIEWER,
    )
    .expect("a role change");
    // An operations token of a viewer no longer works at all.
    assert!(within_a_second(
        || ask(&second, &client, &create).1["active"] == false
    ));
    assert_eq!(ask(base, &client, &create).1["active"], false);
    let answer = ask(
        base,
        &client,
        &json!({ "token": carls_inference, "permission": "platform.create" }),
    )
    .1;
    assert_eq!(
        (&answer["allowed"], &answer["role"]),
        (&json!(false), &json!("viewer")),
        "{answer}"
    );
    assert_eq!(
        answer["reason"],
        "Only owners, admins, developers and contributors can create deployments, models and datasets."
    );
}

fn a_token_made_narrower_than_its_holder_stays_so() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let dev = app.member(&org, "dev@example.com", Role::DEVELOPER);
    let client = gateway(app);
    let base = server.base.as_str();
    let mut browser = server.signed_in("dev@example.com");
    let page = browser.get("/orgs/acme-ai/tokens");
    page.assert_contains("Only what I tick; it never gains more");
    page.assert_contains("value=\"platform.manage_others\"");
    assert!(
        !page.contains("value=\"audit.view\""),
        "offered a permission the role does not hold"
    );

    // Ticking one the role does not hold, or none, or one that is not a
    // permission, makes nothing.
    let narrow = |extra: &[(&'static str, &'static str)]| {
        let mut fields = vec![
            ("name", "Deploy bot"),
            ("access", "operations"),
            ("days", "30"),
            ("scope", "chosen"),
        ];
        fields.extend_from_slice(extra);
        fields
    };
    let refused = browser.post(
        "/orgs/acme-ai/tokens",
        &narrow(&[("permission", "platform.use"), ("permission", "audit.view")]),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    refused.assert_contains("You cannot give a token audit.view: your role does not hold it.");
    let refused = browser.post("/orgs/acme-ai/tokens", &narrow(&[]));
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("Tick at least one permission");
    refused.assert_contains("<details class=\"token-scope\" open>");
    let refused = browser.post(
        "/orgs/acme-ai/tokens",
        &narrow(&[("permission", "platform.nope")]),
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(app.count("api_tokens"), 0);

    let made = browser.post(
        "/orgs/acme-ai/tokens",
        &narrow(&[("permission", "platform.use"), ("permission", "members.view")]),
    );
    assert_eq!(made.status, 200, "{}", made.body);
    made.assert_contains("only members.view platform.use");
    let at = made.body.find("rcp_").expect("the secret, shown once") + 4;
    let rest: String = made.body[at..]
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    let token = format!("rcp_{rest}");

    assert_eq!(
        introspected(base, &client, &token)["permissions"],
        json!(["members.view", "platform.use"])
    );
    let answer = ask(
        base,
        &client,
        &json!({ "token": token, "permission": "platform.create" }),
    )
    .1;
    assert_eq!(
        (&answer["allowed"], &answer["active"]),
        (&json!(false), &json!(true)),
        "{answer}"
    );
    assert_eq!(
        answer["reason"],
        "This token was made to carry fewer permissions than its holder has, and platform.create is not among them."
    );
    let allowed = ask(
        base,
        &client,
        &json!({ "token": token, "permission": "platform.use" }),
    )
    .1;
    assert_eq!(allowed["allowed"], true, "{allowed}");

    // Its holder becomes an admin: the token gains nothing.
    members::change_role(
        &mut app.conn(),
        &Actor::command_line(),
        &org,
        &MemberRef::Id(dev.id.clone()),
        Role::ADMIN,
    )
    .expect("a role change");
    assert!(within_a_second(
        || introspected(base, &client, &token)["role"] == "admin"
    ));
    assert_eq!(
        introspected(base, &client, &token)["permissions"],
        json!(["members.view", "platform.use"])
    );
    let invite = ask(
        base,
        &client,
        &json!({ "token": token, "permission": "members.invite" }),
    )
    .1;
    assert_eq!(invite["allowed"], false, "{invite}");

    // The command line narrows the same way, in the same words.
    let create = |access: &str, permission: &str| {
        crate::helpers::rollcall(
            app,
            &[
                "token",
                "create",
                "--org",
                "acme-ai",
                "--user",
                "dev@example.com",
                "--access",
                access,
                "--permission",
                permission,
            ],
        )
    };
    let refused = create("inference", "platform.create");
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(
        said.contains("This token has inference access only, which does not reach platform.create"),
        "{said}"
    );
    let said = String::from_utf8_lossy(&create("inference", "nope").stderr).into_owned();
    assert!(said.contains("“nope” is not a permission"), "{said}");
    let made = create("inference", "platform.use");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    assert_eq!(app.count("api_tokens"), 2);
}

crate::tests![
    the_platform_asks_what_a_token_may_do_and_is_told_why,
    a_token_made_narrower_than_its_holder_stays_so,
];
