DROP INDEX invitations_by_org_state;
CREATE INDEX invitations_pending_by_org ON invitations (org_id, created_at) WHERE state = 'pending';
DROP TRIGGER memberships_count_update;
DROP TRIGGER memberships_count_delete;
DROP TRIGGER memberships_count_insert;
DROP TABLE membership_counts;
