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

-- Pending invitations by organization, newest first, counted and listed from
-- the index alone.
DROP INDEX invitations_pending_by_org;
CREATE INDEX invitations_by_org_state ON invitations (org_id, state, created_at, id);
