//! Where a token works from and how often a key may be used: checked by the
//! token check, the authorize call and the API, set by the token's holder
//! (networks) or by owners and admins, in the console and the API; and what
//! must not happen (a refused change changes nothing, a person's token gets
//! no rate, nobody sets another member's limits without the role for it).

use rollcall::domain::policy::TokenScope;
use rollcall::domain::{AccessLevel, ClientNetworks, KeyRate, LabelName, Lifetime, Role, TokenLimits};
use rollcall::services::service_accounts::{self, AccountRequest, KeyRequest};
use rollcall::services::tokens::{self, TokenRequest};
use serde_json::{Value, json};

use crate::helpers::as_user;
use crate::http::TestServer;
use crate::json_api::{get, json as call_json, send};
use crate::tokens::gateway;

fn limits(networks: &str, rate: Option<&str>) -> TokenLimits {
    TokenLimits {
        networks: ClientNetworks::parse(networks).expect("networks"),
        rate: rate.map(|rate| KeyRate::parse(rate).expect("a rate")),
    }
}

fn token_request(access: AccessLevel, limits: TokenLimits) -> TokenRequest {
    TokenRequest {
        name: LabelName::parse("CI deploys").expect("a name"),
        access,
        lifetime: Lifetime::DEFAULT,
        scope: Default::default(),
        limits,
    }
}

