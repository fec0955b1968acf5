//! `GET /api/v1/orgs/{slug}/roles`: what each role may do.

use super::caller::caller;
use crate::domain::{Role, policy};
use crate::error::Error;
use crate::web::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct PolicyRow {
    permission: &'static str,
    /// The lowest role that has it; every role above has it too.
    #[schema(value_type = Role)]
    lowest_role: &'static str,
    #[schema(value_type = Vec<Role>)]
    roles: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct Roles {
    /// Every role, lowest first.
    #[schema(value_type = Vec<Role>)]
    roles: Vec<&'static str>,
    permissions: Vec<PolicyRow>,
}

/// The permission table as data: the same table the server enforces and the
/// Roles page shows.
#[utoipa::path(get, path = "/api/v1/orgs/{slug}/roles", tag = "roles",
    params(("slug" = String, Path, description = "The organization's slug")),
    responses(
        (status = 200, body = Roles),
    ),
    security(("bearer" = [])))]
pub async fn roles(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.org(&state, &path).await?;
    let permissions = policy::TABLE
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
    Ok(HttpResponse::Ok().json(Roles {
        roles: Role::ALL.iter().map(|role| role.as_str()).collect(),
        permissions,
    }))
}
