-- Emails not yet in words cannot be sent by the previous version: cancelled.
CREATE TABLE email_outbox_old (
    id TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT REFERENCES invitations (id) ON DELETE SET NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
INSERT INTO email_outbox_old (id, invitation_id, recipient, subject, body_text, body_html, state,
    attempts, next_attempt_at, last_error, created_at, sent_at)
SELECT id, invitation_id, recipient, COALESCE(subject, ''), COALESCE(body_text, ''),
    COALESCE(body_html, ''),
    CASE WHEN message IS NOT NULL AND state = 'queued' THEN 'cancelled' ELSE state END,
    attempts, next_attempt_at, last_error, created_at, sent_at
FROM email_outbox;
DROP TABLE email_outbox;
ALTER TABLE email_outbox_old RENAME TO email_outbox;
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX email_outbox_by_invitation ON email_outbox (invitation_id);
