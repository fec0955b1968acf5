//! What a token may do now, read from the database, and its last uses.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{api_tokens, member_list_versions, memberships, organizations, service_accounts};
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, TokenPowers, TokenScope};
use crate::domain::{AccessLevel, ApiSecret, ClientNetworks, KeyRate, Role, SecretKind, TokenLimits};
use crate::error::Error;
use crate::services::shared::parse_stored_role;

/// An id as stored, kept in 16 bytes when it is a UUID as Rollcall writes
/// them (every server keeps up to hundreds of thousands of answers, each
/// with two ids); any other text is kept as it is. It reads back exactly as
/// stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoredId {
    Uuid(uuid::Uuid),
    Text(Box<str>),
}

impl From<String> for StoredId {
    fn from(text: String) -> Self {
        match uuid::Uuid::try_parse(&text) {
            Ok(id) if id.hyphenated().to_string() == text => StoredId::Uuid(id),
            _ => StoredId::Text(text.into_boxed_str()),
        }
    }
}

impl std::fmt::Display for StoredId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredId::Uuid(id) => id.hyphenated().fmt(f),
            StoredId::Text(text) => f.write_str(text),
        }
    }
}

impl StoredId {
    /// Whether `text` is this id, as stored.
    pub fn is(&self, text: &str) -> bool {
        match self {
            StoredId::Uuid(id) => *id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()) == *text,
            StoredId::Text(own) => **own == *text,
        }
    }
}

/// What the token check needs to know of a token, read afresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub token_id: StoredId,
    /// Shared by every kept answer of the organization (see `LiveTokens`).
    pub org_slug: Arc<str>,
    /// The person's user id, or the service account's id.
    pub subject: StoredId,
    pub kind: SecretKind,
    /// The holder's role in the organization now.
    pub role: Role,
    pub access: AccessLevel,
    /// Everything the role allows, or only what the token's maker chose.
    pub scope: TokenScope,
    pub expires_at: NaiveDateTime,
    /// When the holder's membership ends, if it does (a service account's
    /// never does): the token stops then, whether or not the background
    /// worker has removed them, and whatever answer a server keeps.
    pub membership_ends_at: Option<NaiveDateTime>,
    /// Where it may be used from, and how often a key may be used on each
    /// server.
    pub limits: TokenLimits,
    /// When the server keeping this answer last noted a use of it.
    pub(super) noted: UseNoted,
}

/// When a server last noted a token's use, in seconds since it started (0:
/// never): kept in the answer itself rather than beside it, which would
/// cost every kept answer another allocation's worth. An atomic, so that a
/// kept answer is read under a shared lock. Not part of what the answer
/// says: it neither compares nor clones.
#[derive(Debug, Default)]
pub struct UseNoted(pub(super) AtomicU64);

impl Clone for UseNoted {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for UseNoted {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for UseNoted {}

impl TokenGrant {
    /// What the token acts with now.
    pub fn powers(&self) -> TokenPowers {
        TokenPowers {
            role: self.role,
            access: self.access,
            scope: self.scope,
        }
    }

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
    type Row = (
        String,
        String,
        String,
        String,
        NaiveDateTime,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
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
                    api_tokens::permissions,
                    api_tokens::networks,
                    api_tokens::rate,
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
                api_tokens::permissions,
                api_tokens::networks,
                api_tokens::rate,
            ))
            .first::<Row>(conn)
            .optional()?
            .map(|row| (row, None)),
        SecretKind::Introspection => None,
    };
    let Some(((token_id, org_slug, subject, role, expires_at, access, chosen, networks, rate), term)) = row
    else {
        return Ok(None);
    };
    let role = parse_stored_role(&role)?;
    let membership_ends_at = term.and_then(|(ends, held, owners)| {
        crate::services::shared::term(ends, held, role, owners).access_ends()
    });
    Ok(Some(TokenGrant {
        token_id: token_id.into(),
        org_slug: org_slug.into(),
        subject: subject.into(),
        kind: secret.kind(),
        role,
        access: access.parse().map_err(Error::from)?,
        scope: TokenScope::stored(chosen.as_deref()),
        expires_at,
        membership_ends_at,
        limits: stored_limits(networks.as_deref(), rate.as_deref())?,
        noted: UseNoted::default(),
    }))
}

/// A token's limits as the database holds them (only what
/// [`ClientNetworks::parse`] and [`KeyRate::parse`] made).
pub(super) fn stored_limits(networks: Option<&str>, rate: Option<&str>) -> Result<TokenLimits, Error> {
    Ok(TokenLimits {
        networks: ClientNetworks::stored(networks)?,
        rate: rate.map(KeyRate::parse).transpose()?,
    })
}

/// A token's use, to record as its last.
#[derive(Debug, Clone)]
pub struct Use {
    pub token_id: StoredId,
    pub at: NaiveDateTime,
    pub client_ip: Option<IpAddr>,
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
                api_tokens::table.find(used.token_id.to_string()).filter(
                    api_tokens::last_used_at
                        .is_null()
                        .or(api_tokens::last_used_at.lt(used.at - chrono::Duration::minutes(1))),
                ),
            )
            .set((
                api_tokens::last_used_at.eq(used.at),
                api_tokens::last_used_ip.eq(used.client_ip.map(|ip| ip.to_string())),
            ))
            .execute(conn)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::StoredId;

    #[test]
    fn a_stored_id_reads_back_exactly_as_stored() {
        let made = uuid::Uuid::now_v7().to_string();
        let id = StoredId::from(made.clone());
        assert!(matches!(id, StoredId::Uuid(_)));
        assert_eq!(id.to_string(), made);
        assert!(id.is(&made));
        assert!(!id.is(&made.to_uppercase()));
        assert!(!id.is(&made.replace('-', "")));
        for other in [made.to_uppercase(), "user-7".to_owned(), String::new()] {
            let kept = StoredId::from(other.clone());
            assert!(matches!(kept, StoredId::Text(_)), "{other}");
            assert_eq!(kept.to_string(), other);
            assert!(kept.is(&other));
        }
    }
}
