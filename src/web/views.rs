//! What the templates show: view models built from domain results, and the
//! template structs. Permissions are decided here by asking the policy, never
//! in the templates.

use std::sync::Arc;

use askama::Template;
use chrono::{Datelike, NaiveDateTime, Timelike};

use super::session::Flash;
use crate::domain::Role;
use crate::domain::policy::{self, Action};
use crate::error::Error;
use crate::services::Organization;
use crate::services::invitations::{PendingInvitation, PendingPage};
use crate::services::members::{Direction, Member, MemberPage, MemberQuery, SortKey, Step};
use crate::services::submissions::OnceValue;
use crate::services::users::User;

/// Room for a whole Members page, so that it is not copied as it grows. Only
/// what is written is ever touched, so a small fragment costs no more.
const RENDER_CAPACITY: usize = 64 * 1024;

/// Renders a template, or explains which one failed.
pub fn render<T: Template>(template: &T, what: &'static str) -> Result<String, Error> {
    let mut out = String::with_capacity(RENDER_CAPACITY.max(T::SIZE_HINT));
    template
        .render_into(&mut out)
        .map_err(|source| Error::Template { what, source })?;
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A day for people: "22 Nov 2026".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day(pub NaiveDateTime);

/// A moment for people: "22 Nov 2026, 14:05 UTC".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayTime(pub NaiveDateTime);

/// A moment for machines, as `<time datetime>` wants it: "2026-11-22T14:05:09Z".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Iso(pub NaiveDateTime);

/// Up to 32 bytes of ASCII written on the stack. A Members page writes a
/// hundred dates; written out like this, rather than through format patterns,
/// they cost next to nothing.
struct Ascii {
    bytes: [u8; 32],
    len: usize,
}

impl Ascii {
    fn new() -> Self {
        Self {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn text(&mut self, text: &str) -> &mut Self {
        let end = (self.len + text.len()).min(self.bytes.len());
        self.bytes[self.len..end].copy_from_slice(&text.as_bytes()[..end - self.len]);
        self.len = end;
        self
    }

    /// `value` in decimal, with leading zeros to `width` digits.
    fn number(&mut self, value: u32, width: usize) -> &mut Self {
        let mut digits = [b'0'; 10];
        let mut rest = value;
        let mut count = 0;
        while count < digits.len() && (rest > 0 || count < width.max(1)) {
            digits[digits.len() - 1 - count] = b'0' + (rest % 10) as u8;
            rest /= 10;
            count += 1;
        }
        for &digit in &digits[digits.len() - count..] {
            if self.len < self.bytes.len() {
                self.bytes[self.len] = digit;
                self.len += 1;
            }
        }
        self
    }

    fn day(&mut self, at: NaiveDateTime) -> &mut Self {
        self.number(at.day(), 1)
            .text(" ")
            .text(MONTHS[at.month0() as usize % 12])
            .text(" ")
            .number(at.year().unsigned_abs(), 4)
    }

    fn write(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only ASCII is ever written in.
        f.write_str(std::str::from_utf8(&self.bytes[..self.len]).map_err(|_| std::fmt::Error)?)
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ascii::new().day(self.0).write(f)
    }
}

impl std::fmt::Display for DayTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Ascii::new()
            .day(self.0)
            .text(", ")
            .number(self.0.hour(), 2)
            .text(":")
            .number(self.0.minute(), 2)
            .text(" UTC")
            .write(f)
    }
}

impl std::fmt::Display for Iso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.0;
        Ascii::new()
            .number(at.year().unsigned_abs(), 4)
            .text("-")
            .number(at.month(), 2)
            .text("-")
            .number(at.day(), 2)
            .text("T")
            .number(at.hour(), 2)
            .text(":")
            .number(at.minute(), 2)
            .text(":")
            .number(at.second(), 2)
            .text("Z")
            .write(f)
    }
}

// Digits, letters, spaces and punctuation that is not markup: nothing to escape.
impl askama::filters::HtmlSafe for Day {}
impl askama::filters::HtmlSafe for DayTime {}
impl askama::filters::HtmlSafe for Iso {}

fn initial(name: &str) -> String {
    name.chars()
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default()
}

