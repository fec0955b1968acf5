-- Members in roles the built-in policy does not name (an operator's policy
-- file declares its own roles) are counted too, apart: every member counts
-- in the total, and a role filter of such a role counts its rows.
ALTER TABLE member_list_versions ADD COLUMN others BIGINT NOT NULL DEFAULT 0;

UPDATE member_list_versions AS v SET others = counted.others
FROM (
    SELECT org_id, COUNT(*) AS others FROM memberships
    WHERE role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')
    GROUP BY org_id
) AS counted
WHERE counted.org_id = v.org_id;

CREATE OR REPLACE FUNCTION raise_member_list_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO member_list_versions AS v (org_id, version, owners, admins, developers, contributors, viewers, others)
        SELECT org_id, 1,
            COALESCE(SUM(n) FILTER (WHERE role = 'owner'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'admin'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'developer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'contributor'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'viewer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')), 0)
        FROM (SELECT org_id, role, 1 AS n FROM added) AS changes
        GROUP BY org_id ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET
            version = v.version + 1,
            owners = v.owners + EXCLUDED.owners,
            admins = v.admins + EXCLUDED.admins,
            developers = v.developers + EXCLUDED.developers,
            contributors = v.contributors + EXCLUDED.contributors,
            viewers = v.viewers + EXCLUDED.viewers,
            others = v.others + EXCLUDED.others;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO member_list_versions AS v (org_id, version, owners, admins, developers, contributors, viewers, others)
        SELECT org_id, 1,
            COALESCE(SUM(n) FILTER (WHERE role = 'owner'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'admin'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'developer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'contributor'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'viewer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')), 0)
        FROM (SELECT org_id, role, -1 AS n FROM removed) AS changes
        GROUP BY org_id ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET
            version = v.version + 1,
            owners = v.owners + EXCLUDED.owners,
            admins = v.admins + EXCLUDED.admins,
            developers = v.developers + EXCLUDED.developers,
            contributors = v.contributors + EXCLUDED.contributors,
            viewers = v.viewers + EXCLUDED.viewers,
            others = v.others + EXCLUDED.others;
    ELSE
        INSERT INTO member_list_versions AS v (org_id, version, owners, admins, developers, contributors, viewers, others)
        SELECT org_id, 1,
            COALESCE(SUM(n) FILTER (WHERE role = 'owner'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'admin'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'developer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'contributor'), 0),
            COALESCE(SUM(n) FILTER (WHERE role = 'viewer'), 0),
            COALESCE(SUM(n) FILTER (WHERE role NOT IN ('owner', 'admin', 'developer', 'contributor', 'viewer')), 0)
        FROM (SELECT org_id, role, 1 AS n FROM added UNION ALL SELECT org_id, role, -1 FROM removed) AS changes
        GROUP BY org_id ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET
            version = v.version + 1,
            owners = v.owners + EXCLUDED.owners,
            admins = v.admins + EXCLUDED.admins,
            developers = v.developers + EXCLUDED.developers,
            contributors = v.contributors + EXCLUDED.contributors,
            viewers = v.viewers + EXCLUDED.viewers,
            others = v.others + EXCLUDED.others;
    END IF;
    RETURN NULL;
END;
$$;
