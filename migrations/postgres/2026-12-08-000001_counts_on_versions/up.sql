-- The organization's member counts move onto its member-list version row,
-- which every change of its memberships writes anyway: a change writes one
-- hot row instead of three (two counts and the version), and a page reads
-- its counts in the statement that reads the viewer, instead of in one more
-- round trip.
ALTER TABLE member_list_versions
    ADD COLUMN owners BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN admins BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN developers BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN contributors BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN viewers BIGINT NOT NULL DEFAULT 0;

INSERT INTO member_list_versions AS v (org_id, version, owners, admins, developers, contributors, viewers)
SELECT org_id, 1,
    COUNT(*) FILTER (WHERE role = 'owner'),
    COUNT(*) FILTER (WHERE role = 'admin'),
    COUNT(*) FILTER (WHERE role = 'developer'),
    COUNT(*) FILTER (WHERE role = 'contributor'),
    COUNT(*) FILTER (WHERE role = 'viewer')
FROM memberships GROUP BY org_id ORDER BY org_id
ON CONFLICT (org_id) DO UPDATE SET
    version = v.version + 1,
    owners = EXCLUDED.owners,
    admins = EXCLUDED.admins,
    developers = EXCLUDED.developers,
    contributors = EXCLUDED.contributors,
    viewers = EXCLUDED.viewers;

DROP TRIGGER memberships_count_insert ON memberships;
DROP TRIGGER memberships_count_delete ON memberships;
DROP TRIGGER memberships_count_update ON memberships;
DROP FUNCTION count_memberships();
DROP TABLE membership_counts;

-- Each statement nets, per organization, what it added (+1) and removed (-1)
-- in each role, and raises each organization's row once, in org_id order.
-- (A transition table exists only for the operations that have it, hence
-- one statement per operation.)
CREATE OR REPLACE FUNCTION raise_member_list_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO member_list_versions AS v (org_id, version, owners, admins, developers, contributors, viewers)
        SELECT org_id, 1,
            COALESCE(SUM(n) FILTER (WHERE role = 'owner'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'admin'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'developer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'contributor'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'viewer'), 0)
        FROM (SELECT org_id, role, 1 AS n FROM added) AS changes
        GROUP BY org_id ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET
            version = v.version + 1,
            owners = v.owners + EXCLUDED.owners,
            admins = v.admins + EXCLUDED.admins,
            developers = v.developers + EXCLUDED.developers,
            contributors = v.contributors + EXCLUDED.contributors,
            viewers = v.viewers + EXCLUDED.viewers;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO member_list_versions AS v (org_id, version, owners, admins, developers, contributors, viewers)
        SELECT org_id, 1,
            COALESCE(SUM(n) FILTER (WHERE role = 'owner'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'admin'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'developer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'contributor'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'viewer'), 0)
        FROM (SELECT org_id, role, -1 AS n FROM removed) AS changes
        GROUP BY org_id ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET
            version = v.version + 1,
            owners = v.owners + EXCLUDED.owners,
            admins = v.admins + EXCLUDED.admins,
            developers = v.developers + EXCLUDED.developers,
            contributors = v.contributors + EXCLUDED.contributors,
            viewers = v.viewers + EXCLUDED.viewers;
    ELSE
        INSERT INTO member_list_versions AS v (org_id, version, owners, admins, developers, contributors, viewers)
        SELECT org_id, 1,
            COALESCE(SUM(n) FILTER (WHERE role = 'owner'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'admin'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'developer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'contributor'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'viewer'), 0)
        FROM (SELECT org_id, role, 1 AS n FROM added UNION ALL SELECT org_id, role, -1 FROM removed) AS changes
        GROUP BY org_id ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET
            version = v.version + 1,
            owners = v.owners + EXCLUDED.owners,
            admins = v.admins + EXCLUDED.admins,
            developers = v.developers + EXCLUDED.developers,
            contributors = v.contributors + EXCLUDED.contributors,
            viewers = v.viewers + EXCLUDED.viewers;
    END IF;
    RETURN NULL;
END;
$$;
