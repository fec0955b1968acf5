//! Whose a token is, as revoking it or changing its limits needs to know:
//! whether the one acting may manage it, and how the audit log names it.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{service_accounts, users};
use crate::domain::SecretKind;
use crate::domain::policy::{self, Action};
use crate::error::Error;
use crate::services::access::Acting;
use crate::services::audit::{AuditTarget, TargetKind};
use crate::services::shared::parse_stored_role;

/// A token's holder: a person (with their address) or a service account.
pub(super) struct TokenHolder {
    pub name: String,
    pub email: Option<String>,
    pub kind: SecretKind,
}

impl TokenHolder {
    /// The holder of a token held by `user_id` or by `account_id`, if
    /// `acting` may manage it: one's own token, or (owners and admins)
    /// anyone's; a service account's key as its account's role allows.
    pub fn managed_by(
        conn: &mut DbConnection,
        acting: &Acting,
        user_id: Option<&str>,
        account_id: Option<&str>,
    ) -> Result<Self, Error> {
        if let Some(account_id) = account_id {
            let (role, account): (String, String) = service_accounts::table
                .find(account_id)
                .select((service_accounts::role, service_accounts::name))
                .first(conn)?;
            policy::authorize(
                acting.role,
                Action::ManageServiceAccount {
                    role: parse_stored_role(&role)?,
                },
            )?;
            return Ok(Self {
                name: account,
                email: None,
                kind: SecretKind::ServiceAccount,
            });
        }
        let own = user_id.is_some() && user_id == acting.who.user_id.as_deref();
        policy::authorize(acting.role, Action::ManageToken { own })?;
        let person: Option<(String, String)> = users::table
            .filter(users::id.nullable().eq(user_id))
            .select((users::name, users::email))
            .first(conn)
            .optional()?;
        let (name, email) = person.map_or((String::new(), None), |(name, email)| (name, Some(email)));
        Ok(Self {
            name,
            email,
            kind: SecretKind::Personal,
        })
    }

    /// The token `token_id` named `name`, as the audit log records it.
    pub fn audit_target<'a>(&'a self, token_id: &'a str, name: &'a str) -> AuditTarget<'a> {
        match &self.email {
            Some(email) => AuditTarget::person(TargetKind::Token, Some(token_id), name, email),
            None => AuditTarget {
                key: &self.name,
                ..AuditTarget::named(TargetKind::Token, Some(token_id), name)
            },
        }
    }
}
