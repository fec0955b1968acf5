//! The token check for the platform's gateway: `POST /api/v1/tokens/introspect`
//! in the shape of RFC 7662. It sits in front of every inference call, so
//! answers are kept in memory; every server watches the database's record of
//! changes (`auth_changes`) a few times a second and forgets what it keeps
//! when one appears, so a revocation on any server holds on every server
//! within a second.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::policy::Permission;
use crate::domain::{AccessLevel, ApiSecret};
use crate::error::Error;
use crate::services::tokens::Checked;
use crate::web::errors::Problem;
use crate::web::state::AppState;

/// Whether the request comes from a live introspection client (the
/// gateway), marked so for the rate limits when it does.
pub async fn client_known(state: &AppState, req: &HttpRequest) -> Result<bool, Error> {
    let Some(client) = super::credentials::client_secret(req) else {
        return Ok(false);
    };
    let known = state.is_client(client).await?;
    if known {
        super::credentials::mark_authenticated(req);
    }
    Ok(known)
}

fn inactive() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "active": false }))
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"rollcall\""))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "error": "invalid_client",
            "error_description": "Send an introspection client's secret as Authorization: Bearer <secret>, or as the password of HTTP Basic."
        }))
}

/// Whether the body is a form (RFC 7662's only encoding), as it says or as
/// a request that says nothing is taken to be.
fn is_form(req: &HttpRequest) -> bool {
    let Some(content_type) = req.headers().get(header::CONTENT_TYPE) else {
        return true;
    };
    content_type
        .to_str()
        .ok()
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A body in another encoding (JSON, say) is refused rather than read as an
/// empty form: that would answer `active: false` for a live token.
fn not_a_form() -> HttpResponse {
    HttpResponse::BadRequest()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "error": "invalid_request",
            "error_description": "Send the token as a form (Content-Type: application/x-www-form-urlencoded): token=…"
        }))
}

/// The scope a token acts with (RFC 7662: space-separated): operations
/// tokens reach the inference endpoints too.
fn scope(access: AccessLevel) -> &'static str {
    match access {
        AccessLevel::Operations => "operations inference",
        AccessLevel::Inference => "inference",
    }
}

/// The token check (RFC 7662), for the platform's gateway: authenticated by
/// an introspection client's secret as the bearer. Anything that is not a
/// live token is `{"active": false}`, with no reason given.
#[utoipa::path(post, path = "/api/v1/tokens/introspect", tag = "tokens",
    request_body(content_type = "application/x-www-form-urlencoded",
        description = "`token=…`: the token the gateway was given; optionally `client_ip=…`, its caller's address: checked against the token's networks (a token limited to networks is inactive without it) and recorded as its last use"),
    responses(
        (status = 200, description = "For a live token; only `active: false` otherwise", body = IntrospectionAnswer),
        (status = 400, description = "A body that is not a form (`invalid_request`)", body = OAuthError),
        (status = 401, description = "No introspection client's secret (`invalid_client`)", body = OAuthError,
            headers(("WWW-Authenticate" = String))),
        (status = 429, description = "A service account's key whose rate is spent", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64))),
    ),
    security(("introspection_client" = [])))]
pub async fn introspect(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    if !client_known(&state, &req).await? {
        return Ok(unauthorized());
    }
    if !is_form(&req) {
        return Ok(not_a_form());
    }
    let mut presented = None;
    let mut client_ip = None;
    for (key, value) in url::form_urlencoded::parse(&body) {
        match key.as_ref() {
            "token" => presented = Some(value.into_owned()),
            "client_ip" => client_ip = value.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical()),
            _ => {}
        }
    }
    let Some(secret) = presented.and_then(|text| ApiSecret::parse(&text).ok()) else {
        return Ok(inactive());
    };
    // Only the address the gateway names: the gateway's own is not its
    // caller's, and a token limited to networks is refused without one.
    // A token used from outside its networks is not active for this call.
    let grant = match state.live_token(secret, client_ip).await? {
        Checked::Live(grant) => grant,
        Checked::Inactive | Checked::OutsideNetworks(_) => return Ok(inactive()),
        Checked::RateSpent { retry_after, .. } => {
            return Err(Error::RateLimited {
                retry_after: crate::web::limits::retry_after(retry_after),
            });
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Active {
            active: true,
            org: &grant.org_slug,
            sub: grant.subject.to_string(),
            kind: grant.kind.as_str(),
            role: grant.role.as_str(),
            scope: scope(grant.access),
            permissions: grant
                .powers()
                .permissions()
                .into_iter()
                .map(Permission::name)
                .collect(),
            exp: grant.expires_at.and_utc().timestamp(),
        }))
}

/// The answer for a live token (RFC 7662's members, and Rollcall's `org`,
/// `kind` and `role`).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Active<'a> {
    active: bool,
    /// The organization's slug.
    org: &'a str,
    /// The person's user id, or the service account's id.
    sub: String,
    /// `personal` or `service_account`.
    kind: &'static str,
    /// The holder's role now.
    role: &'static str,
    /// `operations inference` or `inference`.
    scope: &'static str,
    /// What the token may do now: its holder's role's permissions, as far
    /// as its access level reaches (`POST /api/v1/authorize` asks about one).
    permissions: Vec<&'static str>,
    /// When the token expires, in seconds since 1970.
    exp: i64,
}

/// The token check's answer: a live token's ([`Active`]), or only
/// `{"active": false}`. A schema, never a value: the handler writes both.
///
/// [`Active`]: Active
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
