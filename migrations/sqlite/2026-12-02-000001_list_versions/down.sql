DROP TRIGGER invitations_version_update;
DROP TRIGGER invitations_version_delete;
DROP TRIGGER invitations_version_insert;
DROP TABLE invitation_list_versions;
DROP TRIGGER memberships_version_update;
DROP TRIGGER memberships_version_delete;
DROP TRIGGER memberships_version_insert;
DROP TABLE member_list_versions;
