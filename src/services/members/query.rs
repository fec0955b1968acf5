//! What a list of members asks for (search, role, order) and where a keyset
//! page starts: the ground floor that `list` and `slice` share.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::literal::Unindexed;
use crate::db::schema::{member_list_versions, memberships};
use crate::db::written::{Shape, Written};
use crate::domain::SearchText;
use crate::domain::{MembershipEnd, Role};
use crate::error::Error;
use crate::services::access::Viewer;
use crate::services::shared::MemberCounts;
use crate::services::shared::parse_stored_role;
use crate::services::users::{self};

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
pub(super) struct MemberRow {
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
    pub(super) fn into_member(self) -> Result<Member, Error> {
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
        crate::services::shared::page_count(self.total, self.per_page)
    }
}

/// The largest page the list serves, whatever is asked.
pub const MAX_PER_PAGE: u32 = 200;

/// The longest cursor a member list takes, in characters.
pub const MAX_CURSOR_CHARS: usize = 1024;

type MembershipFilter<'a> = diesel::dsl::IntoBoxed<'a, memberships::table, crate::db::MultiBackend>;

pub(super) fn filtered<'a>(
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
pub(super) fn ordered<'a>(
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
pub(super) fn shape(
    statement: &'static str,
    query: &MemberQuery,
    direction: Direction,
    searching: bool,
) -> Shape {
    let choices = (query.sort as u64) << 3
        | u64::from(query.role.is_some()) << 2
        | u64::from(searching) << 1
        | u64::from(direction == Direction::Descending);
    Shape { statement, choices }
}

/// How many members the organization has, in one role or in all: read from
/// the counts the database keeps, not counted.
pub(super) fn counted(conn: &mut DbConnection, viewer: &Viewer, role: Option<Role>) -> Result<i64, Error> {
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
                    member_list_versions::others,
                ))
                .limit(1),
        )
        .get_result::<(i64, i64, i64, i64, i64, i64)>(conn)
        .optional()?
        .map(MemberCounts::from)
        .unwrap_or_default(),
    };
    if let Some(counted) = counts.of(role) {
        return Ok(counted);
    }
    // A role of the operator's policy, which the kept counts do not name.
    Ok(memberships::table
        .filter(memberships::org_id.eq(&viewer.org.id))
        .filter(memberships::role.eq(role.map_or("", Role::as_str)))
        .count()
        .get_result(conn)?)
}

/// Where a keyset page of members starts: just past the member it names, in
/// the order it was made for. Clients get it from one page (`next_cursor`) and
/// send it back for the next; they see it as opaque text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MemberCursor {
    pub(super) sort: SortKey,
    pub(super) direction: Direction,
    /// The sort key of the last member shown (the name key, the email, or
    /// the joining time written as [`CURSOR_TIME`]).
    pub(super) key: String,
    pub(super) user_id: String,
}

pub(super) const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

impl MemberCursor {
    pub(super) fn past(member: &Member, sort: SortKey, direction: Direction) -> Self {
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
        crate::services::shared::encode_cursor(&format!("{sort}{direction}{}\n{}", self.user_id, self.key))
    }

    /// A cursor this server gave out, for the order asked for now.
    pub fn parse(text: &str, sort: SortKey, direction: Direction) -> Result<Self, Error> {
        let unusable = || {
            Error::Invalid(
                "This cursor is not one this list gave out. Start again from the first page (no cursor)."
                    .to_owned(),
            )
        };
        let plain = crate::services::shared::decode_cursor(text, MAX_CURSOR_CHARS).ok_or_else(unusable)?;
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
pub(super) fn past<'a>(
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
