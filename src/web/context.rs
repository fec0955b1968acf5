//! What a request carries: who is signed in (read from the database on every
//! request, with the request's own database work), whether htmx asked for a
//! fragment, and where it came from.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::{Ready, ready};

use super::session::SessionState;
use crate::db::DbConnection;
use crate::domain::Slug;
use crate::error::Error;
use crate::services::organizations::Membership;
use crate::services::users::{self, SessionUser, User};
use crate::services::{Actor, organizations};
use crate::services::{Organization, Viewer};
use crate::web::state::AppState;
use crate::web::views::OrgChoice;

/// A request with a signed-in session. Extracting it from a request without
/// one answers "sign in first"; so does [`SignedIn::read`] or
/// [`SignedIn::write`] when the session's user no longer exists.
pub struct SignedIn {
    /// The session, checked against the database with the user on every visit.
    pub session_user: SessionUser,
    pub actor: Actor,
    pub session: SessionState,
    pub htmx: bool,
    next: String,
}

impl SignedIn {
    pub fn user_id(&self) -> &str {
        &self.session_user.user_id
    }

    /// Reads the signed-in user, then does `work`, which only reads, in the
    /// same visit to the database (see [`AppState::read`]).
    pub async fn read<T, F>(&self, state: &AppState, work: F) -> Result<(User, T), Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &User) -> Result<T, Error> + Send + 'static,
    {
        let session = self.session_user.clone();
        let found = state.read(move |conn| with_user(conn, &session, work)).await?;
        self.present(found)
    }

    /// Reads the signed-in user and the organization named `slug` as they see
    /// it, then does `work`, which only reads, in the same visit. The user and
    /// their memberships (the header's switcher) come in one statement.
    pub async fn read_org<T, F>(&self, state: &AppState, slug: Slug, work: F) -> Result<(User, T), Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &User, OrgContext) -> Result<T, Error> + Send + 'static,
    {
        let session = self.session_user.clone();
        let actor = self.actor.clone();
        let found = state
            .read(move |conn| {
                let Some((user, memberships)) = organizations::user_and_memberships(conn, &session)? else {
                    return Ok(None);
                };
                let context = OrgContext::among(conn, &actor, &slug, memberships)?;
                let done = work(conn, &user, context)?;
                Ok(Some((user, done)))
            })
            .await?;
        self.present(found)
    }

    /// Reads the signed-in user, then does `work`, which may write, on the
    /// blocking threads (see [`AppState::db`]).
    pub async fn write<T, F>(&self, state: &AppState, work: F) -> Result<(User, T), Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection, &User) -> Result<T, Error> + Send + 'static,
    {
        let session = self.session_user.clone();
        let found = state.db(move |conn| with_user(conn, &session, work)).await?;
        self.present(found)
    }

    /// A session whose user is gone, or that was signed out, is over.
    fn present<T>(&self, found: Option<(User, T)>) -> Result<(User, T), Error> {
        found.ok_or_else(|| {
            self.session.sign_out();
            Error::SignInRequired {
                next: self.next.clone(),
            }
        })
    }
}

fn with_user<T>(
    conn: &mut DbConnection,
    session: &SessionUser,
    work: impl FnOnce(&mut DbConnection, &User) -> Result<T, Error>,
) -> Result<Option<(User, T)>, Error> {
    let Some(user) = users::session_user(conn, session)? else {
        return Ok(None);
    };
    let done = work(conn, &user)?;
    Ok(Some((user, done)))
}

/// Whether the request came from htmx, wanting a fragment rather than a page.
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("HX-Request")
}

/// The id of the element htmx will swap the answer into.
pub fn htmx_target(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("HX-Target")
        .and_then(|value| value.to_str().ok())
}

/// The load balancers whose `X-Forwarded-For` is believed
/// (`ROLLCALL_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

/// The client's address: the peer's, or, when the peer is one of
/// `ROLLCALL_TRUSTED_PROXIES`, the nearest address in `X-Forwarded-For` that
/// is not a trusted proxy (the ones before it could be written by anyone).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    Some(
        forwarded_client(
            peer,
            trusted_proxies(req),
            req.headers().get_all("x-forwarded-for"),
        )
        .0,
    )
}

/// The address of the caller a proxy asks about (the gateway's check): the
/// nearest address in `X-Forwarded-For` that is not a trusted proxy, when
/// the peer is one. `None` when the peer is not trusted, or the header names
/// no such address: the proxy's own address is not the caller's.
pub fn proxied_client(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let (client, named) = forwarded_client(
        peer,
        trusted_proxies(req),
        req.headers().get_all("x-forwarded-for"),
    );
    named.then_some(client)
}

/// The address of whoever makes this request, for a token's networks: the
/// peer's, or, behind a trusted proxy, the address it forwards. `None` when
/// a trusted proxy names no one: the proxy's own address is not the caller's.
pub fn caller_address(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let trusted = trusted_proxies(req);
    if !trusted.iter().any(|network| network.contains(&peer)) {
        return Some(peer);
    }
    proxied_client(req)
}

fn trusted_proxies(req: &HttpRequest) -> &[ipnet::IpNet] {
    req.app_data::<TrustedProxies>()
        .map(|proxies| proxies.0.as_slice())
        .unwrap_or_default()
}

