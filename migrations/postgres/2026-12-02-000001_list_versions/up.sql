-- A number per organization that every change to its memberships raises, in
-- the change's own transaction: a rendered member list is current exactly
-- while the version it was rendered at is. No foreign key: raising the
-- version must not lock the organization's row, which writers hold
-- FOR UPDATE (see 2026-11-23-000002_counts_on_change). No row means 0.
CREATE TABLE member_list_versions (
    org_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);

-- Rows are locked in org_id order, so two statements that touch the same
-- organizations take their versions in the same order.
CREATE FUNCTION raise_member_list_versions() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER memberships_version_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION raise_member_list_versions();
CREATE TRIGGER memberships_version_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION raise_member_list_versions();
CREATE TRIGGER memberships_version_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION raise_member_list_versions();

-- The same for an organization's invitations, whose list shows each one's
-- delivery state: the outbox worker raises it too. Raised at commit
-- (a deferred trigger), after everything else the transaction locks, so the
-- worker marking an email sent and an invite or resend in the same
-- organization never hold one another's rows while they wait for it.
CREATE TABLE invitation_list_versions (
    org_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);

CREATE FUNCTION raise_invitation_list_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO invitation_list_versions (org_id, version)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.org_id ELSE NEW.org_id END, 1)
    ON CONFLICT (org_id) DO UPDATE SET version = invitation_list_versions.version + 1;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER invitations_version AFTER INSERT OR UPDATE OR DELETE ON invitations
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION raise_invitation_list_version();
