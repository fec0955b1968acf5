//! The invite dialog: paste addresses, review each row, send.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::list::load;
use crate::db::DbConnection;
use crate::domain::policy::{self, Permission};
use crate::domain::{EmailAddress, MembershipEnd, PersonName, Role, parse_address_list};
use crate::error::Error;
use crate::services::invitations::{self, InviteOutcome, Invitee, MAX_BATCH, Standing};
use crate::services::submissions::{self, OnceValue, Purpose, Submission, Submitted};
use crate::services::users::User;
use crate::services::{Actor, Organization, Viewer, now};
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::form::{Form, Typed};
use crate::web::pages::{OrgContext, PENDING_ON_MEMBERS_PAGE, dialog, dialog_with_status};
use crate::web::session::{Flash, FlashKind, SharedLink};
use crate::web::state::AppState;
use crate::web::views::{
    InvitationsSent, InvitationsSentBefore, InviteRowView, InviteStepOne, InviteStepTwo, OrgView,
    PendingList, render,
};

/// The roles the viewer may invite with, refusing viewers who may invite no one.
fn invitable(role: Role) -> Result<Vec<Role>, Error> {
    let roles = policy::invitable_roles(role);
    if roles.is_empty() {
        policy::require(role, Permission::InviteMembers)?;
    }
    Ok(roles)
}

/// The policy's default role where the inviter may give it, or the lowest
/// they may.
fn default_role(roles: &[Role]) -> Role {
    let preferred = policy::current().default_role();
    if roles.contains(&preferred) {
        preferred
    } else {
        roles.last().copied().unwrap_or(preferred)
    }
}

/// Step 1: paste addresses and pick a default role.
pub async fn step_one(
    state: web::Data<AppState>,
    signed: SignedIn,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (user, context) = load(&state, &signed, slug).await?;
    let roles = invitable(context.viewer.role)?;
    let csrf = signed.session.csrf_token();
    let org = OrgView::from(&context.viewer.org);
    dialog(&state, &signed, &user, context, "Invite members", |standalone| {
        let default_role = default_role(&roles);
        render(
            &InviteStepOne {
                standalone,
                csrf,
                org,
                emails: String::new(),
                roles,
                default_role,
                error: None,
                max_rows: MAX_BATCH,
                ends: String::new(),
                ends_error: None,
            },
            "the invite dialog",
        )
    })
}

/// A row as typed, before checking.
struct Draft {
    email: String,
    name: String,
    role: Role,
}

/// Step 1's form: the pasted addresses and one role for them all. The
/// addresses stay text: step 2 shows each as typed, with its problem.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddressesForm {
    emails: String,
    role: Typed<Role>,
    #[serde(default)]
    ends: String,
}

/// Step 2's form: `email`, `name` and `row_role` once per row, and the Remove
/// button pressed, if one was. The rows stay text for the same reason.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RowsForm {
    #[serde(default)]
    email: Vec<String>,
    #[serde(default)]
    name: Vec<String>,
    #[serde(default)]
    row_role: Vec<Typed<Role>>,
    remove: Option<Typed<usize>>,
    #[serde(default)]
    ends: String,
}

/// What step 2 is asked with: step 1's addresses, or its own rows again.
enum Step {
    Addresses { text: String, role: Role },
    Rows(RowsForm),
}

impl RowsForm {
    /// The rows, leaving out the one whose Remove button was pressed. Every
    /// row has all three fields: a form that does not was not made by the
    /// dialog, and nothing is guessed.
    fn drafts(self) -> Result<Vec<Draft>, Error> {
        let rows = self.email.len();
        if self.name.len() != rows || self.row_role.len() != rows {
            return Err(Error::Invalid(
                "Each address needs its name and role fields. Start again from “Invite members”.".to_owned(),
            ));
        }
        let removed = self.remove.and_then(|index| index.parsed.ok());
        self.email
            .into_iter()
            .zip(self.name)
            .zip(self.row_role)
            .enumerate()
            .filter(|(index, _)| Some(*index) != removed)
            .map(|(_, ((email, name), role))| {
                Ok(Draft {
                    email: email.trim().to_owned(),
                    name: name.trim().to_owned(),
                    role: role.value()?,
                })
            })
            .collect()
    }
}

