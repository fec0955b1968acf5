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
    /// The permission in words, as the Roles page shows it.
    permission: &'static str,
    /// Its name, as `POST /api/v1/authorize` and the token check use it.
    name: &'static str,
    /// The lowest role that holds it.
    #[schema(value_type = Role)]
    lowest_role: &'static str,
    /// Every role that holds it, highest first.
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
    let policy = policy::current();
    let permissions = policy
        .permissions()
        .iter()
        .map(|row| {
            let roles: Vec<&'static str> = Role::all()
                .into_iter()
                .filter(|role| policy.holds(*role, row.permission))
                .map(Role::as_str)
                .collect();
            PolicyRow {
                permission: &row.description,
                name: &row.name,
                lowest_role: roles.last().copied().unwrap_or(Role::OWNER.as_str()),
                roles,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(Roles {
        roles: Role::all().iter().map(|role| role.as_str()).collect(),
        permissions,
    }))
}
