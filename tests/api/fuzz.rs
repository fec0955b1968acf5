//! Bad input on every route, taken from the router itself: control
//! characters, NUL, overlong text, invalid UTF-8, wrong types, missing,
//! repeated and unknown fields, huge bodies, the wrong content type. Every
//! answer is below 500 and nothing changes. A fixed seed keeps a failure
//! repeatable; `ROLLCALL_FUZZ_CASES` asks for more generated bodies per route.

use crate::helpers::rollcall;
use rollcall::domain::Role;
use rollcall::web::ROUTES;

use crate::http::{Browser, Page, TestServer};

/// Values no route can use: in a path segment, a query string or a form.
const BAD_VALUES: &[&str] = &[
    "%00",
    "a%00b",
    "%0B",
    "%0C",
    "%1B%5B31m",
    "%7F",
    "%C2%85",
    "%0D%0ASet-Cookie:%20x=1",
    "%09%2F%2Fevil.example",
    "%FF%FE",
    "%C0%AF",
    "..%2F..%2Fetc",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "-1",
    "99999999999999999999",
    "",
];

/// Field names the console's forms use, and a few they do not.
const FIELDS: &[&str] = &[
    "email",
    "emails",
    "name",
    "role",
    "row_role",
    "remove",
    "next",
    "invitation_id",
    "q",
    "page",
    "unknown",
];

/// Query keys the pages read.
const QUERY_KEYS: &[&str] = &[
    "q", "role", "sort", "dir", "page", "next", "org", "code", "state", "error",
];

struct Fixture {
    bob_id: String,
    invitation_id: String,
}

/// A small, deterministic generator (xorshift): the same cases on every run.
struct Cases(u64);

impl Cases {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }

    /// A form body in which at least one field holds a control character:
    /// whatever else it holds, no route may act on it.
    fn hostile_body(&mut self) -> Vec<u8> {
        let mut parts = Vec::new();
        let fields = 1 + self.next() % 4;
        for _ in 0..fields {
            let field = self.pick(FIELDS);
            let value = self.pick(BAD_VALUES);
            parts.push(format!("{field}={value}"));
            if self.next().is_multiple_of(3) {
                parts.push(format!("{field}={value}"));
            }
        }
        let field = self.pick(FIELDS);
        let control = self.pick(&["%00", "%01", "%0B", "%1F", "%7F", "%C2%9F"]);
        parts.insert(
            (self.next() % (parts.len() as u64 + 1)) as usize,
            format!("{field}=x{control}y"),
        );
        let mut body = parts.join("&").into_bytes();
        if self.next().is_multiple_of(4) {
            body.extend_from_slice(b"&name=\xff\xfe");
        }
        body
    }
}

fn setup() -> (TestServer, Browser, Fixture) {
    // Thousands of requests from one address: past the usual limits, which
    // have their own tests (json_api.rs); here every request must reach its
    // route to show how it treats bad input.
    let server = TestServer::start_with(&["--rate-limit-sign-in", "1000000/min"]);
    let mut ada = server.signed_in("ada@example.com");
    assert_eq!(ada.post("/orgs", &[("name", "Acme AI")]).status, 303);
    let org = server.app.org("acme-ai");
    let bob = server.app.member(&org, "bob@example.com", Role::DEVELOPER);
    let carol = server.app.invite(&org, "carol@example.com", Role::VIEWER);
    ada.get("/orgs/acme-ai/members");
    let fixture = Fixture {
        bob_id: bob.id,
        invitation_id: carol.invitation_id,
    };
    (server, ada, fixture)
}

/// The path with each `{param}` filled: the real value, or `bad` for the one named.
fn fill(template: &str, fixture: &Fixture, bad: Option<(&str, &str)>) -> String {
    let mut path = String::new();
    for segment in template.split('/').skip(1) {
        path.push('/');
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            path.push_str(segment);
            continue;
        };
        match bad {
            Some((param, value)) if param == name => path.push_str(value),
            _ => path.push_str(match name {
                "slug" => "acme-ai",
                "user_id" => &fixture.bob_id,
                "id" => &fixture.invitation_id,
                "provider" => "github",
                "change" => "disable",
                "token" => "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                other => panic!("no value for {{{other}}} in {template}: add one here"),
            }),
        }
    }
    path
}

