//! Text constants written into the SQL rather than bound as parameters.
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