/// The token check's answer for `token`, asked as from `client_ip`.
fn introspect(
    base: &str,
    client: &str,
    token: &str,
    client_ip: Option<&str>,
) -> (u16, Option<String>, Value) {
    let mut form = vec![("token", token)];
    if let Some(ip) = client_ip {
        form.push(("client_ip", ip));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{base}/api/v1/tokens/introspect"))
        .header("Authorization", &format!("Bearer {client}"))
        .send_form(form)
        .expect("an answer");
    let status = response.status().as_u16();
    let wait = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, wait, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn authorize(base: &str, client: &str, question: &Value) -> crate::json_api::Answer {
    let bytes = question.to_string().into_bytes();
    send(base, "POST", "/api/v1/authorize", Some(client), Some(&bytes), &[])
}

fn a_token_works_only_from_its_networks_at_every_check() {
    let server = TestServer::start_with(&["--trusted-proxies", "127.0.0.1"]);
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let carl = app.member(&org, "carl@example.com", Role::DEVELOPER);
    let client = gateway(app);
    let carls = tokens::create_personal(
        &mut app.conn(),
        &as_user(&carl),
        &org,
        None,
        &token_request(AccessLevel::Operations, limits("10.0.0.0/8, 2001:db8::/32", None)),
    )
    .expect("a token");
    let carls = carls.secret.expose().to_owned();
    let base = server.base.as_str();

    // The token check: live from inside the networks, inactive from
    // outside them, and from the gateway's own address when it passes none.
    assert_eq!(
        introspect(base, &client, &carls, Some("10.1.2.3")).2["active"],
        true
    );
    assert_eq!(
        introspect(base, &client, &carls, Some("2001:db8::7")).2["active"],
        true
    );
    assert_eq!(
        introspect(base, &client, &carls, Some("::ffff:10.1.2.3")).2["active"],
        true
    );
    // Outside, or an address that is not one: never the gateway's own
    // (127.0.0.1, a trusted proxy here) in its place.
    for outside in [
        Some("192.0.2.1"),
        Some("11.0.0.1"),
        None,
        Some(""),
        Some("10.0.0.1:443"),
        Some("[10.0.0.1]"),
    ] {
        let (status, _, answer) = introspect(base, &client, &carls, outside);
        assert_eq!(
            (status, &answer),
            (200, &json!({ "active": false })),
            "{outside:?}"
        );
    }

    // The authorize call: refused from outside, with why; allowed inside.
    let question = |ip: &str| json!({ "token": carls, "permission": "platform.create", "client_ip": ip });
    let outside = authorize(base, &client, &question("192.0.2.1"));
    assert_eq!(outside.status, 200);
    assert_eq!(outside.json["allowed"], false, "{}", outside.json);
    let reason = outside.json["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("192.0.2.1"), "{reason}");
    assert_eq!(
        authorize(base, &client, &question("10.0.0.9")).json["allowed"],
        true
    );

    // Rollcall's own API, from the caller's address (behind a trusted proxy).
    send(base, "GET", "/api/v1/me", Some(&carls), None, &[]).problem(401, "unauthenticated");
    let inside = send(
        base,
        "GET",
        "/api/v1/me",
        Some(&carls),
        None,
        &[("X-Forwarded-For", "10.9.9.9")],
    );
    assert_eq!(inside.status, 200, "{}", inside.json);

    // A token made through this one works only from within its networks.
    let through_office = |body: Value| {
        let bytes = body.to_string().into_bytes();
        send(
            base,
            "POST",
            "/api/v1/orgs/acme-ai/tokens",
            Some(&carls),
            Some(&bytes),
            &[("X-Forwarded-For", "10.9.9.9")],
        )
    };
    let tokens_before = app.count("api_tokens");
    for networks in [json!([]), json!(["11.0.0.0/8"]), json!(["10.0.0.0/7"])] {
        through_office(json!({ "name": "x", "access": "inference", "networks": networks }))
            .problem(403, "forbidden");
    }
    assert_eq!(app.count("api_tokens"), tokens_before);
    let made = through_office(json!({ "name": "x", "access": "inference", "networks": ["10.1.0.0/16"] }));
    assert_eq!(made.status, 201, "{}", made.json);

    // A refused use neither shows as the token's last nor holds back the
    // next one's.
    let fresh = tokens::create_personal(
        &mut app.conn(),
        &as_user(&carl),
        &org,
        None,
        &token_request(AccessLevel::Inference, limits("10.0.0.0/8", None)),
    )
    .expect("a token");
    assert_eq!(
        introspect(base, &client, fresh.secret.expose(), Some("192.0.2.1")).2["active"],
        false
    );
    assert_eq!(
        introspect(base, &client, fresh.secret.expose(), Some("10.7.7.7")).2["active"],
        true
    );
    let last_used_from = || {
        let viewer = app.viewer(&as_user(&carl), &org).expect("a member");
        tokens::list(&mut app.conn(), &viewer, &as_user(&carl))
            .expect("the list")
            .into_iter()
            .find(|token| token.id == fresh.id)
            .and_then(|token| token.last_used_ip)
    };
    assert!(
        crate::tokens::within_a_second(|| last_used_from().as_deref() == Some("10.7.7.7")),
        "the use from 10.7.7.7 was not recorded: {:?}",
        last_used_from()
    );
}

fn a_key_past_its_rate_gets_429_with_retry_after_on_each_server_apart() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let client = gateway(app);
    let account = AccountRequest {
        name: LabelName::parse("batch").expect("a name"),
        description: Default::default(),
        role: Role::DEVELOPER,
    };
    service_accounts::create(&mut app.conn(), &as_user(&ada), &org, &account).expect("an account");
    let key = |rate: Option<&str>| {
        let request = KeyRequest {
            name: None,
            access: AccessLevel::Inference,
            lifetime: Lifetime::DEFAULT,
            limits: limits("", rate),
        };
        service_accounts::create_key(&mut app.conn(), &as_user(&ada), &org, "batch", &request)
            .expect("a key")
            .secret
            .expose()
            .to_owned()
    };
    let (metered, free) = (key(Some("2/min")), key(None));
    let base = server.base.as_str();

    for _ in 0..2 {
        assert_eq!(introspect(base, &client, &metered, None).2["active"], true);
    }
    let (status, wait, answer) = introspect(base, &client, &metered, None);
    assert_eq!(status, 429, "{answer}");
    let wait: u64 = wait.and_then(|wait| wait.parse().ok()).expect("Retry-After");
    assert!((1..=30).contains(&wait), "Retry-After {wait}");
    let asked = authorize(
        base,
        &client,
        &json!({ "token": metered, "permission": "platform.use" }),
    );
    assert_eq!(asked.status, 429, "{}", asked.json);
    assert!(asked.header("retry-after").is_some());
    // Another key is not held back, nor is the same key on another server.
    for _ in 0..5 {
        assert_eq!(introspect(base, &client, &free, None).2["active"], true);
    }
    let second = server.another_server();
    assert_eq!(introspect(&second, &client, &metered, None).2["active"], true);
}

fn limits_are_set_by_the_holder_or_owners_and_admins_and_refusals_change_nothing() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let carl = app.member(&org, "carl@example.com", Role::DEVELOPER);
    let erin = app.member(&org, "erin@example.com", Role::CONTRIBUTOR);
    let operations = |who| {
        tokens::create_personal(
            &mut app.conn(),
            &as_user(who),
            &org,
            None,
            &token_request(AccessLevel::Operations, TokenLimits::default()),
        )
        .expect("a token")
    };
    let (adas, carls, erins) = (operations(&ada), operations(&carl), operations(&erin));
    let (ada_secret, carl_secret, erin_secret) = (
        adas.secret.expose().to_owned(),
        carls.secret.expose().to_owned(),
        erins.secret.expose().to_owned(),
    );
    let base = server.base.as_str();
    let carls_path = format!("/api/v1/orgs/acme-ai/tokens/{}", carls.id);
    let listed_networks = |token: &str, id: &str| {
        get(base, "/api/v1/orgs/acme-ai/tokens", token).json["tokens"]
            .as_array()
            .and_then(|tokens| tokens.iter().find(|token| token["id"] == id).cloned())
            .map(|token| (token["networks"].clone(), token["rate"].clone()))
    };

    // Carl limits his own token's networks, with another of his tokens: a
    // token cannot change its own limits, which could lock it out.
    call_json(
        base,
        "PATCH",
        &carls_path,
        &carl_secret,
        &json!({ "networks": ["10.0.0.0/8"] }),
    )
    .problem(409, "conflict");
    let carls_other = operations(&carl).secret.expose().to_owned();
    let changed = call_json(
        base,
        "PATCH",
        &carls_path,
        &carls_other,
        &json!({ "networks": ["10.0.0.0/8"] }),
    );
    assert_eq!(changed.status, 200, "{}", changed.json);
    assert_eq!(changed.json["networks"], json!(["10.0.0.0/8"]));
    // The token only works from there now: Ada sets it back for him.
    send(base, "GET", "/api/v1/me", Some(&carl_secret), None, &[]).problem(401, "unauthenticated");
    // A forwarded address is believed only from a trusted proxy: none here.
    send(
        base,
        "GET",
        "/api/v1/me",
        Some(&carl_secret),
        None,
        &[("X-Forwarded-For", "10.0.0.5")],
    )
    .problem(401, "unauthenticated");
    let reset = call_json(
        base,
        "PATCH",
        &carls_path,
        &ada_secret,
        &json!({ "networks": [] }),
    );
    assert_eq!(reset.status, 200, "{}", reset.json);
    assert_eq!(get(base, "/api/v1/me", &carl_secret).status, 200);

    // Refusals change nothing: Erin cannot see Carl's token, a person's
    // token has no rate, a network must be one.
    let before = listed_networks(&ada_secret, &carls.id);
    let events = app.audit_events(&org).len();
    // Carl, a developer, cannot see or change a service account's key.
    let account = AccountRequest {
        name: LabelName::parse("batch").expect("a name"),
        description: Default::default(),
        role: Role::VIEWER,
    };
    service_accounts::create(&mut app.conn(), &as_user(&ada), &org, &account).expect("an account");
    let key = KeyRequest {
        name: None,
        access: AccessLevel::Inference,
        lifetime: Lifetime::DEFAULT,
        limits: TokenLimits::default(),
    };
    let key =
        service_accounts::create_key(&mut app.conn(), &as_user(&ada), &org, "batch", &key).expect("a key");
    let events = events + 2;
    call_json(
        base,
        "PATCH",
        &format!("/api/v1/orgs/acme-ai/tokens/{}", key.id),
        &carls_other,
        &json!({ "rate": "1/h" }),
    )
    .problem(404, "not-found");
    call_json(
        base,
        "PATCH",
        &carls_path,
        &erin_secret,
        &json!({ "networks": ["0.0.0.0/0"] }),
    )
    .problem(404, "not-found");
    call_json(
        base,
        "PATCH",
        &carls_path,
        &ada_secret,
        &json!({ "rate": "10/s" }),
    )
    .problem(422, "invalid");
    for bad in [
        json!(["10.0.0.0/33"]),
        json!(["10.0.0.0/8,11.0.0.0/8"]),
        json!([""]),
        json!(["<b>x</b>"]),
        json!(null),
        json!("10.0.0.0/8"),
    ] {
        let refused = call_json(
            base,
            "PATCH",
            &carls_path,
            &ada_secret,
            &json!({ "networks": bad }),
        );
        refused.problem(422, "invalid");
    }
    let many: Vec<String> = (0..33).map(|at| format!("10.0.{at}.0/24")).collect();
    call_json(
        base,
        "PATCH",
        &carls_path,
        &ada_secret,
        &json!({ "networks": many }),
    )
    .problem(422, "invalid");
    call_json(
        base,
        "PATCH",
        &carls_path,
        &ada_secret,
        &json!({ "networks": [], "extra": 1 }),
    )
    .problem(422, "invalid");
    assert_eq!(listed_networks(&ada_secret, &carls.id), before);
    assert_eq!(
        app.audit_events(&org).len(),
        events,
        "a refused change was recorded"
    );

    // Each change is in the audit log, before and after, in words.
    let said: Vec<String> = app
        .audit_events(&org)
        .into_iter()
        .filter(|event| event.action == "token.restricted")
        .map(|event| {
            format!(
                "{} {} {}",
                event.before_state.unwrap_or_default(),
                event.after_state.unwrap_or_default(),
                event.target_name
            )
        })
        .collect();
    assert_eq!(said.len(), 2, "{said:?}");
    assert!(said.iter().any(|event| event.contains("10.0.0.0/8")), "{said:?}");
    let mut owner = server.signed_in("ada@example.com");
    let audit = owner.get("/orgs/acme-ai/audit");
    audit.assert_contains(
        "changed the limits of the API token “CI deploys” from none to only from 10.0.0.0/8",
    );
    audit.assert_contains(
        "changed the limits of the API token “CI deploys” of Carl from only from 10.0.0.0/8 to none",
    );
}

fn the_console_sets_limits_and_shows_them_and_a_bad_network_is_shown_again() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, _) = app.org_owned_by("Acme AI", "ada@example.com");
    let carl = app.member(&org, "carl@example.com", Role::DEVELOPER);
    app.member(&org, "erin@example.com", Role::CONTRIBUTOR);
    let carls = tokens::create_personal(
        &mut app.conn(),
        &as_user(&carl),
        &org,
        None,
        &token_request(AccessLevel::Inference, TokenLimits::default()),
    )
    .expect("a token");
    let path = format!("/orgs/acme-ai/tokens/{}/limits", carls.id);

    let mut browser = server.signed_in("carl@example.com");
    let page = browser.get(&path);
    assert_eq!(page.status, 200);
    page.assert_contains("Works from");
    assert!(!page.contains("name=\"rate\""), "a person's token has no rate");

    let refused = browser.post(&path, &[("networks", "10.0.0.0/8, <script>x</script>")]);
    assert_eq!(refused.status, 422);
    refused.assert_contains("is not a network");
    refused.assert_contains("10.0.0.0/8, &#60;script&#62;x&#60;/script&#62;");
    assert!(!refused.contains("<script>x"));

    let saved = browser.post(&path, &[("networks", "10.0.0.0/8 203.0.113.7")]);
    assert_eq!(saved.status, 303);
    let list = browser.get("/orgs/acme-ai/tokens");
    list.assert_contains("from 10.0.0.0/8 203.0.113.7");

    // A member who may not manage others' tokens cannot reach the page.
    let mut erin = server.signed_in("erin@example.com");
    assert_eq!(erin.get(&path).status, 404);
    assert_eq!(erin.post(&path, &[("networks", "")]).status, 404);
    let list = browser.get("/orgs/acme-ai/tokens");
    list.assert_contains("from 10.0.0.0/8 203.0.113.7");

    // A token made with its networks from the form.
    let once = browser
        .get("/orgs/acme-ai/tokens")
        .field("once")
        .expect("a one-time value");
    let made = browser.post(
        "/orgs/acme-ai/tokens",
        &[
            ("name", "office only"),
            ("access", "inference"),
            ("days", "30"),
            ("networks", "198.51.100.0/24"),
            ("once", once.as_str()),
        ],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    browser
        .get("/orgs/acme-ai/tokens")
        .assert_contains("from 198.51.100.0/24");
}

