//! The pending invitations page.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::domain::Slug;
use crate::error::Error;
use crate::services::invitations::{self};
use crate::services::now;
use crate::services::users::User;
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::pages::{OrgContext, layout, page_number, query_pairs};
use crate::web::respond::html;
use crate::web::state::AppState;
use crate::web::views::{InvitationsPage, OrgView, PendingList, Tabs, render};

/// Pending invitations on each page of the invitations page.
const PENDING_PER_PAGE: u32 = 50;

pub(super) async fn load(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
) -> Result<(User, OrgContext), Error> {
    signed.read_org(state, slug, |_, _, context| Ok(context)).await
}

/// Every pending invitation of the organization, newest first, a page at a time.
pub async fn list(
    state: web::Data<AppState>,
    signed: SignedIn,
    req: HttpRequest,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let mut page = 1;
    for (key, value) in query_pairs(req.query_string()) {
        if key == "page" && !value.trim().is_empty() {
            page = page_number(value.trim())?;
        }
    }
    let (user, (context, pending)) = signed
        .read_org(&state, slug, move |conn, _, context| {
            let listed = invitations::pending_for_org(conn, &context.viewer, page, PENDING_PER_PAGE)?;
            let pending = PendingList::new(&listed, context.viewer.role, now(), true);
            Ok((context, pending))
        })
        .await?;
    let page = InvitationsPage {
        layout: layout(
            &state,
            &signed.session,
            format!("Pending invitations in {}", context.viewer.org.name),
            Some(&user),
            context.orgs,
            Some(&context.viewer.org.slug),
        ),
        csrf: signed.session.csrf_token(),
        org: OrgView::from(&context.viewer.org),
        tabs: Tabs::for_role(context.viewer.role),
        pending,
    };
    Ok(html(StatusCode::OK, render(&page, "the invitations page")?))
}
