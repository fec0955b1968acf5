//! Who is calling the API: a live token with operations access, and the
//! organization it reaches.

use crate::domain::{AccessLevel, Permission, SecretKind, Slug, policy};
use crate::error::Error;
use std::sync::Arc;

use crate::services::tokens::{self, Checked, TokenGrant};
use crate::services::{Actor, Credential, Viewer, organizations};
use crate::web::context::{caller_address, client_ip};
use crate::web::credentials;
use crate::web::state::AppState;
use actix_web::HttpRequest;

/// Who is calling: a live token with operations access, as its holder's role
/// allows now, and the actor the services see (the person, or the service
/// account).
pub struct Caller {
    pub grant: Arc<TokenGrant>,
    pub actor: Actor,
}

/// Reads and checks the request's bearer token.
pub async fn caller(state: &AppState, req: &HttpRequest) -> Result<Caller, Error> {
    let secret = credentials::api_token(req)?;
    let credential = Credential::Token {
        kind: secret.kind(),
        last_four: secret.last_four().to_owned(),
    };
    let ip = client_ip(req);
    // For the token's networks: never a trusted proxy's own address.
    let address = caller_address(req);
    // Read afresh, not from what the token check keeps: a change through the
    // API must see a revocation or a role change the moment it is committed.
    let inactive =
        || credentials::unauthenticated("This token is expired, revoked, or no longer works for its holder.");
    let grant = state
        .read(move |conn| tokens::grant(conn, &secret))
        .await?
        .ok_or_else(inactive)?;
    let grant = match state.tokens.admit(Arc::new(grant), address) {
        Checked::Live(grant) => grant,
        Checked::Inactive => return Err(inactive()),
        Checked::OutsideNetworks(_) => {
            return Err(Error::Unauthenticated(crate::web::gateway::outside_networks(
                address,
            )));
        }
        Checked::RateSpent { retry_after, .. } => {
            return Err(Error::RateLimited {
                retry_after: crate::web::limits::retry_after(retry_after),
            });
        }
    };
    credentials::mark_authenticated(req);
    if grant.access != AccessLevel::Operations {
        return Err(Error::Forbidden(policy::Denied::InferenceOnly));
    }
    let actor = match grant.kind {
        SecretKind::ServiceAccount => Actor::service_account(grant.subject.to_string(), credential, ip),
        _ => Actor::user(grant.subject.to_string(), ip).using(credential),
    };
    Ok(Caller { grant, actor })
}

impl Caller {
    /// Refuses a call the token does not carry: a token made to carry only
    /// some of its holder's permissions reaches only those through the API,
    /// whatever its holder's role allows (the role is the services' to check).
    pub fn carries(&self, permission: Permission) -> Result<(), Error> {
        if self.grant.scope.carries(permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(policy::Denied::NotChosen(permission)))
        }
    }

    /// The organization named in the path, which must be the token's own:
    /// a token reaches no other organization, and to it no other exists.
    /// A slug the token's organization gave up less than 90 days ago
    /// answers with where it is now (301), like the console's pages. The
    /// segment is parsed here, after the token: a caller without a working
    /// token learns nothing of which slugs could exist (401 first), and the
    /// console's `OrgSlug` would answer 404 before it.
    pub async fn org(&self, state: &AppState, segment: &str) -> Result<Slug, Error> {
        let not_found = || organizations::not_found(&segment.chars().take(60).collect::<String>());
        let slug = Slug::parse(segment).map_err(|_| not_found())?;
        if slug.as_str() == &*self.grant.org_slug {
            return Ok(slug);
        }
        let (asker, asked) = (self.actor.clone(), slug.clone());
        let why = state
            .read(move |conn| organizations::moved_or_not_found(conn, &asker, &asked))
            .await?;
        match why {
            Error::Moved { slug } if *slug == *self.grant.org_slug => Err(Error::Moved { slug }),
            _ => Err(not_found()),
        }
    }

    /// The caller's view of its organization, read now.
    pub async fn viewer(&self, state: &AppState, segment: &str) -> Result<Viewer, Error> {
        let slug = self.org(state, segment).await?;
        let actor = self.actor.clone();
        state.read(move |conn| Viewer::open(conn, &actor, &slug)).await
    }
}
