-- The built-in five again: fails, as it should, where a role of another
-- policy is stored.
PRAGMA foreign_keys = OFF;
PRAGMA legacy_alter_table = ON;
BEGIN IMMEDIATE;

CREATE TABLE memberships_new (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'contributor', 'viewer')),
    joined_at TIMESTAMP NOT NULL,
    invited_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    email TEXT NOT NULL, avatar_url TEXT, expires_at TIMESTAMP, expiry_reminded_at TIMESTAMP, expiry_held_at TIMESTAMP,
    PRIMARY KEY (org_id, user_id)
);
INSERT INTO memberships_new (org_id, user_id, role, joined_at, invited_by, name, name_key, email, avatar_url, expires_at, expiry_reminded_at, expiry_held_at) SELECT org_id, user_id, role, joined_at, invited_by, name, name_key, email, avatar_url, expires_at, expiry_reminded_at, expiry_held_at FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_new RENAME TO memberships;
CREATE INDEX memberships_by_email ON memberships (org_id, email);
CREATE INDEX memberships_by_joined ON memberships (org_id, joined_at, user_id);
CREATE INDEX memberships_by_name ON memberships (org_id, name_key, user_id);
CREATE INDEX memberships_by_role ON memberships (org_id, role, name_key, user_id);
CREATE INDEX memberships_by_user ON memberships (user_id);
CREATE INDEX memberships_ending ON memberships (expires_at) WHERE expires_at IS NOT NULL;
CREATE TRIGGER auth_change_membership_delete AFTER DELETE ON memberships
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER auth_change_membership_role AFTER UPDATE OF role ON memberships
BEGIN INSERT INTO auth_changes (id) VALUES (NULL); END;
CREATE TRIGGER memberships_version_delete AFTER DELETE ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers, others)
    VALUES (OLD.org_id, 1,
        -(OLD.role = 'owner'),
        -(OLD.role = 'admin'),
        -(OLD.role = 'developer'),
        -(OLD.role = 'contributor'),
        -(OLD.role = 'viewer'),
        -(OLD.role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')))
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers,
        others = others + excluded.others;
END;
CREATE TRIGGER memberships_version_insert AFTER INSERT ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers, others)
    VALUES (NEW.org_id, 1,
        NEW.role = 'owner',
        NEW.role = 'admin',
        NEW.role = 'developer',
        NEW.role = 'contributor',
        NEW.role = 'viewer',
        NEW.role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer'))
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers,
        others = others + excluded.others;
END;
CREATE TRIGGER memberships_version_update AFTER UPDATE ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers, others)
    VALUES (OLD.org_id, 1,
        (NEW.org_id = OLD.org_id AND NEW.role = 'owner') - (OLD.role = 'owner'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'admin') - (OLD.role = 'admin'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'developer') - (OLD.role = 'developer'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'contributor') - (OLD.role = 'contributor'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'viewer') - (OLD.role = 'viewer'),
        (NEW.org_id = OLD.org_id AND NEW.role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')) - (OLD.role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')))
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers,
        others = others + excluded.others;
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers, others)
    SELECT NEW.org_id, 1,
        NEW.role = 'owner', NEW.role = 'admin', NEW.role = 'developer',
        NEW.role = 'contributor', NEW.role = 'viewer', NEW.role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')
    WHERE NEW.org_id <> OLD.org_id
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers,
        others = others + excluded.others;
END;

CREATE TABLE invitations_new (
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
, membership_expires_at TIMESTAMP);
INSERT INTO invitations_new (id, org_id, email, name, role, invited_by, inviter_name, created_at, expires_at, last_sent_at, send_count, delivery, state, closed_at, closed_by, membership_expires_at) SELECT id, org_id, email, name, role, invited_by, inviter_name, created_at, expires_at, last_sent_at, send_count, delivery, state, closed_at, closed_by, membership_expires_at FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;
CREATE UNIQUE INDEX invitations_one_pending ON invitations (org_id, email) WHERE state = 'pending';
CREATE INDEX invitations_pending_by_email ON invitations (email) WHERE state = 'pending';
CREATE INDEX invitations_pending_by_org ON invitations (org_id, created_at, id) WHERE state = 'pending';
CREATE TRIGGER invitations_count_delete AFTER DELETE ON invitations
WHEN OLD.state = 'pending'
BEGIN
    UPDATE pending_invitation_counts SET pending = pending - 1 WHERE org_id = OLD.org_id;
END;
CREATE TRIGGER invitations_count_insert AFTER INSERT ON invitations
WHEN NEW.state = 'pending'
BEGIN
    INSERT INTO pending_invitation_counts (org_id, pending) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET pending = pending + 1;
END;
CREATE TRIGGER invitations_count_update AFTER UPDATE OF org_id, state ON invitations
BEGIN
    UPDATE pending_invitation_counts SET pending = pending - 1
    WHERE org_id = OLD.org_id AND OLD.state = 'pending';
    INSERT INTO pending_invitation_counts (org_id, pending)
    SELECT NEW.org_id, 1 WHERE NEW.state = 'pending'
    ON CONFLICT (org_id) DO UPDATE SET pending = pending + 1;
END;
CREATE TRIGGER invitations_version_delete AFTER DELETE ON invitations
BEGIN
    INSERT INTO invitation_list_versions (org_id, version) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER invitations_version_insert AFTER INSERT ON invitations
BEGIN
    INSERT INTO invitation_list_versions (org_id, version) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER invitations_version_update AFTER UPDATE ON invitations
BEGIN
    INSERT INTO invitation_list_versions (org_id, version) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
    INSERT INTO invitation_list_versions (org_id, version)
    SELECT NEW.org_id, 1 WHERE NEW.org_id <> OLD.org_id
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
END;

CREATE TABLE ownership_transfers_new (
    org_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    from_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    then_role TEXT CHECK (then_role IN ('owner', 'admin', 'developer', 'contributor', 'viewer')),
    created_at TIMESTAMP NOT NULL
);
INSERT INTO ownership_transfers_new (org_id, from_user_id, to_user_id, then_role, created_at) SELECT org_id, from_user_id, to_user_id, then_role, created_at FROM ownership_transfers;
DROP TABLE ownership_transfers;
ALTER TABLE ownership_transfers_new RENAME TO ownership_transfers;
COMMIT;
PRAGMA legacy_alter_table = OFF;
PRAGMA foreign_keys = ON;