fn params(template: &str) -> Vec<&str> {
    template
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

#[track_caller]
fn below_500(page: &Page, what: &str) {
    assert!(page.status < 500, "{what}: {} {}", page.status, page.body);
}

/// Routes that need no field to act: a body that reaches them acts.
fn acts_without_fields(template: &str) -> bool {
    !matches!(
        template,
        "/login/dev"
            | "/orgs"
            | "/orgs/{slug}/invitations/review"
            | "/orgs/{slug}/invitations"
            | "/orgs/{slug}/members/{user_id}/role"
            | "/orgs/{slug}/tokens"
            | "/orgs/{slug}/service-accounts"
            | "/orgs/{slug}/service-accounts/{id}/keys"
    )
}

fn every_route_refuses_bad_input_below_500_and_changes_nothing() {
    let (server, mut ada, fixture) = setup();
    let before = server.app.snapshot();
    let users_before = server.app.count("users");
    let extra: usize = std::env::var("ROLLCALL_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut cases = Cases(0x5eed_1234_abcd_ef01);
    assert!(ROUTES.len() > 20, "the route table lists the router");
    for &(method, template) in ROUTES {
        // Every bad value in every path parameter, with a valid CSRF token
        // and a valid-looking body: nothing to act on.
        for param in params(template) {
            for bad in BAD_VALUES.iter().copied().chain([&*"x".repeat(5000)]) {
                let path = fill(template, &fixture, Some((param, bad)));
                let page = match method {
                    "get" => ada.get(&path),
                    _ => ada.raw(
                        &method.to_ascii_uppercase(),
                        &path,
                        "application/x-www-form-urlencoded",
                        b"",
                        false,
                    ),
                };
                below_500(&page, &format!("{method} {path}"));
            }
        }
        let path = fill(template, &fixture, None);
        match method {
            "get" => {
                for _ in 0..(12 + extra) {
                    let pairs: Vec<String> = (0..1 + cases.next() % 4)
                        .map(|_| format!("{}={}", cases.pick(QUERY_KEYS), cases.pick(BAD_VALUES)))
                        .collect();
                    let url = format!("{path}?{}", pairs.join("&"));
                    below_500(&ada.get(&url), &format!("GET {url}"));
                    below_500(&ada.hx_get(&url, "members-table"), &format!("htmx GET {url}"));
                }
            }
            _ if template.starts_with("/api/") => {
                for _ in 0..(10 + extra) {
                    let body = cases.hostile_body();
                    let verb = method.to_ascii_uppercase();
                    let page = ada.raw(&verb, &path, "application/x-www-form-urlencoded", &body, false);
                    assert_eq!(page.status, 401, "{verb} {path} without a token");
                }
            }
            // The gateway's check, asked by someone who is not a proxy set up
            // for it: refused whatever the method and the body.
            _ if template.starts_with("/gateway/") => {
                for verb in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                    let body = cases.hostile_body();
                    let page = ada.raw(verb, &path, "application/x-www-form-urlencoded", &body, false);
                    assert_eq!(page.status, 407, "{verb} {path} without a client's secret");
                }
            }
            _ => {
                for round in 0..(10 + extra) {
                    let body = cases.hostile_body();
                    let htmx = round % 2 == 1;
                    let page = ada.raw("POST", &path, "application/x-www-form-urlencoded", &body, htmx);
                    below_500(&page, &format!("POST {path} {}", String::from_utf8_lossy(&body)));
                    assert_eq!(page.status, 422, "POST {path} {}", String::from_utf8_lossy(&body));
                }
                let huge = vec![b'a'; 600 * 1024];
                let page = ada.raw("POST", &path, "application/x-www-form-urlencoded", &huge, false);
                assert_eq!(page.status, 413, "POST {path} with a huge body");
                if !acts_without_fields(template) {
                    let json = br#"{"email":"mallory@example.com","role":"owner"}"#;
                    let page = ada.raw("POST", &path, "application/json", json, false);
                    below_500(&page, &format!("POST {path} as JSON"));
                    let page = ada.raw("POST", &path, "application/x-www-form-urlencoded", b"", false);
                    below_500(&page, &format!("POST {path} with no fields"));
                }
            }
        }
        // A route that signs out (or was sent bad input after one) may have
        // ended the session: sign in again for the next route.
        if ada.get("/profile").status != 200 {
            ada = server.signed_in("ada@example.com");
        }
    }
    assert_eq!(server.app.snapshot(), before, "bad input changed something");
    assert_eq!(server.app.count("users"), users_before, "bad input made a user");
}

fn redirect_targets_stay_on_this_server() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    for next in [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0B",
        "/%0C",
        "/%00",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/%20/evil.example",
        "/.//evil.example",
        "/..//evil.example",
        "/%2e%2e//evil.example",
        "/profile/../..//evil.example",
    ] {
        let page = ada.get(&format!("/login?next={next}"));
        assert_eq!(page.status, 303, "next={next}: {}", page.body);
        assert_eq!(page.location.as_deref(), Some("/"), "next={next}");
        let mut anonymous = server.browser();
        anonymous.get("/login");
        let signed = anonymous.post(
            "/login/dev",
            &[("email", "eve@example.com"), ("next", &urldecode(next))],
        );
        // A control character refuses the whole form; anything else signs
        // in and lands on the start page.
        let landed = (signed.status, signed.location.as_deref());
        assert!(
            matches!(landed, (303, Some("/")) | (422, None)),
            "dev sign-in next={next}: {landed:?}"
        );
    }
    let kept = ada.get("/login?next=%2Forgs%2Facme%2Fmembers%3Fpage%3D2");
    assert_eq!(kept.location.as_deref(), Some("/orgs/acme/members?page=2"));
}

