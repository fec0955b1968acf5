//! Deleting an organization, restoring it, and purging it when its time is up.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::find as orgs;
use super::locked::{fresh, org_target};
use crate::db::schema::{invitations, memberships, organizations, ownership_transfers};
use crate::db::{self, DbConnection, literal};
use crate::domain::policy::{self, Action};
use crate::domain::{Message, Role, Slug};
use crate::error::{Error, day_and_time};
use crate::services::audit::{self, AuditAction, AuditEvent};
use crate::services::identity::{Identified, identify};
use crate::services::notices::{members_url, notify, owners};
use crate::services::outbox::{self};
use crate::services::shared::{Actor, Organization, Principal, Settings, now, parse_stored_role};

/// Deletes the organization, if `confirmation` is its slug: at once its
/// members lose access, its pending invitations are revoked, its tokens and
/// keys stop working (the token check and the API refuse a deleted
/// organization's), and every owner is told. Its owners can restore it for
/// `ROLLCALL_ORG_RESTORE_DAYS`; then the worker purges it.
pub fn delete(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    confirmation: &str,
) -> Result<Organization, Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::ManageOrganization)?;
        if confirmation.trim() != org.slug {
            return Err(Error::Invalid(format!(
                "To delete {}, type its slug, {}, exactly.",
                org.name, org.slug
            )));
        }
        let at = now();
        let purge_after = at + chrono::Duration::days(i64::from(settings.org_restore_days));
        diesel::update(organizations::table.find(&org.id))
            .set((
                organizations::deleted_at.eq(at),
                organizations::deleted_by.eq(&acting.who.display_name),
                organizations::purge_after.eq(purge_after),
            ))
            .execute(conn)?;
        let revoked = revoke_pending_invitations(conn, &org, &acting.who, at)?;
        diesel::delete(ownership_transfers::table.find(&org.id)).execute(conn)?;
        let deleted = Organization {
            deleted_at: Some(at),
            deleted_by: Some(acting.who.display_name.clone()),
            purge_after: Some(purge_after),
            ..org.clone()
        };
        let until = day_and_time(purge_after);
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::OrganizationDeleted,
                target: org_target(&org),
                before: None,
                after: Some(json!({ "restorable_until": until, "invitations_revoked": revoked })),
            },
        )?;
        let owners = owners(conn, &org.id)?;
        let profile_url = format!("{}/profile", settings.public_url);
        notify(conn, &owners, |reader| Message::OrganizationDeleted {
            reader,
            by: acting.who.display_name.clone(),
            org: org.name.clone(),
            restorable_until: purge_after,
            profile_url: profile_url.clone(),
        })?;
        Ok(deleted)
    })
}

/// Revokes the organization's pending invitations and withdraws their
/// queued emails; returns how many.
fn revoke_pending_invitations(
    conn: &mut DbConnection,
    org: &Organization,
    who: &Identified,
    at: NaiveDateTime,
) -> Result<usize, Error> {
    let pending: Vec<String> = invitations::table
        .filter(invitations::org_id.eq(&org.id))
        .filter(invitations::state.eq(literal::Pending))
        .select(invitations::id)
        .load(conn)?;
    diesel::update(
        invitations::table
            .filter(invitations::org_id.eq(&org.id))
            .filter(invitations::state.eq(literal::Pending)),
    )
    .set((
        invitations::state.eq("revoked"),
        invitations::closed_at.eq(at),
        invitations::closed_by.eq(who.user_id.as_deref()),
    ))
    .execute(conn)?;
    for id in &pending {
        outbox::cancel_for_invitation(conn, id)?;
    }
    Ok(pending.len())
}

