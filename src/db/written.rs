//! Statements whose SQL is written once per thread rather than on every run.
//!
//! The combined connection hands each query to SQLite or Postgres wrapped in
//! a type that writes the query's whole SQL every time it runs, even when the
//! prepared statement is already cached: on the Members page that was an
//! eighth of the server's work. Diesel's own statement cache trusts that one
//! query type always has the same SQL (it keys prepared statements by the
//! type); [`Written`] trusts the same thing to keep the text, and
//! [`Shaped`] takes the caller's word for a boxed query.

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;

use diesel::backend::Backend;
use diesel::pg::PgQueryBuilder;
use diesel::query_builder::{AstPass, Query, QueryBuilder, QueryFragment, QueryId};
use diesel::sqlite::SqliteQueryBuilder;
use diesel::{QueryResult, RunQueryDsl};

use super::connection::MultiBackend;

type MultiQueryBuilder = <MultiBackend as Backend>::QueryBuilder;

thread_local! {
    static WRITTEN: RefCell<HashMap<(Key, bool), Box<str>>> = RefCell::new(HashMap::new());
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Type(TypeId),
    Shape(Shape),
}

/// A query whose SQL is kept after its first run on this thread, when its
/// type alone decides the SQL (a static query id and safe to prepare once).
/// Other queries are written as before; see [`Shaped`] for boxed ones.
#[derive(Debug, Clone, Copy)]
pub struct Written<Q>(pub Q);

/// A boxed query, whose type does not decide its SQL, with the caller's word
/// for what does: [`Shape`] names the statement and every choice that changed
/// its SQL. Debug builds check the word against SQL written afresh.
#[derive(Debug, Clone, Copy)]
pub struct Shaped<Q> {
    pub shape: Shape,
    pub query: Q,
}

/// What decides a boxed statement's SQL: which statement, and the choices
/// made in building it, packed into a number by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    pub statement: &'static str,
    pub choices: u64,
}

impl<Q: QueryId> QueryId for Written<Q> {
    type QueryId = Q::QueryId;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q: QueryId> QueryId for Shaped<Q> {
    type QueryId = Q::QueryId;
    const HAS_STATIC_QUERY_ID: bool = Q::HAS_STATIC_QUERY_ID;
}

impl<Q: Query> Query for Written<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: Query> Query for Shaped<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Written<Q> {}

impl<Q, Conn> RunQueryDsl<Conn> for Shaped<Q> {}

impl<Q> QueryFragment<MultiBackend> for Written<Q>
where
    Q: QueryFragment<MultiBackend> + QueryId,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn to_sql(&self, out: &mut MultiQueryBuilder, backend: &MultiBackend) -> QueryResult<()> {
        match Q::query_id() {
            Some(id) => write_once(Key::Type(id), &self.0, out, backend),
            None => self.0.to_sql(out, backend),
        }
    }
}

impl<Q> QueryFragment<MultiBackend> for Shaped<Q>
where
    Q: QueryFragment<MultiBackend>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        self.query.walk_ast(pass)
    }

    fn to_sql(&self, out: &mut MultiQueryBuilder, backend: &MultiBackend) -> QueryResult<()> {
        if cfg!(debug_assertions) {
            let kept = WRITTEN
                .with_borrow(|written| written.get(&cache_key(Key::Shape(self.shape), backend)).cloned());
            if let Some(kept) = kept {
                let fresh = write(&self.query, backend)?;
                assert_eq!(*kept, fresh, "one shape, two statements: {:?}", self.shape);
            }
        }
        write_once(Key::Shape(self.shape), &self.query, out, backend)
    }
}

/// SQLite and Postgres write the same query differently.
fn cache_key(key: Key, backend: &MultiBackend) -> (Key, bool) {
    (key, matches!(backend, MultiBackend::Sqlite(_)))
}

fn write(query: &dyn QueryFragment<MultiBackend>, backend: &MultiBackend) -> QueryResult<String> {
    let mut fresh = match backend {
        MultiBackend::Postgres(_) => MultiQueryBuilder::Postgres(PgQueryBuilder::default()),
        MultiBackend::Sqlite(_) => MultiQueryBuilder::Sqlite(SqliteQueryBuilder::default()),
    };
    query.to_sql(&mut fresh, backend)?;
    Ok(fresh.finish())
}

/// Pushes the SQL kept under `key`, writing and keeping it on the first run.
fn write_once(
    key: Key,
    query: &dyn QueryFragment<MultiBackend>,
    out: &mut MultiQueryBuilder,
    backend: &MultiBackend,
) -> QueryResult<()> {
    let key = cache_key(key, backend);
    let kept = WRITTEN.with_borrow(|written| written.get(&key).map(|sql| out.push_sql(sql)));
    if kept.is_some() {
        return Ok(());
    }
    let sql = write(query, backend)?;
    out.push_sql(&sql);
    if query.is_safe_to_cache_prepared(backend)? {
        WRITTEN.with_borrow_mut(|written| written.insert(key, sql.into_boxed_str()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::{Shape, Shaped, Written};
    use crate::db::DbConnection;
    use crate::db::migrations::migrate;
    use crate::db::pool::{TEST_BUSY_TIMEOUT, open_sqlite};
    use crate::db::schema::settings;

    fn value_of(conn: &mut DbConnection, key: &str) -> Option<String> {
        Written(settings::table.find(key).select(settings::value).limit(1))
            .get_result(conn)
            .optional()
            .expect("read a setting")
    }

    #[test]
    fn a_written_statement_takes_each_runs_own_values() {
        let mut conn = open_sqlite(":memory:", TEST_BUSY_TIMEOUT, "").expect("open");
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

    #[test]
    #[should_panic(expected = "one shape, two statements")]
    fn one_shape_for_two_statements_is_caught_in_tests() {
        let mut conn = open_sqlite(":memory:", TEST_BUSY_TIMEOUT, "").expect("open");
        migrate(&mut conn).expect("migrate");
        let shape = Shape {
            statement: "settings",
            choices: 0,
        };
        for descending in [false, true] {
            let keys = settings::table.select(settings::key).into_boxed();
            let keys = if descending {
                keys.order(settings::key.desc())
            } else {
                keys.order(settings::key.asc())
            };
            let _: Vec<String> = Shaped { shape, query: keys }.load(&mut conn).expect("read");
        }
    }
}
