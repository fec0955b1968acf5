//! The JSON API under `/api/v1`, for the operators who script the platform:
//! authenticated by an API token with operations access, answering errors as
//! problem documents (see `errors::problem_adapter`), calling the same
//! services as the console and the command line.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use crate::domain::{AccessLevel, ApiSecret, Role, SecretKind, policy};
use crate::error::Error;
use crate::services::now;
use crate::services::tokens::{self, TokenGrant};

/// Who is calling: a live token with operations access, as its holder's role
/// allows now.
pub struct Caller {
    pub grant: TokenGrant,
}

fn unauthenticated(why: &str) -> Error {
    Error::Unauthenticated(format!(
        "{why} Send an API token with operations access as Authorization: Bearer <token>."
    ))
}

/// Reads and checks the request's bearer token.
pub async fn caller(state: &AppState, req: &HttpRequest) -> Result<Caller, Error> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim().to_owned())
        .ok_or_else(|| unauthenticated("This call needs an API token."))?;
    let secret = ApiSecret::parse(&presented)
        .ok()
        .filter(|secret| matches!(secret.kind(), SecretKind::Personal | SecretKind::ServiceAccount))
        .ok_or_else(|| unauthenticated("This is not a Rollcall API token."))?;
    let grant = state
        .read(move |conn| tokens::grant(conn, &secret))
        .await?
        .filter(|grant| grant.is_active(now()))
        .ok_or_else(|| {
            unauthenticated("This token is expired, revoked, or no longer works for its holder.")
        })?;
    if grant.access != AccessLevel::Operations {
        return Err(Error::Forbidden(policy::Denied::InferenceOnly));
    }
    Ok(Caller { grant })
}

#[derive(Serialize)]
struct Me<'a> {
    kind: &'static str,
    id: &'a str,
    org: &'a str,
    role: &'static str,
    access: &'static str,
    token_expires_at: String,
}

/// `GET /api/v1/me`: who the token acts as, where, and with which role now.
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let Caller { grant } = caller(&state, &req).await?;
    Ok(HttpResponse::Ok().json(Me {
        kind: grant.kind.as_str(),
        id: &grant.subject,
        org: &grant.org_slug,
        role: grant.role.as_str(),
        access: grant.access.as_str(),
        token_expires_at: grant.expires_at.and_utc().to_rfc3339(),
    }))
}

#[derive(Serialize)]
struct PolicyRow {
    permission: &'static str,
    /// The lowest role that has it; every role above has it too.
    lowest_role: &'static str,
    roles: Vec<&'static str>,
}

/// `GET /api/v1/orgs/{slug}/roles`: the permission table as data, the same
/// table the server enforces and the Roles page shows.
pub async fn roles(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let Caller { grant } = caller(&state, &req).await?;
    let slug = path.into_inner();
    if slug != grant.org_slug {
        return Err(crate::services::organizations::not_found(
            &slug.chars().take(60).collect::<String>(),
        ));
    }
    let rows: Vec<PolicyRow> = policy::TABLE
        .iter()
        .map(|grant| PolicyRow {
            permission: grant.description,
            lowest_role: grant.lowest.as_str(),
            roles: Role::ALL
                .into_iter()
                .filter(|role| grant.permission.allows(*role))
                .map(Role::as_str)
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "roles": Role::ALL.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
        "permissions": rows,
    })))
}
