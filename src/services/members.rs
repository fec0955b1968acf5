//! Memberships: who is in an organization, with which role.
//!
//! Every path that adds or removes a member comes through [`add`], [`update`],
//! [`remove`] and [`leave`], and each checks the last-owner rule inside the
//! transaction, under a lock on the organization whenever an owner is
//! concerned (a change between two other roles cannot break it).

use chrono::NaiveDateTime;
use diesel::dsl::count;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Text;
use serde_json::json;

use super::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use super::users::{self, User};
use super::{Actor, MemberCounts, Organization, Viewer, acting, now, parse_stored_role, role_in};
use crate::db::literal::Unindexed;
use crate::db::schema::{member_list_versions, memberships};
use crate::db::written::{Shape, Shaped, Written};
use crate::db::{self, DbConnection};
use crate::domain::SearchText;
use crate::domain::policy::{self, Action};
use crate::domain::{EmailAddress, MembershipEnd, Role};
use crate::error::Error;

/// A member as the Members page lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub avatar_url: Option<String>,
    pub role: Role,
    pub joined_at: NaiveDateTime,
    /// When the membership ends, if it does.
    pub ends: Option<MembershipEnd>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = memberships)]
struct MemberRow {
    user_id: String,
    name: String,
    email: String,
    role: String,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    joined_at: NaiveDateTime,
    avatar_url: Option<String>,
    expires_at: Option<NaiveDateTime>,
}

impl MemberRow {
    fn into_member(self) -> Result<Member, Error> {
        Ok(Member {
            role: parse_stored_role(&self.role)?,
            user_id: self.user_id,
            name: self.name,
            email: self.email,
            avatar_url: self.avatar_url,
            joined_at: self.joined_at,
            ends: self.expires_at.map(MembershipEnd::stored),
        })
    }
}

/// Which column the member list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SortKey {
    #[default]
    Name,
    Email,
    Joined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    #[default]
    Ascending,
    Descending,
}

impl SortKey {
    /// The order a link or an API call names: `name`, `email` or `joined`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "name" => Some(Self::Name),
            "email" => Some(Self::Email),
            "joined" => Some(Self::Joined),
            _ => None,
        }
    }
}

impl Direction {
    /// `asc` or `desc`.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "asc" => Some(Self::Ascending),
            "desc" => Some(Self::Descending),
            _ => None,
        }
    }
}

/// What the Members page asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberQuery {
    /// Matches members whose name or email starts with this text (any case).
    pub search: Option<SearchText>,
    pub role: Option<Role>,
    pub sort: SortKey,
    pub direction: Direction,
    /// 1-based: the page asked for, or with `step` the number it is shown as.
    pub page: u32,
    pub per_page: u32,
    /// A step from the page beside: its members are found from the cursor,
    /// however deep in the list, and a change to the list in between skips
    /// or repeats nobody.
    pub step: Option<Step>,
}

/// One step through the list, from a page shown before.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// The page after the member the cursor names.
    After(MemberCursor),
    /// The page before it (the cursor is made for the reverse order).
    Before(MemberCursor),
}

impl Default for MemberQuery {
    fn default() -> Self {
        Self {
            search: None,
            role: None,
            sort: SortKey::default(),
            direction: Direction::default(),
            page: 1,
            per_page: 50,
            step: None,
        }
    }
}

/// One page of members, the number that match in all, and the steps to the
/// pages beside it (none at either end).
#[derive(Debug, Clone)]
pub struct MemberPage {
    pub members: Vec<Member>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
    pub next: Option<Step>,
    pub previous: Option<Step>,
}

impl MemberPage {
    pub fn page_count(&self) -> u32 {
        super::page_count(self.total, self.per_page)
    }
}

/// The largest page the list serves, whatever is asked.
pub const MAX_PER_PAGE: u32 = 200;

/// The longest cursor a member list takes, in characters.
pub const MAX_CURSOR_CHARS: usize = 1024;

type MembershipFilter<'a> = diesel::dsl::IntoBoxed<'a, memberships::table, crate::db::MultiBackend>;

fn filtered<'a>(
    org_id: &'a str,
    query: &'a MemberQuery,
    search: Option<&'a (String, String)>,
) -> MembershipFilter<'a> {
    let mut selection = memberships::table
        .filter(memberships::org_id.eq(org_id))
        .into_boxed();
    if let Some(role) = query.role {
        selection = selection.filter(memberships::role.eq(role.as_str()));
    }
    if let Some((from, to)) = search {
        // A range on each key rather than LIKE: both backends turn it into an
        // index range scan (the Postgres columns compare bytes, COLLATE "C").
        selection = selection.filter(
            memberships::name_key
                .ge(from)
                .and(memberships::name_key.lt(to))
                .or(memberships::email.ge(from).and(memberships::email.lt(to))),
        );
    }
    selection
}

impl Direction {
    pub fn reversed(self) -> Self {
        match self {
            Self::Ascending => Self::Descending,
            Self::Descending => Self::Ascending,
        }
    }
}

/// Orders the selection, ties broken by user id. With a search, the matches
/// come from the name and email indexes and the database should sort just
/// them (see [`Unindexed`]).
fn ordered<'a>(
    selection: MembershipFilter<'a>,
    sort: SortKey,
    direction: Direction,
    searching: bool,
) -> MembershipFilter<'a> {
    use memberships::{email, joined_at, name_key};
    match (sort, searching) {
        (SortKey::Name, false) => order_by(selection, name_key, direction),
        (SortKey::Name, true) => order_by(selection, Unindexed(name_key), direction),
        (SortKey::Email, false) => order_by(selection, email, direction),
        (SortKey::Email, true) => order_by(selection, Unindexed(email), direction),
        (SortKey::Joined, false) => order_by(selection, joined_at, direction),
        (SortKey::Joined, true) => order_by(selection, Unindexed(joined_at), direction),
    }
}

fn order_by<'a, K>(selection: MembershipFilter<'a>, key: K, direction: Direction) -> MembershipFilter<'a>
where
    K: ExpressionMethods
        + AppearsOnTable<memberships::table>
        + diesel::query_builder::QueryFragment<crate::db::MultiBackend>
        + Send
        + 'a,
{
    match direction {
        Direction::Ascending => selection.order((key.asc(), memberships::user_id.asc())),
        Direction::Descending => selection.order((key.desc(), memberships::user_id.desc())),
    }
}