/// The signed-in user, as the header shows them.
#[derive(Debug, Clone)]
pub struct UserView {
    pub name: String,
    pub email: String,
    pub avatar_url: Option<String>,
    pub initial: String,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            name: user.name.clone(),
            email: user.email.clone(),
            avatar_url: user.avatar_url.clone(),
            initial: initial(&user.name),
        }
    }
}

#[derive(Debug, Clone)]
pub struct OrgChoice {
    pub name: String,
    pub slug: String,
}

/// What every full page needs: the header, the banner, the notices.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub csrf: String,
    pub user: Option<UserView>,
    pub orgs: Vec<OrgChoice>,
    pub current_org: Option<String>,
    pub dev_banner: bool,
    pub flashes: Vec<Flash>,
}

#[derive(Debug, Clone)]
pub struct OrgView {
    pub name: String,
    pub slug: String,
}

impl From<&Organization> for OrgView {
    fn from(org: &Organization) -> Self {
        Self {
            name: org.name.clone(),
            slug: org.slug.clone(),
        }
    }
}

/// One row of the member table, with what the viewer may do to it.
#[derive(Debug, Clone)]
pub struct MemberRowView {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub avatar_url: Option<String>,
    pub initial: String,
    pub role: Role,
    pub joined: Day,
    pub joined_iso: Iso,
    pub is_me: bool,
    pub can_change_role: bool,
    pub can_remove: bool,
    /// The last day of the membership, if it ends.
    pub ends: Option<Day>,
}

impl MemberRowView {
    pub fn new(member: Member, viewer_id: &str, viewer_role: Role) -> Self {
        let own = member.user_id == viewer_id;
        let can_change_role = policy::assignable_roles(viewer_role, member.role, own)
            .iter()
            .any(|role| *role != member.role)
            || policy::authorize(
                viewer_role,
                Action::SetMembershipEnd {
                    role: member.role,
                    own,
                },
            )
            .is_ok();
        let can_remove = policy::authorize(
            viewer_role,
            Action::Remove {
                role: member.role,
                own,
            },
        )
        .is_ok();
        Self {
            initial: initial(&member.name),
            user_id: member.user_id,
            name: member.name,
            email: member.email,
            avatar_url: member.avatar_url,
            role: member.role,
            joined: Day(member.joined_at),
            joined_iso: Iso(member.joined_at),
            is_me: own,
            can_change_role,
            can_remove,
            ends: member
                .ends
                .map(|ends| Day(ends.last_day().and_time(chrono::NaiveTime::MIN))),
        }
    }
}

/// The member list's query, as it appears in links.
#[derive(Debug, Clone)]
pub struct Filters {
    pub base: String,
    pub q: String,
    pub role: String,
    pub sort: &'static str,
    pub dir: &'static str,
}

impl Filters {
    pub fn new(org_slug: &str, query: &MemberQuery) -> Self {
        Self {
            base: format!("/orgs/{org_slug}/members"),
            q: query.search.as_ref().map(ToString::to_string).unwrap_or_default(),
            role: query
                .role
                .map(|role| role.as_str().to_owned())
                .unwrap_or_default(),
            sort: match query.sort {
                SortKey::Name => "name",
                SortKey::Email => "email",
                SortKey::Joined => "joined",
            },
            dir: match query.direction {
                Direction::Ascending => "asc",
                Direction::Descending => "desc",
            },
        }
    }

