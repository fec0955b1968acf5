-- The function as it was, without the count of other roles.
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

ALTER TABLE member_list_versions DROP COLUMN others;