/// The choices that decide the SQL of a member list statement built by
/// [`filtered`] and [`ordered`].
fn shape(statement: &'static str, query: &MemberQuery, direction: Direction, searching: bool) -> Shape {
    let choices = (query.sort as u64) << 3
        | u64::from(query.role.is_some()) << 2
        | u64::from(searching) << 1
        | u64::from(direction == Direction::Descending);
    Shape { statement, choices }
}

/// How many members the organization has, in one role or in all: read from
/// the counts the database keeps, not counted.
fn counted(conn: &mut DbConnection, viewer: &Viewer, role: Option<Role>) -> Result<i64, Error> {
    let counts = match viewer.stamps {
        Some(stamps) => stamps.members,
        // No row: no member since the tables were made.
        None => Written(
            member_list_versions::table
                .find(&viewer.org.id)
                .select((
                    member_list_versions::owners,
                    member_list_versions::admins,
                    member_list_versions::developers,
                    member_list_versions::contributors,
                    member_list_versions::viewers,
                ))
                .limit(1),
        )
        .get_result::<(i64, i64, i64, i64, i64)>(conn)
        .optional()?
        .map(MemberCounts::from)
        .unwrap_or_default(),
    };
    Ok(counts.of(role))
}

/// One page of an organization's members, as a member sees them.
pub fn list(conn: &mut DbConnection, viewer: &Viewer, query: &MemberQuery) -> Result<MemberPage, Error> {
    let org = &viewer.org;
    let per_page = query.per_page.clamp(1, MAX_PER_PAGE);
    let page = query.page.max(1);
    let search = query.search.as_ref().map(|s| {
        let from = s.as_str().to_lowercase();
        // Every key that starts with `from` sorts below `from` + U+10FFFF.
        let to = format!("{from}\u{10FFFF}");
        (from, to)
    });
    let total = match (&search, &query.step) {
        (None, _) => counted(conn, viewer, query.role)?,
        // On Postgres the count costs a round trip, so it comes with the page;
        // SQLite copies every windowed match into a table of its own, which
        // costs more than counting them again.
        (Some(range), None) if matches!(conn, DbConnection::Postgres(_)) => {
            return searched(conn, viewer, query, range, page, per_page);
        }
        (Some(range), _) => searched_count(conn, viewer, query, range)?,
    };
    if let Some(step) = &query.step {
        return stepped(conn, viewer, query, step, total, search.as_ref(), per_page);
    }
    let skipped = i64::from(page - 1) * i64::from(per_page);
    let wanted = i64::from(per_page).min(total - skipped);
    if wanted <= 0 {
        return Ok(MemberPage {
            members: Vec::new(),
            total,
            page,
            per_page,
            next: None,
            previous: None,
        });
    }
    // Past the middle, read from the other end: an OFFSET costs as many index
    // entries as it skips, so the last page is then as quick as the first.
    let from_end = skipped > total / 2;
    let (direction, offset) = if from_end {
        (query.direction.reversed(), total - skipped - wanted)
    } else {
        (query.direction, skipped)
    };
    // Deep in the list, the member just before the page is found from the
    // sort key's index alone (it holds the user id that breaks ties), and
    // the page read past it: the skipped entries are never read from the
    // table.
    let before_page = match (offset, &search) {
        (1.., None) => member_at(conn, &org.id, query, direction, offset - 1)?,
        _ => None,
    };
    let mut rows: Vec<MemberRow> = match &before_page {
        Some(cursor) => Shaped {
            shape: shape("members::list_past", query, direction, false),
            query: ordered(
                past(filtered(&org.id, query, None), cursor)?,
                query.sort,
                direction,
                false,
            )
            .select(MemberRow::as_select())
            .limit(wanted),
        }
        .load(conn)?,
        None => Shaped {
            shape: shape("members::list", query, direction, search.is_some()),
            query: ordered(
                filtered(&org.id, query, search.as_ref()),
                query.sort,
                direction,
                search.is_some(),
            )
            .select(MemberRow::as_select())
            .limit(wanted)
            .offset(offset),
        }
        .load(conn)?,
    };
    if from_end {
        rows.reverse();
    }
    let members: Vec<Member> = rows
        .into_iter()
        .map(MemberRow::into_member)
        .collect::<Result<_, _>>()?;
    Ok(numbered_page(query, members, total, page, per_page))
}

/// A page of a search reached by its number, read with the number of
/// matches in one statement (a window count over the matches, which a search
/// sorts anyway).
fn searched(
    conn: &mut DbConnection,
    viewer: &Viewer,
    query: &MemberQuery,
    range: &(String, String),
    page: u32,
    per_page: u32,
) -> Result<MemberPage, Error> {
    let skipped = i64::from(page - 1) * i64::from(per_page);
    let rows: Vec<(MemberRow, i64)> = Shaped {
        shape: shape("members::searched", query, query.direction, true),
        query: ordered(
            filtered(&viewer.org.id, query, Some(range)),
            query.sort,
            query.direction,
            true,
        )
        .select((MemberRow::as_select(), count(memberships::user_id).over()))
        .limit(i64::from(per_page))
        .offset(skipped),
    }
    .load(conn)?;
    let total = match rows.first() {
        Some((_, total)) => *total,
        // Past the last match: nothing to count with.
        None => searched_count(conn, viewer, query, range)?,
    };
    let members: Vec<Member> = rows
        .into_iter()
        .map(|(row, _)| row.into_member())
        .collect::<Result<_, _>>()?;
    Ok(numbered_page(query, members, total, page, per_page))
}

fn searched_count(
    conn: &mut DbConnection,
    viewer: &Viewer,
    query: &MemberQuery,
    range: &(String, String),
) -> Result<i64, Error> {
    Ok(Shaped {
        shape: shape("members::count", query, query.direction, true),
        query: filtered(&viewer.org.id, query, Some(range)).count(),
    }
    .get_result(conn)?)
}

