//! The email domains an organization accepts.

use diesel::prelude::*;
use serde_json::json;

use super::locked::{fresh, org_target};
use crate::db::schema::allowed_email_domains;
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, Action};
use crate::domain::{EmailDomain, MAX_ALLOWED_DOMAINS};
use crate::error::Error;
use crate::services::audit::{self, AuditAction, AuditEvent};
use crate::services::shared::{Actor, Organization};

/// The email domains the organization accepts, sorted; empty: any.
pub fn allowed_domains(conn: &mut DbConnection, org_id: &str) -> Result<Vec<EmailDomain>, Error> {
    let stored: Vec<String> = allowed_email_domains::table
        .filter(allowed_email_domains::org_id.eq(org_id))
        .order(allowed_email_domains::domain)
        .select(allowed_email_domains::domain)
        .load(conn)?;
    Ok(stored
        .iter()
        .filter_map(|domain| EmailDomain::parse(domain).ok())
        .collect())
}

/// Replaces the list of email domains invitations may go to (empty: any).
/// Pending invitations to other domains stay, and are refused when accepted.
pub fn set_allowed_domains(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    domains: &[EmailDomain],
) -> Result<Vec<EmailDomain>, Error> {
    if domains.len() > MAX_ALLOWED_DOMAINS {
        return Err(Error::Invalid(format!(
            "That is {} domains; list at most {MAX_ALLOWED_DOMAINS}.",
            domains.len()
        )));
    }
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::ChangeAllowedDomains)?;
        let before = allowed_domains(conn, &org.id)?;
        if before == domains {
            return Ok(before);
        }
        diesel::delete(allowed_email_domains::table.filter(allowed_email_domains::org_id.eq(&org.id)))
            .execute(conn)?;
        for domain in domains {
            diesel::insert_into(allowed_email_domains::table)
                .values((
                    allowed_email_domains::org_id.eq(&org.id),
                    allowed_email_domains::domain.eq(domain.as_str()),
                ))
                .execute(conn)?;
        }
        let names = |list: &[EmailDomain]| list.iter().map(|d| d.as_str().to_owned()).collect::<Vec<_>>();
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::DomainsChanged,
                target: org_target(&org),
                before: Some(json!({ "domains": names(&before) })),
                after: Some(json!({ "domains": names(domains) })),
            },
        )?;
        Ok(domains.to_vec())
    })
}
