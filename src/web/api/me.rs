//! `GET /api/v1/me`: who the token acts as.

use super::caller::{Caller, caller};
use super::json::timestamp;
use crate::domain::Role;
use crate::error::Error;
use crate::web::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct Me {
    /// `personal` or `service_account`.
    kind: &'static str,
    /// The person's user id, or the service account's id.
    id: String,
    /// The organization's slug: the only one the token reaches.
    org: String,
    /// The holder's role now.
    #[schema(value_type = Role)]
    role: &'static str,
    /// `operations` (every route here) or `inference` (none of them).
    access: &'static str,
    token_expires_at: String,
}

/// Who the token acts as, where, and with which role now.
#[utoipa::path(get, path = "/api/v1/me", tag = "tokens",
    responses(
        (status = 200, body = Me),
    ),
    security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let Caller { grant, .. } = caller(&state, &req).await?;
    Ok(HttpResponse::Ok().json(Me {
        kind: grant.kind.as_str(),
        id: grant.subject.to_string(),
        org: grant.org_slug.to_string(),
        role: grant.role.as_str(),
        access: grant.access.as_str(),
        token_expires_at: timestamp(grant.expires_at),
    }))
}
