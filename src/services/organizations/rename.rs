//! Renaming an organization: a new name, a new slug, or both.

use diesel::prelude::*;
use serde_json::json;

use super::locked::{fresh, org_target};
use super::slugs::claim_slug;
use crate::db::schema::{organization_slugs, organizations};
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, Action};
use crate::domain::{OrganizationName, Slug};
use crate::error::Error;
use crate::services::audit::{self, AuditAction, AuditEvent};
use crate::services::shared::{Actor, Organization, now};

/// What a rename asks for: a new name, a new slug, or both.
#[derive(Debug, Clone, Default)]
pub struct Rename {
    pub name: Option<OrganizationName>,
    pub slug: Option<Slug>,
}

/// Renames the organization. A new slug takes effect at once; the old one
/// answers 301 to the new one and stays reserved for 90 days.
pub fn rename(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    change: &Rename,
) -> Result<Organization, Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::ManageOrganization)?;
        let name = change
            .name
            .as_ref()
            .map_or(org.name.clone(), |name| name.as_str().to_owned());
        let new_slug = change.slug.as_ref().filter(|slug| slug.as_str() != org.slug);
        if name == org.name && new_slug.is_none() {
            return Ok(org);
        }
        let slug = new_slug.map_or(org.slug.clone(), ToString::to_string);
        if let Some(new_slug) = new_slug {
            claim_slug(conn, &org.id, new_slug)?;
            diesel::update(
                organization_slugs::table
                    .filter(organization_slugs::slug.eq(&org.slug))
                    .filter(organization_slugs::org_id.eq(&org.id)),
            )
            .set(organization_slugs::retired_at.eq(now()))
            .execute(conn)?;
        }
        diesel::update(organizations::table.find(&org.id))
            .set((organizations::name.eq(&name), organizations::slug.eq(&slug)))
            .execute(conn)
            .map_err(|error| {
                if db::is_unique_violation(&error) {
                    Error::Conflict(format!(
                        "The address /orgs/{slug} was taken a moment ago; choose another."
                    ))
                } else {
                    error.into()
                }
            })?;
        let renamed = Organization {
            name,
            slug,
            ..org.clone()
        };
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::OrganizationRenamed,
                target: org_target(&renamed),
                before: Some(json!({ "name": org.name, "slug": org.slug })),
                after: Some(json!({ "name": renamed.name, "slug": renamed.slug })),
            },
        )?;
        Ok(renamed)
    })
}
