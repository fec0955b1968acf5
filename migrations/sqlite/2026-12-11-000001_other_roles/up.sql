-- Members in roles the built-in policy does not name (an operator's policy
-- file declares its own roles) are counted too, apart: every member counts
-- in the total, and a role filter of such a role counts its rows.
ALTER TABLE member_list_versions ADD COLUMN others BIGINT NOT NULL DEFAULT 0;

UPDATE member_list_versions SET others = (
    SELECT COUNT(*) FROM memberships
    WHERE memberships.org_id = member_list_versions.org_id
    AND memberships.role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')
);

DROP TRIGGER memberships_version_insert;
DROP TRIGGER memberships_version_delete;
DROP TRIGGER memberships_version_update;

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

-- Every update raises the version (a name or an avatar shows on the list);
-- a change of role moves one count.
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