/// Page `page` of `total`, holding `members`, with its steps on.
fn numbered_page(
    query: &MemberQuery,
    members: Vec<Member>,
    total: i64,
    page: u32,
    per_page: u32,
) -> MemberPage {
    let shown = i64::from(page - 1) * i64::from(per_page) + members.len() as i64;
    let more = shown < total;
    MemberPage {
        next: members
            .last()
            .filter(|_| more)
            .map(|last| Step::After(MemberCursor::past(last, query.sort, query.direction))),
        previous: members
            .first()
            .filter(|_| page > 1)
            .map(|first| Step::Before(MemberCursor::past(first, query.sort, query.direction.reversed()))),
        members,
        total,
        page,
        per_page,
    }
}

/// The member at `position` (from 0) of the unsearched list in `direction`,
/// as a cursor, read from the sort key's index alone, which for the name and
/// the joining time holds the user id too; None for the email order, whose
/// index does not, or past the end.
fn member_at(
    conn: &mut DbConnection,
    org_id: &str,
    query: &MemberQuery,
    direction: Direction,
    position: i64,
) -> Result<Option<MemberCursor>, Error> {
    let at = || {
        ordered(filtered(org_id, query, None), query.sort, direction, false)
            .limit(1)
            .offset(position)
    };
    let found: Option<(String, String)> = match query.sort {
        SortKey::Name => Shaped {
            shape: shape("members::at", query, direction, false),
            query: at().select((memberships::name_key, memberships::user_id)),
        }
        .get_result(conn)
        .optional()?,
        SortKey::Joined => Shaped {
            shape: shape("members::at", query, direction, false),
            query: at().select((memberships::joined_at, memberships::user_id)),
        }
        .get_result::<(NaiveDateTime, String)>(conn)
        .optional()?
        .map(|(joined, user_id)| (joined.format(CURSOR_TIME).to_string(), user_id)),
        SortKey::Email => None,
    };
    Ok(found.map(|(key, user_id)| MemberCursor {
        sort: query.sort,
        direction,
        key,
        user_id,
    }))
}

/// A page reached by a step: the members just past the cursor, read from
/// the sort key's index wherever it is. A step back to the start shows the
/// first page; a step past the end (members left in between) the page asked.
fn stepped(
    conn: &mut DbConnection,
    viewer: &Viewer,
    query: &MemberQuery,
    step: &Step,
    total: i64,
    search: Option<&(String, String)>,
    per_page: u32,
) -> Result<MemberPage, Error> {
    let (cursor, backwards) = match step {
        Step::After(cursor) => (cursor, false),
        Step::Before(cursor) => (cursor, true),
    };
    let direction = if backwards {
        query.direction.reversed()
    } else {
        query.direction
    };
    if cursor.sort != query.sort || cursor.direction != direction {
        return Err(Error::Invalid(
            "This link was made for another order of the list. Start again from the first page.".to_owned(),
        ));
    }
    let selection = past(filtered(&viewer.org.id, query, search), cursor)?;
    let rows: Vec<MemberRow> = Shaped {
        shape: shape("members::step", query, direction, search.is_some()),
        query: ordered(selection, query.sort, direction, search.is_some())
            .select(MemberRow::as_select())
            .limit(i64::from(per_page) + 1),
    }
    .load(conn)?;
    let more = rows.len() > per_page as usize;
    let unstepped = |page: u32| MemberQuery {
        step: None,
        page,
        ..query.clone()
    };
    if backwards && !more {
        return list(conn, viewer, &unstepped(1));
    }
    if rows.is_empty() {
        return list(conn, viewer, &unstepped(query.page));
    }
    let mut members: Vec<Member> = rows
        .into_iter()
        .take(per_page as usize)
        .map(MemberRow::into_member)
        .collect::<Result<_, _>>()?;
    if backwards {
        members.reverse();
    }
    let page_count = super::page_count(total, per_page);
    let page = query.page.clamp(if backwards { 1 } else { 2 }, page_count.max(2));
    let forwards_more = !backwards && more;
    Ok(MemberPage {
        next: members
            .last()
            .filter(|_| backwards || forwards_more)
            .map(|last| Step::After(MemberCursor::past(last, query.sort, query.direction))),
        previous: members
            .first()
            .map(|first| Step::Before(MemberCursor::past(first, query.sort, query.direction.reversed()))),
        members,
        total,
        page,
        per_page,
    })
}

/// Where a keyset page of members starts: just past the member it names, in
/// the order it was made for. Clients get it from one page (`next_cursor`) and
/// send it back for the next; they see it as opaque text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberCursor {
    sort: SortKey,
    direction: Direction,
    /// The sort key of the last member shown (the name key, the email, or
    /// the joining time written as [`CURSOR_TIME`]).
    key: String,
    user_id: String,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

impl MemberCursor {
    fn past(member: &Member, sort: SortKey, direction: Direction) -> Self {
        let key = match sort {
            SortKey::Name => users::name_key(&member.name),
            SortKey::Email => member.email.clone(),
            SortKey::Joined => member.joined_at.format(CURSOR_TIME).to_string(),
        };
        Self {
            sort,
            direction,
            key,
            user_id: member.user_id.clone(),
        }
    }

    /// The text a client sends back.
    pub fn encode(&self) -> String {
        let sort = match self.sort {
            SortKey::Name => 'n',
            SortKey::Email => 'e',
            SortKey::Joined => 'j',
        };
        let direction = match self.direction {
            Direction::Ascending => 'a',
            Direction::Descending => 'd',
        };
        super::encode_cursor(&format!("{sort}{direction}{}\n{}", self.user_id, self.key))
    }

