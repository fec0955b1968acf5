-- Console forms whose answer is a page rather than a redirect (a secret
-- shown once, invitation links shown once) carry a one-time value. The first
-- submission records it here, first in the transaction of what it makes; the
-- primary key makes a second submission of the same form (a reload, a double
-- click, a race between two servers) wait for the first, make nothing, and
-- answer with what the first made, kept in `outcome` (never a secret).
CREATE TABLE form_submissions (
    once_value TEXT NOT NULL,
    -- Which form it was: its kind and what it acts on (the organization,
    -- the service account, the invitation).
    purpose TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    outcome TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (once_value, purpose)
);
CREATE INDEX form_submissions_by_age ON form_submissions (created_at);
