CREATE OR REPLACE FUNCTION count_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION count_pending_invitations() RETURNS trigger LANGUAGE plpgsql AS $$
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