    /// A cursor this server gave out, for the order asked for now.
    pub fn parse(text: &str, sort: SortKey, direction: Direction) -> Result<Self, Error> {
        let unusable = || {
            Error::Invalid(
                "This cursor is not one this list gave out. Start again from the first page (no cursor)."
                    .to_owned(),
            )
        };
        let plain = super::decode_cursor(text, MAX_CURSOR_CHARS).ok_or_else(unusable)?;
        let mut chars = plain.chars();
        let cursor_sort = match chars.next() {
            Some('n') => SortKey::Name,
            Some('e') => SortKey::Email,
            Some('j') => SortKey::Joined,
            _ => return Err(unusable()),
        };
        let cursor_direction = match chars.next() {
            Some('a') => Direction::Ascending,
            Some('d') => Direction::Descending,
            _ => return Err(unusable()),
        };
        let (user_id, key) = chars.as_str().split_once('\n').ok_or_else(unusable)?;
        if crate::domain::text::has_control(user_id) || crate::domain::text::has_control(key) {
            return Err(unusable());
        }
        // Only times both databases keep: a forged year out of range would
        // be an error on Postgres and sort as text on SQLite.
        if cursor_sort == SortKey::Joined
            && !NaiveDateTime::parse_from_str(key, CURSOR_TIME)
                .is_ok_and(|at| (1970..=9999).contains(&chrono::Datelike::year(&at)))
        {
            return Err(unusable());
        }
        if (cursor_sort, cursor_direction) != (sort, direction) {
            return Err(Error::Invalid(
                "This cursor belongs to a list in another order. Keep the same sort and direction from page to page."
                    .to_owned(),
            ));
        }
        Ok(Self {
            sort,
            direction,
            key: key.to_owned(),
            user_id: user_id.to_owned(),
        })
    }
}

/// What a keyset page of members asks for: the filters and order of
/// [`MemberQuery`], and where to start instead of a page number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSliceQuery {
    pub search: Option<SearchText>,
    pub role: Option<Role>,
    pub sort: SortKey,
    pub direction: Direction,
    pub after: Option<MemberCursor>,
    pub limit: u32,
}

/// A keyset page of members, the number that match in all, and where the
/// next page starts (none on the last).
#[derive(Debug, Clone)]
pub struct MemberSlice {
    pub members: Vec<Member>,
    pub total: i64,
    pub next: Option<MemberCursor>,
}

/// Narrows `selection` to the members after `cursor` in its order: the key
/// range first, so that both backends walk the sort key's index from there.
macro_rules! past_cursor {
    ($selection:expr, $column:expr, $key:expr, $cursor:expr) => {
        match $cursor.direction {
            Direction::Ascending => $selection.filter(
                $column
                    .ge($key)
                    .and($column.gt($key).or(memberships::user_id.gt(&$cursor.user_id))),
            ),
            Direction::Descending => $selection.filter(
                $column
                    .le($key)
                    .and($column.lt($key).or(memberships::user_id.lt(&$cursor.user_id))),
            ),
        }
    };
}

/// Narrows `selection` to the members past `cursor`, in the cursor's order.
fn past<'a>(
    selection: MembershipFilter<'a>,
    cursor: &'a MemberCursor,
) -> Result<MembershipFilter<'a>, Error> {
    Ok(match cursor.sort {
        SortKey::Name => past_cursor!(selection, memberships::name_key, &cursor.key, cursor),
        SortKey::Email => past_cursor!(selection, memberships::email, &cursor.key, cursor),
        SortKey::Joined => {
            let joined = NaiveDateTime::parse_from_str(&cursor.key, CURSOR_TIME)
                .map_err(|_| Error::Invalid("This cursor is not one this list gave out.".to_owned()))?;
            past_cursor!(selection, memberships::joined_at, joined, cursor)
        }
    })
}

/// A page of an organization's members that starts where the last one ended:
/// as quick deep in the list as at its start, and steady while the list
/// changes (no member skipped or shown twice between two pages).
pub fn slice(
    conn: &mut DbConnection,
    viewer: &Viewer,
    query: &MemberSliceQuery,
) -> Result<MemberSlice, Error> {
    let org = &viewer.org;
    let limit = query.limit.clamp(1, MAX_PER_PAGE);
    let search = query.search.as_ref().map(|s| {
        let from = s.as_str().to_lowercase();
        let to = format!("{from}\u{10FFFF}");
        (from, to)
    });
    let paged = MemberQuery {
        search: query.search.clone(),
        role: query.role,
        sort: query.sort,
        direction: query.direction,
        page: 1,
        per_page: limit,
        step: None,
    };
    let total = match &search {
        None => counted(conn, viewer, query.role)?,
        Some(range) => Shaped {
            shape: shape("members::count", &paged, query.direction, true),
            query: filtered(&org.id, &paged, Some(range)).count(),
        }
        .get_result(conn)?,
    };
    let mut selection = filtered(&org.id, &paged, search.as_ref());
    if let Some(cursor) = &query.after {
        selection = past(selection, cursor)?;
    }
    let mut choices = shape("members::slice", &paged, query.direction, search.is_some());
    choices.choices |= u64::from(query.after.is_some()) << 8;
    let rows: Vec<MemberRow> = Shaped {
        shape: choices,
        query: ordered(selection, query.sort, query.direction, search.is_some())
            .select(MemberRow::as_select())
            .limit(i64::from(limit) + 1),
    }
    .load(conn)?;
    let mut members = rows
        .into_iter()
        .map(MemberRow::into_member)
        .collect::<Result<Vec<_>, _>>()?;
    let next = if members.len() > limit as usize {
        members.truncate(limit as usize);
        members
            .last()
            .map(|last| MemberCursor::past(last, query.sort, query.direction))
    } else {
        None
    };
    Ok(MemberSlice { members, total, next })
}

/// How a member is named on the command line: by id or by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    Id(String),
    Email(EmailAddress),
}

impl MemberRef {
    /// Anything with an `@` is an email; anything else an id.
    pub fn parse(input: &str) -> Result<Self, Error> {
        if input.contains('@') {
            EmailAddress::parse(input)
                .map(Self::Email)
                .map_err(|error| Error::Invalid(error.to_string()))
        } else if input.trim().is_empty() {
            Err(Error::Invalid("Name a member by id or email.".to_owned()))
        } else if input.trim().len() > 64 {
            Err(Error::Invalid(
                "That is neither a member’s id nor an email address.".to_owned(),
            ))
        } else {
            Ok(Self::Id(input.trim().to_owned()))
        }
    }
}

