//! Member tables as rendered, kept while the organization's member list is
//! unchanged.
//!
//! A rendered table depends on the organization's memberships, on the query
//! (search, role, sort, page) and on who is looking (their own row, and which
//! actions their role offers). The database raises a version for every change
//! to an organization's memberships in the transaction that makes it, and the
//! page reads that version with the viewer's role (`ListStamps`), so a table
//! kept at the version just read is exactly the table the page would render.
//! Each server keeps its own tables and asks the database every time, so
//! several servers behind a load balancer never show an old list.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use crate::domain::Role;
use crate::error::Error;
use crate::services::Viewer;
use crate::services::members::MemberQuery;

/// What a rendered table depends on, besides the version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TableKey {
    org_id: String,
    viewer_id: String,
    viewer_role: Role,
    query: MemberQuery,
}

struct Kept {
    version: i64,
    html: Arc<str>,
}

#[derive(Default)]
struct Tables {
    kept: HashMap<TableKey, Kept>,
    /// Keys in the order they were first kept: the oldest go first.
    order: VecDeque<TableKey>,
    bytes: usize,
}

/// Rendered member tables, up to a number of bytes of HTML.
pub struct MemberTables {
    tables: Mutex<Tables>,
    capacity: usize,
}

impl MemberTables {
    /// Keeps up to `capacity` bytes of tables; 0 keeps none.
    pub fn new(capacity: usize) -> Self {
        Self {
            tables: Mutex::new(Tables::default()),
            capacity,
        }
    }

    /// The table `viewer_id` sees for `query`: the one kept at the version
    /// read with `viewer`, or else the one `render` writes, kept for next
    /// time. A viewer read without the version is always rendered afresh.
    pub fn get_or_render(
        &self,
        viewer: &Viewer,
        viewer_id: &str,
        query: &MemberQuery,
        render: impl FnOnce() -> Result<String, Error>,
    ) -> Result<Arc<str>, Error> {
        let Some(stamps) = viewer.stamps.filter(|_| self.capacity > 0) else {
            return render().map(Arc::from);
        };
        let key = TableKey {
            org_id: viewer.org.id.clone(),
            viewer_id: viewer_id.to_owned(),
            viewer_role: viewer.role,
            query: query.clone(),
        };
        let version = stamps.members_version;
        if let Some(kept) = self.lock().kept.get(&key).filter(|kept| kept.version == version) {
            return Ok(Arc::clone(&kept.html));
        }
        let html: Arc<str> = Arc::from(render()?);
        self.keep(key, version, Arc::clone(&html));
        Ok(html)
    }

    fn keep(&self, key: TableKey, version: i64, html: Arc<str>) {
        if html.len() > self.capacity {
            return;
        }
        let mut tables = self.lock();
        let tables = &mut *tables;
        let size = html.len();
        match tables.kept.get_mut(&key) {
            // A newer table for the same view replaces the old one in place.
            Some(kept) if kept.version <= version => {
                tables.bytes = tables.bytes - kept.html.len() + size;
                *kept = Kept { version, html };
            }
            Some(_) => return,
            None => {
                tables.bytes += size;
                tables.order.push_back(key.clone());
                tables.kept.insert(key, Kept { version, html });
            }
        }
        while tables.bytes > self.capacity {
            let Some(oldest) = tables.order.pop_front() else {
                break;
            };
            if let Some(gone) = tables.kept.remove(&oldest) {
                tables.bytes -= gone.html.len();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // Every change to the tables leaves them whole, so a panic elsewhere
        // while one was held does not spoil them.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::{ListStamps, Organization};

    fn viewer(version: Option<i64>) -> Viewer {
        Viewer {
            org: Organization {
                id: "org".into(),
                name: "Acme".into(),
                slug: "acme".into(),
                created_at: chrono::NaiveDateTime::default(),
            },
            role: Role::Admin,
            stamps: version.map(|members_version| ListStamps {
                members_version,
                pending_invitations: 0,
            }),
        }
    }

    fn table(tables: &MemberTables, viewer: &Viewer, query: &MemberQuery, html: &str) -> String {
        tables
            .get_or_render(viewer, "ada", query, || Ok(html.to_owned()))
            .expect("rendered")
            .to_string()
    }

    #[test]
    fn a_table_is_kept_until_the_version_changes() {
        let tables = MemberTables::new(1 << 20);
        let query = MemberQuery::default();
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "first"), "first");
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "second"), "first");
        assert_eq!(table(&tables, &viewer(Some(2)), &query, "third"), "third");
        assert_eq!(table(&tables, &viewer(Some(2)), &query, "fourth"), "third");
    }

    #[test]
    fn each_view_has_its_own_table() {
        let tables = MemberTables::new(1 << 20);
        let query = MemberQuery::default();
        let searched = MemberQuery {
            search: Some("grace".into()),
            ..MemberQuery::default()
        };
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "all"), "all");
        assert_eq!(table(&tables, &viewer(Some(1)), &searched, "grace"), "grace");
        let other = tables
            .get_or_render(&viewer(Some(1)), "grace", &query, || Ok("grace's".to_owned()))
            .expect("rendered");
        assert_eq!(&*other, "grace's");
        let mut owner = viewer(Some(1));
        owner.role = Role::Owner;
        assert_eq!(table(&tables, &owner, &query, "owner's"), "owner's");
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "again"), "all");
    }

    #[test]
    fn without_a_version_or_room_nothing_is_kept() {
        let unversioned = MemberTables::new(1 << 20);
        let query = MemberQuery::default();
        assert_eq!(table(&unversioned, &viewer(None), &query, "first"), "first");
        assert_eq!(table(&unversioned, &viewer(None), &query, "second"), "second");
        let off = MemberTables::new(0);
        assert_eq!(table(&off, &viewer(Some(1)), &query, "first"), "first");
        assert_eq!(table(&off, &viewer(Some(1)), &query, "second"), "second");
    }

    #[test]
    fn the_oldest_tables_go_first_when_full() {
        let tables = MemberTables::new(10);
        let page = |page| MemberQuery {
            page,
            ..MemberQuery::default()
        };
        assert_eq!(table(&tables, &viewer(Some(1)), &page(1), "aaaaa"), "aaaaa");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(2), "bbbbb"), "bbbbb");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(3), "ccccc"), "ccccc");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(1), "fresh"), "fresh");
        assert_eq!(table(&tables, &viewer(Some(1)), &page(3), "other"), "ccccc");
        assert!(tables.lock().bytes <= 10);
    }

    #[test]
    fn a_failed_render_keeps_nothing() {
        let tables = MemberTables::new(1 << 20);
        let query = MemberQuery::default();
        let failed = tables.get_or_render(&viewer(Some(1)), "ada", &query, || {
            Err(Error::Invalid("no".into()))
        });
        assert!(failed.is_err());
        assert_eq!(table(&tables, &viewer(Some(1)), &query, "rendered"), "rendered");
    }
}