    fn link(&self, sort: &str, dir: &str, page: u32) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if !self.q.is_empty() {
            query.append_pair("q", &self.q);
        }
        if !self.role.is_empty() {
            query.append_pair("role", &self.role);
        }
        query.append_pair("sort", sort).append_pair("dir", dir);
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        format!("{}?{}", self.base, query.finish())
    }

    /// The link a column header leads to: sort by it, or flip the direction.
    pub fn sort_link(&self, column: &str) -> String {
        let dir = if self.sort == column && self.dir == "asc" {
            "desc"
        } else {
            "asc"
        };
        self.link(column, dir, 1)
    }

    /// A step to the page beside, shown as page `page`: `after` or `before`
    /// the member `cursor` names.
    pub fn step_link(&self, step: &Step, page: u32) -> String {
        let (place, cursor) = match step {
            Step::After(cursor) => ("after", cursor),
            Step::Before(cursor) => ("before", cursor),
        };
        let mut link = self.link(self.sort, self.dir, page);
        link.push('&');
        link.push_str(place);
        link.push('=');
        link.push_str(&cursor.encode());
        link
    }

    pub fn aria_sort(&self, column: &str) -> &'static str {
        match (self.sort == column, self.dir) {
            (false, _) => "none",
            (true, "desc") => "descending",
            (true, _) => "ascending",
        }
    }

    pub fn arrow(&self, column: &str) -> &'static str {
        match (self.sort == column, self.dir) {
            (false, _) => "",
            (true, "desc") => " ↓",
            (true, _) => " ↑",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MembersTable {
    pub rows: Vec<MemberRowView>,
    pub filters: Filters,
    pub total: i64,
    pub page: u32,
    pub page_count: u32,
    pub per_page: u32,
    /// The links to the pages beside, by keyset.
    pub next: Option<String>,
    pub previous: Option<String>,
}

impl MembersTable {
    pub fn new(
        org: &Organization,
        query: &MemberQuery,
        page: MemberPage,
        viewer_id: &str,
        viewer_role: Role,
    ) -> Self {
        let filters = Filters::new(&org.slug, query);
        Self {
            next: page
                .next
                .as_ref()
                .map(|step| filters.step_link(step, page.page + 1)),
            previous: page
                .previous
                .as_ref()
                .map(|step| filters.step_link(step, page.page.saturating_sub(1).max(1))),
            filters,
            total: page.total,
            page: page.page,
            page_count: page.page_count(),
            per_page: page.per_page,
            rows: page
                .members
                .into_iter()
                .map(|m| MemberRowView::new(m, viewer_id, viewer_role))
                .collect(),
        }
    }

    /// "1,234 members" or "Showing 51–100 of 1,234 members".
    pub fn summary(&self) -> String {
        let noun = if self.total == 1 { "member" } else { "members" };
        let filtered = !self.filters.q.is_empty() || !self.filters.role.is_empty();
        let matching = if filtered { " matching" } else { "" };
        if self.page_count <= 1 {
            return format!("{}{matching} {noun}", thousands(self.total));
        }
        let first = i64::from(self.page - 1) * i64::from(self.per_page) + 1;
        let last = (first + self.rows.len() as i64 - 1).max(first);
        format!(
            "Showing {}–{} of {}{matching} {noun}",
            thousands(first),
            thousands(last),
            thousands(self.total)
        )
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

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
#[template(path = "members/page.html")]
pub struct MembersPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub can_invite: bool,
    pub roles: Vec<Role>,
    pub filters: Filters,
    /// The member table as [`MembersTableFragment`] renders it.
    pub table: Arc<str>,
    /// The newest pending invitations as [`PendingFragment`] renders them.
    pub pending: Arc<str>,
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
#[template(path = "members/table.html")]
pub struct MembersTableFragment {
    pub org: OrgView,
    pub table: MembersTable,
}

#[derive(Template)]
#[template(path = "invitations/pending.html")]
pub struct PendingFragment {
    pub org: OrgView,
    pub csrf: String,
    pub pending: PendingList,
}

#[derive(Template)]
#[template(path = "members/row.html")]
pub struct MemberRowFragment {
    pub org: OrgView,
    pub row: MemberRowView,
}

#[derive(Template)]
#[template(path = "invitations/row.html")]
pub struct InvitationRowFragment {
    pub org: OrgView,
    pub csrf: String,
    pub invitation: InvitationRowView,
}

#[derive(Template)]
#[template(path = "partials/notice_oob.html")]
pub struct NoticesOob {
    pub flashes: Vec<Flash>,
}

#[derive(Template)]
#[template(path = "partials/notice.html")]
pub struct NoticeFragment {
    pub flash: Flash,
}

/// A one-time notice on a page of its own: what a form without JavaScript
/// lands on when the notice carries a link that must not go in the cookie.
#[derive(Template)]
#[template(path = "notice_page.html")]
pub struct NoticePage {
    pub layout: Layout,
    pub flash: Flash,
    pub back: String,
}

#[derive(Template)]
#[template(path = "dialog_page.html")]
pub struct DialogPage {
    pub layout: Layout,
    pub dialog: String,
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
#[template(path = "members/role.html")]
pub struct ChangeRoleDialog {
    pub standalone: bool,
    pub csrf: String,
    pub org: OrgView,
    pub member: Member,
    pub roles: Vec<Role>,
    /// The viewer may set when the membership ends.
    pub can_set_end: bool,
    /// The last day now set, as the date field takes it, or empty.
    pub ends: String,
}

#[derive(Template)]
#[template(path = "members/remove.html")]
pub struct RemoveDialog {
    pub standalone: bool,
    pub csrf: String,
    pub org: OrgView,
    pub member: Member,
}

#[derive(Template)]
#[template(path = "members/leave.html")]
pub struct LeaveDialog {
    pub standalone: bool,
    pub csrf: String,
    pub org: OrgView,
    pub refusal: Option<String>,
}

/// A membership on the profile page.
#[derive(Debug, Clone)]
pub struct MembershipView {
    pub name: String,
    pub slug: String,
    pub role: Role,
}

/// An invitation on the profile page.
#[derive(Debug, Clone)]
pub struct ProfileInvitation {
    pub id: String,
    pub org_name: String,
    pub role: Role,
    pub inviter_name: String,
    pub email: String,
    pub expires: DayTime,
}

#[derive(Template)]
#[template(path = "profile/page.html")]
pub struct ProfilePage {
    pub layout: Layout,
    pub email: String,
    pub memberships: Vec<MembershipView>,
    pub invitations: Vec<ProfileInvitation>,
    /// Deleted organizations the user owns and can still restore.
    pub restorable: Vec<RestorableView>,
    pub new_org_name: String,
    pub new_org_error: Option<String>,
}

/// A row of the Roles page: a permission and, per role, whether it is granted.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub description: &'static str,
    pub allowed: Vec<bool>,
}

#[derive(Template)]
#[template(path = "roles/page.html")]
pub struct RolesPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub roles: Vec<Role>,
    pub rows: Vec<PolicyRow>,
}

impl RolesPage {
    pub fn rows() -> Vec<PolicyRow> {
        policy::TABLE
            .iter()
            .map(|grant| PolicyRow {
                description: grant.description,
                allowed: Role::ALL
                    .iter()
                    .map(|role| grant.permission.allows(*role))
                    .collect(),
            })
            .collect()
    }
}

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub google: bool,
    pub github: bool,
    pub dev_login: bool,
    pub next: String,
    pub next_query: String,
    pub email: String,
    pub error: Option<String>,
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

#[derive(Template)]
#[template(path = "errors/page.html")]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: String,
}

/// An error page for someone signed in: the same words, under the header
/// with their organizations, their name and "Sign out".
#[derive(Template)]
#[template(path = "errors/signed_in.html")]
pub struct SignedInErrorPage {
    pub layout: Layout,
    pub title: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "errors/notice.html")]
