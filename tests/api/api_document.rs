//! The API's document (`/api/v1/openapi.json`) says what the server
//! enforces: the names and bounds read from the document are exactly the
//! ones the server takes, one past them is refused, and a method a path
//! does not answer is 405 with the methods it does. (`.ci/api-contract`
//! runs schemathesis over the whole document; these pin the classes it
//! found, on both databases, in the suite.)

use std::collections::BTreeSet;

use rollcall::domain::Role;
use serde_json::{Value, json};

use crate::http::TestServer;
use crate::json_api::{Answer, get, json, send};
use crate::operations::operations_token;

/// Acme AI, owned by Ada (whose operations token this is), with Dave, a viewer.
fn acme() -> (TestServer, String, rollcall::services::users::User) {
    let server = TestServer::start();
    let (org, ada) = server.app.org_owned_by("Acme AI", "ada@example.com");
    let dave = server.app.member(&org, "dave@example.com", Role::VIEWER);
    let token = operations_token(&server.app, &org, &ada);
    (server, token, dave)
}

/// The schema of query parameter `name` of `GET path` in the document.
fn query_schema<'a>(document: &'a Value, path: &str, name: &str) -> &'a Value {
    document["paths"][path]["get"]["parameters"]
        .as_array()
        .and_then(|parameters| parameters.iter().find(|parameter| parameter["name"] == name))
        .map(|parameter| &parameter["schema"])
        .unwrap_or_else(|| panic!("{path} documents {name}"))
}

fn bounds(schema: &Value) -> (u64, u64) {
    (
        schema["minimum"].as_u64().expect("a minimum"),
        schema["maximum"].as_u64().expect("a maximum"),
    )
}

fn names(schema: &Value) -> Vec<String> {
    schema["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .filter_map(|name| name.as_str().map(str::to_owned))
        .collect()
}

#[track_caller]
fn taken(answer: &Answer, what: &str) {
    assert_eq!(
        answer.status, 200,
        "{what} is documented, so taken: {}",
        answer.json
    );
}

fn a_method_an_api_path_does_not_answer_is_405_naming_the_ones_it_does() {
    let (server, token, dave) = acme();
    let base = &server.base;
    let mut served: std::collections::BTreeMap<&str, BTreeSet<String>> = Default::default();
    for (method, template) in rollcall::web::ROUTES {
        if template.starts_with("/api/") {
            served
                .entry(template)
                .or_default()
                .insert(method.to_ascii_uppercase());
        }
    }
    for (template, methods) in &served {
        let path = template.replace("{slug}", "acme-ai").replace("{id}", &dave.id);
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "OPTIONS"] {
            if methods.contains(method) {
                continue;
            }
            let answer = send(base, method, &path, Some(&token), None, &[]);
            answer.problem(405, "method-not-allowed");
            let allowed: BTreeSet<String> = answer
                .header("allow")
                .unwrap_or_default()
                .split(',')
                .map(|method| method.trim().to_owned())
                .collect();
            assert_eq!(&allowed, methods, "Allow of {method} {path}");
        }
    }

    let dave_path = format!("/api/v1/orgs/acme-ai/members/{}", dave.id);
    json(base, "PUT", &dave_path, &token, &json!({"role": "admin"})).problem(405, "method-not-allowed");
    send(
        base,
        "DELETE",
        "/api/v1/orgs/acme-ai/members",
        Some(&token),
        None,
        &[],
    )
    .problem(405, "method-not-allowed");
    let org = server.app.org("acme-ai");
    assert_eq!(
        server.app.role_of(&org, &dave),
        Some(Role::VIEWER),
        "a refused method changes nothing"
    );

    send(base, "GET", "/api/v1/nothing-here", Some(&token), None, &[]).problem(404, "not-found");
    assert_eq!(
        send(base, "PUT", "/profile", None, None, &[]).status,
        404,
        "the console's pages are not the API: an unknown method there is not found"
    );
}

fn the_names_and_bounds_in_the_document_are_the_ones_the_server_takes() {
    let (server, token, _) = acme();
    let base = &server.base;
    let document = get(base, "/api/v1/openapi.json", &token).json;
    let members = "/api/v1/orgs/{slug}/members";
    let invitations = "/api/v1/orgs/{slug}/invitations";
    let list = "/api/v1/orgs/acme-ai/members";
    let pending = "/api/v1/orgs/acme-ai/invitations";

    for parameter in ["role", "sort", "order"] {
        let documented = names(query_schema(&document, members, parameter));
        for name in &documented {
            taken(&get(base, &format!("{list}?{parameter}={name}"), &token), name);
        }
        // The document's names exactly: not another case, not padded.
        for name in [
            documented[0].to_uppercase(),
            format!("%20{}", documented[0]),
            "other".to_owned(),
            String::new(),
        ] {
            get(base, &format!("{list}?{parameter}={name}"), &token).problem(422, "invalid");
        }
    }

    for (path, url, parameter) in [
        (members, list, "limit"),
        (invitations, pending, "per_page"),
        (invitations, pending, "page"),
    ] {
        let (minimum, maximum) = bounds(query_schema(&document, path, parameter));
        for within in [minimum, maximum] {
            taken(
                &get(base, &format!("{url}?{parameter}={within}"), &token),
                parameter,
            );
        }
        for beyond in [minimum - 1, maximum + 1] {
            get(base, &format!("{url}?{parameter}={beyond}"), &token).problem(422, "invalid");
        }
    }

    let search = query_schema(&document, members, "search");
    let pattern = search["pattern"].as_str().expect("a pattern");
    assert!(pattern.contains("{0,200}"), "{pattern}");
    taken(
        &get(base, &format!("{list}?search={}", "a".repeat(200)), &token),
        "200 characters",
    );
    taken(
        &get(base, &format!("{list}?search=%20{}%20", "a".repeat(200)), &token),
        "padding",
    );
    get(base, &format!("{list}?search={}", "a".repeat(201)), &token).problem(422, "invalid");
    get(base, &format!("{list}?search=a%0Ab"), &token).problem(422, "invalid");

    let invited = server.app.count("invitations");
    let rows = &document["components"]["schemas"]["InvitationBatch"]["properties"]["invitations"];
    let most = rows["maxItems"].as_u64().expect("maxItems");
    assert_eq!(rows["minItems"], 1);
    for count in [0, most + 1] {
        let batch: Vec<Value> = (0..count)
            .map(|n| json!({"email": format!("p{n}@example.com"), "role": "viewer"}))
            .collect();
        json(base, "POST", pending, &token, &json!({ "invitations": batch })).problem(422, "invalid");
    }
    json(
        base,
        "POST",
        pending,
        &token,
        &json!({"invitations": [{"email": "ada.b@example.com", "role": "Viewer"}]}),
    )
    .problem(422, "invalid-rows");
    assert_eq!(
        server.app.count("invitations"),
        invited,
        "nothing refused was invited"
    );
}

crate::tests![
    a_method_an_api_path_does_not_answer_is_405_naming_the_ones_it_does,
    the_names_and_bounds_in_the_document_are_the_ones_the_server_takes,
];
