-- Emails not yet in words cannot be sent by the previous version: cancelled.
UPDATE email_outbox SET state = 'cancelled' WHERE message IS NOT NULL AND state = 'queued';
UPDATE email_outbox SET subject = COALESCE(subject, ''), body_text = COALESCE(body_text, ''),
    body_html = COALESCE(body_html, '');
ALTER TABLE email_outbox ALTER COLUMN body_html SET NOT NULL;
ALTER TABLE email_outbox ALTER COLUMN body_text SET NOT NULL;
ALTER TABLE email_outbox ALTER COLUMN subject SET NOT NULL;
ALTER TABLE email_outbox DROP COLUMN message;