/// Checks each row: a valid address, listed once, not a member, not invited,
/// a valid name. Returns the rows as step 2 shows them, and the invitees when
/// nothing blocks sending.
async fn check_rows(
    state: &AppState,
    actor: &Actor,
    context: &OrgContext,
    drafts: Vec<Draft>,
    ends: Option<MembershipEnd>,
) -> Result<(Vec<InviteRowView>, Vec<Invitee>, bool), Error> {
    let parsed: Vec<Result<EmailAddress, _>> = drafts
        .iter()
        .map(|draft| EmailAddress::parse(&draft.email))
        .collect();
    let valid: Vec<EmailAddress> = parsed.iter().flatten().cloned().collect();
    let (actor, org) = (actor.clone(), context.viewer.org.clone());
    let standings = state
        .read(move |conn| invitations::classify(conn, &actor, &org, &valid))
        .await?;
    let mut standings = standings.into_iter();
    let mut rows = Vec::with_capacity(drafts.len());
    let mut invitees = Vec::new();
    let mut blocked = false;
    for (draft, email) in drafts.into_iter().zip(parsed) {
        let name = PersonName::parse_optional(&draft.name);
        let name_problem = name.as_ref().err().map(ToString::to_string);
        let mut resend = None;
        let problem = match &email {
            Err(_) => Some("This is not a valid email address.".to_owned()),
            Ok(address) => match standings.next() {
                Some(Standing::ListedTwice) => Some("Listed twice.".to_owned()),
                Some(Standing::AlreadyMember) => {
                    Some(format!("Already a member of {}.", context.viewer.org.name))
                }
                Some(Standing::AlreadyInvited { invitation_id }) => {
                    resend = Some(invitation_id);
                    Some("Already invited.".to_owned())
                }
                Some(Standing::DomainNotAllowed) => {
                    Some(invitations::domain_not_allowed(&context.viewer.org, address))
                }
                Some(Standing::New) | None => None,
            },
        };
        blocked |= problem.is_some() || name_problem.is_some();
        if let (Ok(email), Ok(name), None) = (&email, &name, &problem) {
            invitees.push(Invitee {
                email: email.clone(),
                name: name.clone(),
                role: draft.role,
                ends,
            });
        }
        rows.push(InviteRowView {
            email: draft.email,
            name: draft.name,
            role: draft.role,
            problem,
            name_problem,
            resend,
        });
    }
    Ok((rows, invitees, blocked))
}

/// Step 2: one row per address, each with its problems.
pub async fn review(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (user, context) = load(&state, &signed, slug).await?;
    let roles = invitable(context.viewer.role)?;
    let csrf = signed.session.csrf_token();
    let (drafts, ends_typed) = if form.has("emails") {
        let AddressesForm {
            emails: text,
            role,
            ends,
        } = form.parse()?;
        (
            Step::Addresses {
                text,
                role: role.value()?,
            },
            ends,
        )
    } else {
        let mut rows: RowsForm = form.parse()?;
        let ends = std::mem::take(&mut rows.ends);
        (Step::Rows(rows), ends)
    };
    let ends_typed = ends_typed.trim().to_owned();
    let ends = MembershipEnd::parse_date_field(&ends_typed, now());
    let drafts = match drafts {
        Step::Addresses { text, role } => {
            let parsed = parse_address_list(&text);
            let ends_error = ends.as_ref().err().map(ToString::to_string);
            let problem = if parsed.is_empty() {
                Some("Enter at least one email address.".to_owned())
            } else if let Err(too_many) = invitations::fits_one_batch(parsed.len()) {
                Some(too_many.to_string())
            } else {
                None
            };
            if problem.is_some() || ends_error.is_some() {
                let org = OrgView::from(&context.viewer.org);
                let emails = text;
                return dialog_with_status(
                    &state,
                    &signed,
                    &user,
                    context,
                    "Invite members",
                    StatusCode::UNPROCESSABLE_ENTITY,
                    |standalone| {
                        render(
                            &InviteStepOne {
                                standalone,
                                csrf,
                                org,
                                emails,
                                roles,
                                default_role: role,
                                error: problem,
                                max_rows: MAX_BATCH,
                                ends: ends_typed,
                                ends_error,
                            },
                            "the invite dialog",
                        )
                    },
                );
            }
            let typed: Vec<String> = text
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect();
            typed
                .into_iter()
                .map(|email| Draft {
                    email,
                    name: String::new(),
                    role,
                })
                .collect()
        }
        Step::Rows(rows) => rows.drafts()?,
    };
    let ends = ends.map_err(Error::from)?;
    let (rows, _, _) = check_rows(&state, &signed.actor, &context, drafts, ends).await?;
    let org = OrgView::from(&context.viewer.org);
    dialog(&state, &signed, &user, context, "Invite members", |standalone| {
        render(
            &InviteStepTwo {
                standalone,
                csrf,
                org,
                rows,
                roles,
                error: None,
                ends: ends_typed,
                once: OnceValue::issue().as_str().to_owned(),
            },
            "the invite dialog",
        )
    })
}

