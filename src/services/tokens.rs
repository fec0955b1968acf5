//! API tokens: a member's personal tokens and the keys of service accounts,
//! made, listed and revoked under the policy, and looked up for the token
//! check. Every change is an audit event; no secret is ever in one.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::db::schema::{
    api_tokens, member_list_versions, memberships, organizations, service_accounts, users,
};
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, Action};
use crate::domain::{AccessLevel, ApiSecret, EmailAddress, LabelName, Lifetime, Role, SecretKind};
use crate::error::Error;
use crate::services::access::{Viewer, acting};
use crate::services::shared::{Actor, Organization, Principal, new_id, now, parse_stored_role};

/// What a new token is to be: its name (one line, as names are), access and lifetime.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub name: LabelName,
    pub access: AccessLevel,
    pub lifetime: Lifetime,
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

/// Where a token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub fn label(self) -> &'static str {
        match self {
            TokenStatus::Active => "Active",
            TokenStatus::Expired => "Expired",
            TokenStatus::Revoked => "Revoked",
        }
    }
}

/// A token as lists show it: never the secret, only its kind's prefix and
/// last four characters.
#[derive(Debug, Clone)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub kind: SecretKind,
    /// The person's name and address, or the service account's name.
    pub holder: String,
    pub access: AccessLevel,
    pub last_four: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub last_used_ip: Option<String>,
    pub status: TokenStatus,
}

impl TokenView {
    pub fn prefix(&self) -> &'static str {
        self.kind.prefix()
    }

    /// Whether the viewer can revoke it now: [`list`] shows only tokens the
    /// viewer may revoke, so every one that still works.
    pub fn revocable(&self) -> bool {
        self.status == TokenStatus::Active
    }
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

#[derive(Queryable)]
struct TokenRow {
    id: String,
    name: String,
    kind: String,
    access: String,
    last_four: String,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
    last_used_ip: Option<String>,
    user_name: Option<String>,
    user_email: Option<String>,
    account_name: Option<String>,
}

fn view(row: TokenRow, at: NaiveDateTime) -> Result<TokenView, Error> {
    let kind = SecretKind::parse_stored(&row.kind)
        .ok_or_else(|| Error::Invalid(format!("a stored token has an unknown kind “{}”", row.kind)))?;
    let access: AccessLevel = row
        .access
        .parse()
        .map_err(|error: crate::domain::InvalidAccessLevel| Error::Invalid(error.to_string()))?;
    let holder = match (&row.user_name, &row.user_email, &row.account_name) {
        (Some(name), Some(email), _) => format!("{name} ({email})"),
        (_, _, Some(account)) => format!("{account} (service account)"),
        _ => "—".to_owned(),
    };
    let status = if row.revoked_at.is_some() {
        TokenStatus::Revoked
    } else if row.expires_at <= at {
        TokenStatus::Expired
    } else {
        TokenStatus::Active
    };
    Ok(TokenView {
        id: row.id,
        name: row.name,
        kind,
        holder,
        access,
        last_four: row.last_four,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
        last_used_ip: row.last_used_ip,
        status,
    })
}

/// Whether `role` may see and revoke every token of the organization.
pub fn sees_all(role: Role) -> bool {
    policy::authorize(role, Action::RevokeToken { own: false }).is_ok()
}

/// The tokens the viewer may see, newest first: every token and key of the
/// organization for owners and admins (and the command line), their own for
/// everyone else. Revoked and expired ones are listed as such.
pub fn list(conn: &mut DbConnection, viewer: &Viewer, actor: &Actor) -> Result<Vec<TokenView>, Error> {
    let mut query = api_tokens::table
        .left_join(users::table.on(users::id.nullable().eq(api_tokens::user_id)))
        .left_join(service_accounts::table)
        .filter(api_tokens::org_id.eq(&viewer.org.id))
        .into_boxed();
    if !sees_all(viewer.role) {
        let Principal::User(user_id) = &actor.principal else {
            return Ok(Vec::new());
        };
        query = query.filter(api_tokens::user_id.eq(user_id.clone()));
    }
    let rows: Vec<TokenRow> = query
        .order((api_tokens::created_at.desc(), api_tokens::id.desc()))
        .select((
            api_tokens::id,
            api_tokens::name,
            api_tokens::kind,
            api_tokens::access,
            api_tokens::last_four,
            api_tokens::created_at,
            api_tokens::expires_at,
            api_tokens::revoked_at,
            api_tokens::last_used_at,
            api_tokens::last_used_ip,
            users::name.nullable(),
            users::email.nullable(),
            service_accounts::name.nullable(),
        ))
        .load(conn)?;
    let at = now();
    rows.into_iter().map(|row| view(row, at)).collect()
}

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
        // The holder's name and address, as the audit log keeps them.
        let (holder, holder_email): (String, Option<String>) = match &account_id {
            Some(account_id) => {
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
                (account, None)
            }
            None => {
                let own = user_id.is_some() && user_id == acting.who.user_id;
                policy::authorize(acting.role, Action::RevokeToken { own })?;
                let person: Option<(String, String)> = users::table
                    .filter(users::id.nullable().eq(&user_id))
                    .select((users::name, users::email))
                    .first(conn)
                    .optional()?;
                person.map_or((String::new(), None), |(name, email)| (name, Some(email)))
            }
        };
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
                target: match &holder_email {
                    Some(email) => AuditTarget::person(TargetKind::Token, Some(token_id), &name, email),
                    None => AuditTarget {
                        key: &holder,
                        ..AuditTarget::named(TargetKind::Token, Some(token_id), &name)
                    },
                },
                before: Some(
                    json!({ "token_id": token_id, "holder": holder, "last_four": last_four, "revoked": false }),
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

/// What the token check needs to know of a token, read afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub token_id: String,
    pub org_slug: String,
    /// The person's user id, or the service account's id.
    pub subject: String,
    pub kind: SecretKind,
    /// The holder's role in the organization now.
    pub role: Role,
    pub access: AccessLevel,
    pub expires_at: NaiveDateTime,
    /// When the holder's membership ends, if it does (a service account's
    /// never does): the token stops then, whether or not the background
    /// worker has removed them, and whatever answer a server keeps.
    pub membership_ends_at: Option<NaiveDateTime>,
}

