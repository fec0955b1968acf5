//! An organization read again under its lock, and how its events name it.

use super::find as orgs;
use crate::db::{self, DbConnection};
use crate::error::Error;
use crate::services::access::{Acting, acting};
use crate::services::audit::{AuditTarget, TargetKind};
use crate::services::shared::{Actor, Organization};

/// The organization as its audit events name it: by its slug, which no
/// person's address or account's name can be.
pub(super) fn org_target(org: &Organization) -> AuditTarget<'_> {
    AuditTarget {
        key: &org.slug,
        ..AuditTarget::named(TargetKind::Organization, Some(&org.id), &org.name)
    }
}

/// Reads the organization again inside the transaction, after its lock
/// (what the request found before may have changed: renamed, deleted), and
/// the actor in it: a member of a deleted one is told so, anyone else that
/// they are not a member.
pub(super) fn fresh(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
) -> Result<(Organization, Acting), Error> {
    db::lock_organization(conn, &org.id)?;
    let org = orgs::find_any(conn, &org.id)?;
    let acting = acting(conn, actor, &org)?;
    org.ensure_live()?;
    Ok((org, acting))
}
