//! Setting where a token works from and how often a key may be used.

use diesel::prelude::*;
use serde_json::json;

use super::grant::stored_limits;
use super::holder::TokenHolder;
use crate::db::schema::api_tokens;
use crate::db::{self, DbConnection};
use crate::domain::{LimitsChange, TokenLimits};
use crate::error::Error;
use crate::services::access::acting;
use crate::services::audit::{self, AuditAction, AuditEvent};
use crate::services::shared::{Actor, Organization};

/// Changes a live token's networks or (a key's) rate: one's own token's
/// networks, or (owners and admins) any token's and key's. Only what the
/// change names is written, so two changes of different limits made at once
/// both hold. Returns the token's name and its limits now.
pub fn restrict(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    token_id: &str,
    change: &LimitsChange,
) -> Result<(String, TokenLimits), Error> {
    db::write(conn, |conn| {
        let acting = acting(conn, actor, org)?;
        /// Name, holder (a person or an account), networks, rate.
        type Found = (
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let found: Option<Found> = api_tokens::table
            .filter(api_tokens::id.eq(token_id))
            .filter(api_tokens::org_id.eq(&org.id))
            .filter(api_tokens::revoked_at.is_null())
            .select((
                api_tokens::name,
                api_tokens::user_id,
                api_tokens::service_account_id,
                api_tokens::networks,
                api_tokens::rate,
            ))
            .first(conn)
            .optional()?;
        let Some((name, user_id, account_id, networks, rate)) = found else {
            return Err(Error::NotFound(
                "There is no such live token in this organization.".to_owned(),
            ));
        };
        let before = stored_limits(networks.as_deref(), rate.as_deref())?;
        let limits = change.applied_to(&before);
        let holder = TokenHolder::managed_by(conn, &acting, user_id.as_deref(), account_id.as_deref())?;
        limits.clone().for_kind(holder.kind)?;
        if before == limits {
            return Ok((name, limits));
        }
        if limits.networks != before.networks {
            diesel::update(api_tokens::table.find(token_id))
                .set(api_tokens::networks.eq(limits.networks.to_stored()))
                .execute(conn)?;
        }
        if limits.rate != before.rate {
            diesel::update(api_tokens::table.find(token_id))
                .set(api_tokens::rate.eq(limits.rate.map(|rate| rate.to_string())))
                .execute(conn)?;
        }
        let state = |limits: &TokenLimits| {
            json!({
                "networks": limits.networks.to_stored(),
                "rate": limits.rate.map(|rate| rate.to_string()),
            })
        };
        let mut before_state = state(&before);
        before_state["token_id"] = json!(token_id);
        before_state["holder"] = json!(holder.name);
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::TokenRestricted,
                target: holder.audit_target(token_id, &name),
                before: Some(before_state),
                after: Some(state(&limits)),
            },
        )?;
        Ok((name, limits))
    })
}