pub struct ErrorNotice {
    pub message: String,
}

/// The organization's tabs, as the policy lets the viewer see them.
#[derive(Debug, Clone, Copy)]
pub struct Tabs {
    pub service_accounts: bool,
    pub audit: bool,
    pub settings: bool,
}

impl Tabs {
    pub fn for_role(role: Role) -> Self {
        Self {
            service_accounts: !policy::service_account_roles(role).is_empty(),
            audit: policy::authorize(role, policy::Action::ViewAuditLog).is_ok(),
            settings: policy::authorize(role, policy::Action::ViewSettings).is_ok(),
        }
    }
}

/// An event's row in the audit log.
pub struct AuditRowView {
    pub at: DayTime,
    pub iso: Iso,
    pub actor: String,
    pub actor_email: Option<String>,
    pub credential: String,
    pub summary: String,
    pub action: String,
    pub client_ip: Option<String>,
}

impl From<&crate::services::audit::RecordedEvent> for AuditRowView {
    fn from(event: &crate::services::audit::RecordedEvent) -> Self {
        Self {
            at: DayTime(event.created_at),
            iso: Iso(event.created_at),
            actor: event.actor(),
            actor_email: event
                .actor_email
                .clone()
                .filter(|email| *email != event.actor_name),
            credential: event.credential.clone(),
            summary: event.summary(),
            action: event.action.clone(),
            client_ip: event.client_ip.clone(),
        }
    }
}

