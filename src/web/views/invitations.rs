//! Invitations: the pending list, the invite form and its review, what was
//! sent, and the page an invitee opens.

use askama::Template;
use chrono::NaiveDateTime;

use super::base::{Day, DayTime, Iso, Layout, OrgView, Tabs, thousands};
use crate::domain::Role;
use crate::domain::policy::{self, Action};
use crate::services::invitations::{PendingInvitation, PendingPage};
use crate::services::submissions::OnceValue;
use crate::web::session::Flash;

/// A pending invitation as its row shows it.
#[derive(Debug, Clone)]
pub struct InvitationRowView {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub inviter_name: String,
    pub sent: DayTime,
    pub sent_iso: Iso,
    pub send_count: i32,
    pub expires: DayTime,
    pub expired: bool,
    pub delivery: String,
    pub delivery_label: &'static str,
    pub can_manage: bool,
    /// Rendered as an out-of-band swap (after a resend).
    pub oob: bool,
    /// The Resend form's one-time value.
    pub once: String,
}

impl InvitationRowView {
    pub fn new(invitation: &PendingInvitation, viewer_role: Role, now: NaiveDateTime) -> Self {
        Self {
            id: invitation.id.clone(),
            email: invitation.email.clone(),
            name: invitation.name.clone(),
            role: invitation.role,
            inviter_name: invitation.inviter_name.clone(),
            sent: DayTime(invitation.last_sent_at),
            sent_iso: Iso(invitation.last_sent_at),
            send_count: invitation.send_count,
            expires: DayTime(invitation.expires_at),
            expired: invitation.is_expired(now),
            delivery: invitation.delivery.clone(),
            delivery_label: match invitation.delivery.as_str() {
                "sent" => "Sent",
                "retrying" => "Delivery pending, retrying",
                "failed" => "Delivery failed",
                _ => "Queued",
            },
            can_manage: policy::authorize(
                viewer_role,
                Action::ManageInvitation {
                    role: invitation.role,
                },
            )
            .is_ok(),
            oob: false,
            once: OnceValue::issue().as_str().to_owned(),
        }
    }
}

/// Pending invitations as a page shows them: the newest few under the member
/// table, or a page of them all on the invitations page, with a pager.
#[derive(Debug, Clone)]
pub struct PendingList {
    pub rows: Vec<InvitationRowView>,
    pub total: i64,
    pub page: u32,
    pub page_count: u32,
    pub paged: bool,
}

impl PendingList {
    pub fn new(page: &PendingPage, viewer_role: Role, now: NaiveDateTime, paged: bool) -> Self {
        Self {
            rows: page
                .invitations
                .iter()
                .map(|invitation| InvitationRowView::new(invitation, viewer_role, now))
                .collect(),
            total: page.total,
            page: page.page,
            page_count: page.page_count(),
            paged,
        }
    }

    /// Whether some pending invitations are not in the rows shown.
    pub fn has_more(&self) -> bool {
        self.total > self.rows.len() as i64
    }

    pub fn total_text(&self) -> String {
        thousands(self.total)
    }
}

#[derive(Template)]
#[template(path = "invitations/list.html")]
pub struct InvitationsPage {
    pub layout: Layout,
    pub csrf: String,
    pub org: OrgView,
    pub tabs: Tabs,
    pub pending: PendingList,
}

#[derive(Template)]
#[template(path = "invitations/pending.html")]
pub struct PendingFragment {
    pub org: OrgView,
    pub csrf: String,
    pub pending: PendingList,
}

#[derive(Template)]
#[template(path = "invitations/row.html")]
pub struct InvitationRowFragment {
    pub org: OrgView,
    pub csrf: String,
    pub invitation: InvitationRowView,
}

#[derive(Template)]
#[template(path = "invitations/new.html")]
pub struct InviteStepOne {
    pub standalone: bool,
    pub csrf: String,
    pub org: OrgView,
    pub emails: String,
    pub roles: Vec<Role>,
    pub default_role: Role,
    pub error: Option<String>,
    pub max_rows: usize,
    /// The end date typed (YYYY-MM-DD), and what is wrong with it.
    pub ends: String,
    pub ends_error: Option<String>,
}

/// A row of the invite dialog's second step.
#[derive(Debug, Clone)]
pub struct InviteRowView {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub problem: Option<String>,
    pub name_problem: Option<String>,
    /// The pending invitation to offer to resend instead.
    pub resend: Option<String>,
}

#[derive(Template)]
#[template(path = "invitations/review.html")]
pub struct InviteStepTwo {
    pub standalone: bool,
    pub csrf: String,
    pub org: OrgView,
    pub rows: Vec<InviteRowView>,
    pub roles: Vec<Role>,
    pub error: Option<String>,
    /// The end date of every membership offered (YYYY-MM-DD), or empty.
    pub ends: String,
    /// The form's one-time value: Send, and the Resend buttons in its rows.
    pub once: String,
}

/// What Send invited and skipped, kept to answer the same form sent again
/// (a reload): the addresses, never the links.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InvitationsSentBefore {
    pub invited: Vec<String>,
    pub skipped: Vec<String>,
}

/// Whom a Resend was for, kept to answer the same form sent again.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ResentBefore {
    pub email: String,
}

#[derive(Template)]
#[template(path = "invitations/sent.html")]
pub struct InvitationsSent {
    /// Inside a full page (no JavaScript), rather than swapped in by htmx.
    pub standalone: bool,
    pub csrf: String,
    pub org: OrgView,
    pub flash: Flash,
    pub skipped: Vec<String>,
    pub pending: PendingList,
}

#[derive(Template)]
#[template(path = "invitations/page.html")]
pub struct InvitationPage {
    pub layout: Layout,
    pub invitation_id: String,
    pub org: String,
    pub inviter: String,
    pub role: Role,
    pub email: String,
    pub expires: DayTime,
    /// The last day of the membership it offers, if it ends.
    pub access_ends: Option<Day>,
    pub signed_out: bool,
    pub can_answer: bool,
    pub wrong_account: Option<String>,
    pub google: bool,
    pub github: bool,
    pub dev_login: bool,
}
