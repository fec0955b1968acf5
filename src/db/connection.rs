//! One connection type over SQLite and Postgres, chosen at run time from
//! `DATABASE_URL`.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// A connection to whichever database `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Where the database is, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A `postgres://` or `postgresql://` URL, passed to libpq as it is.
    Postgres(String),
    /// The path of an SQLite file: `sqlite://rollcall.db` is `rollcall.db`,
    /// `sqlite:///var/lib/rollcall.db` is `/var/lib/rollcall.db`.
    Sqlite(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("DATABASE_URL “{0}” is not supported: use sqlite://FILE, sqlite:///ABSOLUTE/FILE or postgres://…")]
pub struct InvalidDatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, InvalidDatabaseUrl> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        match url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Some(path) if !path.is_empty() && !path.contains('?') => Ok(Self::Sqlite(path.to_owned())),
            _ => Err(InvalidDatabaseUrl(url.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_database_urls() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://rollcall.db"),
            Ok(DatabaseUrl::Sqlite("rollcall.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///var/lib/rollcall/rollcall.db"),
            Ok(DatabaseUrl::Sqlite("/var/lib/rollcall/rollcall.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://postgres@127.0.0.1:5432/rollcall"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        for bad in ["", "mysql://x", "rollcall.db", "sqlite://"] {
            assert!(DatabaseUrl::parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}
