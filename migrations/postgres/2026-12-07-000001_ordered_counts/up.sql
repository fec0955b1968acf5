-- A role change between two roles that touch no owner no longer queues on
-- the organization's lock, so two such changes in opposite directions
-- (Developer to Viewer, Viewer to Developer) can run at once. Each writes
-- two count rows; taken in one order (by role), they cannot deadlock.
CREATE OR REPLACE FUNCTION count_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO membership_counts (org_id, role, members)
        SELECT org_id, role, COUNT(*) FROM added GROUP BY org_id, role ORDER BY org_id, role
        ON CONFLICT (org_id, role) DO UPDATE SET members = membership_counts.members + EXCLUDED.members;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE membership_counts AS c SET members = c.members - d.n
        FROM (SELECT org_id, role, COUNT(*) AS n FROM removed GROUP BY org_id, role) AS d
        WHERE c.org_id = d.org_id AND c.role = d.role;
    ELSE
        INSERT INTO membership_counts (org_id, role, members)
        SELECT org_id, role, SUM(n) FROM (
            SELECT org_id, role, 1 AS n FROM added
            UNION ALL
            SELECT org_id, role, -1 AS n FROM removed
        ) AS changes
        GROUP BY org_id, role
        HAVING SUM(n) <> 0
        ORDER BY org_id, role
        ON CONFLICT (org_id, role) DO UPDATE SET members = membership_counts.members + EXCLUDED.members;
    END IF;
    RETURN NULL;
END;
$$;
