//! Resending and revoking one pending invitation.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::error::Error;
use crate::services::invitations::{self};
use crate::services::now;
use crate::services::submissions::{self, Purpose, Submission, Submitted};
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::form::Form;
use crate::web::pages::{layout, switcher};
use crate::web::respond::{html, see_other};
use crate::web::session::{Flash, FlashKind, SharedLink};
use crate::web::state::AppState;
use crate::web::views::{
    InvitationRowFragment, InvitationRowView, NoticeFragment, NoticePage, NoticesOob, OrgView, ResentBefore,
    render,
};

/// Resends an invitation with a new link; the old one stops working. The
/// same form sent again (a reload) sends nothing and says so.
pub async fn resend(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, invitation_id) = path.into_inner();
    let once = form.once_value()?;
    let (actor, settings, user_id) = (
        signed.actor.clone(),
        state.settings.clone(),
        signed.user_id().to_owned(),
    );
    let (user, (org, resent, row)) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::context::find_org(conn, &actor, &slug)?;
            let submission = Submission {
                user_id: &user_id,
                once: once.as_ref(),
                purpose: Purpose::Resend {
                    org_id: &org.id,
                    invitation_id: &invitation_id,
                },
            };
            let resent = submissions::once(conn, &submission, |conn| {
                let issued = invitations::resend(conn, &settings, &actor, &org, &invitation_id)?;
                let kept = ResentBefore {
                    email: issued.email.to_string(),
                };
                Ok((issued, kept))
            })?;
            let viewer_role = crate::services::members::role_of_actor(conn, &actor, &org)?;
            let row = invitations::find_pending(conn, &org, &invitation_id)?
                .map(|pending| InvitationRowView::new(&pending, viewer_role, now()));
            Ok((org, resent, row))
        })
        .await?;
    let flash = match resent {
        Submitted::Now(issued) => Flash {
            kind: FlashKind::Ok,
            message: format!(
                "Sent a new invitation to {}; the previous link no longer works.",
                issued.email
            ),
            links: vec![SharedLink {
                email: issued.email.to_string(),
                link: issued.link,
            }],
        },
        Submitted::Before(resent) => Flash::ok(format!(
            "The invitation to {} was already sent again by this form, so nothing new was sent; its new link was shown once, in the first answer.",
            resent.email
        )),
    };
    if !signed.htmx {
        let orgs = signed
            .read(&state, |conn, user| switcher(conn, &user.id))
            .await?
            .1;
        let page = NoticePage {
            layout: layout(
                &state,
                &signed.session,
                "Invitation sent",
                Some(&user),
                orgs,
                Some(&org.slug),
            ),
            flash,
            back: format!("/orgs/{}/members", org.slug),
        };
        return Ok(html(StatusCode::OK, render(&page, "the notice page")?));
    }
    let mut body = render(&NoticeFragment { flash }, "the notice")?;
    if let Some(mut invitation) = row {
        invitation.oob = true;
        let fragment = InvitationRowFragment {
            org: OrgView::from(&org),
            csrf: signed.session.csrf_token(),
            invitation,
        };
        body += &render(&fragment, "the invitation row")?;
    }
    Ok(html(StatusCode::OK, body))
}

/// Revokes an invitation; htmx swaps its row for nothing.
pub async fn revoke(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    _form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, invitation_id) = path.into_inner();
    let actor = signed.actor.clone();
    let (_, (org, revoked)) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::context::find_org(conn, &actor, &slug)?;
            let revoked = invitations::revoke(conn, &actor, &org, &invitation_id)?;
            Ok((org, revoked))
        })
        .await?;
    let flash = Flash::ok(format!(
        "Revoked the invitation for {}; its link no longer works.",
        revoked.email
    ));
    if !signed.htmx {
        signed.session.push_flash(flash);
        return Ok(see_other(&format!("/orgs/{}/members", org.slug)));
    }
    Ok(html(
        StatusCode::OK,
        render(&NoticesOob { flashes: vec![flash] }, "the notice")?,
    ))
}