/// Restores a deleted organization while its owners still may. Its members,
/// tokens and keys work again; the invitations revoked stay revoked.
pub fn restore(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    slug: &Slug,
) -> Result<Organization, Error> {
    db::write(conn, |conn| {
        let org = orgs::find_even_deleted(conn, actor, slug)?;
        db::lock_organization(conn, &org.id)?;
        let org = orgs::find_any(conn, &org.id)?;
        let who = identify(conn, actor)?;
        let role = match &actor.principal {
            Principal::CommandLine => Role::OWNER,
            Principal::User(user_id) if org.deleted_at.is_some() => role_while_deleted(conn, &org, user_id)?,
            Principal::User(_) => crate::services::access::role_in(conn, actor, &org)?,
            Principal::ServiceAccount(_) => return Err(orgs::not_found(slug)),
        };
        policy::authorize(role, Action::ManageOrganization)?;
        if org.deleted_at.is_none() {
            return Err(Error::Invalid(format!("{} is not deleted.", org.name)));
        }
        if org.purge_after.is_some_and(|until| until <= now()) {
            return Err(Error::Gone(format!(
                "{} can no longer be restored: its restore window ended on {}.",
                org.name,
                day_and_time(org.purge_after.unwrap_or_default())
            )));
        }
        diesel::update(organizations::table.find(&org.id))
            .set((
                organizations::deleted_at.eq(None::<NaiveDateTime>),
                organizations::deleted_by.eq(None::<String>),
                organizations::purge_after.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&who).into(),
                action: AuditAction::OrganizationRestored,
                target: org_target(&org),
                before: None,
                after: None,
            },
        )?;
        let owners = owners(conn, &org.id)?;
        let members_url = members_url(settings, &org.slug);
        notify(conn, &owners, |reader| Message::OrganizationRestored {
            reader,
            by: who.display_name.clone(),
            org: org.name.clone(),
            members_url: members_url.clone(),
        })?;
        Ok(Organization {
            deleted_at: None,
            deleted_by: None,
            purge_after: None,
            ..org
        })
    })
}

/// A member's role in a deleted organization (which every other path refuses).
fn role_while_deleted(conn: &mut DbConnection, org: &Organization, user_id: &str) -> Result<Role, Error> {
    let role: Option<String> = memberships::table
        .find((&org.id, user_id))
        .select(memberships::role)
        .first(conn)
        .optional()?;
    match role {
        Some(role) => parse_stored_role(&role),
        None => Err(Error::NotMember {
            org: org.name.clone(),
        }),
    }
}

/// A deleted organization an owner can still restore, for their profile.
#[derive(Debug, Clone)]
pub struct Restorable {
    pub organization: Organization,
    pub restorable_until: NaiveDateTime,
}

/// The deleted organizations `user_id` owns and can still restore.
pub fn restorable_by(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Restorable>, Error> {
    let orgs: Vec<Organization> = organizations::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::role.eq(Role::OWNER.as_str()))
        .filter(organizations::purge_after.gt(now()))
        .order(organizations::name)
        .select(Organization::as_select())
        .load(conn)?;
    Ok(orgs
        .into_iter()
        .filter_map(|organization| {
            let restorable_until = organization.purge_after?;
            Some(Restorable {
                organization,
                restorable_until,
            })
        })
        .collect())
}

/// The most organizations one round of the worker purges.
const PURGE_BATCH: i64 = 20;

/// Purges deleted organizations whose restore window has closed: every row
/// of theirs, their audit events included, each in its own transaction, with
/// an event of the instance naming what went. Returns how many.
pub fn purge_due(conn: &mut DbConnection) -> Result<usize, Error> {
    let due: Vec<String> = organizations::table
        .filter(organizations::purge_after.le(now()))
        .order(organizations::purge_after)
        .select(organizations::id)
        .limit(PURGE_BATCH)
        .load(conn)?;
    let mut purged = 0;
    for org_id in due {
        let done = db::write(conn, |conn| {
            db::lock_organization(conn, &org_id)?;
            let Ok(org) = orgs::find_any(conn, &org_id) else {
                return Ok(false);
            };
            // Restored, or purged by another server, since it was listed.
            if org.purge_after.is_none_or(|until| until > now()) {
                return Ok(false);
            }
            audit::purge_organization(conn, &org.id)?;
            diesel::delete(organizations::table.find(&org.id)).execute(conn)?;
            let worker = Identified::background_worker();
            audit::record(
                conn,
                AuditEvent {
                    org_id: None,
                    actor: (&worker).into(),
                    action: AuditAction::OrganizationPurged,
                    target: org_target(&org),
                    before: Some(json!({
                        "name": org.name,
                        "slug": org.slug,
                        "deleted_at": org.deleted_at.map(day_and_time),
                        "deleted_by": org.deleted_by,
                    })),
                    after: None,
                },
            )?;
            Ok(true)
        })?;
        purged += usize::from(done);
    }
    Ok(purged)
}
