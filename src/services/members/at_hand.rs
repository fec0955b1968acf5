//! What a change to one member starts from: the organization, who is acting
//! in it with which role, and the member, read in one statement.

use diesel::prelude::*;

use super::find::{MemberRef, find, not_found_in};
use super::query::{Member, MemberRow};
use crate::db::DbConnection;
use crate::db::schema::{member_list_versions as versions, memberships, organizations, users};
use crate::db::written::{Shape, Shaped};
use crate::domain::Slug;
use crate::error::Error;
use crate::services::access::{Acting, Held, acting, judge};
use crate::services::identity::{account_gone, identify, person};
use crate::services::organizations::find as find_org;
use crate::services::shared::{Actor, Organization, Principal};

/// How a change names the organization it is made in.
#[derive(Debug, Clone, Copy)]
pub enum InOrg<'a> {
    /// By the slug in a request's path: read with the rest.
    Named(&'a Slug),
    /// As the caller has read it already (the command line, to name it).
    Read(&'a Organization),
}

impl<'a> From<&'a Slug> for InOrg<'a> {
    fn from(slug: &'a Slug) -> Self {
        Self::Named(slug)
    }
}

impl<'a> From<&'a Organization> for InOrg<'a> {
    fn from(org: &'a Organization) -> Self {
        Self::Read(org)
    }
}

/// The organization as read now, who is acting in it with which role, and
/// the member a change is about.
pub(super) struct AtHand {
    pub org: Organization,
    pub acting: Acting,
    pub target: Member,
}

diesel::alias!(memberships as actor_memberships: ActorMemberships);

/// The member, the organization and the actor's membership, as one row.
type Row = (MemberRow, Organization, Held);

/// Narrows the boxed statement to the organization and the member asked for,
/// and names its shape (what changed its SQL) to keep the SQL written once.
macro_rules! narrowed {
    ($statement:expr, $query:expr, $org:expr, $member:expr) => {{
        let query = match $org {
            InOrg::Named(slug) => $query.filter(organizations::slug.eq(slug.as_str())),
            InOrg::Read(org) => $query.filter(organizations::id.eq(&org.id)),
        };
        let query = match $member {
            MemberRef::Id(id) => query.filter(memberships::user_id.eq(id)),
            MemberRef::Email(email) => query.filter(memberships::email.eq(email.as_str())),
        };
        let choices = u64::from(matches!($org, InOrg::Read(_)))
            | u64::from(matches!($member, MemberRef::Email(_))) << 1;
        Shaped {
            shape: Shape {
                statement: $statement,
                choices,
            },
            query: query.limit(1),
        }
    }};
}

/// Reads what a change to `member` starts from; refuses, in this order, an
/// organization that is not there, a member it does not have, and an actor
/// who may not act in it (a deleted organization, an ended membership, none).
pub(super) fn at_hand(
    conn: &mut DbConnection,
    actor: &Actor,
    org: InOrg<'_>,
    member: &MemberRef,
) -> Result<AtHand, Error> {
    let Principal::User(user_id) = &actor.principal else {
        // The command line and service accounts hold no membership to read
        // with the rest.
        let org = match org {
            InOrg::Named(slug) => find_org::find_by_slug(conn, actor, slug)?,
            InOrg::Read(org) => org.clone(),
        };
        let target = find(conn, &org, member)?;
        let acting = acting(conn, actor, &org)?;
        return Ok(AtHand { org, acting, target });
    };
    let read = memberships::table
        .inner_join(organizations::table)
        .left_join(
            actor_memberships.on(actor_memberships
                .field(memberships::org_id)
                .eq(memberships::org_id)
                .and(actor_memberships.field(memberships::user_id).eq(user_id))),
        )
        .left_join(versions::table.on(versions::org_id.eq(memberships::org_id)));
    let held = (
        actor_memberships.field(memberships::role).nullable(),
        actor_memberships.field(memberships::expires_at).nullable(),
        actor_memberships.field(memberships::expiry_held_at).nullable(),
        versions::owners.nullable(),
    );
    // The person with the rest, unless the request has read them already.
    let (found, read_now) = if actor.person().is_some() {
        let found: Option<Row> = narrowed!(
            "member at hand",
            read.select((MemberRow::as_select(), Organization::as_select(), held))
                .into_boxed(),
            org,
            member
        )
        .get_result(conn)
        .optional()?;
        (found, None)
    } else {
        type WithPerson = (MemberRow, Organization, Held, Option<(String, String)>);
        let found: Option<WithPerson> = narrowed!(
            "member at hand, with the person",
            read.left_join(users::table.on(users::id.eq(user_id)))
                .select((
                    MemberRow::as_select(),
                    Organization::as_select(),
                    held,
                    (users::name, users::email).nullable(),
                ))
                .into_boxed(),
            org,
            member
        )
        .get_result(conn)
        .optional()?;
        match found {
            Some((target, org, held, person)) => {
                (Some((target, org, held)), Some(person.ok_or_else(account_gone)?))
            }
            None => (None, None),
        }
    };
    let Some((target, org, held)) = found else {
        let org = match org {
            InOrg::Named(slug) => find_org::find_even_deleted(conn, actor, slug)?,
            InOrg::Read(org) => org.clone(),
        };
        return Err(not_found_in(&org, member));
    };
    let who = match read_now {
        Some((name, email)) => person(actor, user_id, name, &email),
        None => identify(conn, actor)?,
    };
    let role = judge(conn, actor, Some(&who), &org, held)?;
    Ok(AtHand {
        org,
        acting: Acting { who, role },
        target: target.into_member()?,
    })
}