/// The member of `org` named by `member`, if there is one.
pub fn find(conn: &mut DbConnection, org: &Organization, member: &MemberRef) -> Result<Member, Error> {
    let selection = memberships::table
        .filter(memberships::org_id.eq(&org.id))
        .into_boxed();
    let selection = match member {
        MemberRef::Id(id) => selection.filter(memberships::user_id.eq(id)),
        MemberRef::Email(email) => selection.filter(memberships::email.eq(email.as_str())),
    };
    let row: MemberRow = selection
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            let who = match member {
                MemberRef::Id(id) => format!("No user with id {id}"),
                MemberRef::Email(email) => email.to_string(),
            };
            Error::NotFound(format!("{who} is not a member of {}.", org.name))
        })?;
    row.into_member()
}

fn role_of(conn: &mut DbConnection, org: &Organization, user_id: &str) -> Result<Role, Error> {
    let role: String = memberships::table
        .find((&org.id, user_id))
        .select(memberships::role)
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("The member was not found.".into()))?;
    parse_stored_role(&role)
}

/// Refuses a change that would leave `org` with no owner. Call it after
/// [`db::lock_organization`] in the same transaction.
fn ensure_another_owner(conn: &mut DbConnection, org: &Organization, user_id: &str) -> Result<(), Error> {
    let other_owners: i64 = memberships::table
        .filter(memberships::org_id.eq(&org.id))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .filter(memberships::user_id.ne(user_id))
        .count()
        .get_result(conn)?;
    if other_owners == 0 {
        Err(Error::LastOwner {
            org: org.name.clone(),
        })
    } else {
        Ok(())
    }
}

/// Adds a user to an organization. The one way in: invitations and organization
/// creation both come through here. Runs in the caller's transaction, whose
/// own event (the invitation accepted, the organization created) records it.
pub(crate) fn add(
    conn: &mut DbConnection,
    org: &Organization,
    user_id: &str,
    role: Role,
    invited_by: Option<&str>,
    ends: Option<MembershipEnd>,
) -> Result<Member, Error> {
    db::lock_organization(conn, &org.id)?;
    let user: User = users::find(conn, user_id)?.ok_or(Error::NotFound("The user was not found.".into()))?;
    let joined_at = now();
    diesel::insert_into(memberships::table)
        .values((
            memberships::org_id.eq(&org.id),
            memberships::user_id.eq(user_id),
            memberships::role.eq(role.as_str()),
            memberships::joined_at.eq(joined_at),
            memberships::invited_by.eq(invited_by),
            memberships::name.eq(&user.name),
            memberships::name_key.eq(users::name_key(&user.name)),
            memberships::email.eq(&user.email),
            memberships::avatar_url.eq(&user.avatar_url),
            memberships::expires_at.eq(ends.map(MembershipEnd::at)),
        ))
        .execute(conn)
        .map_err(|error| {
            if db::is_unique_violation(&error) {
                Error::Conflict(format!("{} is already a member of {}.", user.email, org.name))
            } else {
                error.into()
            }
        })?;
    Ok(Member {
        user_id: user.id,
        name: user.name,
        email: user.email,
        avatar_url: user.avatar_url,
        role,
        joined_at,
        ends,
    })
}

/// Changes a member's role, as the policy allows and the last-owner rule permits.
pub fn change_role(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    member: &MemberRef,
    to: Role,
) -> Result<Member, Error> {
    update(
        conn,
        actor,
        org,
        member,
        &MemberChange {
            role: Some(to),
            ends: None,
        },
    )
}

/// What the change-role dialog (or `rollcall user update`) asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberChange {
    pub role: Option<Role>,
    /// A new end of the membership (`Some(None)` clears it); None leaves it.
    pub ends: Option<Option<MembershipEnd>>,
}

/// Changes a member's role and when their membership ends, in one
/// transaction, as the policy allows and the last-owner rule permits; each
/// change is its own audit event.
pub fn update(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    member: &MemberRef,
    change: &MemberChange,
) -> Result<Member, Error> {
    // Only a change that makes or unmakes an owner can break the last-owner
    // rule, so only such a change queues behind the organization's others.
    // Any other writes the member's row only if the role is still the one it
    // read (a member made an owner meanwhile is never demoted unchecked);
    // when it is not, or the database undid it, it is done again, under the
    // lock, from what is there now.
    updated(conn, actor, org, member, change).map(|updated| updated.member)
}

/// A member as changed, and the role of whoever changed them (what the row
/// they see offers depends on it).
#[derive(Debug, Clone)]
pub struct Updated {
    pub member: Member,
    pub actor_role: Role,
}

/// [`update`], answering with the actor's role too.
pub fn updated(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    member: &MemberRef,
    change: &MemberChange,
) -> Result<Updated, Error> {
    match db::write(conn, |conn| update_in(conn, actor, org, member, change, false)) {
        Err(Error::Conflict(_)) => db::write(conn, |conn| update_in(conn, actor, org, member, change, true)),
        done => done,
    }
}

