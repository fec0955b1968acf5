//! "May this caller do this?" for the platform: `POST /api/v1/authorize`
//! takes the token a request came with, the permission the request needs
//! and, where the platform tells one's own resources from others', whose
//! resource it is. Authenticated as the token check is, by an
//! introspection client, and answered from the same kept grants: a kept
//! token costs no read.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::json::json_body;
use crate::domain::ApiSecret;
use crate::domain::policy::{self, Owner, Permission};
use crate::error::Error;
use crate::services::tokens::{Checked, TokenGrant};
use crate::web::errors::Problem;
use crate::web::introspection::client_known;
use crate::web::state::AppState;

/// The question.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// The token the caller presented to the platform.
    token: String,
    /// A permission's name, as the token check lists them (`platform.create`).
    #[schema(schema_with = permission_names)]
    permission: String,
    /// Whose resource the request acts on: a user's or a service account's
    /// id, as the token check's `sub`. Left out: the caller's own, or no
    /// resource in particular. Someone else's needs the permission over
    /// others' resources where the policy has one (`platform.create` then
    /// needs `platform.manage_others`).
    resource_owner: Option<String>,
    /// The caller's address, checked against the token's networks (a token
    /// limited to networks is refused without one) and recorded as its last
    /// use; anything but an IP address is no address.
    client_ip: Option<String>,
}

/// The names of the policy's permissions, exactly.
fn permission_names() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(
            policy::current().permissions().iter().map(|row| row.name.clone()),
        ))
        .build()
}

/// The answer: for a live token, with the same facts as the token check;
/// otherwise `allowed` and `active` false and the reason alone.
#[derive(Serialize, ToSchema)]
pub struct Decision {
    allowed: bool,
    /// Why, in words fit to show the caller.
    reason: String,
    /// Whether the token is live.
    active: bool,
    /// The permission the answer was decided on: the one asked about, or
    /// the one over others' resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    permission: Option<&'static str>,
    /// The organization's slug.
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<String>,
    /// The person's user id, or the service account's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    /// `personal` or `service_account`.
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    /// The holder's role now.
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
}

impl Decision {
    /// The decision on a live token.
    fn about(grant: &TokenGrant, allowed: bool, reason: String, permission: Permission) -> Self {
        Decision {
            allowed,
            reason,
            active: true,
            permission: Some(permission.name()),
            org: Some(grant.org_slug.to_string()),
            sub: Some(grant.subject.to_string()),
            kind: Some(grant.kind.as_str()),
            role: Some(grant.role.as_str()),
        }
    }
}

const NOT_ACTIVE: &str = "The token is not active: it is unknown, expired or revoked, or its holder is gone.";

/// Whether the token may use the permission, on its holder's own resource
/// or on someone else's. A token that is not live is `allowed: false` with
/// `active: false`; an unknown permission is 422, as a typo in the
/// platform's code should be loud.
#[utoipa::path(post, path = "/api/v1/authorize", tag = "tokens",
    request_body = Question,
    responses(
        (status = 200, description = "The decision, allowed or not", body = Decision),
        (status = 401, description = "No introspection client's secret", body = Problem,
            content_type = "application/problem+json", headers(("WWW-Authenticate" = String))),
        (status = 429, description = "A service account's key whose rate is spent", body = Problem,
            content_type = "application/problem+json", headers(("Retry-After" = u64))),
    ),
    security(("introspection_client" = [])))]
pub async fn authorize(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Error> {
    if !client_known(&state, &req).await? {
        return Err(Error::Unauthenticated(
            "Send an introspection client's secret as Authorization: Bearer <secret>.".to_owned(),
        ));
    }
    let (_, question) = json_body::<Question>(payload).await?;
    let asked = Permission::named(&question.permission).ok_or_else(|| {
        Error::Invalid(format!(
            "“{}” is not a permission. The permissions are: {}.",
            question.permission.chars().take(64).collect::<String>(),
            policy::current()
                .permissions()
                .iter()
                .map(|row| row.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let client_ip = question
        .client_ip
        .as_deref()
        .and_then(|text| text.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical());
    let checked = match ApiSecret::parse(&question.token) {
        Ok(secret) => state.live_token(secret, client_ip).await?,
        Err(_) => Checked::Inactive,
    };
    let decision = match checked {
        Checked::Inactive => Decision {
            allowed: false,
            reason: NOT_ACTIVE.to_owned(),
            active: false,
            permission: None,
            org: None,
            sub: None,
            kind: None,
            role: None,
        },
        Checked::RateSpent { retry_after, .. } => {
            return Err(Error::RateLimited {
                retry_after: crate::web::limits::retry_after(retry_after),
            });
        }
        Checked::OutsideNetworks(grant) => Decision::about(
            &grant,
            false,
            crate::web::gateway::outside_networks(client_ip),
            asked,
        ),
        Checked::Live(grant) => {
            let owner = match &question.resource_owner {
                Some(owner) if !grant.subject.is(owner) => Owner::Other,
                _ => Owner::Caller,
            };
            match grant.powers().may(asked, owner) {
                Ok(needed) => Decision::about(
                    &grant,
                    true,
                    format!("{}s may {}.", grant.role.label(), needed.verb()),
                    needed,
                ),
                Err(denied) => {
                    let permission = denied.permission().unwrap_or(asked);
                    Decision::about(&grant, false, denied.to_string(), permission)
                }
            }
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(decision))
}
