-- How many members each organization has in each role, kept by triggers in
-- the same transaction as the change, so the Members page never counts
-- 100,000 index entries to print "100,000 members".
CREATE TABLE membership_counts (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    members BIGINT NOT NULL,
    PRIMARY KEY (org_id, role)
);
INSERT INTO membership_counts (org_id, role, members)
SELECT org_id, role, COUNT(*) FROM memberships GROUP BY org_id, role;

-- Once per statement, from its transition tables: a bulk insert of 200 rows
-- updates each count once, not 200 times.
CREATE FUNCTION count_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE membership_counts AS c SET members = c.members - d.n
        FROM (SELECT org_id, role, COUNT(*) AS n FROM removed GROUP BY org_id, role) AS d
        WHERE c.org_id = d.org_id AND c.role = d.role;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO membership_counts (org_id, role, members)
        SELECT org_id, role, COUNT(*) FROM added GROUP BY org_id, role
        ON CONFLICT (org_id, role) DO UPDATE SET members = membership_counts.members + EXCLUDED.members;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_memberships();
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION count_memberships();
CREATE TRIGGER memberships_count_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_memberships();

-- How many pending invitations each organization has, kept the same way.
CREATE TABLE pending_invitation_counts (
    org_id TEXT PRIMARY KEY NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    pending BIGINT NOT NULL
);
INSERT INTO pending_invitation_counts (org_id, pending)
SELECT org_id, COUNT(*) FROM invitations WHERE state = 'pending' GROUP BY org_id;

CREATE FUNCTION count_pending_invitations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE pending_invitation_counts AS c SET pending = c.pending - d.n
        FROM (SELECT org_id, COUNT(*) AS n FROM removed WHERE state = 'pending' GROUP BY org_id) AS d
        WHERE c.org_id = d.org_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO pending_invitation_counts (org_id, pending)
        SELECT org_id, COUNT(*) FROM added WHERE state = 'pending' GROUP BY org_id
        ON CONFLICT (org_id) DO UPDATE SET pending = pending_invitation_counts.pending + EXCLUDED.pending;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER invitations_count_insert AFTER INSERT ON invitations
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_pending_invitations();
CREATE TRIGGER invitations_count_delete AFTER DELETE ON invitations
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION count_pending_invitations();
CREATE TRIGGER invitations_count_update AFTER UPDATE ON invitations
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_pending_invitations();

-- Pending invitations by organization, newest first.
DROP INDEX invitations_pending_by_org;
CREATE INDEX invitations_pending_by_org ON invitations (org_id, created_at, id) WHERE state = 'pending';

-- The member list shows avatars without a lookup per member.
ALTER TABLE memberships ADD COLUMN avatar_url TEXT;
UPDATE memberships SET avatar_url = users.avatar_url FROM users WHERE users.id = memberships.user_id;
