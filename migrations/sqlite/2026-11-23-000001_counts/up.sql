-- How many members each organization has in each role, kept by triggers in
-- the same transaction as the change, so the Members page never counts
-- 100,000 index entries to print "100,000 members".
CREATE TABLE membership_counts (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    members INTEGER NOT NULL,
    PRIMARY KEY (org_id, role)
);
INSERT INTO membership_counts (org_id, role, members)
SELECT org_id, role, COUNT(*) FROM memberships GROUP BY org_id, role;

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
BEGIN
    INSERT INTO membership_counts (org_id, role, members) VALUES (NEW.org_id, NEW.role, 1)
    ON CONFLICT (org_id, role) DO UPDATE SET members = members + 1;
END;

CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
BEGIN
    UPDATE membership_counts SET members = members - 1
    WHERE org_id = OLD.org_id AND role = OLD.role;
END;

CREATE TRIGGER memberships_count_update AFTER UPDATE OF org_id, role ON memberships
BEGIN
    UPDATE membership_counts SET members = members - 1
    WHERE org_id = OLD.org_id AND role = OLD.role;
    INSERT INTO membership_counts (org_id, role, members) VALUES (NEW.org_id, NEW.role, 1)
    ON CONFLICT (org_id, role) DO UPDATE SET members = members + 1;
END;

-- How many pending invitations each organization has, kept the same way.
CREATE TABLE pending_invitation_counts (
    org_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    pending INTEGER NOT NULL
);
INSERT INTO pending_invitation_counts (org_id, pending)
SELECT org_id, COUNT(*) FROM invitations WHERE state = 'pending' GROUP BY org_id;

CREATE TRIGGER invitations_count_insert AFTER INSERT ON invitations
WHEN NEW.state = 'pending'
BEGIN
    INSERT INTO pending_invitation_counts (org_id, pending) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET pending = pending + 1;
END;

CREATE TRIGGER invitations_count_delete AFTER DELETE ON invitations
WHEN OLD.state = 'pending'
BEGIN
    UPDATE pending_invitation_counts SET pending = pending - 1 WHERE org_id = OLD.org_id;
END;

CREATE TRIGGER invitations_count_update AFTER UPDATE OF org_id, state ON invitations
BEGIN
    UPDATE pending_invitation_counts SET pending = pending - 1
    WHERE org_id = OLD.org_id AND OLD.state = 'pending';
    INSERT INTO pending_invitation_counts (org_id, pending)
    SELECT NEW.org_id, 1 WHERE NEW.state = 'pending'
    ON CONFLICT (org_id) DO UPDATE SET pending = pending + 1;
END;

-- Pending invitations by organization, newest first.
DROP INDEX invitations_pending_by_org;
CREATE INDEX invitations_pending_by_org ON invitations (org_id, created_at, id) WHERE state = 'pending';

-- The member list shows avatars without a lookup per member.
ALTER TABLE memberships ADD COLUMN avatar_url TEXT;
UPDATE memberships SET avatar_url = (SELECT avatar_url FROM users WHERE users.id = memberships.user_id);
