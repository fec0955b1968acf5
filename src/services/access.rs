//! Who is acting, with which role, in which organization: the ground floor
//! every use case starts from. A function given an [`Acting`] or a [`Viewer`]
//! does not ask again.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::identity::{Identified, account_gone, identify, person};
use super::shared::{Actor, ListStamps, Principal, ended, term};
use super::shared::{Organization, now, parse_stored_role};
use crate::db::DbConnection;
use crate::db::schema::{self, memberships, users as users_table};
use crate::db::written::Written;
use crate::domain::{Role, Slug};
use crate::error::Error;
use crate::services::organizations::find as organizations;

/// The actor as seen inside one organization: who, and with which role now.
#[derive(Debug, Clone)]
pub(crate) struct Acting {
    pub who: Identified,
    pub role: Role,
}

/// Reads the actor's current role in the organization, refusing non-members.
/// The command line acts as an owner.
pub(crate) fn role_in(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Role, Error> {
    let user_id = match &actor.principal {
        Principal::User(user_id) => user_id,
        Principal::CommandLine => return Ok(Role::OWNER),
        Principal::ServiceAccount(account_id) => return service_account_role(conn, account_id, org),
    };
    // With the organization's state read afresh: after a deletion commits,
    // no change in any transaction on any server is made in its name.
    use schema::member_list_versions as versions;
    type Row = (
        String,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i64>,
    );
    let role: Option<Row> = memberships::table
        .inner_join(schema::organizations::table)
        .left_join(versions::table.on(versions::org_id.eq(memberships::org_id)))
        .filter(memberships::org_id.eq(&org.id))
        .filter(memberships::user_id.eq(user_id))
        .select((
            memberships::role,
            schema::organizations::deleted_at,
            memberships::expires_at,
            memberships::expiry_held_at,
            versions::owners.nullable(),
        ))
        .first(conn)
        .optional()?;
    match role {
        Some((_, Some(_), ..)) => Err(organizations::find_any(conn, &org.id)?
            .deleted()
            .unwrap_or_else(|| organizations::not_found(&org.slug))),
        Some((role, None, ends, held, owners)) => {
            let role = parse_stored_role(&role)?;
            if term(ends, held, role, owners).is_over(now()) {
                return Err(ended(org));
            }
            Ok(role)
        }
        None => {
            let who = identify(conn, actor)?;
            Err(not_a_member(conn, &who, org)?)
        }
    }
}

/// An enabled service account's role in its own organization; any other
/// organization is not found to it.
fn service_account_role(
    conn: &mut DbConnection,
    account_id: &str,
    org: &Organization,
) -> Result<Role, Error> {
    use schema::service_accounts as accounts;
    let role: Option<String> = accounts::table
        .inner_join(schema::organizations::table)
        .filter(accounts::id.eq(account_id))
        .filter(accounts::org_id.eq(&org.id))
        .filter(accounts::disabled_at.is_null())
        .filter(schema::organizations::deleted_at.is_null())
        .select(accounts::role)
        .first(conn)
        .optional()?;
    match role {
        Some(role) => parse_stored_role(&role),
        None => Err(organizations::not_found(&org.slug)),
    }
}

/// The actor, identified, with their current role in the organization;
/// refuses non-members. A person the request has read already is not read
/// again.
pub(crate) fn acting(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Acting, Error> {
    let user_id = match &actor.principal {
        Principal::User(user_id) if actor.person().is_none() => user_id,
        _ => {
            let who = identify(conn, actor)?;
            let role = role_in(conn, actor, org)?;
            return Ok(Acting { who, role });
        }
    };
    // The person, their role and the organization's state in one
    // statement: every change asks, first thing.
    use schema::{member_list_versions as versions, organizations as orgs};
    type Row = (
        String,
        String,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i64>,
    );
    let found: Option<Row> = users_table::table
        .left_join(
            memberships::table.on(memberships::user_id
                .eq(users_table::id)
                .and(memberships::org_id.eq(org.id.clone()))),
        )
        .left_join(orgs::table.on(orgs::id.eq(memberships::org_id)))
        .left_join(versions::table.on(versions::org_id.eq(memberships::org_id)))
        .filter(users_table::id.eq(user_id.clone()))
        .select((
            users_table::name,
            users_table::email,
            memberships::role.nullable(),
            orgs::deleted_at.nullable(),
            memberships::expires_at.nullable(),
            memberships::expiry_held_at.nullable(),
            versions::owners.nullable(),
        ))
        .first(conn)
        .optional()?;
    let (name, email, role, deleted_at, ends, held, owners) = found.ok_or_else(account_gone)?;
    let who = person(actor, user_id, name, &email);
    match (role, deleted_at) {
        (Some(_), Some(_)) => Err(organizations::find_any(conn, &org.id)?
            .deleted()
            .unwrap_or_else(|| organizations::not_found(&org.slug))),
        (Some(role), None) => {
            let role = parse_stored_role(&role)?;
            if term(ends, held, role, owners).is_over(now()) {
                return Err(ended(org));
            }
            Ok(Acting { role, who })
        }
        (None, _) => Err(not_a_member(conn, &who, org)?),
    }
}

/// An organization as one of its members sees it: the organization and the
/// member's role in it now. Only [`Viewer::open`], [`Viewer::among`] and
/// [`Viewer::of`] make one, and all three refuse non-members, so a function
/// given a `Viewer` knows the actor may read the organization and does not ask
/// the database again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Viewer {
    pub org: Organization,
    pub role: Role,
    /// Read with the role when the statement that found it could
    /// ([`Viewer::among`]); otherwise read where needed.
    pub stamps: Option<ListStamps>,
}

impl Viewer {
    /// The organization named `slug` and the actor's role in it, read in one
    /// query. The command line acts as an owner.
    pub fn open(conn: &mut DbConnection, actor: &Actor, slug: &Slug) -> Result<Self, Error> {
        use schema::organizations as orgs;
        let Principal::User(user_id) = &actor.principal else {
            let org = organizations::find_by_slug(conn, actor, slug)?;
            return Self::of(conn, actor, org);
        };
        use schema::member_list_versions as versions;
        type Row = (
            Organization,
            Option<String>,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
            Option<i64>,
        );
        let found: Option<Row> = Written(
            orgs::table
                .left_join(
                    memberships::table.on(memberships::org_id
                        .eq(orgs::id)
                        .and(memberships::user_id.eq(user_id.clone()))),
                )
                .left_join(versions::table.on(versions::org_id.eq(orgs::id)))
                .filter(orgs::slug.eq(slug.as_str()))
                .select((
                    Organization::as_select(),
                    memberships::role.nullable(),
                    memberships::expires_at.nullable(),
                    memberships::expiry_held_at.nullable(),
                    versions::owners.nullable(),
                ))
                .limit(1),
        )
        .get_result(conn)
        .optional()?;
        let Some((org, role, ends, held, owners)) = found else {
            return Err(organizations::moved_or_not_found(conn, actor, slug)?);
        };
        let role = judge(conn, actor, None, &org, (role, ends, held, owners))?;
        Ok(Self {
            org,
            role,
            stamps: None,
        })
    }

    /// The organization named `slug` found among the actor's memberships,
    /// read in this transaction ([`organizations::for_user`] or
    /// [`organizations::user_and_memberships`]); one that is not among them
    /// is read as [`Viewer::open`] does, to explain the refusal.
    pub fn among(
        conn: &mut DbConnection,
        actor: &Actor,
        slug: &Slug,
        memberships: &[organizations::Membership],
    ) -> Result<Self, Error> {
        match memberships
            .iter()
            .find(|membership| membership.org.slug == slug.as_str())
        {
            Some(membership) => Ok(Self {
                org: membership.org.clone(),
                role: membership.role,
                stamps: Some(membership.stamps),
            }),
            None => Self::open(conn, actor, slug),
        }
    }

    /// The actor's view of an organization already read.
    pub fn of(conn: &mut DbConnection, actor: &Actor, org: Organization) -> Result<Self, Error> {
        let role = role_in(conn, actor, &org)?;
        Ok(Self {
            org,
            role,
            stamps: None,
        })
    }
}

/// The actor's membership as the statement that read the organization read
/// it: the role, when it ends, when the worker held its end, and how many
/// owners the organization has; no role, no membership.
pub(crate) type Held = (
    Option<String>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<i64>,
);

/// The actor's role in `org`, from their membership read in the same
/// statement as the organization. A member of a deleted organization is told
/// it was deleted, one whose membership has ended that it has, anyone else
/// that they are not a member; `who` is the actor, if read already.
pub(crate) fn judge(
    conn: &mut DbConnection,
    actor: &Actor,
    who: Option<&Identified>,
    org: &Organization,
    (role, ends, held, owners): Held,
) -> Result<Role, Error> {
    match role {
        // Who deleted it and when is for its members; to anyone else it is
        // an organization they are not in.
        Some(_) if org.deleted_at.is_some() => Err(org
            .deleted()
            .unwrap_or_else(|| organizations::not_found(&org.slug))),
        Some(role) => {
            let role = parse_stored_role(&role)?;
            if term(ends, held, role, owners).is_over(now()) {
                return Err(ended(org));
            }
            Ok(role)
        }
        None => {
            let who = match who {
                Some(who) => who.clone(),
                None => identify(conn, actor)?,
            };
            Err(not_a_member(conn, &who, org)?)
        }
    }
}

/// The refusal for someone who is not a member: "no longer" when the audit
/// log shows they were removed, left or their membership ended, so they
/// know what happened.
fn not_a_member(conn: &mut DbConnection, who: &Identified, org: &Organization) -> Result<Error, Error> {
    use crate::db::schema::audit_events;
    let departed: bool = diesel::select(diesel::dsl::exists(
        audit_events::table
            .filter(audit_events::org_id.eq(&org.id))
            .filter(audit_events::target.eq(&who.audit_label))
            .filter(audit_events::action.eq_any([
                crate::domain::audit::AuditAction::MemberRemoved.as_str(),
                crate::domain::audit::AuditAction::MemberLeft.as_str(),
                crate::domain::audit::AuditAction::MemberExpired.as_str(),
            ])),
    ))
    .get_result(conn)?;
    let org = org.name.clone();
    Ok(if departed {
        Error::NoLongerMember { org }
    } else {
        Error::NotMember { org }
    })
}