/// The client, and whether `X-Forwarded-For` named it (an untrusted hop
/// behind trusted ones) rather than it being the last address believed.
fn forwarded_client<'a>(
    peer: IpAddr,
    trusted: &[ipnet::IpNet],
    forwarded: impl DoubleEndedIterator<Item = &'a actix_web::http::header::HeaderValue>,
) -> (IpAddr, bool) {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|network| network.contains(ip));
    if !is_trusted(&peer) {
        return (peer, false);
    }
    let mut client = peer;
    for value in forwarded.rev() {
        let Ok(text) = value.to_str() else {
            return (client, false);
        };
        for hop in text.rsplit(',') {
            let Ok(ip) = hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
                return (client, false);
            };
            client = ip;
            if !is_trusted(&ip) {
                return (client, true);
            }
        }
    }
    (client, false)
}

/// Where to come back to after signing in: the path and query of this request.
fn here(req: &HttpRequest) -> String {
    match req.uri().path_and_query() {
        Some(path) if req.method() == actix_web::http::Method::GET => path.as_str().to_owned(),
        _ => "/".to_owned(),
    }
}

impl FromRequest for SignedIn {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let session = SessionState::from_http(req);
        let next = here(req);
        ready(match session.signed_in() {
            Some(session_user) => Ok(SignedIn {
                actor: Actor::user(&session_user.user_id, client_ip(req)),
                session_user,
                session,
                htmx: is_htmx(req),
                next,
            }),
            None => Err(Error::SignInRequired { next }),
        })
    }
}

/// Looks up an organization from a path segment, deleted or not: the
/// service it goes to reads the actor's membership, and says "deleted" (410)
/// to a member and "not a member" to anyone else. An old slug answers with
/// the new one only to those who belong to the organization.
pub fn find_org(
    conn: &mut DbConnection,
    actor: &crate::services::Actor,
    slug: &Slug,
) -> Result<crate::services::Organization, Error> {
    organizations::find_even_deleted(conn, actor, slug)
}

/// The organization's slug in the request's path (`{slug}`): a segment that
/// is not a slug cannot name an organization, so it is simply not found.
/// Handlers take it last, so that signing in, the CSRF check and the body's
/// size are answered first, as they are for any other page.
pub struct OrgSlug(pub Slug);

impl FromRequest for OrgSlug {
    type Error = Error;
    type Future = Ready<Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        #[derive(serde::Deserialize)]
        struct Segment {
            slug: String,
        }
        // Decoded as `web::Path` decodes it, so that a refusal echoes what
        // was asked for.
        let segment = req
            .match_info()
            .load::<Segment>()
            .map(|segment| segment.slug)
            .unwrap_or_default();
        ready(
            Slug::parse(&segment)
                .map(OrgSlug)
                .map_err(|_| organizations::not_found(&segment)),
        )
    }
}

/// An organization as seen by the signed-in member: the organization, their
/// role in it now, and their organizations for the switcher.
pub struct OrgContext {
    pub viewer: Viewer,
    pub orgs: Vec<OrgChoice>,
}

impl OrgContext {
    /// The organization named `slug` among the user's memberships, as
    /// [`SignedIn::read_org`] reads them.
    pub fn among(
        conn: &mut DbConnection,
        actor: &Actor,
        slug: &Slug,
        memberships: Vec<Membership>,
    ) -> Result<Self, Error> {
        Ok(Self {
            viewer: Viewer::among(conn, actor, slug, &memberships)?,
            orgs: choices(memberships.into_iter().map(|membership| membership.org)),
        })
    }
}

/// The user's organizations, for the header's switcher.
pub fn switcher(conn: &mut DbConnection, user_id: &str) -> Result<Vec<OrgChoice>, Error> {
    Ok(choices(
        organizations::for_user(conn, user_id)?
            .into_iter()
            .map(|(org, _)| org),
    ))
}

fn choices(orgs: impl Iterator<Item = Organization>) -> Vec<OrgChoice> {
    orgs.map(|org| OrgChoice {
        name: org.name,
        slug: org.slug,
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::forwarded_client;

    fn client(peer: &str, trusted: &[&str], forwarded: &[&str]) -> String {
        let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|net| net.parse().unwrap()).collect();
        let values: Vec<HeaderValue> = forwarded
            .iter()
            .map(|v| HeaderValue::from_str(v).unwrap())
            .collect();
        forwarded_client(peer.parse().unwrap(), &trusted, values.iter())
            .0
            .to_string()
    }

    #[test]
    fn the_client_is_the_nearest_hop_no_trusted_proxy_wrote() {
        // No trusted proxy: the header is anyone's to write, and ignored.
        assert_eq!(client("203.0.113.5", &[], &["198.51.100.1"]), "203.0.113.5");
        assert_eq!(
            client("203.0.113.5", &["10.0.0.0/8"], &["198.51.100.1"]),
            "203.0.113.5"
        );
        // Through a trusted balancer: the address it saw.
        assert_eq!(
            client("10.0.0.2", &["10.0.0.0/8"], &["198.51.100.1"]),
            "198.51.100.1"
        );
        // A client's own claim before that is not believed.
        assert_eq!(
            client("10.0.0.2", &["10.0.0.0/8"], &["1.2.3.4, 198.51.100.1"]),
            "198.51.100.1"
        );
        // Two trusted hops, in one header or two.
        assert_eq!(
            client("10.0.0.2", &["10.0.0.0/8"], &["198.51.100.1, 10.0.0.9"]),
            "198.51.100.1"
        );
        assert_eq!(
            client("10.0.0.2", &["10.0.0.0/8"], &["198.51.100.1", "10.0.0.9"]),
            "198.51.100.1"
        );
        // Garbage stops the walk at the last address known.
        assert_eq!(client("10.0.0.2", &["10.0.0.0/8"], &["nonsense"]), "10.0.0.2");
        assert_eq!(client("10.0.0.2", &["10.0.0.0/8"], &[]), "10.0.0.2");
    }
}
