DROP TRIGGER memberships_version_update;
DROP TRIGGER memberships_version_delete;
DROP TRIGGER memberships_version_insert;
DROP TABLE member_list_versions;
