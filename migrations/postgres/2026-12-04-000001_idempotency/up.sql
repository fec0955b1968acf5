-- Answers to API requests sent with an Idempotency-Key, kept for a day: a
-- retry with the same key gets the first answer instead of doing it again.
-- The row is written in the transaction of the change it answers for, first,
-- so that a racing retry waits on it and then finds it.
CREATE TABLE idempotent_requests (
    credential_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (credential_id, idempotency_key)
);
CREATE INDEX idempotent_requests_by_age ON idempotent_requests (created_at);
