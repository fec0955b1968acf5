//! Signing in and out. Google and GitHub arrive with the sign-in issue; the
//! development sign-in works now, on loopback only unless forced.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{layout, query_pairs};
use crate::auth::ProviderKind;
use crate::domain::EmailAddress;
use crate::error::Error;
use crate::services::users::{self, Provider, SignIn};
use crate::web::form::Form;
use crate::web::session::{PendingSignIn, SessionState};
use crate::web::views::{LoginPage, render};
use crate::web::{AppState, html, see_other};

/// A `next` target is only ever a local path: "/x", never "//host" or "https://…".
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.contains(['\r', '\n']);
    local.then_some(next)
}

fn render_login(
    state: &AppState,
    session: &SessionState,
    next: &str,
    email: String,
    error: Option<String>,
) -> Result<HttpResponse, Error> {
    let next_query = if next == "/" {
        String::new()
    } else {
        format!(
            "?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish()
        )
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = LoginPage {
        layout: layout(state, session, "Sign in", None, Vec::new(), None),
        google: state.providers.has(ProviderKind::Google),
        github: state.providers.has(ProviderKind::GitHub),
        dev_login: state.dev_login,
        next: next.to_owned(),
        next_query,
        email,
        error,
    };
    Ok(html(status, render(&page, "the sign-in page")?))
}

/// The sign-in page.
pub async fn login_page(
    state: web::Data<AppState>,
    session: SessionState,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let next = query_pairs(req.query_string())
        .into_iter()
        .find(|(key, _)| key == "next")
        .and_then(|(_, value)| local_path(&value).map(str::to_owned))
        .unwrap_or_else(|| "/".to_owned());
    if session.user_id().is_some() {
        return Ok(see_other(&next));
    }
    render_login(&state, &session, &next, String::new(), None)
}

/// The development sign-in: trusts the typed address as verified.
pub async fn dev_sign_in(
    state: web::Data<AppState>,
    session: SessionState,
    form: Form,
) -> Result<HttpResponse, Error> {
    if !state.dev_login {
        return Err(Error::NotFound(
            "The development sign-in is off on this server.".to_owned(),
        ));
    }
    let next = local_path(form.text("next")).unwrap_or("/").to_owned();
    let typed = form.text("email").to_owned();
    let email = match EmailAddress::parse(&typed) {
        Ok(email) => email,
        Err(error) => return render_login(&state, &session, &next, typed, Some(format!("{error}."))),
    };
    let sign_in = SignIn {
        provider: Provider::Dev,
        subject: email.to_string(),
        name: None,
        avatar_url: None,
        verified_emails: vec![email],
    };
    let user = state.db(move |conn| users::sign_in(conn, &sign_in)).await?;
    Ok(signed_in(&session, &user.id, &next))
}

/// Starts a session for `user_id` and says where to go: the invitation being
/// answered, if any, else `next`.
fn signed_in(session: &SessionState, user_id: &str, next: &str) -> HttpResponse {
    session.sign_in(user_id);
    if session.invitation().is_some() {
        see_other("/invitation")
    } else {
        see_other(next)
    }
}

fn provider_named(state: &AppState, name: &str) -> Result<ProviderKind, Error> {
    ProviderKind::parse(name)
        .filter(|kind| state.providers.has(*kind))
        .ok_or_else(|| Error::NotFound(format!("Signing in with “{name}” is not set up on this server.")))
}

/// Sends the browser to the provider, remembering the state and PKCE
/// verifier in the session.
pub async fn start(
    state: web::Data<AppState>,
    session: SessionState,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let kind = provider_named(&state, &path)?;
    let next = query_pairs(req.query_string())
        .into_iter()
        .find(|(key, _)| key == "next")
        .and_then(|(_, value)| local_path(&value).map(str::to_owned))
        .unwrap_or_else(|| "/".to_owned());
    let provider = state
        .providers
        .get(kind)
        .ok_or_else(|| Error::NotFound("No such provider.".to_owned()))?;
    let authorization = provider.authorize();
    session.begin_sign_in(&PendingSignIn {
        provider: kind.as_str().to_owned(),
        state: authorization.state,
        verifier: authorization.verifier,
        next,
    });
    Ok(see_other(&authorization.url))
}

/// The provider sends the browser back here with a code and the state.
pub async fn callback(
    state: web::Data<AppState>,
    session: SessionState,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let kind = provider_named(&state, &path)?;
    let params = query_pairs(req.query_string());
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    // The pending sign-in is removed before anything else: a state is good once.
    let pending = session.take_sign_in().ok_or_else(|| {
        Error::SignInFailed(
            "This sign-in has expired or was started in another browser. Please sign in again.".to_owned(),
        )
    })?;
    let returned_state = param("state").unwrap_or_default();
    if pending.provider != kind.as_str() || !SessionState::secrets_match(&pending.state, &returned_state) {
        return Err(Error::SignInFailed(
            "This sign-in could not be verified (its state does not match). Please sign in again.".to_owned(),
        ));
    }
    if let Some(error) = param("error") {
        let label = kind.label();
        tracing::info!(provider = label, %error, "the provider refused the sign-in");
        return Err(Error::SignInFailed(format!(
            "{label} did not sign you in ({error}). You can try again."
        )));
    }
    let code = param("code").filter(|code| !code.is_empty()).ok_or_else(|| {
        Error::SignInFailed(format!(
            "{} sent no authorization code. Please sign in again.",
            kind.label()
        ))
    })?;
    let worker = state.clone();
    let verifier = pending.verifier.clone();
    let sign_in = web::block(move || {
        let provider = worker
            .providers
            .get(kind)
            .ok_or_else(|| Error::NotFound("No such provider.".to_owned()))?;
        provider
            .finish(&code, &verifier)
            .map_err(|failed| Error::SignInFailed(failed.0))
    })
    .await
    .map_err(|error| {
        Error::SignInFailed(format!(
            "The sign-in was interrupted ({error}). Please try again."
        ))
    })??;
    let user = state.db(move |conn| users::sign_in(conn, &sign_in)).await?;
    Ok(signed_in(&session, &user.id, &pending.next))
}

/// Sign out: the session is gone.
pub async fn sign_out(session: SessionState, _form: Form) -> HttpResponse {
    session.sign_out();
    see_other("/login")
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(
            local_path("/orgs/acme/members?page=2"),
            Some("/orgs/acme/members?page=2")
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
