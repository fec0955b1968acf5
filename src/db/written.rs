//! Statements whose SQL is written once per thread rather than on every run.
//!
//! The combined connection hands each query to SQLite or Postgres wrapped in
//! a type that writes the query's whole SQL every time it runs, even when the
//! prepared statement is already cached: on the Members page that was an
//! eighth of the server's work. Diesel's own statement cache trusts that one
//! query type always has the same SQL (it keys prepared statements by the
//! type); [`Written`] trusts the same thing to keep the text.

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;

use diesel::backend::Backend;
use diesel::pg::PgQueryBuilder;
use diesel::query_builder::{AstPass, Query, QueryBuilder, QueryFragment, QueryId};
use diesel::sqlite::SqliteQueryBuilder;
use diesel::{QueryResult, RunQueryDsl};

use super::MultiBackend;

type MultiQueryBuilder = <MultiBackend as Backend>::QueryBuilder;

thread_local! {
    static WRITTEN: RefCell<HashMap<(TypeId, bool), Box<str>>> = RefCell::new(HashMap::new());
}

/// A query whose SQL is kept after its first run on this thread, when its
/// type alone decides the SQL (a static query id and safe to prepare once).
/// Other queries, boxed ones among them, are written as before.
#[derive(Debug, Clone, Copy)]
pub struct Written<Q>(pub Q);

impl<Q: QueryId> QueryId for Written<Q> {
    type QueryId = Q::QueryId;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q: Query> Query for Written<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Written<Q> {}

impl<Q> QueryFragment<MultiBackend> for Written<Q>
where
    Q: QueryFragment<MultiBackend> + QueryId,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn to_sql(&self, out: &mut MultiQueryBuilder, backend: &MultiBackend) -> QueryResult<()> {
        let Some(id) = Q::query_id() else {
            return self.0.to_sql(out, backend);
        };
        let key = (id, matches!(backend, MultiBackend::Sqlite(_)));
        let known = WRITTEN.with_borrow(|written| {
            written.get(&key).map(|sql| {
                out.push_sql(sql);
            })
        });
        if known.is_some() {
            return Ok(());
        }
        let mut fresh = match backend {
            MultiBackend::Postgres(_) => MultiQueryBuilder::Postgres(PgQueryBuilder::default()),
            MultiBackend::Sqlite(_) => MultiQueryBuilder::Sqlite(SqliteQueryBuilder::default()),
        };
        self.0.to_sql(&mut fresh, backend)?;
        let sql = fresh.finish();
        out.push_sql(&sql);
        if self.0.is_safe_to_cache_prepared(backend)? {
            WRITTEN.with_borrow_mut(|written| written.insert(key, sql.into_boxed_str()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::Written;
    use crate::db::schema::settings;
    use crate::db::{DbConnection, migrate, open_sqlite};

    fn value_of(conn: &mut DbConnection, key: &str) -> Option<String> {
        Written(settings::table.find(key).select(settings::value).limit(1))
            .get_result(conn)
            .optional()
            .expect("read a setting")
    }

    #[test]
    fn a_written_statement_takes_each_runs_own_values() {
        let mut conn = open_sqlite(":memory:", "").expect("open");
        migrate(&mut conn).expect("migrate");
        for (key, value) in [("first", "one"), ("second", "two")] {
            diesel::insert_into(settings::table)
                .values((settings::key.eq(key), settings::value.eq(value)))
                .execute(&mut conn)
                .expect("insert");
        }
        for _ in 0..2 {
            assert_eq!(value_of(&mut conn, "first").as_deref(), Some("one"));
            assert_eq!(value_of(&mut conn, "second").as_deref(), Some("two"));
            assert_eq!(value_of(&mut conn, "third"), None);
        }
        let keys: Vec<String> = Written(settings::table.select(settings::key).order(settings::key.desc()))
            .load(&mut conn)
            .expect("a second statement");
        assert_eq!(keys, ["second", "first"]);
    }
}
