//! Listing tokens, as the member who looks may see them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{api_tokens, service_accounts, users};
use crate::domain::policy::{self, Action};
use crate::domain::{AccessLevel, Role, SecretKind, TokenLimits};
use crate::error::Error;
use crate::services::access::Viewer;
use crate::services::shared::{Actor, Principal, now};

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
    /// For a token made to carry only some of its holder's permissions:
    /// their names.
    pub only: Option<String>,
    /// Where it works from and (a key's) how often.
    pub limits: TokenLimits,
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
    permissions: Option<String>,
    networks: Option<String>,
    rate: Option<String>,
    user_name: Option<String>,
    user_email: Option<String>,
    account_name: Option<String>,
}

fn view(row: TokenRow, at: NaiveDateTime) -> Result<TokenView, Error> {
    let kind = SecretKind::parse_stored(&row.kind)
        .ok_or_else(|| Error::Invalid(format!("a stored token has an unknown kind “{}”", row.kind)))?;
    let access: AccessLevel = row.access.parse().map_err(Error::from)?;
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
        only: row.permissions,
        limits: super::grant::stored_limits(row.networks.as_deref(), row.rate.as_deref())?,
    })
}

/// Whether `role` may see and revoke every token of the organization.
pub fn sees_all(role: Role) -> bool {
    policy::authorize(role, Action::ManageToken { own: false }).is_ok()
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
            api_tokens::permissions,
            api_tokens::networks,
            api_tokens::rate,
            users::name.nullable(),
            users::email.nullable(),
            service_accounts::name.nullable(),
        ))
        .load(conn)?;
    let at = now();
    rows.into_iter().map(|row| view(row, at)).collect()
}
