-- The counts back in their own table, kept by their own triggers.
CREATE TABLE membership_counts (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    members BIGINT NOT NULL,
    PRIMARY KEY (org_id, role)
);
INSERT INTO membership_counts (org_id, role, members)
SELECT org_id, role, COUNT(*) FROM memberships GROUP BY org_id, role;

CREATE FUNCTION count_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_memberships();
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION count_memberships();
CREATE TRIGGER memberships_count_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION count_memberships();

CREATE OR REPLACE FUNCTION raise_member_list_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO member_list_versions (org_id, version)
        SELECT DISTINCT org_id, 1 FROM added ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET version = member_list_versions.version + 1;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO member_list_versions (org_id, version)
        SELECT DISTINCT org_id, 1 FROM removed ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET version = member_list_versions.version + 1;
    ELSE
        INSERT INTO member_list_versions (org_id, version)
        SELECT org_id, 1 FROM (SELECT org_id FROM added UNION SELECT org_id FROM removed) AS changed
        ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET version = member_list_versions.version + 1;
    END IF;
    RETURN NULL;
END;
$$;

ALTER TABLE member_list_versions
    DROP COLUMN owners,
    DROP COLUMN admins,
    DROP COLUMN developers,
    DROP COLUMN contributors,
    DROP COLUMN viewers;
