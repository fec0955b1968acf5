-- The triggers as they were, without the count of other roles.
DROP TRIGGER memberships_version_insert;
DROP TRIGGER memberships_version_delete;
DROP TRIGGER memberships_version_update;

CREATE TRIGGER memberships_version_insert AFTER INSERT ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers)
    VALUES (NEW.org_id, 1,
        NEW.role = 'owner',
        NEW.role = 'admin',
        NEW.role = 'developer',
        NEW.role = 'contributor',
        NEW.role = 'viewer')
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers;
END;

CREATE TRIGGER memberships_version_delete AFTER DELETE ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers)
    VALUES (OLD.org_id, 1,
        -(OLD.role = 'owner'),
        -(OLD.role = 'admin'),
        -(OLD.role = 'developer'),
        -(OLD.role = 'contributor'),
        -(OLD.role = 'viewer'))
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers;
END;

-- Every update raises the version (a name or an avatar shows on the list);
-- a change of role moves one count.
CREATE TRIGGER memberships_version_update AFTER UPDATE ON memberships
BEGIN
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers)
    VALUES (OLD.org_id, 1,
        (NEW.org_id = OLD.org_id AND NEW.role = 'owner') - (OLD.role = 'owner'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'admin') - (OLD.role = 'admin'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'developer') - (OLD.role = 'developer'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'contributor') - (OLD.role = 'contributor'),
        (NEW.org_id = OLD.org_id AND NEW.role = 'viewer') - (OLD.role = 'viewer'))
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers;
    INSERT INTO member_list_versions (org_id, version, owners, admins, developers, contributors, viewers)
    SELECT NEW.org_id, 1,
        NEW.role = 'owner', NEW.role = 'admin', NEW.role = 'developer',
        NEW.role = 'contributor', NEW.role = 'viewer'
    WHERE NEW.org_id <> OLD.org_id
    ON CONFLICT (org_id) DO UPDATE SET
        version = version + 1,
        owners = owners + excluded.owners,
        admins = admins + excluded.admins,
        developers = developers + excluded.developers,
        contributors = contributors + excluded.contributors,
        viewers = viewers + excluded.viewers;
END;

ALTER TABLE member_list_versions DROP COLUMN others;
