//! Creating an organization, with its first owner or an invitation for them.

use diesel::prelude::*;
use serde_json::json;

use super::slugs::{claim_slug, free_slug};
use crate::db::schema::organizations;
use crate::db::{self, DbConnection};
use crate::domain::{EmailAddress, OrganizationName, Role, Slug};
use crate::error::Error;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::identity::person_of;
use crate::services::invitations::{self, IssuedInvitation};
use crate::services::members;
use crate::services::shared::{Actor, Organization, Principal, Settings, new_id, now};

/// A new organization and the link that lets its first owner in.
#[derive(Debug)]
pub struct CreatedWithInvitation {
    pub organization: Organization,
    pub invitation: IssuedInvitation,
}

/// Creates an organization whose first owner is invited by email: how the
/// operator bootstraps one from the command line.
pub fn create_with_owner_invitation(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    name: &OrganizationName,
    owner: &EmailAddress,
) -> Result<CreatedWithInvitation, Error> {
    db::write(conn, |conn| {
        let organization = insert(conn, actor, name)?;
        let invitation = invitations::issue_owner_invitation(conn, settings, actor, &organization, owner)?;
        Ok(CreatedWithInvitation {
            organization,
            invitation,
        })
    })
}

/// Creates an organization with the signed-in user as its owner.
pub fn create_owned_by(
    conn: &mut DbConnection,
    actor: &Actor,
    name: &OrganizationName,
) -> Result<Organization, Error> {
    let Principal::User(_) = &actor.principal else {
        return Err(Error::Invalid(
            "An organization needs an owner who can sign in.".to_owned(),
        ));
    };
    db::write(conn, |conn| {
        let organization = insert(conn, actor, name)?;
        let owner = person_of(conn, actor)?.ok_or(Error::NotFound("The user was not found.".into()))?;
        members::add(conn, &organization, &owner, Role::OWNER, None, None)?;
        Ok(organization)
    })
}

fn insert(conn: &mut DbConnection, actor: &Actor, name: &OrganizationName) -> Result<Organization, Error> {
    let slug = free_slug(conn, &Slug::from_name(name.as_str()))?;
    let organization = Organization {
        id: new_id(),
        name: name.as_str().to_owned(),
        slug: slug.as_str().to_owned(),
        created_at: now(),
        deleted_at: None,
        deleted_by: None,
        purge_after: None,
    };
    diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(&organization.id),
            organizations::name.eq(&organization.name),
            organizations::slug.eq(&organization.slug),
            organizations::created_at.eq(organization.created_at),
        ))
        .execute(conn)
        .map_err(|error| {
            if db::is_unique_violation(&error) {
                Error::Conflict("Another organization took that name a moment ago; try again.".to_owned())
            } else {
                error.into()
            }
        })?;
    claim_slug(conn, &organization.id, &slug)?;
    let who = crate::services::identity::identify(conn, actor)?;
    audit::record(
        conn,
        AuditEvent {
            org_id: Some(&organization.id),
            actor: (&who).into(),
            action: AuditAction::OrganizationCreated,
            target: AuditTarget {
                // By its slug, which no person's address or account's name can be.
                key: &organization.slug,
                ..AuditTarget::named(
                    TargetKind::Organization,
                    Some(&organization.id),
                    &organization.name,
                )
            },
            before: None,
            after: Some(json!({ "name": organization.name, "slug": organization.slug })),
        },
    )?;
    Ok(organization)
}
