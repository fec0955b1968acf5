//! Server settings kept in the database: the session key when none is configured.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;

use crate::db::schema::settings;
use crate::db::{self, DbConnection};
use crate::error::Error;

const SESSION_KEY: &str = "session_key";

/// The shortest key accepted: what actix-session's cookie key needs.
pub const MIN_SESSION_KEY_BYTES: usize = 64;

/// Where the session key came from, so the server can warn about a generated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Configured,
    Stored,
    Generated,
}

/// Decodes a configured key (ROLLCALL_SESSION_KEY).
pub fn parse_session_key(encoded: &str) -> Result<Vec<u8>, Error> {
    let key = STANDARD
        .decode(encoded.trim())
        .map_err(|_| Error::Invalid("ROLLCALL_SESSION_KEY must be base64.".to_owned()))?;
    if key.len() < MIN_SESSION_KEY_BYTES {
        return Err(Error::Invalid(format!(
            "ROLLCALL_SESSION_KEY must decode to at least {MIN_SESSION_KEY_BYTES} bytes; it has {}. \
             Generate one with: openssl rand -base64 64",
            key.len()
        )));
    }
    Ok(key)
}

/// The key that signs and encrypts session cookies: the configured one, else
/// the one kept in the database, else a new one that is kept from now on
/// (so that restarts and every server on the same database share it).
pub fn session_key(conn: &mut DbConnection, configured: Option<&str>) -> Result<(Vec<u8>, KeySource), Error> {
    if let Some(encoded) = configured {
        return Ok((parse_session_key(encoded)?, KeySource::Configured));
    }
    if let Some(stored) = stored(conn)? {
        return Ok((parse_session_key(&stored)?, KeySource::Stored));
    }
    let mut key = vec![0u8; MIN_SESSION_KEY_BYTES];
    getrandom::fill(&mut key)
        .map_err(|error| Error::Invalid(format!("no randomness for a session key: {error}")))?;
    let inserted = db::write(conn, |conn| {
        diesel::insert_into(settings::table)
            .values((
                settings::key.eq(SESSION_KEY),
                settings::value.eq(STANDARD.encode(&key)),
            ))
            .execute(conn)
            .map_err(Error::from)
    });
    match inserted {
        Ok(_) => Ok((key, KeySource::Generated)),
        // Another server generated one at the same moment: use theirs.
        Err(Error::Database(error)) if db::is_unique_violation(&error) => {
            let stored =
                stored(conn)?.ok_or_else(|| Error::NotFound("The session key was not found.".into()))?;
            Ok((parse_session_key(&stored)?, KeySource::Stored))
        }
        Err(other) => Err(other),
    }
}

fn stored(conn: &mut DbConnection) -> Result<Option<String>, Error> {
    Ok(settings::table
        .find(SESSION_KEY)
        .select(settings::value)
        .first(conn)
        .optional()?)
}
