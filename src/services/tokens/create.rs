//! Making a token: a member's personal token, or (through `insert`) a
//! service account's key.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::{api_tokens, memberships};
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, Action, TokenScope};
use crate::domain::{AccessLevel, ApiSecret, EmailAddress, LabelName, Lifetime, SecretKind, TokenLimits};
use crate::error::Error;
use crate::services::access::acting;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::shared::{Actor, Organization, Principal, new_id, now, parse_stored_role};

/// What a new token is to be: its name (one line, as names are), access and lifetime.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub name: LabelName,
    pub access: AccessLevel,
    pub lifetime: Lifetime,
    /// Everything its holder's role allows, or only some of it.
    pub scope: TokenScope,
    /// Where it works from, and (a key's) how often.
    pub limits: TokenLimits,
}

/// A token just made: the secret exists only here, to be shown once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub id: String,
    pub name: String,
    pub secret: ApiSecret,
    pub access: AccessLevel,
    pub expires_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = api_tokens, treat_none_as_null = true)]
struct NewApiToken<'a> {
    id: &'a str,
    org_id: &'a str,
    kind: &'static str,
    user_id: Option<&'a str>,
    service_account_id: Option<&'a str>,
    name: &'a str,
    access: &'static str,
    token_hash: &'a str,
    last_four: &'a str,
    created_by: Option<&'a str>,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    permissions: Option<String>,
    networks: Option<String>,
    rate: Option<String>,
}

/// Whose token a new one is, by id and by name (and address) for the audit log.
pub(crate) enum Holder<'a> {
    User {
        id: &'a str,
        name: &'a str,
        email: &'a str,
    },
    ServiceAccount {
        id: &'a str,
        name: &'a str,
    },
}

/// Inserts a token for `holder`, in the caller's transaction, and records it.
pub(crate) fn insert(
    conn: &mut DbConnection,
    org: &Organization,
    who: &crate::services::identity::Identified,
    holder: Holder<'_>,
    request: &TokenRequest,
) -> Result<IssuedToken, Error> {
    let (kind, user_id, service_account_id, action, holder_name) = match holder {
        Holder::User { id, name, .. } => (
            SecretKind::Personal,
            Some(id),
            None,
            AuditAction::TokenCreated,
            name,
        ),
        Holder::ServiceAccount { id, name } => (
            SecretKind::ServiceAccount,
            None,
            Some(id),
            AuditAction::ServiceAccountKeyCreated,
            name,
        ),
    };
    let secret = ApiSecret::generate(kind);
    let at = now();
    let expires_at = at
        .checked_add_signed(chrono::Duration::days(i64::from(request.lifetime.days())))
        .unwrap_or(NaiveDateTime::MAX);
    let id = new_id();
    diesel::insert_into(api_tokens::table)
        .values(NewApiToken {
            id: &id,
            org_id: &org.id,
            kind: kind.as_str(),
            user_id,
            service_account_id,
            name: request.name.as_str(),
            access: request.access.as_str(),
            token_hash: secret.hash().as_str(),
            last_four: secret.last_four(),
            created_by: who.user_id.as_deref(),
            created_at: at,
            expires_at,
            permissions: request.scope.to_stored(),
            networks: request.limits.networks.to_stored(),
            rate: request.limits.rate.map(|rate| rate.to_string()),
        })
        .execute(conn)?;
    audit::record(
        conn,
        AuditEvent {
            org_id: Some(&org.id),
            actor: who.into(),
            action,
            target: match holder {
                Holder::User { email, .. } => {
                    AuditTarget::person(TargetKind::Token, Some(&id), request.name.as_str(), email)
                }
                Holder::ServiceAccount { id, name } => {
                    AuditTarget::named(TargetKind::ServiceAccount, Some(id), name)
                }
            },
            before: None,
            after: Some(json!({
                "token_id": id,
                "name": request.name.as_str(),
                "holder": holder_name,
                "prefix": kind.prefix(),
                "last_four": secret.last_four(),
                "access": request.access.as_str(),
                "permissions": request.scope.to_stored(),
                "networks": request.limits.networks.to_stored(),
                "rate": request.limits.rate.map(|rate| rate.to_string()),
                "expires_at": expires_at.and_utc().to_rfc3339(),
            })),
        },
    )?;
    Ok(IssuedToken {
        id,
        name: request.name.as_str().to_owned(),
        secret,
        access: request.access,
        expires_at,
    })
}

/// Makes a personal token. A signed-in member makes their own; the command
/// line makes one for `for_user` (a member), under that member's role.
pub fn create_personal(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    for_user: Option<&EmailAddress>,
    request: &TokenRequest,
) -> Result<IssuedToken, Error> {
    db::write(conn, |conn| {
        let acting = acting(conn, actor, org)?;
        let (holder_id, holder_role, holder_name, holder_email) = match (&actor.principal, for_user) {
            (Principal::User(id), _) => (
                id.clone(),
                acting.role,
                acting.who.name.clone(),
                acting.who.audit_label.clone(),
            ),
            (Principal::CommandLine, Some(email)) => {
                let (id, role, name): (String, String, String) = memberships::table
                    .filter(memberships::org_id.eq(&org.id))
                    .filter(memberships::email.eq(email.as_str()))
                    .select((memberships::user_id, memberships::role, memberships::name))
                    .first(conn)
                    .optional()?
                    .ok_or_else(|| Error::NotFound(format!("{email} is not a member of {}.", org.name)))?;
                (id, parse_stored_role(&role)?, name, email.to_string())
            }
            (Principal::ServiceAccount(_), _) => {
                return Err(Error::Invalid(
                    "A service account makes keys for itself through an owner or admin, not personal tokens."
                        .to_owned(),
                ));
            }
            (Principal::CommandLine, None) => {
                return Err(Error::Invalid(
                    "Name the member the token is for (--user EMAIL).".to_owned(),
                ));
            }
        };
        policy::authorize(
            holder_role,
            Action::CreateToken {
                access: request.access,
            },
        )?;
        request.limits.clone().for_kind(SecretKind::Personal)?;
        if let TokenScope::Only(chosen) = request.scope {
            policy::may_narrow(holder_role, request.access, chosen)?;
        }
        insert(
            conn,
            org,
            &acting.who,
            Holder::User {
                id: &holder_id,
                name: &holder_name,
                email: &holder_email,
            },
            request,
        )
    })
}
