//! The member list with numbered pages, as the Members page shows it.

use chrono::NaiveDateTime;
use diesel::dsl::count;
use diesel::prelude::*;

use super::query::{
    CURSOR_TIME, Direction, MAX_PER_PAGE, Member, MemberCursor, MemberPage, MemberQuery, MemberRow, SortKey,
    Step, counted, filtered, ordered, past, shape,
};
use crate::db::DbConnection;
use crate::db::schema::memberships;
use crate::db::written::Shaped;
use crate::error::Error;
use crate::services::access::Viewer;

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
    let page_count = crate::services::shared::page_count(total, per_page);
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
