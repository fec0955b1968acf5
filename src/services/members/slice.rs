//! Keyset pages of members (the API's `cursor`): from one member to the next.

use diesel::prelude::*;

use super::query::{
    Direction, MAX_PER_PAGE, Member, MemberCursor, MemberQuery, MemberRow, SortKey, counted, filtered,
    ordered, past, shape,
};
use crate::db::DbConnection;
use crate::db::written::Shaped;
use crate::domain::Role;
use crate::domain::SearchText;
use crate::error::Error;
use crate::services::access::Viewer;

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
