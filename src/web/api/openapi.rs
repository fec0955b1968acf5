//! The OpenAPI 3.1 document of the JSON API, generated from the handlers'
//! annotations, served at `/api/v1/openapi.json`.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// An RFC 9457 problem document: every error under `/api/`.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A stable name for the kind of error, such as `/problems/last-owner`,
    /// `/problems/forbidden` or `/problems/invalid-rows`.
    r#type: String,
    title: String,
    status: u16,
    /// What went wrong, in words for a person.
    detail: String,
    /// For `/problems/invalid-rows`: each row's problem, by its position
    /// from 0 (`index`), with its own `type` (`/problems/invalid-email`,
    /// `/problems/already-a-member`, `/problems/already-invited`, …).
    #[schema(value_type = Option<Vec<Object>>)]
    errors: Option<Vec<serde_json::Value>>,
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rollcall",
        description = "Members, invitations and roles of a Rollcall organization. \
            Authenticate with `Authorization: Bearer <token>`: a personal API token or a \
            service-account key with operations access. A token reaches only its own organization. \
            Errors are RFC 9457 problem documents (`application/problem+json`). Answers carry \
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
    components(schemas(Problem)),
    modifiers(&BearerToken),
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
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ApiDoc::openapi().to_json().unwrap_or_default())
}
