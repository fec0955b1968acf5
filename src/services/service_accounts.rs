//! Service accounts: members of an organization that are machines. They have
//! a role (never Owner, never above their creator's), any number of keys, and
//! no way into the console; they never count toward the last-owner rule
//! (they are not memberships).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use super::tokens::{self, Holder, IssuedToken, TokenRequest};
use crate::db::schema::{api_tokens, service_accounts};
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, Action, Permission, TokenScope};
use crate::domain::{AccessLevel, Description, LabelName, Lifetime, Role, TokenLimits};
use crate::error::Error;
use crate::services::access::{Viewer, acting};
use crate::services::shared::{Actor, Organization, new_id, now, parse_stored_role};

/// A service account as lists show it.
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    pub id: String,
    pub name: String,
    pub description: String,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub disabled_at: Option<NaiveDateTime>,
    /// Keys that are neither revoked nor expired.
    pub active_keys: i64,
}

/// What a new service account is to be.
#[derive(Debug, Clone)]
pub struct AccountRequest {
    pub name: LabelName,
    pub description: Description,
    pub role: Role,
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!(
        "There is no service account “{name}” in this organization."
    ))
}

/// Finds an account by name (as the command line names it) or by id.
fn find(
    conn: &mut DbConnection,
    org: &Organization,
    name_or_id: &str,
) -> Result<(String, String, Role, Option<NaiveDateTime>), Error> {
    let found: Option<(String, String, String, Option<NaiveDateTime>)> = service_accounts::table
        .filter(service_accounts::org_id.eq(&org.id))
        .filter(
            service_accounts::name
                .eq(name_or_id)
                .or(service_accounts::id.eq(name_or_id)),
        )
        .select((
            service_accounts::id,
            service_accounts::name,
            service_accounts::role,
            service_accounts::disabled_at,
        ))
        .first(conn)
        .optional()?;
    let (id, name, role, disabled_at) = found.ok_or_else(|| not_found(name_or_id))?;
    Ok((id, name, parse_stored_role(&role)?, disabled_at))
}

/// Whether `role` may see and manage service accounts at all.
fn may_manage(role: Role) -> Result<(), Error> {
    Ok(policy::require(role, Permission::ManageServiceAccounts)?)
}

/// The name of one of the organization's accounts (by id or name), for a
/// viewer who may manage them.
pub fn name_of(conn: &mut DbConnection, viewer: &Viewer, name_or_id: &str) -> Result<String, Error> {
    may_manage(viewer.role)?;
    find(conn, &viewer.org, name_or_id).map(|(_, name, _, _)| name)
}

/// An account the actor may manage, found by name or id.
struct Managed {
    acting: crate::services::access::Acting,
    id: String,
    name: String,
    role: Role,
    disabled_at: Option<NaiveDateTime>,
}

fn managed(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    name_or_id: &str,
) -> Result<Managed, Error> {
    let acting = acting(conn, actor, org)?;
    let (id, name, role, disabled_at) = find(conn, org, name_or_id)?;
    policy::authorize(acting.role, Action::ManageServiceAccount { role })?;
    Ok(Managed {
        acting,
        id,
        name,
        role,
        disabled_at,
    })
}

/// Creates a service account with a role the actor may give it.
pub fn create(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    request: &AccountRequest,
) -> Result<ServiceAccount, Error> {
    db::write(conn, |conn| {
        let acting = acting(conn, actor, org)?;
        policy::authorize(acting.role, Action::ManageServiceAccount { role: request.role })?;
        if request.name.passes_for_someone() {
            return Err(Error::Invalid(
                "A service account's name cannot contain “@” or be “command line”: the audit log names people by their address."
                    .to_owned(),
            ));
        }
        let taken: bool = diesel::select(diesel::dsl::exists(
            service_accounts::table
                .filter(service_accounts::org_id.eq(&org.id))
                .filter(service_accounts::name.eq(request.name.as_str())),
        ))
        .get_result(conn)?;
        if taken {
            return Err(Error::Conflict(format!(
                "A service account named “{}” already exists here.",
                request.name.as_str()
            )));
        }
        let account = ServiceAccount {
            id: new_id(),
            name: request.name.as_str().to_owned(),
            description: request.description.as_str().to_owned(),
            role: request.role,
            created_at: now(),
            disabled_at: None,
            active_keys: 0,
        };
        diesel::insert_into(service_accounts::table)
            .values((
                service_accounts::id.eq(&account.id),
                service_accounts::org_id.eq(&org.id),
                service_accounts::name.eq(&account.name),
                service_accounts::description.eq(&account.description),
                service_accounts::role.eq(account.role.as_str()),
                service_accounts::created_by.eq(acting.who.user_id.as_deref()),
                service_accounts::created_at.eq(account.created_at),
            ))
            .execute(conn)
            .map_err(|error| {
                if db::is_unique_violation(&error) {
                    Error::Conflict(format!(
                        "A service account named “{}” already exists here.",
                        account.name
                    ))
                } else {
                    error.into()
                }
            })?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::ServiceAccountCreated,
                target: AuditTarget::named(TargetKind::ServiceAccount, Some(&account.id), &account.name),
                before: None,
                after: Some(
                    json!({ "id": account.id, "role": account.role.as_str(), "description": account.description }),
                ),
            },
        )?;
        Ok(account)
    })
}

