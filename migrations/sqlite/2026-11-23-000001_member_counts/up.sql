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

-- Pending invitations by organization, newest first, counted and listed from
-- the index alone.
DROP INDEX invitations_pending_by_org;
CREATE INDEX invitations_by_org_state ON invitations (org_id, state, created_at, id);