/// Send: creates every invitation in one transaction and queues the emails.
/// Rows with problems send the dialog back (422) with nothing created. The
/// same dialog sent again (a reload) creates nothing and says what it sent,
/// before its rows are checked again (they are all invited by now).
pub async fn send(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (user, context) = load(&state, &signed, slug).await?;
    let roles = invitable(context.viewer.role)?;
    let csrf = signed.session.csrf_token();
    let once = form.once_value()?;
    if let Some(sent) = sent_before(&state, &signed, &context, once.clone()).await? {
        let (actor, org) = (signed.actor.clone(), context.viewer.org.clone());
        let pending = state.read(move |conn| newest_pending(conn, &actor, org)).await?;
        let flash = Flash::ok(sent_again_words(&sent, &context.viewer.org.name));
        return sent_dialog(&state, &signed, &user, context, flash, sent.skipped, pending);
    }
    let mut rows: RowsForm = form.parse()?;
    let ends_typed = std::mem::take(&mut rows.ends).trim().to_owned();
    let drafts = rows.drafts()?;
    let ends = MembershipEnd::parse_date_field(&ends_typed, now()).map_err(Error::from)?;
    invitations::fits_one_batch(drafts.len())?;
    let (rows, invitees, blocked) = check_rows(&state, &signed.actor, &context, drafts, ends).await?;
    if blocked || invitees.is_empty() {
        let error = if rows.is_empty() {
            "Add at least one address.".to_owned()
        } else {
            "Fix or remove the highlighted rows, then send again.".to_owned()
        };
        let org = OrgView::from(&context.viewer.org);
        return dialog_with_status(
            &state,
            &signed,
            &user,
            context,
            "Invite members",
            StatusCode::UNPROCESSABLE_ENTITY,
            |standalone| {
                render(
                    &InviteStepTwo {
                        standalone,
                        csrf,
                        org,
                        rows,
                        roles,
                        error: Some(error),
                        ends: ends_typed,
                        once: OnceValue::issue().as_str().to_owned(),
                    },
                    "the invite dialog",
                )
            },
        );
    }
    let (actor, org, settings, user_id) = (
        signed.actor.clone(),
        context.viewer.org.clone(),
        state.settings.clone(),
        signed.user_id().to_owned(),
    );
    let (sent, pending) = state
        .db(move |conn| {
            let submission = Submission {
                user_id: &user_id,
                once: once.as_ref(),
                purpose: Purpose::Invitations { org_id: &org.id },
            };
            let sent = submissions::once(conn, &submission, |conn| {
                let outcomes = invitations::invite(conn, &settings, &actor, &org, &invitees)?;
                let (links, skipped) = what_was_sent(outcomes);
                let kept = InvitationsSentBefore {
                    invited: links.iter().map(|shared| shared.email.clone()).collect(),
                    skipped: skipped.clone(),
                };
                Ok(((links, skipped), kept))
            })?;
            Ok((sent, newest_pending(conn, &actor, org)?))
        })
        .await?;
    let org_name = context.viewer.org.name.clone();
    let (flash, skipped) = match sent {
        Submitted::Now((links, skipped)) => {
            let emails: Vec<String> = links.iter().map(|shared| shared.email.clone()).collect();
            let flash = Flash {
                kind: FlashKind::Ok,
                message: invited_words(&emails, &org_name),
                links,
            };
            (flash, skipped)
        }
        Submitted::Before(sent) => (Flash::ok(sent_again_words(&sent, &org_name)), sent.skipped),
    };
    sent_dialog(&state, &signed, &user, context, flash, skipped, pending)
}

