//! The invitation page, `/invite/{token}`: the link in the email. Opening it
//! never accepts anything (mail scanners follow links); it remembers the
//! invitation in the session so that it survives signing in, and offers what
//! fits who is looking. Accepting and declining are CSRF-protected posts.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{layout, switcher};
use crate::auth::ProviderKind;
use crate::db::DbConnection;
use crate::domain::InviteToken;
use crate::error::Error;
use crate::services::invitations::{
    self, AcceptOutcome, DeclineOutcome, InvitationRef, InvitationView, Refusal, Unavailable,
};
use crate::services::{Actor, users};
use crate::web::context::client_ip;
use crate::web::form::Form;
use crate::web::respond::{html, see_other};
use crate::web::session::{Flash, SessionState, SessionUser};
use crate::web::state::AppState;
use crate::web::views::{Day, DayTime, InvitationPage, render};

/// Why an invitation link cannot be used: 410 for links that worked once,
/// 403 for the wrong account, 404 for links that never worked.
fn refusal_error(reason: &Unavailable, view: Option<&InvitationView>) -> Error {
    let org = view.map(|view| view.organization.name.as_str());
    let inviter = view.and_then(InvitationView::inviting_person);
    let message = unavailable_message(reason, org, inviter);
    match reason {
        Unavailable::Unknown => Error::NotFound(message),
        Unavailable::WrongAccount { .. } => Error::WrongAccount(message),
        Unavailable::Expired
        | Unavailable::Replaced
        | Unavailable::Revoked
        | Unavailable::AlreadyAccepted
        | Unavailable::Declined => Error::Gone(message),
    }
}

/// `/invite/{token}`: shows the invitation, and remembers it while it can be
/// answered. A link that no longer works is shown once and forgotten: it
/// must not take over the sign-ins that follow.
pub async fn open(
    state: web::Data<AppState>,
    session: SessionState,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let Ok(token) = InviteToken::parse(&path) else {
        session.clear_invitation();
        return Err(refusal_error(&Unavailable::Unknown, None));
    };
    let shown = show(&state, &session, token.clone()).await;
    match &shown {
        Ok(_) => session.set_invitation(token.expose()),
        Err(_) => session.clear_invitation(),
    }
    shown
}

/// `/invitation`: the invitation remembered in the session (after signing in).
pub async fn current(state: web::Data<AppState>, session: SessionState) -> Result<HttpResponse, Error> {
    let Some(token) = remembered(&session) else {
        return Ok(see_other("/profile"));
    };
    let shown = show(&state, &session, token).await;
    if shown.is_err() {
        session.clear_invitation();
    }
    shown
}

fn remembered(session: &SessionState) -> Option<InviteToken> {
    session
        .invitation()
        .and_then(|token| InviteToken::parse(&token).ok())
}

async fn show(state: &AppState, session: &SessionState, token: InviteToken) -> Result<HttpResponse, Error> {
    let lookup = session.signed_in();
    let (view, user, problem, orgs) = state
        .read(move |conn| {
            let Some(view) = invitations::open(conn, &InvitationRef::Token(token))? else {
                return Err(refusal_error(&Unavailable::Unknown, None));
            };
            if let Some(reason) = view.status.unavailable() {
                return Err(refusal_error(&reason, Some(&view)));
            }
            let user = match &lookup {
                Some(signed) => users::session_user(conn, signed)?,
                None => None,
            };
            let problem = match &user {
                Some(user) => invitations::answerable(conn, &user.id, &view)?,
                None => None,
            };
            let orgs = match &user {
                Some(user) => switcher(conn, &user.id)?,
                None => Vec::new(),
            };
            Ok((view, user, problem, orgs))
        })
        .await?;
    let wrong_account = problem
        .as_ref()
        .map(|reason| unavailable_message(reason, Some(&view.organization.name), view.inviting_person()));
    let page = InvitationPage {
        layout: layout(
            state,
            session,
            format!("Invitation to {}", view.organization.name),
            user.as_ref(),
            orgs,
            None,
        ),
        invitation_id: view.id.clone(),
        org: view.organization.name.clone(),
        inviter: view.inviter_name.clone(),
        role: view.role,
        email: view.email.to_string(),
        expires: DayTime(view.expires_at),
        access_ends: view
            .membership_ends
            .map(|ends| Day(ends.last_day().and_time(chrono::NaiveTime::MIN))),
        signed_out: user.is_none(),
        can_answer: user.is_some() && problem.is_none(),
        wrong_account,
        google: state.providers.has(ProviderKind::Google),
        github: state.providers.has(ProviderKind::GitHub),
        dev_login: state.dev_login,
    };
    Ok(html(StatusCode::OK, render(&page, "the invitation page")?))
}

/// What accepting or declining sends: the invitation the page showed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerForm {
    invitation_id: String,
}

/// The signed-in user answering the remembered invitation, checking that it is
/// the one the page showed.
fn answering(
    session: &SessionState,
    form: &AnswerForm,
    req: &HttpRequest,
) -> Result<(SessionUser, Actor, InviteToken), Error> {
    let Some(signed) = session.signed_in() else {
        return Err(sign_in_first());
    };
    let token = remembered(session).ok_or_else(|| {
        Error::Conflict("There is no invitation in progress. Open the link from the email again.".to_owned())
    })?;
    if form.invitation_id.is_empty() {
        return Err(Error::Invalid(
            "The form is missing the invitation. Open the link again.".to_owned(),
        ));
    }
    let actor = Actor::user(&signed.user_id, client_ip(req));
    Ok((signed, actor, token))
}

