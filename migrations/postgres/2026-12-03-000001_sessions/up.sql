-- Signing out of every session: sessions issued before this time are over.
ALTER TABLE users ADD COLUMN sessions_ended_at TIMESTAMP;

-- Sessions signed out one at a time, kept until they would have expired anyway.
CREATE TABLE ended_sessions (
    session_id TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX ended_sessions_by_expiry ON ended_sessions (expires_at);