impl AuditRowView {
    /// "via console session": said unless the actor already says it.
    pub fn shows_credential(&self) -> bool {
        !self.credential.is_empty()
            && !self
                .actor
                .eq_ignore_ascii_case(&format!("the {}", self.credential))
    }
}

/// The audit log's filter, as typed, and the links that keep it.
pub struct AuditFilterView {
    pub slug: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub from: String,
    pub to: String,
}

impl AuditFilterView {
    fn query(&self, extra: &[(&str, &str)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        for (name, value) in extra {
            query.append_pair(name, value);
        }
        query.finish()
    }

    /// The log at another place, with the same filter.
    pub fn page_link(&self, place: &str, cursor: &str) -> String {
        format!("/orgs/{}/audit?{}", self.slug, self.query(&[(place, cursor)]))
    }

    /// The filtered events as a download.
    pub fn download_link(&self, format: &str) -> String {
        format!(
            "/orgs/{}/audit/download?{}",
            self.slug,
            self.query(&[("format", format)])
        )
    }

    pub fn is_filtered(&self) -> bool {
        !self.query(&[]).is_empty()
    }
}

/// The events table and its pager: the part a filter or a pager link swaps.
#[derive(Template)]
#[template(path = "audit/events.html")]
pub struct AuditEventsFragment {
    pub filter: AuditFilterView,
    pub rows: Vec<AuditRowView>,
    pub older: Option<String>,
    pub newer: Option<String>,
}

#[derive(Template)]
#[template(path = "audit/page.html")]
pub struct AuditLogPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub filter: AuditFilterView,
    pub actions: Vec<crate::services::audit::AuditAction>,
    /// The rendered [`AuditEventsFragment`].
    pub events: String,
}

/// A token's row on the API tokens page.
pub struct TokenRowView {
    pub token: crate::services::tokens::TokenView,
    pub created: DayTime,
    pub expires: DayTime,
    pub last_used: Option<DayTime>,
}

#[derive(Template)]
#[template(path = "tokens/page.html")]
pub struct TokensPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub csrf: String,
    pub sees_all: bool,
    pub tokens: Vec<TokenRowView>,
    pub access_levels: Vec<crate::domain::AccessLevel>,
    pub lifetimes: &'static [u16],
    pub form: TokenForm,
    pub error: Option<String>,
    /// The secret of the token just made, shown this once.
    pub created: Option<CreatedSecret>,
    /// The form was sent again: what it made the first time, without the secret.
    pub made_before: Option<SecretShownBefore>,
    /// The create form's one-time value.
    pub once: String,
}

/// What the create form holds (again, after a refusal).
#[derive(Debug, Clone, Default)]
pub struct TokenForm {
    pub name: String,
    pub access: String,
    pub days: u16,
}

/// A secret just made, with what it is for.
pub struct CreatedSecret {
    pub name: String,
    pub secret: String,
    pub expires: DayTime,
}

/// What a form that made a secret made, kept to answer the form sent again
/// (a reload): the name only, never the secret.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SecretShownBefore {
    pub name: String,
}

/// A service account's row.
pub struct AccountRowView {
    pub account: crate::services::service_accounts::ServiceAccount,
    pub created: DayTime,
}

#[derive(Template)]
#[template(path = "service_accounts/page.html")]
pub struct ServiceAccountsPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub csrf: String,
    pub accounts: Vec<AccountRowView>,
    pub roles: Vec<Role>,
    pub access_levels: Vec<crate::domain::AccessLevel>,
    pub lifetimes: &'static [u16],
    pub form: AccountForm,
    pub error: Option<String>,
    pub created: Option<CreatedSecret>,
    pub made_before: Option<SecretShownBefore>,
    /// The key forms' one-time value (each form has its own purpose).
    pub once: String,
}

/// What the create form of a service account holds (again, after a refusal).
#[derive(Debug, Clone)]
pub struct AccountForm {
    pub name: String,
    pub description: String,
    /// The role chosen, as sent; empty offers the lowest.
    pub role: String,
}

/// Which form of the Settings tab an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsSection {
    Rename,
    Domains,
    Transfer,
    Delete,
}