fn sign_in_first() -> Error {
    Error::SignInRequired {
        next: "/invitation".to_owned(),
    }
}

/// The session must still be current in the database (not signed out):
/// answers with its user.
fn check_session(conn: &mut DbConnection, signed: &SessionUser) -> Result<users::User, Error> {
    users::session_user(conn, signed)?.ok_or_else(sign_in_first)
}

/// The invitation remembered now must be the one whose page was answered.
fn check_same(current: &InvitationView, expected: &str) -> Result<(), Error> {
    if current.id != expected {
        return Err(Error::Conflict(
            "You opened another invitation in the meantime. Open the link of the one you want to answer again."
                .to_owned(),
        ));
    }
    Ok(())
}

fn refusal(refusal: &Refusal) -> Error {
    refusal_error(&refusal.reason, refusal.invitation.as_deref())
}

/// Accept invitation.
pub async fn accept(
    state: web::Data<AppState>,
    session: SessionState,
    form: Form,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let form: AnswerForm = form.parse()?;
    let (signed, actor, token) = answering(&session, &form, &req)?;
    let expected = form.invitation_id.clone();
    let outcome = state
        .db(move |conn| {
            let user = check_session(conn, &signed)?;
            let reference = InvitationRef::Token(token);
            invitations::accept_checked(conn, &actor.read_as((&user).into()), &reference, |found| {
                check_same(found, &expected)
            })
        })
        .await?;
    let (flash, next) = accepted(outcome).map_err(|refused| refusal(&refused))?;
    session.clear_invitation();
    session.push_flash(flash);
    Ok(see_other(&next))
}

/// What to tell someone whose invitation cannot be answered.
pub fn unavailable_message(reason: &Unavailable, org: Option<&str>, inviter: Option<&str>) -> String {
    let org = org.unwrap_or("the organization");
    let ask = match inviter {
        Some(inviter) => format!("Ask {inviter} (or another admin of {org}) for a new one."),
        None => format!("Ask an owner or admin of {org}, or whoever runs Rollcall for it, for a new one."),
    };
    match reason {
        Unavailable::Unknown => {
            "This invitation link is not valid. Check that it was copied completely.".to_owned()
        }
        Unavailable::Expired => format!("This invitation to {org} has expired. {ask}"),
        Unavailable::Replaced => format!(
            "This invitation to {org} was replaced by a newer one; use the link in the most recent email."
        ),
        Unavailable::Revoked => format!("This invitation to {org} was withdrawn. {ask}"),
        Unavailable::AlreadyAccepted => format!("This invitation to {org} has already been used."),
        Unavailable::Declined => format!("This invitation to {org} was declined. {ask}"),
        Unavailable::WrongAccount {
            invited,
            signed_in_as,
        } => format!(
            "This invitation is for {invited}; you are signed in as {signed_in_as}. Sign in with an account that has {invited} verified."
        ),
    }
}

/// What accepting an invitation came to, in words, and where the person
/// goes next; or why it could not be accepted. The invitation page and the
/// profile both answer with it.
pub fn accepted(outcome: AcceptOutcome) -> Result<(Flash, String), Refusal> {
    match outcome {
        AcceptOutcome::Joined { organization, role } => Ok((
            Flash::ok(format!(
                "Welcome to {}. You joined as {}.",
                organization.name,
                role.label()
            )),
            format!("/orgs/{}/members", organization.slug),
        )),
        AcceptOutcome::AlreadyMember { organization } => Ok((
            Flash::ok(format!("You are already a member of {}.", organization.name)),
            format!("/orgs/{}/members", organization.slug),
        )),
        AcceptOutcome::Unavailable(refused) => Err(refused),
    }
}

/// What declining an invitation came to, in words; or why it could not be
/// declined. Either way the person goes to their profile.
pub fn declined(outcome: DeclineOutcome) -> Result<Flash, Refusal> {
    match outcome {
        DeclineOutcome::Declined { organization } => Ok(Flash::ok(format!(
            "You declined the invitation to {}.",
            organization.name
        ))),
        DeclineOutcome::Unavailable(refused) => Err(refused),
    }
}

/// Decline.
pub async fn decline(
    state: web::Data<AppState>,
    session: SessionState,
    form: Form,
    req: HttpRequest,
) -> Result<HttpResponse, Error> {
    let form: AnswerForm = form.parse()?;
    let (signed, actor, token) = answering(&session, &form, &req)?;
    let expected = form.invitation_id.clone();
    let outcome = state
        .db(move |conn| {
            let user = check_session(conn, &signed)?;
            let reference = InvitationRef::Token(token);
            invitations::decline_checked(conn, &actor.read_as((&user).into()), &reference, |found| {
                check_same(found, &expected)
            })
        })
        .await?;
    let flash = declined(outcome).map_err(|refused| refusal(&refused))?;
    session.clear_invitation();
    session.push_flash(flash);
    Ok(see_other("/profile"))
}

/// "Sign in with another account": signs out, keeping the invitation.
pub async fn switch_account(
    state: web::Data<AppState>,
    session: SessionState,
    _form: Form,
) -> Result<HttpResponse, Error> {
    super::auth::end_current_session(&state, &session).await?;
    session.switch_account();
    Ok(see_other("/invitation"))
}