impl TokenGrant {
    /// Whether the token works at `at`: not expired, its holder's
    /// membership not ended, and its access still within what its holder's
    /// role allows.
    pub fn is_active(&self, at: NaiveDateTime) -> bool {
        self.expires_at > at
            && self.membership_ends_at.is_none_or(|ends| ends > at)
            && policy::token_usable(self.role, self.access)
    }
}

/// The live token with this secret, if any: not revoked, its holder still a
/// member (or its service account enabled). Expiry, the token's and its
/// holder's membership's, is the caller's check, as time passes while an
/// answer is kept.
pub fn grant(conn: &mut DbConnection, secret: &ApiSecret) -> Result<Option<TokenGrant>, Error> {
    type Row = (String, String, String, String, NaiveDateTime, String);
    /// A person's membership: its end, when the worker held it, and the
    /// organization's owners.
    type Term = (Option<NaiveDateTime>, Option<NaiveDateTime>, Option<i64>);
    let hash = secret.hash();
    let row: Option<(Row, Option<Term>)> = match secret.kind() {
        SecretKind::Personal => api_tokens::table
            .inner_join(organizations::table)
            .inner_join(
                memberships::table.on(memberships::org_id
                    .eq(api_tokens::org_id)
                    .and(memberships::user_id.nullable().eq(api_tokens::user_id))),
            )
            .left_join(member_list_versions::table.on(member_list_versions::org_id.eq(api_tokens::org_id)))
            .filter(api_tokens::token_hash.eq(hash.as_str()))
            .filter(api_tokens::kind.eq(SecretKind::Personal.as_str()))
            .filter(api_tokens::revoked_at.is_null())
            .filter(organizations::deleted_at.is_null())
            .select((
                (
                    api_tokens::id,
                    organizations::slug,
                    memberships::user_id,
                    memberships::role,
                    api_tokens::expires_at,
                    api_tokens::access,
                ),
                (
                    memberships::expires_at,
                    memberships::expiry_held_at,
                    member_list_versions::owners.nullable(),
                ),
            ))
            .first::<(Row, Term)>(conn)
            .optional()?
            .map(|(row, term)| (row, Some(term))),
        SecretKind::ServiceAccount => api_tokens::table
            .inner_join(organizations::table)
            .inner_join(service_accounts::table)
            .filter(api_tokens::token_hash.eq(hash.as_str()))
            .filter(api_tokens::kind.eq(SecretKind::ServiceAccount.as_str()))
            .filter(api_tokens::revoked_at.is_null())
            .filter(service_accounts::disabled_at.is_null())
            .filter(organizations::deleted_at.is_null())
            .select((
                api_tokens::id,
                organizations::slug,
                service_accounts::id,
                service_accounts::role,
                api_tokens::expires_at,
                api_tokens::access,
            ))
            .first::<Row>(conn)
            .optional()?
            .map(|row| (row, None)),
        SecretKind::Introspection => None,
    };
    let Some(((token_id, org_slug, subject, role, expires_at, access), term)) = row else {
        return Ok(None);
    };
    let role = parse_stored_role(&role)?;
    let membership_ends_at = term.and_then(|(ends, held, owners)| {
        crate::services::shared::term(ends, held, role, owners).access_ends()
    });
    Ok(Some(TokenGrant {
        token_id,
        org_slug,
        subject,
        kind: secret.kind(),
        role,
        access: access
            .parse()
            .map_err(|error: crate::domain::InvalidAccessLevel| Error::Invalid(error.to_string()))?,
        expires_at,
        membership_ends_at,
    }))
}

/// A token's use, to record as its last.
#[derive(Debug, Clone)]
pub struct Use {
    pub token_id: String,
    pub at: NaiveDateTime,
    pub client_ip: Option<String>,
}

/// Records tokens' last uses in one transaction: each row at most once a
/// minute, whatever the number of requests and servers (a row is written
/// only when its last use is older than that).
pub fn record_uses(conn: &mut DbConnection, uses: &[Use]) -> Result<(), Error> {
    if uses.is_empty() {
        return Ok(());
    }
    db::write(conn, |conn| {
        for used in uses {
            diesel::update(
                api_tokens::table.find(&used.token_id).filter(
                    api_tokens::last_used_at
                        .is_null()
                        .or(api_tokens::last_used_at.lt(used.at - chrono::Duration::minutes(1))),
                ),
            )
            .set((
                api_tokens::last_used_at.eq(used.at),
                api_tokens::last_used_ip.eq(used.client_ip.as_deref()),
            ))
            .execute(conn)?;
        }
        Ok(())
    })
}
