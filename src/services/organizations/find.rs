//! Finding an organization by slug or id, as the asker may know it, and a
//! user's organizations.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::slugs::reservation_start;
use crate::db::DbConnection;
use crate::db::schema::{
    ended_sessions, invitation_list_versions, member_list_versions, memberships, organization_slugs,
    organizations, pending_invitation_counts, users,
};
use crate::db::written::Written;
use crate::domain::{Role, Slug};
use crate::error::Error;
use crate::services::shared::ListStamps;
use crate::services::shared::{Actor, Organization, Principal, now};
use crate::services::users::{SessionUser, User};

/// The live organization named `slug`. A deleted one is refused with when
/// and by whom (410); a slug it gave up in the last 90 days answers with
/// where it is now (301) if `asker` may know ([`moved_or_not_found`]).
pub fn find_by_slug(conn: &mut DbConnection, asker: &Actor, slug: &Slug) -> Result<Organization, Error> {
    let org = find_even_deleted(conn, asker, slug)?;
    org.ensure_live()?;
    Ok(org)
}

/// The organization named `slug`, deleted or not (to restore it).
pub fn find_even_deleted(conn: &mut DbConnection, asker: &Actor, slug: &Slug) -> Result<Organization, Error> {
    match organizations::table
        .filter(organizations::slug.eq(slug.as_str()))
        .select(Organization::as_select())
        .first(conn)
        .optional()?
    {
        Some(org) => Ok(org),
        None => Err(moved_or_not_found(conn, asker, slug)?),
    }
}

/// The organization with this id, deleted or not.
pub(crate) fn find_any(conn: &mut DbConnection, org_id: &str) -> Result<Organization, Error> {
    organizations::table
        .find(org_id)
        .select(Organization::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::NotFound("The organization was not found.".to_owned()))
}

/// Why no organization has `slug` now, as `asker` may learn it: it moved
/// (the slug is one an organization gave up less than 90 days ago), or there
/// is none. Where it moved is told only to those who belong to it (its
/// members, its service accounts, the command line); to anyone else an old
/// slug is as unknown as one never used, so that following an old link
/// tells no outsider the organization's new name.
pub fn moved_or_not_found(conn: &mut DbConnection, asker: &Actor, slug: &Slug) -> Result<Error, Error> {
    let now_at: Option<(String, String)> = organization_slugs::table
        .inner_join(organizations::table)
        .filter(organization_slugs::slug.eq(slug.as_str()))
        .filter(organization_slugs::retired_at.ge(reservation_start()))
        .select((organizations::id, organizations::slug))
        .first(conn)
        .optional()?;
    Ok(match now_at {
        Some((org_id, slug)) if belongs_to(conn, asker, &org_id)? => Error::Moved { slug },
        _ => not_found(slug),
    })
}

/// Whether `asker` belongs to the organization with this id: a member (one
/// whose membership has ended included, until the worker removes them: they
/// are told so at the new address), one of its service accounts, or the
/// command line.
fn belongs_to(conn: &mut DbConnection, asker: &Actor, org_id: &str) -> Result<bool, Error> {
    use crate::db::schema::service_accounts;
    Ok(match &asker.principal {
        Principal::CommandLine => true,
        Principal::User(user_id) => {
            diesel::select(diesel::dsl::exists(memberships::table.find((org_id, user_id))))
                .get_result(conn)?
        }
        Principal::ServiceAccount(account_id) => diesel::select(diesel::dsl::exists(
            service_accounts::table
                .find(account_id)
                .filter(service_accounts::org_id.eq(org_id)),
        ))
        .get_result(conn)?,
    })
}

/// The refusal for a slug that names no organization.
pub fn not_found(slug: &impl std::fmt::Display) -> Error {
    Error::NotFound(format!("There is no organization “{slug}”."))
}

/// A user's organizations with their role in each, by name.
pub type Memberships = Vec<(Organization, Role)>;

/// One of the signed-in user's organizations, as [`user_and_memberships`]
/// reads it for the pages of an organization.
#[derive(Debug, Clone)]
pub struct Membership {
    pub org: Organization,
    pub role: Role,
    pub stamps: ListStamps,
}