/// [`update`] in the caller's transaction; `locked` takes the
/// organization's lock whatever the change.
fn update_in(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    member: &MemberRef,
    change: &MemberChange,
    locked: bool,
) -> Result<Updated, Error> {
    let mut target = find(conn, org, member)?;
    let touches_owner = target.role == Role::Owner || change.role == Some(Role::Owner);
    if touches_owner || locked {
        db::lock_organization(conn, &org.id)?;
        target = find(conn, org, member)?;
    }
    let acting = acting(conn, actor, org)?;
    let own = acting.who.user_id.as_deref() == Some(target.user_id.as_str());
    let to = change.role.unwrap_or(target.role);
    if change.role.is_some() {
        policy::authorize(
            acting.role,
            Action::ChangeRole {
                from: target.role,
                to,
                own,
            },
        )?;
    }
    let new_end = change.ends.filter(|ends| *ends != target.ends);
    if new_end.is_some() {
        // Whoever may touch the member's role before or after the change.
        for role in [target.role, to] {
            policy::authorize(acting.role, Action::SetMembershipEnd { role, own })?;
        }
    }
    if target.role == Role::Owner && to != Role::Owner {
        ensure_another_owner(conn, org, &target.user_id)?;
    }
    let person = AuditTarget::person(
        TargetKind::Member,
        Some(&target.user_id),
        &target.name,
        &target.email,
    );
    let day = |ends: Option<MembershipEnd>| ends.map(|end| end.last_day().to_string());
    // The events first and the membership's row last: the rows every
    // change of the organization writes (its counts and list version,
    // by trigger) are held from that update until the commit.
    if let Some(ends) = new_end {
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::MembershipEndChanged,
                target: person,
                before: Some(json!({ "ends_after": day(target.ends) })),
                after: Some(json!({ "ends_after": day(ends) })),
            },
        )?;
    }
    if target.role != to {
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::RoleChanged,
                target: AuditTarget::person(
                    TargetKind::Member,
                    Some(&target.user_id),
                    &target.name,
                    &target.email,
                ),
                before: Some(json!({ "role": target.role.as_str() })),
                after: Some(json!({ "role": to.as_str() })),
            },
        )?;
    }
    let still = memberships::table
        .find((&org.id, &target.user_id))
        .filter(memberships::role.eq(target.role.as_str()));
    let written = match (new_end, target.role != to) {
        (None, false) => 1,
        (Some(ends), false) => diesel::update(still)
            .set((
                memberships::expires_at.eq(ends.map(MembershipEnd::at)),
                memberships::expiry_reminded_at.eq(None::<NaiveDateTime>),
                memberships::expiry_held_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
        (None, true) => RoleUpdate {
            org_id: &org.id,
            user_id: &target.user_id,
            from: target.role.as_str(),
            to: to.as_str(),
        }
        .execute(conn)?,
        (Some(ends), true) => diesel::update(still)
            .set((
                memberships::role.eq(to.as_str()),
                memberships::expires_at.eq(ends.map(MembershipEnd::at)),
                memberships::expiry_reminded_at.eq(None::<NaiveDateTime>),
                memberships::expiry_held_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
    };
    if (target.role == Role::Owner) != (to == Role::Owner) {
        void_transfers(conn, org, &target.user_id)?;
    }
    if written == 0 {
        return Err(Error::Conflict(format!(
            "{}’s role changed a moment ago, so nothing was changed; reload to see it and try again.",
            target.name
        )));
    }
    Ok(Updated {
        member: Member {
            role: to,
            ends: new_end.unwrap_or(target.ends),
            ..target
        },
        actor_role: acting.role,
    })
}

/// `UPDATE memberships SET role = to WHERE … AND role = from`, written out:
/// diesel prepares no UPDATE a second time (the columns a changeset names can
/// vary), and preparing this one compiled its triggers again on every change
/// (BENCHMARKS.md). One text, so each connection prepares it once.
#[derive(Debug, Clone, Copy)]
struct RoleUpdate<'a> {
    org_id: &'a str,
    user_id: &'a str,
    from: &'a str,
    to: &'a str,
}

impl QueryFragment<db::MultiBackend> for RoleUpdate<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, db::MultiBackend>) -> QueryResult<()> {
        out.push_sql("UPDATE memberships SET role = ");
        out.push_bind_param::<Text, str>(self.to)?;
        out.push_sql(" WHERE org_id = ");
        out.push_bind_param::<Text, str>(self.org_id)?;
        out.push_sql(" AND user_id = ");
        out.push_bind_param::<Text, str>(self.user_id)?;
        out.push_sql(" AND role = ");
        out.push_bind_param::<Text, str>(self.from)?;
        Ok(())
    }
}

impl QueryId for RoleUpdate<'_> {
    type QueryId = RoleUpdate<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for RoleUpdate<'_> {}

/// Cancels a waiting transfer of ownership that `user_id` asked for or was
/// named in, once their membership or ownership changes: confirmed later, it
/// would act on a situation that no longer holds (an owner demoted and
/// promoted again, a member removed and invited back).
pub(crate) fn void_transfers(
    conn: &mut DbConnection,
    org: &Organization,
    user_id: &str,
) -> Result<(), Error> {
    use crate::db::schema::ownership_transfers as transfers;
    diesel::delete(
        transfers::table.filter(transfers::org_id.eq(&org.id)).filter(
            transfers::from_user_id
                .eq(user_id)
                .or(transfers::to_user_id.eq(user_id)),
        ),
    )
    .execute(conn)?;
    Ok(())
}

