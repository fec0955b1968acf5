-- The built-in five again: fails, as it should, where a role of another
-- policy is stored.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check,
    ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'developer', 'contributor', 'viewer'));
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check,
    ADD CONSTRAINT invitations_role_check CHECK (role IN ('owner', 'admin', 'developer', 'contributor', 'viewer'));
ALTER TABLE ownership_transfers DROP CONSTRAINT ownership_transfers_then_role_check,
    ADD CONSTRAINT ownership_transfers_then_role_check CHECK (then_role IN ('owner', 'admin', 'developer', 'contributor', 'viewer'));