fn a_member_makes_a_token_over_the_api_never_beyond_their_role() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let carl = app.member(&org, "carl@example.com", Role::CONTRIBUTOR);
    let operations = |who| {
        tokens::create_personal(
            &mut app.conn(),
            &as_user(who),
            &org,
            None,
            &token_request(AccessLevel::Operations, TokenLimits::default()),
        )
        .expect("a token")
        .secret
        .expose()
        .to_owned()
    };
    let carls = operations(&carl);
    let client = gateway(app);
    let base = server.base.as_str();
    let path = "/api/v1/orgs/acme-ai/tokens";

    let made = call_json(
        base,
        "POST",
        path,
        &carls,
        &json!({ "name": "deploys", "access": "inference", "permissions": ["platform.use"],
                 "networks": ["10.0.0.0/8"], "expires_in_days": 7 }),
    );
    assert_eq!(made.status, 201, "{}", made.json);
    let secret = made.json["secret"].as_str().expect("the secret, once").to_owned();
    assert!(secret.starts_with("rcp_"));
    assert_eq!(made.json["token"]["networks"], json!(["10.0.0.0/8"]));
    assert_eq!(made.json["token"]["holder"], "Carl (carl@example.com)");
    let (_, _, answer) = introspect(base, &client, &secret, Some("10.0.0.1"));
    assert_eq!(answer["permissions"], json!(["platform.use"]), "{answer}");
    assert_eq!(answer["sub"], json!(carl.id));

    // What must not happen: a token beyond the caller's role, a permission
    // that does not exist, bad input; none makes a token.
    let before = app.count("api_tokens");
    let refusals = [
        (
            json!({ "name": "x", "access": "operations", "permissions": ["platform.manage_others"] }),
            403,
        ),
        (
            json!({ "name": "x", "access": "operations", "permissions": ["members.invite"] }),
            403,
        ),
        (
            json!({ "name": "x", "access": "operations", "permissions": ["no.such"] }),
            422,
        ),
        (
            json!({ "name": "x", "access": "operations", "permissions": [] }),
            422,
        ),
        (json!({ "name": " ", "access": "operations" }), 422),
        (json!({ "name": "x", "access": "owner" }), 422),
        (
            json!({ "name": "x", "access": "inference", "expires_in_days": 3 }),
            422,
        ),
        (
            json!({ "name": "x", "access": "inference", "networks": ["10.0.0.0/99"] }),
            422,
        ),
        (json!({ "name": "x", "access": "inference", "rate": "1/s" }), 422),
    ];
    for (body, status) in refusals {
        let refused = call_json(base, "POST", path, &carls, &body);
        assert_eq!(refused.status, status, "{body}: {}", refused.json);
    }
    assert_eq!(app.count("api_tokens"), before, "a refused call made a token");

    // A service account makes no personal token.
    let account = AccountRequest {
        name: LabelName::parse("batch").expect("a name"),
        description: Default::default(),
        role: Role::ADMIN,
    };
    service_accounts::create(&mut app.conn(), &as_user(&ada), &org, &account).expect("an account");
    let key = KeyRequest {
        name: None,
        access: AccessLevel::Operations,
        lifetime: Lifetime::DEFAULT,
        limits: TokenLimits::default(),
    };
    let key = service_accounts::create_key(&mut app.conn(), &as_user(&ada), &org, "batch", &key)
        .expect("a key")
        .secret
        .expose()
        .to_owned();
    let before = app.count("api_tokens");
    let refused = call_json(
        base,
        "POST",
        path,
        &key,
        &json!({ "name": "x", "access": "inference" }),
    );
    refused.problem(422, "invalid");
    assert_eq!(app.count("api_tokens"), before);
}