/// Makes a member an owner, in the caller's transaction (a transfer of
/// ownership; its caller records the event). An owner's membership does not
/// end by itself: its end date goes.
pub(crate) fn promote_to_owner(
    conn: &mut DbConnection,
    org: &Organization,
    user_id: &str,
) -> Result<(), Error> {
    let changed = diesel::update(memberships::table.find((&org.id, user_id)))
        .set((
            memberships::role.eq(Role::Owner.as_str()),
            memberships::expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(Error::NotFound("The member was not found.".into()))
    }
}

/// Completes a transfer of ownership in the caller's transaction, after
/// [`db::lock_organization`]: `new_owner` becomes an owner, then `former`
/// takes `then_role` or (None) leaves, with their tokens. Returns how many
/// tokens were revoked.
pub(crate) fn hand_over(
    conn: &mut DbConnection,
    org: &Organization,
    new_owner: &str,
    former: &Member,
    then_role: Option<Role>,
) -> Result<usize, Error> {
    promote_to_owner(conn, org, new_owner)?;
    match then_role {
        Some(Role::Owner) => Ok(0),
        Some(role) => {
            ensure_another_owner(conn, org, &former.user_id)?;
            diesel::update(memberships::table.find((&org.id, &former.user_id)))
                .set(memberships::role.eq(role.as_str()))
                .execute(conn)?;
            Ok(0)
        }
        None => {
            ensure_another_owner(conn, org, &former.user_id)?;
            delete(conn, org, former)?;
            super::tokens::revoke_all_of_member(conn, org, &former.user_id)
        }
    }
}

/// Removes another member, as the policy allows and the last-owner rule permits.
pub fn remove(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    member: &MemberRef,
) -> Result<Member, Error> {
    db::write(conn, |conn| {
        db::lock_organization(conn, &org.id)?;
        let acting = acting(conn, actor, org)?;
        let target = find(conn, org, member)?;
        let own = acting.who.user_id.as_deref() == Some(target.user_id.as_str());
        policy::authorize(
            acting.role,
            Action::Remove {
                role: target.role,
                own,
            },
        )?;
        take_out(conn, org, &acting, &target, AuditAction::MemberRemoved)?;
        Ok(target)
    })
}

/// The actor leaves the organization, unless they are its last owner.
pub fn leave(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<(), Error> {
    db::write(conn, |conn| {
        db::lock_organization(conn, &org.id)?;
        let acting = acting(conn, actor, org)?;
        let Some(user_id) = acting.who.user_id.clone() else {
            return Err(Error::Invalid(
                "Only a member who signed in can leave; the command line and service accounts are not members.".to_owned(),
            ));
        };
        let me = find(conn, org, &MemberRef::Id(user_id))?;
        take_out(conn, org, &acting, &me, AuditAction::MemberLeft)
    })
}

/// Deletes a membership unless it is the organization's last owner's, and
/// records why it went. Runs after [`db::lock_organization`].
fn take_out(
    conn: &mut DbConnection,
    org: &Organization,
    acting: &super::Acting,
    member: &Member,
    action: AuditAction,
) -> Result<(), Error> {
    take_out_by(conn, org, &acting.who, member, action)
}

fn take_out_by(
    conn: &mut DbConnection,
    org: &Organization,
    who: &super::Identified,
    member: &Member,
    action: AuditAction,
) -> Result<(), Error> {
    if member.role == Role::Owner {
        ensure_another_owner(conn, org, &member.user_id)?;
    }
    delete(conn, org, member)?;
    void_transfers(conn, org, &member.user_id)?;
    // Their tokens go with them, in the same transaction.
    let tokens_revoked = super::tokens::revoke_all_of_member(conn, org, &member.user_id)?;
    let mut before = json!({ "role": member.role.as_str() });
    if let Some(ends) = member.ends {
        before["ends_after"] = json!(ends.last_day().to_string());
    }
    audit::record(
        conn,
        AuditEvent {
            org_id: Some(&org.id),
            actor: who.into(),
            action,
            target: AuditTarget::person(
                TargetKind::Member,
                Some(&member.user_id),
                &member.name,
                &member.email,
            ),
            before: Some(before),
            after: Some(json!({ "tokens_revoked": tokens_revoked })),
        },
    )
}

fn delete(conn: &mut DbConnection, org: &Organization, member: &Member) -> Result<(), Error> {
    let deleted = diesel::delete(memberships::table.find((&org.id, &member.user_id))).execute(conn)?;
    if deleted == 1 {
        Ok(())
    } else {
        Err(Error::NotFound("The member was not found.".into()))
    }
}

/// The actor's role in the organization (what the console shows and offers).
pub fn role_of_actor(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Role, Error> {
    role_in(conn, actor, org)
}

/// Whether `user_id` is a member with the given role; for tests and checks.
pub fn role(conn: &mut DbConnection, org: &Organization, user_id: &str) -> Result<Option<Role>, Error> {
    match role_of(conn, org, user_id) {
        Ok(role) => Ok(Some(role)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Every member, by name: for exports and the command line.
pub fn all(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Vec<Member>, Error> {
    role_in(conn, actor, org)?;
    let rows: Vec<MemberRow> = memberships::table
        .filter(memberships::org_id.eq(&org.id))
        .order((memberships::name_key, memberships::user_id))
        .select(MemberRow::as_select())
        .load(conn)?;
    rows.into_iter().map(MemberRow::into_member).collect()
}

/// Whether the actor could leave now: the check the Leave dialog shows before
/// anyone presses the button. [`leave`] checks again under the lock.
pub fn check_leave(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<(), Error> {
    let acting = acting(conn, actor, org)?;
    match acting.who.user_id {
        Some(user_id) if acting.role == Role::Owner => ensure_another_owner(conn, org, &user_id),
        _ => Ok(()),
    }
}

/// How long before a membership ends its member and the owners are reminded.
pub const END_REMINDER_DAYS: i64 = 7;

/// The most memberships one round of the worker reminds or ends.
const END_BATCH: i64 = 200;

/// Sends the reminders of memberships that end within a week, once each (a
/// conditional update claims it, so two servers never both send one).
/// Returns how many were sent.
pub fn remind_ending(conn: &mut DbConnection, settings: &super::Settings) -> Result<usize, Error> {
    use crate::db::schema::organizations;
    let at = now();
    let due: Vec<(String, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::expires_at.gt(at))
        .filter(memberships::expires_at.le(at + chrono::Duration::days(END_REMINDER_DAYS)))
        .filter(memberships::expiry_reminded_at.is_null())
        .filter(organizations::deleted_at.is_null())
        .select((memberships::org_id, memberships::user_id))
        .limit(END_BATCH)
        .load(conn)?;
    let mut sent = 0;
    for (org_id, user_id) in due {
        sent += usize::from(db::write(conn, |conn| {
            let claimed = diesel::update(
                memberships::table
                    .find((&org_id, &user_id))
                    .filter(memberships::expiry_reminded_at.is_null()),
            )
            .set(memberships::expiry_reminded_at.eq(now()))
            .execute(conn)?;
            if claimed == 0 {
                return Ok(false);
            }
            let org = super::organizations::find_any(conn, &org_id)?;
            let member = find(conn, &org, &MemberRef::Id(user_id.clone()))?;
            let Some(ends) = member.ends else {
                return Ok(false);
            };
            let day = crate::mail::format_day(ends.last_day());
            let link = Some((
                "Open the organization",
                format!("{}/orgs/{}/members", settings.public_url, org.slug),
            ));
            let person = super::organization_settings::Person {
                user_id: member.user_id.clone(),
                name: member.name.clone(),
                email: member.email.clone(),
            };
            super::organization_settings::notify(
                conn,
                std::slice::from_ref(&person),
                &format!("Your access to {} ends after {day}", org.name),
                &[format!(
                    "Your membership of {} ends after {day}. If you still need access, ask one of its owners or admins to change the date.",
                    org.name
                )],
                link.clone(),
            )?;
            let owners: Vec<_> = super::organization_settings::owners(conn, &org.id)?
                .into_iter()
                .filter(|owner| owner.user_id != member.user_id)
                .collect();
            super::organization_settings::notify(
                conn,
                &owners,
                &format!("{}’s access to {} ends after {day}", member.name, org.name),
                &[format!(
                    "The membership of {} ({}) in {} ends after {day}; Rollcall removes them then, and revokes their API tokens. To keep them, change or clear the date in the Change role dialog.",
                    member.name, member.email, org.name
                )],
                link,
            )?;
            Ok(true)
        })?);
    }
    Ok(sent)
}

/// Removes the members whose membership has ended, each in its own
/// transaction under the organization's lock (recorded as "member.expired",
/// with their tokens revoked), except an organization's last owner: the
/// owners are told instead, once. Returns how many were removed.
pub fn expire_due(conn: &mut DbConnection, settings: &super::Settings) -> Result<usize, Error> {
    use crate::db::schema::organizations;
    let due: Vec<(String, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::expires_at.le(now()))
        .filter(memberships::expiry_held_at.is_null())
        .filter(organizations::deleted_at.is_null())
        .select((memberships::org_id, memberships::user_id))
        .limit(END_BATCH)
        .load(conn)?;
    let worker = super::Identified::background_worker();
    let mut removed = 0;
    for (org_id, user_id) in due {
        removed += usize::from(db::write(conn, |conn| {
            db::lock_organization(conn, &org_id)?;
            let org = super::organizations::find_any(conn, &org_id)?;
            if org.deleted_at.is_some() {
                return Ok(false);
            }
            let Ok(member) = find(conn, &org, &MemberRef::Id(user_id.clone())) else {
                return Ok(false);
            };
            // Changed or removed since it was listed.
            if member.ends.is_none_or(|ends| ends.at() > now()) {
                return Ok(false);
            }
            if member.role == Role::Owner && ensure_another_owner(conn, &org, &member.user_id).is_err() {
                hold_last_owner(conn, settings, &org, &member)?;
                return Ok(false);
            }
            take_out_by(conn, &org, &worker, &member, AuditAction::MemberExpired)?;
            Ok(true)
        })?);
    }
    Ok(removed)
}

/// The last owner's membership ended: they stay, and the owners (them) are
/// told once what to do.
fn hold_last_owner(
    conn: &mut DbConnection,
    settings: &super::Settings,
    org: &Organization,
    member: &Member,
) -> Result<(), Error> {
    diesel::update(memberships::table.find((&org.id, &member.user_id)))
        .set(memberships::expiry_held_at.eq(now()))
        .execute(conn)?;
    let owners = super::organization_settings::owners(conn, &org.id)?;
    let day = member
        .ends
        .map(|ends| crate::mail::format_day(ends.last_day()))
        .unwrap_or_default();
    super::organization_settings::notify(
        conn,
        &owners,
        &format!(
            "{} keeps its last owner, whose access was to end after {day}",
            org.name
        ),
        &[format!(
            "The membership of {} in {} was to end after {day}, but they are its last owner, and an organization always keeps one. They stay an owner. Make another member an owner, then change or clear the date.",
            member.name, org.name
        )],
        Some((
            "Open the organization",
            format!("{}/orgs/{}/members", settings.public_url, org.slug),
        )),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use diesel::connection::{Connection, InstrumentationEvent};

    use super::*;
    use crate::db::schema::audit_events;
    use crate::domain::OrganizationName;
    use crate::services::{Settings, organizations, seed};

    /// How many statements the connection prepared to keep, by their start.
    fn count_kept(conn: &mut DbConnection, starts: [&'static str; 2]) -> Arc<[AtomicUsize; 2]> {
        let kept = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let counters = kept.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                for (start, counter) in starts.iter().zip(counters.iter()) {
                    if sql.starts_with(start) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        kept
    }

    #[test]
    fn role_changes_and_their_events_are_prepared_once_and_each_takes_its_own_values() {
        let conn = &mut db::in_memory();
        let kept = count_kept(conn, ["UPDATE memberships SET role", "INSERT INTO audit_events"]);
        let actor = Actor::command_line();
        let settings = Settings {
            public_url: "http://127.0.0.1".to_owned(),
            invite_ttl: Duration::from_secs(3600),
            org_restore_days: 7,
        };
        let name = OrganizationName::parse("Acme").expect("a name");
        let owner = EmailAddress::parse("owner@example.com").expect("an address");
        let org = organizations::create_with_owner_invitation(conn, &settings, &actor, &name, &owner)
            .expect("an organization")
            .organization;
        seed::members(conn, &org, 3).expect("members");
        let people = all(conn, &actor, &org).expect("the members");
        let rounds = [Role::Admin, Role::Developer, Role::Viewer];
        for (round, to) in rounds.into_iter().enumerate() {
            for person in &people {
                let changed = change_role(conn, &actor, &org, &MemberRef::Id(person.user_id.clone()), to)
                    .expect("a role change");
                assert_eq!(changed.role, to, "round {round}");
            }
        }
        let now: Vec<Role> = all(conn, &actor, &org)
            .expect("the members")
            .iter()
            .map(|member| member.role)
            .collect();
        assert_eq!(now, vec![Role::Viewer; people.len()]);
        let recorded: Vec<(Option<String>, Option<String>)> = audit_events::table
            .filter(audit_events::action.eq(AuditAction::RoleChanged.as_str()))
            .select((audit_events::target_id, audit_events::after_state))
            .load(conn)
            .expect("the events");
        // One event a change, with its own member and role; none for a
        // member who already had the role.
        for person in &people {
            let afters: Vec<&str> = recorded
                .iter()
                .filter(|(target, _)| target.as_deref() == Some(person.user_id.as_str()))
                .filter_map(|(_, after)| after.as_deref())
                .collect();
            let mut was = person.role;
            let changes: Vec<String> = rounds
                .iter()
                .filter(|to| std::mem::replace(&mut was, **to) != **to)
                .map(|to| format!(r#"{{"role":"{}"}}"#, to.as_str()))
                .collect();
            assert_eq!(afters, changes, "{}", person.name);
        }
        assert_eq!(
            kept[0].load(Ordering::Relaxed),
            1,
            "the role update, prepared once"
        );
        assert_eq!(
            kept[1].load(Ordering::Relaxed),
            1,
            "the audit event, prepared once"
        );
    }
}