/// Every service account of the organization, by name, for a viewer who may
/// manage them.
pub fn list(conn: &mut DbConnection, viewer: &Viewer) -> Result<Vec<ServiceAccount>, Error> {
    may_manage(viewer.role)?;
    type Row = (
        String,
        String,
        String,
        String,
        NaiveDateTime,
        Option<NaiveDateTime>,
    );
    let rows: Vec<Row> = service_accounts::table
        .filter(service_accounts::org_id.eq(&viewer.org.id))
        .order(service_accounts::name)
        .select((
            service_accounts::id,
            service_accounts::name,
            service_accounts::description,
            service_accounts::role,
            service_accounts::created_at,
            service_accounts::disabled_at,
        ))
        .load(conn)?;
    let at = now();
    let live: Vec<(Option<String>, i64)> = api_tokens::table
        .filter(api_tokens::org_id.eq(&viewer.org.id))
        .filter(api_tokens::service_account_id.is_not_null())
        .filter(api_tokens::revoked_at.is_null())
        .filter(api_tokens::expires_at.gt(at))
        .group_by(api_tokens::service_account_id)
        .select((api_tokens::service_account_id, diesel::dsl::count_star()))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, name, description, role, created_at, disabled_at)| {
            let active_keys = live
                .iter()
                .find(|(account, _)| account.as_deref() == Some(id.as_str()))
                .map_or(0, |(_, count)| *count);
            Ok(ServiceAccount {
                role: parse_stored_role(&role)?,
                id,
                name,
                description,
                created_at,
                disabled_at,
                active_keys,
            })
        })
        .collect()
}

/// Disables an account: every key stops working at once, on every server.
pub fn disable(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    name_or_id: &str,
) -> Result<String, Error> {
    db::write(conn, |conn| {
        let Managed {
            acting,
            id,
            name,
            disabled_at,
            ..
        } = managed(conn, actor, org, name_or_id)?;
        if disabled_at.is_some() {
            return Err(Error::Conflict(format!(
                "The service account “{name}” is already disabled."
            )));
        }
        diesel::update(service_accounts::table.find(&id))
            .set(service_accounts::disabled_at.eq(now()))
            .execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::ServiceAccountDisabled,
                target: AuditTarget::named(TargetKind::ServiceAccount, Some(&id), &name),
                before: Some(json!({ "id": id, "disabled": false })),
                after: Some(json!({ "disabled": true })),
            },
        )?;
        Ok(name)
    })
}

/// Deletes an account and its keys.
pub fn delete(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    name_or_id: &str,
) -> Result<String, Error> {
    db::write(conn, |conn| {
        let Managed {
            acting,
            id,
            name,
            role,
            ..
        } = managed(conn, actor, org, name_or_id)?;
        let keys =
            diesel::delete(api_tokens::table.filter(api_tokens::service_account_id.eq(&id))).execute(conn)?;
        diesel::delete(service_accounts::table.find(&id)).execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::ServiceAccountDeleted,
                target: AuditTarget::named(TargetKind::ServiceAccount, Some(&id), &name),
                before: Some(json!({ "id": id, "role": role.as_str(), "keys": keys })),
                after: None,
            },
        )?;
        Ok(name)
    })
}

/// What a new key is to be; without a name it is "ACCOUNT key".
#[derive(Debug, Clone)]
pub struct KeyRequest {
    pub name: Option<LabelName>,
    pub access: AccessLevel,
    pub lifetime: Lifetime,
    /// Where it works from and how often.
    pub limits: TokenLimits,
}

/// Makes a key for an enabled account, with an access its role allows.
pub fn create_key(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    name_or_id: &str,
    key: &KeyRequest,
) -> Result<IssuedToken, Error> {
    db::write(conn, |conn| {
        let Managed {
            acting,
            id,
            name,
            role,
            disabled_at,
        } = managed(conn, actor, org, name_or_id)?;
        if disabled_at.is_some() {
            return Err(Error::Conflict(format!(
                "The service account “{name}” is disabled; its keys cannot be used."
            )));
        }
        let request = TokenRequest {
            name: match &key.name {
                Some(name) => name.clone(),
                None => LabelName::parse(&format!("{name} key"))
                    .or_else(|_| LabelName::parse(&name))
                    .map_err(Error::from)?,
            },
            access: key.access,
            lifetime: key.lifetime,
            scope: TokenScope::Role,
            limits: key.limits.clone(),
        };
        if !policy::token_usable(role, request.access) {
            return Err(Error::Invalid(format!(
                "A {} service account’s keys can have inference access only.",
                role.label()
            )));
        }
        tokens::insert(
            conn,
            org,
            &acting.who,
            Holder::ServiceAccount { id: &id, name: &name },
            &request,
        )
    })
}
