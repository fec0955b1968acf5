DROP TRIGGER invitations_version ON invitations;
DROP FUNCTION raise_invitation_list_version();
DROP TABLE invitation_list_versions;
DROP TRIGGER memberships_version_update ON memberships;
DROP TRIGGER memberships_version_delete ON memberships;
DROP TRIGGER memberships_version_insert ON memberships;
DROP FUNCTION raise_member_list_versions();
DROP TABLE member_list_versions;
