-- Emails are queued as what to tell whom: `message` holds the facts as JSON,
-- and the worker puts them into words when it sends them. Rows queued before
-- keep their words in subject, body_text and body_html, and are sent as
-- they are. New rows leave those empty (NULL), as on Postgres, where a
-- server of the previous version then fails to claim such a row rather than
-- send an email without words. SQLite cannot drop NOT NULL from a column:
-- the table is made again, with the same columns, indexes and rows.
CREATE TABLE email_outbox_new (
    id TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT REFERENCES invitations (id) ON DELETE SET NULL,
    recipient TEXT NOT NULL,
    subject TEXT,
    body_text TEXT,
    body_html TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    message TEXT
);
INSERT INTO email_outbox_new (id, invitation_id, recipient, subject, body_text, body_html, state,
    attempts, next_attempt_at, last_error, created_at, sent_at)
SELECT id, invitation_id, recipient, subject, body_text, body_html, state,
    attempts, next_attempt_at, last_error, created_at, sent_at
FROM email_outbox;
DROP TABLE email_outbox;
ALTER TABLE email_outbox_new RENAME TO email_outbox;
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX email_outbox_by_invitation ON email_outbox (invitation_id);
