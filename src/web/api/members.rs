//! `/api/v1/orgs/{slug}/members`: list (keyset pages), change a role, remove.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::caller;
use super::json::{json_body, query, timestamp};
use super::schemas;
use crate::domain::Permission;
use crate::domain::{Role, SearchText};
use crate::error::Error;
use crate::services::members::{self, Direction, Member, MemberCursor, MemberRef, MemberSliceQuery, SortKey};
use crate::web::errors::Problem;
use crate::web::state::AppState;

/// A member as the API shows them.
#[derive(Serialize, ToSchema)]
pub struct MemberJson {
    /// The user id: how the other member routes name them.
    id: String,
    name: String,
    email: String,
    #[schema(value_type = Role)]
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
    /// Described in [`schemas::search_text`], whose pattern is computed.
    #[param(schema_with = schemas::search_text)]
    search: Option<String>,
    /// Only members with this role.
    #[param(inline)]
    role: Option<Role>,
    /// `name` unless asked.
    #[param(inline)]
    sort: Option<Sort>,
    /// `asc` unless asked.
    #[param(inline)]
    order: Option<Order>,
    /// Members per page, 50 unless asked.
    // The maximum is `members::MAX_PER_PAGE`; `tests/api/api_document.rs`
    // probes the server at and past the bounds the document states.
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Described in [`schemas::cursor`].
    #[param(schema_with = schemas::cursor)]
    cursor: Option<String>,
}

/// What the member list is sorted by, as the API names it.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    Name,
    Email,
    Joined,
}

impl From<Sort> for SortKey {
    fn from(sort: Sort) -> Self {
        match sort {
            Sort::Name => SortKey::Name,
            Sort::Email => SortKey::Email,
            Sort::Joined => SortKey::Joined,
        }
    }
}

/// Which way the member list runs, as the API names it.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    Asc,
    Desc,
}

impl From<Order> for Direction {
    fn from(order: Order) -> Self {
        match order {
            Order::Asc => Direction::Ascending,
            Order::Desc => Direction::Descending,
        }
    }
}

impl MemberListParams {
    fn parse(self) -> Result<MemberSliceQuery, Error> {
        let search = match self.search.as_deref() {
            Some(text) => SearchText::parse(text)
                .map_err(|error| Error::Invalid(format!("The search is not usable: {error}.")))?,
            None => None,
        };
        let sort = self.sort.map_or_else(SortKey::default, SortKey::from);
        let direction = self.order.map_or_else(Direction::default, Direction::from);
        let limit = self.limit.unwrap_or(50);
        if !(1..=members::MAX_PER_PAGE).contains(&limit) {
            return Err(Error::Invalid(format!(
                "The limit is from 1 to {} members.",
                members::MAX_PER_PAGE
            )));
        }
        Ok(MemberSliceQuery {
            search,
            role: self.role,
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

/// The member named in a path: by user id, or by email. Text that can be
/// neither names nobody here, so it is not found, as an unknown slug is.
fn member_named(segment: &str) -> Result<MemberRef, Error> {
    MemberRef::parse(segment)
        .map_err(|_| Error::NotFound("No member of this organization has that id or email.".to_owned()))
}

/// The organization's members, a page at a time: follow `next_cursor` for
/// the next. Pages stay quick at any depth, and a list that changes between
/// two pages neither skips nor repeats anyone.
#[utoipa::path(get, path = "/api/v1/orgs/{slug}/members", tag = "members",
    params(("slug" = String, Path, description = "The organization's slug"), MemberListParams),
    responses(
        (status = 200, body = MemberList),
        (status = 422, description = "A parameter is out of bounds or not one of its names, or the cursor is not one this list gave out with this sort and order", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn members(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.carries(Permission::ViewMembers)?;
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
    /// The new role.
    #[schema(inline)]
    role: Role,
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
        (status = 200, body = MemberJson),
        (status = 404, description = "No such organization for this token, or no such member in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner stays an owner", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn change_member(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.carries(Permission::ChangeMemberRoles)?;
    let (segment, member) = path.into_inner();
    let (_, change) = json_body::<MemberChange>(body).await?;
    let role = change.role;
    let member = member_named(&member)?;
    let slug = caller.org(&state, &segment).await?;
    let actor = caller.actor;
    let changed = state
        .db(move |conn| members::change_role(conn, &actor, &slug, &member, role))
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
        (status = 204, description = "Removed"),
        (status = 404, description = "No such organization for this token, or no such member in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner stays", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn remove_member(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.carries(Permission::RemoveMembers)?;
    let (segment, member) = path.into_inner();
    let member = member_named(&member)?;
    let viewer = caller.viewer(&state, &segment).await?;
    let actor = caller.actor;
    state
        .db(move |conn| members::remove(conn, &actor, &viewer.org, &member))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