fn a_narrowed_token_reaches_through_the_api_only_what_it_carries() {
    let server = TestServer::start();
    let app = &server.app;
    let (org, ada) = app.org_owned_by("Acme AI", "ada@example.com");
    let carl = app.member(&org, "carl@example.com", Role::DEVELOPER);
    let narrowed = |permissions: &[&str]| {
        let request = TokenRequest {
            scope: TokenScope::named(permissions.iter().copied()).expect("permissions"),
            ..token_request(AccessLevel::Operations, TokenLimits::default())
        };
        tokens::create_personal(&mut app.conn(), &as_user(&ada), &org, None, &request)
            .expect("a token")
            .secret
            .expose()
            .to_owned()
    };
    let viewing = narrowed(&["members.view"]);
    let making = narrowed(&["members.view", "tokens.create_inference", "platform.use"]);
    let base = server.base.as_str();

    // The owner's token made to view members views them, and does nothing
    // else her role would allow.
    assert_eq!(get(base, "/api/v1/orgs/acme-ai/members", &viewing).status, 200);
    let (invitations, tokens_before) = (app.count("invitations"), app.count("api_tokens"));
    call_json(
        base,
        "POST",
        "/api/v1/orgs/acme-ai/invitations",
        &viewing,
        &json!({ "invitations": [{ "email": "eve@example.com", "role": "viewer" }] }),
    )
    .problem(403, "forbidden");
    call_json(
        base,
        "PATCH",
        &format!("/api/v1/orgs/acme-ai/members/{}", carl.id),
        &viewing,
        &json!({ "role": "admin" }),
    )
    .problem(403, "forbidden");
    send(
        base,
        "DELETE",
        &format!("/api/v1/orgs/acme-ai/members/{}", carl.id),
        Some(&viewing),
        None,
        &[],
    )
    .problem(403, "forbidden");
    assert_eq!(app.role_of(&org, &carl), Some(Role::DEVELOPER));
    assert_eq!(app.count("invitations"), invitations);

    // A token made through a narrowed one is narrowed within it.
    let path = "/api/v1/orgs/acme-ai/tokens";
    for (body, refusal) in [
        (
            json!({ "name": "x", "access": "operations", "permissions": ["members.view"] }),
            "forbidden",
        ),
        (json!({ "name": "x", "access": "inference" }), "forbidden"),
        (
            json!({ "name": "x", "access": "inference", "permissions": ["platform.use", "members.invite"] }),
            "forbidden",
        ),
    ] {
        call_json(base, "POST", path, &viewing, &body).problem(403, refusal);
        call_json(base, "POST", path, &making, &body).problem(403, refusal);
    }
    assert_eq!(
        app.count("api_tokens"),
        tokens_before,
        "a refused call made a token"
    );
    let made = call_json(
        base,
        "POST",
        path,
        &making,
        &json!({ "name": "x", "access": "inference", "permissions": ["platform.use"] }),
    );
    assert_eq!(made.status, 201, "{}", made.json);
}

crate::tests![
    a_narrowed_token_reaches_through_the_api_only_what_it_carries,
    a_member_makes_a_token_over_the_api_never_beyond_their_role,
    a_token_works_only_from_its_networks_at_every_check,
    a_key_past_its_rate_gets_429_with_retry_after_on_each_server_apart,
    limits_are_set_by_the_holder_or_owners_and_admins_and_refusals_change_nothing,
    the_console_sets_limits_and_shows_them_and_a_bad_network_is_shown_again,
];