/// The user and the organizations they belong to, with their role in each
/// and what the database keeps about each one's lists, by name:
/// [`crate::services::users::find`] and [`for_user`] in one statement, for the pages
/// that show both. None when the user is gone or the session was signed out
/// (see [`crate::services::users::session_user`]).
pub fn user_and_memberships(
    conn: &mut DbConnection,
    session: &SessionUser,
) -> Result<Option<(User, Vec<Membership>)>, Error> {
    type Row = (
        User,
        Option<String>,
        Option<(Organization, String)>,
        Option<(i64, i64, i64, i64, i64, i64, i64)>,
        Option<i64>,
        Option<i64>,
        (Option<NaiveDateTime>, Option<NaiveDateTime>),
    );
    let rows: Vec<Row> = Written(
        users::table
            .left_join(ended_sessions::table.on(ended_sessions::session_id.eq(session.session_id.clone())))
            .left_join(memberships::table)
            .left_join(organizations::table.on(organizations::id.eq(memberships::org_id)))
            .left_join(member_list_versions::table.on(member_list_versions::org_id.eq(memberships::org_id)))
            .left_join(
                invitation_list_versions::table.on(invitation_list_versions::org_id.eq(memberships::org_id)),
            )
            .left_join(
                pending_invitation_counts::table
                    .on(pending_invitation_counts::org_id.eq(memberships::org_id)),
            )
            .filter(users::id.eq(session.user_id.clone()))
            .order(organizations::name.nullable())
            .select((
                User::as_select(),
                ended_sessions::session_id.nullable(),
                (organizations::all_columns, memberships::role).nullable(),
                (
                    member_list_versions::version,
                    member_list_versions::owners,
                    member_list_versions::admins,
                    member_list_versions::developers,
                    member_list_versions::contributors,
                    member_list_versions::viewers,
                    member_list_versions::others,
                )
                    .nullable(),
                invitation_list_versions::version.nullable(),
                pending_invitation_counts::pending.nullable(),
                (
                    memberships::expires_at.nullable(),
                    memberships::expiry_held_at.nullable(),
                ),
            )),
    )
    .load(conn)?;
    let mut rows = rows.into_iter();
    let Some((user, ended, first, members, invitations, pending, first_end)) = rows.next() else {
        return Ok(None);
    };
    // A session that was signed out is over, on every server.
    if !session.is_current(&user, ended.is_some()) {
        return Ok(None);
    }
    let at = now();
    let mut memberships = Vec::new();
    for (membership, members, invitations, pending, (ends, held)) in
        std::iter::once((first, members, invitations, pending, first_end)).chain(rows.map(
            |(_, _, membership, members, invitations, pending, end)| {
                (membership, members, invitations, pending, end)
            },
        ))
    {
        let Some((org, role)) = membership.filter(|(org, _)| org.deleted_at.is_none()) else {
            continue;
        };
        let role = crate::services::shared::parse_stored_role(&role)?;
        // No row yet: no change since the tables were made, and no invitations.
        let (members_version, owners, admins, developers, contributors, viewers, others) =
            members.unwrap_or_default();
        // A membership that has ended opens nothing, though the worker has not been by.
        if crate::services::shared::term(ends, held, role, Some(owners)).is_over(at) {
            continue;
        }
        memberships.push(Membership {
            org,
            role,
            stamps: ListStamps {
                members_version,
                invitations_version: invitations.unwrap_or(0),
                pending_invitations: pending.unwrap_or(0),
                members: (owners, admins, developers, contributors, viewers, others).into(),
            },
        });
    }
    Ok(Some((user, memberships)))
}

/// The organizations a user belongs to, with their role in each, by name
/// (not those whose membership has ended: they open nothing).
pub fn for_user(conn: &mut DbConnection, user_id: &str) -> Result<Memberships, Error> {
    type Row = (
        Organization,
        String,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i64>,
    );
    let rows: Vec<Row> = Written(
        organizations::table
            .inner_join(memberships::table)
            .left_join(member_list_versions::table.on(member_list_versions::org_id.eq(organizations::id)))
            .filter(memberships::user_id.eq(user_id))
            .filter(organizations::deleted_at.is_null())
            .order(organizations::name)
            .select((
                Organization::as_select(),
                memberships::role,
                memberships::expires_at,
                memberships::expiry_held_at,
                member_list_versions::owners.nullable(),
            )),
    )
    .load(conn)?;
    let at = now();
    let mut memberships = Vec::with_capacity(rows.len());
    for (org, role, ends, held, owners) in rows {
        let role = crate::services::shared::parse_stored_role(&role)?;
        if !crate::services::shared::term(ends, held, role, owners).is_over(at) {
            memberships.push((org, role));
        }
    }
    Ok(memberships)
}
