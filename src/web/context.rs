//! What a request carries: who is signed in (read from the database on every
//! request), whether htmx asked for a fragment, and where it came from.

use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::AppState;
use super::session::SessionState;
use crate::error::Error;
use crate::services::Actor;
use crate::services::users::{self, User};

/// The signed-in user. Extracting it from a request without a session (or
/// whose user no longer exists) answers "sign in first".
pub struct SignedIn {
    pub user: User,
    pub actor: Actor,
    pub session: SessionState,
    pub htmx: bool,
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

pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    req.peer_addr().map(|addr| addr.ip())
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
    type Future = LocalBoxFuture<'static, Result<Self, Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = SessionState::from_http(&req);
            let next = here(&req);
            let Some(user_id) = session.user_id() else {
                return Err(Error::SignInRequired { next });
            };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| Error::Invalid("the application state is missing".to_owned()))?
                .clone();
            let lookup = user_id.clone();
            let user = state.db(move |conn| users::find(conn, &lookup)).await?;
            let Some(user) = user else {
                session.sign_out();
                return Err(Error::SignInRequired { next });
            };
            Ok(SignedIn {
                actor: Actor::user(&user.id, client_ip(&req)),
                user,
                session,
                htmx: is_htmx(&req),
            })
        })
    }
}
