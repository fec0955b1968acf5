-- Roles are the policy's (ROLLCALL_POLICY_FILE declares its own), so the
-- columns that hold one check only that it is a role's name, not that it is
-- one of the built-in five.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check,
    ADD CONSTRAINT memberships_role_check CHECK (role ~ '^[a-z][a-z0-9_]{1,31}$');
ALTER TABLE invitations DROP CONSTRAINT invitations_role_check,
    ADD CONSTRAINT invitations_role_check CHECK (role ~ '^[a-z][a-z0-9_]{1,31}$');
ALTER TABLE ownership_transfers DROP CONSTRAINT ownership_transfers_then_role_check,
    ADD CONSTRAINT ownership_transfers_then_role_check CHECK (then_role ~ '^[a-z][a-z0-9_]{1,31}$');
