-- Service accounts: members of an organization that are not people. They
-- never sign in to the console and never count as owners.
CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    disabled_at TIMESTAMP,
    UNIQUE (org_id, name)
);

-- API tokens of people and keys of service accounts. Only the SHA-256 of a
-- secret is kept.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('personal', 'service_account')),
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    service_account_id TEXT REFERENCES service_accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    access TEXT NOT NULL CHECK (access IN ('operations', 'inference')),
    token_hash TEXT NOT NULL UNIQUE,
    last_four TEXT NOT NULL,
    created_by TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP,
    last_used_ip TEXT,
    CHECK ((kind = 'personal') = (user_id IS NOT NULL)),
    CHECK ((kind = 'service_account') = (service_account_id IS NOT NULL))
);
CREATE INDEX api_tokens_by_org ON api_tokens (org_id, created_at);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, org_id);
CREATE INDEX api_tokens_by_service_account ON api_tokens (service_account_id);

-- The platform's gateways, which ask whether a token is good.
CREATE TABLE introspection_clients (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    last_four TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

-- A row for every change that can make a token check answer differently
-- (a revocation, a role, a removal), written by the database in the change's
-- own transaction: every server watches this table and forgets the answers
-- it keeps in memory when a row appears.
CREATE TABLE auth_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT
);

CREATE TRIGGER auth_change_membership_role AFTER UPDATE OF role ON memberships
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_membership_delete AFTER DELETE ON memberships
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_token_revoke AFTER UPDATE OF revoked_at, expires_at ON api_tokens
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_token_delete AFTER DELETE ON api_tokens
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_service_account AFTER UPDATE OF role, disabled_at ON service_accounts
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_service_account_delete AFTER DELETE ON service_accounts
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_client_revoke AFTER UPDATE OF revoked_at ON introspection_clients
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_client_delete AFTER DELETE ON introspection_clients
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_organization_delete AFTER DELETE ON organizations
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