/// What this dialog sent, if it was sent before with the same one-time value.
async fn sent_before(
    state: &AppState,
    signed: &SignedIn,
    context: &OrgContext,
    once: Option<OnceValue>,
) -> Result<Option<InvitationsSentBefore>, Error> {
    let Some(once) = once else {
        return Ok(None);
    };
    let (user_id, org_id) = (signed.user_id().to_owned(), context.viewer.org.id.clone());
    state
        .read(move |conn| {
            let submission = Submission {
                user_id: &user_id,
                once: Some(&once),
                purpose: Purpose::Invitations { org_id: &org_id },
            };
            submissions::made_before(conn, &submission)
        })
        .await
}

/// The newest pending invitations, as the Members page lists them.
fn newest_pending(conn: &mut DbConnection, actor: &Actor, org: Organization) -> Result<PendingList, Error> {
    let viewer = Viewer::of(conn, actor, org)?;
    let newest = invitations::pending_for_org(conn, &viewer, 1, PENDING_ON_MEMBERS_PAGE)?;
    Ok(PendingList::new(&newest, viewer.role, now(), false))
}

/// The links to show once, and a line for each address not invited.
fn what_was_sent(outcomes: Vec<(EmailAddress, InviteOutcome)>) -> (Vec<SharedLink>, Vec<String>) {
    let mut links = Vec::new();
    let mut skipped = Vec::new();
    for (email, outcome) in outcomes {
        match outcome {
            InviteOutcome::Invited(issued) => links.push(SharedLink {
                email: email.to_string(),
                link: issued.link,
            }),
            InviteOutcome::AlreadyMember => skipped.push(format!("{email}: already a member")),
            InviteOutcome::AlreadyInvited { .. } => skipped.push(format!("{email}: already invited")),
            InviteOutcome::Duplicate => skipped.push(format!("{email}: listed twice")),
            InviteOutcome::DomainNotAllowed => skipped.push(format!("{email}: its domain is not allowed")),
        }
    }
    (links, skipped)
}

/// "Invited ada@example.com to Acme AI." or "Invited 3 people to Acme AI."
fn invited_words(invited: &[String], org_name: &str) -> String {
    match invited {
        [one] => format!("Invited {one} to {org_name}."),
        many => format!(
            "Invited {} people to {org_name}.",
            crate::web::views::thousands(many.len() as i64)
        ),
    }
}

/// What the "sent" dialog says to the same form sent again: what it sent the
/// first time, and that the links are not shown again.
fn sent_again_words(sent: &InvitationsSentBefore, org_name: &str) -> String {
    format!(
        "{} This form was already sent, so nothing new was made; the links were shown once, in the first answer (Resend one for a new link).",
        invited_words(&sent.invited, org_name)
    )
}

/// The "sent" dialog. The links are shown once, in this answer: without
/// JavaScript too, on the page the form lands on, never carried in the cookie.
fn sent_dialog(
    state: &AppState,
    signed: &SignedIn,
    user: &User,
    context: OrgContext,
    flash: Flash,
    skipped: Vec<String>,
    pending: PendingList,
) -> Result<HttpResponse, Error> {
    let org = OrgView::from(&context.viewer.org);
    let csrf = signed.session.csrf_token();
    dialog(state, signed, user, context, "Invitations sent", |standalone| {
        render(
            &InvitationsSent {
                standalone,
                csrf,
                org,
                flash,
                skipped,
                pending,
            },
            "the invitations sent dialog",
        )
    })
}
