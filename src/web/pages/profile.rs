//! Home, the profile (my organizations, invitations for me, create an
//! organization) and the organization switcher.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::invitation::{accepted, declined, unavailable_message};
use super::{layout, query_pairs, switcher};
use crate::domain::{OrganizationName, Slug};
use crate::error::Error;
use crate::services::invitations::{self, InvitationRef};
use crate::services::organizations;
use crate::web::context::SignedIn;
use crate::web::form::{Form, Typed};
use crate::web::respond::{html, see_other};
use crate::web::session::{Flash, FlashKind, SessionState};
use crate::web::state::AppState;
use crate::web::views::{DayTime, MembershipView, ProfileInvitation, ProfilePage, RestorableView, render};

/// `/`: the profile when signed in, else the sign-in page.
pub async fn home(session: SessionState) -> HttpResponse {
    if session.user_id().is_some() {
        see_other("/profile")
    } else {
        see_other("/login")
    }
}

async fn render_profile(
    state: &AppState,
    signed: &SignedIn,
    new_org_name: String,
    new_org_error: Option<String>,
) -> Result<HttpResponse, Error> {
    let (user, (memberships, invitations, orgs, restorable)) = signed
        .read(state, move |conn, user| {
            let memberships: Vec<MembershipView> = organizations::for_user(conn, &user.id)?
                .into_iter()
                .map(|(org, role)| MembershipView {
                    name: org.name,
                    slug: org.slug,
                    role,
                })
                .collect();
            let invitations: Vec<ProfileInvitation> = invitations::pending_for_user(conn, &user.id)?
                .into_iter()
                .map(|(invitation, org)| ProfileInvitation {
                    id: invitation.id,
                    org_name: org.name,
                    role: invitation.role,
                    inviter_name: invitation.inviter_name,
                    email: invitation.email,
                    expires: DayTime(invitation.expires_at),
                })
                .collect();
            let restorable: Vec<RestorableView> = organizations::restorable_by(conn, &user.id)?
                .into_iter()
                .map(|restorable| RestorableView {
                    name: restorable.organization.name,
                    slug: restorable.organization.slug,
                    until: DayTime(restorable.restorable_until),
                })
                .collect();
            Ok((memberships, invitations, switcher(conn, &user.id)?, restorable))
        })
        .await?;
    let status = if new_org_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ProfilePage {
        layout: layout(
            state,
            &signed.session,
            "Your organizations",
            Some(&user),
            orgs,
            None,
        ),
        email: user.email.clone(),
        memberships,
        invitations,
        restorable,
        new_org_name,
        new_org_error,
    };
    Ok(html(status, render(&page, "the profile page")?))
}

/// The profile: my organizations and roles, invitations for me, Create organization.
pub async fn page(state: web::Data<AppState>, signed: SignedIn) -> Result<HttpResponse, Error> {
    render_profile(&state, &signed, String::new(), None).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganizationForm {
    name: Typed<OrganizationName>,
}

/// Creates an organization owned by the signed-in user.
pub async fn create_org(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
) -> Result<HttpResponse, Error> {
    let NewOrganizationForm { name } = form.parse()?;
    let typed = name.text;
    let name = match name.parsed {
        Ok(name) => name,
        Err(error) => {
            return render_profile(
                &state,
                &signed,
                typed,
                Some(format!("Organization name: {error}.")),
            )
            .await;
        }
    };
    let actor = signed.actor.clone();
    let (_, org) = signed
        .write(&state, move |conn, _| {
            organizations::create_owned_by(conn, &actor, &name)
        })
        .await?;
    signed.session.push_flash(Flash::ok(format!(
        "Created {}. You are its owner: invite your team.",
        org.name
    )));
    Ok(see_other(&format!("/orgs/{}/members", org.slug)))
}

fn refusal_flash(refusal: &invitations::Refusal) -> Flash {
    let org = refusal
        .invitation
        .as_ref()
        .map(|view| view.organization.name.as_str());
    let inviter = refusal
        .invitation
        .as_ref()
        .and_then(|view| view.inviting_person());
    Flash {
        kind: FlashKind::Error,
        message: unavailable_message(&refusal.reason, org, inviter),
        links: Vec::new(),
    }
}

/// Accepts, from the profile, an invitation to one of my verified addresses.
pub async fn accept(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<String>,
    _form: Form,
) -> Result<HttpResponse, Error> {
    let reference = InvitationRef::Id(path.into_inner());
    let actor = signed.actor.clone();
    let (_, outcome) = signed
        .write(&state, move |conn, user| {
            invitations::accept(conn, &actor.read_as(user.into()), &reference)
        })
        .await?;
    let (flash, next) =
        accepted(outcome).unwrap_or_else(|refusal| (refusal_flash(&refusal), "/profile".to_owned()));
    signed.session.push_flash(flash);
    Ok(see_other(&next))
}

/// Declines, from the profile, an invitation to one of my verified addresses.
pub async fn decline(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<String>,
    _form: Form,
) -> Result<HttpResponse, Error> {
    let reference = InvitationRef::Id(path.into_inner());
    let actor = signed.actor.clone();
    let (_, outcome) = signed
        .write(&state, move |conn, user| {
            invitations::decline(conn, &actor.read_as(user.into()), &reference)
        })
        .await?;
    let flash = declined(outcome).unwrap_or_else(|refusal| refusal_flash(&refusal));
    signed.session.push_flash(flash);
    Ok(see_other("/profile"))
}

/// The organization switcher: `/switch?org=SLUG` goes to that organization.
pub async fn switch(req: HttpRequest, _signed: SignedIn) -> HttpResponse {
    let wanted = query_pairs(req.query_string())
        .into_iter()
        .find(|(key, _)| key == "org")
        .map(|(_, value)| value);
    match wanted.as_deref().map(Slug::parse) {
        Some(Ok(slug)) => see_other(&format!("/orgs/{slug}/members")),
        _ => see_other("/profile"),
    }
}
