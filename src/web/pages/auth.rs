//! Signing in and out. Google and GitHub arrive with the sign-in issue; the
//! development sign-in works now, on loopback only unless forced.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{layout, query_pairs};
use crate::auth::ProviderKind;
use crate::domain::{EmailAddress, LocalPath};
use crate::error::Error;
use crate::services::audit;
use crate::services::users::{self, Provider, SignIn};
use crate::web::context::SignedIn;
use crate::web::context::client_ip;
use crate::web::form::{Form, Typed};
use crate::web::respond::{html, see_other};
use crate::web::session::{PendingSignIn, SessionState};
use crate::web::state::AppState;
use crate::web::views::{LoginPage, render};

/// Where to go after signing in: the `next` of a query string when it is a
/// path on this server, else the start page.
fn next_of(query: &str) -> LocalPath {
    query_pairs(query)
        .into_iter()
        .find(|(key, _)| key == "next")
        .and_then(|(_, value)| LocalPath::parse(&value))
        .unwrap_or_else(LocalPath::root)
}

fn render_login(
    state: &AppState,
    session: &SessionState,
    next: &LocalPath,
    email: String,
    error: Option<String>,
) -> Result<HttpResponse, Error> {
    let next_query = if next.as_str() == "/" {
        String::new()
    } else {
        format!(
            "?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next.as_str())
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
        next: next.to_string(),
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
    let next = next_of(req.query_string());
    if session.user_id().is_some() {
        return Ok(see_other(next.as_str()));
    }
    render_login(&state, &session, &next, String::new(), None)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevSignInForm {
    email: Typed<EmailAddress>,
    /// Where to go afterwards; anywhere but this server means the profile.
    next: Option<String>,
}

/// The development sign-in: trusts the typed address as verified.
pub async fn dev_sign_in(
    state: web::Data<AppState>,
    session: SessionState,
    form: Form,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    if !state.dev_login {
        return Err(Error::NotFound(
            "The development sign-in is off on this server.".to_owned(),
        ));
    }
    let DevSignInForm { email, next } = form.parse()?;
    let next = next
        .as_deref()
        .and_then(LocalPath::parse)
        .unwrap_or_else(LocalPath::root);
    let typed = email.text;
    let email = match email.parsed {
        Ok(email) => email,
        Err(error) => return render_login(&state, &session, &next, typed, Some(format!("{error}."))),
    };
    let sign_in = SignIn::new(Provider::Dev, email.as_str(), None, None, [email.clone()])?
        .from_address(client_ip(&req));
    end_current_session(&state, &session).await?;
    let user = state.db(move |conn| users::sign_in(conn, &sign_in)).await;
    let answer = user.map(|user| signed_in(&session, &user.id, &next));
    note_sign_in(&state, Provider::Dev, &answer, &req).await;
    answer
}

/// Starts a session for `user_id` and says where to go: the invitation being
/// answered, if any, else `next`.
fn signed_in(session: &SessionState, user_id: &str, next: &LocalPath) -> HttpResponse {
    session.sign_in(user_id);
    if session.invitation().is_some() {
        see_other("/invitation")
    } else {
        see_other(next.as_str())
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
    let next = next_of(req.query_string());
    let provider = state
        .providers
        .get(kind)
        .ok_or_else(|| Error::NotFound("No such provider.".to_owned()))?;
    let authorization = provider.authorize();
    session.begin_sign_in(&PendingSignIn {
        provider: kind.as_str().to_owned(),
        state: authorization.state,
        verifier: authorization.verifier,
        next: next.to_string(),
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
    let finished = finish_sign_in(state.clone(), session, kind, req.clone()).await;
    note_sign_in(&state, kind.provider(), &finished, &req).await;
    finished
}

/// Counts a sign-in by provider and outcome, for `/metrics`, and records a
/// refusal, with its reason, in the audit log (a success is recorded with
/// the sign-in itself).
async fn note_sign_in(
    state: &AppState,
    provider: Provider,
    outcome: &Result<HttpResponse, Error>,
    req: &HttpRequest,
) {
    let label = match outcome {
        Ok(_) => "success",
        Err(error) => error.kind(),
    };
    metrics::counter!(crate::telemetry::SIGN_INS, "provider" => provider.as_str(), "outcome" => label)
        .increment(1);
    let Err(refusal) = outcome else { return };
    if matches!(refusal, Error::DatabaseUnavailable(_)) {
        return;
    }
    let reason = refusal.to_string();
    let ip = client_ip(req);
    let recorded = state
        .db(move |conn| audit::record_sign_in_refused(conn, provider.audit_name(), &reason, ip))
        .await;
    if let Err(error) = recorded {
        tracing::warn!(%error, "could not record a refused sign-in");
    }
}

async fn finish_sign_in(
    state: web::Data<AppState>,
    session: SessionState,
    kind: ProviderKind,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
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
    let sign_in = sign_in.from_address(client_ip(&req));
    end_current_session(&state, &session).await?;
    let user = state.db(move |conn| users::sign_in(conn, &sign_in)).await?;
    // Parsed again on the way out: a cookie from an older version may hold
    // what this one no longer accepts.
    let next = LocalPath::parse(&pending.next).unwrap_or_else(LocalPath::root);
    Ok(signed_in(&session, &user.id, &next))
}

/// Sign out: the session is over on every server, not only in this browser
/// (a copy of the cookie no longer signs anyone in).
pub async fn sign_out(
    state: web::Data<AppState>,
    session: SessionState,
    _form: Form,
) -> Result<HttpResponse, Error> {
    end_current_session(&state, &session).await?;
    session.sign_out();
    Ok(see_other("/login"))
}

/// Ends the browser's signed-in session, if any, on every server: before
/// signing out, switching account, or signing in as someone (else) on top.
pub async fn end_current_session(state: &AppState, session: &SessionState) -> Result<(), Error> {
    if let Some(signed) = session.signed_in() {
        let expires_at = session.expires_at(&signed);
        state
            .db(move |conn| users::end_session(conn, &signed, expires_at))
            .await?;
    }
    Ok(())
}

/// Sign out of every session: every browser this user signed in with, on
/// every server, signs in again.
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    signed: SignedIn,
    _form: Form,
) -> Result<HttpResponse, Error> {
    let actor = signed.actor.clone();
    signed
        .write(&state, move |conn, _| users::end_all_sessions(conn, &actor))
        .await?;
    signed.session.sign_out();
    Ok(see_other("/login"))
}
