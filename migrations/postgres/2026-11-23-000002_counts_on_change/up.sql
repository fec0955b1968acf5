-- An update that leaves every count as it was (an email's delivery state, a
-- resend, a member's new name or avatar) now writes no count. Writing one
-- locked the count's row and, through its foreign key, the organization's:
-- the outbox worker marking an email sent deadlocked with a bulk invite that
-- held the organization, until Postgres's one-second deadlock check broke it.
-- Triggers with transition tables cannot be limited to `UPDATE OF` columns
-- (SQLite's are), so an update nets what it added and removed per count.
CREATE OR REPLACE FUNCTION count_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO membership_counts (org_id, role, members)
        SELECT org_id, role, COUNT(*) FROM added GROUP BY org_id, role
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
        ON CONFLICT (org_id, role) DO UPDATE SET members = membership_counts.members + EXCLUDED.members;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION count_pending_invitations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO pending_invitation_counts (org_id, pending)
        SELECT org_id, COUNT(*) FROM added WHERE state = 'pending' GROUP BY org_id
        ON CONFLICT (org_id) DO UPDATE SET pending = pending_invitation_counts.pending + EXCLUDED.pending;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE pending_invitation_counts AS c SET pending = c.pending - d.n
        FROM (SELECT org_id, COUNT(*) AS n FROM removed WHERE state = 'pending' GROUP BY org_id) AS d
        WHERE c.org_id = d.org_id;
    ELSE
        INSERT INTO pending_invitation_counts (org_id, pending)
        SELECT org_id, SUM(n) FROM (
            SELECT org_id, 1 AS n FROM added WHERE state = 'pending'
            UNION ALL
            SELECT org_id, -1 AS n FROM removed WHERE state = 'pending'
        ) AS changes
        GROUP BY org_id
        HAVING SUM(n) <> 0
        ON CONFLICT (org_id) DO UPDATE SET pending = pending_invitation_counts.pending + EXCLUDED.pending;
    END IF;
    RETURN NULL;
END;
$$;
