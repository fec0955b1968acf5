-- Emails are queued as what to tell whom: `message` holds the facts as JSON,
-- and the worker puts them into words when it sends them. Rows queued before
-- keep their words in subject, body_text and body_html, and are sent as
-- they are. New rows leave those empty (NULL): a server of the previous
-- version, which reads them as text, fails to claim such a row rather than
-- send an email without words, and leaves it to the new servers.
ALTER TABLE email_outbox ADD COLUMN message TEXT;
ALTER TABLE email_outbox ALTER COLUMN subject DROP NOT NULL;
ALTER TABLE email_outbox ALTER COLUMN body_text DROP NOT NULL;
ALTER TABLE email_outbox ALTER COLUMN body_html DROP NOT NULL;
