-- Times are UTC. Ids are UUIDv7 strings made by the application.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    avatar_url TEXT,
    created_at TIMESTAMP NOT NULL,
    last_sign_in_at TIMESTAMP
);
CREATE INDEX users_by_email ON users (email);

CREATE TABLE identities (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX identities_by_user ON identities (user_id);

-- Only addresses the provider reported as verified are ever stored here.
CREATE TABLE identity_emails (
    identity_id TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    PRIMARY KEY (identity_id, email)
);
CREATE INDEX identity_emails_by_email ON identity_emails (email);

-- name, name_key and email copy the user's so that listing, searching and sorting
-- 100,000 members reads one index range of one table.
CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'contributor', 'viewer')),
    joined_at TIMESTAMP NOT NULL,
    invited_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    email TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_by_name ON memberships (org_id, name_key, user_id);
CREATE INDEX memberships_by_email ON memberships (org_id, email);
CREATE INDEX memberships_by_joined ON memberships (org_id, joined_at, user_id);
CREATE INDEX memberships_by_role ON memberships (org_id, role, name_key, user_id);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'contributor', 'viewer')),
    invited_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    inviter_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_sent_at TIMESTAMP NOT NULL,
    send_count INTEGER NOT NULL,
    delivery TEXT NOT NULL CHECK (delivery IN ('queued', 'sent', 'retrying', 'failed')),
    state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked', 'declined')),
    closed_at TIMESTAMP,
    closed_by TEXT REFERENCES users (id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX invitations_one_pending ON invitations (org_id, email) WHERE state = 'pending';
CREATE INDEX invitations_pending_by_org ON invitations (org_id, created_at) WHERE state = 'pending';
CREATE INDEX invitations_pending_by_email ON invitations (email) WHERE state = 'pending';

-- Every token an invitation ever had, by hash: a link replaced by Resend is
-- recognised as replaced rather than unknown.
CREATE TABLE invitation_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES invitations (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    replaced_at TIMESTAMP
);
CREATE INDEX invitation_tokens_by_invitation ON invitation_tokens (invitation_id);

CREATE TABLE email_outbox (
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
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX email_outbox_by_invitation ON email_outbox (invitation_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT,
    actor_id TEXT,
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT,
    client_ip TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, created_at);

CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- SQLite only: every write transaction starts by updating this row, which takes
-- the database's write lock at once (what BEGIN IMMEDIATE does) so that a
-- transaction never reads, then fails to upgrade to a writer.
CREATE TABLE write_lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO write_lock (id, generation) VALUES (1, 0);
