-- The counts back in their own table, kept by their own triggers.
DROP TRIGGER memberships_version_insert;
DROP TRIGGER memberships_version_delete;
DROP TRIGGER memberships_version_update;

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

CREATE TRIGGER memberships_version_insert AFTER INSERT ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER memberships_version_delete AFTER DELETE ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER memberships_version_update AFTER UPDATE ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version) VALUES (OLD.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
    INSERT INTO member_list_versions (org_id, version)
    SELECT NEW.org_id, 1 WHERE NEW.org_id <> OLD.org_id
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
END;

ALTER TABLE member_list_versions DROP COLUMN owners;
ALTER TABLE member_list_versions DROP COLUMN admins;
ALTER TABLE member_list_versions DROP COLUMN developers;
ALTER TABLE member_list_versions DROP COLUMN contributors;
ALTER TABLE member_list_versions DROP COLUMN viewers;