fn urldecode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn a_form_that_is_not_utf8_is_refused_and_creates_nothing() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    ada.get("/profile");
    for body in [&b"name=%FF"[..], b"name=%C0%80", b"name=%ED%A0%80", b"name=\xfe"] {
        let page = ada.raw("POST", "/orgs", "application/x-www-form-urlencoded", body, false);
        assert_eq!(page.status, 422, "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(server.app.count("organizations"), 0);
}

/// A form is read whole into what its page expects: a field sent twice (a
/// second role smuggled after the first), one the page does not have, or
/// one missing is refused, and nothing is made.
fn a_form_with_a_field_twice_unknown_or_missing_is_refused_and_creates_nothing() {
    let server = TestServer::start();
    let mut ada = server.signed_in("ada@example.com");
    ada.get("/profile");
    for body in [
        "name=Acme&name=Globex",
        "name=Acme&owner=bob%40example.com",
        "",
        "title=Acme",
    ] {
        let page = ada.raw(
            "POST",
            "/orgs",
            "application/x-www-form-urlencoded",
            body.as_bytes(),
            false,
        );
        assert_eq!(page.status, 422, "{body}: {}", page.body);
        page.assert_contains("Reload the page and try again.");
    }
    assert_eq!(server.app.count("organizations"), 0);
    let made = ada.post("/orgs", &[("name", "Acme")]);
    assert_eq!(made.status, 303, "{}", made.body);
    assert_eq!(server.app.count("organizations"), 1);
    for body in [
        "name=CI&access=inference&days=30&access=operations",
        "name=CI&access=inference",
        "name=CI&access=inference&days=30&org=globex",
    ] {
        let page = ada.raw(
            "POST",
            "/orgs/acme/tokens",
            "application/x-www-form-urlencoded",
            body.as_bytes(),
            false,
        );
        assert_eq!(page.status, 422, "{body}: {}", page.body);
    }
    assert_eq!(server.app.count("api_tokens"), 0);
}

/// JSON no API route can act on: malformed, of the wrong shape or types,
/// with unknown fields, too deep, or naming nobody.
const HOSTILE_JSON: &[&str] = &[
    "",
    "{",
    "{\"role\": \"viewer\"",
    "null",
    "[]",
    "[\"viewer\"]",
    "\"viewer\"",
    "42",
    "{\"role\": null}",
    "{\"role\": 7}",
    "{\"role\": [\"viewer\"]}",
    "{\"role\": \"viewer\\u0000\"}",
    "{\"role\": \"\\ud800\"}",
    "{\"role\": \"viewer\", \"role\": \"owner\", \"x\": 1}",
    "{\"invitations\": null}",
    "{\"invitations\": {}}",
    "{\"invitations\": [null]}",
    "{\"invitations\": [{\"email\": 1, \"role\": \"viewer\"}]}",
    "{\"invitations\": [{\"email\": \"a\\u0000@example.com\", \"role\": \"viewer\"}]}",
    "{\"invitations\": [{\"email\": \"a@example.com\", \"role\": \"viewer\", \"admin\": true}]}",
    "{\"invitations\": [{\"email\": \"a@example.com\", \"role\": \"viewer\", \"name\": 5}]}",
    "{\"invitations\": [{\"email\": \"a@example.com\", \"role\": \"viewer\", \"name\": \"a\\nb\"}]}",
    "{\"invitations\": [{\"email\": \"a@example.com\", \"role\": \"Owner \\u0007\"}]}",
    "{\"invitations\": [{\"email\": \"a@example.com\", \"role\": \"viewer\"}], \"org\": \"other\"}",
    "\u{feff}{}",
    "{\"a\": 1e99999}",
];

fn every_api_route_refuses_bad_input_with_a_good_token_and_changes_nothing() {
    use rollcall::domain::{AccessLevel, LabelName, Lifetime};
    use rollcall::services::tokens::{self, TokenRequest};
    let (server, _ada, fixture) = setup();
    let org = server.app.org("acme-ai");
    let owner = server.app.user_by_email("ada@example.com");
    let request = TokenRequest {
        name: LabelName::parse("fuzz").unwrap(),
        access: AccessLevel::Operations,
        lifetime: Lifetime::DEFAULT,
        scope: Default::default(),
        limits: Default::default(),
    };
    let token = tokens::create_personal(
        &mut server.app.conn(),
        &crate::helpers::as_user(&owner),
        &org,
        None,
        &request,
    )
    .expect("a token")
    .secret
    .expose()
    .to_owned();
    let before = server.app.snapshot();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let call = |method: &str, path: &str, body: &[u8]| -> u16 {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", server.base))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .body(body.to_vec())
            .expect("a request");
        let response = agent.run(request).expect("an answer");
        let status = response.status().as_u16();
        assert!(
            status < 500,
            "{method} {path} {}: {status}",
            String::from_utf8_lossy(body)
        );
        status
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut cases = Cases(0xa91_5eed_0bad_cafe);
    for &(method, template) in ROUTES
        .iter()
        .filter(|(_, path)| path.starts_with("/api/v1/orgs/"))
    {
        let verb = method.to_ascii_uppercase();
        for param in params(template) {
            for bad in BAD_VALUES.iter().copied().chain([&*"x".repeat(5000)]) {
                let path = fill(template, &fixture, Some((param, bad)));
                call(&verb, &path, b"{\"role\":\"viewer\"}");
            }
        }
        let nobody = template.contains("{id}").then_some(("id", "no-such-id"));
        let path = fill(template, &fixture, nobody);
        if method == "get" {
            for _ in 0..20 {
                let pairs: Vec<String> = (0..1 + cases.next() % 4)
                    .map(|_| {
                        let key = cases.pick(&[
                            "search", "role", "sort", "order", "limit", "cursor", "page", "per_page", "x",
                        ]);
                        format!("{key}={}", cases.pick(BAD_VALUES))
                    })
                    .collect();
                call("GET", &format!("{path}?{}", pairs.join("&")), b"");
            }
        } else {
            for body in HOSTILE_JSON
                .iter()
                .map(|json| json.as_bytes())
                .chain([deep.as_bytes(), b"\xff\xfe{}"])
            {
                call(&verb, &path, body);
                // The organization's own path, where a good body would act.
                let path = fill(template, &fixture, None);
                if !path.contains("/resend") && method != "delete" {
                    let status = call(&verb, &path, body);
                    assert!(
                        (400..500).contains(&status),
                        "{verb} {path} {}: {status}",
                        String::from_utf8_lossy(body)
                    );
                }
            }
        }
    }
    assert_eq!(server.app.snapshot(), before, "bad input changed something");
}

/// Characters that break a line for some reader (a JSON Lines consumer that
/// honours Unicode line breaks), reorder the text around them, or show
/// nothing: no name or description may hold one, on any path.
const HIDDEN: &[char] = &[
    '\u{2028}',
    '\u{2029}',
    '\u{85}',
    '\u{202A}',
    '\u{202E}',
    '\u{2066}',
    '\u{2069}',
    '\u{200B}',
    '\u{200E}',
    '\u{200D}',
    '\u{FEFF}',
    '\u{AD}',
    '\u{2060}',
    '\u{61C}',
    '\u{E0041}',
];

/// Every name and description the database keeps, with the audit log's
/// snapshots and states.
fn stored_text(app: &crate::helpers::TestApp) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Text {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        t: Option<String>,
    }
    let columns = [
        ("users", "name"),
        ("organizations", "name"),
        ("memberships", "name"),
        ("invitations", "name"),
        ("api_tokens", "name"),
        ("service_accounts", "name"),
        ("service_accounts", "description"),
        ("introspection_clients", "name"),
        ("audit_events", "actor_name"),
        ("audit_events", "target_name"),
        ("audit_events", "before_state"),
        ("audit_events", "after_state"),
    ];
    let mut all = Vec::new();
    for (table, column) in columns {
        let rows: Vec<Text> = diesel::sql_query(format!("SELECT {column} AS t FROM {table}"))
            .load(&mut *app.conn())
            .expect("read the text");
        all.extend(rows.into_iter().filter_map(|row| row.t));
    }
    all
}

fn hidden_and_line_breaking_characters_are_refused_in_every_text_field_and_never_stored() {
    use rollcall::domain::{AccessLevel, LabelName, Lifetime};
    use rollcall::services::tokens::{self, TokenRequest};
    let (server, mut ada, _) = setup();
    let app = &server.app;
    let org = app.org("acme-ai");
    let owner = app.user_by_email("ada@example.com");
    let token = tokens::create_personal(
        &mut app.conn(),
        &crate::helpers::as_user(&owner),
        &org,
        None,
        &TokenRequest {
            name: LabelName::parse("fuzz").unwrap(),
            access: AccessLevel::Operations,
            lifetime: Lifetime::DEFAULT,
            scope: Default::default(),
            limits: Default::default(),
        },
    )
    .expect("a token")
    .secret
    .expose()
    .to_owned();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let kept = |app: &crate::helpers::TestApp| {
        let mut counts = app.snapshot();
        counts.extend(
            ["api_tokens", "service_accounts", "introspection_clients", "users"]
                .map(|table| app.count(table)),
        );
        counts
    };
    let before = kept(app);
    ada.get("/orgs/acme-ai/settings");
    for &hidden in HIDDEN {
        let text = format!("Acme{hidden}AI");
        let text = text.as_str();
        // The console's forms.
        for (path, fields) in [
            ("/orgs", vec![("name", text)]),
            (
                "/orgs/acme-ai/settings/rename",
                vec![("name", text), ("slug", "acme-ai")],
            ),
            (
                "/orgs/acme-ai/tokens",
                vec![("name", text), ("access", "inference"), ("days", "30")],
            ),
            (
                "/orgs/acme-ai/service-accounts",
                vec![("name", text), ("role", "viewer"), ("description", "")],
            ),
            (
                "/orgs/acme-ai/service-accounts",
                vec![("name", "ci"), ("role", "viewer"), ("description", text)],
            ),
            (
                "/orgs/acme-ai/invitations",
                vec![
                    ("email", "new@example.com"),
                    ("name", text),
                    ("row_role", "viewer"),
                ],
            ),
        ] {
            let page = ada.post(path, &fields);
            assert_eq!(page.status, 422, "POST {path} {text:?}: {}", page.body);
        }
        // The audit log's filters, which a download records.
        for key in ["actor", "target"] {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(key, text)
                .finish();
            for path in ["/orgs/acme-ai/audit", "/orgs/acme-ai/audit/download"] {
                let page = ada.get(&format!("{path}?{query}&format=jsonl"));
                assert_eq!(page.status, 422, "GET {path}?{query}: {}", page.body);
            }
        }
        // The JSON API.
        let body = serde_json::json!({
            "invitations": [{"email": "new@example.com", "role": "viewer", "name": text}]
        });
        let response = agent
            .post(format!("{}/api/v1/orgs/acme-ai/invitations", server.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 422, "the API took {text:?}");
    }
    // The command line: every text argument, with each kind of character.
    for hidden in ['\u{2028}', '\u{202E}', '\u{200B}', '\u{E0041}'] {
        let text = format!("Acme{hidden}AI");
        let text = text.as_str();
        for args in [
            vec!["org", "create", text, "--owner", "new@example.com"],
            vec!["org", "rename", "acme-ai", "--name", text],
            vec![
                "user",
                "create",
                "--org",
                "acme-ai",
                "--email",
                "new@example.com",
                "--name",
                text,
            ],
            vec![
                "token",
                "create",
                "--org",
                "acme-ai",
                "--user",
                "ada@example.com",
                "--access",
                "inference",
                "--name",
                text,
            ],
            vec![
                "service-account",
                "create",
                "--org",
                "acme-ai",
                "--name",
                text,
                "--role",
                "viewer",
            ],
            vec![
                "service-account",
                "create",
                "--org",
                "acme-ai",
                "--name",
                "ci",
                "--role",
                "viewer",
                "--description",
                text,
            ],
            vec!["introspection-client", "create", text],
        ] {
            let output = rollcall(app, &args);
            let said = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "rollcall {args:?} succeeded");
            assert_eq!(said.lines().count(), 1, "one line on stderr: {said:?}");
            assert!(said.contains("one line of visible text"), "{args:?}: {said}");
        }
    }
    assert_eq!(kept(app), before, "a refusal changed something");
    for text in stored_text(app) {
        assert!(!text.contains(HIDDEN), "stored: {text:?}");
    }
}

crate::tests![
    every_route_refuses_bad_input_below_500_and_changes_nothing,
    redirect_targets_stay_on_this_server,
    a_form_that_is_not_utf8_is_refused_and_creates_nothing,
    a_form_with_a_field_twice_unknown_or_missing_is_refused_and_creates_nothing,
    every_api_route_refuses_bad_input_with_a_good_token_and_changes_nothing,
    hidden_and_line_breaking_characters_are_refused_in_every_text_field_and_never_stored,
];
