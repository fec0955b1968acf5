//! The Members page: its table, rows and filters, and its dialogs.

use std::sync::Arc;

use askama::Template;

use super::base::{Day, Iso, Layout, OrgView, Tabs, initial, thousands};
use crate::domain::Role;
use crate::domain::policy::{self, Action};
use crate::services::Organization;
use crate::services::members::{Direction, Member, MemberPage, MemberQuery, SortKey, Step};

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
        let can_change_role = policy::member_changes(viewer_role, member.role, own).is_ok();
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
#[template(path = "members/table.html")]
pub struct MembersTableFragment {
    pub org: OrgView,
    pub table: MembersTable,
}

#[derive(Template)]
#[template(path = "members/row.html")]
pub struct MemberRowFragment {
    pub org: OrgView,
    pub row: MemberRowView,
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
