//! Introspection clients (the platform's gateways, which ask whether tokens
//! are good) and the changes that make the token check answer differently.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, AuditAction, AuditTarget, TargetKind};
use crate::db::schema::{auth_changes, introspection_clients};
use crate::db::{self, DbConnection};
use crate::domain::{ApiSecret, LabelName, SecretKind};
use crate::error::Error;
use crate::services::shared::{new_id, now};

/// A client as `introspection-client list` shows it.
#[derive(Debug, Clone)]
pub struct Client {
    pub name: String,
    pub last_four: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Makes a client; its secret exists only in the answer, to be printed once.
pub fn create_client(conn: &mut DbConnection, name: &LabelName) -> Result<ApiSecret, Error> {
    if name.passes_for_someone() {
        return Err(Error::Invalid(
            "A client's name cannot contain “@” or be “command line”: the audit log names people by their address."
                .to_owned(),
        ));
    }
    db::write(conn, |conn| {
        let taken: bool = diesel::select(diesel::dsl::exists(
            introspection_clients::table.filter(introspection_clients::name.eq(name.as_str())),
        ))
        .get_result(conn)?;
        if taken {
            return Err(Error::Conflict(format!(
                "An introspection client named “{}” already exists; revoke it first or choose another name.",
                name.as_str()
            )));
        }
        let secret = ApiSecret::generate(SecretKind::Introspection);
        let id = new_id();
        diesel::insert_into(introspection_clients::table)
            .values((
                introspection_clients::id.eq(&id),
                introspection_clients::name.eq(name.as_str()),
                introspection_clients::secret_hash.eq(secret.hash().as_str()),
                introspection_clients::last_four.eq(secret.last_four()),
                introspection_clients::created_at.eq(now()),
            ))
            .execute(conn)?;
        audit::record_by_command_line(
            conn,
            AuditAction::IntrospectionClientCreated,
            AuditTarget::named(TargetKind::IntrospectionClient, Some(&id), name.as_str()),
            serde_json::json!({ "prefix": SecretKind::Introspection.prefix(), "last_four": secret.last_four() }),
        )?;
        Ok(secret)
    })
}

pub fn list_clients(conn: &mut DbConnection) -> Result<Vec<Client>, Error> {
    let rows: Vec<(String, String, NaiveDateTime, Option<NaiveDateTime>)> = introspection_clients::table
        .order(introspection_clients::name)
        .select((
            introspection_clients::name,
            introspection_clients::last_four,
            introspection_clients::created_at,
            introspection_clients::revoked_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(name, last_four, created_at, revoked_at)| Client {
            name,
            last_four,
            created_at,
            revoked_at,
        })
        .collect())
}

/// Revokes a client: its secret stops working on every server.
pub fn revoke_client(conn: &mut DbConnection, name: &str) -> Result<(), Error> {
    db::write(conn, |conn| {
        let revoked = diesel::update(
            introspection_clients::table
                .filter(introspection_clients::name.eq(name))
                .filter(introspection_clients::revoked_at.is_null()),
        )
        .set(introspection_clients::revoked_at.eq(now()))
        .execute(conn)?;
        if revoked == 0 {
            return Err(Error::NotFound(format!(
                "There is no active introspection client “{name}”."
            )));
        }
        audit::record_by_command_line(
            conn,
            AuditAction::IntrospectionClientRevoked,
            AuditTarget::named(TargetKind::IntrospectionClient, None, name),
            serde_json::json!({ "revoked": true }),
        )
    })
}

/// Whether `secret` is an active client's.
pub fn is_client(conn: &mut DbConnection, secret: &ApiSecret) -> Result<bool, Error> {
    if secret.kind() != SecretKind::Introspection {
        return Ok(false);
    }
    Ok(diesel::select(diesel::dsl::exists(
        introspection_clients::table
            .filter(introspection_clients::secret_hash.eq(secret.hash().as_str()))
            .filter(introspection_clients::revoked_at.is_null()),
    ))
    .get_result(conn)?)
}

/// The ids of changes after `after`, oldest first (see the `auth_changes`
/// table): what a server watches to know when to forget what it keeps.
pub fn changes_after(conn: &mut DbConnection, after: i64) -> Result<Vec<i64>, Error> {
    Ok(auth_changes::table
        .filter(auth_changes::id.gt(after))
        .order(auth_changes::id)
        .select(auth_changes::id)
        .load(conn)?)
}

/// Forgets changes well behind the newest: every server has seen them.
pub fn prune_changes(conn: &mut DbConnection, keep: i64) -> Result<(), Error> {
    db::write(conn, |conn| {
        let newest: Option<i64> = auth_changes::table
            .select(diesel::dsl::max(auth_changes::id))
            .first(conn)?;
        if let Some(newest) = newest {
            diesel::delete(auth_changes::table.filter(auth_changes::id.lt(newest - keep))).execute(conn)?;
        }
        Ok(())
    })
}
