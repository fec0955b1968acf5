//! The OpenAPI 3.1 document of the JSON API, generated from the handlers'
//! annotations, served at `/api/v1/openapi.json`.
//!
//! The document is a promise: a request it allows is one the server takes,
//! and a request it forbids is one the server refuses. So its names are the
//! types the handlers read, its patterns are computed from the rules the
//! handlers apply (the schema functions below), its numeric bounds are
//! probed at and past each by a test that reads them from the document
//! (`utoipa` takes literals there), and the answers that come from the layers
//! every call passes through (the token, the rate limits, the database, the
//! organization in the path, the body) are added to every operation by
//! [`StandardAnswers`], by the same rules those layers follow.

use actix_web::HttpResponse;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Header, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::domain::Role;
use crate::web::errors::{Problem, RowError};
use crate::web::introspection::{IntrospectionAnswer, OAuthError};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
        components.add_security_scheme(
            "introspection_client",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Adds to every operation the answers of the layers it passes through,
/// where the operation's own annotation does not say more.
struct StandardAnswers;

impl Modify for StandardAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            for (reads, operation) in [
                (true, &mut item.get),
                (false, &mut item.post),
                (false, &mut item.put),
                (false, &mut item.patch),
                (false, &mut item.delete),
            ] {
                if let Some(operation) = operation {
                    standard_answers(path, reads, operation);
                }
            }
        }
    }
}

fn standard_answers(path: &str, reads: bool, operation: &mut Operation) {
    let schemes: Vec<String> = operation
        .security
        .iter()
        .flatten()
        .filter_map(|requirement| serde_json::to_value(requirement).ok())
        .filter_map(|requirement| {
            requirement
                .as_object()
                .map(|names| names.keys().cloned().collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    let api_token = schemes.iter().any(|scheme| scheme == "bearer");
    let json_body = operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.contains_key("application/json"));
    let form_body = operation.request_body.is_some() && !json_body;
    let query = operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| parameter.parameter_in == ParameterIn::Query);
    let seconds = || Header::new(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)));
    let mut answers = Vec::new();
    // The rate limits count every call under /api/.
    answers.push((
        "429",
        problem("Too many requests: wait `Retry-After` seconds").header("Retry-After", seconds()),
    ));
    if api_token {
        answers.push((
            "401",
            problem("No API token, or one that is not live (expired, revoked, its holder gone)")
                .header("WWW-Authenticate", Header::new(String::schema())),
        ));
        answers.push((
            "403",
            problem("The token's access, or its holder's role now, does not allow this"),
        ));
    }
    if !schemes.is_empty() {
        answers.push((
            "503",
            problem("The database is not answering; nothing was done. Try again after `Retry-After` seconds")
                .header("Retry-After", seconds()),
        ));
    }
    if path.contains("{slug}") {
        answers.push((
            "404",
            problem("No such organization for this token, or nothing by that id in it"),
        ));
        let moved = ResponseBuilder::new()
            .description("The organization was renamed: the same call at its new slug (`Location`)")
            .header("Location", Header::new(String::schema()));
        answers.push((if reads { "301" } else { "308" }, moved));
    }
    if json_body || form_body {
        answers.push(("413", problem("The body is larger than this call takes")));
    }
    if json_body || query {
        answers.push((
            "422",
            problem("A parameter or the body is not usable (an unknown field, a wrong type, a value out of bounds); nothing was done"),
        ));
    }
    for (status, answer) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(answer.build()));
    }
}

/// An answer whose body is a [`Problem`].
pub fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/problem+json",
        Content::new(Some(Ref::from_schema_name(Problem::name()))),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rollcall",
        description = "Members, invitations and roles of a Rollcall organization. \
            Authenticate with `Authorization: Bearer <token>`: a personal API token or a \
            service-account key with operations access. A token reaches only its own organization. \
            Errors are RFC 9457 problem documents (`application/problem+json`). A method a path \
            does not answer is 405, with the methods it does in `Allow`. Answers carry \
            `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; past the limit, 429 \
            with `Retry-After`."
    ),
    paths(
        super::me::me,
        super::roles::roles,
        super::members::members,
        super::members::change_member,
        super::members::remove_member,
        super::invitations::invitations,
        super::invitations::create_invitations,
        super::invitations::resend_invitation,
        super::invitations::revoke_invitation,
        super::tokens::tokens,
        super::tokens::create_token,
        super::tokens::change_token,
        document,
        crate::web::introspection::introspect,
        super::authorize::authorize,
    ),
    components(schemas(Problem, RowError, Role, IntrospectionAnswer, OAuthError, crate::web::introspection::Active)),
    modifiers(&Security, &StandardAnswers),
    tags(
        (name = "members", description = "Who is in the organization, with which role"),
        (name = "invitations", description = "Inviting people by email"),
        (name = "roles", description = "What each role may do"),
        (name = "tokens", description = "API tokens, their limits, and the checks a gateway makes"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "roles",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn document() -> HttpResponse {
    // Built once: it is the same for the life of the process, and its
    // patterns are computed by looking at every character.
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let document = DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.as_str())
}
