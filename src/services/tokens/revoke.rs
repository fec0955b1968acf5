//! Revoking a token, and all of a member's when they leave.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::holder::TokenHolder;
use crate::db::schema::api_tokens;
use crate::db::{self, DbConnection};
use crate::error::Error;
use crate::services::access::acting;
use crate::services::audit::{self, AuditAction, AuditEvent};
use crate::services::shared::{Actor, Organization, now};

/// Revokes a token or key of the organization: one's own, or (owners and
/// admins) anyone's. Revoking twice says so.
pub fn revoke(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    token_id: &str,
) -> Result<String, Error> {
    db::write(conn, |conn| {
        let acting = acting(conn, actor, org)?;
        /// Name, holder (a person or an account), revoked, last four.
        type Found = (
            String,
            Option<String>,
            Option<String>,
            Option<NaiveDateTime>,
            String,
        );
        let found: Option<Found> = api_tokens::table
            .filter(api_tokens::id.eq(token_id))
            .filter(api_tokens::org_id.eq(&org.id))
            .select((
                api_tokens::name,
                api_tokens::user_id,
                api_tokens::service_account_id,
                api_tokens::revoked_at,
                api_tokens::last_four,
            ))
            .first(conn)
            .optional()?;
        let Some((name, user_id, account_id, revoked_at, last_four)) = found else {
            return Err(Error::NotFound(
                "There is no such token in this organization.".to_owned(),
            ));
        };
        let holder = TokenHolder::managed_by(conn, &acting, user_id.as_deref(), account_id.as_deref())?;
        if revoked_at.is_some() {
            return Err(Error::Conflict(format!(
                "The token “{name}” was already revoked."
            )));
        }
        diesel::update(
            api_tokens::table
                .find(token_id)
                .filter(api_tokens::revoked_at.is_null()),
        )
        .set(api_tokens::revoked_at.eq(now()))
        .execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::TokenRevoked,
                target: holder.audit_target(token_id, &name),
                before: Some(
                    json!({ "token_id": token_id, "holder": holder.name, "last_four": last_four, "revoked": false }),
                ),
                after: Some(json!({ "revoked": true })),
            },
        )?;
        Ok(name)
    })
}

/// Revokes every live token a member holds in the organization, in the
/// caller's transaction (the member is being removed or is leaving); returns
/// how many.
pub(crate) fn revoke_all_of_member(
    conn: &mut DbConnection,
    org: &Organization,
    user_id: &str,
) -> Result<usize, Error> {
    Ok(diesel::update(
        api_tokens::table
            .filter(api_tokens::org_id.eq(&org.id))
            .filter(api_tokens::user_id.eq(user_id))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(now()))
    .execute(conn)?)
}