/// What one form of the Settings tab sent: the only fields a refusal shows
/// as typed. Every other field shows what is in force, so that pressing
/// another form's button after a refusal never saves a value nobody chose.
#[derive(Debug, Clone)]
pub enum SettingsForm {
    Rename {
        name: String,
        slug: String,
    },
    Domains {
        domains: String,
    },
    Transfer {
        to: String,
        afterwards: String,
    },
    /// Accepting, declining or cancelling a transfer: nothing is typed.
    TransferAnswer,
    /// The confirmation is typed afresh each time.
    Delete,
}

impl SettingsForm {
    pub fn section(&self) -> SettingsSection {
        match self {
            Self::Rename { .. } => SettingsSection::Rename,
            Self::Domains { .. } => SettingsSection::Domains,
            Self::Transfer { .. } | Self::TransferAnswer => SettingsSection::Transfer,
            Self::Delete => SettingsSection::Delete,
        }
    }
}

/// The values of the Settings tab's fields.
#[derive(Debug, Clone)]
pub struct SettingsFields {
    pub name: String,
    pub slug: String,
    pub domains: String,
    pub transfer_to: String,
    pub afterwards: String,
}

impl SettingsFields {
    /// The fields as the organization is now: its name, its address, its
    /// allowed domains (one a line); no transfer typed.
    pub fn in_force(org: &Organization, domains: &[String]) -> Self {
        Self {
            name: org.name.clone(),
            slug: org.slug.clone(),
            domains: domains.join("\n"),
            transfer_to: String::new(),
            afterwards: Role::Admin.as_str().to_owned(),
        }
    }

    /// These fields, with the ones `form` sent shown as typed.
    pub fn with_typed(self, form: SettingsForm) -> Self {
        match form {
            SettingsForm::Rename { name, slug } => Self { name, slug, ..self },
            SettingsForm::Domains { domains } => Self { domains, ..self },
            SettingsForm::Transfer { to, afterwards } => Self {
                transfer_to: to,
                afterwards,
                ..self
            },
            SettingsForm::TransferAnswer | SettingsForm::Delete => self,
        }
    }
}

/// The Settings tab.
#[derive(Template)]
#[template(path = "settings/page.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub csrf: String,
    /// May rename and delete (the policy's answer for the viewer).
    pub manage: bool,
    pub manage_domains: bool,
    pub transfer_ownership: bool,
    pub domains: Vec<String>,
    pub transfer: Option<TransferView>,
    /// The roles a former owner may stay with, highest first.
    pub stay_roles: Vec<Role>,
    pub fields: SettingsFields,
    pub error: Option<(SettingsSection, String)>,
}

impl SettingsPage {
    /// The error of one section, if it is the one that failed.
    pub fn error_of(&self, section: SettingsSection) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(failed, _)| *failed == section)
            .map(|(_, message)| message.as_str())
    }
}

/// A waiting transfer of ownership, as the Settings tab shows it.
pub struct TransferView {
    pub from: String,
    pub to: String,
    pub to_email: String,
    pub afterwards: String,
    pub requested: DayTime,
    /// The viewer is the member named, who confirms or declines.
    pub for_viewer: bool,
}

/// A deleted organization its owner can still restore, on the profile.
pub struct RestorableView {
    pub name: String,
    pub slug: String,
    pub until: DayTime,
}

/// A question before something that cannot be undone, as a page of its own.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub back: String,
    pub csrf: String,
}

#[cfg(test)]
mod tests {
    use super::{Day, DayTime, Iso, thousands};

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100000), "100,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn writes_dates_for_people_and_for_machines() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 3, 7)
            .and_then(|day| day.and_hms_micro_opt(9, 5, 2, 123_456))
            .expect("a valid date");
        assert_eq!(Day(at).to_string(), "7 Mar 2026");
        assert_eq!(DayTime(at).to_string(), "7 Mar 2026, 09:05 UTC");
        assert_eq!(Iso(at).to_string(), "2026-03-07T09:05:02Z");
        let late = chrono::NaiveDate::from_ymd_opt(12026, 12, 31)
            .and_then(|day| day.and_hms_opt(23, 59, 59))
            .expect("a valid date");
        assert_eq!(DayTime(late).to_string(), "31 Dec 12026, 23:59 UTC");
        assert_eq!(Iso(late).to_string(), "12026-12-31T23:59:59Z");
    }
}
