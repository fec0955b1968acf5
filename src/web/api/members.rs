//! `/api/v1/orgs/{slug}/members`: list (keyset pages), change a role, remove.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::openapi::Problem;
use super::{caller, json_body, query, timestamp};
use crate::domain::{InvalidRole, Role, SearchText};
use crate::error::Error;
use crate::services::members::{self, Direction, Member, MemberCursor, MemberRef, MemberSliceQuery, SortKey};
use crate::web::AppState;

/// A member as the API shows them.
#[derive(Serialize, ToSchema)]
pub struct MemberJson {
    /// The user id: how the other member routes name them.
    id: String,
    name: String,
    email: String,
    /// `owner`, `admin`, `developer`, `contributor` or `viewer`.
    role: &'static str,
    joined_at: String,
    avatar_url: Option<String>,
    /// The last day (UTC, `YYYY-MM-DD`) of the membership, if it ends;
    /// Rollcall removes the member after it.
    access_ends_after: Option<String>,
}

impl From<Member> for MemberJson {
    fn from(member: Member) -> Self {
        Self {
            id: member.user_id,
            name: member.name,
            email: member.email,
            role: member.role.as_str(),
            joined_at: timestamp(member.joined_at),
            avatar_url: member.avatar_url,
            access_ends_after: member.ends.map(|ends| ends.last_day().to_string()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MemberList {
    members: Vec<MemberJson>,
    /// How many members match, in all.
    total: i64,
    /// Send as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MemberListParams {
    /// Members whose name or email starts with this text (any case).
    search: Option<String>,
    /// Only members with this role.
    role: Option<String>,
    /// `name` (the default), `email` or `joined`.
    sort: Option<String>,
    /// `asc` (the default) or `desc`.
    order: Option<String>,
    /// Members per page: 1 to 200, 50 unless asked.
    limit: Option<u32>,
    /// Where to go on: a previous page's `next_cursor`, with the same sort and order.
    cursor: Option<String>,
}

fn parse_role(text: &str) -> Result<Role, Error> {
    text.parse()
        .map_err(|error: InvalidRole| Error::Invalid(error.to_string()))
}

impl MemberListParams {
    fn parse(self) -> Result<MemberSliceQuery, Error> {
        let search = match self.search.as_deref() {
            Some(text) => SearchText::parse(text)
                .map_err(|error| Error::Invalid(format!("The search is not usable: {error}.")))?,
            None => None,
        };
        let sort = match self.sort.as_deref() {
            Some(name) => SortKey::named(name)
                .ok_or_else(|| Error::Invalid("Sort by name, email or joined.".to_owned()))?,
            None => SortKey::default(),
        };
        let direction = match self.order.as_deref() {
            Some(name) => Direction::named(name)
                .ok_or_else(|| Error::Invalid("The order is asc or desc.".to_owned()))?,
            None => Direction::default(),
        };
        let limit = self.limit.unwrap_or(50);
        if !(1..=members::MAX_PER_PAGE).contains(&limit) {
            return Err(Error::Invalid(format!(
                "The limit is from 1 to {} members.",
                members::MAX_PER_PAGE
            )));
        }
        Ok(MemberSliceQuery {
            search,
            role: self.role.as_deref().map(parse_role).transpose()?,
            sort,
            direction,
            after: self
                .cursor
                .as_deref()
                .map(|cursor| MemberCursor::parse(cursor, sort, direction))
                .transpose()?,
            limit,
        })
    }
}

/// The organization's members, a page at a time: follow `next_cursor` for
/// the next. Pages stay quick at any depth, and a list that changes between
/// two pages neither skips nor repeats anyone.
#[utoipa::path(get, path = "/api/v1/orgs/{slug}/members", tag = "members",
    params(("slug" = String, Path, description = "The organization's slug"), MemberListParams),
    responses(
        (status = 401, description = "No token, or one that is not live (expired, revoked, its holder gone)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's access or its holder's role does not allow this", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests: wait Retry-After seconds", body = Problem, content_type = "application/problem+json"),
        (status = 200, body = MemberList),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter or the cursor is not usable", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn members(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    let wanted = query::<MemberListParams>(&req)?.parse()?;
    let slug = caller.org(&state, &path).await?;
    let actor = caller.actor.clone();
    let slice = state
        .read(move |conn| {
            let viewer = crate::services::Viewer::open(conn, &actor, &slug)?;
            members::slice(conn, &viewer, &wanted)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MemberList {
        members: slice.members.into_iter().map(MemberJson::from).collect(),
        total: slice.total,
        next_cursor: slice.next.map(|cursor| cursor.encode()),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    /// The new role: `owner`, `admin`, `developer`, `contributor` or `viewer`.
    role: String,
}

/// Changes a member's role, as the caller's role allows: nobody grants above
/// their own role, and the last owner stays an owner.
#[utoipa::path(patch, path = "/api/v1/orgs/{slug}/members/{id}", tag = "members",
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = String, Path, description = "The member's user id (or email)"),
    ),
    request_body = MemberChange,
    responses(
        (status = 401, description = "No token, or one that is not live (expired, revoked, its holder gone)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's access or its holder's role does not allow this", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests: wait Retry-After seconds", body = Problem, content_type = "application/problem+json"),
        (status = 200, body = MemberJson),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn change_member(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    let (segment, member) = path.into_inner();
    let (_, change) = json_body::<MemberChange>(body).await?;
    let role = parse_role(&change.role)?;
    let member = MemberRef::parse(&member)?;
    let viewer = caller.viewer(&state, &segment).await?;
    let actor = caller.actor;
    let changed = state
        .db(move |conn| members::change_role(conn, &actor, &viewer.org, &member, role))
        .await?;
    Ok(HttpResponse::Ok().json(MemberJson::from(changed)))
}

/// Removes a member; their tokens stop working at once. The last owner stays.
#[utoipa::path(delete, path = "/api/v1/orgs/{slug}/members/{id}", tag = "members",
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = String, Path, description = "The member's user id (or email)"),
    ),
    responses(
        (status = 401, description = "No token, or one that is not live (expired, revoked, its holder gone)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's access or its holder's role does not allow this", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests: wait Retry-After seconds", body = Problem, content_type = "application/problem+json"),
        (status = 204, description = "Removed"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn remove_member(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    let (segment, member) = path.into_inner();
    let member = MemberRef::parse(&member)?;
    let viewer = caller.viewer(&state, &segment).await?;
    let actor = caller.actor;
    state
        .db(move |conn| members::remove(conn, &actor, &viewer.org, &member))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
