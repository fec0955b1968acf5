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
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, SchemaType, Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Header, Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::domain::text::{MAX_SEARCH_CHARS, has_control};
use crate::domain::{PersonName, Role};
use crate::services::{invitations, members};
use crate::web::errors::{Problem, RowError};

/// The API's role names, exactly: what `Role` reads from JSON and a query.
impl PartialSchema for Role {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Role::ALL.map(Role::as_str)))
            .into()
    }
}

impl ToSchema for Role {}

/// A search of the member list, as `SearchText` takes it.
pub fn search_text() -> Object {
    let mut search = one_line_text(MAX_SEARCH_CHARS);
    search.description = Some("Members whose name or email starts with this text (any case).".to_owned());
    search
}

/// An invitee's name, as `PersonName` takes it; blank or null: no name.
pub fn person_name() -> Object {
    let mut name = one_line_text(PersonName::MAX_CHARS);
    name.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
    name
}

/// Text that, trimmed, is at most `max_chars` characters without any that
/// [`has_control`] refuses: what the domain's one-line texts take. The
/// pattern says it exactly (leading and trailing white space, then the
/// text), and both character classes are read from the rules themselves
/// (`char::is_whitespace`, which `str::trim` follows, and [`has_control`]),
/// so the document follows them when they change.
fn one_line_text(max_chars: usize) -> Object {
    let refused = character_class(|c| has_control(c.encode_utf8(&mut [0; 4])));
    let space = character_class(char::is_whitespace);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^[{space}]*[^{refused}]{{0,{max_chars}}}[{space}]*$"
        )))
        .build()
}

/// The characters for which `wanted` holds, as the inside of a regular
/// expression's character class: runs as ranges, the characters themselves
/// (none of them is special inside a class).
fn character_class(wanted: impl Fn(char) -> bool) -> String {
    let mut class = String::new();
    let mut run: Option<(char, char)> = None;
    let close = |run: Option<(char, char)>, class: &mut String| {
        if let Some((first, last)) = run {
            class.push(first);
            if last != first {
                class.push('-');
                class.push(last);
            }
        }
    };
    for c in (char::MIN..=char::MAX).filter(|c| wanted(*c)) {
        run = match run {
            Some((first, last)) if u32::from(last) + 1 == u32::from(c) => Some((first, c)),
            done => {
                close(done, &mut class);
                Some((c, c))
            }
        };
    }
    close(run, &mut class);
    class
}

/// A member list's `cursor`: a previous page's `next_cursor`.
pub fn cursor() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Where to go on: a previous page's `next_cursor`, with the same sort and order.",
        ))
        .min_length(Some(1))
        .max_length(Some(members::MAX_CURSOR_CHARS))
        .pattern(Some("^[A-Za-z0-9_-]+$"))
        .build()
}

/// A batch's rows: one to [`invitations::MAX_BATCH`].
pub fn invitation_rows() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(super::invitations::InvitationRequest::schema())
        .min_items(Some(1))
        .max_items(Some(invitations::MAX_BATCH))
        .build()
}

/// The token check's answer: a live token's ([`Active`]), or only
/// `{"active": false}`. A schema, never a value: the handler writes both.
///
/// [`Active`]: crate::web::introspection::Active
pub enum IntrospectionAnswer {}

impl PartialSchema for IntrospectionAnswer {
    fn schema() -> RefOr<Schema> {
        let inactive = ObjectBuilder::new()
            .property(
                "active",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([false])),
            )
            .required("active")
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        OneOfBuilder::new()
            .item(Ref::from_schema_name("Active"))
            .item(inactive)
            .into()
    }
}

impl ToSchema for IntrospectionAnswer {}

/// The token check's refusals, in RFC 6749's error shape, which gateways
/// expect: `invalid_client` (401) for a caller that is not an introspection
/// client, `invalid_request` (400) for a body that is not a form. A schema,
/// never a value: the handler writes them.
pub enum OAuthError {}

impl PartialSchema for OAuthError {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property(
                "error",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["invalid_client", "invalid_request"])),
            )
            .property("error_description", String::schema())
            .required("error")
            .required("error_description")
            .into()
    }
}

impl ToSchema for OAuthError {}

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
        super::me,
        super::roles,
        super::members::members,
        super::members::change_member,
        super::members::remove_member,
        super::invitations::invitations,
        super::invitations::create_invitations,
        super::invitations::resend_invitation,
        super::invitations::revoke_invitation,
        document,
        crate::web::introspection::introspect,
    ),
    components(schemas(Problem, RowError, Role, IntrospectionAnswer, OAuthError, crate::web::introspection::Active)),
    modifiers(&Security, &StandardAnswers),
    tags(
        (name = "members", description = "Who is in the organization, with which role"),
        (name = "invitations", description = "Inviting people by email"),
        (name = "roles", description = "What each role may do"),
        (name = "tokens", description = "The token making the call"),
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

#[cfg(test)]
mod tests {
    use super::character_class;

    #[test]
    fn character_classes_are_runs_of_the_characters_wanted() {
        assert_eq!(character_class(|c| c.is_ascii_digit()), "0-9");
        assert_eq!(
            character_class(|c| matches!(c, 'a' | 'c'..='e' | '\u{202A}')),
            "ac-e\u{202A}"
        );
        let controls = character_class(|c| c.is_control());
        assert_eq!(controls, "\u{0}-\u{1F}\u{7F}-\u{9F}");
    }
}
