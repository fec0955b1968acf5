-- A number per organization that every change to its memberships raises, in
-- the change's own transaction: a rendered member list is current exactly
-- while the version it was rendered at is. No row means 0.
CREATE TABLE member_list_versions (
    org_id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);

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

-- The same for an organization's invitations, whose list shows each one's
-- delivery state: the outbox worker raises it too.
CREATE TABLE invitation_list_versions (
    org_id TEXT PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);

CREATE TRIGGER invitations_version_insert AFTER INSERT ON invitations
BEGIN
    INSERT INTO invitation_list_versions (org_id, version) VALUES (NEW.org_id, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER invitations_version_delete AFTER DELETE ON invitations
BEGIN
    INSERT INTO invitation_list_versions (org_id, version) VALUES (OLD.org_id, 1)
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
