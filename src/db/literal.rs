//! SQL written into statements as constants, so that each statement is
//! planned once and stays in the connection's cache.
//!
//! SQLite decides whether a partial index (`… WHERE state = 'pending'`) may
//! serve a query by looking at the value bound to `state = ?`, and a statement
//! planned on a bound value is compiled again each time a value is bound: on
//! every execution. Written into the SQL, the condition is planned once and
//! the statement stays in the connection's cache.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Text;

macro_rules! text_literal {
    ($(#[$doc:meta])* $name:ident = $value:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
        pub struct $name;

        impl $name {
            pub const TEXT: &'static str = $value;
        }

        impl Expression for $name {
            type SqlType = Text;
        }

        impl<QS> AppearsOnTable<QS> for $name {}

        impl<QS> SelectableExpression<QS> for $name {}

        impl<DB: Backend> QueryFragment<DB> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
                out.push_sql(concat!("'", $value, "'"));
                Ok(())
            }
        }
    };
}

text_literal!(
    /// The state of an invitation waiting for an answer.
    Pending = "pending"
);

text_literal!(
    /// The state of an email waiting to be sent.
    Queued = "queued"
);

/// `(column || '')`: the column's value, ordered by which the planner cannot
/// walk the column's index. With a search the matches are few and come from
/// other indexes, and sorting just them beats walking a whole index.
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub struct Unindexed<C>(pub C);

impl<C: Expression> Expression for Unindexed<C> {
    type SqlType = C::SqlType;
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for Unindexed<C> {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for Unindexed<C> {}

impl<C: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Unindexed<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        out.push_sql("(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" || '')");
        Ok(())
    }
}
